"""The ranking track (top-k over the whole catalogue, leave-last-out by time) on a real data set, through `dvc repro`.

Usage: python benchmarks/bench_ranking.py [--dataset movielens|amazon|demo] [--workdir DIR]
           [--max-lens 10,25,50,100,200] [--library cornac_sasrec,cornac_bert4rec,cornac_gru4rec] [--threads N]

Every ranker family runs as its `rank@<ranker>` stage in a temporary DVC workspace (the repository's dvc.yaml,
stages and params.yaml with the data set's overrides), our SASRec / BERT4Rec / GRU4Rec beside cornac's on the same
split and metrics (cornac's take ~2.5 minutes an epoch each on MovieLens-100k: --library picks them). MovieLens-100k is read in place (../shared/data), filtered 5/5 (99,287 ratings, 943 users, 1,349
items; SOURCE.md), never copied into the repository. Prints one row per ranker (test metrics with 95% intervals,
coverage, popularity percentile, best epoch, parameters, epoch time, peak memory, stage time) and the wall time per
family, then answers two questions of the sequential seed with a plot each (data and PNG under plots/bench/):
- how test NDCG@10 and epoch time change with SASRec's max sequence length (--max-lens);
- how much of SASRec's attention (scoring position, every block and head) goes to the most recent items.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import chdir
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import yaml

from bench_real import REPO_ROOT, SHARED_DATA, copy_pipeline, write_mcauley_json

OUT_DIR = REPO_ROOT / "plots" / "bench"
LIBRARY_RANKERS = {
    "cornac_sasrec": {"family": "cornac_seq", "overrides": {"model": "sasrec"}},
    "cornac_bert4rec": {"family": "cornac_seq", "overrides": {"model": "bert4rec"}},
    "cornac_gru4rec": {"family": "cornac_seq", "overrides": {"model": "gru4rec", "lr": 0.05}},
}
EXTRA_RANKERS = {"lstm": {"family": "gru4rec", "overrides": {"cell": "lstm"}}}


def configure(params: dict, dataset: str, library: list[str]) -> None:
    if dataset == "movielens":
        params["data"]["source"] = "ratings"
        folder = SHARED_DATA / "movielens-100k"
        params["data"]["ratings"] = {
            "ratings": str(folder / "ratings.parquet"), "items": str(folder / "items.parquet"),
            "user_column": "user_id", "item_column": "item_id", "rating_column": "rating", "date_column": None,
            "timestamp_column": "timestamp", "item_name_column": "title", "item_categories_column": "genres"}
        params["filter"] = {"min_user_reviews": 5, "min_business_reviews": 5}
        params["sample"]["method"] = "none"
    elif dataset == "amazon":
        raw = Path("data/raw/amazon")
        raw.mkdir(parents=True, exist_ok=True)
        write_mcauley_json(pd.read_parquet(SHARED_DATA / "amazon-musical-instruments-5core" / "reviews.parquet"),
                           raw / "reviews.json.gz")
        params["data"]["source"] = "amazon"
        params["filter"] = {"min_user_reviews": 5, "min_business_reviews": 5}
        params["sample"]["method"] = "none"
    params["rankers"] = params["rankers"] | EXTRA_RANKERS | {name: LIBRARY_RANKERS[name] for name in library}


def ranker_rows(params: dict) -> pd.DataFrame:
    rows = []
    for name in params["rankers"]:
        metrics = json.loads(Path(f"metrics/rankers/{name}.json").read_text())
        test, fit = metrics["test"], metrics["fit"]
        k = test["k"]
        rows.append({
            "ranker": name, "family": metrics["family"], "users": test["users"],
            **{metric: f"{test[metric]:.3f} [{test[metric + '_low']:.3f}, {test[metric + '_high']:.3f}]"
               for metric in (f"ndcg@{k}", f"recall@{k}", "mrr")},
            "coverage": round(test["coverage@k"], 3), "pop_pct": round(test["popularity_percentile@k"], 1),
            "best_epoch": fit.get("best_epoch"), "parameters": fit.get("parameter_count", fit.get("parameters")),
            "s_per_epoch": round(fit["seconds_per_epoch"], 2) if "seconds_per_epoch" in fit else None,
            "peak_mb": round(fit["peak_memory_mb"]) if "peak_memory_mb" in fit else None,
            "stage_s": round(metrics["stage_seconds"], 1),
        })
    return pd.DataFrame(rows)


def max_len_sweep(params: dict, max_lens: list[int]) -> pd.DataFrame:
    """SASRec refitted at each max_len on the workspace's split: test NDCG@k, best epoch, epoch time."""
    from sasnet.models import ranker_class
    from sasnet.params import load_params, ranker_config
    from sasnet.ranking.data import load_ranking_data
    from sasnet.ranking.evaluation import rank_targets
    from sasnet.ranking.metrics import per_user

    loaded, data = load_params(), load_ranking_data()
    k = loaded.ranking.k
    base = ranker_config(loaded, "sasrec")
    rows = []
    for max_len in max_lens:
        config = dataclasses.replace(base, max_len=max_len)
        model = ranker_class("sasrec")(config, list(loaded.split.bins))
        fitted = model.fit(data, progress=False, k=k)
        ranks = rank_targets(model, data, "test", k).ranks
        rows.append({"max_len": max_len, f"test_ndcg@{k}": per_user(ranks, k)["ndcg"].mean(),
                     "best_epoch": fitted.facts["best_epoch"],
                     "train_seconds_per_epoch": fitted.facts["train_seconds_per_epoch"]})
        print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def attention_profile() -> pd.DataFrame:
    from sasnet.models.base import load_model
    from sasnet.ranking.data import load_ranking_data

    data = load_ranking_data()
    shares = load_model("data/rankers/sasrec", data).attention_by_recency(data, "test")
    return pd.DataFrame({"steps_back": range(1, len(shares) + 1), "attention": shares,
                         "cumulative": shares.cumsum()})


def plot_sweep(sweep: pd.DataFrame, dataset: str, path: Path) -> None:
    ndcg = next(column for column in sweep if column.startswith("test_ndcg"))
    fig, left = plt.subplots(figsize=(6.4, 4))
    left.plot(sweep["max_len"], sweep[ndcg], "o-", color="tab:blue")
    left.set_xscale("log")
    left.set_xlabel("SASRec max sequence length")
    left.set_ylabel(ndcg.replace("_", " "), color="tab:blue")
    right = left.twinx()
    right.plot(sweep["max_len"], sweep["train_seconds_per_epoch"], "s--", color="tab:orange")
    right.set_ylabel("train seconds per epoch", color="tab:orange")
    left.set_title(f"{dataset}: accuracy and speed against sequence length")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_attention(profile: pd.DataFrame, dataset: str, path: Path) -> None:
    shown = profile.head(20)
    fig, ax = plt.subplots(figsize=(6.4, 4))
    ax.bar(shown["steps_back"], shown["attention"], color="tab:blue")
    ax.set_xlabel("item position, steps back from the most recent (1)")
    ax.set_ylabel("mean attention of the scoring position")
    ax.set_title(f"{dataset}: SASRec attention by recency (first 20 of {len(profile)}); "
                 f"last 5 items: {profile['attention'].head(5).sum():.0%}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="movielens", choices=("movielens", "amazon", "demo"))
    parser.add_argument("--workdir", type=Path, default=None, help="keep the workspace here (default: a temp dir)")
    parser.add_argument("--max-lens", default="10,25,50,100,200", help="SASRec max_len sweep ('' skips it)")
    parser.add_argument("--library", default=",".join(LIBRARY_RANKERS),
                        help="cornac's rankers to run beside ours ('' skips them)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per stage (default: torch's)")
    args = parser.parse_args()
    library = [name for name in args.library.split(",") if name]
    if unknown := set(library) - set(LIBRARY_RANKERS):
        parser.error(f"--library: unknown {sorted(unknown)}; valid: {', '.join(LIBRARY_RANKERS)}")
    folder = (args.workdir or Path(tempfile.mkdtemp(prefix="bench_ranking_"))) / args.dataset
    folder.mkdir(parents=True, exist_ok=False)
    copy_pipeline(folder)
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    with chdir(folder):
        configure(params, args.dataset, library)
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = dict(os.environ, DVC_NO_ANALYTICS="1", HF_HUB_OFFLINE="1", PYTHONPATH=str(folder / "src"))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    if args.threads:
        env |= {"OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    subprocess.run(["dvc", "init", "--no-scm", "-q"], cwd=folder, env=env, check=True)
    own = [name for name in params["rankers"] if name not in library]
    started = time.perf_counter()
    subprocess.run(["dvc", "repro", *(f"rank@{name}" for name in own)], cwd=folder, env=env, check=True)
    print(f"\nour rankers: dvc repro {(time.perf_counter() - started) / 60:.1f} min", flush=True)
    with chdir(folder):
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        profile = attention_profile()
        profile.to_csv(OUT_DIR / f"ranking_attention_{args.dataset}.csv", index=False)
        plot_attention(profile, args.dataset, OUT_DIR / f"ranking_attention_{args.dataset}.png")
        print(f"\nSASRec attention on the 1 / 5 / 10 most recent items: {profile['cumulative'].iloc[0]:.3f} / "
              f"{profile['cumulative'].iloc[4]:.3f} / {profile['cumulative'].iloc[9]:.3f}", flush=True)
        if args.max_lens:
            sweep = max_len_sweep(params, [int(value) for value in args.max_lens.split(",")])
            sweep.to_csv(OUT_DIR / f"ranking_max_len_{args.dataset}.csv", index=False)
            plot_sweep(sweep, args.dataset, OUT_DIR / f"ranking_max_len_{args.dataset}.png")
            print("\n" + sweep.to_string(index=False), flush=True)
    if library:
        library_started = time.perf_counter()
        subprocess.run(["dvc", "repro", *(f"rank@{name}" for name in library)], cwd=folder, env=env, check=True)
        print(f"\ncornac's rankers: dvc repro {(time.perf_counter() - library_started) / 60:.1f} min")
    with chdir(folder):
        rows = ranker_rows(params)
        split = json.loads(Path("metrics/rank_split.json").read_text())
    print(f"\n## {args.dataset}: ranking track ({split['users']} users, {split['items']} items, "
          f"{split['interactions']} interactions)\n")
    print(rows.to_string(index=False))
    print("\nstage seconds per family:", rows.groupby("family")["stage_s"].sum().round(1).to_dict())
    ours = rows[~rows["ranker"].isin(library)]
    print(f"our rankers: {ours['stage_s'].sum() / 60:.1f} min of stage time; with cornac's: "
          f"{rows['stage_s'].sum() / 60:.1f} min (the split and the sweep not included)")

if __name__ == "__main__":
    main()

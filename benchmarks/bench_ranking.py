"""The ranking track (top-k over the whole catalogue, leave-last-out by time) on a real data set, through `dvc repro`.

Usage: python benchmarks/bench_ranking.py [--dataset movielens|amazon|demo] [--workdir DIR]
           [--max-lens 10,25,50,100,200] [--library cornac_sasrec,cornac_bert4rec,cornac_gru4rec] [--threads N]
           [--sasnet minilm/mean] [--relevant all|excellent]

Every ranker family runs as its `rank@<ranker>` stage in a temporary DVC workspace (the repository's dvc.yaml,
stages and params.yaml with the data set's overrides), our SASRec / BERT4Rec / GRU4Rec beside cornac's on the same
split and metrics (cornac's take ~2.5 minutes an epoch each on MovieLens-100k: --library picks them). On a data set
with review text (the demo, Amazon) SASNet ranks too, by P(excellent), from the embedding runs and poolings of
--sasnet (rankers sasnet_<run>_<pooling>; their embed and normalize stages run first). MovieLens-100k is read in
place (../shared/data), filtered 5/5 (99,287 ratings, 943 users, 1,349 items; SOURCE.md), never copied into the
repository. Prints one row per ranker (test metrics with 95% intervals,
coverage, popularity percentile, best epoch, parameters, epoch time, peak memory, stage time) and the wall time per
family, then answers two questions of the sequential seed with a plot each (data and PNG under plots/bench/):
- how test NDCG@10 and epoch time change with SASRec's max sequence length (--max-lens);
- how much of SASRec's attention (scoring position, every block and head) goes to the most recent items.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import tempfile
import time
from contextlib import chdir
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from bench_real import SHARED_DATA, write_mcauley_json
from driver_kit import REPO_ROOT, dvc_workspace, repository_params, run_in_parallel
from sasnet.report.markdown import with_interval

OUT_DIR = REPO_ROOT / "plots" / "bench"
LIBRARY_RANKERS = {
    "cornac_sasrec": {"family": "cornac_seq", "input": "rank_split", "overrides": {"model": "sasrec"}},
    "cornac_bert4rec": {"family": "cornac_seq", "input": "rank_split", "overrides": {"model": "bert4rec"}},
    "cornac_gru4rec": {"family": "cornac_seq", "input": "rank_split", "overrides": {"model": "gru4rec", "lr": 0.05}},
}
SLOW_FIRST = ("xlstm", "sasrec", "gru4rec", "lstm", "bert4rec")
EXTRA_RANKERS = {"lstm": {"family": "gru4rec", "input": "rank_split", "overrides": {"cell": "lstm"}}}


TEXT_DATASETS = ("amazon", "demo")


def sasnet_rankers(inputs: list[str]) -> dict[str, dict]:
    """``run/pooling`` pairs as rankers entries of the sasnet family."""
    rankers = {}
    for value in inputs:
        run, _, pooling = value.partition("/")
        rankers[f"sasnet_{run}_{pooling}"] = {"family": "sasnet", "input": f"normalized/{run}", "pooling": pooling}
    return rankers


def configure(params: dict, dataset: str, library: list[str], sasnet: list[str], relevant: str) -> None:
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
    params["ranking"]["relevant"] = relevant
    params["rankers"] = params["rankers"] | EXTRA_RANKERS | {name: LIBRARY_RANKERS[name] for name in library}
    if dataset in TEXT_DATASETS and sasnet:
        # only the embeddings the SASNet rankers read: the normalize stage z-scores every embed.encoders run
        runs = {value.partition("/")[0] for value in sasnet}
        params["embed"]["encoders"] = {run: params["embed"]["encoders"][run] for run in runs}
        params["models"] = {"majority": {"family": "majority", "input": "split"}}
        params["rankers"] |= sasnet_rankers(sasnet)


def ranker_rows(params: dict) -> pd.DataFrame:
    rows = []
    for name in params["rankers"]:
        metrics = json.loads(Path(f"metrics/rankers/{name}.json").read_text())
        test, fit = metrics["test"], metrics["fit"]
        k = test["k"]
        rows.append({
            "ranker": name, "family": metrics["family"], "users": test["users"],
            **{metric: with_interval(test, metric) for metric in (f"ndcg@{k}", f"recall@{k}", "mrr")},
            "coverage": round(test["coverage@k"], 3), "pop_pct": round(test["popularity_percentile@k"], 1),
            "best_epoch": fit.get("best_epoch"), "parameters": fit.get("parameter_count", fit.get("parameters")),
            "s_per_epoch": round(fit["seconds_per_epoch"], 2) if "seconds_per_epoch" in fit else None,
            "peak_mb": round(fit["peak_memory_mb"]) if "peak_memory_mb" in fit else None,
            "stage_s": round(metrics["stage_seconds"], 1),
        })
    return pd.DataFrame(rows)


def max_len_sweep(params: dict, max_lens: list[int]) -> pd.DataFrame:
    """SASRec refitted at each max_len on the workspace's split: test NDCG@k, best epoch, epoch time."""
    from sasnet.models import model_class
    from sasnet.params import entry_config, load_params
    from sasnet.ranking.data import load_ranking_data
    from sasnet.ranking.evaluation import ndcg_validation, rank_targets
    from sasnet.ranking.metrics import per_user

    loaded, data = load_params(), load_ranking_data()
    k = loaded.ranking.k
    base = entry_config(loaded, "rankers", "sasrec")
    rows = []
    for max_len in max_lens:
        config = dataclasses.replace(base, max_len=max_len)
        model = model_class("sasrec")(config, list(loaded.split.bins), "rank")
        fitted = model.fit(data, progress=False, validation=ndcg_validation(data, k))
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


def reproduce(rankers: dict[str, dict], folder: Path, env: dict, jobs: int) -> None:
    """``dvc repro`` of the rankers' stages; with ``jobs`` > 1, their inputs first (rank_split, and normalize for a
    ranker that reads an embedding), then the stages ``jobs`` at a time (``run_in_parallel``)."""
    stages = [f"rank@{name}" for name in rankers]
    if jobs == 1:
        subprocess.run(["dvc", "repro", *stages], cwd=folder, env=env, check=True)
        return
    upstream = ["rank_split"] + (["normalize"] if any(entry["input"].startswith("normalized/")
                                                      for entry in rankers.values()) else [])
    # the slow families first (by MovieLens-100k's stage times), so that the quick ones fill in beside them
    run_in_parallel(sorted(stages, key=lambda stage: SLOW_FIRST.index(stage[5:]) if stage[5:] in SLOW_FIRST
                           else len(SLOW_FIRST)), upstream, folder, env, jobs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="movielens", choices=("movielens", "amazon", "demo"))
    parser.add_argument("--workdir", type=Path, default=None, help="keep the workspace here (default: a temp dir)")
    parser.add_argument("--max-lens", default="10,25,50,100,200", help="SASRec max_len sweep ('' skips it)")
    parser.add_argument("--library", default=",".join(LIBRARY_RANKERS),
                        help="cornac's rankers to run beside ours ('' skips them)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per stage (default: torch's)")
    parser.add_argument("--sasnet", default="minilm/mean",
                        help="SASNet rankers on a data set with text: embed.encoders runs and poolings, run/pooling "
                             "comma-separated ('' skips them)")
    parser.add_argument("--relevant", default="all", choices=("all", "excellent"), help="ranking.relevant")
    parser.add_argument("--jobs", type=int, default=1,
                        help="ranker stages run at once (each with --threads threads; 1: one `dvc repro`)")
    args = parser.parse_args()
    library = [name for name in args.library.split(",") if name]
    if unknown := set(library) - set(LIBRARY_RANKERS):
        parser.error(f"--library: unknown {sorted(unknown)}; valid: {', '.join(LIBRARY_RANKERS)}")
    folder = (args.workdir or Path(tempfile.mkdtemp(prefix="bench_ranking_"))) / args.dataset
    folder.mkdir(parents=True, exist_ok=False)
    params = repository_params()
    with chdir(folder):
        configure(params, args.dataset, library, [value for value in args.sasnet.split(",") if value],
                  args.relevant)
    env = dvc_workspace(folder, params, args.threads)
    own = {name: entry for name, entry in params["rankers"].items() if name not in library}
    started = time.perf_counter()
    reproduce(own, folder, env, args.jobs)
    print(f"\nour rankers: {(time.perf_counter() - started) / 60:.1f} min of wall time, {args.jobs} at once",
          flush=True)
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
        reproduce({name: params["rankers"][name] for name in library}, folder, env, args.jobs)
        print(f"\ncornac's rankers: dvc repro {(time.perf_counter() - library_started) / 60:.1f} min")
    with chdir(folder):
        rows = ranker_rows(params)
        split = json.loads(Path("metrics/rank_split.json").read_text())
    print(f"\n## {args.dataset}: ranking track, relevant: {args.relevant} ({split['users']} users, "
          f"{split['items']} items, "
          f"{split['interactions']} interactions)\n")
    print(rows.to_string(index=False))
    print("\nstage seconds per family:", rows.groupby("family")["stage_s"].sum().round(1).to_dict())
    ours = rows[~rows["ranker"].isin(library)]
    print(f"our rankers: {ours['stage_s'].sum() / 60:.1f} min of stage time; with cornac's: "
          f"{rows['stage_s'].sum() / 60:.1f} min (the split and the sweep not included)")

if __name__ == "__main__":
    from study_page import recording  # docs/studies/<driver>.md

    with recording(__file__):
        main()

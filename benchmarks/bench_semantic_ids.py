"""The semantic-ID track (SPEC §7): semantic IDs, then each model with item IDs against semantic IDs, through `dvc repro`.

Usage: python benchmarks/bench_semantic_ids.py [--datasets movielens,demo,yelp_core40] [--workdir DIR]
           [--tiger | --no-tiger] [--threads N] [--jobs N]

Per data set, in a temporary DVC workspace (the repository's dvc.yaml, stages and params.yaml with the data set's
overrides; research data read in place from ../shared/data, never copied): the semantic_ids stage, every models
entry with input semantic_ids (MF with item IDs against MF with semantic codes; Wide&Deep, DeepFM and DLRM in
baseline and semantic mode) beside the majority class and cornac's MF, and on data sets with dates the same as
rankers beside popularity and TIGER (cornac's, over our IDs). MovieLens-100k is filtered 5/5 as in the ranking
track; yelp-core40 has no dates, so only the class task runs there; the demo keeps the repository's settings.

Prints per data set: the semantic-ID analysis (codes used, collisions, prefix/category agreement against random
pairs, reconstruction error by level) and the stage's time; the class task's test macro-F1, RMSE and "excellent vs
not" AUC, overall and on cold-start items, each with its 95% interval; the ranking task's NDCG@10 overall and on
cold-start targets; the semantic-minus-ID difference of each pair; and the wall time of the track. With --jobs N the
model and ranker stages run N at a time (each with --threads threads) after `dvc repro semantic_ids rank_split`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from bench_real import DATASETS
from driver_kit import REPO_ROOT, dvc_workspace, repository_params, run_in_parallel
from sasnet.report.markdown import number, signed, slice_cell, with_interval

ROW_DATASETS = ("movielens", "demo", "yelp_core40")
REFERENCE_MODELS = {"majority": {"family": "majority", "input": "split"}, "mf": {"family": "mf", "input": "split"}}
REFERENCE_RANKERS = {"popularity": {"family": "popularity", "input": "rank_split"},
                     "mf": {"family": "mf", "input": "rank_split"}}
# every model of the track, in ID and semantic mode (the default run has MF and DeepFM of these), and MF with an
# embedding per level code (no parameter of the item's own) beside the default, one per ID prefix
TRACK = {
    "mf_ids": ("semantic_mf", {"items": "id"}),
    "mf_semantic": ("semantic_mf", {"items": "semantic"}),
    "mf_semantic_levels": ("semantic_mf", {"items": "semantic", "code_keys": "level"}),
    **{f"{architecture}{suffix}": ("ctr", {"architecture": architecture, "items": mode})
       for architecture in ("wide_deep", "deepfm", "dlrm") for suffix, mode in (("", "id"), ("_semantic", "semantic"))},
}
TIGER = {"tiger": {"family": "tiger", "input": "semantic_ids"}}


def track_entries() -> dict:
    return {name: {"family": family, "input": "semantic_ids", "overrides": overrides}
            for name, (family, overrides) in TRACK.items()}


def configure(params: dict, dataset: str, folder: Path, tiger: bool) -> list[str]:
    """The data set's params and the track's model and ranker stages, the slow ones first."""
    if dataset != "demo":
        DATASETS[dataset][1](params, folder, argparse.Namespace())
        params["filter"] = {"min_user_reviews": 5, "min_business_reviews": 5}
    params["models"] = REFERENCE_MODELS | track_entries()
    ranking = dataset != "yelp_core40"  # yelp-core40 has no dates: no leave-last-out
    params["rankers"] = REFERENCE_RANKERS | track_entries() | (TIGER if tiger else {}) if ranking else {}
    return [f"rank@{name}" for name in params["rankers"]][::-1] + [f"train@{name}" for name in params["models"]]


def model_table(params: dict) -> list[str]:
    lines = ["| model | family | items | test macro-F1 | RMSE | AUC excellent | cold-start macro-F1 | cold-start RMSE "
             "| cold-start AUC | tail macro-F1 | stage s |", "|" + "---|" * 11]
    for name in params["models"]:
        metrics = json.loads(Path(f"metrics/models/{name}.json").read_text())
        test = metrics["test"]
        cold = test["slices"]["cold_start"]
        tail = sorted(part for part in test["slices"] if part.startswith("popularity_"))[-1]
        lines.append(" | ".join([
            f"| {name}", metrics["family"], params["models"][name].get("overrides", {}).get("items", "id"),
            with_interval(test, "macro_f1"), number(test.get("rmse")), with_interval(test, "last_class_auc"),
            slice_cell(test, "cold_start", "macro_f1"), number(cold.get("rmse")),
            slice_cell(test, "cold_start", "last_class_auc"), slice_cell(test, tail, "macro_f1"),
            f"{metrics['stage_seconds']:.0f} |"]))
    return lines


def ranker_table(params: dict, k: int) -> list[str]:
    ndcg = f"ndcg@{k}"
    lines = [f"| ranker | family | {ndcg} | recall@{k} | cold-start {ndcg} | tail {ndcg} | best epoch | stage s |",
             "|" + "---|" * 8]
    for name in params["rankers"]:
        metrics = json.loads(Path(f"metrics/rankers/{name}.json").read_text())
        test = metrics["test"]
        tail = sorted(part for part in test["slices"] if part.startswith("popularity_"))[-1]
        lines.append(" | ".join([
            f"| {name}", metrics["family"], with_interval(test, ndcg), with_interval(test, f"recall@{k}"),
            slice_cell(test, "cold_start", ndcg), slice_cell(test, tail, ndcg),
            str(metrics["fit"].get("best_epoch", "—")), f"{metrics['stage_seconds']:.0f} |"]))
    return lines


def differences(params: dict) -> list[str]:
    """Semantic minus ID for each pair of entries that differ only in ``items`` (class task: macro-F1 overall and
    cold-start, with whether the two intervals overlap)."""
    lines = []
    for name, entry in params["models"].items():
        overrides = entry.get("overrides", {})
        if entry["input"] != "semantic_ids" or overrides.get("items") != "semantic":
            continue
        id_mode = {key: value for key, value in overrides.items() if key != "code_keys"} | {"items": "id"}
        twin = next(other for other, candidate in params["models"].items()
                    if candidate.get("overrides", {}) == id_mode and candidate["family"] == entry["family"])
        a, b = (json.loads(Path(f"metrics/models/{model}.json").read_text())["test"] for model in (name, twin))
        for part, label in ((a, "overall"), (a["slices"]["cold_start"], "cold-start")):
            other = b if label == "overall" else b["slices"]["cold_start"]
            if part.get("macro_f1") is None:
                continue
            overlap = part["macro_f1_low"] <= other["macro_f1_high"] and other["macro_f1_low"] <= part["macro_f1_high"]
            lines.append(f"{name} - {twin} ({label}): macro-F1 {signed(part['macro_f1'] - other['macro_f1'])} "
                         f"({'intervals overlap' if overlap else 'intervals apart'})")
    return lines


def analysis_lines() -> list[str]:
    facts = json.loads(Path("metrics/semantic_ids.json").read_text())
    levels = ", ".join(f"L{level['level']} {level['codes_used']}/{level['codebook_size']} codes "
                       f"(perplexity {level['perplexity']:.1f})" for level in facts["levels"])
    collisions = facts["collisions"]
    agreement = "; ".join(
        f"prefix {row['prefix_length']}: {row['mean_jaccard']:.3f} vs random {row['random_mean_jaccard']:.3f}"
        for row in facts["prefix_category_agreement"]["by_prefix_length"] if row["mean_jaccard"] is not None)
    errors = " -> ".join(f"{value:.3f}" for value in [facts["reconstruction"]["initial_error"]]
                         + [level["error"] for level in facts["reconstruction"]["levels"]])
    return [
        f"semantic IDs: {facts['items']} items in {facts['stage_seconds']:.1f} s (text: {facts['text_source']}); "
        f"{levels}",
        f"collisions: {collisions['items_sharing_codes']:.1%} of items share their codes with another, "
        f"{collisions['collision_groups']} groups, longest {collisions['longest_group']}",
        f"category Jaccard of items sharing a prefix: {agreement or 'no categories'}",
        f"reconstruction error (mean squared residual) by level 0..L: {errors}",
    ]


def every_movielens_item() -> str:
    """Semantic IDs for all 1,682 MovieLens-100k items (the 5/5 filter keeps fewer): MiniLM, k-means, suffix."""
    import pandas as pd

    from sasnet.embeddings.minilm import minilm_embed
    from sasnet.params import load_params
    from sasnet.semantic_ids import collision_suffix, item_texts, residual_kmeans, semantic_tokens

    params = load_params(REPO_ROOT / "params.yaml")
    config = params.semantic_ids
    movies = pd.read_parquet(DATASETS["movielens"][0] / "items.parquet")
    items = pd.DataFrame({"business_id": movies["item_id"].astype(str), "name": movies["title"].fillna(""),
                          "categories": movies["genres"].fillna("")})
    started = time.perf_counter()
    texts, _ = item_texts(items, pd.DataFrame(columns=["business_id", "text", "date"]), "metadata", 1)
    vectors, _ = minilm_embed(texts, params.embed.minilm, progress=False)
    quantisation = residual_kmeans(vectors, config.levels, config.codebook_size, config.seed, config.kmeans_n_init,
                                   config.kmeans_max_iter)
    tokens = semantic_tokens(quantisation.codes, collision_suffix(quantisation.codes))
    return (f"semantic IDs for all {len(tokens)} MovieLens-100k items (model load included): "
            f"{time.perf_counter() - started:.1f} s, {len({tuple(row) for row in tokens})} unique")


def run_dataset(dataset: str, root: Path, tiger: bool, threads: int | None, jobs: int) -> None:
    folder = root / dataset
    folder.mkdir(parents=True)
    params = repository_params()
    stages = configure(params, dataset, folder, tiger)
    env = dvc_workspace(folder, params, threads)
    started = time.perf_counter()
    upstream = ["semantic_ids"] + (["rank_split"] if params["rankers"] else [])
    if jobs == 1:
        subprocess.run(["dvc", "repro", *upstream, *stages], cwd=folder, env=env, check=True)
    else:
        run_in_parallel(stages, upstream, folder, env, jobs)
    minutes = (time.perf_counter() - started) / 60
    os.chdir(folder)
    split = json.loads(Path("metrics/split.json").read_text())
    seconds = sum(json.loads(path.read_text()).get("stage_seconds", 0) for path in Path("metrics").rglob("*.json"))
    lines = [f"\n## {dataset}: the semantic-ID track, {minutes:.1f} min of wall time from ingest to the last stage, "
             f"{jobs} stage(s) at a time ({seconds / 60:.1f} min of stage time)",
             "", "reviews: " + ", ".join(f"{part} {split[part]['reviews']}" for part in ("train", "valid", "test")),
             *analysis_lines(), "", "Class task (user split), test:", "", *model_table(params), "",
             *differences(params)]
    if params["rankers"]:
        lines += ["", "Ranking task (leave-last-out), test:", "", *ranker_table(params, params["ranking"]["k"])]
    print("\n".join(lines), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(ROW_DATASETS))
    parser.add_argument("--workdir", type=Path, default=None, help="keep the workspaces here (default: a temp dir)")
    parser.add_argument("--tiger", action=argparse.BooleanOptionalAction, default=True, help="rank with TIGER too")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per stage (default: torch's)")
    parser.add_argument("--jobs", type=int, default=1, help="model and ranker stages run at once")
    args = parser.parse_args()
    datasets = [name for name in args.datasets.split(",") if name]
    if unknown := set(datasets) - set(ROW_DATASETS):
        parser.error(f"--datasets: unknown {sorted(unknown)}; valid: {', '.join(ROW_DATASETS)}")
    root = args.workdir or Path(tempfile.mkdtemp(prefix="bench_semantic_ids_"))
    for dataset in datasets:
        if dataset != "demo" and not DATASETS[dataset][0].is_dir():
            print(f"\n## {dataset}: skipped ({DATASETS[dataset][0]} is absent)")
            continue
        run_dataset(dataset, root.resolve(), args.tiger, args.threads, args.jobs)
        if dataset == "movielens":
            print(every_movielens_item(), flush=True)


if __name__ == "__main__":
    from study_page import recording  # docs/studies/<driver>.md

    with recording(__file__):
        main()

"""Every model family on every data set in ../shared/data (and the demo), each through `dvc repro` in a workspace.

Usage: python benchmarks/bench_real.py [--datasets amazon,yelp_core40,movielens,demo] [--workdir DIR]
           [--encoders tfidf,minilm,llm_instructed] [--max-tokens 256] [--patience 30]

The research-only data stays where it is: each run happens in a temporary DVC workspace (the repository's dvc.yaml,
stages and params.yaml with the data set's overrides below), fed the files as the pipeline's readers expect them.
- amazon: Amazon Musical Instruments 5-core, all 10,261 reviews (filter 5/5, no LP sample: the paper's 10/20 empties
  it), as McAuley JSON lines; TF-IDF, MiniLM and the instructed LLM (--encoders drops some, and the models that
  read them: the LLM is most of the run on 2 cores); every family, and SASNet's variants.
- yelp_core40 and movielens: real ratings without review text, read by the `ratings` source; only the families that
  need no text run (`dvc repro train@<model>` for each; bpr too slow there, see TEXT_FREE_FAMILIES), the text
  stages never start.
- demo: the built-in default, exactly `dvc repro` of the repository.
SASNet's patience is cut to --patience epochs on the real sets to bound the run on 2 cores (its best epoch comes
early: see plots/training_curves.png); the demo keeps the repository's settings.

Prints per set: every model's test accuracy and macro-F1 with 95% intervals; against `star_history` a McNemar test
on accuracy and a paired bootstrap interval of the macro-F1 difference (Holm-adjusted); the wall time per stage.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from contextlib import chdir
from pathlib import Path

import pandas as pd
import yaml

from driver_kit import REPO_ROOT, dvc_workspace, repository_params, signed_interval

SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
# The text-free families run on the rating-only sets; bpr is left out there: its Newton fold-in costs pool size x
# catalogue per example, over 20 minutes on 2 cores for yelp-core40's 20k held-out reviews with 40-review pools.
TEXT_FREE_FAMILIES = ("majority", "star_history", "mf")
SASNET_VARIANTS = {  # beyond the paper, each one param: the paper's SASNet stays the first row
    "sasnet_llm_stars": {"family": "sasnet", "input": "normalized/llm_instructed", "pooling": "attention",
                         "overrides": {"history_stars": True}},
    "sasnet_llm_stars_balanced": {"family": "sasnet", "input": "normalized/llm_instructed", "pooling": "attention",
                                  "overrides": {"history_stars": True, "class_weight": "balanced"}},
    "sasnet_minilm_stars": {"family": "sasnet", "input": "normalized/minilm", "pooling": "mean",
                            "overrides": {"history_stars": True}},
}


def write_mcauley_json(reviews: pd.DataFrame, path: Path) -> None:
    """The 5-core JSON lines the parquet was made from (SOURCE.md): reviewerID, asin, overall, reviewText, ..."""
    seconds = pd.to_datetime(reviews["date"]).dt.as_unit("s").astype("int64")
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for row, unix_time in zip(reviews.itertuples(), seconds):
            record = {"reviewerID": row.user_id, "asin": row.business_id, "overall": float(row.stars),
                      "reviewText": row.text, "summary": row.summary, "unixReviewTime": int(unix_time)}
            handle.write(json.dumps(record) + "\n")


def text_free_models(params: dict) -> dict:
    return {name: entry for name, entry in params["models"].items() if entry["family"] in TEXT_FREE_FAMILIES}


def amazon(params: dict, folder: Path, args: argparse.Namespace) -> list[str]:
    raw = folder / "data" / "raw" / "amazon"
    raw.mkdir(parents=True, exist_ok=True)
    write_mcauley_json(pd.read_parquet(SHARED_DATA / "amazon-musical-instruments-5core" / "reviews.parquet"),
                       raw / "reviews.json.gz")
    params["data"]["source"] = "amazon"
    params["data"]["amazon"] = {"reviews": "data/raw/amazon/reviews.json.gz", "metadata": None}
    params["filter"] = {"min_user_reviews": 5, "min_business_reviews": 5}
    params["sample"]["method"] = "none"
    encoders = {"tfidf": {"encoder": "tfidf", "mode": "plain"}, "minilm": {"encoder": "minilm", "mode": "plain"},
                "llm_instructed": {"encoder": "llm", "mode": "instructed"}}
    params["embed"]["encoders"] = {name: encoders[name] for name in args.encoders.split(",")}
    params["embed"]["llm"]["max_tokens"] = args.max_tokens
    params["sasnet"]["patience"] = args.patience
    params["models"] = {
        name: entry for name, entry in (params["models"] | SASNET_VARIANTS).items()
        if entry["input"] == "split" or entry["input"].removeprefix("normalized/") in params["embed"]["encoders"]
    }
    return []  # the whole pipeline


def ratings(name: str, ratings_file: str, items_file: str | None, columns: dict):
    def configure(params: dict, folder: Path, args: argparse.Namespace) -> list[str]:
        params["data"]["source"] = "ratings"
        params["data"]["ratings"] = {"ratings": str(SHARED_DATA / name / ratings_file),
                                     "items": str(SHARED_DATA / name / items_file) if items_file else None,
                                     **columns}
        params["sample"]["method"] = "none"
        params["models"] = text_free_models(params)
        return [f"train@{model}" for model in params["models"]]

    return configure


DATASETS = {
    "amazon": (SHARED_DATA / "amazon-musical-instruments-5core", amazon),
    "yelp_core40": (SHARED_DATA / "yelp-core40", ratings(
        "yelp-core40", "ratings.parquet", "businesses.parquet",
        {"user_column": "user_id", "item_column": "business_id", "rating_column": "stars", "date_column": None,
         "timestamp_column": None, "item_name_column": None, "item_categories_column": "categories"})),
    "movielens": (SHARED_DATA / "movielens-100k", ratings(
        "movielens-100k", "ratings.parquet", "items.parquet",
        {"user_column": "user_id", "item_column": "item_id", "rating_column": "rating", "date_column": None,
         "timestamp_column": "timestamp", "item_name_column": "title", "item_categories_column": "genres"})),
    "demo": (REPO_ROOT, lambda params, folder, args: []),
}


def results_table(folder: Path, params: dict) -> str:
    """Every model's test scores and, against star_history, the paired tests (the report stage's own functions)."""
    # the checkout's: read-only helpers and results.md's cells
    from sasnet.report.collect import collect_test_predictions
    from sasnet.report.compare import baseline_comparisons
    from sasnet.report.markdown import number, p_value, with_interval

    class_names = list(params["split"]["bins"])
    evaluation = params["evaluation"]
    with chdir(folder):
        metrics = {model: json.loads((Path("metrics/models") / f"{model}.json").read_text())
                   for model in params["models"]}
        predictions = collect_test_predictions(metrics, class_names)
        comparisons = {row["model"]: row for row in baseline_comparisons(
            predictions, "star_history", len(class_names), evaluation["bootstrap_samples"], evaluation["seed"],
            evaluation["confidence"])}
    test = next(iter(metrics.values()))["test"]
    lines = [
        f"test reviews: {test['examples']}; majority class ({test['majority_class']}) accuracy "
        f"{test['majority_accuracy']:.3f}",
        "",
        "| model | input | test accuracy [95% CI] | test macro-F1 [95% CI] | RMSE | Δ macro-F1 vs star_history "
        "[95% CI] | p McNemar (Holm) | p bootstrap (Holm) | stage s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for model, m in metrics.items():
        report, versus = m["test"], comparisons.get(model)
        source = m["input"] if m["pooling"] is None else f"{m['input'].removeprefix('normalized/')}/{m['pooling']}"
        if versus is None:
            against = "(baseline) | — | —"
        else:
            against = (f"{signed_interval(versus, 'macro_f1_difference')} | "
                       f"{p_value(versus.get('mcnemar_p_value_holm'))} | "
                       f"{p_value(versus.get('bootstrap_p_value_holm'))}")
        lines.append(f"| {model} | {source} | {with_interval(report, 'accuracy')} | "
                     f"{with_interval(report, 'macro_f1')} | {number(report.get('rmse'))} | {against} | "
                     f"{m['stage_seconds']:.0f} |")
    return "\n".join(lines)


def run_dataset(name: str, folder: Path, args: argparse.Namespace) -> None:
    folder.mkdir(parents=True, exist_ok=False)
    params = repository_params()
    targets = DATASETS[name][1](params, folder, args)  # the data set's params; the `dvc repro` targets (none: all)
    env = dvc_workspace(folder, params)
    started = time.perf_counter()
    subprocess.run(["dvc", "repro", *targets], cwd=folder, env=env, check=True)
    minutes = (time.perf_counter() - started) / 60
    params = yaml.safe_load((folder / "params.yaml").read_text())
    split = json.loads((folder / "metrics" / "split.json").read_text())
    sizes = ", ".join(f"{part} {split[part]['reviews']}" for part in ("train", "valid", "test"))
    print(f"\n## {name}\n\ndvc repro: {minutes:.1f} min; reviews: {sizes}\n")
    print(results_table(folder, params))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="amazon,yelp_core40,movielens,demo",
                        help=f"comma-separated, from {', '.join(DATASETS)}")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the workspaces here (default: a temp dir)")
    parser.add_argument("--encoders", default="tfidf,minilm,llm_instructed", help="Amazon's encoder runs")
    parser.add_argument("--max-tokens", type=int, default=256, help="LLM tokens per Amazon review")
    parser.add_argument("--patience", type=int, default=30, help="SASNet's early-stopping patience on the real sets")
    args = parser.parse_args()
    names = args.datasets.split(",")
    unknown = [name for name in names if name not in DATASETS]
    if unknown:
        raise SystemExit(f"unknown data set(s) {unknown}; choose from {', '.join(DATASETS)}")
    print(f"command: python {' '.join(sys.argv)}")
    with tempfile.TemporaryDirectory() as scratch:
        root = args.workdir or Path(scratch)
        for name in names:
            if not DATASETS[name][0].is_dir():
                print(f"\n## {name}\n\nskipped: {DATASETS[name][0]} is not there (research-only data beside the checkout)")
                continue
            run_dataset(name, root / name, args)


if __name__ == "__main__":
    from study_page import recording  # docs/studies/<driver>.md

    with recording(__file__):
        main()

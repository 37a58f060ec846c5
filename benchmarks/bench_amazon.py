"""The whole pipeline on real review text: Amazon Musical Instruments 5-core, filtered 5/5, through `dvc repro`.

Usage: python benchmarks/bench_amazon.py [--data ../shared/data/amazon-musical-instruments-5core/reviews.parquet]
           [--workdir DIR] [--target-users 250] [--target-items 100] [--max-tokens 256]

The research-only data stays where it is: the run happens in a temporary DVC workspace (the repository's dvc.yaml,
stages and params.yaml, with the overrides below), fed the reviews as McAuley JSON lines, as Amazon ships them.
The paper's 10/20 filter empties this set, so it is filtered 5/5, and the LP sample keeps target_users x 5 reviews
and target_items x 10 (the LLM embeds about 6 reviews/s on 2 CPU cores). Encoders: TF-IDF, MiniLM and the
instructed LLM. Prints the majority baseline, every SVM and SASNet on the test split, with 95% intervals.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "amazon-musical-instruments-5core" / "reviews.parquet"
PIPELINE_FILES = ("dvc.yaml", "stages", "src")  # dvc.yaml lists library files as deps


def write_mcauley_json(reviews: pd.DataFrame, path: Path) -> None:
    """The 5-core JSON lines the parquet was made from (SOURCE.md): reviewerID, asin, overall, reviewText, ..."""
    seconds = pd.to_datetime(reviews["date"]).astype("int64") // 10**9
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for row, unix_time in zip(reviews.itertuples(), seconds):
            record = {"reviewerID": row.user_id, "asin": row.business_id, "overall": float(row.stars),
                      "reviewText": row.text, "summary": row.summary, "unixReviewTime": int(unix_time)}
            handle.write(json.dumps(record) + "\n")


def overrides(args: argparse.Namespace) -> dict:
    return {
        "data.source": "amazon",
        "data.amazon.reviews": "data/raw/amazon/reviews.json.gz",
        "filter.min_user_reviews": 5,
        "filter.min_business_reviews": 5,
        "sample.target_users": args.target_users,
        "sample.reviews_per_user": 5,
        "sample.target_businesses": args.target_items,
        "sample.reviews_per_business": 10,
        "embed.encoders": {"tfidf": {"encoder": "tfidf", "mode": "plain"},
                           "minilm": {"encoder": "minilm", "mode": "plain"},
                           "llm_instructed": {"encoder": "llm", "mode": "instructed"}},
        "embed.llm.max_tokens": args.max_tokens,
    }


def make_workspace(folder: Path, data: Path, args: argparse.Namespace) -> None:
    for name in PIPELINE_FILES:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, folder / name)
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    for dotted, value in overrides(args).items():
        *parents, last = dotted.split(".")
        node = params
        for key in parents:
            node = node[key]
        node[last] = value
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    raw = folder / "data" / "raw" / "amazon"
    raw.mkdir(parents=True)
    write_mcauley_json(pd.read_parquet(data), raw / "reviews.json.gz")


def interval(report: dict, metric: str) -> str:
    return f"{report[metric]:.3f} [{report[f'{metric}_low']:.3f}, {report[f'{metric}_high']:.3f}]"


def results_table(folder: Path) -> str:
    rows = []
    for path in sorted((folder / "metrics" / "models").glob("*.json")):
        metrics = json.loads(path.read_text())
        test = metrics["test"]
        rows.append((metrics["model"], f"{metrics['embedding']}/{metrics['pooling']}", interval(test, "accuracy"),
                     interval(test, "macro_f1"), test))
    if not rows:
        raise SystemExit("no model metrics were written: see the dvc output above")
    test = rows[0][4]
    lines = [
        f"test reviews: {test['examples']}, majority class ({test['majority_class']}) accuracy "
        f"{test['majority_accuracy']:.3f}",
        "",
        "| model | input | test accuracy [95% CI] | test macro-F1 [95% CI] |",
        "| --- | --- | --- | --- |",
        f"| majority class | - | {test['majority_accuracy']:.3f} | - |",
        *(f"| {model} | {source} | {accuracy} | {macro_f1} |" for model, source, accuracy, macro_f1, _ in rows),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the workspace here (default: a temp dir)")
    parser.add_argument("--target-users", type=int, default=250)
    parser.add_argument("--target-items", type=int, default=100)
    parser.add_argument("--max-tokens", type=int, default=256)
    args = parser.parse_args()
    if not args.data.is_file():
        raise SystemExit(f"skipped: {args.data} is not there (research-only data, read from ../shared)")

    with tempfile.TemporaryDirectory() as scratch:
        folder = args.workdir or Path(scratch) / "amazon"
        folder.mkdir(parents=True, exist_ok=False)
        make_workspace(folder, args.data, args)
        env = dict(os.environ, DVC_NO_ANALYTICS="1", HF_HUB_OFFLINE="1")
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
        subprocess.run(["dvc", "init", "--no-scm", "-q"], cwd=folder, env=env, check=True)
        started = time.perf_counter()
        subprocess.run(["dvc", "repro"], cwd=folder, env=env, check=True)
        minutes = (time.perf_counter() - started) / 60
        sample = json.loads((folder / "metrics" / "sample.json").read_text())
        print(f"\ncommand: python {' '.join(sys.argv)}")
        print(f"dvc repro: {minutes:.1f} min; LP sample kept {sample['kept_reviews']} reviews\n")
        print(results_table(folder))


if __name__ == "__main__":
    main()

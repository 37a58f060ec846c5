"""The data stages at Yelp's size: ingest -> filter -> sample -> split on generated Yelp-format files.

    python benchmarks/bench_paper_scale.py [--users 1900000] [--businesses 150000] [--reviews 6300000]
                                           [--workdir DIR] [--keep]

The review graph is heavy-tailed on both sides like Yelp's (a truncated Pareto per side, paired Chung-Lu style:
yelp_like_graph.py); the text is random words (~780-byte lines; the text need not be the demo's). Each stage runs
as the pipeline runs it: its script from stages/, in a fresh process, in a workspace whose params.yaml is the
repository's with data.source yelp and the paper's LP targets (7,000 users x 10 reviews, 3,000 businesses x 20).
The table gives each stage's wall time and its own peak resident memory (wait4's ru_maxrss of that process).
Targets (issue 13): ingest <= 5 minutes, every stage <= 4 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from bench_ingest import review_text, yelp_id
from driver_kit import REPO_ROOT, repository_params, write_params
from yelp_like_graph import heavy_tailed_degrees

STAGES = ("ingest", "filter", "sample", "split")
PAPER_SAMPLE = {"target_users": 7000, "reviews_per_user": 10, "target_businesses": 3000, "reviews_per_business": 20}
STAR_SHARES = [0.15, 0.08, 0.10, 0.20, 0.47]  # the raw Yelp Open Dataset's 1..5 star histogram (about)
TEXT_POOL = 50_000  # distinct texts drawn once; lines pick one each (the parser's cost does not depend on repeats)


def yelp_like_reviews(n_users: int, n_businesses: int, n_reviews: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(user, business) codes of a raw (unfiltered) heavy-tailed review graph of about ``n_reviews`` edges."""
    rng = np.random.default_rng(seed)
    user_degree = heavy_tailed_degrees(rng, n_users, 1, n_reviews / n_users, 4000)
    business_weight = heavy_tailed_degrees(rng, n_businesses, 8, n_reviews / n_businesses, 8000)
    user = np.repeat(np.arange(n_users), user_degree)
    business = rng.choice(n_businesses, size=len(user), p=business_weight / business_weight.sum())
    pairs = rng.permutation(np.unique(user.astype(np.int64) * n_businesses + business))  # one review per pair
    return pairs // n_businesses, pairs % n_businesses


def write_files(folder: Path, user: np.ndarray, business: np.ndarray, n_users: int, n_businesses: int,
                seed: int) -> tuple[Path, Path]:
    rng = random.Random(seed)
    user_ids = [yelp_id(rng) for _ in range(n_users)]
    business_ids = [yelp_id(rng) for _ in range(n_businesses)]
    texts = [review_text(rng) for _ in range(TEXT_POOL)]
    stars = np.random.default_rng(seed).choice(np.arange(1, 6), size=len(user), p=STAR_SHARES)
    business_path = folder / "yelp_academic_dataset_business.json"
    with business_path.open("w", encoding="utf-8") as out:
        for number, business_id in enumerate(business_ids):
            out.write(json.dumps({"business_id": business_id, "name": f"Place {number}", "city": "Tucson",
                                  "state": "AZ", "stars": 4.0, "is_open": 1,
                                  "categories": rng.choice(["Restaurants, Mexican", "Bars, Nightlife",
                                                            "Coffee & Tea, Cafes", "Hotels & Travel"])}) + "\n")
    review_path = folder / "yelp_academic_dataset_review.json"
    with review_path.open("w", encoding="utf-8") as out:
        for row in tqdm(range(len(user)), desc="writing reviews", unit="line", unit_scale=True, mininterval=5):
            out.write(json.dumps({
                "review_id": yelp_id(rng), "user_id": user_ids[user[row]], "business_id": business_ids[business[row]],
                "stars": int(stars[row]), "useful": 0, "funny": 0, "cool": 0,
                "text": texts[rng.randrange(TEXT_POOL)],
                "date": f"20{rng.randint(5, 21):02d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} 12:34:56",
            }) + "\n")
    return review_path, business_path


def paper_params(review_path: Path, business_path: Path) -> dict:
    """The repository's params with the generated Yelp files as the source and the paper's LP targets (the stages
    run from the checkout's stages/: the workspace holds only this params.yaml and what the stages write)."""
    params = repository_params()
    params["data"]["source"] = "yelp"
    params["data"]["yelp"] = {"reviews": str(review_path), "businesses": str(business_path)}
    params["sample"].update(PAPER_SAMPLE)
    return params


def run_stage(workspace: Path, stage: str) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of the stage's own process."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, str(REPO_ROOT / "stages" / f"{stage}.py")], cwd=workspace)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"stage {stage} failed ({process.returncode})")
    seconds, peak_mb = time.perf_counter() - started, usage.ru_maxrss / 1024  # ru_maxrss is in kB on Linux
    print(f"{stage}: {seconds:,.1f} s, peak RSS {peak_mb:,.0f} MB", flush=True)
    return seconds, peak_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=1_900_000)
    parser.add_argument("--businesses", type=int, default=150_000)
    parser.add_argument("--reviews", type=int, default=6_300_000, help="review slots drawn (duplicates dropped)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, help="keep the files and stage outputs here (default: a temp folder)")
    args = parser.parse_args()

    workspace = args.workdir or Path(tempfile.mkdtemp(prefix="bench_paper_scale_"))
    workspace.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        user, business = yelp_like_reviews(args.users, args.businesses, args.reviews, args.seed)
        review_path, business_path = write_files(workspace, user, business, args.users, args.businesses, args.seed)
        written_s = time.perf_counter() - started
        file_gb = review_path.stat().st_size / 2**30
        write_params(workspace, paper_params(review_path, business_path))
        rows = [(stage, *run_stage(workspace, stage)) for stage in STAGES]
        metrics = {stage: json.loads((workspace / "metrics" / f"{stage}.json").read_text()) for stage in STAGES}
    finally:
        if args.workdir is None:
            shutil.rmtree(workspace)

    print(f"\n{len(user):,} review lines ({file_gb:.2f} GB; written in "
          f"{written_s:.0f} s), {args.users:,} users, {args.businesses:,} businesses drawn; "
          f"{os.cpu_count()} CPU cores\n")
    kept = {"ingest": metrics["ingest"]["files"]["reviews"]["accepted"],
            "filter": metrics["filter"]["output"]["reviews"], "sample": metrics["sample"]["kept_reviews"],
            "split": sum(metrics["split"][name]["reviews"] for name in ("train", "valid", "test"))}
    print("| stage | wall seconds | peak RSS (MB) | reviews out |")
    print("|---|---:|---:|---:|")
    for stage, seconds, rss in rows:
        print(f"| {stage} | {seconds:,.1f} | {rss:,.0f} | {kept[stage]:,} |")
    print(f"\nfilter: {metrics['filter']['output']}; sample: {metrics['sample']['kept_users']:,} users, "
          f"{metrics['sample']['kept_businesses']:,} businesses, LP seconds {metrics['sample']['seconds']}")


if __name__ == "__main__":
    from study_page import recording  # docs/studies/<driver>.md

    with recording(__file__):
        main()

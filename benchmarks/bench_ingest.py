"""Ingest speed and peak memory on generated Yelp-format files of growing size.

    python benchmarks/bench_ingest.py [--lines 100000 1000000] [--chunk-lines 10000]

Each ingest runs in a fresh process, so the peak RSS reported is that ingest's own. Streaming means the peak
should stay flat as the file grows. The generated files go to a temporary folder that is removed afterwards.
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import random
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from sasnet.data.ingest import IngestConfig, ingest_yelp

REVIEWS_PER_BUSINESS = 40  # the Yelp Open Dataset has about 7M reviews of 150k businesses
REVIEWS_PER_USER = 4
MEAN_TEXT_CHARS = 600
WORDS = (
    "the food was great service slow friendly staff we ordered pizza pasta salad soup burger fries coffee "
    "really nice place to go with friends and family prices are fair but parking is hard our waiter forgot "
    "drinks came out cold will definitely come back again not worth wait table dessert amazing café crème "
    "brûlée menu spicy tacos brunch weekend downtown location clean bathroom loud music happy hour deals"
).split()


def yelp_id(rng: random.Random) -> str:
    return base64.urlsafe_b64encode(rng.randbytes(16)).decode()[:22]


def review_text(rng: random.Random) -> str:
    # Yelp's mean word is about 5 characters plus a space; lengths vary widely around the mean.
    words = rng.choices(WORDS, k=max(5, int(rng.expovariate(1 / MEAN_TEXT_CHARS)) // 6))
    paragraphs = [" ".join(words[start : start + 40]).capitalize() + "." for start in range(0, len(words), 40)]
    return "\n\n".join(paragraphs)


def write_yelp_files(folder: Path, review_lines: int, seed: int = 0) -> tuple[Path, Path]:
    rng = random.Random(seed)
    business_ids = [yelp_id(rng) for _ in range(max(1, review_lines // REVIEWS_PER_BUSINESS))]
    user_ids = [yelp_id(rng) for _ in range(max(1, review_lines // REVIEWS_PER_USER))]
    business_path = folder / "yelp_academic_dataset_business.json"
    with business_path.open("w", encoding="utf-8") as out:
        for business_id in business_ids:
            business = {
                "business_id": business_id,
                "name": "Place " + business_id[:6],
                "address": "1 Main St",
                "city": "Tucson",
                "state": "AZ",
                "postal_code": "85701",
                "latitude": 32.2,
                "longitude": -110.9,
                "stars": 4.0,
                "review_count": REVIEWS_PER_BUSINESS,
                "is_open": 1,
                "attributes": {"RestaurantsTakeOut": "True"},
                "categories": "Restaurants, Mexican, Bars",
                "hours": {"Monday": "11:0-22:0"},
            }
            out.write(json.dumps(business, ensure_ascii=False) + "\n")
    review_path = folder / "yelp_academic_dataset_review.json"
    with review_path.open("w", encoding="utf-8") as out:
        for _ in range(review_lines):
            review = {
                "review_id": yelp_id(rng),
                "user_id": rng.choice(user_ids),
                "business_id": rng.choice(business_ids),
                "stars": rng.randint(1, 5),
                "useful": rng.randint(0, 3),
                "funny": 0,
                "cool": 0,
                "text": review_text(rng),
                "date": f"20{rng.randint(5, 21):02d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} 12:34:56",
            }
            out.write(json.dumps(review, ensure_ascii=False) + "\n")
    return review_path, business_path


def peak_rss_mb() -> float:
    """This process's own peak resident memory (Linux). Unlike getrusage's ru_maxrss, /proc's VmHWM does not
    carry over the parent's resident size across the fork and exec that start a child."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status: this benchmark measures memory on Linux only")


def ingest_in_this_process(review_path: Path, business_path: Path, out_dir: Path, chunk_lines: int) -> dict:
    rss_before = peak_rss_mb()
    config = IngestConfig(chunk_lines=chunk_lines, max_rejected_fraction=0.01, quarantine_max_chars=2000)
    metrics = ingest_yelp(review_path, business_path, out_dir, config)
    return {"seconds": metrics["seconds"], "rss_before_mb": rss_before, "peak_rss_mb": peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--chunk-lines", type=int, default=10_000)
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_ingest_") as tmp:
        for review_lines in args.lines:
            folder = Path(tmp) / str(review_lines)
            folder.mkdir()
            review_path, business_path = write_yelp_files(folder, review_lines)
            # A fresh "spawn" process: its peak RSS starts from nothing, not from a copy of this one.
            with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as child:
                result = child.submit(
                    ingest_in_this_process, review_path, business_path, folder / "out", args.chunk_lines
                ).result()
            rows.append((review_lines, review_path.stat().st_size, result))
            shutil.rmtree(folder)  # free the disk before generating the next, larger file

    print(f"\nchunk_lines = {args.chunk_lines:,}\n")
    print("| review lines | review file (MB) | seconds | lines/s | peak RSS (MB) | RSS before ingest (MB) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for review_lines, file_bytes, result in rows:
        seconds = result["seconds"]
        print(
            f"| {review_lines:,} | {file_bytes / 2**20:,.0f} | {seconds:,.1f} | {review_lines / seconds:,.0f} "
            f"| {result['peak_rss_mb']:,.0f} | {result['rss_before_mb']:,.0f} |"
        )


if __name__ == "__main__":
    from study_page import recording  # docs/studies/<driver>.md

    with recording(__file__):
        main()

"""Where each stage reads and writes, relative to the repository root (dvc.yaml declares the same paths)."""

from pathlib import Path

DATA = Path("data")
METRICS = Path("metrics")
PLOTS = Path("plots")

INGEST_DIR = DATA / "ingest"
REVIEWS = INGEST_DIR / "reviews.parquet"
BUSINESSES = INGEST_DIR / "businesses.parquet"
DEMO_TRUTH = INGEST_DIR / "demo_truth.parquet"

FILTERED_REVIEWS = DATA / "filter" / "reviews.parquet"
SAMPLED_REVIEWS = DATA / "sample" / "reviews.parquet"
SPLIT_DIR = DATA / "split"


def split_file(split: str) -> Path:
    return SPLIT_DIR / f"{split}.parquet"

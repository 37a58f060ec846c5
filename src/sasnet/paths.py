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

EMBED_DIR = DATA / "embed"
NORMALIZED_DIR = DATA / "normalized"
QUANTIZE_DIR = DATA / "quantize"
QUANTIZED_MODEL = QUANTIZE_DIR / "model"
# Resumable LLM shards live outside every DVC output: DVC deletes a stage's outputs before rerunning it.
LLM_SHARDS = DATA / "cache" / "llm_shards"


def embedding_dir(name: str) -> Path:
    return EMBED_DIR / name


def normalized_dir(name: str) -> Path:
    return NORMALIZED_DIR / name


SCORING_DIR = DATA / "scoring"
CATEGORY_PAIRS = SCORING_DIR / "category_pairs.parquet"
EMBEDDING_SCORES = METRICS / "embedding_scores.json"

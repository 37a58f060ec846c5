"""Where each stage reads and writes, relative to the repository root (dvc.yaml declares the same paths)."""

from pathlib import Path

DATA = Path("data")
METRICS = Path("metrics")
PLOTS = Path("plots")

SHARED_CODE = DATA / "shared_code.json"  # the digest of the files every stage runs (stages/shared_code.py)
MODELS_SOURCE = "src/sasnet/models"  # the family packages, which the shared_code stage digests by name

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


def embed_metrics(name: str) -> Path:
    return METRICS / "embed" / f"{name}.json"


SCORING_DIR = DATA / "scoring"
CATEGORY_PAIRS = SCORING_DIR / "category_pairs.parquet"
EMBEDDING_SCORES = METRICS / "embedding_scores.json"

# Models are named by their key in params.yaml's `models` map.
MODELS_DIR = DATA / "models"
PREDICTIONS_DIR = DATA / "predictions"
RESULTS = Path("results.md")


def model_dir(model: str) -> Path:
    return MODELS_DIR / model


def predictions_file(model: str) -> Path:
    return PREDICTIONS_DIR / f"{model}.parquet"


def model_metrics(model: str) -> Path:
    return METRICS / "models" / f"{model}.json"


def training_curves(model: str) -> Path:
    """Valid (and train) scores by epoch: a DVC plot per model."""
    return PLOTS / "models" / f"{model}.csv"


# The ranking task: a leave-last-out split of the sampled reviews, and rankers named by their key in `rankers`.
RANK_SPLIT_DIR = DATA / "rank_split"
RANK_INTERACTIONS = RANK_SPLIT_DIR / "interactions.parquet"
RANK_ITEMS = RANK_SPLIT_DIR / "items.parquet"
RANKERS_DIR = DATA / "rankers"
SEMANTIC_IDS_DIR = DATA / "semantic_ids"
SEMANTIC_IDS = SEMANTIC_IDS_DIR / "items.parquet"
SEMANTIC_IDS_INFO = SEMANTIC_IDS_DIR / "codebook.json"
RANKINGS_DIR = DATA / "rankings"


def ranker_dir(ranker: str) -> Path:
    return RANKERS_DIR / ranker


def rankings_file(ranker: str) -> Path:
    """Every evaluated test user's top-k items and the target's rank."""
    return RANKINGS_DIR / f"{ranker}.parquet"


def ranker_metrics(ranker: str) -> Path:
    return METRICS / "rankers" / f"{ranker}.json"


def ranking_curves(ranker: str) -> Path:
    """Valid NDCG@k (and loss) by epoch: a DVC plot per ranker."""
    return PLOTS / "rankers" / f"{ranker}.csv"

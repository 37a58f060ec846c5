"""DVC stage `score_embeddings`: the paper's Table 1 for every normalised embedding, with intervals and a probe."""

import pandas as pd

from sasnet import paths
from sasnet.embeddings import store
from sasnet.embeddings.minilm import encode_names
from sasnet.io import write_csv, write_json, write_parquet
from sasnet.params import Params
from sasnet.plots import interval_bars, message_figure, similarity_heatmaps, similarity_scatter
from sasnet.scoring import CategoryNameEmbeddings, eligible_categories, score_embeddings, similarity_matrices
from sasnet.stage import run_stage, stage_seconds

HEATMAP_CATEGORIES = 30  # the most-reviewed ones: a larger heatmap is unreadable


def load_embeddings(names) -> tuple[dict, pd.DataFrame]:
    """method ('<encoder run>/<pooling>') -> matrix, and the reviews their rows follow."""
    reviews = store.canonical_reviews()
    embeddings = {}
    for name in names:
        for pooling in store.poolings_in(paths.normalized_dir(name)):
            embeddings[f"{name}/{pooling}"] = store.read_normalized(name, pooling, reviews)[1]
    return embeddings, reviews


def run(params: Params) -> None:
    embeddings, reviews = load_embeddings(params.embed.encoders)
    businesses = pd.read_parquet(paths.BUSINESSES, columns=["business_id", "categories"])
    reviews = reviews.merge(businesses, on="business_id", how="left", validate="many_to_one")
    config = params.scoring
    names = eligible_categories(reviews, config).index.tolist()
    reference = CategoryNameEmbeddings(names, encode_names(names, params.embed.minilm)) if names else None
    result = score_embeddings(embeddings, reviews, list(params.split.bins), reference, config)

    write_json(result.summary() | {"stage_seconds": stage_seconds()}, paths.EMBEDDING_SCORES)
    write_parquet(result.pairs, paths.CATEGORY_PAIRS)
    if result.best_method is None:  # no category part (e.g. Amazon): the sentiment part alone, and say so
        table = result.table.sort_values("AE_s")
        write_csv(table[["method", "score", "score_low", "score_high"]], paths.PLOTS / "embedding_scores.csv")
        interval_bars(table, "method", "AE_s", "Sentiment AE_s (no categories, so no score), 95% bootstrap intervals",
                      paths.PLOTS / "embedding_scores.png")
        write_csv(result.pairs, paths.PLOTS / "category_similarity.csv")
        for figure in ("category_similarity.png", "category_heatmap.png"):
            message_figure(f"No category similarity: {result.category_unavailable}", paths.PLOTS / figure)
        return
    table = result.table.sort_values("score_normalised", ascending=False)
    write_csv(table[["method", "score", "score_low", "score_high"]], paths.PLOTS / "embedding_scores.csv")
    interval_bars(table, "method", "score", "Embedding score (paper Table 1), 95% bootstrap intervals",
                  paths.PLOTS / "embedding_scores.png")
    # each encoder run's best pooling, best first: the overall best against the other encoders' best
    compared = table.groupby(table["method"].str.split("/").str[0], sort=False)["method"].first().tolist()
    scatter = result.pairs[result.pairs["method"].isin(compared)]
    write_csv(scatter, paths.PLOTS / "category_similarity.csv")
    similarity_scatter(scatter, compared, paths.PLOTS / "category_similarity.png")
    shown = result.categories.index[:HEATMAP_CATEGORIES].tolist()
    matrices = similarity_matrices(result.pairs, result.best_method, shown)
    similarity_heatmaps(matrices, f"Category similarity: {result.best_method} vs category names (MiniLM)",
                        paths.PLOTS / "category_heatmap.png")


if __name__ == "__main__":
    run_stage(run)

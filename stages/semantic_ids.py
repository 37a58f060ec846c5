"""DVC stage `semantic_ids`: a unique semantic ID for every catalogue item (SPEC §7, the semantic-ID seed).

Item text (name + categories/genres where the item has metadata, else its train reviews) -> all-MiniLM-L6-v2 (the
package's copy, embed.minilm's settings) -> residual k-means in semantic_ids.levels levels -> a collision suffix.
Only reviews that are train in both the user split and the ranking task's leave-last-out are ever read
(``text_reviews``), so neither task's held-out reviews reach an item's text. Writes data/semantic_ids/items.parquet (business_id, name, categories, text_source,
code_1 .. code_<levels>, suffix) and codebook.json, metrics/semantic_ids.json (the analysis) and
plots/semantic_ids.{csv,png}.
"""

import pandas as pd

from sasnet import paths
from sasnet.data.catalogue import catalogue
from sasnet.embeddings.minilm import minilm_embed
from sasnet.io import atomic_dir, write_json, write_parquet
from sasnet.item_codes import code_columns, split_categories
from sasnet.params import Params
from sasnet.semantic_ids import (
    analyse,
    collision_suffix,
    item_texts,
    plot_semantic_ids,
    residual_kmeans,
    text_reviews,
)
from sasnet.stage import run_stage, stage_seconds


def run(params: Params) -> None:
    config = params.semantic_ids
    sampled = pd.read_parquet(paths.SAMPLED_REVIEWS)  # the split's reviews, in rank_split's row order
    items = catalogue(sampled["business_id"])
    user_split_train = set(pd.read_parquet(paths.split_file("train"), columns=["review_id"])["review_id"])
    reviews, ranking_applied = text_reviews(sampled, user_split_train, params.ranking.tie_seed)
    texts, sources = item_texts(items, reviews, config.text, config.max_review_chars)
    vectors, embed_stats = minilm_embed(texts, params.embed.minilm)
    quantisation = residual_kmeans(vectors, config.levels, config.codebook_size, config.seed,
                                   config.kmeans_n_init, config.kmeans_max_iter)
    suffix = collision_suffix(quantisation.codes)
    table = items.assign(text_source=sources)
    for column, values in zip(code_columns(config.levels), [*quantisation.codes.T, suffix]):
        table[column] = values
    categories = [set(split_categories(text)) for text in items["categories"]]
    tokens = table[code_columns(config.levels)].to_numpy()
    analysis = analyse(tokens, categories, quantisation, config.seed)

    with atomic_dir(paths.SEMANTIC_IDS_DIR) as out_dir:
        write_parquet(table, out_dir / paths.SEMANTIC_IDS.name)
        write_json({"levels": config.levels, "codebook_size": config.codebook_size,
                    "codebook_sizes_used": [len(centroids) for centroids in quantisation.centroids]},
                   out_dir / paths.SEMANTIC_IDS_INFO.name)
    plot_semantic_ids(tokens, quantisation, paths.PLOTS / "semantic_ids.csv", paths.PLOTS / "semantic_ids.png")
    source_counts = pd.Series(sources).value_counts()
    write_json({
        "items": len(items),
        "text_source": {source: int(source_counts.get(source, 0)) for source in ("metadata", "reviews", "none")},
        "text_reviews": len(reviews),  # train in the user split and, where dates allow it, in leave-last-out
        "text_reviews_exclude_ranking_targets": ranking_applied,
        "embedding": {key: embed_stats[key] for key in ("dims", "tokens", "truncated_reviews", "seconds")},
        **analysis,
        "stage_seconds": stage_seconds(),
    }, paths.METRICS / "semantic_ids.json")


if __name__ == "__main__":
    run_stage(run)

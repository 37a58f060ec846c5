"""Semantic IDs: residual k-means codes, collision suffixes, item texts (train reviews only), analysis and plot."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sasnet.semantic_ids import (
    Quantisation,
    analyse,
    collision_suffix,
    item_texts,
    plot_semantic_ids,
    residual_kmeans,
    semantic_tokens,
    text_reviews,
)


def clustered_vectors(
    seed: int, clusters: int = 6, per_cluster: int = 30, dim: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs around well-separated centres, and each row's blob."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=10.0, size=(clusters, dim))
    blob = np.repeat(np.arange(clusters), per_cluster)
    return centres[blob] + rng.normal(size=(len(blob), dim)), blob


def ids_of(vectors: np.ndarray, levels: int, codebook_size: int, seed: int) -> tuple[Quantisation, np.ndarray]:
    quantisation = residual_kmeans(vectors, levels, codebook_size, seed, n_init=2)
    return quantisation, semantic_tokens(quantisation.codes, collision_suffix(quantisation.codes))


def unique_rows(array: np.ndarray) -> int:
    return len(np.unique(array, axis=0))


def test_one_seed_gives_the_same_unique_ids():
    vectors, _ = clustered_vectors(0)
    vectors = np.concatenate([vectors, vectors[:5]])  # exact duplicates must collide and get told apart
    first, first_tokens = ids_of(vectors, levels=2, codebook_size=4, seed=7)
    second, second_tokens = ids_of(vectors, levels=2, codebook_size=4, seed=7)
    np.testing.assert_array_equal(first.codes, second.codes)
    np.testing.assert_array_equal(first_tokens, second_tokens)
    assert first_tokens.dtype == np.int64 and first_tokens.shape == (len(vectors), 3)
    assert unique_rows(first_tokens) == len(vectors)
    assert first_tokens[:, -1].max() > 0
    np.testing.assert_array_equal(first_tokens[:, :2], first.codes)


def test_reconstruction_error_falls_level_by_level():
    vectors, _ = clustered_vectors(1)
    quantisation = residual_kmeans(vectors, levels=4, codebook_size=5, seed=0, n_init=2)
    errors = [quantisation.initial_error, *quantisation.level_errors]
    assert len(quantisation.level_errors) == 4
    assert all(later < earlier for earlier, later in zip(errors, errors[1:])), errors
    centred = vectors - vectors.mean(axis=0)
    assert quantisation.initial_error == pytest.approx(np.mean(np.sum(centred**2, axis=1)))
    # the codes and centroids reproduce the vectors up to the last level's error
    rebuilt = sum(centres[quantisation.codes[:, level]] for level, centres in enumerate(quantisation.centroids))
    assert np.mean(np.sum((vectors - rebuilt) ** 2, axis=1)) == pytest.approx(quantisation.level_errors[-1])


def test_collision_suffix_ranks_rows_with_the_same_codes_in_row_order():
    codes = np.array([[0, 1], [0, 1], [2, 2], [0, 1]])
    suffix = collision_suffix(codes)
    assert suffix.dtype == np.int64
    assert suffix.tolist() == [0, 1, 0, 2]
    assert collision_suffix(np.array([[3], [1], [3], [1], [1]])).tolist() == [0, 0, 1, 1, 2]


def test_tokens_must_be_unique():
    codes = np.array([[0, 1], [0, 1]])
    with pytest.raises(ValueError, match="unique"):
        semantic_tokens(codes, np.zeros(2, dtype=np.int64))


def test_a_catalogue_smaller_than_the_codebook_still_gets_unique_ids():
    vectors = np.random.default_rng(2).normal(size=(3, 4))
    quantisation, tokens = ids_of(vectors, levels=2, codebook_size=8, seed=0)
    assert all(len(centres) <= 3 for centres in quantisation.centroids)
    assert unique_rows(tokens) == 3

    identical = np.ones((3, 4))
    quantisation, tokens = ids_of(identical, levels=2, codebook_size=8, seed=0)
    assert [len(centres) for centres in quantisation.centroids] == [1, 1]
    assert sorted(tokens[:, -1]) == [0, 1, 2]

    quantisation, tokens = ids_of(vectors[:1], levels=3, codebook_size=8, seed=0)
    assert tokens.shape == (1, 4) and quantisation.initial_error == 0.0
    report = analyse(tokens, [{"bars"}], quantisation, seed=0)
    assert report["collisions"]["items_sharing_codes"] == 0.0
    assert all(entry["mean_jaccard"] is None for entry in report["prefix_category_agreement"]["by_prefix_length"])
    assert all(entry["explained_share"] is None for entry in report["reconstruction"]["levels"])


ITEMS = pd.DataFrame({
    "business_id": ["full", "cats_only", "no_metadata", "nothing"],
    "name": ["Joe's Diner", "", "", None],
    "categories": ["Diners, Breakfast", "Bars", "", ""],
})
REVIEWS = pd.DataFrame({
    "business_id": ["no_metadata", "no_metadata", "full", "no_metadata", "no_metadata"],
    "text": ["newest", "oldest", "diner review", "tie first", "tie second"],
    "date": ["2021-05-01 10:00:00", "2019-01-01 09:00:00", "2020-01-01 00:00:00", "2020-06-01 12:00:00",
             "2020-06-01 12:00:00"],
})
HELD_OUT = pd.DataFrame({"business_id": ["no_metadata"], "text": ["HELD OUT REVIEW"], "date": ["2018-01-01 00:00:00"]})


def test_auto_takes_metadata_where_there_is_some_and_reviews_elsewhere():
    texts, sources = item_texts(ITEMS, REVIEWS, "auto", max_review_chars=1000)
    assert texts == [
        "Joe's Diner. Categories: Diners, Breakfast",
        "Categories: Bars",
        "oldest\ntie first\ntie second\nnewest",
        "",
    ]
    assert sources.tolist() == ["metadata", "metadata", "reviews", "none"]
    metadata_texts, metadata_sources = item_texts(ITEMS, REVIEWS, "metadata", max_review_chars=1000)
    assert metadata_texts[2:] == ["", ""] and metadata_sources.tolist()[2:] == ["none", "none"]


def test_reviews_mode_reads_only_the_given_reviews_oldest_first_and_cut():
    texts, sources = item_texts(ITEMS, REVIEWS, "reviews", max_review_chars=1000)
    assert texts[0] == "diner review" and sources.tolist() == ["reviews", "none", "reviews", "none"]
    # the held-out review is the oldest: passed in, it would lead the text; not passed, it never appears
    with_held_out = item_texts(ITEMS, pd.concat([HELD_OUT, REVIEWS]), "reviews", max_review_chars=1000)[0]
    assert with_held_out[2].startswith("HELD OUT REVIEW")
    assert not any("HELD OUT" in text for text in texts)
    assert item_texts(ITEMS, REVIEWS.iloc[:0], "reviews", max_review_chars=1000)[1].tolist() == ["none"] * 4
    ordered = "\n".join(REVIEWS.sort_values("date", kind="stable").query("business_id == 'no_metadata'")["text"])
    for limit in (1, 6, 7, 8, 20, len(ordered), len(ordered) + 5):
        cut = item_texts(ITEMS, REVIEWS, "reviews", max_review_chars=limit)[0][2]
        assert cut == ordered[:limit]


def test_unknown_text_mode_is_refused():
    with pytest.raises(ValueError, match="mode"):
        item_texts(ITEMS, REVIEWS, "everything", max_review_chars=10)


def hand_quantisation() -> tuple[np.ndarray, Quantisation]:
    codes = np.array([[0, 0], [0, 0], [0, 1], [1, 0], [1, 0], [1, 0]])
    quantisation = Quantisation(codes, [np.zeros((2, 3)), np.zeros((3, 3))], [1.0, 0.5], 4.0)
    return semantic_tokens(codes, collision_suffix(codes)), quantisation


def test_analyse_counts_collisions_usage_and_explained_error():
    tokens, quantisation = hand_quantisation()
    categories = [{"bars"}, {"bars"}, {"bars"}, {"cafes"}, {"cafes"}, set()]
    report = analyse(tokens, categories, quantisation, seed=0)
    assert report["collisions"] == {
        "items": 6, "items_sharing_codes": 5 / 6, "collision_groups": 2, "longest_group": 3, "max_suffix": 2,
    }
    first, second = report["levels"]
    assert (first["codes_used"], first["codebook_size"], first["largest_code_share"]) == (2, 2, 0.5)
    assert first["perplexity"] == pytest.approx(2.0)
    assert (second["codes_used"], second["codebook_size"], second["largest_code_share"]) == (2, 3, 5 / 6)
    assert second["perplexity"] == pytest.approx(math.exp(-(5 / 6 * math.log(5 / 6) + 1 / 6 * math.log(1 / 6))))
    assert [level["explained_share"] for level in report["reconstruction"]["levels"]] == [0.75, 0.875]
    agreement = report["prefix_category_agreement"]
    assert agreement["items_with_categories"] == 5  # the item without categories is left out
    by_length = agreement["by_prefix_length"]
    # every pair sharing a prefix shares its category; of the 10 random pairs, 3 + 1 do
    assert [(entry["pairs"], entry["mean_jaccard"]) for entry in by_length] == [(4, 1.0), (2, 1.0)]
    assert all(entry["random_mean_jaccard"] == pytest.approx(0.4) for entry in by_length)


def test_prefixes_of_clusters_agree_with_their_categories_beyond_random_pairs():
    vectors, blob = clustered_vectors(3, clusters=4, per_cluster=25)
    quantisation, tokens = ids_of(vectors, levels=2, codebook_size=4, seed=1)
    categories = [{f"kind {kind}", "shared"} for kind in blob]
    report = analyse(tokens, categories, quantisation, seed=5, max_pairs=50)
    level_one = report["prefix_category_agreement"]["by_prefix_length"][0]
    assert level_one["pairs_used"] == 50 < level_one["pairs"]  # sampled, not enumerated
    assert level_one["mean_jaccard"] > level_one["random_mean_jaccard"]
    assert report == analyse(tokens, categories, quantisation, seed=5, max_pairs=50)


def test_plot_writes_a_png_and_its_data(tmp_path):
    vectors, _ = clustered_vectors(4, clusters=3, per_cluster=10)
    quantisation, tokens = ids_of(vectors, levels=2, codebook_size=4, seed=0)
    csv_path, png_path = tmp_path / "ids.csv", tmp_path / "ids.png"
    plot_semantic_ids(tokens, quantisation, csv_path, png_path)
    assert png_path.read_bytes().startswith(b"\x89PNG")
    table = pd.read_csv(csv_path)
    assert list(table.columns) == ["panel", "level", "rank", "code", "items", "error"]
    usage = table[table["panel"] == "code_usage"]
    for level, centres in enumerate(quantisation.centroids, start=1):
        of_level = usage[usage["level"] == level]
        assert sorted(of_level["code"]) == list(range(len(centres)))
        assert of_level["items"].sum() == len(vectors)
        assert of_level["items"].is_monotonic_decreasing
    errors = table[table["panel"] == "reconstruction"].sort_values("level")
    assert errors["level"].tolist() == [0, 1, 2]
    np.testing.assert_allclose(errors["error"], [quantisation.initial_error, *quantisation.level_errors])
    assert sorted(path.name for path in tmp_path.iterdir()) == ["ids.csv", "ids.png"]  # no temporary files left


def test_item_text_never_reads_a_held_out_review_of_either_task():
    """Reviews valid/test in the user split, or a ranking target (a user's last two), never describe an item."""
    rows = []
    for user in range(6):
        for day in range(5):
            rows.append({"review_id": f"r{user}-{day}", "user_id": f"u{user}", "business_id": f"b{(user + day) % 7}",
                         "stars": 4, "date": f"2021-01-0{day + 1}", "text": f"user {user} day {day}"})
    reviews = pd.DataFrame(rows)
    user_split_train = set(reviews.loc[reviews["user_id"] != "u5", "review_id"])  # u5 is a held-out user
    allowed, ranking_applied = text_reviews(reviews, user_split_train, tie_seed=0)
    assert ranking_applied
    assert not allowed["text"].str.startswith("user 5").any()
    days = allowed["text"].str.extract(r"day (\d)")[0].astype(int)
    assert days.max() == 2 and len(allowed) == 5 * 3  # days 3 and 4 are each user's valid and test targets
    items = pd.DataFrame({"business_id": [f"b{item}" for item in range(7)], "name": "", "categories": ""})
    texts, _ = item_texts(items, allowed, "reviews", 10_000)
    assert all("day 3" not in text and "day 4" not in text and "user 5" not in text for text in texts)

    undated = reviews.assign(date="")
    allowed, ranking_applied = text_reviews(undated, user_split_train, tie_seed=0)
    assert not ranking_applied and len(allowed) == 25  # no ranking task without dates: the user split decides

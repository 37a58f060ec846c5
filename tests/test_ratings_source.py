"""The ratings source (data.source: ratings): a ratings table without text, and an optional item table, through the
same ingest rules, then the text-free models; the text stages refuse it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
import yaml
from workspace import make_workspace, stage_module, tiny_params

from sasnet import paths
from sasnet.config import ParamsError, build
from sasnet.data.configs import IngestConfig
from sasnet.data.demo import generate_demo
from sasnet.data.ingest import (
    BUSINESS_SCHEMA,
    BUSINESSES_FILE,
    QUARANTINE_FILE,
    REVIEW_SCHEMA,
    REVIEWS_FILE,
    IngestError,
    ingest_ratings,
)
from sasnet.errors import PipelineError
from sasnet.evaluation import EVALUATED_SPLITS
from sasnet.data.configs import RatingsFiles
from sasnet.params import Params

CONFIG = IngestConfig(chunk_lines=3, max_rejected_fraction=1.0, quarantine_max_chars=500)

# The data.ratings sections for the two real sets beside the checkout (paths relative to the repository root).
MOVIELENS_100K = """
ratings: ../shared/data/movielens-100k/ratings.parquet
items: ../shared/data/movielens-100k/items.parquet
user_column: user_id
item_column: item_id
rating_column: rating
date_column: null
timestamp_column: timestamp
item_name_column: title
item_categories_column: genres
"""
YELP_CORE40 = """
ratings: ../shared/data/yelp-core40/ratings.parquet
items: ../shared/data/yelp-core40/businesses.parquet
user_column: user_id
item_column: business_id
rating_column: stars
date_column: null
timestamp_column: null
item_name_column: null
item_categories_column: categories
"""

T0 = 874_965_478  # a MovieLens second: 1997-09-22 21:57:58 UTC
RATINGS = pa.table(
    {
        "user": pa.array([1, 1, 2, 2, 1, None, 3, 3], pa.int64()),
        "item": pa.array([10, 11, 10, 11, 10, 12, 12, 13], pa.int64()),
        "rating": pa.array([5, 4, 6, 3.5, 2, 4, 1, 3], pa.float64()),
        "seconds": pa.array([T0, T0, T0 + 60, T0 + 60, T0 + 120, T0, T0, T0], pa.int64()),
    }
)
REJECTED = [(3, "bad_stars"), (4, "bad_stars"), (5, "duplicate_id"), (6, "missing_field")]  # (row number, reason)
KEPT = [0, 1, 6, 7]


def columns(**changes) -> RatingsFiles:
    keys = {"ratings": "", "items": None, "user_column": "user", "item_column": "item", "rating_column": "rating",
            "date_column": None, "timestamp_column": "seconds", "item_name_column": None,
            "item_categories_column": None}  # fmt: skip
    return build(RatingsFiles, {**keys, **changes})


def write_table(table: pa.Table, path: Path) -> str:
    if path.name.endswith((".csv", ".csv.gz")):
        pa_csv.write_csv(table, pa.CompressedOutputStream(str(path), "gzip") if path.suffix == ".gz" else path)
    else:
        pq.write_table(table, path)
    return str(path)


def run_ratings(tmp_path: Path, ratings: pa.Table, name: str = "ratings.parquet", items: pa.Table | None = None,
                **changes):
    items_path = None if items is None else write_table(items, tmp_path / "items.parquet")
    files = columns(ratings=write_table(ratings, tmp_path / name), items=items_path, **changes)
    out = tmp_path / "out"
    metrics = ingest_ratings(files, out, CONFIG)
    quarantine = [json.loads(line) for line in (out / QUARANTINE_FILE).read_text().splitlines()]
    return metrics, pd.read_parquet(out / REVIEWS_FILE), pd.read_parquet(out / BUSINESSES_FILE), quarantine


def test_a_ratings_table_is_ingested_with_the_review_schema_and_bad_rows_quarantined(tmp_path):
    metrics, reviews, businesses, quarantine = run_ratings(tmp_path, RATINGS)

    assert pq.read_schema(tmp_path / "out" / REVIEWS_FILE).equals(REVIEW_SCHEMA)
    assert pq.read_schema(tmp_path / "out" / BUSINESSES_FILE).equals(BUSINESS_SCHEMA)
    assert reviews.to_dict("records") == [
        {"review_id": "1_10", "user_id": "1", "business_id": "10", "stars": 5, "text": "", "date": "1997-09-22 21:57:58"},
        {"review_id": "1_11", "user_id": "1", "business_id": "11", "stars": 4, "text": "", "date": "1997-09-22 21:57:58"},
        {"review_id": "3_12", "user_id": "3", "business_id": "12", "stars": 1, "text": "", "date": "1997-09-22 21:57:58"},
        {"review_id": "3_13", "user_id": "3", "business_id": "13", "stars": 3, "text": "", "date": "1997-09-22 21:57:58"},
    ]  # fmt: skip
    # no item table: the rated items, in order of first rating, ids only
    assert businesses.to_dict("records") == [
        {"business_id": item, "name": "", "categories": "", "city": "", "state": ""} for item in ("10", "11", "12", "13")
    ]
    assert [(q["line"], q["reason"]) for q in quarantine] == REJECTED
    assert {q["file"] for q in quarantine} == {str(tmp_path / "ratings.parquet")}
    assert json.loads(quarantine[0]["raw"]) == {"user": 2, "item": 10, "rating": 6.0, "seconds": T0 + 60}
    assert quarantine[2]["detail"] == "review_id '1_10' was accepted before"  # the first rating of a pair wins
    assert metrics["source"] == "ratings" and metrics["has_text"] is False
    assert metrics["files"]["reviews"]["rejected"] == {"bad_stars": 2, "duplicate_id": 1, "missing_field": 1}
    assert (metrics["accepted_reviews"], metrics["users"], metrics["businesses"]) == (4, 2, 4)
    assert metrics["rejected_fraction"] == pytest.approx(4 / 8)
    json.dumps(metrics)  # ready for a metrics file


@pytest.mark.parametrize("name", ["ratings.csv", "ratings.csv.gz"])
def test_a_csv_table_gives_the_same_output_as_parquet(tmp_path, name):
    (tmp_path / "parquet").mkdir()
    (tmp_path / "csv").mkdir()
    from_parquet = run_ratings(tmp_path / "parquet", RATINGS)
    from_csv = run_ratings(tmp_path / "csv", RATINGS, name)

    pd.testing.assert_frame_equal(from_csv[1], from_parquet[1])
    pd.testing.assert_frame_equal(from_csv[2], from_parquet[2])
    assert [(q["line"], q["reason"]) for q in from_csv[3]] == REJECTED
    assert from_csv[0]["files"]["reviews"]["rejected"] == from_parquet[0]["files"]["reviews"]["rejected"]


def test_csv_cells_that_are_no_number_are_rejected_by_row(tmp_path):
    table = pa.table({"user": ["a", "b", "c", ""], "item": ["x", "x", "x", "x"], "rating": ["4", "good", "", "2"],
                      "seconds": [str(T0), str(T0), str(T0), "soon"]})  # fmt: skip
    _, reviews, _, quarantine = run_ratings(tmp_path, table, "ratings.csv")

    assert reviews["review_id"].tolist() == ["a_x"]
    assert [(q["line"], q["reason"]) for q in quarantine] == [(2, "bad_field_type"), (3, "missing_field"),
                                                              (4, "missing_field")]  # fmt: skip


def test_the_item_table_gives_names_and_categories_and_only_its_items_are_kept(tmp_path):
    items = pa.table({"item": [10, 11, 12, 10], "title": ["Ten", None, "Twelve", "Ten again"],
                      "genres": ["Comedy, Drama", "Horror", None, "Comedy"]})  # fmt: skip
    unknown_item = pa.table({"user": [4], "item": [99], "rating": [3.0], "seconds": [T0]})
    ratings = pa.concat_tables([RATINGS.slice(0, 2), unknown_item])

    metrics, reviews, businesses, quarantine = run_ratings(
        tmp_path, ratings, items=items, item_name_column="title", item_categories_column="genres"
    )

    assert businesses.to_dict("records") == [
        {"business_id": "10", "name": "Ten", "categories": "Comedy, Drama", "city": "", "state": ""},
        {"business_id": "11", "name": "", "categories": "Horror", "city": "", "state": ""},
        {"business_id": "12", "name": "Twelve", "categories": "", "city": "", "state": ""},
    ]
    assert reviews["review_id"].tolist() == ["1_10", "1_11"]
    assert [(Path(q["file"]).name, q["line"], q["reason"]) for q in quarantine] == [
        ("items.parquet", 4, "duplicate_id"),
        ("ratings.parquet", 3, "unknown_business"),
    ]
    assert metrics["files"]["businesses"]["accepted"] == 3 == metrics["businesses"]


@pytest.mark.parametrize(
    ("dates", "changes", "expected", "reasons"),
    [
        (["2015-07-03 20:38:25", "2011-01-26", "yesterday", None], {"date_column": "when", "timestamp_column": None},
         ["2015-07-03 20:38:25", "2011-01-26 00:00:00"], [(3, "bad_date"), (4, "missing_field")]),
        ([T0, T0 + 1, 10**13, None], {},
         ["1997-09-22 21:57:58", "1997-09-22 21:57:59"], [(3, "bad_date"), (4, "missing_field")]),
        ([None] * 4, {"timestamp_column": None}, ["", "", "", ""], []),
    ],
    ids=["date strings", "unix seconds", "no date"],
)  # fmt: skip
def test_dates_come_from_a_date_column_a_timestamp_column_or_neither(tmp_path, dates, changes, expected, reasons):
    column = changes.get("date_column") or "seconds"
    table = pa.table({"user": ["a", "b", "c", "d"], "item": ["x"] * 4, "rating": [4, 4, 4, 4], column: dates})

    _, reviews, _, quarantine = run_ratings(tmp_path, table, **changes)

    assert reviews["date"].tolist() == expected
    assert [(q["line"], q["reason"]) for q in quarantine] == reasons


def test_a_missing_column_names_the_table_and_its_columns(tmp_path):
    with pytest.raises(IngestError, match=r"has no column 'stars'; its columns: user, item, rating, seconds\. Set"):
        run_ratings(tmp_path, RATINGS, rating_column="stars")
    with pytest.raises(IngestError, match=r"ratings table not found: .*absent\.parquet\. Set `data\.ratings\.ratings`"):
        ingest_ratings(columns(ratings=str(tmp_path / "absent.parquet")), tmp_path / "out", CONFIG)
    (tmp_path / "text.parquet").write_text("user,item,rating\n")
    with pytest.raises(IngestError, match=r"cannot read .*text\.parquet as a parquet table"):
        ingest_ratings(columns(ratings=str(tmp_path / "text.parquet")), tmp_path / "out", CONFIG)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"date_column": "date"}, "date_column, timestamp_column: give at most one"),
        ({"item_categories_column": "genres"}, "item_categories_column: needs an item table"),
        ({"item_column": "user"}, "user_column, item_column, rating_column, date_column, timestamp_column: must name"),
    ],
)
def test_the_ratings_section_is_validated(changes, problem):
    with pytest.raises(ParamsError) as failure:
        columns(**changes)
    assert [p for p in failure.value.problems if p.startswith(problem)]


# --- The real sets beside the checkout --------------------------------------------------------------------------


def real_files(section: str, folder: Path, **changes) -> RatingsFiles:
    """The section, its files looked up in ``folder`` (where the shared data is found)."""
    raw = {**yaml.safe_load(section), **changes}
    raw["ratings"], raw["items"] = (str(folder / Path(raw[key]).name) for key in ("ratings", "items"))
    return build(RatingsFiles, raw)


def test_movielens_100k_is_ingested_whole_with_titles_and_genres(tmp_path, shared_data):
    folder = shared_data("movielens-100k")
    metrics = ingest_ratings(real_files(MOVIELENS_100K, folder), tmp_path / "out", IngestConfig(10_000, 0.0, 200))
    reviews = pd.read_parquet(tmp_path / "out" / REVIEWS_FILE)
    items = pd.read_parquet(tmp_path / "out" / BUSINESSES_FILE).set_index("business_id")
    expected = pd.read_parquet(folder / "ratings.parquet")

    assert (metrics["accepted_reviews"], metrics["users"], metrics["businesses"]) == (100_000, 943, 1682)
    assert metrics["has_text"] is False and metrics["files"]["reviews"]["rejected_total"] == 0
    # the file's order is kept, so same-second ratings keep it as their tie order
    assert reviews["user_id"].tolist() == expected["user_id"].astype(str).tolist()
    assert reviews["business_id"].tolist() == expected["item_id"].astype(str).tolist()
    assert reviews["date"].tolist() == expected["date"].tolist()
    assert (reviews["text"] == "").all()
    np.testing.assert_array_equal(np.bincount(reviews["stars"])[1:], [6110, 11370, 27145, 34174, 21201])
    assert items.loc["1", ["name", "categories"]].tolist() == ["Toy Story (1995)", "Animation, Children's, Comedy"]
    assert items.loc["267", "name"] == "unknown"

    # the same dates from the date column
    ingest_ratings(real_files(MOVIELENS_100K, folder, date_column="date", timestamp_column=None), tmp_path / "by_date",
                   IngestConfig(10_000, 0.0, 200))  # fmt: skip
    assert pd.read_parquet(tmp_path / "by_date" / REVIEWS_FILE)["date"].equals(reviews["date"])


def test_yelp_core40_is_ingested_whole_with_its_categories(tmp_path, shared_data):
    folder = shared_data("yelp-core40")
    metrics = ingest_ratings(real_files(YELP_CORE40, folder), tmp_path / "out", IngestConfig(10_000, 0.0, 200))
    reviews = pd.read_parquet(tmp_path / "out" / REVIEWS_FILE)
    businesses = pd.read_parquet(tmp_path / "out" / BUSINESSES_FILE)

    assert (metrics["accepted_reviews"], metrics["users"], metrics["businesses"]) == (100_409, 1355, 1272)
    assert metrics["reviewed_businesses"] == 1272 and metrics["files"]["reviews"]["rejected_total"] == 0
    assert ((reviews["text"] == "") & (reviews["date"] == "")).all()
    np.testing.assert_array_equal(np.bincount(reviews["stars"])[1:], [3173, 7591, 20004, 39956, 29685])
    expected = pd.read_parquet(folder / "businesses.parquet")
    assert businesses[["business_id", "categories"]].equals(expected.astype(str))
    assert (businesses["categories"] != "").all()


# --- The pipeline on a ratings source ----------------------------------------------------------------------------

TEXT_FREE_MODELS = ("majority", "star_history", "mf", "bpr")


@pytest.fixture(scope="module")
def ratings_pipeline(tmp_path_factory):
    """A tiny workspace whose data.source is a ratings table (the demo's ratings and businesses, text dropped),
    run from ingest to split."""
    folder = tmp_path_factory.mktemp("ratings_source")
    demo = generate_demo(build(Params, tiny_params(folder)).demo)
    demo.reviews[["user_id", "business_id", "stars", "date"]].to_parquet(folder / "ratings.parquet")
    demo.businesses[["business_id", "name", "categories"]].to_parquet(folder / "businesses.parquet")
    ratings = {"ratings": str(folder / "ratings.parquet"), "items": str(folder / "businesses.parquet"),
               "user_column": "user_id", "item_column": "business_id", "rating_column": "stars",
               "date_column": "date", "timestamp_column": None, "item_name_column": "name",
               "item_categories_column": "categories"}  # fmt: skip
    raw = tiny_params(folder, data__source="ratings", data__ratings=ratings)
    # params.yaml's models that read text are refused with a ratings source before any stage runs.
    raw["models"] = {name: entry for name, entry in raw["models"].items() if name in TEXT_FREE_MODELS}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(make_workspace(folder / "repo", raw))
        params = build(Params, raw)
        for stage in ("ingest", "filter", "sample", "split"):
            stage_module(f"stages/{stage}.py").run(params)
        yield params, raw, len(demo.reviews)


def test_the_ingest_metrics_say_the_ratings_have_no_text(ratings_pipeline):
    _, _, rated = ratings_pipeline
    metrics = json.loads((paths.METRICS / "ingest.json").read_text())
    assert (metrics["source"], metrics["has_text"], metrics["accepted_reviews"]) == ("ratings", False, rated)
    assert json.loads((paths.METRICS / "demo_oracle.json").read_text())["available"] is False


@pytest.mark.parametrize("model", TEXT_FREE_MODELS)
def test_the_text_free_models_train_on_a_ratings_source(ratings_pipeline, model):
    params, _, _ = ratings_pipeline
    stage_module("stages/train.py").run(params, model)
    scores = json.loads(paths.model_metrics(model).read_text())
    assert all(scores[split]["examples"] > 0 and 0 <= scores[split]["accuracy"] <= 1 for split in EVALUATED_SPLITS)


def test_the_embed_stage_refuses_a_ratings_source_clearly(ratings_pipeline):
    params, raw, _ = ratings_pipeline
    embed = stage_module("stages/embed.py")
    for name in raw["embed"]["encoders"]:
        with pytest.raises(PipelineError) as refusal:
            embed.run(params, name)
        assert str(refusal.value).startswith(
            "data.source is 'ratings': these reviews have no text, so no embedding can be computed; run the "
            "text-free models alone: dvc repro train@majority train@star_history train@mf train@bpr"
        )
        assert not paths.embedding_dir(name).exists()

"""Ingest faults: a bad row costs that row, an error names the file at fault, review ids of pairs never collide,
and an optional field that no row has is counted and warned about."""

from __future__ import annotations

import gzip
import itertools
import json
import logging
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_ingest import BUSINESSES, CONFIG, GOOD, amazon_review, read_outputs, write_lines, yelp_business
from test_ratings_source import columns

from sasnet.data.configs import IngestConfig
from sasnet.data.ingest import IngestError, ingest_amazon, ingest_ratings, ingest_yelp
from sasnet.errors import PipelineError

HEADER = "user,item,rating,seconds"


def csv_rows(count: int) -> list[str]:
    """``count`` good data rows of the ratings CSV; row n (1 = first) rates item n by user n % 7."""
    return [f"u{n % 7},i{n},{n % 5 + 1},{874_965_478 + n}" for n in range(1, count + 1)]


def write_csv(path: Path, rows: list[str], end: str = "\n") -> str:
    payload = ("\n".join([HEADER, *rows]) + end).encode()
    path.write_bytes(gzip.compress(payload) if path.suffix == ".gz" else payload)
    return str(path)


def ingest_csv(tmp_path: Path, rows: list[str], name: str = "ratings.csv", config: IngestConfig = CONFIG, end="\n"):
    out = tmp_path / "out"
    metrics = ingest_ratings(columns(ratings=write_csv(tmp_path / name, rows, end)), out, config)
    return (metrics, *read_outputs(out))


# --- 1. A ragged CSV row (too few or too many cells) is quarantined, counted, and the rest read on ------------------


@pytest.mark.parametrize(
    ("row_number", "ragged"),
    [
        pytest.param(133_194, "u1,i9,4", id="3 of 4 cells, far past the first block"),
        pytest.param(90_000, "u1,i9,4,874965478,extra", id="5 of 4 cells"),
        pytest.param(2, "u1,i9", id="2 of 4 cells, in the first block"),
    ],
)
def test_a_ragged_csv_row_is_quarantined_and_the_rows_after_it_keep_their_numbers(tmp_path, row_number, ragged):
    rows = csv_rows(row_number + 20)
    rows[row_number - 1] = ragged
    rows[row_number + 9] = "u1,i1,9,874965478"  # a bad rating ten rows on, to check its row number
    config = IngestConfig(chunk_lines=10_000, max_rejected_fraction=0.1, quarantine_max_chars=100)

    metrics, reviews, _, quarantine = ingest_csv(tmp_path, rows, config=config)

    expected = [(row_number, "ragged_row"), (row_number + 10, "bad_stars")]
    assert [(q["line"], q["reason"]) for q in quarantine] == expected
    assert quarantine[0]["raw"] == ragged and quarantine[0]["file"] == str(tmp_path / "ratings.csv")
    assert quarantine[0]["detail"] == f"{ragged.count(',') + 1} cells where the header has 4"
    report = metrics["files"]["reviews"]
    assert (report["lines_read"], report["accepted"]) == (len(rows), len(rows) - 2)
    assert report["rejected"] == {"bad_stars": 1, "ragged_row": 1}
    assert len(reviews) == len(rows) - 2 and reviews["business_id"].iloc[-1] == f"i{len(rows)}"


def test_the_lines_a_quote_left_open_swallows_are_each_quarantined_and_the_rows_after_keep_their_numbers(tmp_path):
    items = tmp_path / "items.csv"
    items.write_text('item,title\ni1,"One, the first"\ni2,"Two\ni3,Three\n\ni4,"Four, or so"\ni5,Five\ni6,Six,6\n')
    files = columns(ratings=write_csv(tmp_path / "ratings.csv", csv_rows(6)), items=str(items),
                    item_name_column="title")  # fmt: skip

    metrics = ingest_ratings(files, tmp_path / "out", CONFIG)
    _, businesses, quarantine = read_outputs(tmp_path / "out")

    assert businesses[["business_id", "name"]].values.tolist() == [["i1", "One, the first"], ["i5", "Five"]]
    item_rejections = [(q["line"], q["reason"], q["raw"]) for q in quarantine if q["file"] == str(items)]
    assert item_rejections == [
        (2, "ragged_row", 'i2,"Two'), (3, "ragged_row", "i3,Three"), (4, "ragged_row", 'i4,"Four, or so"'),
        (6, "ragged_row", "i6,Six,6"),
    ]  # fmt: skip
    assert "rows 2-4 read as one" in quarantine[0]["detail"]
    assert metrics["files"]["businesses"]["lines_read"] == 6


def test_ragged_rows_in_a_gzipped_csv_with_blank_lines_number_like_the_parquet_rows(tmp_path):
    rows = csv_rows(30)
    for number in (4, 5, 17):
        rows[number - 1] = "u1,i1"
    rows[29] = "u9,i30,3,874965478,4"  # the last row, with no newline after it
    rows.insert(10, "")  # a blank line: not a row
    (tmp_path / "gz").mkdir()

    metrics, reviews, _, quarantine = ingest_csv(tmp_path / "gz", rows, "ratings.csv.gz", end="")

    assert [(q["line"], q["reason"]) for q in quarantine] == [(n, "ragged_row") for n in (4, 5, 17, 30)]
    assert reviews["business_id"].tolist() == [f"i{n}" for n in range(1, 30) if n not in (4, 5, 17)]
    assert metrics["files"]["reviews"]["lines_read"] == 30


def test_a_ragged_row_in_a_csv_item_table_is_quarantined(tmp_path):
    items = tmp_path / "items.csv"
    items.write_text("item,title\ni1,One\ni2,Two,extra\ni3,Three\n")
    files = columns(ratings=write_csv(tmp_path / "ratings.csv", csv_rows(3)), items=str(items),
                    item_name_column="title")  # fmt: skip

    metrics = ingest_ratings(files, tmp_path / "out", CONFIG)
    _, businesses, quarantine = read_outputs(tmp_path / "out")

    assert businesses["business_id"].tolist() == ["i1", "i3"]
    assert [(Path(q["file"]).name, q["line"], q["reason"]) for q in quarantine] == [
        ("items.csv", 2, "ragged_row"),
        ("ratings.csv", 2, "unknown_business"),
    ]
    assert metrics["files"]["businesses"]["rejected"] == {"ragged_row": 1}


def test_too_many_ragged_rows_still_fail_the_stage_by_max_rejected_fraction(tmp_path):
    rows = csv_rows(20)
    for number in (3, 9, 14):
        rows[number - 1] = "u1,i1,4"
    config = IngestConfig(chunk_lines=10, max_rejected_fraction=0.1, quarantine_max_chars=100)

    with pytest.raises(IngestError, match=r"15\.00% of the review lines .* top reasons: ragged_row 3"):
        ingest_csv(tmp_path, rows, config=config)
    assert len((tmp_path / "out" / "quarantine.jsonl").read_text().splitlines()) == 3


# --- 2. An empty or unreadable business / item file is named, with how many of its lines were accepted ----------


def run_yelp_businesses(tmp_path: Path, business_lines: list, config: IngestConfig = CONFIG):
    reviews = write_lines(tmp_path / "yelp_academic_dataset_review.json", GOOD)
    businesses = write_lines(tmp_path / "yelp_academic_dataset_business.json", business_lines)
    return ingest_yelp(reviews, businesses, tmp_path / "out", config)


def assert_names_the_business_file(failure, path: Path, *phrases: str) -> None:
    message = str(failure.value)
    assert isinstance(failure.value, PipelineError)
    assert message.startswith(str(path)) and "unknown_business 5" not in message
    for phrase in phrases:
        assert phrase in message, message


@pytest.mark.parametrize(
    ("business_lines", "phrases"),
    [
        pytest.param([], ["is empty"], id="no line"),
        pytest.param(["", "  "], ["is empty"], id="blank lines only"),
        pytest.param([json.dumps(BUSINESSES)], ["none of its 1 lines was accepted", "not_an_object 1"],
                     id="one JSON array"),
        pytest.param(["business_id,name", "biz-0,Place", "biz-1,Other"], ["none of its 3 lines", "malformed_json 3"],
                     id="CSV"),
    ],
)  # fmt: skip
def test_an_empty_or_unreadable_yelp_business_file_is_named_before_the_reviews(tmp_path, business_lines, phrases):
    path = tmp_path / "yelp_academic_dataset_business.json"

    with pytest.raises(IngestError) as failure:
        run_yelp_businesses(tmp_path, business_lines)

    assert_names_the_business_file(failure, path, *phrases)
    if phrases != ["is empty"]:
        assert f"Each rejected line is listed in {tmp_path / 'out' / 'quarantine.jsonl'}" in str(failure.value)
    quarantined = (tmp_path / "out" / "quarantine.jsonl").read_text().splitlines()
    files = {Path(json.loads(line)["file"]).name for line in quarantined}
    assert files == (set() if phrases == ["is empty"] else {path.name})  # no review was read


def test_amazon_metadata_in_the_wrong_format_is_named(tmp_path):
    metadata = write_lines(tmp_path / "meta_Music.json.gz", ['[{"asin": "I1"}, {"asin": "I2"}]'])
    reviews = write_lines(tmp_path / "reviews.json", [amazon_review("U1", "I1"), amazon_review("U2", "I2")])

    with pytest.raises(IngestError) as failure:
        ingest_amazon(reviews, metadata, tmp_path / "out", CONFIG)

    assert_names_the_business_file(failure, metadata, "none of its 1 lines was accepted", "not_an_object 1")


@pytest.mark.parametrize("name", ["items.parquet", "items.csv"])
def test_an_empty_ratings_item_table_is_named(tmp_path, name):
    items = tmp_path / name
    if name.endswith(".csv"):
        items.write_text("item,title\n")
    else:
        pq.write_table(pa.table({"item": pa.array([], pa.string()), "title": pa.array([], pa.string())}), items)
    files = columns(ratings=write_csv(tmp_path / "ratings.csv", csv_rows(5)), items=str(items),
                    item_name_column="title")  # fmt: skip

    with pytest.raises(IngestError) as failure:
        ingest_ratings(files, tmp_path / "out", CONFIG)

    assert_names_the_business_file(failure, items, "is empty")


def test_a_half_read_business_file_is_named_when_the_reviews_fail(tmp_path):
    # A JSON array with one object a line: only the line without a comma after it parses.
    business_lines = ["[", json.dumps(BUSINESSES[0]) + ",", json.dumps(BUSINESSES[1]), "]"]
    config = IngestConfig(chunk_lines=3, max_rejected_fraction=0.1, quarantine_max_chars=100)

    with pytest.raises(IngestError) as failure:
        run_yelp_businesses(tmp_path, business_lines, config)

    message = str(failure.value)
    path = tmp_path / "yelp_academic_dataset_business.json"
    assert f"1 of the 4 lines of {path} were accepted (top reasons: malformed_json 3)" in message
    assert message.index(str(path)) < message.index("review lines")


# --- 3. The review id of a (user, item) pair never collides with another pair's ----------------------------------


AMBIGUOUS_PAIRS = [("a_b", "c"), ("a", "b_c"), ("a_", "b"), ("a", "_b"), ("a\\", "_b"), ("a\\_", "b"), ("a", "\\_b")]


def test_amazon_review_ids_of_distinct_pairs_are_distinct(tmp_path):
    lines = [amazon_review(user, item) for user, item in AMBIGUOUS_PAIRS]
    reviews = write_lines(tmp_path / "reviews.json", [*lines, amazon_review("a_b", "c", reviewText="a repeat")])

    metrics = ingest_amazon(reviews, None, tmp_path / "out", CONFIG)
    ingested, _, quarantine = read_outputs(tmp_path / "out")

    assert list(zip(ingested["user_id"], ingested["business_id"])) == AMBIGUOUS_PAIRS
    assert ingested["review_id"].is_unique
    assert [(q["line"], q["reason"]) for q in quarantine] == [(len(lines) + 1, "duplicate_id")]  # a repeat still is
    assert metrics["accepted_reviews"] == len(AMBIGUOUS_PAIRS)


def test_ratings_review_ids_of_every_short_pair_are_distinct_and_plain_ids_keep_their_form(tmp_path):
    names = ["".join(chars) for size in (1, 2, 3) for chars in itertools.product("a_\\", repeat=size)]
    pairs = list(itertools.product(names, names))
    table = pa.table({"user": [u for u, _ in pairs], "item": [i for _, i in pairs], "rating": [4.0] * len(pairs),
                      "seconds": [874_965_478] * len(pairs)})  # fmt: skip
    pq.write_table(table, tmp_path / "ratings.parquet")

    metrics = ingest_ratings(columns(ratings=str(tmp_path / "ratings.parquet")), tmp_path / "out", CONFIG)
    reviews = pd.read_parquet(tmp_path / "out" / "reviews.parquet")

    assert metrics["files"]["reviews"]["rejected"] == {}
    assert len(reviews) == len(pairs) and reviews["review_id"].is_unique
    plain = reviews[(reviews["user_id"] == "aa") & (reviews["business_id"] == "a_a")]
    assert plain["review_id"].tolist() == ["aa_a_a"]  # a user id without _ or \ keeps the user_item form


# --- 4. An optional field that some rows lack is counted; one that no row has is warned about ---------------------


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "sasnet.data.ingest" and r.levelno == logging.WARNING]


def test_yelp_business_rows_without_optional_fields_are_counted_and_a_field_none_has_is_warned(tmp_path, caplog):
    lines = [{k: v for k, v in yelp_business(b).items() if k != "name"} for b in ("biz-0", "biz-1")]
    lines[1]["city"] = None

    with caplog.at_level(logging.WARNING, logger="sasnet.data.ingest"):
        metrics = run_yelp_businesses(tmp_path, lines)

    assert metrics["files"]["businesses"]["rows_without"] == {"name": 2, "categories": 0, "city": 1, "state": 0}
    assert metrics["files"]["reviews"]["rows_without"] == {}
    [warning] = warnings_of(caplog)
    assert "yelp_academic_dataset_business.json" in warning and "'name'" in warning and "\n" not in warning


def test_amazon_metadata_in_another_layout_warns_once_per_lost_field(tmp_path, caplog):
    # McAuley's 2018 metadata: "category" (a flat list) where the 2014 files have "categories", and no title here.
    metadata = write_lines(tmp_path / "meta.json", [{"asin": "I1", "category": ["Music"]}, {"asin": "I2"}])
    reviews = write_lines(tmp_path / "reviews.json", [amazon_review("U1", "I1"), amazon_review("U2", "I2")])

    with caplog.at_level(logging.WARNING, logger="sasnet.data.ingest"):
        metrics = ingest_amazon(reviews, metadata, tmp_path / "out", CONFIG)

    assert metrics["files"]["businesses"]["rows_without"] == {"title": 2, "categories": 2}
    assert len(warnings_of(caplog)) == 2
    assert all("meta.json" in w for w in warnings_of(caplog))
    assert ["'title'" in w for w in warnings_of(caplog)] == [True, False]


def test_a_ratings_item_table_whose_name_column_is_all_null_is_warned(tmp_path, caplog):
    items = pa.table({"item": ["i1", "i2"], "title": pa.array([None, None], pa.string()), "genres": ["A", None]})
    pq.write_table(items, tmp_path / "items.parquet")
    files = columns(ratings=write_csv(tmp_path / "ratings.csv", csv_rows(2)), items=str(tmp_path / "items.parquet"),
                    item_name_column="title", item_categories_column="genres")  # fmt: skip

    with caplog.at_level(logging.WARNING, logger="sasnet.data.ingest"):
        metrics = ingest_ratings(files, tmp_path / "out", CONFIG)

    assert metrics["files"]["businesses"]["rows_without"] == {"title": 2, "genres": 1}
    [warning] = warnings_of(caplog)
    assert "items.parquet" in warning and "'title'" in warning


def test_no_warning_when_every_optional_field_is_somewhere(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="sasnet.data.ingest"):
        metrics = run_yelp_businesses(tmp_path, BUSINESSES)

    assert warnings_of(caplog) == []
    assert set(metrics["files"]["businesses"]["rows_without"].values()) == {0}

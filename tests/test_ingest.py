"""Ingest: raw Yelp / Amazon JSON lines -> reviews.parquet, businesses.parquet and quarantine.jsonl."""

from __future__ import annotations

import codecs
import gzip
import html
import json
import math
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sasnet.config import ParamsError, build
from sasnet.data.configs import IngestConfig
from sasnet.data.ingest import (
    BUSINESSES_FILE,
    QUARANTINE_FILE,
    REVIEWS_FILE,
    IngestError,
    _IdHashes,
    ingest_amazon,
    ingest_yelp,
)

CONFIG = IngestConfig(chunk_lines=3, max_rejected_fraction=1.0, quarantine_max_chars=500)


def yelp_review(number: int, **changes) -> dict:
    review = {
        "review_id": f"review-{number}",
        "user_id": f"user-{number % 3}",
        "business_id": f"biz-{number % 2}",
        "stars": number % 5 + 1,
        "useful": 0,
        "funny": 0,
        "cool": 1,
        "text": f"Review number {number}: the soup was good.",
        "date": f"2015-07-{number % 28 + 1:02d} 20:38:25",
    }
    return {**review, **changes}


def yelp_business(business_id: str, **changes) -> dict:
    business = {
        "business_id": business_id,
        "name": f"Place {business_id}",
        "address": "1 Main St",
        "city": "Tucson",
        "state": "AZ",
        "stars": 4.5,
        "categories": "Restaurants, Soup",
        "hours": None,
    }
    return {**business, **changes}


BUSINESSES = [yelp_business("biz-0"), yelp_business("biz-1")]


def write_lines(path: Path, lines: list[dict | str | bytes]) -> Path:
    """Write JSON lines: dicts are serialised, strings and bytes are written as they are (to make bad lines)."""
    encoded = []
    for line in lines:
        if isinstance(line, dict):
            line = json.dumps(line)
        encoded.append(line if isinstance(line, bytes) else line.encode())
    payload = b"\n".join(encoded) + b"\n"
    path.write_bytes(gzip.compress(payload) if path.suffix == ".gz" else payload)
    return path


def read_outputs(out_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, list[dict]]:
    quarantine = [json.loads(line) for line in (out_dir / QUARANTINE_FILE).read_text().splitlines()]
    return pd.read_parquet(out_dir / REVIEWS_FILE), pd.read_parquet(out_dir / BUSINESSES_FILE), quarantine


def run_yelp(tmp_path: Path, review_lines: list, business_lines: list = BUSINESSES, config: IngestConfig = CONFIG):
    reviews = write_lines(tmp_path / "yelp_academic_dataset_review.json", review_lines)
    businesses = write_lines(tmp_path / "yelp_academic_dataset_business.json", business_lines)
    metrics = ingest_yelp(reviews, businesses, tmp_path / "out", config)
    return (metrics, *read_outputs(tmp_path / "out"))


GOOD = [yelp_review(n) for n in range(1, 6)]
BAD_LINE_NUMBER = 3  # the bad line goes between GOOD[1] and GOOD[2]

BAD_REVIEW_LINES = [
    pytest.param(b'{"review_id": "r9", "text": "caf\xe9"}', "invalid_utf8", id="latin-1 byte"),
    pytest.param(json.dumps(yelp_review(9, text="half a pair \ud83d")), "invalid_utf8", id="lone surrogate escape"),
    pytest.param('{"review_id": "review-9", "stars": 5', "malformed_json", id="cut off"),
    pytest.param("review-9,user-1,biz-0,5", "malformed_json", id="csv line"),
    pytest.param('["review-9", 5]', "not_an_object", id="array"),
    pytest.param('"just a string"', "not_an_object", id="string"),
    pytest.param({k: v for k, v in yelp_review(9).items() if k != "user_id"}, "missing_field", id="no user_id"),
    pytest.param(yelp_review(9, business_id=None), "missing_field", id="null business_id"),
    pytest.param(yelp_review(9, review_id="  "), "missing_field", id="blank review_id"),
    pytest.param({k: v for k, v in yelp_review(9).items() if k != "text"}, "missing_field", id="no text"),
    pytest.param(yelp_review(9, stars="5"), "bad_field_type", id="stars as string"),
    pytest.param(yelp_review(9, stars=True), "bad_field_type", id="stars as bool"),
    pytest.param(yelp_review(9, user_id=123), "bad_field_type", id="numeric user_id"),
    pytest.param(yelp_review(9, text=["good"]), "bad_field_type", id="text as list"),
    pytest.param(yelp_review(9, date=20150703), "bad_field_type", id="date as number"),
    pytest.param(yelp_review(9, stars=6), "bad_stars", id="stars 6"),
    pytest.param(yelp_review(9, stars=0), "bad_stars", id="stars 0"),
    pytest.param(yelp_review(9, stars=4.5), "bad_stars", id="half star"),
    pytest.param(yelp_review(9, stars=math.nan), "bad_stars", id="NaN stars"),
    pytest.param(yelp_review(9, text=""), "empty_text", id="empty text"),
    pytest.param(yelp_review(9, text=" \n\t "), "empty_text", id="whitespace text"),
    pytest.param(yelp_review(9, text="&nbsp;&#32;"), "empty_text", id="whitespace entities"),
    pytest.param(yelp_review(9, date="2015-13-01 10:00:00"), "bad_date", id="month 13"),
    pytest.param(yelp_review(9, date="yesterday"), "bad_date", id="words"),
    pytest.param(yelp_review(1, text="A second review with the id of line 1"), "duplicate_id", id="duplicate id"),
    pytest.param(yelp_review(9, business_id="biz-nowhere"), "unknown_business", id="unknown business"),
]


@pytest.mark.parametrize(("bad_line", "reason"), BAD_REVIEW_LINES)
def test_a_bad_review_line_is_quarantined_with_its_reason(tmp_path, bad_line, reason):
    lines = [*GOOD[: BAD_LINE_NUMBER - 1], bad_line, *GOOD[BAD_LINE_NUMBER - 1 :]]

    metrics, reviews, _, quarantine = run_yelp(tmp_path, lines)

    assert reviews["review_id"].tolist() == [r["review_id"] for r in GOOD]
    assert reviews["text"].tolist() == [r["text"] for r in GOOD]  # for a duplicate, the first line wins
    assert [(q["file"], q["line"], q["reason"]) for q in quarantine] == [
        (str(tmp_path / "yelp_academic_dataset_review.json"), BAD_LINE_NUMBER, reason)
    ]
    assert quarantine[0]["detail"]
    review_counts = metrics["files"]["reviews"]
    assert review_counts["lines_read"] == len(lines)
    assert review_counts["accepted"] == len(GOOD) == metrics["accepted_reviews"]
    assert review_counts["rejected"] == {reason: 1}
    assert metrics["rejected_fraction"] == pytest.approx(1 / len(lines))


def test_good_reviews_are_written_with_the_output_schema(tmp_path):
    metrics, reviews, businesses, quarantine = run_yelp(tmp_path, GOOD)

    assert quarantine == []
    assert reviews.columns.tolist() == ["review_id", "user_id", "business_id", "stars", "text", "date"]
    assert reviews["stars"].dtype == np.int8
    expected = pd.DataFrame(GOOD)[reviews.columns]
    pd.testing.assert_frame_equal(reviews, expected, check_dtype=False)
    assert businesses.to_dict("records") == [
        {k: b[k] for k in ["business_id", "name", "categories", "city", "state"]} for b in BUSINESSES
    ]
    assert (metrics["source"], metrics["has_text"]) == ("yelp", True)
    assert (metrics["users"], metrics["businesses"], metrics["reviewed_businesses"]) == (3, 2, 2)
    assert metrics["files"]["businesses"]["accepted"] == 2
    json.dumps(metrics)  # ready for a metrics file


def test_dates_and_stars_in_other_valid_forms_are_normalised(tmp_path):
    lines = [
        yelp_review(1, date="2011-01-26"),  # older Yelp releases have the day only
        yelp_review(2, date="2016-05-28T10:00:00+02:00"),
        yelp_review(3, stars=4.0),
    ]

    _, reviews, _, quarantine = run_yelp(tmp_path, lines)

    assert quarantine == []
    assert reviews["date"].tolist()[:2] == ["2011-01-26 00:00:00", "2016-05-28 08:00:00"]
    assert reviews["stars"].tolist()[2] == 4


def test_html_entities_in_review_text_are_unescaped_once_and_counted(tmp_path):
    lines = [
        yelp_review(1, text="They said &quot;best soup&quot; &amp; it was"),
        yelp_review(2),
        yelp_review(3, text="It&#39;s a 10&#34; pizza, fish&chips too"),
        yelp_review(4, text="Double-escaped &amp;quot;stays&amp;quot; once-escaped"),
        yelp_review(3, text="A duplicate &amp; rejected"),
    ]

    metrics, reviews, _, quarantine = run_yelp(tmp_path, lines)

    assert reviews["text"].tolist() == [
        'They said "best soup" & it was',
        lines[1]["text"],
        'It\'s a 10" pizza, fish&chips too',
        "Double-escaped &quot;stays&quot; once-escaped",
    ]
    assert [q["reason"] for q in quarantine] == ["duplicate_id"]
    assert metrics["html_unescaped_reviews"] == metrics["files"]["reviews"]["html_unescaped"] == 3


def test_amazon_review_text_and_item_titles_are_html_unescaped(tmp_path):
    metadata = write_lines(
        tmp_path / "meta.json",
        ["{'asin': 'I1', 'title': 'Strings &amp; Picks'}", "{'asin': 'I2', 'title': 'Tuner'}"],
    )
    reviews = write_lines(
        tmp_path / "reviews.json",
        [amazon_review("U1", "I1", reviewText="Fits 1/4&#34; jacks"), amazon_review("U1", "I2")],
    )

    metrics = ingest_amazon(reviews, metadata, tmp_path / "out", CONFIG)
    ingested, businesses, _ = read_outputs(tmp_path / "out")

    assert ingested["text"].tolist() == ['Fits 1/4" jacks', "U1 on I2: works fine."]
    assert businesses["name"].tolist() == ["Strings & Picks", "Tuner"]
    assert metrics["html_unescaped_reviews"] == 1
    assert metrics["files"]["businesses"]["html_unescaped"] == 1


@pytest.mark.parametrize("suffix", [".json", ".json.gz"])
def test_a_byte_order_mark_before_the_first_line_is_dropped(tmp_path, suffix):
    def with_bom(lines: list[dict]) -> list:
        return [codecs.BOM_UTF8 + json.dumps(lines[0]).encode(), *lines[1:]]

    reviews = write_lines(tmp_path / f"reviews{suffix}", with_bom(GOOD))
    businesses = write_lines(tmp_path / f"businesses{suffix}", with_bom(BUSINESSES))

    metrics = ingest_yelp(reviews, businesses, tmp_path / "out", CONFIG)
    ingested, ingested_businesses, quarantine = read_outputs(tmp_path / "out")

    assert quarantine == []
    assert ingested["review_id"].tolist() == [r["review_id"] for r in GOOD]
    assert ingested_businesses["business_id"].tolist() == [b["business_id"] for b in BUSINESSES]
    assert metrics["rejected_fraction"] == 0.0


def test_blank_lines_are_skipped_and_counted_not_quarantined(tmp_path):
    metrics, reviews, _, quarantine = run_yelp(tmp_path, [GOOD[0], "", "   ", GOOD[1]])

    assert reviews["review_id"].tolist() == ["review-1", "review-2"]
    assert quarantine == []
    assert metrics["files"]["reviews"]["blank_lines"] == 2
    assert metrics["rejected_fraction"] == 0.0


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        pytest.param('{"business_id": "biz-9", "name": ', "malformed_json", id="cut off"),
        pytest.param("[1, 2]", "not_an_object", id="array"),
        pytest.param({"name": "No id"}, "missing_field", id="no business_id"),
        pytest.param(yelp_business("biz-9", name=5), "bad_field_type", id="numeric name"),
        pytest.param(yelp_business("biz-9", categories={"a": 1}), "bad_field_type", id="categories as object"),
        pytest.param(yelp_business("biz-0", name="Second biz-0"), "duplicate_id", id="duplicate id"),
    ],
)
def test_a_bad_business_line_is_quarantined_with_its_reason(tmp_path, bad_line, reason):
    metrics, reviews, businesses, quarantine = run_yelp(tmp_path, GOOD, [BUSINESSES[0], bad_line, BUSINESSES[1]])

    assert businesses["business_id"].tolist() == ["biz-0", "biz-1"]
    assert businesses["name"].tolist() == ["Place biz-0", "Place biz-1"]
    assert [(Path(q["file"]).name, q["line"], q["reason"]) for q in quarantine] == [
        ("yelp_academic_dataset_business.json", 2, reason)
    ]
    assert metrics["files"]["businesses"]["rejected"] == {reason: 1}
    assert len(reviews) == len(GOOD)


def test_business_fields_may_be_null_and_categories_a_list(tmp_path):
    lines = [
        yelp_business("biz-0", categories=None, city=None, name=None),
        yelp_business("biz-1", categories=["Soup", "Bars", "Soup"]),
    ]

    _, _, businesses, quarantine = run_yelp(tmp_path, GOOD, lines)

    assert quarantine == []
    assert businesses[["name", "categories", "city"]].values.tolist() == [
        ["", "", ""],
        ["Place biz-1", "Soup, Bars", "Tucson"],
    ]


def test_quarantine_keeps_a_bounded_prefix_of_the_raw_line(tmp_path):
    bad = json.dumps(yelp_review(9, stars=7, text="x" * 1000))
    config = IngestConfig(chunk_lines=3, max_rejected_fraction=1.0, quarantine_max_chars=40)

    _, _, _, quarantine = run_yelp(tmp_path, [GOOD[0], bad], config=config)

    assert quarantine[0]["raw"] == bad[:40]
    assert quarantine[0]["raw_chars"] == len(bad)


def test_gzipped_input_gives_the_same_output_as_plain(tmp_path):
    lines = [*GOOD, "not json", yelp_review(9, business_id="biz-nowhere")]
    plain_dir, gz_dir = tmp_path / "plain", tmp_path / "gz"
    for folder, suffix in [(plain_dir, ".json"), (gz_dir, ".json.gz")]:
        folder.mkdir()
        ingest_yelp(
            write_lines(folder / f"reviews{suffix}", lines),
            write_lines(folder / f"businesses{suffix}", BUSINESSES),
            folder / "out",
            CONFIG,
        )

    plain, gz = read_outputs(plain_dir / "out"), read_outputs(gz_dir / "out")

    pd.testing.assert_frame_equal(plain[0], gz[0])
    pd.testing.assert_frame_equal(plain[1], gz[1])
    assert [(q["line"], q["reason"]) for q in gz[2]] == [(6, "malformed_json"), (7, "unknown_business")]


def test_a_truncated_gzip_file_is_a_clear_error(tmp_path):
    reviews = write_lines(tmp_path / "reviews.json.gz", [yelp_review(n) for n in range(1, 200)])
    reviews.write_bytes(reviews.read_bytes()[:-40])
    businesses = write_lines(tmp_path / "businesses.json", BUSINESSES)

    with pytest.raises(IngestError, match=r"cannot read .*reviews\.json\.gz"):
        ingest_yelp(reviews, businesses, tmp_path / "out", CONFIG)
    assert not (tmp_path / "out" / REVIEWS_FILE).exists()


@pytest.mark.parametrize("chunk_lines", [7, 100_000])
def test_a_truncated_gzip_error_names_the_last_whole_line_read(tmp_path, chunk_lines):
    reviews = write_lines(tmp_path / "reviews.json.gz", [yelp_review(n) for n in range(1, 3_000)])
    truncated = reviews.read_bytes()[:-40]
    reviews.write_bytes(truncated)
    readable_lines = zlib.decompressobj(wbits=31).decompress(truncated).count(b"\n")
    assert readable_lines > 2_000  # the cut loses only the last few lines
    businesses = write_lines(tmp_path / "businesses.json", BUSINESSES)
    config = IngestConfig(chunk_lines=chunk_lines, max_rejected_fraction=1.0, quarantine_max_chars=100)

    with pytest.raises(IngestError, match=rf"reviews\.json\.gz after line {readable_lines:,}: "):
        ingest_yelp(reviews, businesses, tmp_path / "out", config)


def test_too_many_rejected_reviews_fail_after_writing_the_quarantine(tmp_path):
    lines = [GOOD[0], "{oops", GOOD[1], yelp_review(9, stars=9), "{oops"]
    config = IngestConfig(chunk_lines=2, max_rejected_fraction=0.5, quarantine_max_chars=100)

    with pytest.raises(IngestError) as failure:
        run_yelp(tmp_path, lines, config=config)

    message = str(failure.value)
    quarantine_path = tmp_path / "out" / QUARANTINE_FILE
    assert "60.00%" in message and "max_rejected_fraction = 50.00%" in message
    assert "malformed_json 2, bad_stars 1" in message
    assert str(quarantine_path) in message
    assert len(quarantine_path.read_text().splitlines()) == 3
    assert failure.value.metrics["files"]["reviews"]["rejected"] == {"bad_stars": 1, "malformed_json": 2}
    assert not (tmp_path / "out" / REVIEWS_FILE).exists()
    assert not (tmp_path / "out" / BUSINESSES_FILE).exists()


def test_a_file_without_any_accepted_review_is_an_error(tmp_path):
    with pytest.raises(IngestError, match="no review line .* was accepted"):
        run_yelp(tmp_path, [""])


@pytest.mark.parametrize("missing", ["data.yelp.reviews", "data.yelp.businesses"])
def test_a_missing_yelp_file_names_the_path_and_the_param(tmp_path, missing):
    paths = {
        "data.yelp.reviews": write_lines(tmp_path / "reviews.json", GOOD),
        "data.yelp.businesses": write_lines(tmp_path / "businesses.json", BUSINESSES),
    }
    paths[missing] = tmp_path / "absent" / "file.json"

    with pytest.raises(IngestError, match=rf"not found: {tmp_path}/absent/file\.json\. Set `{missing}`"):
        ingest_yelp(paths["data.yelp.reviews"], paths["data.yelp.businesses"], tmp_path / "out", CONFIG)
    assert not (tmp_path / "out").exists()


def test_output_does_not_depend_on_the_chunk_size(tmp_path):
    lines = []
    for n in range(1, 40):
        lines.append(yelp_review(n))
        if n % 4 == 0:
            lines.append(yelp_review(n - 3, text="duplicate across a chunk boundary"))
        if n % 9 == 0:
            lines += ["{broken", yelp_review(n, review_id=f"other-{n}", business_id="biz-nowhere"), ""]

    def ingest_in_chunks_of(chunk_lines: int):
        folder = tmp_path / str(chunk_lines)
        folder.mkdir()
        config = IngestConfig(chunk_lines=chunk_lines, max_rejected_fraction=1.0, quarantine_max_chars=100)
        metrics, reviews, businesses, quarantine = run_yelp(folder, lines, config=config)
        counts = {name: report | {"path": Path(report["path"]).name} for name, report in metrics["files"].items()}
        quarantine = [entry | {"file": Path(entry["file"]).name} for entry in quarantine]
        return metrics["users"], counts, reviews, businesses, quarantine

    small = ingest_in_chunks_of(7)
    users, counts, reviews, businesses, quarantine = ingest_in_chunks_of(10_000)

    assert small[:2] == (users, counts)
    pd.testing.assert_frame_equal(small[2], reviews)
    pd.testing.assert_frame_equal(small[3], businesses)
    assert small[4] == quarantine
    assert reviews["review_id"].tolist() == [f"review-{n}" for n in range(1, 40)]
    assert counts["reviews"]["rejected"] == {"duplicate_id": 9, "malformed_json": 4, "unknown_business": 4}


def test_id_hashes_match_a_python_set_across_many_merges():
    rng = np.random.default_rng(0)
    hashes, seen = _IdHashes(), set()
    for _ in range(60):
        ids = [f"id-{i}" for i in rng.integers(0, 2_000, size=int(rng.integers(1, 80)))]
        expected_new = []
        for i in ids:
            expected_new.append(i not in seen)
            seen.add(i)
        assert hashes.add_new(_IdHashes.hash(ids)).tolist() == expected_new
    assert len(hashes) == len(seen)
    probe = [f"id-{i}" for i in range(2_100)]
    assert hashes.contains(_IdHashes.hash(probe)).tolist() == [i in seen for i in probe]


def test_config_is_checked_through_the_params_loader():
    assert build(IngestConfig, {"chunk_lines": 50_000, "max_rejected_fraction": 0.01, "quarantine_max_chars": 2000})
    with pytest.raises(ParamsError) as failure:
        build(IngestConfig, {"chunk_lines": 0, "max_rejected_fraction": 1.5, "quarantine_max_chars": -1})
    assert [problem.split(":")[0] for problem in failure.value.problems] == [
        "chunk_lines",
        "max_rejected_fraction",
        "quarantine_max_chars",
    ]


# --- Real Yelp sample, written back to Yelp's JSON lines ------------------------------------------------------


@pytest.fixture(scope="module")
def yelp_sample(shared_data):
    folder = shared_data("yelp-open-sample")
    reviews = pd.read_parquet(folder / "reviews.parquet").drop(columns="source")
    return reviews, pd.read_parquet(folder / "businesses.parquet")


def yelp_json_lines(frame: pd.DataFrame, **extra_keys) -> list[str]:
    # Raw UTF-8 like Yelp's own files; the extra keys stand for the ones the ingest ignores (useful, funny, ...).
    return [json.dumps({**row, **extra_keys}, ensure_ascii=False) for row in frame.to_dict("records")]


def test_real_yelp_sample_round_trips(tmp_path, yelp_sample):
    reviews, businesses = yelp_sample
    unlisted = reviews.loc[~reviews["business_id"].isin(businesses["business_id"]), "business_id"].drop_duplicates()
    business_lines = yelp_json_lines(businesses, is_open=1) + [json.dumps({"business_id": b}) for b in unlisted]

    metrics, ingested, ingested_businesses, quarantine = run_yelp(
        tmp_path, yelp_json_lines(reviews, useful=0, funny=0, cool=0), business_lines
    )

    assert quarantine == []
    pd.testing.assert_frame_equal(ingested, reviews, check_dtype=False)
    assert ingested["stars"].dtype == np.int8
    pd.testing.assert_frame_equal(ingested_businesses.head(len(businesses)), businesses, check_dtype=False)
    assert metrics["users"] == reviews["user_id"].nunique()
    assert metrics["reviewed_businesses"] == reviews["business_id"].nunique()


def test_real_yelp_reviews_of_unlisted_businesses_are_counted(tmp_path, yelp_sample):
    reviews, businesses = yelp_sample

    metrics, ingested, _, quarantine = run_yelp(tmp_path, yelp_json_lines(reviews), yelp_json_lines(businesses))

    assert len(ingested) == 77
    assert metrics["files"]["reviews"]["rejected"] == {"unknown_business": len(reviews) - 77}
    assert len(quarantine) == len(reviews) - 77


# --- Amazon ------------------------------------------------------------------------------------------------------


def amazon_review(user: str, item: str, **changes) -> dict:
    review = {
        "reviewerID": user,
        "asin": item,
        "reviewerName": "Someone",
        "helpful": [0, 0],
        "reviewText": f"{user} on {item}: works fine.",
        "overall": 5.0,
        "summary": "Fine",
        "unixReviewTime": 1393545600,
        "reviewTime": "02 28, 2014",
    }
    return {**review, **changes}


def test_amazon_fields_map_onto_the_review_schema(tmp_path):
    lines = [
        amazon_review("U1", "I1"),
        amazon_review("U2", "I1", overall=3.0, unixReviewTime=1095465600),
        amazon_review("U1", "I2", unixReviewTime="1095465600"),
        amazon_review("U3", "I2", unixReviewTime=1e20),
        amazon_review("U1", "I1", reviewText="again"),
    ]
    reviews_path = write_lines(tmp_path / "reviews_Musical_Instruments_5.json", lines)

    metrics = ingest_amazon(reviews_path, None, tmp_path / "out", CONFIG)
    reviews, businesses, quarantine = read_outputs(tmp_path / "out")

    assert reviews.to_dict("records") == [
        {"review_id": "U1_I1", "user_id": "U1", "business_id": "I1", "stars": 5,
         "text": "U1 on I1: works fine.", "date": "2014-02-28 00:00:00"},
        {"review_id": "U2_I1", "user_id": "U2", "business_id": "I1", "stars": 3,
         "text": "U2 on I1: works fine.", "date": "2004-09-18 00:00:00"},
    ]  # fmt: skip
    assert [(q["line"], q["reason"]) for q in quarantine] == [
        (3, "bad_field_type"),
        (4, "bad_date"),
        (5, "duplicate_id"),
    ]
    assert businesses.to_dict("records") == [
        {"business_id": "I1", "name": "", "categories": "", "city": "", "state": ""}
    ]
    assert (metrics["source"], metrics["has_text"]) == ("amazon", True) and "businesses" not in metrics["files"]


def test_amazon_metadata_in_python_literal_format(tmp_path):
    metadata_lines = [
        (
            "{'asin': 'I1', 'title': \"Players' Guitar\", 'price': 9.99, "
            "'categories': [['Musical Instruments', 'Guitars'], ['Musical Instruments', 'Accessories']]}"
        ),
        '{"asin": "I2", "categories": [["Musical Instruments"]]}',
        "{'asin': 'I3', 'title': 'Broken'",
        "{'title': 'No asin'}",
    ]
    metadata = write_lines(tmp_path / "meta_Musical_Instruments.json.gz", metadata_lines)
    reviews = write_lines(
        tmp_path / "reviews.json.gz",
        [amazon_review("U1", "I2"), amazon_review("U1", "I1"), amazon_review("U1", "I3")],
    )

    metrics = ingest_amazon(reviews, metadata, tmp_path / "out", CONFIG)
    ingested, businesses, quarantine = read_outputs(tmp_path / "out")

    assert businesses.to_dict("records") == [
        {"business_id": "I1", "name": "Players' Guitar", "categories": "Musical Instruments, Guitars, Accessories",
         "city": "", "state": ""},
        {"business_id": "I2", "name": "", "categories": "Musical Instruments", "city": "", "state": ""},
    ]  # fmt: skip
    assert ingested["review_id"].tolist() == ["U1_I2", "U1_I1"]
    assert [(Path(q["file"]).name, q["line"], q["reason"]) for q in quarantine] == [
        ("meta_Musical_Instruments.json.gz", 3, "malformed_json"),
        ("meta_Musical_Instruments.json.gz", 4, "missing_field"),
        ("reviews.json.gz", 3, "unknown_business"),
    ]
    assert metrics["files"]["businesses"]["accepted"] == 2


def test_a_missing_amazon_metadata_file_names_the_param(tmp_path):
    reviews = write_lines(tmp_path / "reviews.json", [amazon_review("U1", "I1")])

    with pytest.raises(IngestError, match=r"meta\.json\.gz\. Set `data\.amazon\.metadata`"):
        ingest_amazon(reviews, tmp_path / "meta.json.gz", tmp_path / "out", CONFIG)


def test_real_amazon_5core_round_trips_through_mcauley_json_lines(tmp_path, shared_data):
    expected = pd.read_parquet(shared_data("amazon-musical-instruments-5core") / "reviews.parquet")
    unix_times = pd.to_datetime(expected["date"], utc=True).dt.as_unit("s").astype("int64")
    lines = [
        amazon_review(row.user_id, row.business_id, reviewText=row.text, overall=float(row.stars),
                      summary=row.summary, unixReviewTime=int(unix_time))
        for row, unix_time in zip(expected.itertuples(), unix_times)
    ]  # fmt: skip
    reviews_path = write_lines(tmp_path / "reviews_Musical_Instruments_5.json.gz", lines)

    metrics = ingest_amazon(reviews_path, None, tmp_path / "out", IngestConfig(1_000, 0.01, 200))
    reviews, businesses, quarantine = read_outputs(tmp_path / "out")

    empty_text = expected["text"].str.strip() == ""
    assert empty_text.sum() == 7
    assert sorted(q["reason"] for q in quarantine) == ["empty_text"] * 7
    assert [q["line"] - 1 for q in quarantine] == np.flatnonzero(empty_text).tolist()
    kept = expected.loc[~empty_text, reviews.columns].reset_index(drop=True)
    unescaped_text = kept["text"].map(html.unescape)  # McAuley's text carries &#34; and the like
    assert metrics["html_unescaped_reviews"] == (unescaped_text != kept["text"]).sum() > 0
    pd.testing.assert_frame_equal(reviews, kept.assign(text=unescaped_text), check_dtype=False)
    assert businesses["business_id"].tolist() == kept["business_id"].drop_duplicates().tolist()
    assert (metrics["accepted_reviews"], metrics["users"], metrics["businesses"]) == (
        len(kept),
        kept["user_id"].nunique(),
        kept["business_id"].nunique(),
    )

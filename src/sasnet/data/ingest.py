"""Raw review files -> clean ``reviews.parquet`` and ``businesses.parquet``, streamed chunk by chunk.

Sources: the Yelp Open Dataset (``yelp_academic_dataset_review.json`` and ``yelp_academic_dataset_business.json``)
and McAuley's Amazon 5-core reviews with optional item metadata, where items stand in for businesses. All are
JSON lines, plain or gzipped. Output rows keep the order of the input lines.

A third source has no review text: a ratings table (parquet or CSV, MovieLens or yelp-core40 say) with an optional
item table, read by the column names of ``data.ratings``. Each row becomes one JSON line of the columns read, so the
rules and the quarantine below apply to it as to a file's line; its line number is its row number (1 is the first
data row; a CSV file's blank lines are no rows). Its reviews' text is empty: only the text-free models can use them
(``sasnet.params.require_text``).

Amazon and ratings rows have no review id: a pair's id is ``<user>_<item>``, with each ``\\`` and ``_`` of the user
escaped by a ``\\`` so that no two pairs share one (user ``a_b`` with item ``c``, user ``a`` with item ``b_c``).

A line that cannot become a clean row is skipped, counted by reason and written to ``quarantine.jsonl`` (file,
line number, reason, a short detail and the raw line cut to ``quarantine_max_chars``). The reasons:

===================  ==========================================================================================
``invalid_utf8``     the bytes are not UTF-8, or a string escapes half of a surrogate pair (parquet cannot hold it)
``malformed_json``   the line does not parse (Amazon metadata: neither as JSON nor as a Python literal)
``ragged_row``       a CSV row has more or fewer cells than the header
``not_an_object``    the line parses to something other than an object
``missing_field``    a required field is absent or null, or an id is empty
``bad_field_type``   a field has the wrong type
``bad_stars``        the rating is not a whole number from 1 to 5
``empty_text``       the review text is empty or whitespace (not for the ratings source, which has none)
``bad_date``         the date does not parse
``duplicate_id``     an earlier line of the same file was accepted with this review (or business) id
``unknown_business`` the business (item) is not among the accepted business (metadata) rows
===================  ==========================================================================================

A business (item) file that gives no business fails the stage naming that file, before any review is read; when
too many reviews are rejected and the business file lost lines too, the error names it first. The optional business
fields (names, categories, city, state) that a row lacks are counted per file as ``rows_without``, and a field that
no accepted row has is logged as a warning: a file in a layout the reader half understands loses it for every row.

HTML entities in review text (McAuley's Amazon text has ``&quot;``, ``&amp;``, ``&#39;``), and in Amazon item
titles, are unescaped exactly once, before the text is checked; the metrics count the accepted rows that changed. A
UTF-8 byte-order mark before a file's first line is dropped.

Memory does not grow with the file: one chunk of lines (or one batch of table rows) is held at a time and rows go
straight to a ParquetWriter.
What does grow is 8 bytes per distinct review, user and business id (see ``_IdHashes``), and, for Amazon without
metadata, the distinct item ids themselves.
"""

from __future__ import annotations

import ast
import contextlib
import gzip
import html
import itertools
import json
import logging
import time
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from tqdm import tqdm

from sasnet.data.configs import TEXT_FREE_SOURCES, IngestConfig, RatingsFiles
from sasnet.errors import PipelineError
from sasnet.io import atomic_path

log = logging.getLogger(__name__)

REVIEWS_FILE = "reviews.parquet"
BUSINESSES_FILE = "businesses.parquet"
QUARANTINE_FILE = "quarantine.jsonl"

REVIEW_SCHEMA = pa.schema(
    [
        ("review_id", pa.string()),
        ("user_id", pa.string()),
        ("business_id", pa.string()),
        ("stars", pa.int8()),
        ("text", pa.string()),
        ("date", pa.string()),
    ]
)
BUSINESS_SCHEMA = pa.schema(
    [
        ("business_id", pa.string()),
        ("name", pa.string()),
        ("categories", pa.string()),
        ("city", pa.string()),
        ("state", pa.string()),
    ]
)

_PARQUET_COMPRESSION = "zstd"
_GZIP_MAGIC = b"\x1f\x8b"
_UTF8_BOM = b"\xef\xbb\xbf"
_VALID_STARS = frozenset({1, 2, 3, 4, 5})  # 4.0 == 4 and hashes alike, so whole-number floats pass too
_DETAIL_MAX_CHARS = 120
_TOP_REASONS_SHOWN = 3


class IngestError(PipelineError):
    """Input that cannot be ingested: a missing or unreadable file, or too many rejected lines.

    For too many rejected lines, ``metrics`` holds the run's full metrics (else it is None).
    """

    def __init__(self, message: str, metrics: dict | None = None):
        super().__init__(message)
        self.metrics = metrics


def ingest_yelp(review_path: Path, business_path: Path, out_dir: Path, config: IngestConfig) -> dict:
    """Ingest the Yelp Open Dataset review and business files into ``out_dir``; return the metrics."""
    review_path, business_path = Path(review_path), Path(business_path)
    _require_file(review_path, "data.yelp.reviews", "Yelp review file (yelp_academic_dataset_review.json)")
    _require_file(business_path, "data.yelp.businesses", "Yelp business file (yelp_academic_dataset_business.json)")
    return _ingest("yelp", review_path, _YELP_REVIEWS, business_path, _YELP_BUSINESSES, Path(out_dir), config)


def ingest_amazon(review_path: Path, metadata_path: Path | None, out_dir: Path, config: IngestConfig) -> dict:
    """Ingest McAuley's Amazon 5-core reviews (and item metadata, when given) into ``out_dir``; return the metrics.

    Without metadata the businesses are the reviewed items, in order of first review, with no name or categories.
    """
    review_path = Path(review_path)
    _require_file(review_path, "data.amazon.reviews", "Amazon 5-core review file (reviews_<Category>_5.json.gz)")
    if metadata_path is not None:
        metadata_path = Path(metadata_path)
        _require_file(metadata_path, "data.amazon.metadata", "Amazon metadata file (meta_<Category>.json.gz)")
    return _ingest("amazon", review_path, _AMAZON_REVIEWS, metadata_path, _AMAZON_ITEMS, Path(out_dir), config)


def ingest_ratings(files: RatingsFiles, out_dir: Path, config: IngestConfig) -> dict:
    """Ingest a ratings table without text (and its item table, when given) into ``out_dir``; return the metrics.

    Every review's text is empty, and so is its date when the table has neither a date nor a timestamp column.
    Without an item table the businesses are the rated items, in order of first rating, with no name or categories.
    Rows keep the table's order, so ratings of one user within one second (MovieLens has many) keep the table's
    order as their tie order; nothing downstream sorts by time today.
    """
    ratings_path = Path(files.ratings)
    _require_file(ratings_path, "data.ratings.ratings", "ratings table")
    items_path = None
    if files.items is not None:
        items_path = Path(files.items)
        _require_file(items_path, "data.ratings.items", "item table")
    review_format, item_format = _ratings_formats(files)
    _require_columns(ratings_path, review_format.table_columns)
    if items_path is not None:
        _require_columns(items_path, item_format.table_columns)
    return _ingest("ratings", ratings_path, review_format, items_path, item_format, Path(out_dir), config)


def _require_file(path: Path, param: str, what: str) -> None:
    if not path.is_file():
        raise IngestError(f"{what} not found: {path.absolute()}. Set `{param}` in params.yaml to the file's path.")


def _require_columns(path: Path, columns: tuple[str, ...]) -> None:
    names = _table_column_names(path)
    missing = [column for column in columns if column not in names]
    if missing:
        raise IngestError(
            f"{path} has no column {', '.join(map(repr, missing))}; its columns: {', '.join(names)}. Set the "
            "`data.ratings.*_column` keys in params.yaml to its column names."
        )


# --- Record mappings: one parsed JSON object -> one output row, or _Rejected -----------------------------------


class _Rejected(Exception):
    """Raised for a line that cannot become a row; ``reason`` is one of the quarantine reasons."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _shorten(text: str, limit: int = _DETAIL_MAX_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {_shorten(repr(value), 40)}"


# Each field helper tests the common case with plain type checks first (this runs for millions of lines) and
# only works out which problem a bad value has when that test fails.


def _require_type(key: str, value: Any, kind: type | tuple[type, ...]) -> None:
    if value is None:
        raise _Rejected("missing_field", f"{key} is missing")
    # bool is a subclass of int, but true is no rating or timestamp.
    if isinstance(value, bool) or not isinstance(value, kind):
        raise _Rejected("bad_field_type", f"{key}: expected {_kind_name(kind)}, got {_describe(value)}")


def _kind_name(kind: type | tuple[type, ...]) -> str:
    return kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)


def _id(record: dict, key: str) -> str:
    value = record.get(key)
    if type(value) is str and value and not value.isspace():
        return value
    _require_type(key, value, str)
    raise _Rejected("missing_field", f"{key} is empty")


def _optional_text(record: dict, key: str) -> str:
    value = record.get(key)
    if value is None:
        return ""
    _require_type(key, value, str)
    return value


def _stars(record: dict, key: str) -> int:
    value = record.get(key)
    if type(value) is int and 1 <= value <= 5:
        return value
    _require_type(key, value, (int, float))
    if value in _VALID_STARS:
        return int(value)
    raise _Rejected("bad_stars", f"{key}: {value!r} is not a whole number from 1 to 5")


def _review_text(record: dict, key: str) -> str:
    value = record.get(key)
    if type(value) is str and value and not value.isspace():
        return value
    _require_type(key, value, str)
    raise _Rejected("empty_text", f"{key} is empty or whitespace")


def _iso_date(record: dict, key: str) -> str:
    """Yelp's "YYYY-MM-DD HH:MM:SS"; older releases' date-only values and other ISO 8601 forms are normalised to it."""
    value = record.get(key)
    _require_type(key, value, str)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _Rejected("bad_date", f"{key}: {_shorten(repr(value), 40)} is not an ISO 8601 date") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(" ", "seconds")


def _unix_date(record: dict, key: str) -> str:
    value = record.get(key)
    _require_type(key, value, (int, float))
    try:
        moment = datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise _Rejected("bad_date", f"{key}: {value!r} is not a Unix time") from None
    return moment.replace(tzinfo=None).isoformat(" ", "seconds")


def _categories(record: dict, key: str) -> str:
    """Yelp's comma-separated string. Lists (McAuley's list of category paths, older Yelp releases' flat list) are
    flattened, deduplicated in order of appearance and joined the same way."""
    value = record.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(dict.fromkeys(_flatten_names(value, key)))
    raise _Rejected("bad_field_type", f"{key}: expected str or list, got {_describe(value)}")


def _flatten_names(values: list, key: str) -> Iterator[str]:
    for value in values:
        if isinstance(value, list):
            yield from _flatten_names(value, key)
        elif isinstance(value, str):
            yield value
        else:
            raise _Rejected("bad_field_type", f"{key}: expected names, got {_describe(value)}")


def _yelp_review(record: dict) -> tuple:
    return (
        _id(record, "review_id"),
        _id(record, "user_id"),
        _id(record, "business_id"),
        _stars(record, "stars"),
        _review_text(record, "text"),
        _iso_date(record, "date"),
    )


def _yelp_business(record: dict) -> tuple:
    return (
        _id(record, "business_id"),
        _optional_text(record, "name"),
        _categories(record, "categories"),
        _optional_text(record, "city"),
        _optional_text(record, "state"),
    )


def _pair_id(user_id: str, item_id: str) -> str:
    """The review id of a source without them: a user rates an item once, so the pair is one. The user's ``\\`` and
    ``_`` are escaped, so the first bare ``_`` ends it and distinct pairs never share an id."""
    return user_id.replace("\\", "\\\\").replace("_", "\\_") + "_" + item_id


def _amazon_review(record: dict) -> tuple:
    user_id = _id(record, "reviewerID")
    item_id = _id(record, "asin")
    return (
        _pair_id(user_id, item_id),
        user_id,
        item_id,
        _stars(record, "overall"),
        _review_text(record, "reviewText"),
        _unix_date(record, "unixReviewTime"),
    )


def _amazon_item(record: dict) -> tuple:
    return (_id(record, "asin"), _optional_text(record, "title"), _categories(record, "categories"), "", "")


def _json_or_python_literal(line: str) -> Any:
    """McAuley's 2014 metadata lines are Python dict literals (single quotes), not JSON."""
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return ast.literal_eval(line)


@dataclass(frozen=True)
class _LineFormat:
    """How the lines of one kind of input file become rows of ``schema``; the first column is the row's id."""

    schema: pa.Schema
    parse: Callable[[str], Any]
    to_row: Callable[[dict], tuple]
    html_fields: tuple[str, ...] = ()
    """Record keys whose text may carry HTML entities, unescaped before ``to_row`` sees them."""
    number_fields: tuple[str, ...] = ()
    """Record keys whose text, when it reads as a number, becomes that number before ``to_row`` sees it."""
    table_columns: tuple[str, ...] = ()
    """For a parquet or CSV table, the columns read, each row becoming one JSON line; empty for JSON lines."""
    optional_fields: dict[str, str] = field(default_factory=dict)
    """Output column -> the record key it is read from, for the columns left empty when a row lacks the key."""


_YELP_REVIEWS = _LineFormat(REVIEW_SCHEMA, json.loads, _yelp_review, html_fields=("text",))
_YELP_BUSINESSES = _LineFormat(
    BUSINESS_SCHEMA,
    json.loads,
    _yelp_business,
    optional_fields={"name": "name", "categories": "categories", "city": "city", "state": "state"},
)
_AMAZON_REVIEWS = _LineFormat(REVIEW_SCHEMA, json.loads, _amazon_review, html_fields=("reviewText",))
_AMAZON_ITEMS = _LineFormat(
    BUSINESS_SCHEMA,
    _json_or_python_literal,
    _amazon_item,
    html_fields=("title",),
    optional_fields={"name": "title", "categories": "categories"},
)


def _table_id(record: dict, key: str) -> str:
    """Tables often hold ids as integers (MovieLens): those become their decimal strings."""
    value = record.get(key)
    return str(value) if type(value) is int else _id(record, key)


def _ratings_formats(files: RatingsFiles) -> tuple[_LineFormat, _LineFormat]:
    """The formats of the ratings table's rows and of the item table's, by the column names of ``files``."""
    user, item, rating = files.user_column, files.item_column, files.rating_column
    date, timestamp = files.date_column, files.timestamp_column
    name, categories = files.item_name_column, files.item_categories_column

    def review(record: dict) -> tuple:
        user_id, item_id = _table_id(record, user), _table_id(record, item)
        moment = _iso_date(record, date) if date else _unix_date(record, timestamp) if timestamp else ""
        return (_pair_id(user_id, item_id), user_id, item_id, _stars(record, rating), "", moment)

    def item_row(record: dict) -> tuple:
        item_name = _optional_text(record, name) if name else ""
        item_categories = _categories(record, categories) if categories else ""
        return (_table_id(record, item), item_name, item_categories, "", "")

    # CSV cells are all read as text (see _table_batches): the numbers are read back from it.
    numbers = tuple(column for column in (rating, timestamp) if column)
    review_columns = tuple(column for column in (user, item, rating, date, timestamp) if column)
    item_columns = tuple(column for column in (item, name, categories) if column)
    optional = {output: column for output, column in (("name", name), ("categories", categories)) if column}
    return (
        _LineFormat(REVIEW_SCHEMA, json.loads, review, number_fields=numbers, table_columns=review_columns),
        _LineFormat(BUSINESS_SCHEMA, json.loads, item_row, table_columns=item_columns, optional_fields=optional),
    )


def _unescape_html(record: dict, keys: tuple[str, ...]) -> bool:
    """Unescape the string values of ``keys`` in place; return whether any changed.

    Once only: a double-escaped ``&amp;quot;`` is taken to be the text ``&quot;``. Entities of surrogates become
    U+FFFD, so this adds no unpaired surrogate.
    """
    changed = False
    for key in keys:
        value = record.get(key)
        if type(value) is str and "&" in value:
            unescaped = html.unescape(value)
            if unescaped != value:
                record[key] = unescaped
                changed = True
    return changed


def _read_numbers(record: dict, keys: tuple[str, ...]) -> None:
    """Replace, in place, the string values of ``keys`` that read as numbers by those numbers; leave the others for
    ``to_row`` to reject."""
    for key in keys:
        value = record.get(key)
        if type(value) is str:
            with contextlib.suppress(ValueError):
                record[key] = float(value)  # whole floats pass as stars, and as Unix times to the second


def _line_to_row(raw: bytes, line_format: _LineFormat) -> tuple[tuple, bool]:
    """The row of one line, and whether HTML entities were unescaped in it."""
    if isinstance(raw, _RaggedRow):
        raise _Rejected("ragged_row", raw.detail)
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _Rejected("invalid_utf8", f"byte {error.start}: {error.reason}") from None
    try:
        record = line_format.parse(line)
    except (ValueError, SyntaxError, TypeError, RecursionError) as error:
        raise _Rejected("malformed_json", _shorten(str(error))) from None
    if not isinstance(record, dict):
        raise _Rejected("not_an_object", f"got {_describe(record)}")
    # Before to_row, so that text made only of entities such as &nbsp; is rejected as empty.
    unescaped = _unescape_html(record, line_format.html_fields)
    _read_numbers(record, line_format.number_fields)
    row = line_format.to_row(record)
    # Only a \u (or Python \U) escape can produce a lone surrogate, so other lines skip the check.
    if "\\u" in line or "\\U" in line:
        _require_encodable(row, line_format.schema)
    return row, unescaped


def _require_encodable(row: tuple, schema: pa.Schema) -> None:
    for value, column in zip(row, schema.names):
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise _Rejected("invalid_utf8", f"{column}: unpaired surrogate escape") from None


# --- Shared machinery: chunked reading, set-wise checks, quarantine, parquet writing -------------------------------


class _IdHashes:
    """A set of ids kept as 64-bit hashes: 8 bytes per id, where a Python set of strings needs about 100.

    The hashes live in sorted numpy runs whose sizes shrink at least geometrically, merged like the digits of a
    binary counter, so adding n ids costs O(n log n) in all and a lookup is one binary search per run (O(log n)
    runs). Two distinct ids among ten million share a hash with probability about 3e-6.
    """

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []

    def __len__(self) -> int:
        return sum(run.size for run in self._runs)

    @staticmethod
    def hash(ids: Sequence[str] | np.ndarray) -> np.ndarray:
        return pd.util.hash_array(np.asarray(ids, dtype=object), categorize=False)

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        found = np.zeros(hashes.size, dtype=bool)
        for run in self._runs:
            slots = np.minimum(np.searchsorted(run, hashes), run.size - 1)
            found |= run[slots] == hashes
        return found

    def add_new(self, hashes: np.ndarray) -> np.ndarray:
        """Add ``hashes``; return a mask, True where a hash was neither in the set nor earlier in ``hashes``."""
        unique, first_index = np.unique(hashes, return_index=True)
        unseen = ~self.contains(unique)
        is_new = np.zeros(hashes.size, dtype=bool)
        is_new[first_index[unseen]] = True
        if unseen.any():
            self._runs.append(unique[unseen])
            while len(self._runs) > 1 and self._runs[-2].size <= 2 * self._runs[-1].size:
                merged = np.concatenate([self._runs.pop(), self._runs.pop()])
                # In place, and timsort ("stable") merges the two sorted halves in linear time.
                merged.sort(kind="stable")
                self._runs.append(merged)
        return is_new


class _Quarantine:
    """Writes one JSON line per rejected input line."""

    def __init__(self, handle: IO[str], max_chars: int):
        self._handle = handle
        self._max_chars = max_chars

    def write(self, path: Path, line_number: int, reason: str, detail: str, raw: bytes) -> None:
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        entry = {
            "file": str(path),
            "line": line_number,
            "reason": reason,
            "detail": detail,
            "raw": line[: self._max_chars],
            "raw_chars": len(line),
        }
        self._handle.write(json.dumps(entry, ensure_ascii=False) + "\n")


@dataclass
class _FileReport:
    path: Path
    lines_read: int = 0
    blank_lines: int = 0
    accepted: int = 0
    html_unescaped: int = 0
    rejected: Counter = field(default_factory=Counter)
    rows_without: dict[str, int] = field(default_factory=dict)
    """Optional record key -> the accepted rows that lack it (or leave it empty)."""

    @property
    def non_blank_lines(self) -> int:
        return self.lines_read - self.blank_lines

    @property
    def rejected_fraction(self) -> float:
        return sum(self.rejected.values()) / self.non_blank_lines if self.non_blank_lines else 0.0

    def top_reasons(self) -> str:
        return ", ".join(f"{reason} {count:,}" for reason, count in self.rejected.most_common(_TOP_REASONS_SHOWN))

    def summary(self) -> str:
        """How many of the file's lines were accepted, and why the others were not."""
        top_reasons = f" (top reasons: {self.top_reasons()})" if self.rejected else ""
        return f"{self.accepted:,} of the {self.non_blank_lines:,} lines of {self.path} were accepted{top_reasons}"

    def metrics(self) -> dict:
        return {
            "path": str(self.path),
            "lines_read": self.lines_read,
            "blank_lines": self.blank_lines,
            "accepted": self.accepted,
            "html_unescaped": self.html_unescaped,
            "rejected": dict(sorted(self.rejected.items())),
            "rejected_total": sum(self.rejected.values()),
            "rejected_fraction": self.rejected_fraction,
            "rows_without": self.rows_without,
        }


@contextlib.contextmanager
def _open_lines(path: Path) -> Iterator[tuple[IO[bytes], Callable[[], int]]]:
    """Open a JSON-lines file, gzipped or not (told by its magic bytes), as bytes; also give a function returning
    the position in the file on disk (compressed, for gzip) to drive the progress bar."""
    with open(path, "rb") as on_disk:
        if on_disk.peek(len(_GZIP_MAGIC)).startswith(_GZIP_MAGIC):
            with gzip.GzipFile(fileobj=on_disk) as decompressed:
                yield decompressed, on_disk.tell
        else:
            yield on_disk, on_disk.tell


def _chunks(lines: IO[bytes], chunk_lines: int, path: Path) -> Iterator[list[bytes]]:
    lines_read = 0
    while True:
        chunk: list[bytes] = []
        try:
            # extend() keeps the lines it got before an error, so the message counts this chunk's readable lines.
            chunk.extend(itertools.islice(lines, chunk_lines))
        except (OSError, EOFError, zlib.error) as error:
            message = f"cannot read {path} after line {lines_read + len(chunk):,}: {error} (a truncated download?)"
            raise IngestError(message) from None
        if not chunk:
            return
        if lines_read == 0 and chunk[0].startswith(_UTF8_BOM):
            # Many Windows tools start UTF-8 files with one; json.loads would reject the first line for it.
            chunk[0] = chunk[0][len(_UTF8_BOM) :]
        lines_read += len(chunk)
        yield chunk


def _line_chunks(path: Path, chunk_lines: int) -> Iterator[list[bytes]]:
    """The lines of a JSON-lines file, chunk by chunk, with a progress bar over the bytes on disk."""
    with (
        _open_lines(path) as (lines, position),
        tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc=f"ingest {path.name}") as progress,
    ):
        for chunk in _chunks(lines, chunk_lines, path):
            yield chunk
            progress.update(position() - progress.n)


def _is_csv(path: Path) -> bool:
    return path.name.lower().endswith((".csv", ".csv.gz"))


class _RaggedRow(bytes):
    """The text of a CSV row whose cell count is not the header's, put in the row's place among the JSON lines."""

    detail: str


def _open_csv(path: Path, on_ragged_row: Callable[[pa_csv.InvalidRow], str], **options) -> pa_csv.CSVStreamingReader:
    # Serial: a reader with threads gives ragged rows no row number.
    return pa_csv.open_csv(
        path,
        read_options=pa_csv.ReadOptions(use_threads=False),
        parse_options=pa_csv.ParseOptions(invalid_row_handler=on_ragged_row),
        **options,
    )


def _table_column_names(path: Path) -> list[str]:
    try:
        if _is_csv(path):
            with _open_csv(path, lambda row: "skip") as reader:  # a ragged row in the first block hides no name
                return reader.schema.names
        return pq.read_schema(path).names
    except (pa.ArrowException, OSError) as error:
        raise IngestError(f"cannot read {path} as a {'CSV' if _is_csv(path) else 'parquet'} table: {error}") from None


def _table_batches(
    path: Path, columns: tuple[str, ...], batch_rows: int, ragged_rows: deque[tuple[int, _RaggedRow]]
) -> Iterator[pa.RecordBatch]:
    """The table's batches; a ragged CSV row is left out of them and appended to ``ragged_rows`` with its row number
    as the reader meets it, which may be a batch ahead."""
    if _is_csv(path):
        merged_lines = 0  # so far, lines that the reader read as part of an earlier line's row

        def set_aside(row: pa_csv.InvalidRow) -> str:
            nonlocal merged_lines
            first = row.number - 1 + merged_lines  # the reader counts the header, not blank lines
            # A quote left open runs on over the next lines (to the next quote): each is a row of its own here, so
            # that the rows after keep their numbers and the rejected fraction counts every line lost.
            lines = [line for line in row.text.split("\n") if line.strip()]
            detail = f"{row.actual_columns} cells where the header has {row.expected_columns}"
            if len(lines) > 1:
                detail = f"rows {first}-{first + len(lines) - 1} read as one, a quote left open: {detail}"
            for number, line in enumerate(lines, first):
                text = _RaggedRow(line.encode())
                text.detail = detail
                ragged_rows.append((number, text))
            merged_lines += len(lines) - 1
            return "skip"

        # Every cell as text (empty: null), so that one bad cell rejects its row, not the whole file.
        options = pa_csv.ConvertOptions(
            column_types=dict.fromkeys(columns, pa.string()), include_columns=list(columns), strings_can_be_null=True
        )
        with _open_csv(path, set_aside, convert_options=options) as reader:  # batches of about 1 MB of CSV
            yield from reader
    else:
        yield from pq.ParquetFile(path).iter_batches(batch_size=batch_rows, columns=list(columns))


def _table_chunks(path: Path, columns: tuple[str, ...], chunk_rows: int) -> Iterator[list[bytes]]:
    """A table's rows, ``columns`` only, as JSON lines, batch by batch, with a progress bar over the rows; a ragged
    CSV row is in its place as a _RaggedRow."""
    rows = None if _is_csv(path) else pq.ParquetFile(path).metadata.num_rows
    ragged_rows: deque[tuple[int, _RaggedRow]] = deque()
    with tqdm(total=rows, unit=" rows", desc=f"ingest {path.name}") as progress:
        try:
            for batch in _table_batches(path, columns, chunk_rows, ragged_rows):
                # default=str: temporal cells become ISO 8601 text, which the date rule reads
                lines = [json.dumps(row, ensure_ascii=False, default=str).encode() for row in batch.to_pylist()]
                chunk = _put_back(ragged_rows, lines, progress.n + 1)
                yield chunk
                progress.update(len(chunk))
        except (pa.ArrowException, OSError) as error:
            raise IngestError(f"cannot read {path} after row {progress.n:,}: {error}") from None
    if ragged_rows:  # the rows after the last good one
        yield [text for _, text in ragged_rows]


def _put_back(ragged_rows: deque[tuple[int, _RaggedRow]], lines: list[bytes], first_row: int) -> list[bytes]:
    """``lines``, the good rows from row ``first_row`` on, with the ragged rows among and right after them put back
    in their places (and taken from ``ragged_rows``)."""
    if not ragged_rows or ragged_rows[0][0] > first_row + len(lines):  # the usual chunk: no row to put back
        return lines
    chunk: list[bytes] = []
    good = iter(lines)
    while True:
        if ragged_rows and ragged_rows[0][0] == first_row + len(chunk):
            chunk.append(ragged_rows.popleft()[1])
        elif (line := next(good, None)) is not None:
            chunk.append(line)
        else:
            return chunk


_Rejection = tuple[int, str, str]  # line number, reason, detail


def _parse_lines(
    chunk: list[bytes], first_line_number: int, line_format: _LineFormat
) -> tuple[list[tuple], list[int], list[bool], list[_Rejection], int]:
    """Rows of the chunk's good lines with their line numbers and whether HTML was unescaped in each, the rejected
    lines, and the number of blank lines."""
    rows: list[tuple] = []
    row_line_numbers: list[int] = []
    row_unescaped: list[bool] = []
    rejections: list[_Rejection] = []
    blank_lines = 0
    for line_number, raw in enumerate(chunk, first_line_number):
        if raw.isspace():
            blank_lines += 1
            continue
        try:
            row, unescaped = _line_to_row(raw, line_format)
        except _Rejected as rejected:
            rejections.append((line_number, rejected.reason, rejected.detail))
            continue
        rows.append(row)
        row_line_numbers.append(line_number)
        row_unescaped.append(unescaped)
    return rows, row_line_numbers, row_unescaped, rejections, blank_lines


def _check_ids(
    columns: list[tuple],
    row_line_numbers: list[int],
    schema: pa.Schema,
    accepted_ids: _IdHashes,
    known_businesses: _IdHashes | None,
) -> tuple[np.ndarray, list[_Rejection]]:
    """The mask of rows to keep, whole chunk at a time: the business is known (when ``known_businesses`` is given)
    and the id (first column) was not accepted before. The kept ids join ``accepted_ids``."""
    rejections: list[_Rejection] = []
    keep = np.ones(len(row_line_numbers), dtype=bool)
    if known_businesses is not None:
        business_ids = columns[schema.get_field_index("business_id")]
        keep = known_businesses.contains(_IdHashes.hash(business_ids))
        rejections += [
            (row_line_numbers[i], "unknown_business", f"business_id {business_ids[i]!r} has no business row")
            for i in np.flatnonzero(~keep)
        ]
    ids = columns[0]
    is_new = np.zeros(len(row_line_numbers), dtype=bool)
    is_new[keep] = accepted_ids.add_new(_IdHashes.hash(ids)[keep])
    rejections += [
        (row_line_numbers[i], "duplicate_id", f"{schema.names[0]} {ids[i]!r} was accepted before")
        for i in np.flatnonzero(keep & ~is_new)
    ]
    return is_new, rejections


def _ingest_lines(
    path: Path,
    line_format: _LineFormat,
    destination: Path,
    config: IngestConfig,
    quarantine: _Quarantine,
    known_businesses: _IdHashes | None,
) -> tuple[_FileReport, _IdHashes]:
    """Stream ``path`` into the parquet file ``destination``; return the report and the accepted ids."""
    report = _FileReport(path, rows_without=dict.fromkeys(line_format.optional_fields.values(), 0))
    accepted_ids = _IdHashes()
    if line_format.table_columns:
        chunks = _table_chunks(path, line_format.table_columns, config.chunk_lines)
    else:
        chunks = _line_chunks(path, config.chunk_lines)
    with (
        contextlib.closing(chunks),
        pq.ParquetWriter(destination, line_format.schema, compression=_PARQUET_COMPRESSION) as writer,
    ):
        for chunk in chunks:
            first_line_number = report.lines_read + 1
            rows, row_line_numbers, row_unescaped, rejections, blank_lines = _parse_lines(
                chunk, first_line_number, line_format
            )
            columns = list(zip(*rows)) or [()] * len(line_format.schema)
            keep, id_rejections = _check_ids(
                columns, row_line_numbers, line_format.schema, accepted_ids, known_businesses
            )
            table = pa.table(
                [pa.array(column, type=column_field.type) for column, column_field in zip(columns, line_format.schema)],
                schema=line_format.schema,
            )
            table = table.filter(keep)
            writer.write_table(table)
            for column, key in line_format.optional_fields.items():
                report.rows_without[key] += pc.sum(pc.equal(table[column], ""), min_count=0).as_py()

            for line_number, reason, detail in sorted(rejections + id_rejections):
                report.rejected[reason] += 1
                quarantine.write(path, line_number, reason, detail, chunk[line_number - first_line_number])
            report.accepted += int(keep.sum())
            report.html_unescaped += int((keep & np.array(row_unescaped, dtype=bool)).sum())
            report.blank_lines += blank_lines
            report.lines_read += len(chunk)
    for column, key in line_format.optional_fields.items():
        if report.rows_without[key] == report.accepted > 0:
            message = "no accepted row of %s has %r, so the %s column of %s is empty: is the file in another layout?"
            log.warning(message, path, key, column, BUSINESSES_FILE)
    return report, accepted_ids


def _distinct_count(parquet_path: Path, column: str) -> int:
    distinct = _IdHashes()
    for batch in pq.ParquetFile(parquet_path).iter_batches(columns=[column]):
        distinct.add_new(_IdHashes.hash(batch.column(0).to_numpy(zero_copy_only=False)))
    return len(distinct)


def _reviewed_items(reviews_path: Path) -> pa.Table:
    """Businesses for Amazon without metadata: the reviewed items in order of first review, nothing else known."""
    item_ids: dict[str, None] = {}
    for batch in pq.ParquetFile(reviews_path).iter_batches(columns=["business_id"]):
        item_ids.update(dict.fromkeys(batch.column(0).to_pylist()))
    unknown = [""] * len(item_ids)
    columns = [list(item_ids), unknown, unknown, unknown, unknown]
    return pa.table(columns, schema=BUSINESS_SCHEMA)


def _ingest(
    source: str,
    review_path: Path,
    review_format: _LineFormat,
    business_path: Path | None,
    business_format: _LineFormat,
    out_dir: Path,
    config: IngestConfig,
) -> dict:
    started = time.perf_counter()
    quarantine_path = out_dir / QUARANTINE_FILE
    with atomic_path(out_dir / REVIEWS_FILE) as reviews_tmp, atomic_path(out_dir / BUSINESSES_FILE) as businesses_tmp:
        # The quarantine file is committed before the checks so that a failed run leaves it behind.
        with atomic_path(quarantine_path) as quarantine_tmp, open(quarantine_tmp, "w", encoding="utf-8") as handle:
            quarantine = _Quarantine(handle, config.quarantine_max_chars)
            file_reports = {}
            known_businesses = None
            if business_path is not None:
                file_reports["businesses"], known_businesses = _ingest_lines(
                    business_path, business_format, businesses_tmp, config, quarantine, known_businesses=None
                )
            # Without one business every review would be rejected as unknown_business, blaming the wrong file.
            no_businesses = known_businesses is not None and not len(known_businesses)
            if not no_businesses:
                file_reports["reviews"], _ = _ingest_lines(
                    review_path, review_format, reviews_tmp, config, quarantine, known_businesses
                )
        if no_businesses:
            raise IngestError(_no_businesses_problem(file_reports["businesses"], quarantine_path))
        if business_path is None:
            pq.write_table(_reviewed_items(reviews_tmp), businesses_tmp, compression=_PARQUET_COMPRESSION)

        reviews = file_reports["reviews"]
        metrics = {
            "source": source,
            "has_text": source not in TEXT_FREE_SOURCES,
            "files": {name: report.metrics() for name, report in file_reports.items()},
            "rejected_fraction": reviews.rejected_fraction,
            "accepted_reviews": reviews.accepted,
            "html_unescaped_reviews": reviews.html_unescaped,
            "users": _distinct_count(reviews_tmp, "user_id"),
            "businesses": pq.ParquetFile(businesses_tmp).metadata.num_rows,
            "reviewed_businesses": _distinct_count(reviews_tmp, "business_id"),
        }
        seconds = time.perf_counter() - started
        metrics["seconds"] = round(seconds, 3)
        metrics["lines_per_second"] = round(sum(report.lines_read for report in file_reports.values()) / seconds)
        _check_rejections(file_reports, config, quarantine_path, metrics)
    return metrics


def _no_businesses_problem(businesses: _FileReport, quarantine_path: Path) -> str:
    if not businesses.non_blank_lines:
        return f"{businesses.path} is empty: it gives no business (item), so every review would be unknown_business"
    return (
        f"{businesses.path} gives no business (item): none of its {businesses.non_blank_lines:,} lines was accepted "
        f"(top reasons: {businesses.top_reasons()}), so every review would be unknown_business. Each rejected line "
        f"is listed in {quarantine_path}"
    )


def _check_rejections(
    file_reports: dict[str, _FileReport], config: IngestConfig, quarantine_path: Path, metrics: dict
) -> None:
    reviews = file_reports["reviews"]
    if reviews.accepted == 0:
        problem = f"no review line of {reviews.path} was accepted ({reviews.lines_read:,} lines read)"
    elif reviews.rejected_fraction > config.max_rejected_fraction:
        problem = (
            f"{reviews.rejected_fraction:.2%} of the review lines of {reviews.path} were rejected, more than "
            f"ingest.max_rejected_fraction = {config.max_rejected_fraction:.2%}"
        )
    else:
        return
    if reviews.rejected:
        problem += f"; top reasons: {reviews.top_reasons()}. Each rejected line is listed in {quarantine_path}"
    businesses = file_reports.get("businesses")
    if reviews.rejected["unknown_business"] and businesses is not None and businesses.rejected:
        # The business lines lost are the likelier cause, so they come first.
        problem = f"{businesses.summary()}, and the reviews of their businesses are unknown_business; {problem}"
    raise IngestError(problem, metrics)

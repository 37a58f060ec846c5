"""Params sections of the data stages (ingest, filter, sample, split), kept apart from their code so that
validating params.yaml (which every stage does first) never imports scipy, pulp or pyarrow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sasnet.config import bounded
from sasnet.errors import PipelineError

SPLITS = ("train", "valid", "test")
STARS = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class DemoConfig:
    seed: int
    n_users: int = bounded(ge=10)
    n_businesses: int = bounded(ge=10)
    # Reviews per user: lognormal with this median and log-sd (the heavy tail), capped at n_businesses.
    user_reviews_median: float = bounded(ge=1)
    user_reviews_log_sd: float = bounded(ge=0)
    # Log-sd of business popularity: how unevenly reviews spread over businesses.
    business_popularity_log_sd: float = bounded(ge=0)
    # How strongly a user's category taste steers which businesses they review.
    category_choice_strength: float = bounded(ge=0)
    # Latent utility terms (standard deviations) and the rating noise (> 0: star probabilities need rating noise).
    quality_sd: float = bounded(ge=0)
    harshness_sd: float = bounded(ge=0)
    aspect_sd: float = bounded(ge=0)
    aspect_taste_concentration: float = bounded(gt=0)  # Dirichlet concentration of a user's aspect weights; small = picky
    category_taste_sd: float = bounded(ge=0)
    noise_sd: float = bounded(gt=0)
    # Text: noise of an aspect remark's tone around the business's aspect quality, and of the verdict's tone
    # around the stars (in star steps).
    mention_tone_sd: float = bounded(ge=0)
    verdict_tone_sd: float = bounded(ge=0)
    # Share of a user's reviews that state how demanding they are, and that statement's noise (in harshness sds).
    disposition_rate: float = bounded(ge=0, le=1)
    disposition_tone_sd: float = bounded(ge=0)
    min_words: int = bounded(ge=10)  # and below max_words
    max_words: int
    star_shares: list[float]  # target share of 1..5 stars
    first_year: int
    last_year: int

    def check(self) -> list[str]:
        problems = []
        if self.min_words >= self.max_words:
            problems.append(f"min_words: must be below max_words {self.max_words} (got {self.min_words})")
        if len(self.star_shares) != 5 or any(s <= 0 for s in self.star_shares):
            problems.append("star_shares: must be five positive shares for 1..5 stars")
        elif abs(sum(self.star_shares) - 1) > 1e-6:
            problems.append(f"star_shares: must sum to 1, got {sum(self.star_shares):.6f}")
        if self.first_year > self.last_year:
            problems.append("first_year: must not be after last_year")
        return problems


@dataclass(frozen=True)
class IngestConfig:
    """The ``ingest`` section of params.yaml."""

    chunk_lines: int = bounded(ge=1)
    """Lines parsed per chunk. Bounds memory (a few KB per Yelp line) and is the parquet row-group size."""
    max_rejected_fraction: float = bounded(ge=0, le=1)
    """Fail when more than this fraction of the review lines is quarantined: that is a wrong file, not noise."""
    quarantine_max_chars: int = bounded(ge=0)
    """Characters of each rejected raw line kept in the quarantine file."""


@dataclass(frozen=True)
class FilterConfig:
    min_user_reviews: int = bounded(ge=1)
    min_business_reviews: int = bounded(ge=1)


@dataclass(frozen=True)
class SampleConfig:
    method: Literal["lp", "none"]
    target_users: int = bounded(ge=1)
    reviews_per_user: int = bounded(ge=1)
    target_businesses: int = bounded(ge=1)
    reviews_per_business: int = bounded(ge=1)
    solver: Literal["highs", "cbc"]
    time_limit_s: float = bounded(gt=0)  # per LP solve
    bound_lp_max_reviews: int = bounded(ge=0)  # above this many reviews, report the counting bound instead of the LP relaxation
    seed: int  # breaks ties between equally dense vertices and picks the top-up reviews


@dataclass(frozen=True)
class SplitConfig:
    bins: dict[str, list[int]]  # class name -> its star ratings, in class order
    fractions: dict[str, float]  # train / valid / test shares of users
    seed: int

    def check(self) -> list[str]:
        problems = []
        stars = sorted(star for members in self.bins.values() for star in members)
        if stars != list(STARS):
            problems.append(f"bins: every star 1-5 must be in exactly one class (got {dict(self.bins)})")
        if len(self.bins) < 2:
            problems.append("bins: at least two classes are needed")
        empty = [name for name, members in self.bins.items() if not members]
        if empty:
            problems.append(f"bins: every class needs at least one star (empty: {', '.join(empty)})")
        if set(self.fractions) != set(SPLITS):
            problems.append(f"fractions: keys must be exactly {', '.join(SPLITS)} (got {', '.join(self.fractions)})")
        elif any(not 0 < share < 1 for share in self.fractions.values()) or abs(
            sum(self.fractions.values()) - 1
        ) > 1e-9:
            problems.append(f"fractions: each must be in (0, 1) and they must sum to 1 (got {dict(self.fractions)})")
        return problems


@dataclass(frozen=True)
class YelpFiles:
    reviews: str
    businesses: str


@dataclass(frozen=True)
class AmazonFiles:
    reviews: str
    metadata: str | None


@dataclass(frozen=True)
class RatingsFiles:
    """A table of ratings without review text (parquet, or CSV by its .csv / .csv.gz name) and the columns read."""

    ratings: str
    items: str | None  # optional item table, read into businesses.parquet; its id column is item_column
    user_column: str
    item_column: str
    rating_column: str
    date_column: str | None  # ISO 8601 date strings; at most one of date_column and timestamp_column
    timestamp_column: str | None  # Unix seconds
    item_name_column: str | None  # in the item table
    item_categories_column: str | None  # in the item table: a comma-separated string or a list of names

    def check(self) -> list[str]:
        problems = []
        if self.date_column is not None and self.timestamp_column is not None:
            problems.append("date_column, timestamp_column: give at most one of them (the other null)")
        if self.items is None:
            problems += [
                f"{key}: needs an item table (items is null)"
                for key in ("item_name_column", "item_categories_column")
                if getattr(self, key) is not None
            ]
        keys = ("user_column", "item_column", "rating_column", "date_column", "timestamp_column")
        given = [getattr(self, key) for key in keys if getattr(self, key) is not None]
        if len(set(given)) < len(given):
            problems.append(f"{', '.join(keys)}: must name different columns (got {given})")
        return problems


@dataclass(frozen=True)
class DataConfig:
    source: Literal["demo", "yelp", "amazon", "ratings"]  # ratings: no review text, so text-free models only
    yelp: YelpFiles
    amazon: AmazonFiles
    ratings: RatingsFiles


TEXT_FREE_SOURCES = frozenset({"ratings"})  # data.source values whose reviews have no text


def require_text(source: str, consequence: str) -> None:
    """Refuse, before any work, a stage that reads review text when ``data.source`` (``source``) gives none."""
    if source in TEXT_FREE_SOURCES:
        raise PipelineError(
            f"data.source is {source!r}: these reviews have no text, so {consequence}; run the text-free models "
            "alone: dvc repro train@majority train@star_history train@mf train@bpr (or any models entry of family "
            "majority, star_history, mf or bpr; hft reads text too)"
        )

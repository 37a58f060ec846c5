"""Params sections of the data stages (ingest, filter, sample, split), kept apart from their code so that
validating params.yaml (which every stage does first) never imports scipy, pulp or pyarrow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sasnet.errors import PipelineError

SPLITS = ("train", "valid", "test")
STARS = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class DemoConfig:
    seed: int
    n_users: int
    n_businesses: int
    # Reviews per user: lognormal with this median and log-sd (the heavy tail), capped at n_businesses.
    user_reviews_median: float
    user_reviews_log_sd: float
    # Log-sd of business popularity: how unevenly reviews spread over businesses.
    business_popularity_log_sd: float
    # How strongly a user's category taste steers which businesses they review.
    category_choice_strength: float
    # Latent utility terms (standard deviations) and the rating noise.
    quality_sd: float
    harshness_sd: float
    aspect_sd: float
    aspect_taste_concentration: float  # Dirichlet concentration of a user's aspect weights; small = picky
    category_taste_sd: float
    noise_sd: float
    # Text: noise of an aspect remark's tone around the business's aspect quality, and of the verdict's tone
    # around the stars (in star steps).
    mention_tone_sd: float
    verdict_tone_sd: float
    # Share of a user's reviews that state how demanding they are, and that statement's noise (in harshness sds).
    disposition_rate: float
    disposition_tone_sd: float
    min_words: int
    max_words: int
    star_shares: list[float]  # target share of 1..5 stars
    first_year: int
    last_year: int

    def check(self) -> list[str]:
        problems = []
        if self.n_users < 10:
            problems.append("n_users: must be >= 10")
        if self.n_businesses < 10:
            problems.append("n_businesses: must be >= 10")
        if self.user_reviews_median < 1:
            problems.append("user_reviews_median: must be >= 1")
        for name in ("user_reviews_log_sd", "business_popularity_log_sd", "category_choice_strength", "quality_sd",
                     "harshness_sd", "aspect_sd", "category_taste_sd", "mention_tone_sd", "verdict_tone_sd",
                     "disposition_tone_sd"):
            if getattr(self, name) < 0:
                problems.append(f"{name}: must be >= 0")
        if self.noise_sd <= 0:
            problems.append("noise_sd: must be > 0 (star probabilities need rating noise)")
        if not 0 <= self.disposition_rate <= 1:
            problems.append("disposition_rate: must be in [0, 1]")
        if self.aspect_taste_concentration <= 0:
            problems.append("aspect_taste_concentration: must be > 0")
        if not 10 <= self.min_words < self.max_words:
            problems.append("min_words: must be >= 10 and below max_words")
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

    chunk_lines: int
    """Lines parsed per chunk. Bounds memory (a few KB per Yelp line) and is the parquet row-group size."""
    max_rejected_fraction: float
    """Fail when more than this fraction of the review lines is quarantined: that is a wrong file, not noise."""
    quarantine_max_chars: int
    """Characters of each rejected raw line kept in the quarantine file."""

    def check(self) -> list[str]:
        problems = []
        if self.chunk_lines < 1:
            problems.append(f"chunk_lines: must be at least 1, got {self.chunk_lines}")
        if not 0.0 <= self.max_rejected_fraction <= 1.0:
            problems.append(f"max_rejected_fraction: must be between 0 and 1, got {self.max_rejected_fraction}")
        if self.quarantine_max_chars < 0:
            problems.append(f"quarantine_max_chars: must be at least 0, got {self.quarantine_max_chars}")
        return problems


@dataclass(frozen=True)
class FilterConfig:
    min_user_reviews: int
    min_business_reviews: int

    def check(self) -> list[str]:
        return [
            f"{name}: must be >= 1 (got {value})"
            for name, value in (
                ("min_user_reviews", self.min_user_reviews),
                ("min_business_reviews", self.min_business_reviews),
            )
            if value < 1
        ]


@dataclass(frozen=True)
class SampleConfig:
    method: Literal["lp", "none"]
    target_users: int
    reviews_per_user: int
    target_businesses: int
    reviews_per_business: int
    solver: Literal["highs", "cbc"]
    time_limit_s: float  # per LP solve
    bound_lp_max_reviews: int  # above this many reviews, report the counting bound instead of the LP relaxation
    seed: int  # breaks ties between equally dense vertices and picks the top-up reviews

    def check(self) -> list[str]:
        problems = [
            f"{name}: must be >= 1, got {getattr(self, name)}"
            for name in ("target_users", "reviews_per_user", "target_businesses", "reviews_per_business")
            if getattr(self, name) < 1
        ]
        if self.time_limit_s <= 0:
            problems.append(f"time_limit_s: must be > 0, got {self.time_limit_s}")
        if self.bound_lp_max_reviews < 0:
            problems.append(f"bound_lp_max_reviews: must be >= 0, got {self.bound_lp_max_reviews}")
        return problems


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

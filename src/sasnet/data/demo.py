"""Seeded generator of a Yelp-like review set in Yelp's exact schema, with the latent truth behind every rating.

Ratings come from an ordered-probit model. Each review's latent utility is

    utility = business quality + aspect match + category taste - user harshness + noise,

where the aspect match is the user's taste weights (over ``ASPECT_SLOTS``) dotted with the business's aspect
profile, and the category taste is the user's liking for the business's main category. Star thresholds are
calibrated so the expected star histogram equals ``star_shares``.

The text shows the latents, so a model reading a user's and a business's other reviews can recover them:
aspect remarks describe the business's aspect quality (not the rating), the aspects a user writes about follow
their taste weights, the verdict follows the stars, so a harsh user's verdicts sit below the aspect remarks, and
some reviews say how demanding their writer is (graded by the user's harshness).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import ndtr, ndtri

from sasnet.config import rule_problems
from sasnet.data import yelp_vocabulary as vocab
from sasnet.data.configs import DemoConfig
from sasnet.data.splitting import star_to_class
from sasnet.io import atomic_path

REVIEW_COLUMNS = ("review_id", "user_id", "business_id", "stars", "useful", "funny", "cool", "text", "date")
BUSINESS_COLUMNS = ("business_id", "name", "address", "city", "state", "postal_code", "latitude", "longitude",
                    "stars", "review_count", "is_open", "attributes", "categories", "hours")
# The SASNet task's classes as star ranges (inclusive).

_MAIN_NAMES = tuple(vocab.MAIN_CATEGORIES)
_N_SLOTS = len(vocab.ASPECT_SLOTS)
_UNIFORMS_PER_REVIEW = 64  # more than one review's text ever consumes
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass
class DemoDataset:
    reviews: pd.DataFrame  # Yelp review schema, REVIEW_COLUMNS
    businesses: pd.DataFrame  # Yelp business schema, BUSINESS_COLUMNS; only businesses with reviews
    truth: pd.DataFrame  # per review: utility_mean, p_star_1..p_star_5 and the latent terms behind them
    star_thresholds: np.ndarray  # the ordered-probit cut points between 1..5 stars


def generate_demo(config: DemoConfig) -> DemoDataset:
    problems = rule_problems(config)
    if problems:
        raise ValueError("invalid DemoConfig: " + "; ".join(problems))
    rng = np.random.default_rng(config.seed)
    shops = _draw_businesses(config, rng)
    people = _draw_users(config, rng)
    user, business = _draw_pairs(config, rng, shops, people)

    main = shops["main"][business]
    aspect_match = np.einsum("ij,ij->i", people["aspect_weights"][user], shops["aspect_profile"][business])
    category_taste = people["category_taste"][user, main]
    utility_mean = shops["quality"][business] + aspect_match + category_taste - people["harshness"][user]
    thresholds = _calibrate_thresholds(utility_mean, config.noise_sd, config.star_shares)
    stars = 1 + np.searchsorted(thresholds, utility_mean + config.noise_sd * rng.standard_normal(len(user)))
    star_probs = np.diff(ndtr((np.r_[-np.inf, thresholds, np.inf][None, :] - utility_mean[:, None])
                              / config.noise_sd), axis=1)

    # An aspect remark's tone grades the aspect's quality (business quality + aspect deviation) against all
    # businesses' aspect qualities in equal shares: grading on the star cut points would call every business above
    # the top one "outstanding" alike, hiding a fifth of the quality range from the text.
    aspect_value = (shops["quality"][business, None] + shops["aspect_profile"][business]
                    + config.mention_tone_sd * rng.standard_normal((len(user), _N_SLOTS)))
    aspect_tone = 1 + np.searchsorted(_equal_share_cuts(len(vocab.TONE_WORDS)) * np.hypot(config.quality_sd,
                                                                                          config.aspect_sd),
                                      aspect_value)
    verdict_tone = np.clip(stars[:, None] + np.rint(config.verdict_tone_sd * rng.standard_normal((len(user), 2))),
                           1, 5).astype(int)
    # Aspects a review talks about: weighted sampling without replacement (Gumbel top-k) by the user's taste.
    mention_order = np.argsort(-(np.log(people["aspect_weights"][user]) + rng.gumbel(size=(len(user), _N_SLOTS))),
                               axis=1)
    uniforms = rng.random((len(user), _UNIFORMS_PER_REVIEW))
    disposition = _disposition_levels(people["harshness"][user], config, rng)
    texts = [
        _write_review(config, shops, people, user[i], business[i], mention_order[i], aspect_tone[i],
                      verdict_tone[i], disposition[i], _Draws(uniforms[i]))
        for i in range(len(user))
    ]

    review_ids = _yelp_ids(rng, len(user))
    reviews = pd.DataFrame({
        "review_id": review_ids,
        "user_id": people["user_id"][user],
        "business_id": shops["business_id"][business],
        "stars": stars.astype(float),
        "useful": rng.negative_binomial(0.5, 0.35, len(user)),
        "funny": rng.negative_binomial(0.2, 0.5, len(user)),
        "cool": rng.negative_binomial(0.3, 0.45, len(user)),
        "text": texts,
        "date": _random_dates(rng, len(user), config.first_year, config.last_year),
    }, columns=list(REVIEW_COLUMNS))
    truth = pd.DataFrame({
        "review_id": review_ids,
        "utility_mean": utility_mean,
        **{f"p_star_{k}": star_probs[:, k - 1] for k in range(1, 6)},
        "business_quality": shops["quality"][business],
        "aspect_match": aspect_match,
        "category_taste": category_taste,
        "user_harshness": people["harshness"][user],
    })
    return DemoDataset(
        reviews=reviews,
        businesses=_business_table(rng, shops, business, stars),
        truth=truth,
        star_thresholds=thresholds,
    )


def write_yelp_json(dataset: DemoDataset, folder: Path) -> tuple[Path, Path]:
    """Write the review and business files as Yelp ships them: compact JSON lines in Yelp's key order."""
    paths = (Path(folder) / "yelp_academic_dataset_review.json", Path(folder) / "yelp_academic_dataset_business.json")
    for frame, columns, path in zip((dataset.reviews, dataset.businesses), (REVIEW_COLUMNS, BUSINESS_COLUMNS), paths):
        # Yelp's encoder escapes "/" (as in "Heating & Air Conditioning\/HVAC"); "/" only occurs inside strings.
        lines = [json.dumps(record, separators=(",", ":")).replace("/", "\\/")
                 for record in frame[list(columns)].to_dict(orient="records")]
        with atomic_path(path) as tmp:
            tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return paths


class _Draws:
    """Hands out one review's pre-drawn uniforms, so composing text makes no per-call RNG requests."""

    def __init__(self, row: np.ndarray):
        self._values = iter(row.tolist())

    def chance(self, probability: float) -> bool:
        return next(self._values) < probability

    def pick(self, options):
        return options[int(next(self._values) * len(options))]


def _draw_businesses(config: DemoConfig, rng: np.random.Generator) -> dict:
    n = config.n_businesses
    shares = np.array([spec[1] for spec in vocab.MAIN_CATEGORIES.values()])
    main = rng.choice(len(_MAIN_NAMES), size=n, p=shares / shares.sum())
    n_subcategories = rng.integers(1, 4, size=n)
    categories, subcategories, names = [], [], []
    for i in range(n):
        _, _, also_listed, subs = vocab.MAIN_CATEGORIES[_MAIN_NAMES[main[i]]]
        chosen = [str(s) for s in rng.choice(list(subs), size=min(n_subcategories[i], len(subs)), replace=False)]
        listed = [_MAIN_NAMES[main[i]], *also_listed, *chosen]
        categories.append(", ".join(listed[j] for j in rng.permutation(len(listed))))
        subcategories.append(chosen)
        names.append(f"{vocab.NAME_PREFIXES[rng.integers(len(vocab.NAME_PREFIXES))]} {subs[chosen[0]][0]}")
    return {
        "business_id": np.array(_yelp_ids(rng, n), dtype=object),
        "main": main,
        "categories": categories,
        "subcategories": subcategories,
        "name": names,
        "quality": config.quality_sd * rng.standard_normal(n),
        "aspect_profile": config.aspect_sd * rng.standard_normal((n, _N_SLOTS)),
        "log_popularity": config.business_popularity_log_sd * rng.standard_normal(n),
    }


def _draw_users(config: DemoConfig, rng: np.random.Generator) -> dict:
    n = config.n_users
    n_reviews = np.rint(config.user_reviews_median * np.exp(config.user_reviews_log_sd * rng.standard_normal(n)))
    return {
        "user_id": np.array(_yelp_ids(rng, n), dtype=object),
        "n_reviews": np.clip(n_reviews, 1, config.n_businesses).astype(int),
        "harshness": config.harshness_sd * rng.standard_normal(n),
        "aspect_weights": rng.dirichlet(np.full(_N_SLOTS, config.aspect_taste_concentration), size=n) + 1e-12,
        "category_taste": config.category_taste_sd * rng.standard_normal((n, len(_MAIN_NAMES))),
        # Writing style: how many aspects and asides, a signature opener and closer, and punctuation habits.
        "n_mentions": rng.integers(2, 5, size=n),
        "n_asides": rng.integers(0, 3, size=n),
        "opener": rng.integers(len(vocab.OPENERS), size=n),
        "closer": rng.integers(len(vocab.CLOSERS), size=n),
        "opener_rate": rng.beta(2, 2, size=n),
        "closer_rate": rng.beta(1, 3, size=n),
        "exclaim_rate": rng.beta(1, 4, size=n),
        "hedge_rate": rng.beta(1, 3, size=n),
    }


def _draw_pairs(config: DemoConfig, rng: np.random.Generator, shops: dict,
                people: dict) -> tuple[np.ndarray, np.ndarray]:
    """Each user reviews their n_reviews highest-keyed businesses: popularity-and-taste-weighted sampling
    without replacement (Gumbel top-k), so no (user, business) pair repeats."""
    keys = (shops["log_popularity"][None, :]
            + config.category_choice_strength * people["category_taste"][:, shops["main"]]
            + rng.gumbel(size=(config.n_users, config.n_businesses)))
    ranked = np.argsort(-keys, axis=1)
    chosen = np.arange(config.n_businesses)[None, :] < people["n_reviews"][:, None]
    user = np.nonzero(chosen)[0]
    return user, ranked[chosen]


def _calibrate_thresholds(utility_mean: np.ndarray, noise_sd: float, star_shares) -> np.ndarray:
    """Ordered-probit cut points whose expected star histogram over these reviews equals ``star_shares``."""
    cumulative = np.cumsum(star_shares)[:-1]
    low, high = utility_mean.min() - 10 * noise_sd, utility_mean.max() + 10 * noise_sd
    return np.array([brentq(lambda t: ndtr((t - utility_mean) / noise_sd).mean() - c, low, high)
                     for c in cumulative])


def demo_oracle(dataset: DemoDataset, bins: Mapping[str, Sequence[int]]) -> dict:
    """Bayes-optimal accuracy of the task ``bins`` defines (class -> its stars, as split.bins), on the whole demo."""
    stars = dataset.reviews["stars"].to_numpy(dtype=np.int64)
    star_probs = dataset.truth[[f"p_star_{k}" for k in range(1, 6)]].to_numpy()
    class_probs = np.stack([star_probs[:, np.asarray(members) - 1].sum(axis=1) for members in bins.values()], axis=1)
    labels = star_to_class(bins)[stars]
    class_shares = np.bincount(labels, minlength=len(bins)) / len(labels)
    return {
        "definition": (f"Bayes-optimal accuracy of the {len(bins)}-class task of split.bins given the latents: "
                       "predict the class with the largest P(class | latents). expected = mean of that largest "
                       "probability; realised = accuracy of the rule on the generated labels."),
        "bins": {name: list(members) for name, members in bins.items()},
        "n_reviews": int(len(labels)),
        "bayes_accuracy_expected": float(class_probs.max(axis=1).mean()),
        "bayes_accuracy_realised": float((class_probs.argmax(axis=1) == labels).mean()),
        "majority_class_accuracy": float(class_shares.max()),
        "class_shares": dict(zip(bins, class_shares.tolist())),
        "star_shares": {str(k): float((stars == k).mean()) for k in range(1, 6)},
        "star_thresholds": dataset.star_thresholds.tolist(),
    }


def _equal_share_cuts(levels: int) -> np.ndarray:
    """Cut points splitting a standard normal into ``levels`` equally likely grades."""
    return ndtri(np.arange(1, levels) / levels)


def _disposition_levels(harshness: np.ndarray, config: DemoConfig, rng: np.random.Generator) -> np.ndarray:
    """1 (lenient) .. 5 (harsh): the writer's harshness in standard units plus noise, in equally likely grades."""
    standard = harshness / config.harshness_sd if config.harshness_sd > 0 else np.zeros_like(harshness)
    noisy = standard + config.disposition_tone_sd * rng.standard_normal(len(harshness))
    return 1 + np.searchsorted(_equal_share_cuts(len(vocab.DISPOSITION_PHRASES)), noisy)


def _sentence(text: str, end: str = ".") -> str:
    return text[0].upper() + text[1:] + end


def _write_review(config, shops, people, user, business, mention_order, aspect_tone, verdict_tone, disposition,
                  draws: _Draws) -> str:
    family, _, _, subs = vocab.MAIN_CATEGORIES[_MAIN_NAMES[shops["main"][business]]]
    aspects = vocab.ASPECT_FAMILIES[family]
    end = "!" if draws.chance(people["exclaim_rate"][user]) else "."

    head = []
    if draws.chance(people["opener_rate"][user]):
        head.append(vocab.OPENERS[people["opener"][user]].format(name=shops["name"][business]))
    item = draws.pick(subs[draws.pick(shops["subcategories"][business])][1])
    head.append(draws.pick(vocab.VISIT_FRAMES[family]).format(item=item))
    if draws.chance(config.disposition_rate):
        head.append(_sentence(draws.pick(vocab.DISPOSITION_PHRASES[disposition]), end))

    mentions = []
    for slot in mention_order[: people["n_mentions"][user]]:
        _, nouns, praise, complaints = aspects[vocab.ASPECT_SLOTS[slot]]
        tone = aspect_tone[slot]
        clause = draws.pick(vocab.ASPECT_FRAMES).format(noun=draws.pick(nouns), tone=draws.pick(vocab.TONE_WORDS[tone]))
        if draws.chance(people["hedge_rate"][user]):
            clause = f"{draws.pick(vocab.HEDGES)} {clause}"
        # Middling aspects get either kind of remark, so a remark alone does not pin the tone.
        praising = tone >= 4 or (tone == 3 and draws.chance(0.5))
        remark = draws.pick(praise if praising else complaints)
        mentions.append(_sentence(f"{clause}, though {remark}" if tone == 3 else f"{clause}: {remark}", end))

    tail = [
        _sentence(draws.pick(vocab.VERDICT_FRAMES).format(tone=draws.pick(vocab.TONE_WORDS[verdict_tone[0]])), end),
        _sentence(draws.pick(vocab.RETURN_PHRASES[verdict_tone[1]]), end),
    ]
    if draws.chance(people["closer_rate"][user]):
        tail.append(vocab.CLOSERS[people["closer"][user]])

    # Asides pad short reviews up to min_words; long ones lose asides, then late mentions, down to max_words.
    first_aside = draws.pick(range(len(vocab.FILLER_REMARKS)))
    n_asides = people["n_asides"][user]

    def assemble() -> list[str]:
        asides = [vocab.FILLER_REMARKS[(first_aside + j) % len(vocab.FILLER_REMARKS)] for j in range(n_asides)]
        return head + asides + mentions + tail

    def word_count() -> int:
        return sum(len(sentence.split()) for sentence in assemble())

    while word_count() < config.min_words and n_asides < len(vocab.FILLER_REMARKS):
        n_asides += 1
    while word_count() > config.max_words and n_asides > 0:
        n_asides -= 1
    while word_count() > config.max_words and len(mentions) > 1:
        mentions.pop()
    return " ".join(assemble())


def _yelp_ids(rng: np.random.Generator, n: int) -> list[str]:
    """Yelp ids are 16 random bytes in url-safe base64 without padding: 22 characters."""
    raw = rng.bytes(16 * n)
    return [base64.urlsafe_b64encode(raw[i:i + 16])[:22].decode() for i in range(0, 16 * n, 16)]


def _random_dates(rng: np.random.Generator, n: int, first_year: int, last_year: int) -> list[str]:
    start = pd.Timestamp(f"{first_year}-01-01")
    span_s = int((pd.Timestamp(f"{last_year + 1}-01-01") - start).total_seconds())
    moments = start + pd.to_timedelta(rng.integers(0, span_s, size=n), unit="s")
    return list(moments.strftime("%Y-%m-%d %H:%M:%S"))


def _business_table(rng: np.random.Generator, shops: dict, review_business: np.ndarray,
                    stars: np.ndarray) -> pd.DataFrame:
    """Yelp's business records for the businesses that got reviews; stars are the mean rounded to half stars."""
    counts = np.bincount(review_business, minlength=len(shops["name"]))
    mean_stars = np.bincount(review_business, weights=stars, minlength=len(counts)) / np.maximum(counts, 1)
    kept = np.nonzero(counts)[0]
    city = rng.integers(len(vocab.CITIES), size=len(kept))
    lat = np.array([vocab.CITIES[c][2] for c in city]) + 0.05 * rng.standard_normal(len(kept))
    lon = np.array([vocab.CITIES[c][3] for c in city]) + 0.05 * rng.standard_normal(len(kept))
    return pd.DataFrame({
        "business_id": shops["business_id"][kept],
        "name": [shops["name"][b] for b in kept],
        "address": [f"{rng.integers(1, 9999)} {vocab.STREETS[rng.integers(len(vocab.STREETS))]}" for _ in kept],
        "city": [vocab.CITIES[c][0] for c in city],
        "state": [vocab.CITIES[c][1] for c in city],
        "postal_code": [f"{vocab.CITIES[c][4]}{rng.integers(100):02d}" for c in city],
        "latitude": np.round(lat, 7),
        "longitude": np.round(lon, 7),
        "stars": np.rint(mean_stars[kept] * 2) / 2,
        "review_count": counts[kept],
        "is_open": (rng.random(len(kept)) < 0.8).astype(int),
        "attributes": [_attributes(rng, vocab.MAIN_CATEGORIES[_MAIN_NAMES[shops["main"][b]]][0]) for b in kept],
        "categories": [shops["categories"][b] for b in kept],
        "hours": [_hours(rng) for _ in kept],
    }, columns=list(BUSINESS_COLUMNS))


def _attributes(rng: np.random.Generator, family: str) -> dict | None:
    """A few attributes spelled as Yelp spells them (string values, Python-repr quirks included)."""
    if rng.random() < 0.1:
        return None
    attributes = {"BusinessAcceptsCreditCards": "True" if rng.random() < 0.95 else "False"}
    if family in ("dining", "drinks"):
        attributes["RestaurantsPriceRange2"] = str(rng.integers(1, 5))
        attributes["WiFi"] = ("u'free'", "u'no'", "'paid'")[rng.integers(3)]
        attributes["OutdoorSeating"] = "True" if rng.random() < 0.4 else "False"
    else:
        attributes["ByAppointmentOnly"] = "True" if rng.random() < 0.5 else "False"
    return attributes


def _hours(rng: np.random.Generator) -> dict | None:
    if rng.random() < 0.15:
        return None
    opens, closes = rng.integers(6, 12), rng.integers(17, 24)
    open_days = _WEEKDAYS if rng.random() < 0.6 else _WEEKDAYS[:6]
    return {day: f"{opens}:0-{closes}:0" for day in open_days}

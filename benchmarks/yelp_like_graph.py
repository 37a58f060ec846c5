"""Synthetic review graphs whose degrees look like Yelp's after its k-core filter.

Yelp's filtered graph (users >= 10 reviews, businesses >= 20) has heavy-tailed degrees on both sides: most users
write a few dozen reviews, a few write thousands. Each side's degrees here follow a truncated Pareto law whose
exponent is solved so the mean matches the requested one. Users get exactly their degree in review slots; each slot
picks a business with probability proportional to the business's drawn degree (a Chung-Lu pairing), duplicates are
dropped and the same k-core filter as the pipeline is applied, so the result is a valid input for the sampler.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq


def _pareto_exponent(minimum: float, maximum: float, mean: float) -> float:
    """Exponent of the Pareto law on [minimum, maximum] with the given mean."""
    if not minimum < mean < maximum:
        raise ValueError(f"the mean degree must lie strictly between {minimum} and {maximum}, got {mean}")

    def truncated_mean(alpha: float) -> float:
        ratio = (minimum / maximum) ** alpha
        return minimum * alpha / (alpha - 1) * (1 - ratio * maximum / minimum) / (1 - ratio)

    return brentq(lambda alpha: truncated_mean(alpha) - mean, 1.0001, 20.0)


def heavy_tailed_degrees(
    rng: np.random.Generator, count: int, minimum: int, mean: float, maximum: int
) -> np.ndarray:
    alpha = _pareto_exponent(minimum, maximum + 1, mean + 0.5)  # +0.5: flooring lowers the mean by about a half
    tail_mass = 1 - (minimum / (maximum + 1)) ** alpha
    draws = minimum / (1 - rng.random(count) * tail_mass) ** (1 / alpha)
    return np.floor(draws).astype(np.int64)


def k_core(
    user: np.ndarray, business: np.ndarray, min_user_reviews: int, min_business_reviews: int
) -> np.ndarray:
    """Mask of the reviews left once every user has >= min_user_reviews and every business >= min_business_reviews."""
    keep = np.ones(len(user), dtype=bool)
    while True:
        user_degree = np.bincount(user[keep], minlength=user.max() + 1)
        business_degree = np.bincount(business[keep], minlength=business.max() + 1)
        still = keep & (user_degree[user] >= min_user_reviews) & (business_degree[business] >= min_business_reviews)
        if still.sum() == keep.sum():
            return keep
        keep = still


def yelp_like_graph(
    n_users: int,
    n_businesses: int,
    mean_user_reviews: float,
    mean_business_reviews: float,
    seed: int,
    min_user_reviews: int = 10,
    min_business_reviews: int = 20,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (user, business) integer codes of the reviews of a seeded Yelp-like graph, k-core filtered.

    The sizes are those drawn before the filter; it removes a few percent of the users and businesses.
    """
    rng = np.random.default_rng(seed)
    user_degree = heavy_tailed_degrees(rng, n_users, min_user_reviews, mean_user_reviews, n_businesses // 10)
    business_weight = heavy_tailed_degrees(
        rng, n_businesses, min_business_reviews, mean_business_reviews, n_users // 10
    )
    user = np.repeat(np.arange(n_users), user_degree)
    business = rng.choice(n_businesses, size=len(user), p=business_weight / business_weight.sum())
    pairs = np.unique(user * n_businesses + business)
    user, business = pairs // n_businesses, pairs % n_businesses
    keep = k_core(user, business, min_user_reviews, min_business_reviews)
    order = rng.permutation(int(keep.sum()))  # review files are not sorted by user
    return user[keep][order], business[keep][order]

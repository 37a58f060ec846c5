"""The review sampler against the exact binary program, its checker, its bound and its errors."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pulp
import pytest

from sasnet.config import rule_problems
from sasnet.data.configs import SampleConfig
from sasnet.data.sampling import InfeasibleTargetsError, coverage_problems, sample_reviews
from yelp_like_graph import yelp_like_graph  # benchmarks/ is on pytest's pythonpath


def config(**overrides) -> SampleConfig:
    base = SampleConfig(
        method="lp", target_users=8, reviews_per_user=3, target_businesses=5, reviews_per_business=4,
        solver="highs", time_limit_s=60.0, bound_lp_max_reviews=100_000, seed=0,
    )
    return replace(base, **overrides)


def exact_optimum(user: np.ndarray, business: np.ndarray, cfg: SampleConfig) -> int:
    """The fewest kept reviews, from the naive binary program (a variable per review), fine at this size."""
    problem = pulp.LpProblem("exact", pulp.LpMinimize)
    kept = [problem.add_variable(f"k{i}", cat="Binary") for i in range(len(user))]
    problem += pulp.lpSum(kept)
    for name, codes, quota, target in (
        ("u", user, cfg.reviews_per_user, cfg.target_users),
        ("b", business, cfg.reviews_per_business, cfg.target_businesses),
    ):
        covers = []
        for vertex in np.unique(codes):
            reviews = np.flatnonzero(codes == vertex)
            if len(reviews) >= quota:
                covers.append(problem.add_variable(f"{name}{vertex}", cat="Binary"))
                problem += pulp.lpSum(kept[i] for i in reviews) >= quota * covers[-1]
        problem += pulp.lpSum(covers) >= target
    problem.solve(pulp.HiGHS(msg=False))
    assert problem.sol_status == pulp.LpSolutionOptimal
    return round(pulp.value(problem.objective))


def random_instances(count: int):
    """Small random graphs with feasible random targets, and their exact optimum."""
    rng = np.random.default_rng(7)
    while count:
        n_users, n_businesses = rng.integers(20, 45), rng.integers(15, 30)
        user, business = np.nonzero(rng.random((n_users, n_businesses)) < rng.uniform(0.1, 0.35))
        cfg = config(
            target_users=int(rng.integers(3, n_users // 2)), reviews_per_user=int(rng.integers(2, 5)),
            target_businesses=int(rng.integers(2, n_businesses // 2)), reviews_per_business=int(rng.integers(3, 7)),
        )
        if (np.bincount(user) >= cfg.reviews_per_user).sum() < cfg.target_users or (
            np.bincount(business) >= cfg.reviews_per_business
        ).sum() < cfg.target_businesses:
            continue
        count -= 1
        yield user, business, cfg, exact_optimum(user, business, cfg)


def test_close_to_the_exact_optimum_and_bound_below_it():
    outcomes = []
    for user, business, cfg, optimum in random_instances(25):
        result = sample_reviews(user, business, cfg)
        report = result.report
        assert coverage_problems(user, business, result.keep, cfg) == []
        assert report["objective"] == result.keep.sum() >= optimum
        assert report["bound"] <= optimum
        assert report["gap"] == pytest.approx(report["objective"] / report["bound"] - 1)
        outcomes.append((report["objective"], optimum, report["bound_kind"]))
    objective, optimum, kinds = map(np.array, zip(*outcomes))
    # A heuristic choice of covered vertices: almost always optimal, and at worst a couple of reviews off here.
    assert np.mean(objective == optimum) >= 0.8
    assert np.all(objective <= np.maximum(optimum * 1.1, optimum + 2))
    assert "lp_relaxation" in kinds and "counting" in kinds


def test_checker_reports_what_is_missing():
    user, business = np.nonzero(np.ones((10, 6), dtype=bool))
    cfg = config(target_users=4, reviews_per_user=3, target_businesses=2, reviews_per_business=5)
    keep = (user < 4) & (business < 3)  # 4 users x 3 reviews, but businesses get only 4 each
    assert coverage_problems(user, business, keep, cfg) == ["0 businesses keep >= 5 reviews; 2 required"]
    assert coverage_problems(user, business, np.ones_like(keep), cfg) == []


def test_infeasible_targets_name_the_largest_achievable():
    user, business = np.nonzero(np.ones((6, 4), dtype=bool))  # users have 4 reviews, businesses 6
    with pytest.raises(InfeasibleTargetsError, match="target_users=6, target_businesses=0"):
        sample_reviews(user, business, config(target_users=3, reviews_per_user=4, reviews_per_business=7))
    assert issubclass(InfeasibleTargetsError, ValueError)


def test_deterministic_for_any_id_type_and_seed_dependent_top_up():
    user, business = yelp_like_graph(800, 300, 14.0, 35.0, seed=1)
    cfg = config(target_users=40, reviews_per_user=10, target_businesses=15, reviews_per_business=20)
    first = sample_reviews(user, business, cfg)
    np.testing.assert_array_equal(first.keep, sample_reviews(user, business, cfg).keep)
    # Zero-padded so the string ids sort like the integer codes: ids are factorised in sorted order.
    as_strings = sample_reviews(np.char.zfill(user.astype(str), 6), np.char.zfill(business.astype(str), 6), cfg)
    np.testing.assert_array_equal(first.keep, as_strings.keep)
    assert not np.array_equal(first.keep, sample_reviews(user, business, replace(cfg, seed=1)).keep)


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_both_solvers_on_a_demo_sized_graph(solver):
    user, business = yelp_like_graph(1500, 500, 14.0, 40.0, seed=0)
    cfg = config(solver=solver, target_users=200, reviews_per_user=10, target_businesses=80, reviews_per_business=20,
                 bound_lp_max_reviews=20_000)
    report = sample_reviews(user, business, cfg).report
    assert report["solver_status"] == "Optimal"
    assert report["bound_kind"] == "lp_relaxation"
    assert report["gap"] <= 0.02
    assert report["seconds"]["total"] < 10


def test_method_none_keeps_everything():
    user, business = np.nonzero(np.ones((3, 3), dtype=bool))
    assert sample_reviews(user, business, config(method="none")).keep.all()


def test_config_check_names_the_field():
    assert rule_problems(config(target_users=0, time_limit_s=0.0)) == [
        "target_users: must be >= 1 (got 0)", "time_limit_s: must be > 0 (got 0.0)",
    ]


def test_real_yelp_density(shared_data):
    ratings = pd.read_parquet(shared_data("yelp-core40") / "ratings.parquet", columns=["user_id", "business_id"])
    cfg = config(target_users=500, reviews_per_user=10, target_businesses=200, reviews_per_business=20)
    result = sample_reviews(ratings["user_id"].to_numpy(), ratings["business_id"].to_numpy(), cfg)
    assert coverage_problems(ratings["user_id"].to_numpy(), ratings["business_id"].to_numpy(), result.keep, cfg) == []
    assert result.report["covered_users"] >= 500 and result.report["covered_businesses"] >= 200
    assert result.report["gap"] <= 0.02

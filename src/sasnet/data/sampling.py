"""Keep the fewest reviews that leave enough well-reviewed users and businesses (the paper's sampling LP).

Problem. Given a review graph (each review is an edge user-business), keep the fewest reviews such that at least
``target_users`` users keep >= ``reviews_per_user`` (r_u) reviews each and at least ``target_businesses``
businesses keep >= ``reviews_per_business`` (r_b) each. A kept review counts for its user and its business at once.

Formulation. Fix the covered sets U* (|U*| = target_users) and B* (|B*| = target_businesses). Every covered user
needs r_u kept reviews and every covered business r_b, and a review can serve both only if it joins U* to B*. So
the cheapest selection for fixed sets keeps exactly

    target_users * r_u + target_businesses * r_b - M(U*, B*)

reviews, where M is the largest number of "double-duty" reviews: a maximum b-matching on the reviews between U*
and B* with capacity r_u per user and r_b per business (the rest is topped up from any other reviews of the
covered vertices, which exist because only vertices with enough reviews are candidates). The whole problem is
therefore: choose U*, B* maximising M. We split it in two:

1. Choice of U*, B*: greedy peeling towards a dense subgraph. Starting from every user with >= r_u reviews and
   every business with >= r_b, repeatedly drop the vertices with the fewest reviews inside the surviving subgraph
   on the side furthest above its target, until both sides are exactly at their targets. Each round is a pair of
   numpy bincounts over the reviews and removes a fixed fraction of the excess, so the rounds grow only
   logarithmically with the graph.
2. M for the chosen sets: the b-matching LP (maximise the matched reviews subject to the two capacity rows). Its
   constraint matrix is a bipartite incidence matrix, hence totally unimodular, so the simplex optimum that pulp
   returns (HiGHS or CBC) is integral; no branch and bound is needed. The LP has one column per review inside
   U* x B*, a small fraction of the graph, which is why the 2.8M-review instance solves in well under a minute,
   where the binary program with a variable per review stalls at 100k reviews.

Quality. Any solution keeps >= max(target_users * r_u, target_businesses * r_b) reviews (the counting bound), and
at most target_users * r_u + target_businesses * r_b. When M saturates the smaller side the counting bound is
reached and the solution is optimal. Otherwise, on instances of at most ``bound_lp_max_reviews`` reviews, the
LP relaxation of the full binary program is solved for a tighter bound; the report gives the bound, its kind and
the gap. Every result is checked by ``coverage_problems``, which does not rely on any solver.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pulp

from sasnet.data.configs import SampleConfig
from sasnet.errors import PipelineError

log = logging.getLogger(__name__)

# Fraction of the excess over a target removed per peeling round: small enough that degrees are recomputed often
# near the targets, large enough that 100k vertices go in a few dozen rounds.
PEEL_FRACTION = 0.25


class InfeasibleTargetsError(PipelineError):
    """Not enough users or businesses have the required number of reviews, even keeping everything."""


class SolverError(PipelineError):
    """The LP solver failed or ran out of time; the message says which LP and what to change."""


@dataclass
class SampleResult:
    keep: np.ndarray  # bool mask over the input reviews
    report: dict  # JSON-ready metrics


class _Sides(NamedTuple):
    """One value per side of the review graph."""

    user: Any
    business: Any


@dataclass(frozen=True)
class _Graph:
    user: np.ndarray  # integer code per review
    business: np.ndarray
    n_users: int
    n_businesses: int

    @classmethod
    def from_ids(cls, user_ids: np.ndarray, business_ids: np.ndarray) -> _Graph:
        user, users = pd.factorize(np.asarray(user_ids), sort=True)
        business, businesses = pd.factorize(np.asarray(business_ids), sort=True)
        return cls(user.astype(np.int64), business.astype(np.int64), len(users), len(businesses))

    def between(self, vertices: _Sides) -> np.ndarray:
        """Mask of the reviews joining a user and a business of ``vertices`` (masks over the codes)."""
        return vertices.user[self.user] & vertices.business[self.business]

    @property
    def codes(self) -> _Sides:
        return _Sides(self.user, self.business)

    def degree(self, side: int, mask: np.ndarray | None = None) -> np.ndarray:
        """Reviews per vertex of ``side`` (0 users, 1 businesses), among ``mask`` when given."""
        codes = self.codes[side]
        return np.bincount(codes if mask is None else codes[mask], minlength=(self.n_users, self.n_businesses)[side])


def coverage_problems(
    user_ids: np.ndarray, business_ids: np.ndarray, keep: np.ndarray, config: SampleConfig
) -> list[str]:
    """What the kept reviews fail to cover (empty when the targets are met); uses no solver."""
    graph = _Graph.from_ids(user_ids, business_ids)
    covered_users = int((graph.degree(0, keep) >= config.reviews_per_user).sum())
    covered_businesses = int((graph.degree(1, keep) >= config.reviews_per_business).sum())
    problems = []
    if covered_users < config.target_users:
        problems.append(
            f"{covered_users} users keep >= {config.reviews_per_user} reviews; {config.target_users} required"
        )
    if covered_businesses < config.target_businesses:
        problems.append(
            f"{covered_businesses} businesses keep >= {config.reviews_per_business} reviews;"
            f" {config.target_businesses} required"
        )
    return problems


def sample_reviews(user_ids: np.ndarray, business_ids: np.ndarray, config: SampleConfig) -> SampleResult:
    """Choose the reviews to keep; see the module docstring for the formulation."""
    started = time.perf_counter()
    graph = _Graph.from_ids(user_ids, business_ids)
    if config.method == "none":
        keep = np.ones(len(graph.user), dtype=bool)
        return SampleResult(keep, _describe(graph, keep, config) | {"seconds": {"total": _since(started)}})

    _require_feasible(graph, config)
    rng = np.random.default_rng(config.seed)
    tie_break = _Sides(rng.random(graph.n_users), rng.random(graph.n_businesses))
    eligible = _Sides(
        graph.degree(0) >= config.reviews_per_user, graph.degree(1) >= config.reviews_per_business
    )
    targets = _Sides(config.target_users, config.target_businesses)
    seconds = {}

    phase = time.perf_counter()
    covered = _peel(graph, eligible, targets, tie_break)
    seconds["peel"] = _since(phase)
    phase = time.perf_counter()
    double_duty, solver_status = _max_double_duty(graph, covered, config)
    seconds["matching_lp"] = _since(phase)

    phase = time.perf_counter()
    keep = _top_up(graph, double_duty, covered, config, rng)
    seconds["top_up"] = _since(phase)

    problems = coverage_problems(graph.user, graph.business, keep, config)
    if problems:
        raise RuntimeError("internal error, the sample misses its targets: " + "; ".join(problems))

    objective = int(keep.sum())
    phase = time.perf_counter()
    bound, bound_kind = _lower_bound(graph, objective, config)
    seconds["bound"] = _since(phase)
    seconds["total"] = _since(started)

    report = _describe(graph, keep, config) | {
        "objective": objective,
        "double_duty_reviews": int(double_duty.sum()),
        "bound": bound,
        "bound_kind": bound_kind,
        "gap": objective / bound - 1,
        "solver": config.solver,
        "solver_status": solver_status,
        "matching_lp_reviews": int(graph.between(covered).sum()),
        "seconds": seconds,
    }
    log.info("kept %d of %d reviews, bound %d (%s), gap %.2f%%",
             objective, len(keep), bound, bound_kind, 100 * report["gap"])
    return SampleResult(keep, report)


def _since(start: float) -> float:
    return round(time.perf_counter() - start, 3)


def _describe(graph: _Graph, keep: np.ndarray, config: SampleConfig) -> dict:
    user_degree, business_degree = graph.degree(0, keep), graph.degree(1, keep)
    return {
        "input_reviews": len(keep),
        "input_users": graph.n_users,
        "input_businesses": graph.n_businesses,
        "kept_reviews": int(keep.sum()),
        "kept_users": int((user_degree > 0).sum()),
        "kept_businesses": int((business_degree > 0).sum()),
        "covered_users": int((user_degree >= config.reviews_per_user).sum()),
        "covered_businesses": int((business_degree >= config.reviews_per_business).sum()),
    }


def _require_feasible(graph: _Graph, config: SampleConfig) -> None:
    # Keeping every review covers both sides at once, so the targets are feasible exactly when each side has
    # enough vertices with enough reviews.
    eligible_users = int((graph.degree(0) >= config.reviews_per_user).sum())
    eligible_businesses = int((graph.degree(1) >= config.reviews_per_business).sum())
    if eligible_users < config.target_users or eligible_businesses < config.target_businesses:
        raise InfeasibleTargetsError(
            f"targets cannot be met: {eligible_users} users have >= {config.reviews_per_user} reviews"
            f" (target_users={config.target_users}) and {eligible_businesses} businesses have"
            f" >= {config.reviews_per_business} (target_businesses={config.target_businesses});"
            f" the largest achievable targets are target_users={eligible_users},"
            f" target_businesses={eligible_businesses}"
        )


def _peel(graph: _Graph, alive: _Sides, sizes: _Sides, tie_break: _Sides) -> _Sides:
    """Masks of exactly ``sizes`` users and businesses out of ``alive``, found by greedy dense-subgraph peeling."""
    alive = _Sides(alive.user.copy(), alive.business.copy())
    while True:
        excess = [int(mask.sum()) - size for mask, size in zip(alive, sizes)]
        if excess == [0, 0]:
            return alive
        side = max((0, 1), key=lambda i: excess[i] / sizes[i])
        degree = graph.degree(side, graph.between(alive))
        candidates = np.flatnonzero(alive[side])
        order = np.lexsort((tie_break[side][candidates], degree[candidates]))
        alive[side][candidates[order[: math.ceil(excess[side] * PEEL_FRACTION)]]] = False


def _solve(problem: pulp.LpProblem, what: str, config: SampleConfig) -> str:
    """Solve ``problem`` to LP optimality with the configured solver; return pulp's status name or raise."""
    if config.solver == "highs":
        solver = pulp.HiGHS(msg=False, timeLimit=config.time_limit_s, solver="simplex")
    else:
        solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=config.time_limit_s, threads=1)
    try:
        problem.solve(solver)
    except pulp.PulpSolverError as error:
        raise SolverError(f"{config.solver} failed on the {what}: {error}") from None
    # With a time limit pulp may call a merely feasible point "Optimal"; sol_status tells them apart.
    if problem.sol_status != pulp.LpSolutionOptimal:
        raise SolverError(
            f"{config.solver} did not solve the {what} to optimality within time_limit_s={config.time_limit_s}"
            f" (status {pulp.LpStatus[problem.status]}, solution {pulp.LpSolution[problem.sol_status]});"
            " raise time_limit_s or try the other solver"
        )
    return pulp.LpStatus[problem.status]


def _groups(codes: np.ndarray) -> list[np.ndarray]:
    """Positions of each distinct code, in code order."""
    order = np.argsort(codes, kind="stable")
    starts = np.flatnonzero(np.diff(codes[order], prepend=-1))
    return np.split(order, starts[1:])


def _max_double_duty(graph: _Graph, covered: _Sides, config: SampleConfig) -> tuple[np.ndarray, str]:
    """Mask of a maximum b-matching on the reviews between ``covered`` vertices (the integral optimum of its LP)."""
    candidates = np.flatnonzero(graph.between(covered))
    log.info("solving the b-matching LP over %d reviews with %s", len(candidates), config.solver)
    problem = pulp.LpProblem("double_duty_reviews", pulp.LpMaximize)
    matched = [problem.add_variable(f"r{i}", 0, 1) for i in range(len(candidates))]
    problem += pulp.LpAffineExpression((var, 1) for var in matched)
    for codes, capacity in zip(graph.codes, (config.reviews_per_user, config.reviews_per_business)):
        for members in _groups(codes[candidates]):
            problem += pulp.LpAffineExpression((matched[i], 1) for i in members) <= capacity
    status = _solve(problem, "b-matching LP", config)
    # Total unimodularity makes the simplex optimum integral; rounding only absorbs floating-point noise.
    values = np.array([var.varValue for var in matched], dtype=float)
    double_duty = np.zeros(len(graph.user), dtype=bool)
    double_duty[candidates[values > 0.5]] = True
    return double_duty, status


def _top_up(graph: _Graph, keep: np.ndarray, covered: _Sides, config: SampleConfig, rng: np.random.Generator
            ) -> np.ndarray:
    """Add random further reviews of each covered vertex until it reaches its quota; return the new mask."""
    keep = keep.copy()
    priority = rng.random(len(keep))
    for codes, covered_side, quota in zip(
        graph.codes, covered, (config.reviews_per_user, config.reviews_per_business)
    ):
        shortfall = np.maximum(quota - np.bincount(codes[keep], minlength=len(covered_side)), 0) * covered_side
        spare = np.flatnonzero(~keep & (shortfall[codes] > 0))
        spare = spare[np.lexsort((priority[spare], codes[spare]))]
        spare_codes = codes[spare]
        rank = np.arange(len(spare)) - np.searchsorted(spare_codes, spare_codes)
        keep[spare[rank < shortfall[spare_codes]]] = True
    return keep


def _lower_bound(graph: _Graph, objective: int, config: SampleConfig) -> tuple[int, str]:
    """A lower bound on the optimum and its kind: the LP relaxation when useful and affordable, else counting."""
    counting = max(
        config.target_users * config.reviews_per_user, config.target_businesses * config.reviews_per_business
    )
    # The LP relaxation lies between the counting bound and the optimum, so it cannot improve a zero gap.
    if len(graph.user) > config.bound_lp_max_reviews or objective == counting:
        return counting, "counting"
    log.info("solving the LP relaxation of the full program over %d reviews for the bound", len(graph.user))
    problem = pulp.LpProblem("fewest_reviews_relaxation", pulp.LpMinimize)
    kept = [problem.add_variable(f"k{i}", 0, 1) for i in range(len(graph.user))]
    problem += pulp.LpAffineExpression((var, 1) for var in kept)
    for codes, degree, quota, target, name in (
        (graph.user, graph.degree(0), config.reviews_per_user, config.target_users, "u"),
        (graph.business, graph.degree(1), config.reviews_per_business, config.target_businesses, "b"),
    ):
        covers = {}
        for members in _groups(codes):
            code = int(codes[members[0]])
            if degree[code] >= quota:  # vertices with fewer reviews can never be covered
                covers[code] = problem.add_variable(f"{name}{code}", 0, 1)
                problem += pulp.LpAffineExpression((kept[i], 1) for i in members) >= quota * covers[code]
        problem += pulp.LpAffineExpression((var, 1) for var in covers.values()) >= target
    _solve(problem, "LP relaxation (bound)", config)
    # The optimum is an integer, so the fractional bound can be rounded up.
    return math.ceil(pulp.value(problem.objective) - 1e-6), "lp_relaxation"

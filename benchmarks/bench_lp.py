"""Benchmark the review sampler at the paper's scale: 2.8M reviews, targets 7,000 x 10 users and 3,000 x 20 businesses.

Usage: python benchmarks/bench_lp.py [--solvers highs cbc] [--seed 0]
Prints one markdown table row per solver. Peak RSS is the process's, so it includes generating the graph.
"""

from __future__ import annotations

import argparse
import logging
import resource
import time

from sasnet.data.sampling import SampleConfig, coverage_problems, sample_reviews
from yelp_like_graph import yelp_like_graph

# Drawn sizes chosen so that after the 10/20 k-core filter the graph is about Yelp's: 2.8M reviews, 103k users,
# 61k businesses.
GRAPH = {"n_users": 110_000, "n_businesses": 70_000, "mean_user_reviews": 27.5, "mean_business_reviews": 42.0}
PAPER_TARGETS = {"target_users": 7000, "reviews_per_user": 10, "target_businesses": 3000, "reviews_per_business": 20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--solvers", nargs="+", default=["highs", "cbc"], choices=["highs", "cbc"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    started = time.perf_counter()
    user, business = yelp_like_graph(**GRAPH, seed=args.seed)
    generated_s = time.perf_counter() - started

    rows = []
    for solver in args.solvers:
        config = SampleConfig(method="lp", **PAPER_TARGETS, solver=solver, time_limit_s=600.0,
                              bound_lp_max_reviews=20_000, seed=args.seed)
        result = sample_reviews(user, business, config)
        assert coverage_problems(user, business, result.keep, config) == []
        report = result.report
        phases = ", ".join(f"{name} {seconds:.1f}" for name, seconds in report["seconds"].items())
        peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows.append(
            f"| {solver} | {report['input_reviews']:,} / {report['input_users']:,} / {report['input_businesses']:,}"
            f" | {report['kept_reviews']:,} / {report['kept_users']:,} / {report['kept_businesses']:,}"
            f" | {report['objective']:,} | {report['bound']:,} ({report['bound_kind']}) | {100 * report['gap']:.2f}%"
            f" | {report['matching_lp_reviews']:,} | {phases} | {peak_rss_mb:,.0f} MB |"
        )

    print(f"\nGraph generated in {generated_s:.1f} s (seed {args.seed}).\n")
    print("| solver | input reviews / users / businesses | kept reviews / users / businesses | objective"
          " | bound (kind) | gap | matching LP columns | seconds per phase | peak RSS |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    from study_page import recording  # docs/studies/<driver>.md

    with recording(__file__):
        main()

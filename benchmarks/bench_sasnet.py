"""SASNet training speed at the paper's settings (params.yaml's sasnet section): seconds per epoch and examples/s.

Usage: python benchmarks/bench_sasnet.py [--device cpu|cuda] [--train-reviews 60000] [--input-dim 3072] [--epochs 5]

The paper's LP sample (75k reviews, 80% train) has about 60k train examples with 3072-d Phi-3 embeddings. Reviews
here are random vectors with random labels on a synthetic history graph (10 reviews per user, about 20 per
business), so the timing covers the whole epoch as the pipeline runs it: drawing the sets, gathering embeddings,
forward, backward and the validation pass. Prints one markdown table row.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import pandas as pd
import torch

from sasnet.histories import Histories
from sasnet.models.sasnet.training import EntitySets, train_sasnet
from sasnet.params import load_params

REVIEWS_PER_USER = 10
REVIEWS_PER_BUSINESS = 20


def synthetic_reviews(n_reviews: int, seed: int) -> pd.DataFrame:
    """A review table split by user 80/10/10, users with 10 reviews each, businesses with about 20."""
    rng = np.random.default_rng(seed)
    n_users = n_reviews // REVIEWS_PER_USER
    user = np.repeat(np.arange(n_users), REVIEWS_PER_USER)
    business = rng.integers(n_reviews // REVIEWS_PER_BUSINESS, size=len(user))
    split_of_user = np.array(["train", "valid", "test"])[np.digitize(rng.random(n_users), [0.8, 0.9])]
    return pd.DataFrame({"user_id": user, "business_id": business, "split": split_of_user[user]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--train-reviews", type=int, default=60_000)
    parser.add_argument("--input-dim", type=int, default=3072)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    config = dataclasses.replace(
        load_params().sasnet, epochs=args.epochs, patience=args.epochs, device=args.device
    )
    reviews = synthetic_reviews(int(args.train_reviews / 0.8), seed=config.seed)
    histories = Histories.from_reviews(reviews)
    rng = np.random.default_rng(config.seed)
    embeddings = rng.standard_normal((len(reviews), args.input_dim), dtype=np.float32)
    labels = rng.integers(3, size=len(reviews))

    def draw_sets(rows: np.ndarray, draw_rng: np.random.Generator) -> EntitySets:
        return EntitySets(*histories.draw_sets(histories.examples(rows), config.sample_size, draw_rng))

    started = time.perf_counter()
    result = train_sasnet(
        config,
        embeddings=embeddings,
        labels=labels,
        train_rows=histories.rows_of("train"),
        valid_rows=histories.rows_of("valid"),
        stars=rng.integers(1, 6, size=len(reviews)),
        draw_sets=draw_sets,
        class_names=("bad", "good", "excellent"),
    )
    total_s = time.perf_counter() - started
    device = next(result.model.parameters()).device
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(
        "| device | train examples | input dim | batch | parameters | epochs | s / epoch | train examples / s | total s |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print(
        f"| {name} | {len(histories.rows_of('train'))} | {args.input_dim} | {config.batch_size} | "
        f"{result.parameter_count:,} | {len(result.history)} | {result.seconds_per_epoch:.2f} | "
        f"{result.train_examples_per_second:,.0f} | {total_s:.1f} |"
    )


if __name__ == "__main__":
    from study_page import recording  # docs/studies/<driver>.md

    with recording(__file__):
        main()

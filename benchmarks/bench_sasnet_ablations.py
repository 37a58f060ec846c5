"""SASNet ablations on the pipeline's own data: each variant trained from scratch, scored on valid and test.

Usage: python benchmarks/bench_sasnet_ablations.py [--input llm] [--device auto] [--seeds 0 1 2]

Needs `dvc repro` to have run up to `normalize` (it reads data/split and data/normalized). Every variant is
params.yaml's train_sasnet with one change, trained with each seed; the table shows the mean and the spread over
seeds of valid and test accuracy and macro-F1, and the mean best epoch. The variants are the issue's ablations
(no cross-attention, fixed sets, set size) plus single-draw evaluation, the paper's protocol.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from sasnet.evaluation import load_model_data
from sasnet.models.review_sets import fit, split_probabilities
from sasnet.params import load_params, sasnet_config

VARIANTS = {
    "default": {},
    "no cross-attention": {"cross_attention": False},
    "fixed sets": {"resample_sets": False},
    "single draw (paper)": {"eval_draws": 1},
    "sample_size 3": {"sample_size": 3},
    "sample_size 9": {"sample_size": 9},
}


def run_variant(config, data, class_names) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        result = fit(config, data, class_names, Path(folder) / "model.safetensors", progress=False)
    scores = {"best_epoch": result.best_epoch, "seconds_per_epoch": result.seconds_per_epoch}
    for split in ("valid", "test"):
        predicted = split_probabilities(result.model, data, config, split).argmax(axis=1)
        truth = data.labels[data.histories.rows_of(split)]
        f1 = [2 * np.sum((predicted == k) & (truth == k)) / max(np.sum(predicted == k) + np.sum(truth == k), 1)
              for k in range(len(class_names))]
        scores |= {f"{split}_accuracy": float(np.mean(predicted == truth)), f"{split}_macro_f1": float(np.mean(f1))}
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default="llm", help="a train_sasnet.inputs key (default: %(default)s)")
    parser.add_argument("--device", default=None, choices=["auto", "cpu", "cuda"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()

    params = load_params()
    base = sasnet_config(params.train_sasnet)
    if args.device:
        base = dataclasses.replace(base, device=args.device)
    model_input = params.train_sasnet.inputs[args.input]
    data = load_model_data(model_input)
    rows = []
    for name in args.variants:
        for seed in args.seeds:
            config = dataclasses.replace(base, seed=seed, **VARIANTS[name])
            rows.append({"variant": name, "seed": seed, **run_variant(config, data, list(params.split.bins))})
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows).groupby("variant", sort=False)
    metrics = ["valid_accuracy", "valid_macro_f1", "test_accuracy", "test_macro_f1"]
    print(f"\nSASNet on {model_input.embedding}/{model_input.pooling}, seeds {args.seeds} (mean ± sd)\n")
    print("| variant | " + " | ".join(metrics) + " | best epoch | s / epoch |")
    print("| --- |" + " --- |" * (len(metrics) + 2))
    for name, group in table:
        cells = [f"{group[m].mean():.3f} ± {group[m].std(ddof=0):.3f}" for m in metrics]
        print(f"| {name} | " + " | ".join(cells)
              + f" | {group['best_epoch'].mean():.0f} | {group['seconds_per_epoch'].mean():.2f} |")


if __name__ == "__main__":
    main()

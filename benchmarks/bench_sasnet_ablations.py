"""SASNet ablations on the pipeline's own data: each variant trained from scratch, scored on valid and test.

Usage: python benchmarks/bench_sasnet_ablations.py [--model sasnet_llm] [--device auto] [--seeds 0 1 2]
       [--variants default ...]

Needs `dvc repro` to have run up to `normalize` (it reads data/split and data/normalized). Every variant is
params.yaml's sasnet section with one change, trained with each seed; the table shows the mean and the spread over
seeds of valid and test accuracy and macro-F1, and the mean best epoch. The variants are the issue's ablations
(no cross-attention, fixed sets, set size), single-draw evaluation (the paper's protocol), and fewer draws in
the per-epoch validation only (a cheaper epoch).
"""

from __future__ import annotations

import argparse
import dataclasses

import pandas as pd

from sasnet.classification import confusion_counts, confusion_scores
from sasnet.model_data import load_model_data
from sasnet.models.sasnet.model import SasnetRecommender
from sasnet.params import entry_config, load_params

VARIANTS = {
    "default": {},
    "no cross-attention": {"cross_attention": False},
    "fixed sets": {"resample_sets": False},
    "single draw (paper)": {"eval_draws": 1, "valid_draws": 1},
    "2 validation draws": {"valid_draws": 2},  # a cheaper epoch; the scores keep eval_draws
    "sample_size 3": {"sample_size": 3},
    "sample_size 9": {"sample_size": 9},
}


def run_variant(config, data, class_names) -> dict:
    """Train and score exactly as the train stage does."""
    model = SasnetRecommender(config, class_names, "classify")
    facts = model.fit(data, progress=False).facts
    scores = {"best_epoch": facts["best_epoch"], "seconds_per_epoch": facts["seconds_per_epoch"]}
    for split in ("valid", "test"):
        rows = data.rows_of(split)
        predicted = model.predict_proba(data, data.histories.examples(rows)).argmax(axis=1)
        split_scores = confusion_scores(confusion_counts(data.labels[rows], predicted, len(class_names)))
        scores |= {f"{split}_{name}": float(split_scores[name]) for name in ("accuracy", "macro_f1")}
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sasnet_llm", help="a SASNet entry of params.yaml's models (default: %(default)s)")
    parser.add_argument("--device", default=None, choices=["auto", "cpu", "cuda"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()

    params = load_params()
    base = entry_config(params, "models", args.model)
    if args.device:
        base = dataclasses.replace(base, device=args.device)
    entry = params.models[args.model]
    data = load_model_data(entry.loader_input)
    rows = []
    for name in args.variants:
        for seed in args.seeds:
            config = dataclasses.replace(base, seed=seed, **VARIANTS[name])
            rows.append({"variant": name, "seed": seed, **run_variant(config, data, list(params.split.bins))})
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows).groupby("variant", sort=False)
    metrics = ["valid_accuracy", "valid_macro_f1", "test_accuracy", "test_macro_f1"]
    print(f"\nSASNet on {entry.input}/{entry.pooling}, seeds {args.seeds} (mean ± sd)\n")
    print("| variant | " + " | ".join(metrics) + " | best epoch | s / epoch |")
    print("| --- |" + " --- |" * (len(metrics) + 2))
    for name, group in table:
        cells = [f"{group[m].mean():.3f} ± {group[m].std(ddof=0):.3f}" for m in metrics]
        print(f"| {name} | " + " | ".join(cells)
              + f" | {group['best_epoch'].mean():.0f} | {group['seconds_per_epoch'].mean():.2f} |")


if __name__ == "__main__":
    from study_page import recording  # docs/studies/<driver>.md

    with recording(__file__):
        main()

"""The report's plots: test accuracy and macro-F1 per model, and the test confusion matrices."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sasnet.plots import save_figure

def comparison_plot(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Test accuracy and macro-F1 per model with user-bootstrap intervals, against the majority class and Bayes."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 1.4 + 0.45 * len(table)), sharey=True)
    positions = np.arange(len(table))[::-1]  # the first model on top
    for ax, metric, baseline in zip(axes, ("accuracy", "macro_f1"), ("majority_accuracy", "majority_macro_f1")):
        values = table[metric].to_numpy(dtype=float)
        # a percentile interval need not contain the estimate; no interval (no bootstrap) draws no arm
        below = np.nan_to_num(np.clip(values - table[f"{metric}_low"].to_numpy(dtype=float), 0, None))
        above = np.nan_to_num(np.clip(table[f"{metric}_high"].to_numpy(dtype=float) - values, 0, None))
        ax.barh(positions, values, xerr=[below, above], capsize=3, color="tab:blue", ecolor="0.3")
        for position, value in zip(positions, values):  # at the bar's base, clear of the lines and error bars
            ax.text(0.01, position, f"{value:.3f}", va="center", color="white", fontsize=8)
        ax.axvline(table[baseline].iloc[0], color="0.3", linestyle="--", linewidth=1, label="majority class")
        if metric == "accuracy" and table["bayes_accuracy"].notna().any():
            ax.axvline(table["bayes_accuracy"].iloc[0], color="tab:red", linestyle=":", linewidth=1.5,
                       label="Bayes-optimal (demo)")
        ax.set_xlim(0, 1)
        ax.set_xlabel(f"test {metric} (bars: 95% interval, users resampled)")
        ax.legend(frameon=False, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2)
        ax.spines[["top", "right"]].set_visible(False)
    axes[0].set_yticks(positions, table["model"])
    fig.suptitle("Models on the test split")
    save_figure(fig, path)


def confusion_plot(metrics: Mapping[str, dict], class_names: Sequence[str], path: str | os.PathLike) -> None:
    """One test confusion matrix per model: colour is the share of the true class (row), text the count."""
    columns = min(len(metrics), 3)
    rows = math.ceil(len(metrics) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3.4 * rows), squeeze=False, layout="constrained")
    ticks = range(len(class_names))
    for ax, (model, model_metrics) in zip(axes.flat, metrics.items()):
        counts = np.asarray(model_metrics["test"]["confusion_matrix"], dtype=float)
        totals = counts.sum(axis=1, keepdims=True)
        shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
        image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
        for (i, j), count in np.ndenumerate(counts):
            ax.text(j, i, f"{int(count)}", ha="center", va="center", color="white" if shares[i, j] > 0.5 else "black")
        ax.set_xticks(ticks, class_names)
        ax.set_yticks(ticks, class_names)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{model}\naccuracy {model_metrics['test']['accuracy']:.3f}", fontsize=10)
    for ax in axes.flat[len(metrics):]:
        ax.set_visible(False)
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label="share of the true class")
    save_figure(fig, path)

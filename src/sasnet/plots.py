"""PNG figures beside their plot data (DVC's HTML plots need the web for Vega; a PNG always renders)."""

from __future__ import annotations

import os
from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sasnet.io import atomic_path  # noqa: E402


def save_figure(fig: plt.Figure, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)


def grouped_bars(
    table: pd.DataFrame, group: str, bar: str, value: str, title: str, path: str | os.PathLike
) -> None:
    """One cluster of bars per ``group`` value, one bar per ``bar`` value, labelled with its height."""
    wide = table.pivot(index=group, columns=bar, values=value).reindex(
        index=table[group].unique(), columns=table[bar].unique()
    )
    fig, ax = plt.subplots(figsize=(1.6 + 1.2 * len(wide.index) * len(wide.columns) / 3, 3.6))
    width = 0.8 / len(wide.columns)
    positions = np.arange(len(wide.index))
    for i, column in enumerate(wide.columns):
        bars = ax.bar(positions + (i - (len(wide.columns) - 1) / 2) * width, wide[column], width, label=str(column))
        ax.bar_label(bars, fontsize=8)
    ax.set_xticks(positions, wide.index)
    ax.set_ylabel(value)
    ax.set_title(title)
    ax.legend(title=bar, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    save_figure(fig, path)


def interval_bars(table: pd.DataFrame, label: str, value: str, title: str, path: str | os.PathLike) -> None:
    """One horizontal bar per ``label`` row, highest ``value`` on top, with ``value``_low/_high as error bars."""
    ordered = table.sort_values(value)
    heights = ordered[value].to_numpy(dtype=float)
    # a percentile interval need not contain the estimate; an arm can only reach to the bar's end
    below = np.clip(heights - ordered[f"{value}_low"].to_numpy(dtype=float), 0, None)
    above = np.clip(ordered[f"{value}_high"].to_numpy(dtype=float) - heights, 0, None)
    fig, ax = plt.subplots(figsize=(6.4, 1.0 + 0.35 * len(ordered)))
    ax.barh(ordered[label].astype(str), heights, xerr=[below, above], capsize=3, color="tab:blue", ecolor="0.3")
    ax.axvline(0, color="0.5", linewidth=0.8)
    ax.set_xlabel(f"{value} (bars: bootstrap interval)")
    ax.set_title(title)
    ax.spines[["top", "right"]].set_visible(False)
    save_figure(fig, path)


def similarity_scatter(pairs: pd.DataFrame, methods: list[str], path: str | os.PathLike) -> None:
    """Predicted against reference category similarity, one panel per method; the diagonal is perfect agreement."""
    fig, axes = plt.subplots(1, len(methods), figsize=(3.4 * len(methods), 3.4), squeeze=False, sharey=True)
    for ax, method in zip(axes[0], methods):
        of_method = pairs[pairs["method"] == method]
        ax.scatter(of_method["reference"], of_method["predicted"], s=6, alpha=0.4, linewidths=0)
        ax.axline((0, 0), slope=1, color="0.5", linewidth=0.8, linestyle="--")
        ax.set_title(method, fontsize=9)
        ax.set_xlabel("reference cosine (category names)")
        ax.spines[["top", "right"]].set_visible(False)
    axes[0, 0].set_ylabel("predicted cosine (mean review embeddings)")
    save_figure(fig, path)


def similarity_heatmaps(matrices: dict[str, pd.DataFrame], title: str, path: str | os.PathLike) -> None:
    """Square similarity matrices side by side (e.g. predicted and reference) on one shared colour scale."""
    size = len(next(iter(matrices.values())))
    fig, axes = plt.subplots(1, len(matrices), figsize=(0.5 + 4.6 * len(matrices), 4.6), squeeze=False)
    for ax, (name, matrix) in zip(axes[0], matrices.items()):
        image = ax.imshow(matrix.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
        ax.set_title(name)
        if size <= 40:  # beyond that the names overlap into a grey smear
            ax.set_xticks(range(size), matrix.columns, rotation=90, fontsize=6)
            ax.set_yticks(range(size), matrix.index, fontsize=6)
        else:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="cosine")
    fig.suptitle(title)
    save_figure(fig, path)


def training_curves(curves: Mapping[str, pd.DataFrame], path: str | os.PathLike) -> None:
    """One row of panels per model, one panel per score (columns ``<split>/<score>`` indexed by epoch), train
    against valid, the epoch with the best valid macro-F1 marked (the one early stopping keeps)."""
    scores = list(dict.fromkeys(column.split("/", 1)[1] for history in curves.values() for column in history.columns))
    fig, axes = plt.subplots(len(curves), len(scores), figsize=(3.6 * len(scores), 3.0 * len(curves)), squeeze=False)
    for row, (model, history) in zip(axes, curves.items()):
        best_epoch = int(history["valid/macro_f1"].idxmax())
        for ax, score in zip(row, scores):
            for split in ("train", "valid"):
                if f"{split}/{score}" in history:
                    ax.plot(history.index, history[f"{split}/{score}"], label=split, linewidth=1)
            ax.axvline(best_epoch, color="0.5", linewidth=0.8, linestyle="--", label=f"best epoch ({best_epoch})")
            ax.set_xlabel("epoch")
            ax.set_title(f"{model}: {score}", fontsize=9)
            ax.spines[["top", "right"]].set_visible(False)
        row[0].legend(frameon=False, fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def message_figure(message: str, path: str | os.PathLike) -> None:
    """A declared figure that has nothing to show in this run (e.g. categories on data without any) says why."""
    fig, ax = plt.subplots(figsize=(6.4, 1.2))
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    ax.set_axis_off()
    save_figure(fig, path)

"""PNG figures beside their plot data (DVC's HTML plots need the web for Vega; a PNG always renders)."""

from __future__ import annotations

import os

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

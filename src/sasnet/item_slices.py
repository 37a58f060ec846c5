"""The item slices every model and ranker is also scored on (the semantic-ID seed's cold-start and popularity
questions): cold-start items (at most ``cold_start_max_train`` train interactions) and popularity slices of the
evaluated items, head to tail.

Popularity slices hold equal numbers of the *evaluated* distinct items (not of examples), ordered by train
interactions, most first (ties: by item key), so ``popularity_1`` is the head and ``popularity_<n>`` the tail; a
popular item's many examples all fall in its item's slice."""

from __future__ import annotations

import numpy as np

from sasnet.analysis_configs import ItemSlicesConfig


def slice_masks(items: np.ndarray, train_counts: np.ndarray, config: ItemSlicesConfig) -> dict[str, np.ndarray]:
    """Per slice, a boolean mask over the evaluated examples; ``items`` is each example's item key and
    ``train_counts`` its item's train interactions."""
    masks = {"cold_start": train_counts <= config.cold_start_max_train}
    distinct, first = np.unique(items, return_index=True)
    order = np.lexsort((distinct, -train_counts[first]))  # most train interactions first
    slice_of_item = np.empty(len(distinct), dtype=np.int64)
    for index, members in enumerate(np.array_split(order, config.popularity_slices)):
        slice_of_item[members] = index
    example_slice = slice_of_item[np.searchsorted(distinct, items)]
    for index in range(config.popularity_slices):
        masks[f"popularity_{index + 1}"] = example_slice == index
    return masks


def slice_facts(masks: dict[str, np.ndarray], items: np.ndarray, train_counts: np.ndarray) -> dict[str, dict]:
    """Per slice: its examples, distinct items and their train-interaction range (what a reader needs to read it)."""
    facts = {}
    for name, mask in masks.items():
        counts = train_counts[mask]
        facts[name] = {"examples": int(mask.sum()), "items": int(len(np.unique(items[mask]))),
                       "train_interactions_min": int(counts.min()) if mask.any() else None,
                       "train_interactions_max": int(counts.max()) if mask.any() else None}
    return facts

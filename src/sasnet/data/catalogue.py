"""The catalogue both item tasks share: every business some sampled review names, sorted by id, with its name and
categories (empty where the data has none)."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from sasnet import paths


def catalogue(business_ids: Iterable[str]) -> pd.DataFrame:
    """business_id, name, categories of the distinct ``business_ids``, sorted by id: row i is item index i."""
    items = pd.DataFrame({"business_id": sorted(set(business_ids))})
    businesses = pd.read_parquet(paths.BUSINESSES, columns=["business_id", "name", "categories"])
    return items.merge(businesses, on="business_id", how="left").fillna({"name": "", "categories": ""})

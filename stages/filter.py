"""DVC stage `filter`: the fixed-point k-core of the ingested reviews (users >= k_u reviews, businesses >= k_b)."""

import pandas as pd

from sasnet import paths
from sasnet.data.filtering import filter_reviews
from sasnet.io import write_json, write_parquet
from sasnet.params import Params
from sasnet.stage import run_stage, stage_seconds


def run(params: Params) -> None:
    kept, metrics = filter_reviews(pd.read_parquet(paths.REVIEWS), params.filter)
    write_parquet(kept, paths.FILTERED_REVIEWS)
    write_json(metrics | {"stage_seconds": stage_seconds()}, paths.METRICS / "filter.json")


if __name__ == "__main__":
    run_stage(run)

"""DVC stage `filter`: the fixed-point k-core of the ingested reviews (users >= k_u reviews, businesses >= k_b)."""

import pandas as pd

from sasnet import paths
from sasnet.data.filtering import core_of
from sasnet.io import copy_parquet_rows, write_json
from sasnet.params import Params
from sasnet.stage import run_stage, stage_seconds


def run(params: Params) -> None:
    # The core needs only the ids; the rows (text included: ~11 GB in pandas at Yelp's size) are streamed.
    ids = pd.read_parquet(paths.REVIEWS, columns=["user_id", "business_id"])
    keep, metrics = core_of(ids["user_id"], ids["business_id"], params.filter)
    copy_parquet_rows(paths.REVIEWS, paths.FILTERED_REVIEWS, keep)
    write_json(metrics | {"stage_seconds": stage_seconds()}, paths.METRICS / "filter.json")


if __name__ == "__main__":
    run_stage(run)

"""DVC stage `sample`: the paper's LP, the fewest reviews that keep the target users and businesses covered."""

import pandas as pd

from sasnet import paths
from sasnet.data.sampling import sample_reviews
from sasnet.io import write_json, write_parquet
from sasnet.params import Params
from sasnet.stage import run_stage, stage_seconds


def run(params: Params) -> None:
    reviews = pd.read_parquet(paths.FILTERED_REVIEWS)
    result = sample_reviews(reviews["user_id"].to_numpy(), reviews["business_id"].to_numpy(), params.sample)
    write_parquet(reviews.loc[result.keep].reset_index(drop=True), paths.SAMPLED_REVIEWS)
    write_json(result.report | {"stage_seconds": stage_seconds()}, paths.METRICS / "sample.json")


if __name__ == "__main__":
    run_stage(run)

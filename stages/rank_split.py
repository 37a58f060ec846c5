"""DVC stage `rank_split`: the ranking task's leave-last-out split of the sampled reviews (per user in time order:
the last interaction test, the one before valid), each interaction's class under split.bins (what the
review-embedding rankers learn), and the catalogue with its names and categories."""

import pandas as pd

from sasnet import paths
from sasnet.data.catalogue import catalogue
from sasnet.data.leave_last_out import leave_last_out
from sasnet.data.splitting import star_to_class
from sasnet.errors import PipelineError
from sasnet.io import write_json, write_parquet
from sasnet.params import Params
from sasnet.stage import run_stage, stage_seconds


def run(params: Params) -> None:
    interactions, facts = leave_last_out(pd.read_parquet(paths.SAMPLED_REVIEWS), params.ranking.tie_seed)
    interactions["label"] = star_to_class(params.split.bins)[interactions["stars"].to_numpy()]
    evaluated = {split: interactions.loc[interactions["split"] == split, "user_id"].nunique()
                 for split in ("valid", "test")}
    if min(evaluated.values()) < params.ranking.min_users:
        raise PipelineError(
            f"leave-last-out leaves {evaluated['valid']} valid and {evaluated['test']} test users, under "
            f"ranking.min_users ({params.ranking.min_users}): sample more users (sample.*) or lower it knowingly")
    items = catalogue(interactions["business_id"])
    write_parquet(interactions, paths.RANK_INTERACTIONS)
    write_parquet(items, paths.RANK_ITEMS)
    counts = interactions["split"].value_counts()
    write_json(facts | {f"{split}_interactions": int(counts.get(split, 0)) for split in ("train", "valid", "test")}
               | {"stage_seconds": stage_seconds()},
               paths.METRICS / "rank_split.json")


if __name__ == "__main__":
    run_stage(run)

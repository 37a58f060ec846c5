"""DVC stage `significance`: the paper's Table 3, the best-scoring embedding against each other one."""

import json

import pandas as pd

from sasnet import paths
from sasnet.io import write_json
from sasnet.params import Params
from sasnet.stage import run_stage, stage_seconds
from sasnet.stats import significance_table


def run(params: Params) -> None:
    scores = json.loads(paths.EMBEDDING_SCORES.read_text())
    best = scores["best_method"]
    if best is None:
        write_json({"available": False, "reason": scores["category_unavailable"], "stage_seconds": stage_seconds()},
                   paths.METRICS / "significance.json")
        return
    table = significance_table(pd.read_parquet(paths.CATEGORY_PAIRS), best, params.significance)
    write_json(
        {"available": True, "best_method": best, "correlation_test": params.significance.correlation_test,
         "versus": table.set_index("method").to_dict(orient="index"), "stage_seconds": stage_seconds()},
        paths.METRICS / "significance.json",
    )


if __name__ == "__main__":
    run_stage(run)

"""DVC stage `rank@<ranker>`: fit one ranker of params.yaml's `rankers` map on the leave-last-out train part (valid
for early stopping), then rank the whole catalogue for every test user. A review-embedding ranker (input
normalized/<run>) also reads the normalised embedding of each interaction's review.

Writes data/rankers/<ranker>/ (model.safetensors, model.json), data/rankings/<ranker>.parquet (each test user's
top-k and the target's rank), metrics/rankers/<ranker>.json (valid and test top-k metrics with intervals, coverage,
popularity bias, fit facts, wall time) and plots/rankers/<ranker>.csv (valid NDCG@k by epoch).
"""

import pandas as pd

from sasnet import paths
from sasnet.io import atomic_dir, write_csv, write_json, write_parquet
from sasnet.models import ranker_class
from sasnet.params import Params, ranker_config
from sasnet.ranking.data import load_ranking_data
from sasnet.ranking.evaluation import rank_targets, ranking_report, rankings_frame, relevant_stars
from sasnet.stage import run_stage, stage_seconds


def run(params: Params, name: str) -> None:
    entry, config = params.rankers[name], params.ranking
    data = load_ranking_data(entry.embedding, entry.pooling, entry.reads_semantic_ids)
    model = ranker_class(entry.family)(ranker_config(params, name), list(params.split.bins))
    fitted = model.fit(data, k=config.k)
    with atomic_dir(paths.ranker_dir(name)) as out_dir:
        model.save(out_dir, entry.describe())
    relevant = relevant_stars(config, params.split.bins)
    ranked = {split: rank_targets(model, data, split, config.k, relevant) for split in ("valid", "test")}
    write_parquet(rankings_frame(ranked["test"], data), paths.rankings_file(name))
    reports = {split: ranking_report(ranked[split], data, config, params.item_slices) for split in ranked}

    curves = fitted.curves
    if curves is None:  # a one-shot fit: its valid NDCG as the only epoch
        valid = reports["valid"][f"ndcg@{config.k}"]
        curves = pd.DataFrame({f"valid/ndcg@{config.k}": [valid]}, index=pd.RangeIndex(1, 2, name="epoch"))
    write_csv(curves.reset_index(), paths.ranking_curves(name))
    write_json(
        {"ranker": name, **entry.describe(), "relevant": config.relevant, **reports,
         "fit": fitted.facts, "stage_seconds": stage_seconds()},
        paths.ranker_metrics(name),
    )


if __name__ == "__main__":
    run_stage(run)

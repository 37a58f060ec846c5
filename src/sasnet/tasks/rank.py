"""The ranking task: every ranker orders the whole catalogue for each user of the leave-last-out split; the rank of
the held-out target gives the top-k metrics with intervals over users (``sasnet.ranking.evaluation``)."""

from __future__ import annotations

from sasnet import paths
from sasnet.io import write_parquet
from sasnet.models.base import FitResult, Recommender
from sasnet.params import ModelEntry, Params
from sasnet.ranking.data import RankingData, load_ranking_data
from sasnet.ranking.evaluation import ndcg_validation, rank_targets, ranking_report, rankings_frame, relevant_stars
from sasnet.tasks import Task


class Rank(Task):
    name, entry_key = "rank", "ranker"
    model_dir, metrics_file, curves_file = (staticmethod(paths.ranker_dir), staticmethod(paths.ranker_metrics),
                                            staticmethod(paths.ranking_curves))

    def load_data(self, params: Params, entry: ModelEntry) -> RankingData:
        return load_ranking_data(entry.loader_input)

    def fit(self, model: Recommender, data: RankingData, params: Params) -> FitResult:
        return model.fit(data, validation=ndcg_validation(data, params.ranking.k))

    def evaluate(self, model: Recommender, data: RankingData, params: Params, name: str) -> tuple[dict, dict]:
        config = params.ranking
        relevant = relevant_stars(config, params.split.bins)
        ranked = {split: rank_targets(model, data, split, config.k, relevant) for split in ("valid", "test")}
        write_parquet(rankings_frame(ranked["test"], data), paths.rankings_file(name))
        return {"relevant": config.relevant}, {
            split: ranking_report(ranked[split], data, config, params.item_slices) for split in ranked}

    def valid_scores(self, scores: dict, params: Params) -> dict[str, float]:
        column = f"ndcg@{params.ranking.k}"
        return {f"valid/{column}": scores["valid"][column]}


RANK = Rank()

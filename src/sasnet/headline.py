"""metrics/headline.json: the few test metrics that decide a review, one small file for `dvc metrics diff` and
`dvc exp show`.

Per classifier its test accuracy and macro-F1, per ranker its test NDCG@k and Recall@k: the metrics
`python -m sasnet.review` tests for a real change. The detailed metrics files (intervals, slices, fits, stage
times) stay in git beside it, and `dvc metrics diff --targets <file>` still reads any of them (docs/review.md).

Kept apart from sasnet.review so that the report stage, which writes the file, does not depend on the review tool.
"""

from __future__ import annotations

from collections.abc import Mapping

CLASSIFIER_METRICS = ("accuracy", "macro_f1")
RANKER_METRICS = ("ndcg", "recall")  # at the ranker's k: ndcg@k, recall@k


def ranker_metric_names(k: int) -> tuple[str, ...]:
    """The ranker metrics a review tests, named as the metrics JSON names them (``ndcg@10``, ``recall@10``)."""
    return tuple(f"{metric}@{k}" for metric in RANKER_METRICS)


def headline(models: Mapping[str, Mapping], rankers: Mapping[str, Mapping], split: str = "test") -> dict:
    """``{"models": {model: {accuracy, macro_f1}}, "rankers": {ranker: {ndcg@k, recall@k}}}`` on ``split``, from
    the metrics JSON of each model (metrics/models/<m>.json) and ranker (metrics/rankers/<r>.json), in the order
    given."""
    return {
        "models": {name: {key: metrics[split][key] for key in CLASSIFIER_METRICS} for name, metrics in models.items()},
        "rankers": {name: {key: metrics[split][key] for key in ranker_metric_names(metrics[split]["k"])}
                    for name, metrics in rankers.items()},
    }

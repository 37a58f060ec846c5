"""Tables and statistics between models: pairwise McNemar tests, every model against the text-free baseline, the
comparison table and its JSON summary, the confusion counts and the ranking table."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sasnet.classification import paired_bootstrap_difference
from sasnet.models.early_stopping import under_trained
from sasnet.report.collect import REVIEW_COLUMNS
from sasnet.stats import holm_adjusted, mcnemar_test

def mcnemar_pairs(predictions: pd.DataFrame) -> list[dict]:
    """McNemar's test for every pair of models (the columns besides REVIEW_COLUMNS), with Holm-adjusted p-values."""
    truth = predictions["label"].to_numpy()
    models = [column for column in predictions.columns if column not in REVIEW_COLUMNS]
    pairs = []
    for model_a, model_b in itertools.combinations(models, 2):
        predicted_a, predicted_b = predictions[model_a].to_numpy(), predictions[model_b].to_numpy()
        pairs.append({
            "model_a": model_a,
            "model_b": model_b,
            "reviews": len(truth),
            "accuracy_a": float(np.mean(predicted_a == truth)),
            "accuracy_b": float(np.mean(predicted_b == truth)),
            **mcnemar_test(truth, predicted_a, predicted_b),
        })
    for pair, adjusted in zip(pairs, holm_adjusted([pair["p_value"] for pair in pairs])):
        pair["p_value_holm"] = float(adjusted)
    return pairs


def baseline_family_model(metrics: Mapping[str, dict], family: str = "star_history") -> str | None:
    """The first model of ``family`` (the text-free baseline every text model is judged against), if any."""
    return next((model for model, m in metrics.items() if m["family"] == family), None)


def baseline_comparisons(
    predictions: pd.DataFrame, baseline: str, n_classes: int, bootstrap_samples: int, seed: int, confidence: float
) -> list[dict]:
    """Every other model against ``baseline`` on the same test reviews: McNemar on accuracy and a paired bootstrap
    interval of the macro-F1 difference, each family of p-values Holm-adjusted over the models compared.

    The bootstrap resamples the test users (``user_id``; each with all their reviews, both models at once): the
    split is by user, and a user's reviews are not independent. Without a ``user_id`` column it resamples reviews
    (``bootstrap_resamples`` says which)."""
    truth = predictions["label"].to_numpy()
    users = predictions["user_id"].to_numpy() if "user_id" in predictions else None
    others = [column for column in predictions.columns if column not in (*REVIEW_COLUMNS, baseline)]
    rows = []
    for model in others:
        predicted, base = predictions[model].to_numpy(), predictions[baseline].to_numpy()
        rows.append({
            "model": model,
            "baseline": baseline,
            "accuracy_difference": float(np.mean(predicted == truth) - np.mean(base == truth)),
            "mcnemar_p_value": mcnemar_test(truth, predicted, base)["p_value"],
            **paired_bootstrap_difference(truth, predicted, base, n_classes, bootstrap_samples, seed, confidence,
                                          clusters=users),
        })
    for key in ("mcnemar_p_value", "bootstrap_p_value"):
        if rows and all(row[key] is not None for row in rows):
            for row, adjusted in zip(rows, holm_adjusted([row[key] for row in rows])):
                row[f"{key}_holm"] = float(adjusted)
    return rows


def bayes_accuracy(split_summary: Mapping[str, Any], split: str) -> float | None:
    """The Bayes-optimal accuracy realised on ``split``: known on the generated demo data only."""
    oracle = split_summary.get(split, {}).get("oracle")
    return None if oracle is None else oracle["bayes_accuracy_realised"]


def majority_macro_f1(report: Mapping[str, Any]) -> float:
    """Macro-F1 of always predicting the majority class: F1 = 2p / (1 + p) for it (p its share), 0 for the rest."""
    support = report["support_per_class"]
    share = support[report["majority_class"]] / sum(support.values())
    return 2 * share / (1 + share) / len(support)


def comparison_table(metrics: Mapping[str, dict], split: str, bayes: float | None) -> pd.DataFrame:
    """One row per model: its metrics on ``split`` with intervals, the majority-class baseline and the Bayes gap."""
    rows = []
    for model, model_metrics in metrics.items():
        report = model_metrics[split]
        rows.append({
            "model": model,
            "family": model_metrics["family"],
            "input": model_metrics["input"],
            "pooling": model_metrics["pooling"],
            "under_trained": under_trained(model_metrics),
            **{key: report[key] for key in ("examples", "accuracy", "accuracy_low", "accuracy_high", "macro_f1",
                                             "macro_f1_low", "macro_f1_high", "weighted_f1", "majority_accuracy")},
            "majority_macro_f1": majority_macro_f1(report),
            "bayes_accuracy": bayes,
            "gap_to_bayes": None if bayes is None else report["accuracy"] - bayes,
        })
    return pd.DataFrame(rows).astype({"bayes_accuracy": float, "gap_to_bayes": float})


def comparison_summary(table: pd.DataFrame, pairs: list[dict]) -> dict:
    """metrics/model_comparison.json: the test scores, the best model by each metric and every McNemar pair."""
    indexed = table.set_index("model")
    metric_columns = ["accuracy", "accuracy_low", "accuracy_high", "macro_f1", "macro_f1_low", "macro_f1_high",
                      "weighted_f1", "gap_to_bayes", "under_trained"]
    return {
        "split": "test",
        "reviews": int(table["examples"].iloc[0]),
        "majority_accuracy": float(table["majority_accuracy"].iloc[0]),
        "bayes_accuracy": table["bayes_accuracy"].iloc[0],
        "best_model": {metric: indexed[metric].idxmax() for metric in ("accuracy", "macro_f1")},
        "models": indexed[metric_columns].to_dict(orient="index"),
        "mcnemar": {f"{pair['model_a']} vs {pair['model_b']}": pair for pair in pairs},
    }


def confusion_long(metrics: Mapping[str, dict], class_names: Sequence[str]) -> pd.DataFrame:
    """Test confusion counts as rows (model, true, predicted, count)."""
    rows = [
        {"model": model, "true": class_names[i], "predicted": class_names[j], "count": count}
        for model, model_metrics in metrics.items()
        for i, counts in enumerate(model_metrics["test"]["confusion_matrix"])
        for j, count in enumerate(counts)
    ]
    return pd.DataFrame(rows)


def ranking_table(rankers: Mapping[str, dict], split: str = "test") -> pd.DataFrame:
    """One row per ranker: its top-k metrics on ``split`` with their intervals (the ranking plot's data)."""
    rows = []
    for name, metrics in rankers.items():
        report = metrics[split]
        rows.append({"ranker": name, "family": metrics["family"], "under_trained": under_trained(metrics),
                     **{key: value for key, value in report.items() if isinstance(value, (int, float))}})
    return pd.DataFrame(rows)

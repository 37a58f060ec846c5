"""The `report` stage in one call: read and check every input, then write every output."""

from __future__ import annotations

from sasnet import paths
from sasnet.headline import headline
from sasnet.io import atomic_path, write_csv, write_json
from sasnet.params import Params
from sasnet.plots import interval_bars, message_figure, training_curves
from sasnet.report.collect import (
    collect_models,
    collect_rankers,
    collect_test_predictions,
    expected_models,
    iterative_curves,
    read_metrics,
)
from sasnet.report.compare import (
    baseline_comparisons,
    baseline_family_model,
    bayes_accuracy,
    comparison_summary,
    comparison_table,
    confusion_long,
    mcnemar_pairs,
    ranking_table,
)
from sasnet.report.figures import comparison_plot, confusion_plot
from sasnet.report.markdown import render_results
from sasnet.run_facts import run_facts_section
from sasnet.stage import stage_seconds


def build_report(params: Params) -> None:
    """results.md, metrics/model_comparison.json, metrics/headline.json and the report's plots with their data."""
    class_names = list(params.split.bins)
    # read and check every input before writing anything
    metrics = collect_models(expected_models(params.models), class_names)
    predictions = collect_test_predictions(metrics, class_names)
    embedding_scores = read_metrics(paths.EMBEDDING_SCORES, "score_embeddings")
    significance = read_metrics(paths.METRICS / "significance.json", "significance")
    split_summary = read_metrics(paths.METRICS / "split.json", "split")
    rankers = collect_rankers(params.rankers)
    rank_split = read_metrics(paths.METRICS / "rank_split.json", "rank_split") if rankers else {}

    pairs = mcnemar_pairs(predictions)
    baseline = baseline_family_model(metrics)
    evaluation = params.evaluation
    comparisons = [] if baseline is None else baseline_comparisons(
        predictions, baseline, len(class_names), evaluation.bootstrap_samples, evaluation.seed, evaluation.confidence
    )
    table = comparison_table(metrics, "test", bayes_accuracy(split_summary, "test"))
    write_json({**comparison_summary(table, pairs), "against_baseline": {row["model"]: row for row in comparisons},
                "stage_seconds": stage_seconds()},
               paths.METRICS / "model_comparison.json")
    write_json(headline(metrics, rankers), paths.METRICS / "headline.json")
    write_csv(table, paths.PLOTS / "model_comparison.csv")
    comparison_plot(table, paths.PLOTS / "model_comparison.png")
    write_csv(confusion_long(metrics, class_names), paths.PLOTS / "confusion_matrices.csv")
    confusion_plot(metrics, class_names, paths.PLOTS / "confusion_matrices.png")
    curves = iterative_curves(list(metrics))
    if curves:
        training_curves(curves, paths.PLOTS / "training_curves.png")
    else:
        message_figure("No model in this run trains for more than one epoch", paths.PLOTS / "training_curves.png")
    if rankers:
        ranking = ranking_table(rankers)
        write_csv(ranking, paths.PLOTS / "ranking_comparison.csv")
        ndcg = f"ndcg@{params.ranking.k}"
        interval_bars(ranking, "ranker", ndcg, f"Test {ndcg} over the whole catalogue", paths.PLOTS / "ranking_comparison.png")
    results = render_results(metrics, class_names, embedding_scores, significance, split_summary, pairs,
                             comparisons, evaluation.confidence, rankers, rank_split)
    with atomic_path(paths.RESULTS) as tmp:
        tmp.write_text(results + "\n" + run_facts_section(paths.METRICS, own="model_comparison"))

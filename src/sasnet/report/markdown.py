"""results.md: every model's metrics side by side with the paper's, the baseline and McNemar tests, per-class scores,
the fits, the rankers and the item slices, rendered as Markdown meant to be read on GitHub."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from sasnet.inputs import input_kind
from sasnet.models import family as family_package
from sasnet.models.early_stopping import UNDER_TRAINED_TAIL, under_trained
from sasnet.report.compare import bayes_accuracy
from sasnet.report.paper import (
    FIT_NOTES,
    PAPER_TABLE1,
    PAPER_TABLE2,
    TABLE1_COUNTERPARTS,
    TABLE1_ENTRIES,
    paper_classification_row,
)
from sasnet.stats import EXACT_MCNEMAR_BELOW

UNDER_TRAINED_MARK = "†"


def number(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f}"


def signed(value: float | None, digits: int = 3) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:+.{digits}f}"


def p_value(value: float | None) -> str:
    """3 decimals, or scientific notation below 0.001 (where 3 decimals would read as 0)."""
    if value is None:
        return "—"
    if value < 1e-300:  # below double precision: the test reports 0
        return "< 1e-300"
    return f"{value:.1e}" if value < 0.001 else f"{value:.3f}"


def with_interval(report: Mapping[str, Any], metric: str) -> str:
    low, high = report[f"{metric}_low"], report[f"{metric}_high"]
    interval = "" if low is None or high is None else f" [{number(low)}, {number(high)}]"
    return number(report[metric]) + interval


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def marked(name: str, metrics: Mapping[str, Any]) -> str:
    """A model's or ranker's name, with UNDER_TRAINED_MARK when its fit was under-trained."""
    return f"{name} {UNDER_TRAINED_MARK}" if under_trained(metrics) else name


def under_trained_note(metrics: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The footnote to UNDER_TRAINED_MARK, naming the flagged entries; nothing when none is flagged."""
    flagged = [name for name, entry in metrics.items() if under_trained(entry)]
    if not flagged:
        return []
    return [
        f"{UNDER_TRAINED_MARK} Under-trained: {', '.join(f'`{name}`' for name in flagged)} ran every epoch its cap "
        f"allows (early stopping never stopped it) with its best validation epoch in the last {UNDER_TRAINED_TAIL:.0%} "
        "of them: its validation score was still rising, so more epochs would likely score better "
        "(`sasnet.models.early_stopping.under_trained`).",
        "",
    ]


def paper_cells(paper: tuple[float, float] | None) -> tuple[str, str]:
    """The paper's accuracy and F1 as printed (0.6925 keeps its four decimals)."""
    return (f"{paper[0]:g}", f"{paper[1]:g}") if paper else ("—", "—")


def describe_input(model_metrics: Mapping[str, Any]) -> str:
    """'<family> on <its input's label>': 'svm on minilm/mean', 'mf on ratings', 'ctr on semantic IDs'."""
    kind = input_kind(family_package(model_metrics["family"]))
    return f"{model_metrics['family']} on {kind.label(model_metrics['input'], model_metrics['pooling'])}"


def embedding_section(scores: Mapping[str, Any]) -> str:
    """Table 1: the paper's rows beside this run's counterparts, then this run's methods the paper has no row for."""
    methods, best = scores["methods"], scores["best_method"]

    def ours(method: str) -> list[str]:
        values = methods[method]
        name = f"**{method}** (best)" if method == best else method
        score = number(values["score"]) + (
            f" [{number(values['score_low'])}, {number(values['score_high'])}]"
            if values.get("score_low") is not None else ""
        )
        return [name, *(number(values[key]) for key in ("NMSE_c", "NPR_c", "NAE_s")), score,
                number(values["score_normalised"]), number(values.get("probe_accuracy"))]

    not_run = ["(not run)", *["—"] * 6]
    by_paper_row = {TABLE1_COUNTERPARTS[m]: m for m in methods if m in TABLE1_COUNTERPARTS}
    rows = [
        [row, *(f"{v:.2f}" for v in paper), *(ours(by_paper_row[row]) if row in by_paper_row else not_run)]
        for row, paper in PAPER_TABLE1.items()
    ]
    rows += [["—", *["—"] * 5, *ours(m)] for m in methods if m not in TABLE1_COUNTERPARTS]
    header = ["Paper method", "NMSE_c", "NPR_c", "NAE_s", "score", "normalised",
              "This run", "NMSE_c", "NPR_c", "NAE_s", "score [95% CI]", "normalised", "probe acc."]
    lines = [
        "## Table 1: embedding scoring",
        "",
        "Left: the paper's Table 1 as printed. Right: this run's method that reproduces each row (`llm_instructed` "
        "is the instructed LLM, `llm_plain` the plain one; attention, last, weighted, mean and max are the paper's "
        "Attentional, LastToken, Positional, GAP and GMP poolings), then this run's methods the paper has no row "
        f"for. The normalised columns are min-max scaled over the methods compared (ten in the paper, {len(methods)} "
        "here), so compare ranks, not values, across the two sides. `probe acc.` is this run's addition: a "
        "logistic-regression probe from one review's embedding to its class (validation accuracy).",
        "",
    ]
    missing_runs = sorted({method.split("/")[0] for method in TABLE1_COUNTERPARTS}
                          - {method.split("/")[0] for method in methods})
    if missing_runs:
        commands = ", ".join(f"`dvc exp run -S '+embed.encoders.{run}={TABLE1_ENTRIES[run]}'`" for run in missing_runs)
        lines += [f"Rows marked (not run) need encoder runs this run lacks: {commands}.", ""]
    if scores.get("category_unavailable"):
        lines += [f"No category part in this run ({scores['category_unavailable']}): NMSE_c, NPR_c and the "
                  "scores are undefined.", ""]
    return "\n".join(lines + [markdown_table(header, rows)])


def interval_sentence(report: Mapping[str, Any], split: str) -> str:
    """What the intervals of a split's report resample: its users (the split is by user), or, in metrics written
    without them, its reviews."""
    if "users" not in report:
        return "Intervals are 95% bootstrap intervals over the reviews."
    return (f"Intervals are 95% user-bootstrap intervals: the {report['users']} {split} users are resampled with "
            "replacement, each with all their reviews, since the split is by user and one user's reviews are not "
            "independent (the review bootstrap's narrower interval is in the metrics JSON as `*_low_reviews`).")


def classification_section(metrics: Mapping[str, dict], split_summary: Mapping[str, Any]) -> str:
    """Table 2 on test beside the paper's numbers, then the same on valid."""
    bayes = bayes_accuracy(split_summary, "test")
    first = next(iter(metrics.values()))["test"]
    lines = [
        "## Table 2: classification",
        "",
        f"Test split: {first['examples']} reviews. Majority class (from train): {first['majority_class']}. The paper "
        "trained its TF-IDF SVM on 3,200 reviews and tested on 400, and does not say which F1 average it reports; "
        "it gives no MiniLM + SVM number. " + interval_sentence(first, "test"),
        "",
    ]
    if bayes is not None:
        oracle = split_summary["test"]["oracle"]
        lines += [
            f"Generated demo data, so the best achievable accuracy is known: the Bayes-optimal rule scores "
            f"{number(bayes)} on these test reviews (expected {number(oracle['bayes_accuracy_expected'])}). "
            "`gap to Bayes` is each model's accuracy minus it. The paper's numbers are on real Yelp data and are "
            "not comparable with a demo run.",
            "",
        ]
    header = ["Model", "Input", "Paper row", "Paper acc.", "Paper F1", "Accuracy [95% CI]", "Macro-F1 [95% CI]",
              "Weighted-F1", "RMSE", "Majority acc."] + (["Gap to Bayes"] if bayes is not None else [])
    rows, reproduced = [], set()
    for model, model_metrics in metrics.items():
        report = model_metrics["test"]
        paper_row = paper_classification_row(model_metrics["family"], model_metrics["input"])
        reproduced.add(paper_row)
        paper = PAPER_TABLE2.get(paper_row)
        rows.append([
            marked(model, model_metrics), describe_input(model_metrics), paper_row or "—",
            *paper_cells(paper),
            with_interval(report, "accuracy"), with_interval(report, "macro_f1"), number(report["weighted_f1"]),
            number(report.get("rmse")), number(report["majority_accuracy"]),
        ] + ([signed(report["accuracy"] - bayes)] if bayes is not None else []))
    for paper_row, paper in PAPER_TABLE2.items():
        if paper_row not in reproduced:
            rows.append(["(not run)", "—", paper_row, *paper_cells(paper), *["—"] * (len(header) - 5)])
    lines += [markdown_table(header, rows), "", *under_trained_note(metrics), *target_leak_lines(metrics), ""]

    valid_bayes = bayes_accuracy(split_summary, "valid")
    first_valid = next(iter(metrics.values()))["valid"]
    header = ["Model", "Accuracy [95% CI]", "Macro-F1 [95% CI]", "Weighted-F1", "Majority acc."] + (
        ["Gap to Bayes"] if valid_bayes is not None else [])
    rows = [
        [marked(model, m), with_interval(m["valid"], "accuracy"), with_interval(m["valid"], "macro_f1"),
         number(m["valid"]["weighted_f1"]), number(m["valid"]["majority_accuracy"])]
        + ([signed(m["valid"]["accuracy"] - valid_bayes)] if valid_bayes is not None else [])
        for model, m in metrics.items()
    ]
    bayes_note = f" Bayes-optimal accuracy here: {number(valid_bayes)}." if valid_bayes is not None else ""
    lines += [
        f"Validation split ({first_valid['examples']} reviews; SASNet selects its epoch on it, so read it as an "
        f"optimistic estimate).{bayes_note}",
        "",
        markdown_table(header, rows),
        "",
        "![Test accuracy and macro-F1](plots/model_comparison.png)",
    ]
    return "\n".join(lines)


def per_class_section(metrics: Mapping[str, dict], class_names: Sequence[str]) -> str:
    support = next(iter(metrics.values()))["test"]["support_per_class"]
    f1_rows = [[model, *(number(m["test"]["f1_per_class"][name]) for name in class_names)]
               for model, m in metrics.items()]
    f1_rows.append(["*test reviews*", *(str(support[name]) for name in class_names)])
    confusion_rows = []
    for model, model_metrics in metrics.items():
        for i, (name, counts) in enumerate(zip(class_names, model_metrics["test"]["confusion_matrix"])):
            recall = counts[i] / sum(counts) if sum(counts) else None
            confusion_rows.append([model, name, *(str(count) for count in counts), number(recall)])
    return "\n".join([
        "## Per-class F1 and confusion matrices (test)",
        "",
        markdown_table(["Model", *(f"F1 {name}" for name in class_names)], f1_rows),
        "",
        "Rows: the true class; columns: the predicted one.",
        "",
        markdown_table(["Model", "True class", *(f"→ {name}" for name in class_names), "Recall"], confusion_rows),
        "",
        "![Confusion matrices](plots/confusion_matrices.png)",
    ])


def significance_section(significance: Mapping[str, Any]) -> str:
    lines = [
        "## Table 3: significance of the best embedding",
        "",
        "The paper's Table 3 p-values are not distilled in this reproduction's specification, so they are not shown "
        "here; only this run's tests are. Caveat: the category pairs are not independent observations (each "
        "category appears in many pairs), so these p-values, like the paper's, are optimistic.",
        "",
    ]
    if not significance.get("available"):
        return "\n".join(lines + [f"Not available in this run: {significance.get('reason')}."])
    correlation_tests = {"dependent": "Meng-Rosenthal-Rubin z-test for dependent correlations",
                         "independent": "Fisher z-test for independent correlations (as the paper)"}
    test = correlation_tests[significance["correlation_test"]]
    rows = [
        [method, number(row["pairs"], 0), number(row["MSE_c_best"], 4), number(row["MSE_c"], 4), number(row["F"]),
         p_value(row["F_p_value"]), number(row["PR_c_best"]), number(row["PR_c"]), number(row["z"]),
         p_value(row["z_p_value"])]
        for method, row in significance["versus"].items()
    ]
    header = ["Method", "Pairs", "MSE_c best", "MSE_c", "F", "p (F)", "PR_c best", "PR_c", "z", "p (z)"]
    lines += [
        f"Best method: **{significance['best_method']}**. F-test on the MSE ratio; {test} on Pearson r.",
        "",
        markdown_table(header, rows),
    ]
    return "\n".join(lines)


def baseline_section(comparisons: list[dict], confidence: float) -> str | None:
    """Each model against the text-free baseline: the differences a reviewer asks about first."""
    if not comparisons:
        return None
    baseline = comparisons[0]["baseline"]
    rows = [
        [row["model"], signed(row["accuracy_difference"]), p_value(row.get("mcnemar_p_value_holm")),
         signed(row["macro_f1_difference"]) + (
             f" [{signed(row['macro_f1_difference_low'])}, {signed(row['macro_f1_difference_high'])}]"
             if row["macro_f1_difference_low"] is not None else ""),
         p_value(row.get("bootstrap_p_value_holm"))]
        for row in comparisons
    ]
    header = ["Model", "Δ accuracy", "p McNemar (Holm)", f"Δ macro-F1 [{confidence:.0%} paired bootstrap]",
              "p bootstrap (Holm)"]
    return "\n".join([
        f"## Against the text-free baseline (`{baseline}`, test split)",
        "",
        f"`{baseline}` reads no text: only the classes of the user's other reviews and of the business's other train "
        "reviews. Δ is the model minus the baseline on the same test reviews; the paired bootstrap (interval and p) "
        + ("resamples the test users, each with all their reviews, "
           if comparisons[0].get("bootstrap_resamples") == "users" else "resamples those reviews ")
        + "for both models at once. p-values are Holm-adjusted over the models compared; a bootstrap p-value "
        "cannot go below 1 / the bootstrap samples (`evaluation.bootstrap_samples`). McNemar's test counts each "
        "review as independent, so its p-values are optimistic when users differ.",
        "",
        markdown_table(header, rows),
    ])


def mcnemar_section(pairs: list[dict]) -> str:
    lines = ["## Pairwise McNemar tests (test split)", ""]
    if not pairs:
        return "\n".join(lines + ["One model only: nothing to compare."])
    lines += [
        f"All models score the same {pairs[0]['reviews']} test reviews. `A only` counts the reviews A classifies "
        "correctly and B does not. Exact binomial test below "
        f"{EXACT_MCNEMAR_BELOW} discordant reviews, otherwise chi-square with continuity correction. Holm's "
        f"adjustment keeps the family-wise error rate over the {len(pairs)} comparisons. McNemar's test counts each "
        "review as an independent observation; a user's reviews are not, so read these p-values as optimistic.",
        "",
    ]
    rows = [
        [pair["model_a"], pair["model_b"], number(pair["accuracy_a"]), number(pair["accuracy_b"]),
         str(pair["a_only_correct"]), str(pair["b_only_correct"]), pair["method"], number(pair["statistic"]),
         p_value(pair["p_value"]), p_value(pair["p_value_holm"])]
        for pair in pairs
    ]
    header = ["Model A", "Model B", "Acc. A", "Acc. B", "A only", "B only", "Test", "Statistic", "p", "p (Holm)"]
    return "\n".join(lines + [markdown_table(header, rows)])


def target_leak_lines(metrics: Mapping[str, dict]) -> list[str]:
    """The inflation the paper's likely SVM protocol (the target averaged into its own means) buys, per input."""
    leak_free = {(m["input"], m["pooling"]): model for model, m in metrics.items()
                 if m["family"] == "svm" and not m["fit"]["include_target"]}
    lines = []
    for model, m in metrics.items():
        baseline = leak_free.get((m["input"], m["pooling"]))
        if m["family"] != "svm" or not m["fit"]["include_target"] or baseline is None:
            continue
        gain = {key: m["test"][key] - metrics[baseline]["test"][key] for key in ("accuracy", "macro_f1")}
        lines.append(
            f"Target leak (`{model}`: the SVM protocol the paper most likely used, each review averaged into its own "
            f"user and business means) against the leak-free `{baseline}`: test accuracy {signed(gain['accuracy'])}, "
            f"macro-F1 {signed(gain['macro_f1'])}. Never the default."
        )
    return lines


def fit_section(metrics: Mapping[str, dict]) -> str | None:
    """One table per family of the scalar facts its models record about their fit (convergence, epochs, size)."""
    lines = []
    for family in dict.fromkeys(m["family"] for m in metrics.values()):
        facts = {model: m["fit"] for model, m in metrics.items() if m["family"] == family}
        columns = list(dict.fromkeys(
            name for fitted in facts.values() for name, value in fitted.items()
            if value is None or isinstance(value, (int, float, str, bool))
        ))
        if columns:
            note = FIT_NOTES.get(family)
            rows = [[marked(model, metrics[model]), *(cell(fitted.get(name)) for name in columns)]
                    for model, fitted in facts.items()]
            lines += [f"### {family}", "", *([note, ""] if note else []), markdown_table(["Model", *columns], rows), ""]
    lines += [*under_trained_note(metrics),
              "![Training curves of the models that train by epoch](plots/training_curves.png)"]
    return "\n".join(["## Fitting", "", *lines]).rstrip()


def cell(value: Any) -> str:
    if isinstance(value, float):
        return number(value)
    return "—" if value is None else str(value)


def best_epoch_cell(fit: Mapping[str, Any]) -> str:
    """The best epoch, and of how many run where the fit says ('99 of 100')."""
    if fit.get("best_epoch") is None or fit.get("epochs_run") is None:
        return cell(fit.get("best_epoch"))
    return f"{fit['best_epoch']} of {fit['epochs_run']}"


def ranking_section(rankers: Mapping[str, dict], split_facts: Mapping[str, Any]) -> str | None:
    if not rankers:
        return None
    first = next(iter(rankers.values()))
    k, relevant = first["test"]["k"], first["relevant"]
    metric_names = [f"recall@{k}", f"ndcg@{k}", "mrr", f"hit_rate@{k}"]
    rows = []
    for name, metrics in sorted(rankers.items(), key=lambda item: -item[1]["test"][f"ndcg@{k}"]):
        test, fit = metrics["test"], metrics["fit"]
        rows.append([marked(name, metrics), metrics["family"], str(test["users"]),
                     *(with_interval(test, metric) for metric in metric_names), number(test["coverage@k"]), number(test["popularity_percentile@k"], 1),
                     best_epoch_cell(fit), cell(fit.get("parameter_count", fit.get("parameters"))),
                     number(fit.get("seconds_per_epoch"), 2), number(metrics["stage_seconds"], 1)])
    relevance = "every held-out interaction" if relevant == "all" else "only held-out interactions of the last class"
    text = [
        "## Ranking: top-k over the whole catalogue (test)",
        "",
        f"Leave-last-out by time ({split_facts['users']} users, {split_facts['items']} items; same-moment "
        f"interactions ordered by {split_facts['tie_order']}): each user's last interaction is the test target, ranked "
        f"among every item the user has not interacted with (no sampled negatives). Relevant: {relevance}. "
        f"With one target per user, Recall@{k} equals HitRate@{k}. Coverage: share of the catalogue in any top-{k}; "
        "popularity percentile: mean train-popularity percentile of the recommended items (50: as random, 100: only "
        "the most popular). 95% intervals from users resampled.",
        "",
        markdown_table(["Ranker", "Family", "Users", *metric_names, "Coverage", "Pop. pct", "Best epoch",
                        "Parameters", "s/epoch", "Stage s"], rows),
        "",
        *under_trained_note(rankers),
        "![NDCG of every ranker](plots/ranking_comparison.png)",
    ]
    return "\n".join(text)


def slice_cell(report: Mapping[str, Any], name: str, metric: str) -> str:
    """A metric of one item slice with its interval and size, or a dash for an empty slice."""
    part = report.get("slices", {}).get(name, {})
    if part.get(metric) is None:
        return "—"
    return f"{with_interval(part, metric)} (n={part['examples']})"


def slices_section(metrics: Mapping[str, dict], rankers: Mapping[str, dict]) -> str | None:
    """Every model and ranker on cold-start items and on the head and tail of the popularity slices (test)."""
    first = next(iter(metrics.values()), None)
    if first is None or "slices" not in first["test"]:
        return None
    names = list(first["test"]["slices"])
    head, tail = names[1], names[-1]  # popularity_1 is the head, the last slice the tail
    cold = next((report["test"]["slices"]["cold_start"] for report in metrics.values()
                 if report["test"]["slices"]["cold_start"]["examples"]), {})
    rows = [[name, report["family"], with_interval(report["test"], "macro_f1"),
             slice_cell(report["test"], "cold_start", "macro_f1"), slice_cell(report["test"], head, "macro_f1"),
             slice_cell(report["test"], tail, "macro_f1"),
             with_interval(report["test"], "last_class_auc") if report["test"].get("last_class_auc") is not None
             else "—", slice_cell(report["test"], "cold_start", "last_class_auc")]
            for name, report in sorted(metrics.items(), key=lambda item: -item[1]["test"]["macro_f1"])]
    lines = [
        "## Item slices: cold-start and popularity (test)",
        "",
        "Cold-start items: those with at most item_slices.cold_start_max_train train interactions ("
        + (f"the most any has here: {cold['train_interactions_max']}" if cold else "none in this run")
        + "); popularity slices hold equal numbers of the "
        f"evaluated items, head ({head}) to tail ({tail}). AUC: the last class against the rest, from its "
        "probability. 95% intervals resample the slice's users, each with all their reviews in it; n: reviews in "
        "the slice.",
        "",
        markdown_table(["Model", "Family", "Macro-F1", "Cold-start macro-F1", "Head macro-F1", "Tail macro-F1",
                        "AUC (last class)", "Cold-start AUC"], rows),
    ]
    if rankers:
        k = next(iter(rankers.values()))["test"]["k"]
        ndcg = f"ndcg@{k}"
        rows = [[name, report["family"], with_interval(report["test"], ndcg),
                 *(slice_cell(report["test"], part, ndcg) for part in ("cold_start", head, tail))]
                for name, report in sorted(rankers.items(), key=lambda item: -item[1]["test"][ndcg])]
        lines += ["", "Rankers by the slice of each user's test target (n: users):", "",
                  markdown_table(["Ranker", "Family", ndcg, f"Cold-start {ndcg}", f"Head {ndcg}", f"Tail {ndcg}"],
                                 rows)]
    return "\n".join(lines)


def render_results(
    metrics: Mapping[str, dict],
    class_names: Sequence[str],
    embedding_scores: Mapping[str, Any],
    significance: Mapping[str, Any],
    split_summary: Mapping[str, Any],
    pairs: list[dict],
    comparisons: list[dict],
    confidence: float,
    rankers: Mapping[str, dict] | None = None,
    rank_split: Mapping[str, Any] | None = None,
) -> str:
    """results.md: the paper's Tables 1-3 beside this run's, the text-free baseline comparison, McNemar tests,
    per-class scores and training facts."""
    header = "\n".join([
        "# Results",
        "",
        "Generated by `dvc repro report` (src/sasnet/report/) from metrics/*.json and data/predictions/; do not "
        "edit by hand. Paper: \"SASNet: Dynamic LLM Embeddings and Combinatorial Training for Recommendation "
        "Systems\" (Amer et al., 2024).",
        "",
        "Reviews per split: " + ", ".join(f"{split} {split_summary[split]['reviews']}"
                                           for split in ("train", "valid", "test") if split in split_summary) + ".",
    ])
    sections = [
        header,
        embedding_section(embedding_scores),
        classification_section(metrics, split_summary),
        baseline_section(comparisons, confidence),
        mcnemar_section(pairs),
        per_class_section(metrics, class_names),
        significance_section(significance),
        fit_section(metrics),
        ranking_section(rankers or {}, rank_split or {}),
        slices_section(metrics, rankers or {}),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"

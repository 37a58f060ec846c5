"""`python -m sasnet.review`: what changed between two revisions, and whether a change of a test metric is real.

The fast tests build each revision in memory (``Files``: the files a commit would hold, its predictions and
rankings among them) with metrics from the project's own scoring functions, then check:

- predictions that differ on one or two test reviews (a fresh clone on another CPU) come out within noise, for
  accuracy and macro-F1 alike, and a real change comes out changed;
- Holm's adjustment across the models decides, not the raw p-value;
- other test reviews, other labels, other classes, other users or targets, another k, missing predictions: the
  comparison falls back to each revision's own interval (overlap: within noise) and says why;
- a classifier's reviews are resampled by user (predictions' user_id, else the split's);
- the params diff, the models and rankers added, removed or changed, under-training, stage times past both
  thresholds, the plots side by side, the headline metrics file.

The slow test runs `dvc exp run` in the toy pipeline of tests/test_remote.py and reviews the experiment by name and
by ref against main, and the workspace against the experiment.
"""

from __future__ import annotations

import io
import json
import re
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from sasnet import review
from sasnet.classification import classification_report
from sasnet.headline import headline
from sasnet.ranking.metrics import per_user, summary
from sasnet.review import Comparison, Options, Revision, Snapshot

CLASSES = ["bad", "good", "excellent"]
USERS, REVIEWS_PER_USER = 120, 5
OPTIONS = Options(samples=400)


class Files(Snapshot):
    """A revision held in memory: path -> bytes."""

    def __init__(self, label: str, commit: str | None, files: dict[str, bytes]):
        self.label, self.commit, self.contents = label, commit, files

    def read(self, path: str) -> bytes | None:
        return self.contents.get(path)

    def files(self, folder: str) -> list[str]:
        return sorted(path for path in self.contents if path.startswith(folder + "/"))


def parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def make_split(users: int = USERS, seed: int = 0) -> pd.DataFrame:
    n = users * REVIEWS_PER_USER
    return pd.DataFrame({"review_id": [f"r{i:04d}" for i in range(n)],
                         "user_id": [f"u{i // REVIEWS_PER_USER:03d}" for i in range(n)],
                         "label": np.random.default_rng(seed).integers(0, len(CLASSES), n)})




def predictions_with(split: pd.DataFrame, wrong: np.ndarray) -> np.ndarray:
    """The labels, with the reviews at ``wrong`` predicted as the next class."""
    labels = split["label"].to_numpy()
    predicted = labels.copy()
    predicted[wrong] = (labels[wrong] + 1) % len(CLASSES)
    return predicted


def revision(label: str, models: dict[str, np.ndarray], rankers: dict[str, np.ndarray] | None = None,
             split: pd.DataFrame | None = None, params: dict | None = None, k: int = 10, classes=CLASSES,
             user_ids: bool = True, extra: dict[str, bytes] | None = None, commit: str | None = "c" * 40,
             fits: dict[str, dict] | None = None, seconds: dict[str, float] | None = None) -> Revision:
    """A revision whose models predicted ``models[name]`` on ``split``'s reviews and whose rankers put each user's
    target at ``rankers[name]`` (0-based ranks); its metrics come from the project's scoring functions."""
    split = make_split() if split is None else split
    rankers = rankers or {}
    labels = split["label"].to_numpy()
    files = {"data/split/test.parquet": parquet(split[["review_id", "user_id", "label"]])}
    for name, predicted in models.items():
        report = classification_report(labels, predicted, classes, 0, 200, 0, 0.95)
        metrics = {"model": name, "family": "toy", "test": report, "fit": (fits or {}).get(name, {}),
                   "stage_seconds": (seconds or {}).get(f"models/{name}", 1.0)}
        files[f"metrics/models/{name}.json"] = json.dumps(metrics).encode()
        frame = split.assign(split="test", predicted=predicted)
        files[f"data/predictions/{name}.parquet"] = parquet(frame if user_ids else frame.drop(columns="user_id"))
    users = split["user_id"].unique()
    for name, ranks in rankers.items():
        files[f"metrics/rankers/{name}.json"] = json.dumps({
            "ranker": name, "family": "toy", "test": summary(per_user(ranks, k), k, 200, 0, 0.95),
            "fit": (fits or {}).get(name, {}), "stage_seconds": (seconds or {}).get(f"rankers/{name}", 1.0)}).encode()
        files[f"data/rankings/{name}.parquet"] = parquet(pd.DataFrame({
            "user_id": users, "target": [f"i{i}" for i in range(len(users))], "target_rank": ranks}))
    params = params or {"models": {name: {"family": "toy"} for name in models},
                        "rankers": {name: {"family": "toy"} for name in rankers}}
    files["params.yaml"] = yaml.safe_dump(params).encode()
    files |= extra or {}
    return Revision.load(Files(label, commit, files))


def rows_of(text: str, name: str) -> dict[str, list[str]]:
    """The metric rows of one model or ranker in a review: metric -> its cells."""
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) > 2 and cells[0] == f"`{name}`" and line.startswith("| `"):
            rows[cells[1]] = cells
    return rows


def compare(base: Revision, head: Revision, kind: str = "models", names=None) -> tuple[list[Comparison], dict]:
    comparisons, notes = [], {}
    for name in names or head.entries(kind):
        found, note = review.compare_entry(base, head, kind, name, OPTIONS)
        comparisons += found
        notes[name] = note
    review.judge(comparisons, OPTIONS.alpha)
    return comparisons, notes


def verdicts(comparisons: list[Comparison]) -> dict[tuple[str, str], str]:
    return {(c.name, c.metric): c.verdict for c in comparisons}


@pytest.fixture(scope="module")
def split() -> pd.DataFrame:
    return make_split()


@pytest.fixture(scope="module")
def base_wrong(split) -> np.ndarray:
    """A seeded fifth of the reviews wrong (the base model)."""
    return np.random.default_rng(1).permutation(len(split))[: len(split) // 5]


# ---- is the change real


@pytest.mark.parametrize("moved", [1, 2])
def test_predictions_that_differ_on_one_or_two_reviews_are_within_noise(split, base_wrong, moved):
    right = np.setdiff1d(np.arange(len(split)), base_wrong)[:moved]
    base = revision("main", {"m": predictions_with(split, base_wrong)}, split=split)
    head = revision("pr", {"m": predictions_with(split, np.r_[base_wrong, right])}, split=split)
    comparisons, notes = compare(base, head)
    assert notes == {"m": None}
    assert all(c.paired for c in comparisons)
    assert verdicts(comparisons) == {("m", "accuracy"): "within noise", ("m", "macro_f1"): "within noise"}
    accuracy = next(c for c in comparisons if c.metric == "accuracy")
    assert accuracy.difference == pytest.approx(-moved / len(split))
    assert accuracy.difference == pytest.approx(accuracy.head - accuracy.base)
    assert accuracy.mcnemar_p > 0.05


def test_a_real_change_is_changed_and_identical_predictions_unchanged(split, base_wrong):
    more_wrong = np.setdiff1d(np.arange(len(split)), base_wrong)[: len(split) // 5]
    base = revision("main", {"worse": predictions_with(split, base_wrong), "same": predictions_with(split, base_wrong)},
                    split=split)
    head = revision("pr", {"worse": predictions_with(split, np.r_[base_wrong, more_wrong]),
                           "same": predictions_with(split, base_wrong)}, split=split)
    comparisons, _ = compare(base, head)
    assert verdicts(comparisons) == {("worse", "accuracy"): "**changed**", ("worse", "macro_f1"): "**changed**",
                                     ("same", "accuracy"): "unchanged", ("same", "macro_f1"): "unchanged"}
    worse = next(c for c in comparisons if c.name == "worse" and c.metric == "accuracy")
    assert worse.high < 0 and worse.p_holm < 0.05 and worse.mcnemar_holm < 0.05


def test_the_verdict_follows_holms_adjusted_p_value_not_the_raw_one():
    comparisons = [Comparison("models", f"m{i}", "accuracy", 0.5, 0.6, paired=True, p_value=p)
                   for i, p in enumerate([0.02, 0.03, 0.04, 0.5])]
    comparisons.append(Comparison("models", "m0", "macro_f1", 0.5, 0.6, paired=True, p_value=0.02))
    review.judge(comparisons, 0.05)
    assert [c.p_holm for c in comparisons] == pytest.approx([0.08, 0.09, 0.09, 0.5, 0.02])
    assert [c.verdict for c in comparisons] == ["within noise"] * 4 + ["**changed**"]  # its own family: one test


def test_a_classifier_is_resampled_by_user(split, base_wrong, monkeypatch):
    seen = []
    original = review.paired_bootstrap
    monkeypatch.setattr(review, "paired_bootstrap",
                        lambda *args, **kwargs: seen.append(args[4]) or original(*args, **kwargs))
    shuffled = split.sample(frac=1, random_state=0)  # the base lists the reviews in another order
    base = revision("main", {"m": predictions_with(shuffled, np.arange(50))}, split=shuffled)
    head = revision("pr", {"m": predictions_with(split, base_wrong)}, split=split)
    compare(base, head)
    users = split.set_index("review_id").sort_index()["user_id"].to_numpy()
    assert len(seen) == 2 and all(np.array_equal(clusters, users) for clusters in seen)

    seen.clear()  # predictions without user_id (written before they carried it): the split's users
    base = revision("main", {"m": predictions_with(split, np.arange(50))}, split=split, user_ids=False)
    head = revision("pr", {"m": predictions_with(split, base_wrong)}, split=split, user_ids=False)
    compare(base, head)
    assert len(seen) == 2 and all(np.array_equal(clusters, users) for clusters in seen)


# ---- not the same examples: each revision's own interval


def test_other_test_reviews_fall_back_to_unpaired_intervals(split, base_wrong):
    fewer = split.iloc[: len(split) - 2 * REVIEWS_PER_USER]
    base = revision("main", {"m": predictions_with(split, base_wrong)}, split=split)
    head = revision("pr", {"m": predictions_with(fewer, base_wrong[base_wrong < len(fewer)])}, split=fewer)
    comparisons, notes = compare(base, head)
    assert "test reviews differ" in notes["m"] and f"{len(split)} → {len(fewer)}" in notes["m"]
    assert not any(c.paired for c in comparisons)
    assert set(verdicts(comparisons).values()) == {"within noise (unpaired)"}

    all_wrong = predictions_with(fewer, np.arange(len(fewer)))
    comparisons, _ = compare(base, revision("pr", {"m": all_wrong}, split=fewer))
    assert set(verdicts(comparisons).values()) == {"**changed** (unpaired)"}  # the intervals are far apart


def test_other_labels_or_classes_are_not_paired(split, base_wrong):
    relabelled = split.assign(label=np.where(np.arange(len(split)) < 3, (split["label"] + 1) % 3, split["label"]))
    base = revision("main", {"m": predictions_with(split, base_wrong)}, split=split)
    _, notes = compare(base, revision("pr", {"m": predictions_with(relabelled, base_wrong)}, split=relabelled))
    assert notes["m"] == "3 test reviews have another label"
    two_classes = split.assign(label=split["label"] % 2)
    _, notes = compare(base, revision("pr", {"m": predictions_with(two_classes, base_wrong) % 2},
                                      split=two_classes, classes=["bad", "good"]))
    assert notes["m"].startswith("the classes differ")


def test_missing_predictions_fall_back_and_say_why(split, base_wrong):
    base = revision("main", {"m": predictions_with(split, base_wrong)}, split=split)
    head = revision("pr", {"m": predictions_with(split, base_wrong)}, split=split)
    del head.snapshot.contents["data/predictions/m.parquet"]
    comparisons, notes = compare(base, head)
    assert "has no data/predictions/m.parquet" in notes["m"] and not any(c.paired for c in comparisons)
    assert set(verdicts(comparisons).values()) == {"within noise (unpaired)"}


def test_rankers_pair_the_same_users_and_targets_at_the_same_k(split):
    ranks = (np.arange(USERS) * 7) % 40
    base = revision("main", {}, {"r": ranks}, split=split)
    comparisons, notes = compare(base, revision("pr", {}, {"r": ranks + (np.arange(USERS) == 0)}, split=split),
                                 "rankers")
    assert notes == {"r": None} and {c.metric for c in comparisons} == {"ndcg@10", "recall@10"}
    assert set(verdicts(comparisons).values()) == {"within noise"}  # one user's target one place lower
    comparisons, _ = compare(base, revision("pr", {}, {"r": ranks + 30}, split=split), "rankers")
    assert set(verdicts(comparisons).values()) == {"**changed**"}
    _, notes = compare(base, revision("pr", {}, {"r": ranks}, split=split, k=20), "rankers")
    assert notes["r"] == "k differs (10 → 20)"
    moved = revision("pr", {}, {"r": ranks}, split=split)
    rankings = pd.read_parquet(io.BytesIO(moved.snapshot.contents["data/rankings/r.parquet"]))
    moved.snapshot.contents["data/rankings/r.parquet"] = parquet(rankings.assign(target="i0"))
    _, notes = compare(base, moved, "rankers")
    assert notes["r"] == f"{USERS - 1} test users have another target"


# ---- params, entries, under-training, stage times, plots, the whole report


def test_params_are_diffed_by_dotted_key():
    base = {"sasnet": {"patience": 10, "lr": 3e-4}, "models": {"a": {"family": "svm"}}, "gone": 1}
    head = {"sasnet": {"patience": 150, "lr": 3e-4}, "models": {"a": {"family": "svm", "pooling": "mean"}}}
    changed = review.changed_keys(base, head)
    assert {key: tuple(review.show_value(value) for value in pair) for key, pair in changed.items()} == {
        "gone": ("`1`", "—"), "models.a.pooling": ("—", "`mean`"), "sasnet.patience": ("`10`", "`150`")}


def test_models_and_rankers_added_removed_or_changed(split, base_wrong):
    predicted = predictions_with(split, base_wrong)
    lock = {"stages": {"train@kept": {"params": {"params.yaml": {"evaluation": {"seed": 0}}},
                                      "deps": [{"path": "data/split", "md5": "a"}],
                                      "outs": [{"path": "data/predictions/kept.parquet", "md5": "x"}]}}}
    moved = {"stages": {"train@kept": {"params": {"params.yaml": {"evaluation": {"seed": 1}}},
                                       "deps": [{"path": "data/split", "md5": "b"}],
                                       "outs": [{"path": "data/predictions/kept.parquet", "md5": "y"}]}}}
    base = revision("main", {"kept": predicted, "gone": predicted}, split=split, extra={
        "dvc.lock": yaml.safe_dump(lock).encode()}, params={
        "models": {"kept": {"family": "svm"}, "gone": {"family": "svm"}}, "svm": {"C": 1.0}, "rankers": {}})
    head = revision("pr", {"kept": predicted, "new": predicted}, split=split, extra={
        "dvc.lock": yaml.safe_dump(moved).encode()}, params={
        "models": {"kept": {"family": "svm"}, "new": {"family": "svm"}}, "svm": {"C": 2.0}, "rankers": {}})
    changes = {(c.name, c.status): c.what for c in review.entry_changes(base, head, "models")}
    assert changes == {("new", "added"): [], ("gone", "removed"): [],
                       ("kept", "changed"): ["params `evaluation.seed`, `svm.C`", "inputs `data/split`", "outputs"]}


def test_under_trained_models_are_flagged(split, base_wrong):
    predicted = predictions_with(split, base_wrong)
    capped = {"best_epoch": 100, "epochs_run": 100, "stopped_early": False}
    stopped = {"best_epoch": 40, "epochs_run": 50, "stopped_early": True}
    base = revision("main", {"m": predicted}, split=split, fits={"m": stopped})
    head = revision("pr", {"m": predicted}, split=split, fits={"m": capped})
    assert review.under_trained_rows(base, head) == [
        ["model", "`m`", "no", "**under-trained** (best epoch 100 of 100)"]]
    assert review.under_trained_rows(base, base) == []


def test_stage_times_show_only_moves_past_both_thresholds():
    base = {"a": 10.0, "b": 100.0, "c": 10.0, "d": 100.0, "gone": 1.0}
    head = {"a": 13.0, "b": 130.0, "c": 16.0, "d": 110.0, "new": 50.0}
    assert review.stage_time_changes(base, head, Options(time_ratio=0.2, time_seconds=5)) == [
        ("b", 100.0, 130.0), ("c", 10.0, 16.0)]


def test_the_report_shows_params_metrics_and_the_changed_plots_side_by_side(split, base_wrong, tmp_path):
    plots = {"plots/same.png": b"\x89PNG same", "plots/models/m.png": b"\x89PNG base"}
    base = revision("main", {"m": predictions_with(split, base_wrong)}, split=split, extra=plots,
                    seconds={"models/m": 10.0}, params={"models": {"m": {"family": "toy"}}, "toy": {"lr": 0.1}})
    head = revision("pr", {"m": predictions_with(split, base_wrong[:-1])}, split=split, commit="d" * 40,
                    extra=plots | {"plots/models/m.png": b"\x89PNG head", "plots/new.png": b"\x89PNG"},
                    seconds={"models/m": 30.0}, params={"models": {"m": {"family": "toy"}}, "toy": {"lr": 0.2}})
    text = review.render(base, head, OPTIONS, tmp_path, tmp_path / "review_plots")
    assert "| `toy.lr` | `0.1` | `0.2` |" in text
    accuracy = rows_of(text, "m")["accuracy"]
    expected = 1 - len(base_wrong) / len(split)
    assert accuracy[2:5] == [f"{expected:.4f}", f"{expected + 1 / len(split):.4f}", f"{1 / len(split):+.4f}"]
    assert accuracy[-1] == "within noise"
    assert "| `models/m` | 10.0 | 30.0 | +20.0 |" in text
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links == ["review_plots/base-ccccccc/plots/models/m.png", "review_plots/head-ddddddd/plots/models/m.png"]
    assert [(tmp_path / link).read_bytes() for link in links] == [b"\x89PNG base", b"\x89PNG head"]
    assert "Unchanged: `plots/same.png`." in text and "new.png" not in text


def test_an_unknown_revision_is_refused(tmp_path):
    from test_remote import dvc, git

    git(tmp_path, "init", "-q")
    dvc(tmp_path, "init")
    with pytest.raises(review.ReviewError, match="neither a git revision nor an experiment"):
        review.open_revision(tmp_path, "HEAD")  # no commit yet
    git(tmp_path, "commit", "-q", "-m", "dvc init")
    assert review.open_revision(tmp_path, "HEAD").commit == git(tmp_path, "rev-parse", "HEAD").strip()
    with pytest.raises(review.ReviewError, match="neither a git revision nor an experiment"):
        review.open_revision(tmp_path, "no-such-branch")


def test_the_headline_holds_the_metrics_a_review_tests(split, base_wrong):
    rev = revision("main", {"m": predictions_with(split, base_wrong)}, {"r": np.arange(USERS) % 40}, split=split)
    models, rankers = ({name: rev.metrics(kind, name) for name in rev.entries(kind)} for kind in ("models", "rankers"))
    compact = headline(models, rankers)
    assert compact == {"models": {"m": {key: models["m"]["test"][key] for key in ("accuracy", "macro_f1")}},
                       "rankers": {"r": {key: rankers["r"]["test"][key] for key in ("ndcg@10", "recall@10")}}}
    tested = {c.metric for c in compare(rev, rev)[0] + compare(rev, rev, "rankers")[0]}
    assert tested == {key for group in compact.values() for entry in group.values() for key in entry}


# ---- experiments (slow: runs the toy pipeline)


@pytest.mark.slow
def test_an_experiment_is_reviewed_by_name_and_by_ref(tmp_path):
    from test_remote import dvc, git, run, toy_repo

    repo = toy_repo(tmp_path / "toy", tmp_path / "storage")
    dvc(repo, "exp", "run", "-S", "models.toy.wrong=32", "-n", "two_more")
    ref = next(line.split()[-1] for line in git(repo, "for-each-ref", "refs/exps").splitlines()
               if line.endswith("/two_more"))
    by_name = run(repo, sys.executable, "-m", "sasnet.review", "main", "two_more", "-o", "by_name.md")
    by_ref = run(repo, sys.executable, "-m", "sasnet.review", "main", ref, "-o", "by_ref.md")
    assert by_name.replace("`two_more`", "`X`") == by_ref.replace(f"`{ref}`", "`X`")
    assert "| `models.toy.wrong` | `30` | `32` |" in by_name
    assert rows_of(by_name, "toy")["accuracy"][-1] == "within noise"  # two reviews of three hundred
    assert rows_of(by_name, "toy")["ndcg@10"][-1] == "unchanged"
    workspace = run(repo, sys.executable, "-m", "sasnet.review", "two_more")  # `dvc exp run` left its results
    assert "No param changed." in workspace and rows_of(workspace, "toy")["accuracy"][-1] == "unchanged"

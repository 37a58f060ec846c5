"""What a change did to the pipeline's results, and whether it is real: a Markdown review of two revisions.

    python -m sasnet.review BASE [HEAD] [-o review.md] [--plots-dir review_plots] [--samples 1000] [--seed 0]
                            [--confidence 0.95] [--time-ratio 0.2] [--time-seconds 5] [--repo .]

BASE and HEAD are git revisions (a branch, a tag, a commit, ``origin/main``, ``HEAD~1``) or `dvc exp` experiments
(a name that `dvc exp show` lists, or its ref ``refs/exps/...``), resolved as DVC resolves them; HEAD left out is
the workspace. A revision's params.yaml, dvc.lock, metrics and plots come from git (``git cat-file``), its DVC-tracked
outputs (predictions, rankings, the split) through DVC (``DVCFileSystem(rev=...)``: the local cache, else the default
remote), so nothing is recomputed. The report (written to ``-o`` and printed) gives:

- the params that changed (dotted keys, base -> head);
- the models and rankers added, removed or changed (their params entry, their family's section, their dvc.lock
  entry: params, inputs, outputs);
- for each model and ranker of both: its test metrics on both, the difference, and whether the difference is beyond
  noise. When both scored the same test examples (same review ids and labels; same users and targets), a paired
  bootstrap of head minus base over the same resampled test users (``sasnet.stats.paired_bootstrap``; a classifier's
  reviews clustered by user, each ranker user one cluster) gives an interval and a p-value, Holm-adjusted across the
  models (per metric), with McNemar's test beside it for classifiers. A difference is **changed** only where the
  adjusted p-value is below ``1 - confidence``, else **within noise**. When the examples differ (data, sample,
  split or k changed), the comparison falls back to each revision's own interval from its metrics JSON: overlapping
  intervals are within noise;
- under-trained models (``sasnet.models.early_stopping.under_trained``);
- the stage times (``stage_seconds`` in each metrics JSON) that moved by more than both thresholds;
- the PNG plots that differ, both revisions side by side (copied under ``--plots-dir``, beside the report).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sasnet import paths
from sasnet.classification import macro_f1_metric
from sasnet.headline import CLASSIFIER_METRICS, RANKER_METRICS, ranker_metric_names
from sasnet.models.early_stopping import under_trained
from sasnet.ranking.metrics import per_user
from sasnet.report import markdown
from sasnet.report.markdown import markdown_table, p_value
from sasnet.stage_times import stage_times
from sasnet.stats import SumMetric, holm_adjusted, mcnemar_test, mean_metric, paired_bootstrap

MODEL_STAGE, RANKER_STAGE = "train", "rank"  # dvc.yaml's foreach groups: train@<model>, rank@<ranker>
NUMBER_DIGITS = 4  # a fourth-decimal move must show, to be read as noise
LISTED = 6  # params or inputs named per changed model; the rest counted


class ReviewError(Exception):
    """A revision that cannot be read (unknown name, no params.yaml): the command prints it and exits 1."""


class OutputUnavailable(Exception):
    """An output a revision's dvc.lock records, whose bytes neither the DVC cache nor the remote holds."""


# ---- one revision's files


class Snapshot:
    """One revision's files: what git tracks (params, dvc.lock, metrics, plots) and DVC's outputs."""

    label: str  # as the user named it
    commit: str | None  # None: the workspace

    @property
    def tag(self) -> str:
        """A short folder-safe name: the commit's first 7 hex digits, or ``workspace``."""
        return self.commit[:7] if self.commit else "workspace"

    def describe(self) -> str:
        if not self.commit:
            return "the workspace"
        return f"`{self.label}`" if self.commit.startswith(self.label) else f"`{self.label}` ({self.tag})"

    def read(self, path: str) -> bytes | None:
        """The file's bytes; None when the revision has no such file."""
        raise NotImplementedError

    def files(self, folder: str) -> list[str]:
        """Every file under ``folder`` (paths relative to the repository, sorted)."""
        raise NotImplementedError

    def json(self, path: str) -> Any:
        """The parsed JSON file, read once: the report asks for each model's metrics several times."""
        cache = self.__dict__.setdefault("_parsed", {})
        if path not in cache:
            data = self.read(path)
            cache[path] = None if data is None else json.loads(data)
        return cache[path]

    def yaml(self, path: str) -> Any:
        data = self.read(path)
        return None if data is None else yaml.safe_load(data)


class Workspace(Snapshot):
    """The files on disk (after `dvc repro`, `dvc pull` or `dvc exp run`)."""

    def __init__(self, root: Path):
        self.root, self.label, self.commit = Path(root), "workspace", None

    def read(self, path: str) -> bytes | None:
        file = self.root / path
        return file.read_bytes() if file.is_file() else None

    def files(self, folder: str) -> list[str]:
        return sorted(path.relative_to(self.root).as_posix() for path in (self.root / folder).rglob("*")
                      if path.is_file())


class Commit(Snapshot):
    """A commit: git-tracked files from git, DVC-tracked outputs from DVC's cache or its default remote."""

    def __init__(self, root: Path, label: str, commit: str):
        self.root, self.label, self.commit = Path(root), label, commit

    def _git(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=self.root, capture_output=True)

    @cached_property
    def dvcfs(self):
        from dvc.fs import DVCFileSystem

        return DVCFileSystem(repo=str(self.root), rev=self.commit)

    def read(self, path: str) -> bytes | None:
        shown = self._git("cat-file", "blob", f"{self.commit}:{path}")
        if shown.returncode == 0:
            return shown.stdout
        try:
            return self.dvcfs.read_bytes(path)
        except FileNotFoundError as error:
            if self.dvcfs.exists(path):  # dvc.lock records it, but no cache or remote holds its bytes
                raise OutputUnavailable(f"{path} of {self.describe()} is in neither the DVC cache nor the default "
                                        f"remote (`dvc push` it from a checkout that has it)") from error
            return None

    def files(self, folder: str) -> list[str]:
        listed = self._git("ls-tree", "-r", "--name-only", self.commit, "--", folder)
        return sorted(listed.stdout.decode().splitlines())


def open_revision(root: Path, rev: str | None) -> Snapshot:
    """The workspace (``rev`` None) or the commit a git revision or a `dvc exp` name or ref points at."""
    if rev is None:
        return Workspace(root)
    from dvc.repo import Repo
    from dvc.scm import RevError, resolve_rev
    from scmrepo.exceptions import SCMError

    repo = Repo(str(root))
    try:
        return Commit(root, rev, resolve_rev(repo.scm, rev))
    except (RevError, SCMError) as error:  # SCMError: a repository without a commit
        raise ReviewError(f"{rev!r} is neither a git revision nor an experiment (`dvc exp show` lists them): "
                          f"{error}") from error
    finally:
        repo.close()


# ---- what a revision holds


@dataclass
class Revision:
    snapshot: Snapshot
    params: dict
    lock: dict  # dvc.lock's stages

    @classmethod
    def load(cls, snapshot: Snapshot) -> Revision:
        params = snapshot.yaml("params.yaml")
        if not isinstance(params, dict):
            raise ReviewError(f"{snapshot.describe()} has no params.yaml")
        lock = snapshot.yaml("dvc.lock") or {}
        return cls(snapshot, params, lock.get("stages") or {})

    def entries(self, kind: str) -> dict[str, dict]:
        """params.yaml's ``models`` or ``rankers`` map."""
        return dict(self.params.get(kind) or {})

    def metrics(self, kind: str, name: str) -> dict | None:
        path = paths.model_metrics(name) if kind == "models" else paths.ranker_metrics(name)
        return self.snapshot.json(path.as_posix())

    def output(self, path: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """A DVC-tracked parquet output; raises ReviewError with the reason when it cannot be read."""
        try:
            data = self.snapshot.read(path.as_posix())
        except OutputUnavailable as error:
            raise ReviewError(str(error)) from error
        except Exception as error:  # DVC's other errors: a remote unreachable, credentials refused
            raise ReviewError(f"{path} of {self.snapshot.describe()} cannot be read: {error}") from error
        if data is None:
            raise ReviewError(f"{self.snapshot.describe()} has no {path}" + (
                "" if self.snapshot.commit else " (`dvc pull` or `dvc repro` makes it)"))
        return pd.read_parquet(io.BytesIO(data), columns=list(columns) if columns else None)

    @cached_property
    def test_users(self) -> pd.Series:
        """review_id -> user_id of the test split."""
        split = self.output(paths.split_file("test"), ["review_id", "user_id"])
        return split.set_index("review_id")["user_id"]

    def stage_seconds(self) -> dict[str, float]:
        """Metrics file (relative to metrics/, without .json, as `python -m sasnet.stage_times` names them) -> its
        stage's wall seconds."""
        folder = paths.METRICS.as_posix()
        files = {path[len(folder) + 1:-len(".json")]: self.snapshot.json(path)
                 for path in self.snapshot.files(folder) if path.endswith(".json")}
        return stage_times({name: facts for name, facts in files.items() if isinstance(facts, dict)})


# ---- params


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings to dotted keys; a list or an empty mapping is one value."""
    if isinstance(value, Mapping) and value:
        flat = {}
        for key, item in value.items():
            flat |= flatten(item, f"{prefix}{key}.")
        return flat
    return {prefix[:-1]: value}


MISSING = object()


def changed_keys(base: Any, head: Any) -> dict[str, tuple[Any, Any]]:
    """Dotted key -> (base value, head value) where they differ; MISSING where a side lacks the key."""
    flat_base, flat_head = flatten(base or {}), flatten(head or {})
    return {key: (flat_base.get(key, MISSING), flat_head.get(key, MISSING))
            for key in sorted(flat_base.keys() | flat_head.keys())
            if flat_base.get(key, MISSING) != flat_head.get(key, MISSING)}


def show_value(value: Any) -> str:
    if value is MISSING:
        return "—"
    text = value if isinstance(value, str) else json.dumps(value)
    return f"`{text}`"


# ---- models and rankers


@dataclass
class EntryChange:
    kind: str  # models | rankers
    name: str
    status: str  # added | removed | changed
    what: list[str] = field(default_factory=list)


def stage_name(kind: str, name: str) -> str:
    return f"{MODEL_STAGE if kind == 'models' else RANKER_STAGE}@{name}"


def lock_changes(base: Mapping | None, head: Mapping | None) -> tuple[set[str], list[str], bool]:
    """What differs between two dvc.lock entries of a stage: its params (dotted keys), its inputs (deps), whether its
    outputs do; nothing when a side has no entry."""
    if not base or not head:
        return set(), [], False
    base_params, head_params = base.get("params") or {}, head.get("params") or {}
    params = {key for file in base_params.keys() | head_params.keys()
              for key in changed_keys(base_params.get(file), head_params.get(file))}

    def hashes(entries: Iterable[Mapping] | None) -> dict[str, Any]:
        return {entry["path"]: entry.get("md5") or entry.get("hash") for entry in entries or []}

    deps_base, deps_head = hashes(base.get("deps")), hashes(head.get("deps"))
    deps = sorted(path for path in deps_base.keys() | deps_head.keys() if deps_base.get(path) != deps_head.get(path))
    return params, deps, hashes(base.get("outs")) != hashes(head.get("outs"))


def entry_changes(base: Revision, head: Revision, kind: str) -> list[EntryChange]:
    """Each model (kind ``models``) or ranker (``rankers``) added, removed, or changed: the params of its entry, of
    its family's section and of its dvc.lock entry, the inputs and outputs of its dvc.lock entry; without a dvc.lock
    entry on both, its test metrics."""
    base_entries, head_entries = base.entries(kind), head.entries(kind)
    changes = [EntryChange(kind, name, "added") for name in head_entries if name not in base_entries]
    changes += [EntryChange(kind, name, "removed") for name in base_entries if name not in head_entries]
    for name in (name for name in head_entries if name in base_entries):
        params = {f"{kind}.{name}.{key}" for key in changed_keys(base_entries[name], head_entries[name])}
        family_base, family_head = (entries[name].get("family") if isinstance(entries[name], Mapping) else None
                                    for entries in (base_entries, head_entries))
        if family_base == family_head and isinstance(family_head, str):
            params |= {f"{family_head}.{key}"
                       for key in changed_keys(base.params.get(family_head), head.params.get(family_head))}
        stage = stage_name(kind, name)
        locked = base.lock.get(stage) and head.lock.get(stage)
        lock_params, deps, outputs = lock_changes(base.lock.get(stage), head.lock.get(stage))
        params |= lock_params
        what = ["params " + listed(sorted(params))] if params else []
        what += ["inputs " + listed(deps)] if deps else []
        what += ["outputs"] if outputs else []
        if not locked and _test_metrics(base.metrics(kind, name)) != _test_metrics(head.metrics(kind, name)):
            what.append("test metrics")
        if what:
            changes.append(EntryChange(kind, name, "changed", what))
    return changes


def listed(names: Sequence[str], most: int = LISTED) -> str:
    """The first ``most`` names as code, then how many more."""
    shown = ", ".join(f"`{name}`" for name in names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _test_metrics(metrics: Mapping | None) -> Any:
    return None if metrics is None else metrics.get("test")


# ---- test metrics: paired when the examples are the same


@dataclass
class Comparison:
    kind: str  # models | rankers
    name: str
    metric: str
    base: float | None
    head: float | None
    base_interval: tuple[float, float] | None = None
    head_interval: tuple[float, float] | None = None
    paired: bool = False
    difference: float | None = None  # head minus base
    low: float | None = None
    high: float | None = None
    p_value: float | None = None
    p_holm: float | None = None
    mcnemar_p: float | None = None
    mcnemar_holm: float | None = None
    identical: bool = False  # paired, and the same prediction for every example
    verdict: str = ""


ACCURACY = mean_metric(np.equal)  # each review right or wrong


def ranking_metric(metric: str, k: int) -> SumMetric:
    """The mean over users of ``metric`` (ndcg, recall) at ``k``, from the targets' 0-based ranks."""
    return mean_metric(lambda _targets, ranks: per_user(ranks, k)[metric])


def interval(report: Mapping | None, metric: str) -> tuple[float, float] | None:
    if not report or report.get(f"{metric}_low") is None or report.get(f"{metric}_high") is None:
        return None
    return float(report[f"{metric}_low"]), float(report[f"{metric}_high"])


@dataclass
class Pairing:
    """The test examples both revisions scored, aligned: or why they cannot be paired."""

    truth: np.ndarray | None = None
    base: np.ndarray | None = None  # predicted classes / target ranks
    head: np.ndarray | None = None
    clusters: np.ndarray | None = None
    reason: str | None = None  # set when not paired
    note: str | None = None  # paired, with a caveat


def mismatch(base_test: pd.DataFrame, head_test: pd.DataFrame, rows: str, truth: str) -> str | None:
    """Why two revisions' test ``rows`` (indexed by id, sorted) cannot be paired: other rows, or another ``truth``
    (label, target) for some of them; None when they can."""
    if not base_test.index.equals(head_test.index):
        common = len(base_test.index.intersection(head_test.index))
        return f"the test {rows} differ ({len(base_test)} → {len(head_test)}, {common} in common)"
    changed = int((base_test[truth] != head_test[truth]).sum())
    return f"{changed} test {rows} have another {truth}" if changed else None


def classifier_pairing(base: Revision, head: Revision, name: str, base_metrics: Mapping,
                       head_metrics: Mapping) -> Pairing:
    """The test reviews of both, by review id, when both scored the same reviews with the same labels and classes;
    each review clustered by its user (the predictions' user_id, else the test split's)."""
    classes = [list((metrics.get("test") or {}).get("f1_per_class") or {}) for metrics in (base_metrics,
                                                                                          head_metrics)]
    if classes[0] != classes[1]:
        return Pairing(reason=f"the classes differ ({classes[0]} → {classes[1]})")
    try:
        frames = [revision.output(paths.predictions_file(name)) for revision in (base, head)]
    except ReviewError as error:
        return Pairing(reason=str(error))
    base_test, head_test = (frame[frame["split"] == "test"].set_index("review_id").sort_index()
                            for frame in frames)
    if reason := mismatch(base_test, head_test, "reviews", "label"):
        return Pairing(reason=reason)
    pairing = Pairing(truth=head_test["label"].to_numpy(), base=base_test["predicted"].to_numpy(),
                      head=head_test["predicted"].to_numpy())
    for test in (head_test, base_test):  # predictions written before they carried user_id: the split's
        if "user_id" in test:
            pairing.clusters = test["user_id"].to_numpy()
            return pairing
    reasons = []
    for revision in (head, base):
        try:
            users = revision.test_users
        except ReviewError as error:
            reasons.append(str(error))
            continue
        if head_test.index.isin(users.index).all():
            pairing.clusters = users.reindex(head_test.index).to_numpy()
            return pairing
        reasons.append(f"the test split of {revision.snapshot.describe()} lacks some of the predicted reviews")
    pairing.note = "each review resampled on its own, not by user: " + "; ".join(reasons)
    return pairing


def ranker_pairing(base: Revision, head: Revision, name: str, base_metrics: Mapping,
                   head_metrics: Mapping) -> Pairing:
    """The test users of both with their targets' ranks, when both ranked the same users' same targets at the same
    k; each user is one cluster (one row)."""
    ks = [(metrics.get("test") or {}).get("k") for metrics in (base_metrics, head_metrics)]
    if ks[0] != ks[1]:
        return Pairing(reason=f"k differs ({ks[0]} → {ks[1]})")
    try:
        frames = [revision.output(paths.rankings_file(name), ["user_id", "target", "target_rank"])
                  for revision in (base, head)]
    except ReviewError as error:
        return Pairing(reason=str(error))
    base_test, head_test = (frame.set_index("user_id").sort_index() for frame in frames)
    if reason := mismatch(base_test, head_test, "users", "target"):
        return Pairing(reason=reason)
    return Pairing(truth=head_test["target"].to_numpy(), base=base_test["target_rank"].to_numpy(),
                   head=head_test["target_rank"].to_numpy())


@dataclass
class Options:
    samples: int = 1000
    seed: int = 0
    confidence: float = 0.95
    time_ratio: float = 0.2
    time_seconds: float = 5.0

    @property
    def alpha(self) -> float:
        return 1 - self.confidence


def compare_entry(base: Revision, head: Revision, kind: str, name: str,
                  options: Options) -> tuple[list[Comparison], str | None]:
    """The test metrics of one model or ranker on both revisions, paired when possible; and, when not paired, why
    (or a caveat of the pairing)."""
    base_metrics, head_metrics = base.metrics(kind, name), head.metrics(kind, name)
    if base_metrics is None or head_metrics is None:
        missing = " and ".join(revision.snapshot.describe() for revision, metrics
                               in ((base, base_metrics), (head, head_metrics)) if metrics is None)
        return [], f"no metrics file on {missing}"
    base_test, head_test = base_metrics.get("test") or {}, head_metrics.get("test") or {}
    if kind == "models":
        pairing = classifier_pairing(base, head, name, base_metrics, head_metrics)
        sum_metrics = {"accuracy": ACCURACY, "macro_f1": macro_f1_metric(len(head_test.get("f1_per_class") or {}))}
        metrics = {metric: sum_metrics[metric] for metric in CLASSIFIER_METRICS}
    else:
        pairing = ranker_pairing(base, head, name, base_metrics, head_metrics)
        k = head_test.get("k")
        metrics = dict(zip(ranker_metric_names(k), (ranking_metric(metric, k) for metric in RANKER_METRICS)))
    comparisons = []
    for metric, function in metrics.items():
        comparison = Comparison(kind, name, metric, base_test.get(metric), head_test.get(metric),
                                interval(base_test, metric), interval(head_test, metric))
        if pairing.reason is None:
            result = paired_bootstrap(function, pairing.truth, pairing.head, pairing.base, pairing.clusters,
                                      options.samples, options.seed, options.confidence)
            comparison.paired = True
            comparison.difference, comparison.low, comparison.high = result["difference"], result["low"], result["high"]
            comparison.p_value = result["p_value"]
            comparison.identical = bool(np.array_equal(pairing.base, pairing.head))
            if kind == "models" and metric == "accuracy":
                comparison.mcnemar_p = mcnemar_test(pairing.truth, pairing.head, pairing.base)["p_value"]
        elif comparison.base is not None and comparison.head is not None:
            comparison.difference = comparison.head - comparison.base
        comparisons.append(comparison)
    return comparisons, pairing.reason or pairing.note


def judge(comparisons: Sequence[Comparison], alpha: float) -> None:
    """Holm-adjust the paired p-values across the models (per kind and metric; McNemar's apart), then the verdicts:
    paired, changed where the adjusted p < alpha; unpaired, changed where the two intervals do not overlap."""
    families: dict[tuple[str, str], list[Comparison]] = {}
    for comparison in comparisons:
        if comparison.paired and comparison.p_value is not None:
            families.setdefault((comparison.kind, comparison.metric), []).append(comparison)
    for family in families.values():
        for comparison, adjusted in zip(family, holm_adjusted([c.p_value for c in family])):
            comparison.p_holm = float(adjusted)
        tested = [c for c in family if c.mcnemar_p is not None]
        for comparison, adjusted in zip(tested, holm_adjusted([c.mcnemar_p for c in tested])):
            comparison.mcnemar_holm = float(adjusted)
    for comparison in comparisons:
        if comparison.paired and comparison.identical:
            comparison.verdict = "unchanged"
        elif comparison.paired:
            comparison.verdict = ("no resamples" if comparison.p_holm is None else
                                  "**changed**" if comparison.p_holm < alpha else "within noise")
        elif comparison.base_interval is None or comparison.head_interval is None:
            comparison.verdict = "no interval" if comparison.difference is not None else "—"
        else:
            (base_low, base_high), (head_low, head_high) = comparison.base_interval, comparison.head_interval
            overlap = base_low <= head_high and head_low <= base_high
            comparison.verdict = "within noise (unpaired)" if overlap else "**changed** (unpaired)"


# ---- under-training, stage times, plots


def under_trained_rows(base: Revision, head: Revision) -> list[list[str]]:
    """The models and rankers ``sasnet.models.early_stopping.under_trained`` flags on either revision."""
    rows = []
    for kind in ("models", "rankers"):
        for name in dict.fromkeys([*head.entries(kind), *base.entries(kind)]):
            cells = []
            for revision in (base, head):
                metrics = revision.metrics(kind, name) if name in revision.entries(kind) else None
                fit = (metrics or {}).get("fit") or {}
                cells.append("—" if metrics is None else
                             f"**under-trained** (best epoch {fit.get('best_epoch')} of {fit.get('epochs_run')})"
                             if under_trained(metrics) else "no")
            if any(cell.startswith("**") for cell in cells):
                rows.append(["model" if kind == "models" else "ranker", f"`{name}`", *cells])
    return rows



def stage_time_changes(base: Mapping[str, float], head: Mapping[str, float],
                       options: Options) -> list[tuple[str, float, float]]:
    """(stage, base seconds, head seconds) where both record a time and they differ by more than
    ``options.time_seconds`` and by more than ``options.time_ratio`` of the base's; the largest moves first."""
    moved = [(name, base[name], head[name]) for name in base.keys() & head.keys()
             if abs(head[name] - base[name]) > max(options.time_seconds, options.time_ratio * base[name])]
    return sorted(moved, key=lambda row: -abs(row[2] - row[1]))


def changed_plots(base: Snapshot, head: Snapshot) -> tuple[list[tuple[str, bytes, bytes]], list[str]]:
    """The PNGs under plots/ that both revisions have: (path, base bytes, head bytes) of those that differ, and the
    paths of those that do not."""
    folder = paths.PLOTS.as_posix()
    common = sorted(set(p for p in base.files(folder) if p.endswith(".png"))
                    & set(p for p in head.files(folder) if p.endswith(".png")))
    differ, same = [], []
    for path in common:
        base_bytes, head_bytes = base.read(path), head.read(path)
        if base_bytes == head_bytes:
            same.append(path)
        else:
            differ.append((path, base_bytes, head_bytes))
    return differ, same


def plots_folder_name(snapshot: Snapshot, side: str) -> str:
    return f"{side}-{re.sub(r'[^A-Za-z0-9_.-]', '_', snapshot.tag)}"


# ---- the report


def number(value: float | None) -> str:
    return markdown.number(value, NUMBER_DIGITS)


def signed(value: float | None) -> str:
    return markdown.signed(value, NUMBER_DIGITS)


def with_own_interval(value: float | None, bounds: tuple[float, float] | None) -> str:
    return number(value) + ("" if bounds is None else f" [{number(bounds[0])}, {number(bounds[1])}]")


def comparison_rows(comparisons: Sequence[Comparison], models: bool) -> list[list[str]]:
    rows = []
    for c in comparisons:
        shown_base = number(c.base) if c.paired else with_own_interval(c.base, c.base_interval)
        shown_head = number(c.head) if c.paired else with_own_interval(c.head, c.head_interval)
        bounds = f"[{signed(c.low)}, {signed(c.high)}]" if c.paired and c.low is not None else "—"
        tested = f"{p_value(c.p_value)} ({p_value(c.p_holm)})" if c.paired else "—"
        row = [f"`{c.name}`", c.metric, shown_base, shown_head, signed(c.difference), bounds, tested]
        if models:
            row.append(f"{p_value(c.mcnemar_p)} ({p_value(c.mcnemar_holm)})" if c.mcnemar_p is not None else "—")
        rows.append(row + [c.verdict])
    return rows


def render(base: Revision, head: Revision, options: Options, output_dir: Path, plots_dir: Path) -> str:
    """The review as Markdown; the differing plots are written under ``plots_dir`` (linked relative to
    ``output_dir``, the report's folder)."""
    b, h = base.snapshot, head.snapshot
    lines = [f"# Review: {b.describe()} → {h.describe()}", ""]
    lines += [markdown_table(["", "revision", "commit"], [
        ["base", f"`{b.label}`", f"`{b.commit}`" if b.commit else "uncommitted"],
        ["head", f"`{h.label}`" if h.commit else "workspace", f"`{h.commit}`" if h.commit else "uncommitted"]]), ""]

    lines += ["## Params", ""]
    params = changed_keys(base.params, head.params)
    lines += [markdown_table(["param", "base", "head"],
                             [[f"`{key}`", show_value(old), show_value(new)] for key, (old, new) in params.items()])
              if params else "No param changed.", ""]

    lines += ["## Models and rankers", ""]
    changes = entry_changes(base, head, "models") + entry_changes(base, head, "rankers")
    lines += [markdown_table(["", "name", "", "what changed"],
                             [["model" if c.kind == "models" else "ranker", f"`{c.name}`", c.status,
                               "; ".join(c.what)] for c in changes])
              if changes else "No model or ranker added, removed or changed.", ""]

    comparisons, notes = [], {}
    for kind in ("models", "rankers"):
        for name in (name for name in head.entries(kind) if name in base.entries(kind)):
            found, note = compare_entry(base, head, kind, name, options)
            comparisons += found
            if note:  # one line for the entries a same cause leaves unpaired (outputs not pushed, another split)
                notes.setdefault(note.replace(f"/{name}.", "/<name>."), {}).setdefault(kind, []).append(name)
    judge(comparisons, options.alpha)
    level = f"{options.confidence:.0%}"
    counts = Counter(comparison.verdict for comparison in comparisons)
    lines += ["## Test metrics", ""]
    if counts:
        lines += ["Verdicts: " + ", ".join(f"{verdict} {count}" for verdict, count in counts.items()) + ".", ""]
    lines += [f"Head minus base. Paired bootstrap over the same test users ({options.samples} resamples, seed "
              f"{options.seed}, {level} intervals; a classifier's reviews resampled by user, each ranker user on its "
              f"own); p-values Holm-adjusted across the models per metric, in parentheses. **changed** only where the "
              f"adjusted p-value is below {options.alpha:.2g}; McNemar's test (accuracy) beside it. Where the two "
              f"revisions did not score the same examples, each revision's own {level} interval from its metrics "
              f"file: overlapping intervals are within noise.", ""]
    for kind, title, models in (("models", "Classifiers", True), ("rankers", "Rankers", False)):
        rows = [c for c in comparisons if c.kind == kind]
        if not rows:
            continue
        header = ["model" if models else "ranker", "metric", "base", "head", "Δ", f"{level} interval of Δ",
                  "bootstrap p (Holm)"] + (["McNemar p (Holm)"] if models else []) + ["verdict"]
        lines += [f"### {title}", "", markdown_table(header, comparison_rows(rows, models)), ""]
    if not comparisons:
        lines += ["No model or ranker has test metrics on both revisions.", ""]
    if notes:
        lines += ["Not paired, or paired with a caveat:", "",
                  *(f"- {'; '.join(f'{kind} ' + listed(names, len(names)) for kind, names in named.items())}: {note}"
                    for note, named in notes.items()), ""]

    lines += ["## Under-trained", ""]
    flagged = under_trained_rows(base, head)
    lines += [markdown_table(["", "name", "base", "head"], flagged) if flagged else
              "No model or ranker is under-trained (ran all its epochs while its validation score still rose).", ""]

    lines += ["## Stage times", ""]
    moved = stage_time_changes(base.stage_seconds(), head.stage_seconds(), options)
    rule = f"more than {options.time_seconds:g} s and {options.time_ratio:.0%}"
    if moved:
        lines += [f"`stage_seconds` of the stages whose time moved by {rule}:", "",
                  markdown_table(["metrics file", "base (s)", "head (s)", "Δ (s)"],
                                 [[f"`{name}`", f"{old:.1f}", f"{new:.1f}", f"{new - old:+.1f}"]
                                  for name, old, new in moved]), ""]
    else:
        lines += [f"No stage time moved by {rule}.", ""]

    lines += ["## Plots", ""]
    differ, same = changed_plots(b, h)
    if differ:
        rows = []
        for path, base_bytes, head_bytes in differ:
            cells = []
            for snapshot, side, data in ((b, "base", base_bytes), (h, "head", head_bytes)):
                target = plots_dir / plots_folder_name(snapshot, side) / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                cells.append(f"![{side} {path}]({target.relative_to(output_dir).as_posix()})")
            rows.append([f"`{path}`<br>{cells[0]}", cells[1]])
        lines += [markdown_table([f"base: {b.describe()}", f"head: {h.describe()}"], rows), ""]
    else:
        lines += ["No plot differs." if same else "No PNG plot is in both revisions.", ""]
    if same:
        lines += ["Unchanged: " + ", ".join(f"`{path}`" for path in same) + ".", ""]
    return "\n".join(lines)


def review(root: Path, base_rev: str, head_rev: str | None, output: Path, plots_dir: Path | None = None,
           options: Options | None = None) -> str:
    """Write the review of ``base_rev`` against ``head_rev`` (None: the workspace) to ``output``; return it."""
    options = options or Options()
    output = Path(output).absolute()
    plots_dir = Path(plots_dir).absolute() if plots_dir else output.parent / "review_plots"
    if not plots_dir.is_relative_to(output.parent):
        raise ReviewError(f"the plots folder {plots_dir} must be inside the report's folder {output.parent}")
    base = Revision.load(open_revision(root, base_rev))
    head = Revision.load(open_revision(root, head_rev))
    for snapshot, side in ((base.snapshot, "base"), (head.snapshot, "head")):
        shutil.rmtree(plots_dir / plots_folder_name(snapshot, side), ignore_errors=True)  # a former review's
    text = render(base, head, options, output.parent, plots_dir)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    return text


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sasnet.review", description=__doc__.splitlines()[0])
    parser.add_argument("base", help="a git revision or a `dvc exp` name or ref")
    parser.add_argument("head", nargs="?", help="a git revision or a `dvc exp` name or ref (default: the workspace)")
    parser.add_argument("-o", "--output", type=Path, default=Path("review.md"), help="default: review.md")
    parser.add_argument("--plots-dir", type=Path, help="where the plots go (default: review_plots beside the report)")
    parser.add_argument("--samples", type=int, default=Options.samples, help="bootstrap resamples (default: 1000)")
    parser.add_argument("--seed", type=int, default=Options.seed)
    parser.add_argument("--confidence", type=float, default=Options.confidence,
                        help="of the intervals; a change is real where the Holm-adjusted p < 1 - confidence")
    parser.add_argument("--time-ratio", type=float, default=Options.time_ratio,
                        help="a stage time is shown when it moved by more than this share (default: 0.2) ...")
    parser.add_argument("--time-seconds", type=float, default=Options.time_seconds,
                        help="... and by more than these seconds (default: 5)")
    parser.add_argument("--repo", type=Path, default=Path("."), help="the repository (default: .)")
    args = parser.parse_args(argv)
    if args.samples < 1 or not 0 < args.confidence < 1:
        parser.error("--samples must be positive and --confidence between 0 and 1")
    options = Options(args.samples, args.seed, args.confidence, args.time_ratio, args.time_seconds)
    try:
        text = review(args.repo.resolve(), args.base, args.head, args.output, args.plots_dir, options)
    except ReviewError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    print(text)


if __name__ == "__main__":
    main()

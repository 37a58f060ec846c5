"""End to end through DVC on the session's pinned tiny pipeline: DVC takes the run over as its own, a forced rerun
gives byte-identical data, `dvc exp run -S` reruns only what a change reaches, the metrics diff reviewers read, and an
edit to a digested file marks every stage changed.

The pipeline ran once, in process (conftest's ``tiny_pipeline``); ``dvc commit`` records its outputs in dvc.lock, so
DVC runs here only the stages each check needs, each in a process of its own as `dvc repro` runs it.
"""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from workspace import run

from sasnet import paths
from sasnet.report.paper import PAPER_TABLE1

pytestmark = pytest.mark.slow

# Rerun with --force, each in a new process (its own hash seed), to give the in-process run's bytes again: the seeded
# data stages (the sampling LP, the user split, the leave-last-out split, k-means semantic IDs) and SASNet's training.
DETERMINISM_STAGES = ("sample", "split", "rank_split", "semantic_ids", "train@sasnet")
# shared_code depends on params.yaml whole (it validates it), so every `dvc exp run -S` reruns it; its digest, which
# every other stage declares, stays the same.
VALIDATES_PARAMS = {"shared_code"}


@pytest.fixture
def workspace(tmp_path, tiny_pipeline):
    """A git repository holding a copy of the pinned pipeline's workspace, its outputs committed to DVC."""
    workspace = tmp_path / "repo"
    shutil.copytree(tiny_pipeline.snapshot, workspace)
    run(workspace, "git", "init", "-q")
    run(workspace, "git", "config", "user.email", "ci@example.invalid")
    run(workspace, "git", "config", "user.name", "ci")
    run(workspace, "dvc", "commit", "--force")  # fails if a stage's declared output is missing
    commit(workspace, "pipeline")  # `dvc exp run` needs a commit
    return workspace


def test_dvc_reruns_only_what_a_change_reaches_and_reproduces_its_bytes(workspace, tiny_pipeline):
    # the in-process run is DVC's own: every stage's outputs recorded, nothing to rerun
    assert "Data and pipelines are up to date" in run(workspace, "dvc", "status")
    stages = set(run(workspace, "dvc", "stage", "list", "--name-only").split())
    assert set(yaml.safe_load((workspace / "dvc.lock").read_text())["stages"]) == stages
    assert (workspace / "plots/split_class_counts.png").stat().st_size > 0
    results = (workspace / "results.md").read_text()
    assert all(f"| {model} |" in results for model in tiny_pipeline.raw["models"])
    shown = json.loads(run(workspace, "dvc", "metrics", "show", "--recursive", "metrics", "--json"))
    assert "metrics/sample.json" in json.dumps(shown)
    assert_every_stage_records_its_wall_time(workspace)
    ingested = json.loads((workspace / "metrics/ingest.json").read_text())["files"]
    assert {report["path"] for report in ingested.values()} == {
        "<generated demo>/yelp_academic_dataset_review.json", "<generated demo>/yelp_academic_dataset_business.json"}

    first = data_outputs(workspace)
    log = run(workspace, "dvc", "repro", "--force", "--single-item", *DETERMINISM_STAGES)
    assert reran(log) == set(DETERMINISM_STAGES), log
    assert data_outputs(workspace) == first, "same params must give byte-identical data"
    commit(workspace, "forced rerun")

    # a family's section reruns its models and its rankers; one model's own entry that model alone, not the ranker of
    # its family; the report reads them all
    log = experiment(workspace, "sasnet.hidden_dim=32", "+models.mf.overrides={k: 5}")  # + adds a key
    assert reran(log) == VALIDATES_PARAMS | {"train@sasnet", "rank@sasnet", "train@mf", "report"}, log
    sizes = metrics_diff(workspace)[paths.model_metrics("sasnet").as_posix()]["fit.parameter_count"]
    assert sizes["new"] > sizes["old"]

    # a new encoder entry runs alone, an encoder's section reruns each of its entries, and no other embedding changes
    # (normalize rewrites them all: train@svm and train@sasnet, reading minilm, keep theirs)
    paper_rows = {row: f"| {row} | " + " | ".join(f"{value:.2f}" for value in paper) + " |" for row, paper in
                  PAPER_TABLE1.items()}
    assert f"{paper_rows['Phi3-NotInstructed GAP']} (not run) |" in (workspace / "results.md").read_text()
    log = experiment(workspace, "+embed.encoders.llm_plain={encoder: llm, mode: plain}", "embed.llm.max_tokens=8")
    assert reran(log) == VALIDATES_PARAMS | {"embed@llm_plain", "embed@llm_instructed", "normalize", "score_embeddings",
                                             "significance", "report"}, log
    diff = metrics_diff(workspace)
    assert any(key.startswith("methods.llm_plain/mean.") for key in diff[paths.EMBEDDING_SCORES.as_posix()])
    assert diff[paths.embed_metrics("llm_instructed").as_posix()]["truncated_reviews"]["new"] > 0
    results = (workspace / "results.md").read_text()
    table1 = [line for line in results.splitlines() if any(line.startswith(row) for row in paper_rows.values())]
    assert len(table1) == len(PAPER_TABLE1) and not any("(not run)" in line for line in table1), table1

    # an experiment on one stage reruns it alone: what is upstream is skipped
    log = experiment(workspace, "filter.min_user_reviews=5", targets=("filter",))
    assert "Stage 'ingest' didn't change, skipping" in log and reran(log) == VALIDATES_PARAMS | {"filter"}, log
    changed = metrics_changes(workspace)["metrics/filter.json"]
    assert changed["output.reviews"]["new"] < changed["output.reviews"]["old"]
    run(workspace, "git", "reset", "-q", "--hard")  # back to the last commit, its downstream stages up to date
    run(workspace, "dvc", "checkout")

    # an edit to code every stage runs changes the digest every stage declares in its place, so every stage reruns
    errors = workspace / "src/sasnet/errors.py"
    errors.write_text(errors.read_text() + "# edited\n")
    run(workspace, "dvc", "repro", "--single-item", "shared_code")
    status = json.loads(run(workspace, "dvc", "status", "--json"))
    stages = set(run(workspace, "dvc", "stage", "list", "--name-only").split())  # embed@llm_plain is one now
    assert set(status) == stages - {"shared_code"}
    assert all(changed_deps(entries).get("data/shared_code.json") == "modified" for entries in status.values()), status


def data_outputs(workspace) -> dict[str, str]:
    """md5 of every cached stage output recorded in dvc.lock (metrics and plots carry timings; data must not)."""
    lock = yaml.safe_load((workspace / "dvc.lock").read_text())
    return {
        out["path"]: out["md5"]
        for stage in lock["stages"].values()
        for out in stage.get("outs", [])
        if out["path"].startswith("data/")
    }


def assert_every_stage_records_its_wall_time(workspace) -> None:
    """Each stage of dvc.lock has a metrics output with stage_seconds, and `sasnet.stage_times` sums them all."""
    lock = yaml.safe_load((workspace / "dvc.lock").read_text())["stages"]
    timed = {}
    for stage, entry in lock.items():
        for out in entry.get("outs", []):
            if out["path"].startswith("metrics/") and out["path"].endswith(".json"):
                seconds = json.loads((workspace / out["path"]).read_text()).get("stage_seconds")
                if seconds is not None:
                    timed[stage] = seconds
    assert set(timed) == set(lock) and all(seconds > 0 for seconds in timed.values()), set(lock) - set(timed)
    printed = run(workspace, "python", "-m", "sasnet.stage_times")
    total_line = printed.splitlines()[-1]
    assert f"total ({len(lock)} stages)" in total_line
    assert float(total_line.split()[-5]) == pytest.approx(sum(timed.values()), abs=0.05 * len(lock))


def reran(log: str) -> set[str]:
    return {line.removeprefix("Running stage '").removesuffix("':") for line in log.splitlines()
            if line.startswith("Running stage")}


def experiment(workspace, *assignments: str, targets: tuple[str, ...] = ()) -> str:
    return run(workspace, "dvc", "exp", "run", *(part for value in assignments for part in ("-S", value)), *targets)


def commit(workspace, message: str) -> None:
    run(workspace, "git", "add", "-A")
    run(workspace, "git", "commit", "-qm", message)


def changed_deps(entries: list) -> dict[str, str]:
    """A stage's changed deps in `dvc status --json`."""
    return {path: change for entry in entries if isinstance(entry, dict) for path, change in
            entry.get("changed deps", {}).items()}


def metrics_changes(workspace) -> dict:
    """`dvc metrics diff` of every file under metrics/ (not only those dvc.yaml declares) against the last commit."""
    return json.loads(run(workspace, "dvc", "metrics", "diff", "--recursive", "--targets", "metrics", "--json"))


def metrics_diff(workspace) -> dict:
    """``metrics_changes``, then commit, so the next diff compares with this experiment."""
    diff = metrics_changes(workspace)
    commit(workspace, "experiment")
    return diff

"""End to end through DVC on a tiny demo: repro, determinism, an experiment, and the metrics diff reviewers read."""

from __future__ import annotations

import json

import pytest
import yaml
from workspace import make_workspace, run, tiny_params

pytestmark = pytest.mark.slow


def data_outputs(workspace) -> dict[str, str]:
    """md5 of every cached stage output recorded in dvc.lock (metrics and plots carry timings; data must not)."""
    lock = yaml.safe_load((workspace / "dvc.lock").read_text())
    return {
        out["path"]: out["md5"]
        for stage in lock["stages"].values()
        for out in stage.get("outs", [])
        if out["path"].startswith("data/")
    }


def test_repro_is_deterministic_and_experiments_show_in_metrics_diff(tmp_path, tiny_llm_dir):
    workspace = make_workspace(tmp_path, tiny_params(tiny_llm_dir))
    run(workspace, "git", "init", "-q")
    run(workspace, "git", "config", "user.email", "ci@example.invalid")
    run(workspace, "git", "config", "user.name", "ci")
    run(workspace, "git", "add", "-A")
    run(workspace, "git", "commit", "-qm", "pipeline")  # `dvc exp run` needs a commit

    run(workspace, "dvc", "repro")
    for name in ("reviews", "businesses"):
        assert (workspace / "data/ingest" / f"{name}.parquet").is_file()
    for split in ("train", "valid", "test"):
        assert (workspace / "data/split" / f"{split}.parquet").is_file()
    assert (workspace / "plots/split_class_counts.png").stat().st_size > 0
    results = (workspace / "results.md").read_text()
    for model in yaml.safe_load((workspace / "params.yaml").read_text())["models"]:
        assert f"| {model} |" in results
    shown = json.loads(run(workspace, "dvc", "metrics", "show", "--json"))
    assert "metrics/sample.json" in json.dumps(shown)
    assert_every_stage_records_its_wall_time(workspace)
    ingested = json.loads((workspace / "metrics/ingest.json").read_text())["files"]
    assert {report["path"] for report in ingested.values()} == {
        "<generated demo>/yelp_academic_dataset_review.json", "<generated demo>/yelp_academic_dataset_business.json"}
    run(workspace, "git", "add", "-A")
    run(workspace, "git", "commit", "-qm", "baseline")

    first = data_outputs(workspace)
    run(workspace, "dvc", "repro", "--force")
    assert data_outputs(workspace) == first, "same params must give byte-identical data"

    log = experiment(workspace, "filter.min_user_reviews=5")
    assert "Stage 'ingest' didn't change, skipping" in log
    changed = metrics_diff(workspace)["metrics/filter.json"]
    assert changed["output.reviews"]["new"] < changed["output.reviews"]["old"]

    assert "Phi3-NotInstructed GAP | 0.91 | 0.18 | 0.99 | -0.68 | 0.03 | (not run)" in results
    log = experiment(workspace, "+embed.encoders.llm_plain={encoder: llm, mode: plain}")  # the paper's plain LLM
    assert reran(log) == {"embed@llm_plain", "normalize", "score_embeddings", "significance", "report"}, log
    assert any(key.startswith("methods.llm_plain/mean.") for key in metrics_diff(workspace)["metrics/embedding_scores.json"])
    assert "(not run)" not in (workspace / "results.md").read_text()

    log = experiment(workspace, "embed.llm.max_tokens=8")
    for untouched in ("split", "embed@tfidf", "embed@minilm"):
        assert f"Stage '{untouched}' didn't change, skipping" in log
    for rerun in ("embed@llm_plain", "embed@llm_instructed", "normalize", "score_embeddings"):
        assert f"Running stage '{rerun}'" in log
    assert metrics_diff(workspace)["metrics/embed_llm_plain.json"]["truncated_reviews"]["new"] > 0

    log = experiment(workspace, "scoring.min_reviews_per_category=12")
    assert "Running stage 'embed@" not in log and "Running stage 'normalize'" not in log
    scores = metrics_diff(workspace)["metrics/embedding_scores.json"]
    assert scores["categories"]["new"] < scores["categories"]["old"]

    log = experiment(workspace, "sasnet.hidden_dim=128")
    assert reran(log) == {"train@sasnet_llm", "train@sasnet_minilm", "report"}, log
    sizes = metrics_diff(workspace)["metrics/models/sasnet_llm.json"]["fit.parameter_count"]
    assert sizes["new"] > sizes["old"]

    # one model's own entry reruns that model alone (and the report)
    log = experiment(workspace, "+models.sasnet_minilm.overrides={history_stars: true}")  # + adds a key
    assert reran(log) == {"train@sasnet_minilm", "report"}, log

    # an edit to code every stage runs changes the digest every stage declares in its place, so every stage reruns
    errors = workspace / "src/sasnet/errors.py"
    errors.write_text(errors.read_text() + "# edited\n")
    run(workspace, "dvc", "repro", "--single-item", "shared_code")
    status = json.loads(run(workspace, "dvc", "status", "--json"))
    stages = set(run(workspace, "dvc", "stage", "list", "--name-only").split()) - {"shared_code"}
    assert set(status) == stages
    assert all({"changed deps": {"data/shared_code.json": "modified"}} in entries for entries in status.values())


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


def experiment(workspace, assignment: str) -> str:
    return run(workspace, "dvc", "exp", "run", "-S", assignment)


def metrics_diff(workspace) -> dict:
    """`dvc metrics diff` against the last commit, then commit, so the next diff compares with this experiment."""
    diff = json.loads(run(workspace, "dvc", "metrics", "diff", "--json"))
    run(workspace, "git", "add", "-A")
    run(workspace, "git", "commit", "-qm", "experiment")
    return diff

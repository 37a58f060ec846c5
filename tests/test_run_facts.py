"""results.md's Run facts: every stage's seconds from its metrics file, their total, the compute settings, and the
calling stage's own (stale) file left out."""

from __future__ import annotations

import json

from sasnet.run_facts import run_facts_section
from sasnet.stage_times import read_metrics_files, stage_times


def write(folder, name: str, facts) -> None:
    path = folder / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(facts))


def test_the_section_sums_every_stage_but_the_callers_own_and_names_each_dtype(tmp_path):
    write(tmp_path, "ingest", {"stage_seconds": 2.5})
    write(tmp_path, "embed/llm", {"stage_seconds": 10.0, "device": "cpu", "dtype": "bfloat16"})
    write(tmp_path, "models/sasnet", {"stage_seconds": 4.0, "fit": {"precision": "float32"}})
    write(tmp_path, "model_comparison", {"stage_seconds": 99.0})
    write(tmp_path, "significance", [1, 2])  # not a mapping: no stage's metrics
    section = run_facts_section(tmp_path, own="model_comparison")
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| stage")]
    assert rows == ["| embed/llm | 10.0 | cpu, bfloat16 |", "| models/sasnet | 4.0 | float32 |", "| ingest | 2.5 |  |"]
    assert "- stages: 3, 16.5 s in all (0.3 min)" in section
    assert list(stage_times(read_metrics_files(tmp_path))) == ["model_comparison", "embed/llm", "models/sasnet",
                                                               "ingest"]

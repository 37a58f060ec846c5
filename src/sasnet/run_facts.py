"""The "Run facts" section of results.md, generated from metrics/: each stage's wall seconds and their total, the
machine the report ran on, and the device and dtype each embedding and model computed in. No timing is typed by
hand anywhere else: the README and the docs link here."""

from __future__ import annotations

import json
from pathlib import Path

from sasnet.device import machine
from sasnet.stage_times import stage_times

COMPUTE_KEYS = ("device", "dtype", "precision")  # what an embedding's metrics or a model's fit facts record


def compute_settings(metrics_dir: Path, own: str) -> dict[str, str]:
    """Metrics file (without .json) -> 'device, dtype' for every embedding and model that records them."""
    settings = {}
    for path in sorted(metrics_dir.rglob("*.json")):
        if path.relative_to(metrics_dir).with_suffix("").as_posix() == own:
            continue
        facts = json.loads(path.read_text())
        if not isinstance(facts, dict):
            continue
        found = {key: value for source in (facts, facts.get("fit") or {}) if isinstance(source, dict)
                 for key, value in source.items() if key in COMPUTE_KEYS and isinstance(value, str)}
        if found:
            settings[path.relative_to(metrics_dir).with_suffix("").as_posix()] = ", ".join(found.values())
    return settings


def run_facts_section(metrics_dir: Path, own: str) -> str:
    """Markdown: the stage times (slowest first), their total, the machine, the compute settings; ``own`` is the
    calling stage's metrics file (without .json), still the last run's while it runs, so left out."""
    times = {name: seconds for name, seconds in stage_times(metrics_dir).items() if name != own}
    total = sum(times.values())
    lines = [
        "## Run facts",
        "",
        "Generated from the `stage_seconds` of every metrics file (`python -m sasnet.stage_times` prints the same). "
        "A stage that `dvc repro` skipped keeps the time of the run that produced it; DVC's own time between stages "
        "is not counted. The report stage itself is not timed here.",
        "",
        f"- machine (of this report's run): {machine()}",
        f"- stages: {len(times)}, {total:.1f} s in all ({total / 60:.1f} min)",
        "",
        "| stage (metrics file) | seconds | device, dtype |",
        "|---|---:|---|",
    ]
    settings = compute_settings(metrics_dir, own)
    lines += [f"| {name} | {seconds:.1f} | {settings.get(name, '')} |" for name, seconds in times.items()]
    return "\n".join(lines) + "\n"

"""The "Run facts" section of results.md, generated from metrics/: each stage's wall seconds and their total, the
machine the report ran on, and the device and dtype each embedding and model computed in. No timing is typed by
hand anywhere else: the README and the docs link here."""

from __future__ import annotations

from pathlib import Path

from sasnet.device import machine
from sasnet.stage_times import read_metrics_files, stage_times

COMPUTE_KEYS = ("device", "dtype", "precision")  # what an embedding's metrics or a model's fit facts record


def compute_settings(files: dict[str, dict]) -> dict[str, str]:
    """Metrics file name -> 'device, dtype' for every embedding and model that records them."""
    settings = {}
    for name, facts in files.items():
        found = {key: value for source in (facts, facts.get("fit") or {}) if isinstance(source, dict)
                 for key, value in source.items() if key in COMPUTE_KEYS and isinstance(value, str)}
        if found:
            settings[name] = ", ".join(found.values())
    return settings


def run_facts_section(metrics_dir: Path, own: str) -> str:
    """Markdown: the stage times (slowest first), their total, the machine, the compute settings; ``own`` is the
    calling stage's metrics file (without .json), still the last run's while it runs, so left out."""
    files = {name: facts for name, facts in read_metrics_files(metrics_dir).items() if name != own}
    times = stage_times(files)
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
    settings = compute_settings(files)
    lines += [f"| {name} | {seconds:.1f} | {settings.get(name, '')} |" for name, seconds in times.items()]
    return "\n".join(lines) + "\n"

"""The wall time of the last `dvc repro`, stage by stage, from the ``stage_seconds`` each stage writes in its metrics.

    python -m sasnet.stage_times [--metrics metrics]

A stage that `dvc repro` skipped (unchanged) keeps the time of the run that produced it, so the total is the time
of a run from scratch on the machines that ran each stage; DVC's own overhead between stages is not counted.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sasnet import paths


def read_metrics_files(metrics_dir: Path) -> dict[str, dict]:
    """Every metrics file that holds a mapping, by its name relative to ``metrics_dir`` without .json."""
    files = {path.relative_to(metrics_dir).with_suffix("").as_posix(): json.loads(path.read_text())
             for path in sorted(metrics_dir.rglob("*.json"))}
    return {name: facts for name, facts in files.items() if isinstance(facts, dict)}


def stage_times(files: dict[str, dict]) -> dict[str, float]:
    """Metrics file name -> its stage's wall seconds, slowest first (files from ``read_metrics_files``)."""
    times = {name: float(facts["stage_seconds"]) for name, facts in files.items() if "stage_seconds" in facts}
    return dict(sorted(times.items(), key=lambda item: -item[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", type=Path, default=paths.METRICS, help="the metrics folder (default: metrics)")
    times = stage_times(read_metrics_files(parser.parse_args().metrics))
    if not times:
        raise SystemExit("no metrics file records stage_seconds: run `dvc repro` first")
    width = max(map(len, times))
    for name, seconds in times.items():
        print(f"{name:<{width}}  {seconds:8.1f} s")
    total = sum(times.values())
    print(f"{'total (' + str(len(times)) + ' stages)':<{width}}  {total:8.1f} s = {total / 60:.1f} min")


if __name__ == "__main__":
    main()

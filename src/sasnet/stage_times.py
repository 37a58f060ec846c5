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


def stage_times(metrics_dir: Path) -> dict[str, float]:
    """Metrics file (relative to ``metrics_dir``, without .json) -> its stage's wall seconds, slowest first."""
    times = {}
    for path in sorted(metrics_dir.rglob("*.json")):
        facts = json.loads(path.read_text())
        if isinstance(facts, dict) and "stage_seconds" in facts:
            times[path.relative_to(metrics_dir).with_suffix("").as_posix()] = float(facts["stage_seconds"])
    return dict(sorted(times.items(), key=lambda item: -item[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", type=Path, default=paths.METRICS, help="the metrics folder (default: metrics)")
    times = stage_times(parser.parse_args().metrics)
    if not times:
        raise SystemExit("no metrics file records stage_seconds: run `dvc repro` first")
    width = max(map(len, times))
    for name, seconds in times.items():
        print(f"{name:<{width}}  {seconds:8.1f} s")
    total = sum(times.values())
    print(f"{'total (' + str(len(times)) + ' stages)':<{width}}  {total:8.1f} s = {total / 60:.1f} min")


if __name__ == "__main__":
    main()

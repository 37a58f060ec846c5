"""Entry point shared by the scripts in stages/: validated params in, a plain message out on user errors."""

from __future__ import annotations

import sys
import time
from typing import Callable

import psutil

from sasnet.errors import PipelineError
from sasnet.params import load_params


def stage_seconds() -> float:
    """Wall seconds since this stage's process started, imports included: what the stage adds to `dvc repro`.

    Every stage records it in its metrics as ``stage_seconds``; `python -m sasnet.stage_times` sums the run.
    """
    return round(time.time() - psutil.Process().create_time(), 2)


def run_stage(run: Callable[..., None]) -> None:
    """Validate params.yaml, then run the stage (with the command line's arguments, e.g. a foreach key).

    Bad params or bad input exit 1 with the message, no traceback.
    """
    try:
        run(load_params(), *sys.argv[1:])
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)

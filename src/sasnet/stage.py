"""Entry point shared by the scripts in stages/: validated params in, a plain message out on user errors."""

from __future__ import annotations

import inspect
import os
import sys
import time
from typing import Callable

import psutil

from sasnet.errors import PipelineError
from sasnet.params import load_params

DVC_STAGE = "DVC_STAGE"  # set by DVC for every command it runs: the stage's name, `<group>@<key>` for a foreach stage


def stage_seconds() -> float:
    """Wall seconds since this stage's process started, imports included: what the stage adds to `dvc repro`.

    Every stage records it in its metrics as ``stage_seconds``; `python -m sasnet.stage_times` sums the run.
    """
    return round(time.time() - psutil.Process().create_time(), 2)


def stage_arguments(run: Callable[..., None]) -> list[str]:
    """The stage's arguments: the command line's, else the foreach key from DVC_STAGE.

    dvc.yaml's commands carry no key: a params key (a model's name) must never pass through the shell DVC runs
    commands in, so DVC hands it over in the environment. A script run by hand takes the key as its argument.
    """
    arguments = sys.argv[1:]
    wanted = len(inspect.signature(run).parameters) - 1  # after params
    if not arguments and wanted:
        _, at, key = os.environ.get(DVC_STAGE, "").partition("@")
        if not at:
            script = os.path.basename(sys.argv[0])
            raise PipelineError(f"{script} needs the entry's name: `python stages/{script} NAME` (DVC passes it "
                                f"as {DVC_STAGE}=<stage>@NAME)")
        arguments = [key]
    return arguments


def run_stage(run: Callable[..., None]) -> None:
    """Validate params.yaml, then run the stage (with its foreach key, if it takes one).

    Bad params or bad input exit 1 with the message, no traceback.
    """
    try:
        run(load_params(), *stage_arguments(run))
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)

"""Entry point shared by the scripts in stages/: validated params in, a plain message out on user errors."""

from __future__ import annotations

import sys
from typing import Callable

from sasnet.errors import PipelineError
from sasnet.params import load_params


def run_stage(run: Callable[..., None]) -> None:
    """Validate params.yaml, then run the stage (with the command line's arguments, e.g. a foreach key).

    Bad params or bad input exit 1 with the message, no traceback.
    """
    try:
        run(load_params(), *sys.argv[1:])
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)

"""The one exception type a stage reports as a plain message: bad params or bad input the user can fix."""


class PipelineError(ValueError):
    """Raised for problems in the user's params or data; stages print the message instead of a traceback."""

"""The torch device a `device` param names; shared by every encoder."""

import torch

from sasnet.errors import PipelineError


def resolve_device(device: str, param: str) -> str:
    """'auto' picks CUDA when torch sees it; an explicit 'cuda' without one is an error naming ``param``."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise PipelineError(f"{param} is 'cuda' but torch sees no CUDA device (use 'auto' or 'cpu')")
    return device

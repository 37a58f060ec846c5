"""The torch device a `device` param names, whether the CPU computes bfloat16 natively, a fit's peak memory, and
the machine a run was on; shared by every encoder, the torch model families, the report and the benchmarks."""

import os
import platform
import re
import resource
from pathlib import Path

import torch

from sasnet.errors import PipelineError


def resolve_device(device: str, param: str) -> str:
    """'auto' picks CUDA when torch sees it; an explicit 'cuda' without one is an error naming ``param``."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise PipelineError(f"{param} is 'cuda' but torch sees no CUDA device (use 'auto' or 'cpu')")
    return device


def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX: bfloat16 matmuls run in hardware (about 2x float32 for SmolLM2 on 2 Zen 4 cores)."""
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def peak_memory_mb(device: torch.device) -> float:
    """Peak allocated CUDA memory on a GPU; the process's peak resident set on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def machine() -> str:
    """CPU model and cores, the dtype `dtype: auto` picks on this CPU, and the GPU if torch sees one."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = re.findall(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.M)
        model = names[0] if names else model
    cores = f"{len(os.sched_getaffinity(0))} of {os.cpu_count()} cores usable"
    dtype = "bfloat16" if cpu_has_native_bf16() else "float32"
    gpu = f"; GPU: {torch.cuda.get_device_name(0)} (bfloat16)" if torch.cuda.is_available() else "; no GPU"
    return f"{model}, {cores}; torch {torch.__version__}, CPU dtype {dtype}{gpu}"

"""The LLM embed stage across processes, GPUs or machines, with torch.distributed: an entry point beside DVC (it
runs `dvc repro` itself), so it lives here, not in the library.

    torchrun --nproc-per-node 8 scripts/embed_distributed.py llm_instructed          # one machine, 8 GPUs
    torchrun --nnodes 2 --nproc-per-node 8 --node-rank <0|1> --rdzv-backend c10d \\
        --rdzv-endpoint <first node>:29500 scripts/embed_distributed.py llm_instructed  # two machines

Every rank plans the same shards (they depend only on the texts and the config), then computes its share of the
missing ones into the shard cache (``data/cache/llm_shards``), which all ranks must see (one machine, or a shared
file system across machines). Rank 0 then runs ``dvc repro --single-item embed@<name>``: the stage finds every shard
finished, assembles them in the canonical row order and records its outputs in dvc.lock, bitwise what one process
would have written. A killed rank loses only its unfinished shard: rerun the same command (any number of ranks).
On CPU torchrun gives each rank one thread; on CUDA rank ``LOCAL_RANK`` takes that GPU.
"""

from __future__ import annotations

import os
import subprocess

import torch
import torch.distributed as dist

from sasnet import paths
from sasnet.data.configs import require_text
from sasnet.device import resolve_device
from sasnet.embeddings import store
from sasnet.embeddings.llm import embed_share
from sasnet.errors import PipelineError
from sasnet.params import Params
from sasnet.stage import run_stage


def run(params: Params, name: str) -> None:
    entry = params.embed.encoders.get(name)
    if entry is None or entry.encoder != "llm":
        llm_entries = sorted(key for key, value in params.embed.encoders.items() if value.encoder == "llm")
        raise PipelineError(f"embed.encoders.{name}: not an llm entry (llm entries: {llm_entries})")
    require_text(params.data.source, "no embedding can be computed")
    config = params.embed.llm
    device = resolve_device(config.device, "embed.llm.device")
    model_path = str(paths.QUANTIZED_MODEL) if config.quantize == "gptq" else None
    texts = store.canonical_reviews()["text"].tolist()

    dist.init_process_group("nccl" if device == "cuda" else "gloo")
    try:
        if device == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        computed = embed_share(texts, config, entry.mode, paths.LLM_SHARDS, model_path)
        print(f"rank {dist.get_rank()}/{dist.get_world_size()}: {computed} shard(s) computed", flush=True)
        dist.barrier()
        if dist.get_rank() == 0:
            subprocess.run(["dvc", "repro", "--single-item", f"embed@{name}"], check=True)
        dist.barrier()
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    run_stage(run)

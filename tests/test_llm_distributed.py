"""The LLM embed across torch.distributed ranks: each rank's share of the shards, bitwise what one process gives."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from tiny_llm import TINY, kill_after_one_shard, save_tiny_model, tiny_tokenizer
from transformers import LlamaConfig
from workspace import stage_module, tiny_params

from sasnet.config import build
from sasnet.embeddings import llm
from sasnet.embeddings.llm import PAPER_INSTRUCTION, LlmConfig, embed_reviews, embed_share
from sasnet.embeddings.pooling import POOLINGS
from sasnet.errors import PipelineError
from sasnet.params import Params

REVIEWS = [f"Review {i}: the {'soup' if i % 2 else 'bread'} was {'cold' if i % 3 else 'lovely'}" + " really" * i
           for i in range(11)]


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> LlmConfig:
    tokenizer = tiny_tokenizer(REVIEWS)
    folder = save_tiny_model(tmp_path_factory.mktemp("llama"), LlamaConfig(vocab_size=len(tokenizer), **TINY),
                             tokenizer)
    return LlmConfig(model=str(folder), gguf_file=None, quantize="none", trust_remote_code=False, dtype="float32",
                     device="cpu", max_tokens=64, batch_tokens=64, instruction=PAPER_INSTRUCTION, shard_reviews=2,
                     prompt_cache=True)


def rank_worker(rank: int, world_size: int, init_file: str, config: LlmConfig, work_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        assert embed_share(REVIEWS, config, "instructed", work_dir) == 3  # 6 shards: 0, 2, 4 and 1, 3, 5
        dist.barrier()
    finally:
        dist.destroy_process_group()


def one_thread_embedding(config: LlmConfig, work_dir) -> tuple[dict[str, np.ndarray], dict]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each rank runs: float sums may depend on the thread count
    try:
        return embed_reviews(REVIEWS, config, "instructed", work_dir)
    finally:
        torch.set_num_threads(threads)


@pytest.mark.slow
def test_two_gloo_ranks_give_bitwise_the_single_process_embeddings(config, tmp_path):
    mp.spawn(rank_worker, args=(2, str(tmp_path / "rendezvous"), config, str(tmp_path / "ranks")), nprocs=2)
    assert len(list((tmp_path / "ranks").glob("*/shard_*.npz"))) == 6
    assembled, stats = one_thread_embedding(config, tmp_path / "ranks")
    assert stats["shards_reused"] == stats["shards"] == 6  # the ranks computed every shard
    single, _ = one_thread_embedding(config, tmp_path / "single")
    for name in POOLINGS:
        assert np.array_equal(assembled[name], single[name]), name


def test_each_rank_takes_its_share_and_a_killed_rank_resumes_from_its_finished_shards(config, tmp_path,
                                                                                        monkeypatch):
    monkeypatch.setattr(llm, "_ranks", lambda: (1, 2))
    _, real_embed_shard = kill_after_one_shard(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        embed_share(REVIEWS, config, "instructed", tmp_path)
    (finished,) = tmp_path.glob("*/shard_*.npz")
    stamp = finished.stat().st_mtime_ns
    monkeypatch.setattr(llm, "_embed_shard", real_embed_shard)
    assert embed_share(REVIEWS, config, "instructed", tmp_path) == 2  # rank 1 owns shards 1, 3, 5; 1 is done
    monkeypatch.setattr(llm, "_ranks", lambda: (0, 2))
    assert embed_share(REVIEWS, config, "instructed", tmp_path) == 3  # rank 0 owns 0, 2, 4
    assert finished.stat().st_mtime_ns == stamp
    assembled, stats = embed_reviews(REVIEWS, config, "instructed", tmp_path)
    assert stats["shards_reused"] == 6
    single, _ = embed_reviews(REVIEWS, config, "instructed", tmp_path / "single")
    for name in POOLINGS:
        assert np.array_equal(assembled[name], single[name]), name


def test_the_distributed_entry_point_refuses_an_entry_that_is_not_an_llm(tiny_llm_dir):
    params = build(Params, tiny_params(tiny_llm_dir))
    with pytest.raises(PipelineError, match=r"embed.encoders.minilm: not an llm entry \(llm entries: "
                                            r"\['llm_instructed'\]\)"):
        stage_module("scripts/embed_distributed.py").run(params, "minilm")

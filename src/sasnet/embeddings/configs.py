"""Params sections of the embedding stages (quantize, embed, normalize), kept apart from their code so that
validating params.yaml (which every stage does first) never imports torch, transformers, sentence-transformers or
scikit-learn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sasnet.config import bounded

MINILM_MAX_POSITIONS = 512  # BERT position embeddings of MiniLM-L6: no input can be longer


# The LLM poolings, in the order pool_all returns them (SPEC §1).
POOLINGS = ("mean", "max", "last", "weighted", "attention")


@dataclass(frozen=True)
class LlmConfig:
    # "package:<python package>" (a GGUF file inside an installed package), a Hugging Face id or a local folder.
    model: str
    gguf_file: str | None  # file name inside the model's folder; null: the package's only .gguf, or no GGUF
    quantize: Literal["none", "gptq"]  # gptq: the quantize stage's checkpoint replaces `model`
    trust_remote_code: bool
    dtype: Literal["auto", "float32", "bfloat16", "float16"]  # auto: bfloat16 on CUDA and bf16-capable CPUs
    device: Literal["auto", "cpu", "cuda"]  # auto: cuda when available
    max_tokens: int = bounded(ge=1)  # review tokens kept per review; the prompt comes on top
    batch_tokens: int = bounded(ge=1)  # padded tokens per forward pass (a longer review still runs, alone)
    instruction: str  # the system message of the instructed mode
    shard_reviews: int = bounded(ge=1)  # reviews per resumable shard
    prompt_cache: bool  # instructed mode: the prompt's keys/values computed once, not fed with every review

    def check(self) -> list[str]:
        return [] if self.instruction.strip() else ["instruction: must not be empty"]


@dataclass(frozen=True)
class MiniLMConfig:
    # tokens per review, [CLS] and [SEP] included; longer reviews are truncated
    max_seq_length: int = bounded(ge=3, le=MINILM_MAX_POSITIONS)
    batch_size: int = bounded(ge=1)
    device: Literal["auto", "cpu", "cuda"]  # auto: cuda when available
    normalize_embeddings: bool  # unit L2 norm per review, as the model card's pipeline does


@dataclass(frozen=True)
class QuantizeConfig:
    bits: Literal[2, 3, 4, 8]
    # Weights sharing one scale along a layer's input; must divide every quantised layer's input width.
    # -1 means one group per output row (smallest checkpoint, lowest accuracy).
    group_size: Literal[-1, 16, 32, 64, 128, 256, 512, 1024]
    desc_act: bool  # quantise columns by decreasing activation size: a little more accurate, slower kernels
    sym: bool  # symmetric grids (no zero point): what the fast GPU kernels expect
    damp_percent: float = bounded(gt=0, lt=1)  # added to the Hessian diagonal, as a share of its mean: stabilises the inversion
    calibration_reviews: int = bounded(ge=1)  # train reviews GPTQ sees (fewer if train is smaller)
    calibration_max_tokens: int = bounded(ge=1)  # each calibration review is truncated to this many tokens
    batch_size: int = bounded(ge=1)  # reviews per forward pass, in calibration and in the quality check
    quality_check_reviews: int = bounded(ge=0)  # reviews held out from calibration for the float-vs-quantised cosine; 0 skips it
    seed: int  # which train reviews calibrate and which check


@dataclass(frozen=True)
class TfidfConfig:
    max_features: int | None = bounded(ge=1)  # vocabulary size: the most frequent terms in train; null keeps every term
    ngram_range: list[int]  # [smallest, largest] n-gram length
    min_df: int = bounded(ge=1)  # a term must occur in at least this many train reviews
    max_df: float = bounded(gt=0, le=1)  # ... and in at most this share of them (1.0 keeps common words)
    sublinear_tf: bool  # 1 + log(tf) instead of raw counts
    stop_words: Literal["english"] | None
    strip_accents: Literal["unicode", "ascii"] | None
    norm: Literal["l2", "l1"] | None  # per-review normalisation after weighting

    def check(self) -> list[str]:
        if len(self.ngram_range) != 2 or not 1 <= self.ngram_range[0] <= self.ngram_range[1]:
            return [
                f"ngram_range: must be [smallest, largest] with 1 <= smallest <= largest (got {list(self.ngram_range)})"
            ]
        return []


@dataclass(frozen=True)
class NormalizeConfig:
    fit_on: Literal["train", "all"]  # rows whose mean and std are used; "all" reproduces the paper (leaks test)
    min_std: float = bounded(ge=0)  # a dimension whose std over the fit rows is at most this is constant: centred, not scaled


@dataclass(frozen=True)
class SemanticIdsConfig:
    """Item text -> MiniLM (embed.minilm's settings) -> residual k-means -> a unique (levels + 1)-token ID per item."""

    levels: int = bounded(ge=1)  # residual k-means levels; a collision suffix is the last token
    codebook_size: int = bounded(ge=2)  # codes per level (fewer where the catalogue has fewer distinct residuals)
    text: Literal["auto", "metadata", "reviews"]  # auto: name and categories where an item has them, else reviews
    max_review_chars: int = bounded(ge=1)  # of an item's train reviews, oldest first, when its text comes from reviews
    kmeans_n_init: int = bounded(ge=1)  # k-means restarts per level (the best inertia is kept)
    kmeans_max_iter: int = bounded(ge=1)
    seed: int = bounded(ge=0)

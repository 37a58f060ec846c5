"""Params sections of the embedding stages (quantize, embed, normalize), kept apart from their code so that
validating params.yaml (which every stage does first) never imports torch, transformers, sentence-transformers or
scikit-learn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
    max_tokens: int  # review tokens kept per review; the prompt comes on top
    batch_tokens: int  # padded tokens per forward pass (a longer review still runs, alone)
    instruction: str  # the system message of the instructed mode
    shard_reviews: int  # reviews per resumable shard
    prompt_cache: bool  # instructed mode: the prompt's keys/values computed once, not fed with every review

    def check(self) -> list[str]:
        problems = []
        for name in ("max_tokens", "batch_tokens", "shard_reviews"):
            if getattr(self, name) < 1:
                problems.append(f"{name}: must be >= 1 (got {getattr(self, name)})")
        if not self.instruction.strip():
            problems.append("instruction: must not be empty")
        return problems


@dataclass(frozen=True)
class MiniLMConfig:
    max_seq_length: int  # tokens per review, [CLS] and [SEP] included; longer reviews are truncated
    batch_size: int
    device: Literal["auto", "cpu", "cuda"]  # auto: cuda when available
    normalize_embeddings: bool  # unit L2 norm per review, as the model card's pipeline does

    def check(self) -> list[str]:
        problems = []
        if not 3 <= self.max_seq_length <= MINILM_MAX_POSITIONS:
            problems.append(
                f"max_seq_length: must be in [3, {MINILM_MAX_POSITIONS}] (got {self.max_seq_length})"
            )
        if self.batch_size < 1:
            problems.append(f"batch_size: must be >= 1 (got {self.batch_size})")
        return problems


@dataclass(frozen=True)
class QuantizeConfig:
    bits: Literal[2, 3, 4, 8]
    # Weights sharing one scale along a layer's input; must divide every quantised layer's input width.
    # -1 means one group per output row (smallest checkpoint, lowest accuracy).
    group_size: Literal[-1, 16, 32, 64, 128, 256, 512, 1024]
    desc_act: bool  # quantise columns by decreasing activation size: a little more accurate, slower kernels
    sym: bool  # symmetric grids (no zero point): what the fast GPU kernels expect
    damp_percent: float  # added to the Hessian diagonal, as a share of its mean: stabilises the inversion
    calibration_reviews: int  # train reviews GPTQ sees (fewer if train is smaller)
    calibration_max_tokens: int  # each calibration review is truncated to this many tokens
    batch_size: int  # reviews per forward pass, in calibration and in the quality check
    quality_check_reviews: int  # reviews held out from calibration for the float-vs-quantised cosine; 0 skips it
    seed: int  # which train reviews calibrate and which check

    def check(self) -> list[str]:
        problems = []
        if not 0 < self.damp_percent < 1:
            problems.append("damp_percent: must be between 0 and 1 (exclusive)")
        for name in ("calibration_reviews", "calibration_max_tokens", "batch_size"):
            if getattr(self, name) < 1:
                problems.append(f"{name}: must be >= 1")
        if self.quality_check_reviews < 0:
            problems.append("quality_check_reviews: must be >= 0")
        return problems


@dataclass(frozen=True)
class TfidfConfig:
    max_features: int | None  # vocabulary size: the most frequent terms in train; null keeps every term
    ngram_range: list[int]  # [smallest, largest] n-gram length
    min_df: int  # a term must occur in at least this many train reviews
    max_df: float  # ... and in at most this share of them (1.0 keeps common words)
    sublinear_tf: bool  # 1 + log(tf) instead of raw counts
    stop_words: Literal["english"] | None
    strip_accents: Literal["unicode", "ascii"] | None
    norm: Literal["l2", "l1"] | None  # per-review normalisation after weighting

    def check(self) -> list[str]:
        problems = []
        if self.max_features is not None and self.max_features < 1:
            problems.append(f"max_features: must be >= 1 or null (got {self.max_features})")
        if len(self.ngram_range) != 2 or not 1 <= self.ngram_range[0] <= self.ngram_range[1]:
            problems.append(
                f"ngram_range: must be [smallest, largest] with 1 <= smallest <= largest (got {list(self.ngram_range)})"
            )
        if self.min_df < 1:
            problems.append(f"min_df: must be >= 1 (got {self.min_df})")
        if not 0 < self.max_df <= 1:
            problems.append(f"max_df: must be in (0, 1] (got {self.max_df})")
        return problems


@dataclass(frozen=True)
class NormalizeConfig:
    fit_on: Literal["train", "all"]  # rows whose mean and std are used; "all" reproduces the paper (leaks test)
    min_std: float  # a dimension whose std over the fit rows is at most this is constant: centred, not scaled

    def check(self) -> list[str]:
        return [] if self.min_std >= 0 else [f"min_std: must be >= 0 (got {self.min_std})"]


@dataclass(frozen=True)
class SemanticIdsConfig:
    """Item text -> MiniLM (embed.minilm's settings) -> residual k-means -> a unique (levels + 1)-token ID per item."""

    levels: int  # residual k-means levels; a collision suffix is the last token
    codebook_size: int  # codes per level (fewer where the catalogue has fewer distinct residuals)
    text: Literal["auto", "metadata", "reviews"]  # auto: name and categories where an item has them, else reviews
    max_review_chars: int  # of an item's train reviews, oldest first, when its text comes from reviews
    kmeans_n_init: int  # k-means restarts per level (the best inertia is kept)
    kmeans_max_iter: int
    seed: int

    def check(self) -> list[str]:
        rules = (
            ("levels", self.levels, self.levels >= 1, ">= 1"),
            ("codebook_size", self.codebook_size, self.codebook_size >= 2, ">= 2"),
            ("max_review_chars", self.max_review_chars, self.max_review_chars >= 1, ">= 1"),
            ("kmeans_n_init", self.kmeans_n_init, self.kmeans_n_init >= 1, ">= 1"),
            ("kmeans_max_iter", self.kmeans_max_iter, self.kmeans_max_iter >= 1, ">= 1"),
            ("seed", self.seed, self.seed >= 0, ">= 0"),
        )
        return [f"{name}: must be {bound} (got {value})" for name, value, valid, bound in rules if not valid]

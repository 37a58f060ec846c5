"""Review embeddings from a decoder LLM: five poolings of the last hidden state from one forward pass per batch.

Prompt. ``plain`` feeds the special tokens the tokenizer puts before a text, then the review. ``instructed`` feeds
the chat template rendered with the instruction as the system message (or, for a tokenizer without a template,
the instruction and a blank line as a plain prefix), then the review. The template is rendered once around a
placeholder; the text before it is tokenised on its own and the review is tokenised on its own, so the review's
token span is known exactly and truncation (``max_tokens``) cuts the review, never the instruction. Whatever the
template puts after the user's message is not fed: in a causal decoder later tokens cannot change the states of
the review's tokens, so they would cost compute and change nothing.

Attention. The ``attention`` pooling needs the last layer's attention probabilities. Rather than run every layer
eagerly with ``output_attentions`` (slow), the model runs with SDPA and a hook on the last layer's attention
recomputes that one layer's probabilities from its input: the layer's own query/key projections and rotary
embedding, key heads repeated for grouped-query attention, scaling, the mask the model passed (causal, padding,
sliding window), softmax in float32, mean over heads.

Prompt cache. In ``instructed`` mode every review follows the same prompt, and in a causal decoder the prompt's
states do not depend on what follows it; with ``prompt_cache`` the prompt runs once (a batch of one) and its keys
and values in every layer are shared by every batch, which then feeds only the reviews (the prompt is about 20% of
the instructed tokens on the demo). The embeddings equal the uncached ones up to float rounding.

Batches and resumption. Reviews are sorted by token count (ties by input position) and cut into shards of
``shard_reviews``; each shard is cut into batches of at most ``batch_tokens`` padded tokens. Both cuts depend only
on the texts and the config, so a shard is the same computation in every run. Each finished shard is one atomic
``.npz`` in the shard cache (``sasnet.embeddings.shard_cache``) under ``work_dir/<key>/``, the key covering
everything that changes the numbers (model files, texts, mode, prompt, batching, device, dtype, library versions):
a rerun reuses finished shards, never stale ones, recomputes a damaged one, and its result is bitwise what an
uninterrupted run gives. The model is resolved once per run, so the key and the weights loaded name the same files.
Under torch.distributed (``embed_share``, run by ``sasnet.embeddings.distributed``) rank r computes the missing
shards n with n mod world_size = r, and one process then assembles them all, bitwise what one process computes.
"""

from __future__ import annotations

import contextlib

import importlib.util
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import torch
import transformers
from jinja2.exceptions import TemplateError
from tqdm.auto import tqdm
from transformers import AutoModel, AutoTokenizer, DynamicCache, PreTrainedModel

from sasnet.embeddings import shard_cache
from sasnet.embeddings.configs import LlmConfig
from sasnet.device import cpu_has_native_bf16, resolve_device
from sasnet.embeddings.pooling import POOLINGS, pool_all
from sasnet.embeddings.shard_cache import ShardCache
from sasnet.errors import PipelineError

log = logging.getLogger(__name__)

PACKAGE_PREFIX = "package:"
PAPER_INSTRUCTION = "Analyze the following review, focusing on the aspects discussed and the associated sentiment."
# Bump when a change to this module changes the numbers, so shards computed by older code are not reused.
SHARD_FORMAT = 1
_PLACEHOLDER = "<<REVIEW>>"
SHARD_ARRAYS = frozenset({"rows", *POOLINGS, "seconds"})  # what each shard file holds


class ModelSource(NamedTuple):
    """What ``from_pretrained`` takes: a Hugging Face id or a folder, and the GGUF file name in it or None."""

    path: str
    gguf_file: str | None


def resolve_model(model: str, gguf_file: str | None) -> ModelSource:
    """The source of ``model`` (an id, a folder or ``package:<name>``) with ``gguf_file``.

    ``package:<name>`` is the folder of the installed package ``name``, found without importing it; its GGUF file
    is the one in that folder unless ``gguf_file`` names it.
    """
    if not model.startswith(PACKAGE_PREFIX):
        return ModelSource(model, gguf_file)
    package = model.removeprefix(PACKAGE_PREFIX)
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise PipelineError(f"embed.llm.model: package {package!r} is not installed")
    folder = Path(spec.submodule_search_locations[0])
    if gguf_file is None:
        found = sorted(path.name for path in folder.glob("*.gguf"))
        if len(found) != 1:
            raise PipelineError(f"embed.llm.gguf_file: {folder} holds {found or 'no .gguf file'}; name one")
        gguf_file = found[0]
    return ModelSource(str(folder), gguf_file)


def model_source(config: LlmConfig, model_path: str | None = None) -> ModelSource:
    """``resolve_model`` of ``model_path`` when given (a checkpoint folder, so no GGUF), else of ``config.model``."""
    return resolve_model(model_path, None) if model_path else resolve_model(config.model, config.gguf_file)


def resolve_dtype(dtype: str, device: str) -> torch.dtype:
    """``auto``: bfloat16 on CUDA and on CPUs with bf16 instructions, else float32 (bf16 emulated is ~8x slower).

    On the demo's reviews SmolLM2's bf16 embeddings match float32's to a cosine >= 0.996 per review after z-scoring
    (every pooling; benchmarks/bench_llm_cpu_paths.py); the fingerprint and the stage's metrics record the dtype.
    """
    if dtype == "auto":
        return torch.bfloat16 if device == "cuda" or cpu_has_native_bf16() else torch.float32
    return getattr(torch, dtype)


def load_tokenizer(config: LlmConfig, source: ModelSource | None = None):
    """The tokenizer of ``source`` (default: ``config.model``'s)."""
    source = source or model_source(config)
    return AutoTokenizer.from_pretrained(source.path, gguf_file=source.gguf_file,
                                         trust_remote_code=config.trust_remote_code)


@dataclass(frozen=True)
class Placement:
    """Where and in what precision the model runs: ``config.device`` and ``config.dtype`` resolved (``auto``) once
    per run, for the shard cache's key and the model alike."""

    device: str
    dtype: torch.dtype

    @classmethod
    def of(cls, config: LlmConfig) -> Placement:
        device = resolve_device(config.device, "embed.llm.device")
        return cls(device, resolve_dtype(config.dtype, device))


def load_model(config: LlmConfig, source: ModelSource | None = None,
               placement: Placement | None = None) -> PreTrainedModel:
    """The base model (no LM head) of ``source`` (default: ``config.model``'s) with SDPA attention, in eval mode on
    ``placement`` (default: the configured device and dtype).

    A GPTQ checkpoint folder is loaded by transformers through GPT-QModel from the quantization_config in its
    config.json. A GGUF file is dequantised to ``dtype`` on load.
    """
    source = source or model_source(config)
    placement = placement or Placement.of(config)
    device = placement.device
    with _without_gguf_dtype_advice():
        model = AutoModel.from_pretrained(
            source.path,
            gguf_file=source.gguf_file,
            dtype=placement.dtype,
            device_map=torch.device("cuda", torch.cuda.current_device()) if device == "cuda" else device,  # a rank's GPU
            attn_implementation="sdpa",
            trust_remote_code=config.trust_remote_code,
        )
    return model.eval()


@contextlib.contextmanager
def _without_gguf_dtype_advice():
    """Drop transformers' advice to load a packed GGUF in float32 whenever another dtype is asked for.

    The dtype is embed.llm.dtype's (auto: bfloat16 where the CPU has it, as for every model here), and changing it
    for GGUF alone would change the default run's embeddings on those CPUs; the user has nothing to act on.
    """
    class Advice(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return not record.getMessage().startswith("Loading a GGUF checkpoint with its weights packed")

    logger, advice = logging.getLogger("transformers.quantizers.quantizer_gguf"), Advice()
    logger.addFilter(advice)
    try:
        yield
    finally:
        logger.removeFilter(advice)


def review_prefix(tokenizer, mode: Literal["plain", "instructed"], instruction: str) -> list[int]:
    """The token ids every review follows in ``mode`` (see the module docstring)."""
    probe = tokenizer("review", return_special_tokens_mask=True)
    leading_specials = probe["input_ids"][: probe["special_tokens_mask"].index(0)]
    if mode == "plain":
        return leading_specials
    if not tokenizer.chat_template:
        return leading_specials + tokenizer(f"{instruction}\n\n", add_special_tokens=False)["input_ids"]
    rendered = _render_chat(tokenizer, [{"role": "system", "content": instruction},
                                        {"role": "user", "content": _PLACEHOLDER}])
    if instruction not in rendered:  # a template without a system role (or one that drops it silently)
        log.warning("the chat template has no system role: the instruction opens the user message instead")
        rendered = _render_chat(tokenizer, [{"role": "user", "content": f"{instruction}\n\n{_PLACEHOLDER}"}])
    prefix_text = rendered[: rendered.index(_PLACEHOLDER)]
    return tokenizer(prefix_text, add_special_tokens=False)["input_ids"]


def _render_chat(tokenizer, messages: list[dict[str, str]]) -> str:
    try:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    except TemplateError:  # templates reject what they do not support, e.g. a system message
        return ""


@dataclass(frozen=True)
class EncodedReviews:
    prefix: list[int]  # prompt tokens before every review
    reviews: list[list[int]]  # each review's tokens, truncated to max_tokens
    truncated: int  # reviews that were cut

    @property
    def lengths(self) -> np.ndarray:
        """Tokens fed per review, prompt included."""
        return np.array([len(self.prefix) + len(review) for review in self.reviews], dtype=np.int64)


def encode_reviews(tokenizer, texts: Sequence[str], mode: Literal["plain", "instructed"],
                   config: LlmConfig) -> EncodedReviews:
    tokens = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    empty = [i for i, review in enumerate(tokens) if not review]
    if empty:
        raise PipelineError(f"{len(empty)} review(s) have no tokens to pool (first rows: {empty[:5]})")
    return EncodedReviews(
        prefix=review_prefix(tokenizer, mode, config.instruction),
        reviews=[review[: config.max_tokens] for review in tokens],
        truncated=sum(len(review) > config.max_tokens for review in tokens),
    )


def plan_shards(lengths: np.ndarray, shard_reviews: int, batch_tokens: int) -> list[list[np.ndarray]]:
    """Shards of review indices, each a list of batches; a function of the lengths and the two sizes only.

    Reviews are sorted by length so that a batch pads little; a batch grows while (reviews x longest) fits in
    ``batch_tokens``.
    """
    order = np.argsort(lengths, kind="stable")
    shards = []
    for start in range(0, len(order), shard_reviews):
        batches, current = [], []
        for index in order[start : start + shard_reviews]:  # ascending: this review is the batch's longest
            if current and (len(current) + 1) * lengths[index] > batch_tokens:
                batches.append(np.array(current))
                current = []
            current.append(index)
        batches.append(np.array(current))
        shards.append(batches)
    return shards


@dataclass(frozen=True)
class PromptCache:
    """The prompt's keys and values in every layer (batch of one), computed once and shared by every batch."""

    tokens: int
    layers: tuple[tuple[torch.Tensor, torch.Tensor], ...]
    model_config: Any

    @classmethod
    def compute(cls, model: PreTrainedModel, prompt: list[int]) -> PromptCache:
        with torch.inference_mode():
            cache = model(input_ids=torch.tensor([prompt], device=model.device), use_cache=True).past_key_values
        return cls(len(prompt), tuple((layer.keys, layer.values) for layer in cache.layers), model.config)

    def for_batch(self, size: int) -> DynamicCache:
        """A cache for ``size`` sequences that share the prompt (views: the forward pass appends, never writes)."""
        return DynamicCache([(keys.expand(size, -1, -1, -1), values.expand(size, -1, -1, -1))
                             for keys, values in self.layers], config=self.model_config)


@dataclass(frozen=True)
class Batch:
    rows: np.ndarray  # review indices, in batch order
    inputs: dict[str, Any]  # input_ids, attention_mask (prompt included), position_ids; past_key_values if cached
    review_mask: torch.Tensor  # True at the review's own tokens, over the tokens fed

    @property
    def real_tokens(self) -> int:
        return int(self.inputs["attention_mask"].sum())

    @property
    def padded_tokens(self) -> int:
        return self.inputs["attention_mask"].numel()


def collate(encoded: EncodedReviews, rows: np.ndarray, tokenizer, device: str | torch.device,
            prompt: PromptCache | None = None) -> Batch:
    """Pad on the tokenizer's padding side. Positions count real tokens only, so padding never shifts them.

    With ``prompt`` (the cache of ``encoded.prefix``) only the reviews are fed, after the cached prompt.
    """
    pad_id = next((i for i in (tokenizer.pad_token_id, tokenizer.eos_token_id) if i is not None), 0)
    fed_prefix = [] if prompt else encoded.prefix
    sequences = [fed_prefix + encoded.reviews[row] for row in rows]
    width = max(map(len, sequences))
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    review_mask = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, sequence in enumerate(sequences):
        start = width - len(sequence) if tokenizer.padding_side == "left" else 0
        input_ids[i, start : start + len(sequence)] = torch.tensor(sequence)
        attention_mask[i, start : start + len(sequence)] = 1
        review_mask[i, start + len(fed_prefix) : start + len(sequence)] = True
    prompt_tokens = prompt.tokens if prompt else 0
    position_ids = (attention_mask.cumsum(1) - 1).clamp_min(0) + prompt_tokens
    attention_mask = torch.cat([torch.ones((len(rows), prompt_tokens), dtype=torch.long), attention_mask], 1)
    inputs: dict[str, Any] = {name: tensor.to(device) for name, tensor in
                              {"input_ids": input_ids, "attention_mask": attention_mask,
                               "position_ids": position_ids}.items()}
    if prompt:
        inputs["past_key_values"] = prompt.for_batch(len(rows))
    return Batch(rows, inputs, review_mask.to(device))


class LastLayerAttention:
    """While entered, records the head-averaged attention probabilities of the model's last decoder layer.

    Works for decoders whose attention module (transformers' Llama, Mistral, Qwen2/3, Phi-3 layout) has
    ``q_proj``/``k_proj`` or a fused ``qkv_proj``, ``head_dim``, ``scaling``, receives the rotary
    ``position_embeddings`` from the model, and whose modeling module defines ``apply_rotary_pos_emb``.
    """

    def __init__(self, model: PreTrainedModel):
        layers = getattr(model.base_model, "layers", None)
        attention = getattr(layers[-1], "self_attn", None) if layers else None
        rotary = getattr(sys.modules[type(attention).__module__], "apply_rotary_pos_emb", None) if attention else None
        projections = hasattr(attention, "qkv_proj") or (hasattr(attention, "q_proj") and hasattr(attention, "k_proj"))
        if rotary is None or not projections or not hasattr(attention, "scaling"):
            raise PipelineError(
                f"attention pooling does not support {type(model).__name__}: it needs decoder layers with a "
                "Llama/Mistral/Qwen/Phi-3-style self_attn (q_proj and k_proj or qkv_proj, rotary embeddings)"
            )
        self._module = attention
        self._rotary = rotary
        self._attention: torch.Tensor | None = None

    def __enter__(self) -> LastLayerAttention:
        self._handle = self._module.register_forward_pre_hook(self._record, with_kwargs=True)
        return self

    def __exit__(self, *exc_info) -> None:
        self._handle.remove()

    def take(self) -> torch.Tensor:
        """The (batch, queries, keys) probabilities of the last forward pass; forgets them.

        Keys are the cached prompt's tokens, if any, then the tokens fed (the queries).
        """
        if self._attention is None:
            raise RuntimeError("no attention was recorded: run a forward pass inside the `with` block first")
        attention, self._attention = self._attention, None
        return attention

    def _record(self, module, args: tuple, kwargs: dict[str, Any]) -> None:
        hidden = kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]
        if kwargs.get("position_embeddings") is None:
            raise PipelineError(f"{type(module).__name__} gets no rotary position_embeddings: unsupported layout")
        queries, keys = self._queries_and_keys(hidden)
        queries, keys = self._rotary(queries, keys, *kwargs["position_embeddings"])
        cache = kwargs.get("past_key_values")
        if cache is not None and cache.get_seq_length(module.layer_idx) > 0:  # the cached prompt's keys come first
            keys = torch.cat([cache.layers[module.layer_idx].keys, keys], dim=2)
        keys = keys.repeat_interleave(queries.shape[1] // keys.shape[1], dim=1)  # grouped-query attention
        scores = queries.float() @ keys.float().transpose(-1, -2) * module.scaling
        mask = kwargs.get("attention_mask")
        if mask is None:  # no padding: the model leaves the causal mask implicit (queries are the last tokens)
            queries_n, keys_n = scores.shape[-2:]
            mask = torch.ones((queries_n, keys_n), dtype=torch.bool, device=scores.device).tril(keys_n - queries_n)
        if mask.dtype == torch.bool:
            scores.masked_fill_(~mask, float("-inf"))
        else:
            scores += mask
        # A query that may attend to nothing (a pad before the text) gives NaN; no pooling reads its row.
        self._attention = scores.softmax(-1).nan_to_num(0.0).mean(1)

    def _queries_and_keys(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, heads, tokens, head_dim) queries and (batch, kv heads, tokens, head_dim) keys, before rotary."""
        module = self._module
        if hasattr(module, "qkv_proj"):  # Phi-3: queries, keys, values side by side
            query_width = module.config.num_attention_heads * module.head_dim
            key_width = module.config.num_key_value_heads * module.head_dim
            fused = module.qkv_proj(hidden)
            queries, keys = fused[..., :query_width], fused[..., query_width : query_width + key_width]
        else:
            queries, keys = module.q_proj(hidden), module.k_proj(hidden)
        shape = (*hidden.shape[:-1], -1, module.head_dim)
        queries, keys = queries.view(shape), keys.view(shape)
        if hasattr(module, "q_norm"):  # Qwen3: per-head RMSNorm before the rotary embedding
            queries, keys = module.q_norm(queries), module.k_norm(keys)
        return queries.transpose(1, 2), keys.transpose(1, 2)


def embed_batch(model: PreTrainedModel, recorder: LastLayerAttention, batch: Batch) -> dict[str, torch.Tensor]:
    """Every pooling of one batch, from one forward pass (call inside ``torch.inference_mode``)."""
    cached = "past_key_values" in batch.inputs
    hidden = model(**batch.inputs, use_cache=cached).last_hidden_state
    attention = recorder.take()[..., -hidden.shape[1]:]  # among the tokens fed: a cached prompt is never pooled
    return pool_all(hidden, batch.review_mask, attention)


def embed_reviews(
    texts: Sequence[str],
    config: LlmConfig,
    mode: Literal["plain", "instructed"],
    work_dir: Path,
    model_path: str | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Embed ``texts``: pooling -> float32 (len(texts), hidden size) with rows in input order, and JSON-ready stats.

    ``model_path`` replaces ``config.model`` (the quantised checkpoint). Finished shards under ``work_dir`` are
    reused; the model is loaded only when a shard is missing. ``seconds`` and the rates add up the forward passes
    and poolings of every shard, whichever run (or rank) computed it; loading and tokenising are not counted.
    """
    plan = _plan(texts, config, mode, work_dir, model_path)
    missing = plan.cache.missing()
    _compute_shards(plan, missing, config, mode, desc=f"LLM {mode}")
    poolings, seconds = _assemble(plan.cache, len(texts))
    lengths = plan.encoded.lengths
    real_tokens = int(lengths.sum())
    stats = {
        "model": model_path or config.model,
        "mode": mode,
        "dims": next(iter(poolings.values())).shape[1],
        "reviews": len(texts),
        "real_tokens": real_tokens,
        "padded_tokens": sum(len(batch) * int(lengths[batch].max()) for batches in plan.shards for batch in batches),
        "prompt_tokens_per_review": len(plan.encoded.prefix),
        "prompt_cached": _caches_prompt(config, mode, plan.encoded),
        "truncated_reviews": plan.encoded.truncated,
        "max_tokens": config.max_tokens,
        "seconds": round(seconds, 3),
        "reviews_per_s": round(len(texts) / seconds, 2),
        "tokens_per_s": round(real_tokens / seconds, 1),
        "device": plan.placement.device,
        "dtype": str(plan.placement.dtype).removeprefix("torch."),
        "shards": len(plan.shards),
        "shards_reused": len(plan.shards) - len(missing),
    }
    return poolings, stats


def embed_share(
    texts: Sequence[str],
    config: LlmConfig,
    mode: Literal["plain", "instructed"],
    work_dir: Path,
    model_path: str | None = None,
) -> int:
    """This rank's missing shards of ``embed_reviews``'s run, written to ``work_dir``; how many it computed.

    Under torch.distributed shard ``n`` belongs to rank ``n % world_size`` (one process: every shard), so ranks
    never write the same shard and a rerun with the same ranks redoes only what a killed rank left unfinished.
    ``embed_reviews`` on the same arguments then assembles every shard, bitwise what one process computes.
    """
    rank, world_size = _ranks()
    plan = _plan(texts, config, mode, work_dir, model_path)
    mine = plan.cache.missing(range(rank, len(plan.shards), world_size))
    _compute_shards(plan, mine, config, mode, desc=f"LLM {mode} rank {rank}/{world_size}")
    return len(mine)


def _ranks() -> tuple[int, int]:
    """(rank, world size) of the torch.distributed process group, (0, 1) without one."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


@dataclass(frozen=True)
class ShardPlan:
    """The shards of one embedding run, the model that computes them and the cache they are written to."""

    source: ModelSource
    tokenizer: Any
    encoded: EncodedReviews
    shards: list[list[np.ndarray]]
    cache: ShardCache
    placement: Placement


def _plan(texts: Sequence[str], config: LlmConfig, mode: str, work_dir: Path, model_path: str | None) -> ShardPlan:
    if not texts:
        raise PipelineError("no reviews to embed")
    source = model_source(config, model_path)
    placement = Placement.of(config)
    tokenizer = load_tokenizer(config, source)
    encoded = encode_reviews(tokenizer, texts, mode, config)
    shards = plan_shards(encoded.lengths, config.shard_reviews, config.batch_tokens)
    key = shard_cache.key(_cache_settings(config, mode, source, placement), texts)
    return ShardPlan(source, tokenizer, encoded, shards, ShardCache(Path(work_dir) / key, len(shards), SHARD_ARRAYS),
                     placement)


def _compute_shards(plan: ShardPlan, numbers: list[int], config: LlmConfig, mode: str, desc: str) -> None:
    """Compute and write the shards ``numbers`` of ``plan``; the model is loaded only if there is one."""
    if not numbers:
        return
    model = load_model(config, plan.source, plan.placement)
    prompt = PromptCache.compute(model, plan.encoded.prefix) if _caches_prompt(config, mode, plan.encoded) else None
    lengths = plan.encoded.lengths
    tokens = sum(int(lengths[np.concatenate(plan.shards[number])].sum()) for number in numbers)
    with (LastLayerAttention(model) as recorder,
          tqdm(total=tokens, unit="tok", unit_scale=True, desc=desc) as progress):
        for number in numbers:
            arrays = _embed_shard(model, recorder, plan.encoded, plan.shards[number], plan.tokenizer, prompt,
                                  progress)
            plan.cache.write(number, arrays)


def _caches_prompt(config: LlmConfig, mode: str, encoded: EncodedReviews) -> bool:
    """The instructed prompt is cached when asked; plain mode's prompt (at most a BOS token) never is."""
    return config.prompt_cache and mode == "instructed" and bool(encoded.prefix)


def _embed_shard(model, recorder, encoded: EncodedReviews, batches: list[np.ndarray], tokenizer,
                 prompt: PromptCache | None, progress: tqdm) -> dict[str, np.ndarray]:
    started = time.perf_counter()
    pooled = {name: [] for name in POOLINGS}
    with torch.inference_mode():
        for batch_rows in batches:
            batch = collate(encoded, batch_rows, tokenizer, model.device, prompt)
            for name, vectors in embed_batch(model, recorder, batch).items():
                pooled[name].append(vectors.cpu().numpy())
            progress.update(batch.real_tokens)
    return {
        "rows": np.concatenate(batches),
        **{name: np.concatenate(parts) for name, parts in pooled.items()},
        "seconds": np.float64(time.perf_counter() - started),
    }


def _assemble(cache: ShardCache, n_reviews: int) -> tuple[dict[str, np.ndarray], float]:
    """Matrices in input row order from every shard, and the shards' summed compute seconds."""
    poolings: dict[str, np.ndarray] = {}
    seconds = 0.0
    for number in range(cache.count):
        shard = cache.read(number)
        for name in POOLINGS:
            if name not in poolings:
                poolings[name] = np.empty((n_reviews, shard[name].shape[1]), dtype=np.float32)
            poolings[name][shard["rows"]] = shard[name]
        seconds += shard["seconds"].item()
    return poolings, seconds


def _cache_settings(config: LlmConfig, mode: str, source: ModelSource, placement: Placement) -> dict[str, Any]:
    """Everything besides the texts that the numbers depend on; trust_remote_code and quantize act through the
    model."""
    return {
        "format": SHARD_FORMAT,
        "model": source.path,
        "gguf_file": source.gguf_file,
        "model_files": shard_cache.file_stamps(Path(source.path)),
        "mode": mode,
        "instruction": config.instruction if mode == "instructed" else None,
        "prompt_cache": config.prompt_cache if mode == "instructed" else None,
        "max_tokens": config.max_tokens,
        "batch_tokens": config.batch_tokens,
        "shard_reviews": config.shard_reviews,
        "device": placement.device,
        "dtype": str(placement.dtype),
        "versions": [torch.__version__, transformers.__version__],
    }

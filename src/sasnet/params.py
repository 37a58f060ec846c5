"""The schema of params.yaml: one frozen dataclass per stage section, validated as a whole before any work."""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import yaml

from sasnet import models
from sasnet.analysis_configs import ItemSlicesConfig, ScoringConfig, SignificanceConfig, bootstrap_problems
from sasnet.config import ParamsError, build
from sasnet.data.configs import DataConfig, DemoConfig, FilterConfig, IngestConfig, SampleConfig, SplitConfig
from sasnet.embeddings.configs import (
    POOLINGS,
    LlmConfig,
    MiniLMConfig,
    NormalizeConfig,
    QuantizeConfig,
    SemanticIdsConfig,
    TfidfConfig,
)
from sasnet.ranking.configs import RankingConfig

PARAMS_FILE = "params.yaml"
SEMANTIC_IDS_INPUT = "semantic_ids"  # the input of a family that reads the catalogue's semantic IDs


@dataclass(frozen=True)
class EncoderRun:
    encoder: Literal["tfidf", "minilm", "llm"]
    mode: Literal["plain", "instructed"]  # instructed: embed.llm.instruction as the system prompt

    def check(self) -> list[str]:
        if self.mode == "instructed" and self.encoder != "llm":
            return [f"mode: 'instructed' needs encoder 'llm' (got encoder {self.encoder!r})"]
        return []


@dataclass(frozen=True)
class EmbedConfig:
    encoders: dict[str, EncoderRun]  # one embed@<name> stage each
    tfidf: TfidfConfig
    minilm: MiniLMConfig
    llm: LlmConfig

    def check(self) -> list[str]:
        bad = [name for name in self.encoders if not re.fullmatch(r"[a-z0-9_]+", name)]
        problems = [f"encoders: names must be lower-case letters, digits and _ (got {bad})"] if bad else []
        if not self.encoders:
            problems.append("encoders: at least one encoder is needed")
        return problems


# The matrices each encoder writes (data/normalized/<encoder run>/<pooling>.npy or .npz).
ENCODER_POOLINGS = {
    "tfidf": ("tfidf",),
    "minilm": ("mean",),
    "llm": POOLINGS,
}


@dataclass(frozen=True)
class ModelEntry:
    """One model: a family, what it reads, and overrides of the family's params section for this model alone."""

    PLAIN_INPUT: ClassVar[str] = "split"  # the input of a family that reads no embedding

    family: str  # a folder under src/sasnet/models
    input: str  # 'split' (the split's reviews: ids, stars, text) or 'normalized/<embed.encoders entry>'
    pooling: str | None = None  # the embedding's pooling, for an input normalized/<...>
    overrides: dict[str, Any] = field(default_factory=dict)  # family keys -> this model's values

    @property
    def reads_semantic_ids(self) -> bool:
        return self.input == SEMANTIC_IDS_INPUT

    @property
    def embedding(self) -> str | None:
        """The embed.encoders entry the model reads, or None."""
        return self.input.removeprefix("normalized/") if self.input.startswith("normalized/") else None

    def describe(self) -> dict[str, Any]:
        """The model's input, as model.json and the metrics record it."""
        return {"family": self.family, "input": self.input, "pooling": self.pooling}


@dataclass(frozen=True)
class RankerEntry(ModelEntry):
    """One ranker: a family that ranks, what it reads besides data/rank_split ('rank_split': nothing; a review-
    embedding family: 'normalized/<embed.encoders entry>' and a pooling), and overrides of the family's section."""

    PLAIN_INPUT: ClassVar[str] = "rank_split"


@dataclass(frozen=True)
class EvaluationConfig:
    """How every model is scored on the valid and test reviews (SPEC §2.5)."""

    bootstrap_samples: int  # resamples for the 95% intervals of accuracy and macro-F1; 0 skips them
    confidence: float
    seed: int

    def check(self) -> list[str]:
        return bootstrap_problems(self.bootstrap_samples, self.confidence)


@dataclass(frozen=True)
class PipelineParams:
    """The pipeline's sections; ``Params`` adds one section per model family (src/sasnet/models/<family>)."""

    data: DataConfig
    demo: DemoConfig
    ingest: IngestConfig
    filter: FilterConfig
    sample: SampleConfig
    split: SplitConfig
    quantize: QuantizeConfig
    embed: EmbedConfig
    normalize: NormalizeConfig
    scoring: ScoringConfig
    significance: SignificanceConfig
    semantic_ids: SemanticIdsConfig
    evaluation: EvaluationConfig
    item_slices: ItemSlicesConfig
    models: dict[str, ModelEntry]  # one train@<name> stage each
    ranking: RankingConfig
    rankers: dict[str, RankerEntry]  # one rank@<name> stage each

    def check(self) -> list[str]:
        problems = [] if self.models else ["models: at least one model is needed"]
        for section, check in (("models", self._entry_problems), ("rankers", self._ranker_problems)):
            for name, entry in getattr(self, section).items():
                found = ([": names must be lower-case letters, digits and _"]
                         if not re.fullmatch(r"[a-z0-9_]+", name) else check(name, entry))
                problems += [f"{section}.{name}{problem}" for problem in found]
        return problems

    def _ranker_problems(self, name: str, entry: RankerEntry) -> list[str]:
        ranking = [family for family in models.FAMILIES if models.can_rank(family)]
        if entry.family not in ranking:
            return [f".family: got {entry.family!r}; families that rank: {', '.join(map(repr, ranking))}"]
        return self._input_problems(entry) + self._override_problems(entry, lambda: ranker_config(self, name))

    def _entry_problems(self, name: str, entry: ModelEntry) -> list[str]:
        """What is wrong with one models entry, each message starting with '.<key>' or ':'."""
        classifying = [family for family in models.FAMILIES if models.can_classify(family)]
        if entry.family not in classifying:
            return [f".family: got {entry.family!r}; valid values: {', '.join(map(repr, classifying))}"]
        return self._input_problems(entry) + self._override_problems(entry, lambda: model_config(self, name))

    def _input_problems(self, entry: ModelEntry) -> list[str]:
        """What is wrong with a models or rankers entry's input and pooling, for what its family reads."""
        family = models.family(entry.family)
        problems = []
        if family.READS_EMBEDDING:
            encoders = self.embed.encoders
            encoder = encoders.get(entry.embedding) if entry.embedding else None
            if encoder is None:
                problems.append(
                    f".input: family {entry.family!r} reads an embedding: got {entry.input!r}; valid values: "
                    + ", ".join(repr(f"normalized/{run}") for run in encoders)
                )
            elif entry.pooling not in ENCODER_POOLINGS[encoder.encoder]:
                problems.append(
                    f".pooling: got {entry.pooling!r}; encoder {encoder.encoder!r} writes "
                    + ", ".join(map(repr, ENCODER_POOLINGS[encoder.encoder]))
                )
        elif getattr(family, "READS_SEMANTIC_IDS", False):
            if entry.input != SEMANTIC_IDS_INPUT or entry.pooling is not None:
                problems.append(f".input: family {entry.family!r} reads semantic IDs: use input "
                                f"{SEMANTIC_IDS_INPUT!r} and no pooling")
        elif entry.input != entry.PLAIN_INPUT or entry.pooling is not None:
            problems.append(f".input: family {entry.family!r} reads no embedding: use input "
                            f"{entry.PLAIN_INPUT!r} and no pooling")
        return problems

    @staticmethod
    def _override_problems(entry: ModelEntry, build_config) -> list[str]:
        keys = [item.name for item in dataclasses.fields(models.family(entry.family).Config)]
        unknown = sorted(set(entry.overrides) - set(keys))
        if unknown:
            return [f".overrides: unknown key(s) {unknown}; valid keys: {', '.join(keys) or 'none'}"]
        try:
            build_config()
        except ParamsError as error:
            return [f".overrides.{problem}" for problem in error.problems]
        return []


def plain(value: Any) -> Any:
    """A built params value back as the plain YAML types ``build`` reads (tuples as lists, mappings as dicts)."""
    if dataclasses.is_dataclass(value):
        return {item.name: plain(getattr(value, item.name)) for item in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [plain(item) for item in value]
    if hasattr(value, "items"):
        return {key: plain(item) for key, item in value.items()}
    return value


# params.yaml's schema: the pipeline's sections, then one top-level section per model family.
Params = dataclasses.make_dataclass(
    "Params",
    [(name, models.family(name).Config) for name in models.FAMILIES],
    bases=(PipelineParams,),
    frozen=True,
)


def model_config(params: Any, name: str) -> Any:
    """The config of model ``name``: its family's section with the entry's overrides (every field read)."""
    return _family_config(params, params.models[name])


def ranker_config(params: Any, name: str) -> Any:
    """The config of ranker ``name``: its family's section with the entry's overrides."""
    return _family_config(params, params.rankers[name])


def _family_config(params: Any, entry: ModelEntry) -> Any:
    config_class = models.family(entry.family).Config
    section = getattr(params, entry.family)
    merged = {item.name: getattr(section, item.name) for item in dataclasses.fields(config_class)}
    return build(config_class, plain({**merged, **entry.overrides}))


def load_params(path: str | os.PathLike = PARAMS_FILE) -> Params:
    """Read and validate params.yaml; raise ParamsError naming every bad key and what is valid."""
    try:
        with open(path) as handle:
            raw = yaml.safe_load(handle)
    except FileNotFoundError:
        raise ParamsError([f"{path}: file not found (run from the repository root)"]) from None
    except yaml.YAMLError as error:
        raise ParamsError([f"{path}: not valid YAML: {error}"]) from None
    return build(Params, raw)

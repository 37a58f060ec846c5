"""The schema of params.yaml: one frozen dataclass per stage section, validated as a whole before any work."""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from sasnet import models
from sasnet.analysis_configs import EvaluationConfig, ItemSlicesConfig, ScoringConfig, SignificanceConfig
from sasnet.config import ParamsError, build, with_overrides
from sasnet.data.configs import TEXT_FREE_SOURCES, DataConfig, DemoConfig, FilterConfig, IngestConfig, SampleConfig, SplitConfig
from sasnet.embeddings.configs import (
    LlmConfig,
    MiniLMConfig,
    NormalizeConfig,
    QuantizeConfig,
    SemanticIdsConfig,
    TfidfConfig,
)
from sasnet.inputs import TASKS, InputKind, ModelInput, input_kind
from sasnet.ranking.configs import RankingConfig

PARAMS_FILE = "params.yaml"


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
        return [] if self.encoders else ["encoders: at least one encoder is needed"]


@dataclass(frozen=True)
class ModelEntry:
    """One entry of the ``models`` or ``rankers`` map: a family, the input it reads (``sasnet.inputs``), and overrides
    of the family's params section for this entry alone."""

    family: str  # a folder under src/sasnet/models
    input: str  # a folder under data/: the task's split, 'normalized/<embed.encoders entry>' or 'semantic_ids'
    pooling: str | None = None  # the embedding's pooling, for an input normalized/<...>
    overrides: dict[str, Any] = field(default_factory=dict)  # family keys -> this entry's values

    @property
    def kind(self) -> InputKind:
        return input_kind(models.family(self.family))

    @property
    def loader_input(self) -> ModelInput:
        return self.kind.loader_input(self.input, self.pooling)

    def describe(self) -> dict[str, Any]:
        """The entry's input, as model.json and the metrics record it."""
        return {"family": self.family, "input": self.input, "pooling": self.pooling}


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
    rankers: dict[str, ModelEntry]  # one rank@<name> stage each

    def check(self) -> list[str]:
        problems = [] if self.models else ["models: at least one model is needed"]
        problems += [f"embed.encoders: {problem}" for problem in name_problems(self.embed.encoders)]
        for section, task in ENTRY_SECTIONS.items():
            entries = getattr(self, section)
            problems += [f"{section}: {problem}" for problem in name_problems(entries)]
            for name, entry in entries.items():
                if valid_name(name):
                    problems += [f"{section}.{name}{problem}" for problem in self._entry_problems(task, entry)]
        return problems + self._reference_problems()

    def _entry_problems(self, task: str, entry: ModelEntry) -> list[str]:
        """What is wrong with one models or rankers entry, each message starting with '.<key>'."""
        serving = [name for name in models.FAMILIES if models.serves(name, task)]
        if entry.family not in serving:
            return [f".family: got {entry.family!r}; families that {task}: "
                    + ", ".join(map(repr, serving))]
        problems = entry.kind.problems(entry.family, task, entry.input, entry.pooling, self.embed.encoders)
        keys = [item.name for item in dataclasses.fields(models.family(entry.family).Config)]
        unknown = sorted(set(entry.overrides) - set(keys))
        if unknown:
            return problems + [f".overrides: unknown key(s) {unknown}; valid keys: {', '.join(keys) or 'none'}"]
        try:
            family_config(self, entry)
        except ParamsError as error:
            problems += [f".overrides.{problem}" for problem in error.problems]
        return problems

    def _reference_problems(self) -> list[str]:
        """Keys that name something in another section, checked before any stage runs."""
        classes = list(self.split.bins)
        problems = [f"scoring.{key}: got {getattr(self.scoring, key)!r}; classes of split.bins: "
                    + ", ".join(map(repr, classes))
                    for key in ("negative_class", "positive_class") if getattr(self.scoring, key) not in classes]
        if self.data.source in TEXT_FREE_SOURCES:
            for section in ENTRY_SECTIONS:
                problems += [f"{section}.{name}.family: {entry.family!r} reads {entry.kind.summary}, and "
                             f"data.source {self.data.source!r} has no review text"
                             for name, entry in getattr(self, section).items()
                             if valid_name(name) and entry.family in models.FAMILIES and entry.kind.reads_text]
        return problems


ENTRY_SECTIONS = {layout.section: task for task, layout in TASKS.items()}  # params.yaml's entry maps and their task
NAME = re.compile(r"[a-z][a-z0-9_]*")


def valid_name(name: Any) -> bool:
    """A name DVC may put into a stage name and output paths: lower-case letters, digits and _, from a letter."""
    return isinstance(name, str) and NAME.fullmatch(name) is not None


def name_problems(entries: Any) -> list[str]:
    return [f"{name!r} is not a valid name: it names DVC stages and output paths, so it must be lower-case letters, "
            "digits and _, starting with a letter" for name in entries if not valid_name(name)]


# params.yaml's schema: the pipeline's sections, then one top-level section per model family.
Params = dataclasses.make_dataclass(
    "Params",
    [(name, models.family(name).Config) for name in models.FAMILIES],
    bases=(PipelineParams,),
    frozen=True,
)


def entry_config(params: Any, section: str, name: str) -> Any:
    """The config of entry ``name`` of ``section`` (models or rankers): its family's section with its overrides."""
    return family_config(params, getattr(params, section)[name])


def family_config(params: Any, entry: ModelEntry) -> Any:
    """The family's section, as params.yaml built it, with the entry's overrides converted and checked once."""
    return with_overrides(getattr(params, entry.family), entry.overrides)


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

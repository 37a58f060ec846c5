"""The schema of params.yaml: one frozen dataclass per stage section, validated as a whole before any work."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from typing import Literal

import yaml

from sasnet.baselines import SvmConfig
from sasnet.config import ParamsError, build
from sasnet.data.demo import DemoConfig
from sasnet.data.filtering import FilterConfig
from sasnet.data.ingest import IngestConfig
from sasnet.data.sampling import SampleConfig
from sasnet.data.splitting import SplitConfig
from sasnet.embeddings.configs import POOLINGS, LlmConfig, MiniLMConfig, QuantizeConfig
from sasnet.embeddings.normalize import NormalizeConfig
from sasnet.embeddings.tfidf import TfidfConfig
from sasnet.models.configs import SasnetConfig
from sasnet.scoring import ScoringConfig, bootstrap_problems
from sasnet.stats import SignificanceConfig

PARAMS_FILE = "params.yaml"


@dataclass(frozen=True)
class YelpFiles:
    reviews: str
    businesses: str


@dataclass(frozen=True)
class AmazonFiles:
    reviews: str
    metadata: str | None


@dataclass(frozen=True)
class DataConfig:
    source: Literal["demo", "yelp", "amazon"]
    yelp: YelpFiles
    amazon: AmazonFiles


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
class ModelInput:
    """The review embedding a model reads: an embed.encoders entry and one of its poolings."""

    embedding: str
    pooling: str


@dataclass(frozen=True)
class SvmSection(SvmConfig):
    inputs: dict[str, ModelInput]  # one svm@<name> stage each; the model is called svm_<name>


@dataclass(frozen=True)
class SasnetSection(SasnetConfig):
    inputs: dict[str, ModelInput]  # one train_sasnet@<name> stage each; the model is called sasnet_<name>


def sasnet_config(section: SasnetSection) -> SasnetConfig:
    """The section's architecture and training fields alone (what a checkpoint records), read field by field."""
    return SasnetConfig(**{field.name: getattr(section, field.name) for field in fields(SasnetConfig)})


@dataclass(frozen=True)
class EvaluationConfig:
    """How every model is scored on the valid and test reviews (SPEC §2.5)."""

    bootstrap_samples: int  # resamples for the 95% intervals of accuracy and macro-F1; 0 skips them
    confidence: float
    seed: int

    def check(self) -> list[str]:
        return bootstrap_problems(self.bootstrap_samples, self.confidence)


@dataclass(frozen=True)
class Params:
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
    svm: SvmSection
    train_sasnet: SasnetSection
    evaluation: EvaluationConfig

    def check(self) -> list[str]:
        """Every model input must name an embed.encoders entry and a pooling that encoder writes."""
        problems = []
        for section, inputs in (("svm", self.svm.inputs), ("train_sasnet", self.train_sasnet.inputs)):
            if not inputs:
                problems.append(f"{section}.inputs: at least one input is needed")
            for name, entry in inputs.items():
                where = f"{section}.inputs.{name}"
                if not re.fullmatch(r"[a-z0-9_]+", name):
                    problems.append(f"{where}: names must be lower-case letters, digits and _")
                encoder = self.embed.encoders.get(entry.embedding)
                if encoder is None:
                    problems.append(
                        f"{where}.embedding: {entry.embedding!r} is not an embed.encoders entry; valid values: "
                        + ", ".join(map(repr, self.embed.encoders))
                    )
                elif entry.pooling not in ENCODER_POOLINGS[encoder.encoder]:
                    problems.append(
                        f"{where}.pooling: {entry.pooling!r} is not written by encoder {encoder.encoder!r}; valid "
                        "values: " + ", ".join(map(repr, ENCODER_POOLINGS[encoder.encoder]))
                    )
        return problems


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

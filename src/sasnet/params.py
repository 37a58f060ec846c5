"""The schema of params.yaml: one frozen dataclass per stage section, validated as a whole before any work."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Literal

import yaml

from sasnet.config import ParamsError, build
from sasnet.data.demo import DemoConfig
from sasnet.data.filtering import FilterConfig
from sasnet.data.ingest import IngestConfig
from sasnet.data.sampling import SampleConfig
from sasnet.data.splitting import SplitConfig
from sasnet.embeddings.configs import LlmConfig, MiniLMConfig, QuantizeConfig
from sasnet.embeddings.normalize import NormalizeConfig
from sasnet.embeddings.tfidf import TfidfConfig
from sasnet.scoring import ScoringConfig
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

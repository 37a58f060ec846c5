"""The schema of params.yaml: one frozen dataclass per stage section, validated as a whole before any work."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

import yaml

from sasnet.config import ParamsError, build
from sasnet.data.demo import DemoConfig
from sasnet.data.filtering import FilterConfig
from sasnet.data.ingest import IngestConfig
from sasnet.data.sampling import SampleConfig
from sasnet.data.splitting import SplitConfig

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
class Params:
    data: DataConfig
    demo: DemoConfig
    ingest: IngestConfig
    filter: FilterConfig
    sample: SampleConfig
    split: SplitConfig


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

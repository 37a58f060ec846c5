"""Each stage declares in dvc.yaml exactly the params its code reads.

DVC reruns a stage only when a declared param changes, so an undeclared read is a silent stale result and an
unused declaration is a needless rerun. Every stage runs here on a tiny demo with its params wrapped in a recorder.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import pandas as pd
import yaml

from conftest import REPO_ROOT
from sasnet.config import build, leaf_paths
from sasnet.data.demo import generate_demo, write_yelp_json
from sasnet.params import Params
from workspace import make_workspace, set_dotted, tiny_params

DVC_STAGES = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]


class Recorder:
    """Wraps a params dataclass and records the dotted path of every leaf value read through it."""

    def __init__(self, node, path: str, reads: set[str]):
        self._node, self._path, self._reads = node, path, reads

    def __getattr__(self, name: str):
        value = getattr(self._node, name)
        path = f"{self._path}.{name}" if self._path else name
        if dataclasses.is_dataclass(value):
            return Recorder(value, path, self._reads)
        if name in {field.name for field in dataclasses.fields(self._node)}:
            self._reads.add(path)
        return value


def declared_leaves(stage: str) -> set[str]:
    entries = DVC_STAGES[stage]["params"]
    return {leaf for leaf in leaf_paths(Params) if any(leaf == e or leaf.startswith(e + ".") for e in entries)}


def stage_module(stage: str):
    spec = importlib.util.spec_from_file_location(f"stage_{stage}", REPO_ROOT / "stages" / f"{stage}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_recorded(stage: str, raw_params: dict, reads: dict[str, set[str]]) -> None:
    stage_module(stage).run(Recorder(build(Params, raw_params), "", reads.setdefault(stage, set())))


def write_amazon_json(reviews: pd.DataFrame, path: Path) -> None:
    """McAuley 5-core lines made from Yelp-schema rows."""
    seconds = pd.to_datetime(reviews["date"]).astype("int64") // 10**9
    with path.open("w") as handle:
        for row, unix_time in zip(reviews.itertuples(), seconds):
            record = {"reviewerID": row.user_id, "asin": row.business_id, "overall": float(row.stars),
                      "reviewText": row.text, "unixReviewTime": int(unix_time)}
            handle.write(json.dumps(record) + "\n")


def test_every_stage_reads_exactly_the_params_it_declares(tmp_path, monkeypatch):
    params = tiny_params()
    workspace = make_workspace(tmp_path / "repo", params)
    monkeypatch.chdir(workspace)
    reads: dict[str, set[str]] = {}

    # ingest reads different keys per source: run it on Yelp and Amazon files too (made from the demo)
    dataset = generate_demo(build(Params, params).demo)
    review_file, business_file = write_yelp_json(dataset, tmp_path)
    yelp = yaml.safe_load(yaml.safe_dump(params))
    set_dotted(yelp, "data.source", "yelp")
    set_dotted(yelp, "data.yelp", {"reviews": str(review_file), "businesses": str(business_file)})
    run_recorded("ingest", yelp, reads)
    amazon_file = tmp_path / "amazon.json"
    write_amazon_json(pd.read_parquet("data/ingest/reviews.parquet"), amazon_file)
    amazon = yaml.safe_load(yaml.safe_dump(params))
    set_dotted(amazon, "data.source", "amazon")
    set_dotted(amazon, "data.amazon", {"reviews": str(amazon_file), "metadata": None})
    run_recorded("ingest", amazon, reads)

    for stage in DVC_STAGES:  # in pipeline order, on the demo
        run_recorded(stage, params, reads)

    for stage in DVC_STAGES:
        assert reads[stage] == declared_leaves(stage), (
            f"stage {stage}: reads but does not declare {sorted(reads[stage] - declared_leaves(stage))}; "
            f"declares but never reads {sorted(declared_leaves(stage) - reads[stage])}"
        )

"""Each stage declares in dvc.yaml exactly the params its code reads.

DVC reruns a stage only when a declared param changes, so an undeclared read is a silent stale result and an
unused declaration is a needless rerun. Every stage runs here on a tiny demo with its params wrapped in a recorder.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import yaml

from sasnet.config import build, leaf_paths
from sasnet.data.demo import generate_demo, write_yelp_json
from sasnet.embeddings.configs import QuantizeConfig
from sasnet.params import Params
from workspace import expand_stages, make_workspace, set_dotted, stage_module, tiny_params

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


def declared_leaves(entries: list[str]) -> set[str]:
    """The schema leaves the entries cover; an entry inside a mapping-valued leaf counts as that leaf."""
    return {
        leaf
        for leaf in leaf_paths(Params)
        for entry in entries
        if leaf == entry or leaf.startswith(entry + ".") or entry.startswith(leaf + ".")
    }


def run_recorded(stage: tuple, raw_params: dict, reads: dict[str, set[str]]) -> None:
    name, script, _, arguments = stage
    stage_module(script).run(Recorder(build(Params, raw_params), "", reads.setdefault(name, set())), *arguments)


def write_amazon_json(reviews: pd.DataFrame, path: Path) -> None:
    """McAuley 5-core lines made from Yelp-schema rows."""
    seconds = pd.to_datetime(reviews["date"]).astype("int64") // 10**9
    with path.open("w") as handle:
        for row, unix_time in zip(reviews.itertuples(), seconds):
            record = {"reviewerID": row.user_id, "asin": row.business_id, "overall": float(row.stars),
                      "reviewText": row.text, "unixReviewTime": int(unix_time)}
            handle.write(json.dumps(record) + "\n")


def test_every_stage_reads_exactly_the_params_it_declares(tmp_path, monkeypatch, tiny_llm_dir):
    params = tiny_params(tiny_llm_dir)
    workspace = make_workspace(tmp_path / "repo", params)
    monkeypatch.chdir(workspace)
    reads: dict[str, set[str]] = {}

    stages = expand_stages(params)
    ingest = next(stage for stage in stages if stage[0] == "ingest")

    # ingest reads different keys per source: run it on Yelp and Amazon files too (made from the demo)
    dataset = generate_demo(build(Params, params).demo)
    review_file, business_file = write_yelp_json(dataset, tmp_path)
    yelp = yaml.safe_load(yaml.safe_dump(params))
    set_dotted(yelp, "data.source", "yelp")
    set_dotted(yelp, "data.yelp", {"reviews": str(review_file), "businesses": str(business_file)})
    run_recorded(ingest, yelp, reads)
    amazon_file = tmp_path / "amazon.json"
    write_amazon_json(pd.read_parquet("data/ingest/reviews.parquet"), amazon_file)
    amazon = yaml.safe_load(yaml.safe_dump(params))
    set_dotted(amazon, "data.source", "amazon")
    set_dotted(amazon, "data.amazon", {"reviews": str(amazon_file), "metadata": None})
    run_recorded(ingest, amazon, reads)
    dataset.reviews[["user_id", "business_id", "stars", "date"]].to_parquet(tmp_path / "ratings.parquet")
    dataset.businesses[["business_id", "name", "categories"]].to_parquet(tmp_path / "items.parquet")
    ratings = yaml.safe_load(yaml.safe_dump(params))
    set_dotted(ratings, "data.source", "ratings")
    set_dotted(ratings, "data.ratings", {
        "ratings": str(tmp_path / "ratings.parquet"), "items": str(tmp_path / "items.parquet"),
        "user_column": "user_id", "item_column": "business_id", "rating_column": "stars", "date_column": "date",
        "timestamp_column": None, "item_name_column": "name", "item_categories_column": "categories"})
    run_recorded(ingest, ratings, reads)

    for stage in stages:  # in pipeline order, on the demo
        run_recorded(stage, params, reads)

    # quantize with gptq needs the optional GPT-QModel: a stand-in reads the config it is handed, as the real one does
    def read_every_field(source, gguf_file, texts, out_dir, config, device, trust_remote_code):
        for field in dataclasses.fields(QuantizeConfig):
            getattr(config, field.name)
        return {}

    monkeypatch.setattr("sasnet.embeddings.quantize.quantize_gptq", read_every_field)
    gptq = yaml.safe_load(yaml.safe_dump(params))
    set_dotted(gptq, "embed.llm.quantize", "gptq")
    run_recorded(next(stage for stage in stages if stage[0] == "quantize"), gptq, reads)

    for name, _, entries, _ in stages:
        declared = declared_leaves(entries)
        assert reads[name] == declared, (
            f"stage {name}: reads but does not declare {sorted(reads[name] - declared)}; "
            f"declares but never reads {sorted(declared - reads[name])}"
        )

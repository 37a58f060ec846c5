"""Each stage declares in dvc.yaml exactly the params its code reads.

DVC reruns a stage only when a declared param changes, so an undeclared read is a silent stale result and an
unused declaration is a needless rerun. Every stage of the session's pinned tiny pipeline (conftest's
``tiny_pipeline``) ran with its params wrapped in a recorder; ingest also runs here on Yelp, Amazon and ratings files,
and quantize with gptq, each in a folder of its own.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pandas as pd
import yaml

from sasnet.config import build, leaf_paths
from sasnet.data.demo import generate_demo, write_yelp_json
from sasnet.embeddings.configs import QuantizeConfig
from sasnet.inputs import input_kind
from sasnet.models import family
from sasnet.params import Params
from workspace import Recorder, expand_stages, set_dotted, stage_module


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


def test_every_stage_reads_exactly_the_params_it_declares(tmp_path, monkeypatch, tiny_pipeline):
    params = tiny_pipeline.raw
    reads = {stage: set(read) for stage, read in tiny_pipeline.reads.items()}  # the pipeline's run, on the demo
    stages = expand_stages(params)
    ingest = next(stage for stage in stages if stage[0] == "ingest")
    monkeypatch.chdir(tmp_path)  # the runs below write here, not in the session's workspace

    # ingest reads different keys per source: run it on Yelp and Amazon files too (made from the demo)
    dataset = generate_demo(build(Params, params).demo)
    review_file, business_file = write_yelp_json(dataset, tmp_path)
    yelp = yaml.safe_load(yaml.safe_dump(params))
    set_dotted(yelp, "data.source", "yelp")
    set_dotted(yelp, "data.yelp", {"reviews": str(review_file), "businesses": str(business_file)})
    run_recorded(ingest, yelp, reads)
    amazon_file = tmp_path / "amazon.json"
    write_amazon_json(pd.read_parquet(tiny_pipeline.snapshot / "data/ingest/reviews.parquet"), amazon_file)
    amazon = yaml.safe_load(yaml.safe_dump(params))
    set_dotted(amazon, "data.source", "amazon")
    set_dotted(amazon, "data.amazon", {"reviews": str(amazon_file), "metadata": None})
    run_recorded(ingest, amazon, reads)
    dataset.reviews[["user_id", "business_id", "stars", "date"]].to_parquet(tmp_path / "ratings.parquet")
    dataset.businesses[["business_id", "name", "categories"]].to_parquet(tmp_path / "items.parquet")
    ratings = yaml.safe_load(yaml.safe_dump(params))
    set_dotted(ratings, "data.source", "ratings")
    for section in ("models", "rankers"):  # a source without review text takes only the entries that read none
        ratings[section] = {name: entry for name, entry in ratings[section].items()
                            if not input_kind(family(entry["family"])).reads_text}
    set_dotted(ratings, "data.ratings", {
        "ratings": str(tmp_path / "ratings.parquet"), "items": str(tmp_path / "items.parquet"),
        "user_column": "user_id", "item_column": "business_id", "rating_column": "stars", "date_column": "date",
        "timestamp_column": None, "item_name_column": "name", "item_categories_column": "categories"})
    run_recorded(ingest, ratings, reads)

    # quantize with gptq needs the optional GPT-QModel: a stand-in reads the config it is handed, as the real one does
    def read_every_field(source, gguf_file, texts, out_dir, config, device, trust_remote_code):
        for field in dataclasses.fields(QuantizeConfig):
            getattr(config, field.name)
        return {}

    monkeypatch.setattr("sasnet.embeddings.quantize.quantize_gptq", read_every_field)
    shutil.copytree(tiny_pipeline.snapshot / "data/split", tmp_path / "data/split")  # its calibration reviews
    gptq = yaml.safe_load(yaml.safe_dump(params))
    set_dotted(gptq, "embed.llm.quantize", "gptq")
    run_recorded(next(stage for stage in stages if stage[0] == "quantize"), gptq, reads)

    for name, _, entries, _ in stages:
        declared = declared_leaves(entries)
        assert reads[name] == declared, (
            f"stage {name}: reads but does not declare {sorted(reads[name] - declared)}; "
            f"declares but never reads {sorted(declared - reads[name])}"
        )

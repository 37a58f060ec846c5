"""DVC stage `ingest`: the raw reviews (built-in demo, Yelp or Amazon files, or a ratings table without text) to
clean parquet plus a quarantine."""

import shutil
import tempfile
from pathlib import Path

from sasnet import paths
from sasnet.data.demo import demo_oracle, generate_demo, write_yelp_json
from sasnet.data.ingest import ingest_amazon, ingest_ratings, ingest_yelp
from sasnet.io import write_json, write_parquet
from sasnet.params import Params
from sasnet.stage import run_stage, stage_seconds


def run(params: Params) -> None:
    # Each file is written atomically; the folder is cleared first so no file of an earlier source lingers.
    out_dir = paths.INGEST_DIR
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    source = params.data.source
    if source == "demo":
        dataset = generate_demo(params.demo)
        with tempfile.TemporaryDirectory() as raw_dir:  # the demo goes through the real Yelp parser
            review_file, business_file = write_yelp_json(dataset, Path(raw_dir))
            metrics = ingest_yelp(review_file, business_file, out_dir, params.ingest)
        for report in metrics["files"].values():  # the temporary folder's name would change on every run
            report["path"] = f"<generated demo>/{Path(report['path']).name}"
        write_parquet(dataset.truth, paths.DEMO_TRUTH)
        oracle = {"available": True, **demo_oracle(dataset, params.split.bins)}
    else:
        if source == "yelp":
            files = params.data.yelp
            metrics = ingest_yelp(Path(files.reviews), Path(files.businesses), out_dir, params.ingest)
        elif source == "amazon":
            files = params.data.amazon
            metadata = Path(files.metadata) if files.metadata else None
            metrics = ingest_amazon(Path(files.reviews), metadata, out_dir, params.ingest)
        else:
            metrics = ingest_ratings(params.data.ratings, out_dir, params.ingest)
        oracle = {"available": False, "reason": f"data.source is {source}: real data has no latent truth"}
    write_json(oracle, paths.METRICS / "demo_oracle.json")
    write_json(metrics | {"stage_seconds": stage_seconds()}, paths.METRICS / "ingest.json")


if __name__ == "__main__":
    run_stage(run)

"""DVC stage `quantize`: 4-bit GPTQ of the LLM, calibrated on train reviews, when embed.llm.quantize is gptq."""

import shutil

import pandas as pd

from sasnet import paths
from sasnet.io import write_json
from sasnet.params import Params
from sasnet.stage import run_stage, stage_seconds


def run(params: Params) -> None:
    llm = params.embed.llm
    shutil.rmtree(paths.QUANTIZE_DIR, ignore_errors=True)
    paths.QUANTIZE_DIR.mkdir(parents=True)
    if llm.quantize == "none":
        # The embed stages depend on this folder; a fixed marker keeps them cached while quantisation is off.
        (paths.QUANTIZE_DIR / "NOT_QUANTIZED").write_text("embed.llm.quantize is none: the float model is used\n")
        write_json({"method": "none", "stage_seconds": stage_seconds()}, paths.METRICS / "quantize.json")
        return
    # Imported only when quantising: torch and transformers take several seconds to import, most of this stage's
    # time when it only writes the marker.
    from sasnet.embeddings.llm import resolve_model
    from sasnet.embeddings.quantize import quantize_gptq

    source, gguf_file = resolve_model(llm.model, llm.gguf_file)
    texts = pd.read_parquet(paths.split_file("train"), columns=["text"])["text"].tolist()
    stats = quantize_gptq(source, gguf_file, texts, paths.QUANTIZED_MODEL, params.quantize, llm.device,
                          trust_remote_code=llm.trust_remote_code)
    write_json({"method": "gptq", **stats, "stage_seconds": stage_seconds()}, paths.METRICS / "quantize.json")


if __name__ == "__main__":
    run_stage(run)

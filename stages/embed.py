"""DVC stage `embed@<name>`: one encoder run (embed.encoders.<name>) over every split review.

Writes data/embed/<name>/ (the row index and one matrix per pooling) and metrics/embed/<name>.json.
"""

from sasnet import paths
from sasnet.embeddings import store
from sasnet.embeddings.llm import embed_reviews
from sasnet.embeddings.minilm import minilm_embed
from sasnet.embeddings.tfidf import tfidf_embed
from sasnet.io import atomic_dir, write_json
from sasnet.data.configs import require_text
from sasnet.params import Params
from sasnet.stage import run_stage, stage_seconds


def run(params: Params, name: str) -> None:
    require_text(params.data.source, "no embedding can be computed")
    entry = params.embed.encoders[name]
    reviews = store.canonical_reviews()
    texts = reviews["text"].tolist()
    with atomic_dir(paths.embedding_dir(name)) as out_dir:
        if entry.encoder == "tfidf":
            matrix, stats = tfidf_embed(texts, (reviews["split"] == "train").to_numpy(), params.embed.tfidf)
            store.write_sparse(out_dir, "tfidf", matrix)
        elif entry.encoder == "minilm":
            matrix, stats = minilm_embed(texts, params.embed.minilm)
            store.write_dense(out_dir, "mean", matrix)
        else:
            config = params.embed.llm
            model_path = str(paths.QUANTIZED_MODEL) if config.quantize == "gptq" else None
            poolings, stats = embed_reviews(texts, config, entry.mode, paths.LLM_SHARDS, model_path=model_path)
            for pooling, matrix in poolings.items():
                store.write_dense(out_dir, pooling, matrix)
        store.write_row_index(out_dir, reviews)
    write_json({"encoder": entry.encoder, "mode": entry.mode, **stats, "stage_seconds": stage_seconds()},
               paths.embed_metrics(name))


if __name__ == "__main__":
    run_stage(run)

"""DVC stage `normalize`: z-score every dense embedding per dimension, statistics from normalize.fit_on.

TF-IDF stays sparse and unchanged: its rows are already L2-normalised, and a z-score would densify it.
"""

import shutil

from sasnet import paths
from sasnet.embeddings import store
from sasnet.embeddings.normalize import zscore
from sasnet.io import atomic_dir, write_json
from sasnet.params import Params
from sasnet.stage import run_stage, stage_seconds


def run(params: Params) -> None:
    metrics = {}
    with atomic_dir(paths.NORMALIZED_DIR) as out_root:
        for name in params.embed.encoders:
            source, target = paths.embedding_dir(name), out_root / name
            target.mkdir()
            splits = store.read_row_index(source)["split"].to_numpy()
            for pooling, kind in store.poolings_in(source).items():
                if kind == "sparse":
                    shutil.copy2(source / f"{pooling}.npz", target / f"{pooling}.npz")
                    continue
                normalized, metrics[f"{name}/{pooling}"] = zscore(
                    store.read_dense(source, pooling), splits, params.normalize
                )
                store.write_dense(target, pooling, normalized)
            shutil.copy2(source / store.ROW_INDEX, target / store.ROW_INDEX)
    write_json(metrics | {"stage_seconds": stage_seconds()}, paths.METRICS / "normalize.json")


if __name__ == "__main__":
    run_stage(run)

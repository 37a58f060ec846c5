"""DVC stage `svm@<name>`: the paper's SVM baseline on one embedding (svm.inputs.<name>), scored on valid and test.

Features: the mean of the user's other reviews and of the business's other train reviews (SPEC §2.1-2.2).
Writes data/models/svm_<name>/model.joblib, data/predictions/svm_<name>.parquet and metrics/models/svm_<name>.json.
"""

import time

import joblib

from sasnet import paths
from sasnet.baselines import converged, train_svm, training_subset
from sasnet.evaluation import EVALUATED_SPLITS, load_model_data, score_model, write_predictions
from sasnet.io import atomic_dir, write_json
from sasnet.params import Params
from sasnet.stage import run_stage


def run(params: Params, name: str) -> None:
    config = params.svm
    model_input = config.inputs[name]
    model_name = paths.model_name("svm", name)
    data = load_model_data(model_input)
    histories = data.histories
    train_rows = histories.rows_of("train")

    start = time.perf_counter()
    model = train_svm(histories.mean_features(data.matrix, train_rows), data.labels[train_rows], config)
    fit_seconds = time.perf_counter() - start
    predicted = {
        split: model.predict(histories.mean_features(data.matrix, histories.rows_of(split)))
        for split in EVALUATED_SPLITS
    }

    with atomic_dir(paths.model_dir(model_name)) as out_dir:
        joblib.dump(model, out_dir / "model.joblib")
    write_predictions(model_name, data, predicted)
    metrics = {
        "model": model_name,
        "family": "svm",
        "embedding": model_input.embedding,
        "pooling": model_input.pooling,
        **score_model(data, predicted, list(params.split.bins), params.evaluation),
        "svm": {
            "kernel": config.kernel,
            "train_reviews": len(training_subset(len(train_rows), config)),
            "features": 2 * data.matrix.shape[1],
            "converged": converged(model, config),
            "fit_seconds": fit_seconds,
            "pools": histories.pool_statistics(set_size=1),
        },
    }
    write_json(metrics, paths.model_metrics(model_name))
    if not metrics["svm"]["converged"]:
        print(f"warning: {model_name} reached svm.max_iter={config.max_iter} without converging")


if __name__ == "__main__":
    run_stage(run)

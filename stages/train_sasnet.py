"""DVC stage `train_sasnet@<name>`: SASNet on one embedding (train_sasnet.inputs.<name>), scored on valid and test.

Writes data/models/sasnet_<name>/ (model.safetensors, model.json, input.json), the DVCLive curves in
dvclive/sasnet_<name>/, plots/sasnet_<name>_training.png, data/predictions/sasnet_<name>.parquet and
metrics/models/sasnet_<name>.json.
"""

import dataclasses

import scipy.sparse as sp
from dvclive import Live
from scmrepo.exceptions import SCMError as GitSCMError

from sasnet import paths
from sasnet.errors import PipelineError
from sasnet.evaluation import EVALUATED_SPLITS, load_model_data, score_model, write_predictions
from sasnet.io import atomic_dir, write_json
from sasnet.models.review_sets import fit, split_probabilities
from sasnet.models.training import LiveLogger
from sasnet.params import Params, sasnet_config
from sasnet.plots import training_curves
from sasnet.stage import run_stage


def open_live(folder) -> Live:
    """DVCLive writing curves only; inside a git repository it reads HEAD, which a repository without commits lacks."""
    try:
        return Live(dir=str(folder), save_dvc_exp=False, dvcyaml=None)
    except GitSCMError as error:
        raise PipelineError(
            f"DVCLive could not read the git repository ({error}): commit once (`git add -A && git commit`), then rerun"
        ) from None


def run(params: Params, name: str) -> None:
    section = params.train_sasnet
    config = sasnet_config(section)
    model_input = section.inputs[name]
    model_name = paths.model_name("sasnet", name)
    class_names = list(params.split.bins)
    data = load_model_data(model_input)
    if sp.issparse(data.matrix):
        raise PipelineError(
            f"train_sasnet.inputs.{name}: SASNet needs a dense embedding, and {model_input.embedding!r} "
            f"/ {model_input.pooling!r} is sparse (TF-IDF): pick a MiniLM or LLM embedding"
        )
    histories = data.histories

    with atomic_dir(paths.model_dir(model_name)) as out_dir:
        with open_live(paths.live_dir(model_name)) as live:
            result = fit(config, data, class_names, out_dir / "model.safetensors", on_epoch=LiveLogger(live))
            live.summary["best"] = {"epoch": result.best_epoch, "valid": dataclasses.asdict(result.best_valid)}
        write_json({"embedding": model_input.embedding, "pooling": model_input.pooling}, out_dir / "input.json")

    # Final scores see fresh draws from their own stream, eval_draws of them averaged as in validation.
    probabilities = {split: split_probabilities(result.model, data, config, split) for split in EVALUATED_SPLITS}
    predicted = {split: probability.argmax(axis=1) for split, probability in probabilities.items()}
    write_predictions(model_name, data, predicted, probabilities, class_names)

    training_curves(result.curves(), result.best_epoch, f"SASNet on {model_input.embedding}/{model_input.pooling}",
                    paths.PLOTS / f"{model_name}_training.png")
    write_json(
        {
            "model": model_name,
            "family": "sasnet",
            "embedding": model_input.embedding,
            "pooling": model_input.pooling,
            **score_model(data, predicted, class_names, params.evaluation),
            "training": {**result.summary(), "input_dim": int(data.matrix.shape[1]),
                         "pools": histories.pool_statistics(config.sample_size)},
        },
        paths.model_metrics(model_name),
    )


if __name__ == "__main__":
    run_stage(run)

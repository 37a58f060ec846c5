"""DVC stage `train@<model>`: fit one model of params.yaml's `models` map, then score it on valid and test.

Every family goes through here alike: fit on train (valid for early stopping or selection), class probabilities for
every valid and test review (each left out of its own histories), scores with intervals. Writes
data/models/<model>/ (model.safetensors, model.json), data/predictions/<model>.parquet,
metrics/models/<model>.json and plots/models/<model>.csv (valid scores by epoch; one row for a one-shot fit).
"""

import pandas as pd

from sasnet import paths
from sasnet.evaluation import EVALUATED_SPLITS, score_model, write_predictions
from sasnet.io import atomic_dir, write_csv, write_json
from sasnet.model_data import load_model_data
from sasnet.models import recommender_class
from sasnet.params import Params, model_config
from sasnet.stage import run_stage, stage_seconds


def run(params: Params, name: str) -> None:
    entry = params.models[name]
    class_names = list(params.split.bins)
    model = recommender_class(entry.family)(model_config(params, name), class_names)
    data = load_model_data(entry.embedding, entry.pooling, entry.reads_semantic_ids)

    fitted = model.fit(data)
    with atomic_dir(paths.model_dir(name)) as out_dir:
        model.save(out_dir, entry.describe())
    examples = {split: data.histories.examples(data.rows_of(split)) for split in EVALUATED_SPLITS}
    probabilities = {split: model.predict_proba(data, examples[split]) for split in EVALUATED_SPLITS}
    ratings = {split: model.predict_rating(data, examples[split]) for split in EVALUATED_SPLITS}
    write_predictions(name, data, probabilities, class_names)
    scores = score_model(data, probabilities, class_names, params.evaluation, params.item_slices,
                         None if ratings["valid"] is None else ratings)

    curves = fitted.curves
    if curves is None:  # a one-shot fit: its valid scores as the only epoch
        valid = {f"valid/{score}": [scores["valid"][score]] for score in ("accuracy", "macro_f1")}
        curves = pd.DataFrame(valid, index=pd.RangeIndex(1, 2, name="epoch"))
    write_csv(curves.reset_index(), paths.training_curves(name))
    write_json(
        {"model": name, **entry.describe(), **scores, "fit": fitted.facts,
         "stage_seconds": stage_seconds()},
        paths.model_metrics(name),
    )


if __name__ == "__main__":
    run_stage(run)

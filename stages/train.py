"""DVC stage `train@<model>`: fit one model of params.yaml's `models` map, then score it on valid and test.

Every family goes through ``sasnet.tasks.fit_and_score`` alike: fit on train (valid for early stopping or
selection), class probabilities for every valid and test review (each left out of its own histories), scores with
intervals. Writes data/models/<model>/ (model.safetensors, model.json), data/predictions/<model>.parquet,
metrics/models/<model>.json and plots/models/<model>.csv (valid scores by epoch; one row for a one-shot fit).
"""

from sasnet.params import Params
from sasnet.stage import run_stage
from sasnet.tasks import fit_and_score
from sasnet.tasks.classify import CLASSIFY


def run(params: Params, name: str) -> None:
    fit_and_score(CLASSIFY, params, name)


if __name__ == "__main__":
    run_stage(run)

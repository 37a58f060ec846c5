"""SASNet as a Recommender: sets drawn from the leakage-free histories, training, and evaluation draws.

Shared by the train stage, inference and the ablation benchmark, so that all train and score exactly alike.
An example's evaluation draws come from its own stream, seeded by (seed, user, business), so its score does not
depend on which other examples are scored with it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from sasnet.errors import PipelineError
from sasnet.histories import Examples, Histories
from sasnet.model_data import ModelData
from sasnet.models.base import FitResult, Recommender
from sasnet.models.sasnet.network import SASNet
from sasnet.models.sasnet.training import DrawSets, EntitySets, TrainingResult, predict_proba, train_sasnet


def set_sampler(histories: Histories, sample_size: int) -> DrawSets:
    def draw_sets(rows: np.ndarray, rng: np.random.Generator) -> EntitySets:
        return EntitySets(*histories.draw_sets(histories.examples(rows), sample_size, rng))

    return draw_sets


def example_draws(histories: Histories, examples: Examples, sample_size: int, draws: int, seed: int) -> list:
    """``draws`` set draws for every example, each example from its own (seed, user, business) stream."""
    per_example = []
    for k in range(len(examples)):
        one = Examples(*(np.asarray(part)[k : k + 1] for part in
                         (examples.users, examples.businesses, examples.user_own, examples.business_own,
                          examples.rows)))
        rng = np.random.default_rng([seed, int(one.users[0]), int(one.businesses[0])])
        per_example.append([histories.draw_sets(one, sample_size, rng) for _ in range(draws)])
    return [
        EntitySets(*(np.concatenate([example[d][part] for example in per_example]) for part in range(4)))
        for d in range(draws)
    ]


class SasnetRecommender(Recommender):
    network: SASNet

    def fit(self, data: ModelData, progress: bool = True) -> FitResult:
        if data.matrix is None or sp.issparse(data.matrix):
            raise PipelineError(
                "SASNet needs a dense review embedding (a MiniLM or LLM pooling), not "
                + ("none" if data.matrix is None else "a sparse TF-IDF matrix")
            )
        result: TrainingResult = train_sasnet(
            self.config,
            embeddings=data.matrix,
            labels=data.labels,
            train_rows=data.rows_of("train"),
            valid_rows=data.rows_of("valid"),
            stars=data.stars,
            draw_sets=set_sampler(data.histories, self.config.sample_size),
            class_names=self.class_names,
            progress=progress,
        )
        self.network = result.model
        facts = {**result.summary(), "input_dim": int(data.matrix.shape[1]),
                 "pools": data.histories.pool_statistics(self.config.sample_size)}
        return FitResult(facts, result.curves())

    def predict_proba(self, data: ModelData, examples: Examples) -> np.ndarray:
        config = self.config
        draws = example_draws(data.histories, examples, config.sample_size, config.eval_draws, config.seed)
        return predict_proba(self.network, data.matrix, data.stars, draws, config.batch_size)

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: value.detach().cpu().contiguous().numpy() for name, value in self.network.state_dict().items()}

    def state(self) -> dict:
        return {"input_dim": self.network.input_dim}

    def restore(self, arrays: dict[str, np.ndarray], state: dict, data: ModelData) -> None:
        self.network = SASNet(self.config, state["input_dim"], len(self.class_names))
        self.network.load_state_dict({name: torch.from_numpy(value) for name, value in arrays.items()})
        self.network.eval()

"""SASNet for both tasks: sets drawn from the leakage-free histories, training, and evaluation draws for the class
task; and a ranking of the whole catalogue by P(excellent). One network, one save and restore, one training.

Shared by the train stage, inference and the ablation benchmark, so that all train and score exactly alike.
An example's evaluation draws come from its own stream, seeded by (seed, user, business), so its score does not
depend on which other examples are scored with it.

On the ranking task it trains exactly as on the class task, on the leave-last-out split
(``RankingData.histories_before``): train interactions are the examples, each user's valid target its early-stopping example (valid macro-F1, SASNet's own
criterion: selecting by valid NDCG would score the whole catalogue every epoch). To rank, every user's set and
every item's set is encoded once per draw, and the cross-attention and classifier pair them (``SASNet.pair_logits``):
P(last class of split.bins) averaged over ``eval_draws`` draws, from the user's interactions before the target and
the items' train interactions, never a target's review. The z-scoring of ``normalized/<run>`` was fitted on the
class task's train users, whose reviews include some ranking targets: a label-free per-dimension affine map.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
import torch

from sasnet.device import peak_memory_mb
from sasnet.errors import PipelineError
from sasnet.histories import Examples, Histories
from sasnet.models.base import FitResult, Recommender, Validation
from sasnet.models.sasnet.network import SASNet
from sasnet.models.sasnet.training import (
    DrawSets,
    EntitySets,
    ReviewTable,
    TrainingResult,
    autocast,
    gather_members,
    predict_proba,
    review_table,
    train_sasnet,
)

if TYPE_CHECKING:  # each task's data, for the annotations only
    from sasnet.model_data import ModelData
    from sasnet.ranking.data import RankingData

PAIRS_PER_CHUNK = 16384  # (user, item) pairs through the cross-attention at once: ~0.3 GB at 256-d


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


def require_dense(matrix: np.ndarray | sp.spmatrix | None) -> np.ndarray:
    if matrix is None or sp.issparse(matrix):
        raise PipelineError(
            "SASNet needs a dense review embedding (a MiniLM or LLM pooling), not "
            + ("none" if matrix is None else "a sparse TF-IDF matrix")
        )
    return matrix


class SasnetRecommender(Recommender):
    """One network for both tasks: class probabilities of (user, business) examples, or P(best class) of every
    catalogue item for users (``grid_probabilities``)."""

    network: SASNet

    def _train(self, embeddings: np.ndarray, labels: np.ndarray, stars: np.ndarray, histories: Histories,
               progress: bool) -> TrainingResult:
        result = train_sasnet(
            self.config,
            embeddings=embeddings,
            labels=labels,
            train_rows=histories.rows_of("train"),
            valid_rows=histories.rows_of("valid"),
            stars=stars,
            draw_sets=set_sampler(histories, self.config.sample_size),
            class_names=self.class_names,
            progress=progress,
        )
        self.network = result.model
        return result

    def fit_classes(self, data: ModelData, progress: bool) -> FitResult:
        result = self._train(require_dense(data.matrix), data.labels, data.stars, data.histories, progress)
        facts = {**result.summary(), "input_dim": int(data.matrix.shape[1]),
                 "pools": data.histories.pool_statistics(self.config.sample_size)}
        return FitResult(facts, result.curves())

    def fit_ranking(self, data: RankingData, validation: Validation, progress: bool) -> FitResult:
        embeddings = require_dense(data.embedding)
        result = self._train(embeddings, data.labels, data.interactions["stars"].to_numpy(),
                             data.histories_before("valid"), progress)
        facts = {**result.summary(), "input_dim": int(embeddings.shape[1]), "selected_by": "valid macro-F1",
                 "peak_memory_mb": peak_memory_mb(next(self.network.parameters()).device)}
        return FitResult(facts)  # no per-epoch valid NDCG: the stage records the selected model's

    def predict_proba(self, data: ModelData, examples: Examples) -> np.ndarray:
        config = self.config
        draws = example_draws(data.histories, examples, config.sample_size, config.eval_draws, config.seed)
        return predict_proba(self.network, data.matrix, data.stars, draws, config.batch_size)

    def score(self, data: RankingData, split: str, users: np.ndarray) -> np.ndarray:
        """P(best class) of every (user, item), averaged over ``eval_draws`` set draws: a user's sets come from its
        own (seed, user) stream, the items' from one (seed) stream, so a user's scores do not depend on the batch."""
        config, users = self.config, np.asarray(users, dtype=np.int64)
        embeddings = require_dense(data.embedding)
        if embeddings.shape[1] != self.network.input_dim:
            raise PipelineError(f"the ranker reads {self.network.input_dim}-d embeddings, the data has "
                                f"{embeddings.shape[1]}-d: it was trained on another input (run `dvc repro`)")
        histories = data.histories_before(split)
        table = review_table(embeddings, data.interactions["stars"].to_numpy(), next(self.network.parameters()).device)
        item_rng = np.random.default_rng([config.seed, 0])
        user_rngs = [np.random.default_rng([config.seed, 1, user]) for user in users]
        total = np.zeros((len(users), data.n_items))
        for _ in range(config.eval_draws):
            item_sets = histories.whole_pool_sets("business", np.arange(data.n_items), config.sample_size, item_rng)
            user_sets = [histories.whole_pool_sets("user", [user], config.sample_size, rng)
                         for user, rng in zip(users, user_rngs)]
            user_rows, user_mask = (np.concatenate(part) for part in zip(*user_sets))
            total += grid_probabilities(self.network, table, (user_rows, user_mask), item_sets)[..., -1]
        return total / config.eval_draws

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: value.detach().cpu().contiguous().numpy() for name, value in self.network.state_dict().items()}

    def state(self) -> dict:
        return {"input_dim": self.network.input_dim}

    def restore(self, arrays: dict[str, np.ndarray], state: dict, data: ModelData | RankingData) -> None:
        self.network = SASNet(self.config, state["input_dim"], len(self.class_names))
        self.network.load_state_dict({name: torch.from_numpy(value) for name, value in arrays.items()})
        self.network.eval()


@torch.inference_mode()
def grid_probabilities(
    network: SASNet, table: ReviewTable, user_sets: tuple[np.ndarray, np.ndarray],
    item_sets: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    """[users, items, classes] class probabilities of every pair of the users' and the items' sets (rows, masks):
    each set goes through the core once (and an item's cross-attention keys are projected once), each pair through
    the cross-attention's query side and the classifier."""
    network.eval()
    with autocast(network):
        _, users = network.entity(*gather_members(table, *user_sets))
        item_members, items = network.entity(*gather_members(table, *item_sets))
        item_keys = network.business_keys(item_members)
        item_mask = torch.as_tensor(item_sets[1], device=items.device)
        n_items = len(items)
        chunk = max(1, PAIRS_PER_CHUNK // max(n_items, 1))
        blocks = []
        for start in range(0, len(users), chunk):
            user = users[start : start + chunk]
            pair_items = torch.arange(n_items, device=items.device).repeat(len(user))
            logits = network.pair_logits(
                user.repeat_interleave(n_items, dim=0), None if item_keys is None else item_keys[:, pair_items],
                item_mask[pair_items], items[pair_items],
            )
            blocks.append(torch.softmax(logits.float(), dim=1).view(len(user), n_items, -1))
        return torch.cat(blocks).cpu().numpy()

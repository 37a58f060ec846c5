"""cornac's SASRec, BERT4Rec and GRU4Rec fitted on each user's train sequence; every score is cornac's ``score``."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

import cornac
import numpy as np
import torch
from cornac.data import SequentialDataset
from cornac.models import BERT4Rec, GRU4Rec, SASRec
from cornac.models.recommender import NextItemRecommender

from sasnet.device import resolve_device
from sasnet.errors import PipelineError
from sasnet.models.base import FitResult, Recommender, Validation
from sasnet.ranking.data import RankingData

WEIGHTS = "module."  # prefix of the torch module's state_dict entries among the saved arrays


def session_rows(data: RankingData, parts: tuple[str, ...]) -> list[tuple[int, int, int, int]]:
    """cornac's USIT rows (user, session, item, timestamp): a user's interactions of ``parts`` are one session.

    cornac takes the row order as the sequence; the position (time order, same-moment ties already broken by the
    split) is the timestamp, which it only checks for never decreasing within a session."""
    rows = data.interactions[data.interactions["split"].isin(parts)]
    users = rows["user"].tolist()
    return list(zip(users, users, rows["item"].tolist(), rows["position"].tolist()))


def train_set(data: RankingData, seed: int) -> SequentialDataset:
    """The train sessions; cornac numbers items in order of first appearance, its raw ids being our indices."""
    return SequentialDataset.build(session_rows(data, ("train",)), fmt="USIT", seed=seed)


def valid_set(data: RankingData, train: SequentialDataset, seed: int) -> SequentialDataset:
    """Each train session with the user's valid target appended, for cornac's model selection (it ranks a
    session's last item from the ones before it), in the train set's numbering. A user whose target cornac never
    saw is left out: cornac could not rank it."""
    targets = data.targets("valid")
    known = set(targets.loc[targets["item"].isin(list(train.iid_map)), "user"].tolist())
    rows = [row for row in session_rows(data, ("train", "valid")) if row[0] in known]
    return SequentialDataset.build(  # copies: build adds what it does not know to the maps it is given
        rows, fmt="USIT", global_uid_map=OrderedDict(train.uid_map), global_sid_map=OrderedDict(train.sid_map),
        global_iid_map=OrderedDict(train.iid_map), seed=seed,
    )


def item_order(train: SequentialDataset) -> np.ndarray:
    """Our item index of each of cornac's items (its iid_map's keys, in the order of its indices 0..n-1)."""
    return np.fromiter(train.iid_map, dtype=np.int64, count=len(train.iid_map))


def library_model(config: Any, epochs: int, progress: bool) -> NextItemRecommender:
    shared = dict(
        batch_size=config.batch_size, learning_rate=config.lr, n_sample=config.negatives,
        n_epochs=epochs, model_selection=config.selection, val_eval_every=config.val_every, val_k=config.val_k,
        val_metric="ndcg", device=resolve_device(config.device, "cornac_seq.device"), seed=config.seed, verbose=progress,
    )
    if config.model == "gru4rec":
        return GRU4Rec(layers=[config.hidden_dim], dropout_p_hidden=config.dropout, **shared)
    transformer = SASRec if config.model == "sasrec" else BERT4Rec
    return transformer(
        embedding_dim=config.hidden_dim, max_len=config.max_len, num_blocks=config.blocks,
        num_heads=config.heads, dropout=config.dropout, **shared,
    )


class CornacSequentialRanker(Recommender):
    library: NextItemRecommender  # the fitted cornac model; its torch module is ``library.model``
    items: np.ndarray  # cornac's item index -> our catalogue index

    def fit_ranking(self, data: RankingData, validation: Validation, progress: bool) -> FitResult:
        train = train_set(data, self.config.seed)
        valid = valid_set(data, train, self.config.seed) if self.config.selection == "best" else None
        torch.manual_seed(self.config.seed)  # GRU4Rec's dropout draws from torch, which it does not seed itself
        start = time.perf_counter()
        self.library = library_model(self.config, self.config.epochs, progress).fit(train, valid)
        seconds = time.perf_counter() - start
        self.items = item_order(train)
        return FitResult({
            "fit_seconds": seconds,
            "parameters": sum(parameter.numel() for parameter in self.library.model.parameters()),
            "epochs": self.config.epochs,
            "selection": self.config.selection,
            "train_sessions": len(train.sessions),
            "library_items": len(self.items),
            "unknown_items": data.n_items - len(self.items),  # no train interaction: they never rank
            "cornac_version": cornac.__version__,
        })

    def score(self, data: RankingData, split: str, users: np.ndarray) -> np.ndarray:
        cornac_index = np.full(data.n_items, -1)
        cornac_index[self.items] = np.arange(len(self.items))
        histories = data.sequences(split)
        scores = np.full((len(users), data.n_items), -np.inf)
        with torch.no_grad():  # GRU4Rec scores with autograd on
            for row, user in enumerate(users):
                history = cornac_index[histories[user]]
                # items cornac never saw are left out, as its own evaluation does (exclude_unknowns); the three
                # models are session-based: they read the history, not the user
                scores[row, self.items] = self.library.score(None, history_items=history[history >= 0].tolist())
        return scores

    def arrays(self) -> dict[str, np.ndarray]:
        weights = self.library.model.state_dict()
        return {"items": self.items} | {WEIGHTS + name: value.cpu().numpy() for name, value in weights.items()}

    def state(self) -> dict[str, Any]:
        return {"cornac_version": cornac.__version__}  # the module's layout is the library version's

    def restore(self, arrays: dict[str, np.ndarray], state: dict[str, Any], data: RankingData) -> None:
        if state["cornac_version"] != cornac.__version__:
            raise PipelineError(f"the model was trained with cornac {state['cornac_version']}, not the installed "
                                f"{cornac.__version__}: retrain it")
        train = train_set(data, self.config.seed)
        if not np.array_equal(item_order(train), arrays["items"]):
            raise PipelineError("the train interactions differ from the model's: cornac's items do not match")
        self.items = arrays["items"]
        # zero epochs: cornac builds its torch module for this train set, which the saved weights then fill
        self.library = self.untrained_library(train, arrays, state, data)
        weights = {name.removeprefix(WEIGHTS): torch.tensor(value) for name, value in arrays.items()
                   if name.startswith(WEIGHTS)}
        self.library.model.load_state_dict(weights)

    def untrained_library(self, train: SequentialDataset, arrays: dict[str, np.ndarray], state: dict[str, Any],
                          data: RankingData) -> NextItemRecommender:
        """The library's model fitted for zero epochs on ``train``: its torch module, for the saved weights."""
        return library_model(self.config, 0, progress=False).fit(train)

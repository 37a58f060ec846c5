"""Any trained model as a recommender: the class of a (user, business) pair, and a user's top-k businesses.

    python -m sasnet.inference --model NAME predict USER_ID BUSINESS_ID [BUSINESS_ID ...]
    python -m sasnet.inference --model NAME recommend USER_ID [--top-k 10] [--include-reviewed]
                                                      [--min-business-reviews 5]
    python -m sasnet.inference --ranker NAME recommend USER_ID [--top-k 10]

Run from the repository root after `dvc repro`: it reads data/models/<model>/ (any family), the input the model was
trained on and data/split, and refuses a model whose model.json fingerprint (``sasnet.fingerprint``) says it was
trained on other data. A pair the user has already reviewed is scored as evaluation scores it, that review left
out of both histories; any other pair sees all the user's reviews and the business's train reviews. Recommendations
rank businesses by the probability of the best class (the last of split.bins, which lists classes worst to best).

A ranker (``--ranker``, any entry of params.yaml's ``rankers``) reads only its saved folder data/rankers/<ranker>/,
data/rank_split and the embedding it was trained on, if any (refused alike when they are not what it was trained
on): it ranks every item the user has not interacted with, from the user's whole history, and prints the top-k with
their titles (names) and categories.

Arguments that leave nothing to rank (no business with that many train reviews, a user who has seen them all) or
that a ranker would ignore are refused with the reason, as unknown ids are.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from sasnet import fingerprint, paths
from sasnet.errors import PipelineError
from sasnet.inputs import TASKS, ModelInput, input_kind
from sasnet.model_data import ModelData, load_model_data
from sasnet.models import family
from sasnet.models.base import Recommender, load_model, read_info
from sasnet.params import load_params
from sasnet.ranking import metrics
from sasnet.ranking.data import RankingData, load_ranking_data

Data = TypeVar("Data", ModelData, RankingData)
MIN_BUSINESS_REVIEWS = 5  # recommend's default: SASNet's set size
PLURALS = {"user": "users", "business": "businesses"}


@dataclass
class TrainedModel:
    name: str
    model: Recommender
    data: ModelData

    @classmethod
    def load(cls, name: str) -> TrainedModel:
        folder = trained_folder(paths.model_dir(name), "model", "classify")
        model, data = load_saved(folder, load_model_data)
        return cls(name, model, data)

    def predict(self, user_id: str, business_ids: Sequence[str]) -> pd.DataFrame:
        """One row per business: the class probabilities, the predicted class and its train reviews."""
        if not business_ids:
            raise PipelineError("no business ids to score")
        histories = self.data.histories
        user = _group_of(histories.user_ids, [user_id], "user", "data/split")
        businesses = _group_of(histories.business_ids, business_ids, "business", "data/split")
        examples = histories.pair_examples(np.repeat(user, len(businesses)), businesses)
        probabilities = self.model.predict_proba(self.data, examples)
        class_names = self.model.class_names
        frame = pd.DataFrame({"business_id": list(business_ids)})
        for k, name in enumerate(class_names):
            frame[f"p_{name}"] = probabilities[:, k]
        frame["predicted"] = [class_names[k] for k in probabilities.argmax(axis=1)]
        frame["business_train_reviews"] = histories.businesses.group_size(businesses)
        return frame

    def recommend(
        self, user_id: str, top_k: int, include_reviewed: bool = False, min_business_reviews: int = 1
    ) -> pd.DataFrame:
        """The ``top_k`` businesses by P(best class), among those with at least ``min_business_reviews`` train
        reviews; ones the user reviewed only if asked."""
        if top_k < 1:
            raise PipelineError(f"--top-k must be >= 1 (got {top_k})")
        if min_business_reviews < 0:
            raise PipelineError(f"--min-business-reviews must be >= 0 (got {min_business_reviews})")
        histories = self.data.histories
        user = _group_of(histories.user_ids, [user_id], "user", "data/split")[0]
        sizes = histories.businesses.group_size(np.arange(len(histories.business_ids)))
        candidates = np.flatnonzero(sizes >= min_business_reviews)
        if not len(candidates):
            raise PipelineError(f"no business has {min_business_reviews} train reviews (the most any has is "
                                f"{sizes.max(initial=0)}): lower --min-business-reviews")
        if not include_reviewed:
            reviewed = histories.businesses.group[histories.users.group == user]
            candidates = np.setdiff1d(candidates, reviewed)
            if not len(candidates):
                raise PipelineError(f"user {user_id!r} has reviewed every business with at least "
                                    f"{min_business_reviews} train reviews: pass --include-reviewed or lower "
                                    "--min-business-reviews")
        scored = self.predict(user_id, histories.business_ids[candidates].tolist())
        best = f"p_{self.model.class_names[-1]}"
        ranked = scored.sort_values(best, ascending=False, kind="stable").head(top_k)
        return ranked.reset_index(drop=True).rename_axis("rank").rename(index=lambda rank: rank + 1)


def ranked_items(name: str, user_id: str, top_k: int) -> pd.DataFrame:
    """The ``top_k`` unseen items for what comes after the user's whole history, by the saved ranker ``name``."""
    if top_k < 1:
        raise PipelineError(f"--top-k must be >= 1 (got {top_k})")
    folder = trained_folder(paths.ranker_dir(name), "ranker", "rank")
    model, data = load_saved(folder, load_ranking_data)
    user = _group_of(pd.Index(data.users), [user_id], "user", "data/rank_split")
    scores = metrics.masked(model.score(data, "next", user), data.seen_matrix("next")[user])
    top = metrics.top_k(scores, top_k)[0]
    top = top[top >= 0]
    if not len(top):
        raise PipelineError(f"user {user_id!r} has interacted with every item of the catalogue: none is left to "
                            "recommend")
    table = data.items.iloc[top][["business_id", "name", "categories"]].assign(score=scores[0, top])
    return table.reset_index(drop=True).rename_axis("rank").rename(index=lambda rank: rank + 1)


def trained_folder(folder: Path, kind: str, task: str) -> Path:
    """``folder`` if it holds a trained model; else an error listing the trained ones and how to train this one."""
    if folder.is_dir():
        return folder
    section, stage = TASKS[task].section, TASKS[task].stage
    name = folder.name
    trained = sorted(path.name for path in folder.parent.iterdir() if path.is_dir()) if folder.parent.exists() else []
    how = (f"run `dvc repro {stage}@{name}`" if name in getattr(load_params(), section)
           else f"add {name!r} to params.yaml's `{section}` map, then run `dvc repro {stage}@{name}`")
    raise PipelineError(f"no trained {kind} {name!r} ({folder} is missing); trained {section}: "
                        f"{', '.join(trained) or 'none'}. To train it, {how}")


def load_saved(folder: Path, load_data: Callable[..., Data]) -> tuple[Recommender, Data]:
    """The model or ranker saved in ``folder`` and the data it reads (``load_data`` of its input), refused unless
    that data is what it was trained on."""
    info = read_info(folder)
    model_input = saved_input(info)
    try:
        data = load_data(model_input)
    except FileNotFoundError as error:  # the split files are read as they are; pyarrow names them only in its text
        raise PipelineError(f"an input of {folder} is missing ({error.filename or error}): run `dvc repro`") from None
    fingerprint.require_match(info, data, folder)
    return load_model(folder, data, info), data


def saved_input(info: dict) -> ModelInput:
    """What a saved model or ranker (its model.json ``info``) reads, as the data loaders take it."""
    model_input = info["input"]
    return input_kind(family(info["family"])).loader_input(model_input["input"], model_input.get("pooling"))


def _group_of(ids: pd.Index, wanted: Sequence[str], kind: str, source: str) -> np.ndarray:
    groups = ids.get_indexer(list(wanted))
    unknown = [value for value, group in zip(wanted, groups) if group < 0]
    if unknown:
        raise PipelineError(
            f"unknown {kind} id(s) {', '.join(map(repr, unknown))}: not among the {len(ids)} {PLURALS[kind]} of "
            f"{source} (e.g. {ids[0]!r}); only {PLURALS[kind]} of the sampled reviews can be scored"
        )
    return groups


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sasnet.inference", description=__doc__.split("\n\n")[0])
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument(
        "--model", default="sasnet_llm", help="a trained model under data/models, any family (default: %(default)s)"
    )
    chosen.add_argument("--ranker", help="a trained ranker under data/rankers (recommend only)")
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="class probabilities of (user, business) pairs")
    predict.add_argument("user_id")
    predict.add_argument("business_ids", nargs="+", metavar="business_id")
    recommend = commands.add_parser("recommend", help="a user's top-k businesses by P(best class)")
    recommend.add_argument("user_id")
    recommend.add_argument("--top-k", type=int, default=10)
    recommend.add_argument("--include-reviewed", action="store_true", help="also rank businesses the user reviewed")
    recommend.add_argument(
        "--min-business-reviews", type=int,
        help=f"train reviews a business needs to be ranked (default: {MIN_BUSINESS_REVIEWS}, SASNet's set size)",
    )
    args = parser.parse_args(argv)
    try:
        if args.ranker is not None:
            if args.command != "recommend":
                raise PipelineError("a ranker only recommends: use `--ranker NAME recommend USER_ID`")
            if args.include_reviewed or args.min_business_reviews is not None:
                raise PipelineError("--include-reviewed and --min-business-reviews are for --model: a ranker ranks "
                                    "every item the user has not interacted with")
            print(ranked_items(args.ranker, args.user_id, args.top_k).to_string(float_format=lambda v: f"{v:.3f}"))
            return 0
        trained = TrainedModel.load(args.model)
        if args.command == "predict":
            table = trained.predict(args.user_id, args.business_ids)
        else:
            min_reviews = args.min_business_reviews
            table = trained.recommend(args.user_id, args.top_k, args.include_reviewed,
                                      MIN_BUSINESS_REVIEWS if min_reviews is None else min_reviews)
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(table.to_string(float_format=lambda value: f"{value:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

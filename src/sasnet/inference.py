"""Any trained model as a recommender: the class of a (user, business) pair, and a user's top-k businesses.

    python -m sasnet.inference --model NAME predict USER_ID BUSINESS_ID [BUSINESS_ID ...]
    python -m sasnet.inference --model NAME recommend USER_ID [--top-k 10] [--include-reviewed]
    python -m sasnet.inference --ranker NAME recommend USER_ID [--top-k 10]

Run from the repository root after `dvc repro`: it reads data/models/<model>/ (any family), the input the model was
trained on and data/split. A pair the user has already reviewed is scored as evaluation scores it, that review left
out of both histories; any other pair sees all the user's reviews and the business's train reviews. Recommendations
rank businesses by the probability of the best class (the last of split.bins, which lists classes worst to best).

A ranker (``--ranker``, any entry of params.yaml's ``rankers``) reads only its saved folder data/rankers/<ranker>/,
data/rank_split and the embedding it was trained on, if any: it ranks every item the user has not interacted with, from the user's whole history, and
prints the top-k with their titles (names) and categories.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sasnet import paths
from sasnet.errors import PipelineError
from sasnet.model_data import ModelData, load_model_data
from sasnet.models.base import Recommender, load_model, read_info
from sasnet.params import SEMANTIC_IDS_INPUT
from sasnet.ranking import metrics
from sasnet.ranking.data import load_ranking_data


@dataclass
class TrainedModel:
    name: str
    model: Recommender
    data: ModelData

    @classmethod
    def load(cls, name: str) -> TrainedModel:
        folder = paths.model_dir(name)
        if not folder.is_dir():
            trained = sorted(path.name for path in paths.MODELS_DIR.iterdir()) if paths.MODELS_DIR.exists() else []
            raise PipelineError(
                f"no trained model {name!r} ({folder} is missing); trained models: "
                f"{', '.join(trained) or 'none (run `dvc repro`)'}"
            )
        data = load_model_data(*saved_input(folder))
        return cls(name, load_model(folder, data), data)

    def predict(self, user_id: str, business_ids: Sequence[str]) -> pd.DataFrame:
        """One row per business: the class probabilities, the predicted class and its train reviews."""
        histories = self.data.histories
        user = _group_of(histories.user_ids, [user_id], "user")
        businesses = _group_of(histories.business_ids, business_ids, "business")
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
        histories = self.data.histories
        user = _group_of(histories.user_ids, [user_id], "user")[0]
        sizes = histories.businesses.group_size(np.arange(len(histories.business_ids)))
        candidates = np.flatnonzero(sizes >= min_business_reviews)
        if not include_reviewed:
            reviewed = histories.businesses.group[histories.users.group == user]
            candidates = np.setdiff1d(candidates, reviewed)
        scored = self.predict(user_id, histories.business_ids[candidates].tolist())
        best = f"p_{self.model.class_names[-1]}"
        ranked = scored.sort_values(best, ascending=False, kind="stable").head(top_k)
        return ranked.reset_index(drop=True).rename_axis("rank").rename(index=lambda rank: rank + 1)


def ranked_items(name: str, user_id: str, top_k: int) -> pd.DataFrame:
    """The ``top_k`` unseen items for what comes after the user's whole history, by the saved ranker ``name``."""
    if top_k < 1:
        raise PipelineError(f"--top-k must be >= 1 (got {top_k})")
    folder = paths.ranker_dir(name)
    if not folder.is_dir():
        raise PipelineError(f"no trained ranker {name!r} ({folder} is missing): run `dvc repro rank@{name}`")
    data = load_ranking_data(*saved_input(folder))
    user = _group_of(pd.Index(data.users), [user_id], "user")
    model = load_model(folder, data)
    scores = metrics.masked(model.score(data, "next", user), data.seen_matrix("next")[user])
    top = metrics.top_k(scores, top_k)[0]
    top = top[top >= 0]
    table = data.items.iloc[top][["business_id", "name", "categories"]].assign(score=scores[0, top])
    return table.reset_index(drop=True).rename_axis("rank").rename(index=lambda rank: rank + 1)


def saved_input(folder: Path) -> tuple[str | None, str | None, bool]:
    """What a saved model or ranker reads, as the data loaders take it: the embed.encoders entry and pooling (or
    None, None) and whether it reads the semantic IDs."""
    model_input = read_info(folder)["input"]
    pooling = model_input.get("pooling")
    reads_semantic_ids = model_input["input"] == SEMANTIC_IDS_INPUT
    if pooling:
        return model_input["input"].removeprefix("normalized/"), pooling, reads_semantic_ids
    return None, None, reads_semantic_ids


def _group_of(ids: pd.Index, wanted: Sequence[str], kind: str) -> np.ndarray:
    groups = ids.get_indexer(list(wanted))
    unknown = [value for value, group in zip(wanted, groups) if group < 0]
    if unknown:
        raise PipelineError(
            f"unknown {kind} id(s) {', '.join(map(repr, unknown))}: not among the {len(ids)} {kind}s of data/split "
            f"(e.g. {ids[0]!r}); only {kind}s of the sampled reviews can be scored"
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
        "--min-business-reviews", type=int, default=5,
        help="train reviews a business needs to be ranked (default: %(default)s, SASNet's set size)",
    )
    args = parser.parse_args(argv)
    try:
        if args.ranker is not None:
            if args.command != "recommend":
                raise PipelineError("a ranker only recommends: use `--ranker NAME recommend USER_ID`")
            print(ranked_items(args.ranker, args.user_id, args.top_k).to_string(float_format=lambda v: f"{v:.3f}"))
            return 0
        trained = TrainedModel.load(args.model)
        if args.command == "predict":
            table = trained.predict(args.user_id, args.business_ids)
        else:
            table = trained.recommend(args.user_id, args.top_k, args.include_reviewed, args.min_business_reviews)
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(table.to_string(float_format=lambda value: f"{value:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

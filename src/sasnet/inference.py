"""A trained SASNet model as a recommender: the class of a (user, business) pair, and a user's top-k businesses.

    python -m sasnet.inference predict USER_ID BUSINESS_ID [BUSINESS_ID ...] [--model sasnet_llm]
    python -m sasnet.inference recommend USER_ID [--top-k 10] [--include-reviewed] [--model sasnet_llm]

Run from the repository root after `dvc repro`: it reads data/models/<model>/, the model's normalised embedding
and data/split. A pair's sets come from the user's reviews and the business's train reviews, drawn
``eval_draws`` times (the model's own setting) with the model's seed, so answers are reproducible; a pair the user
has already reviewed is scored as evaluation scores it, that review left out of both sets.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sasnet import paths
from sasnet.errors import PipelineError
from sasnet.evaluation import ModelData, load_model_data
from sasnet.models.sasnet import SASNet
from sasnet.models.training import EntitySets, checkpoint_info_path, load_checkpoint, predict_proba
from sasnet.params import ModelInput

CHECKPOINT = "model.safetensors"
PREFERRED_CLASS = "excellent"  # recommendations rank businesses by the predicted probability of this class


@dataclass
class Recommender:
    model: SASNet
    class_names: list[str]
    data: ModelData

    @classmethod
    def load(cls, model_name: str, device: str = "cpu") -> Recommender:
        folder = paths.model_dir(model_name)
        checkpoint = folder / CHECKPOINT
        if not checkpoint.exists():
            trained = (
                sorted(path.name for path in paths.MODELS_DIR.glob("sasnet_*")) if paths.MODELS_DIR.exists() else []
            )
            raise PipelineError(
                f"no trained model {model_name!r} ({checkpoint} is missing); trained SASNet models: "
                f"{', '.join(trained) or 'none (run `dvc repro`)'}"
            )
        info = json.loads(checkpoint_info_path(checkpoint).read_text())
        model_input = ModelInput(**json.loads((folder / "input.json").read_text()))
        return cls(load_checkpoint(checkpoint, device), info["class_names"], load_model_data(model_input))

    def predict(self, user_id: str, business_ids: Sequence[str]) -> pd.DataFrame:
        """One row per business: the class probabilities, the predicted class and how much history each side had."""
        histories = self.data.histories
        user = _group_of(histories.user_ids, [user_id], "user")
        businesses = _group_of(histories.business_ids, business_ids, "business")
        config = self.model.config

        def pair_draws(business: int) -> list[tuple[np.ndarray, ...]]:
            # Each pair has its own stream, so its score does not depend on which other pairs are asked about.
            rng = np.random.default_rng([config.seed, user[0], business])
            draw = histories.draw_pair_sets
            return [draw(user, [business], config.sample_size, rng) for _ in range(config.eval_draws)]

        per_pair = [pair_draws(business) for business in businesses]
        draws = [
            EntitySets(*(np.concatenate([pair[k][part] for pair in per_pair]) for part in range(4)))
            for k in range(config.eval_draws)
        ]
        probabilities = predict_proba(self.model, self.data.matrix, draws, config.batch_size)
        frame = pd.DataFrame({"business_id": list(business_ids)})
        for k, name in enumerate(self.class_names):
            frame[f"p_{name}"] = probabilities[:, k]
        frame["predicted"] = [self.class_names[k] for k in probabilities.argmax(axis=1)]
        frame["business_train_reviews"] = histories.businesses.group_size(businesses)
        return frame

    def recommend(
        self, user_id: str, top_k: int, include_reviewed: bool = False, min_business_reviews: int | None = None
    ) -> pd.DataFrame:
        """The ``top_k`` businesses ranked by P(excellent), among those with at least ``min_business_reviews`` train
        reviews (default: the set size, so no business is judged on a padded set); reviewed ones only if asked."""
        if top_k < 1:
            raise PipelineError(f"--top-k must be >= 1 (got {top_k})")
        minimum = self.model.config.sample_size if min_business_reviews is None else min_business_reviews
        histories = self.data.histories
        user = _group_of(histories.user_ids, [user_id], "user")[0]
        candidates = np.flatnonzero(histories.businesses.group_size(np.arange(len(histories.business_ids))) >= minimum)
        if not include_reviewed:
            reviewed = histories.businesses.group[histories.users.group == user]
            candidates = np.setdiff1d(candidates, reviewed)
        scored = self.predict(user_id, histories.business_ids[candidates].tolist())
        ranked = scored.sort_values(f"p_{PREFERRED_CLASS}", ascending=False, kind="stable").head(top_k)
        return ranked.reset_index(drop=True).rename_axis("rank").rename(index=lambda rank: rank + 1)


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
    parser.add_argument(
        "--model", default="sasnet_llm", help="a trained model under data/models (default: %(default)s)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="class probabilities of (user, business) pairs")
    predict.add_argument("user_id")
    predict.add_argument("business_ids", nargs="+", metavar="business_id")
    recommend = commands.add_parser("recommend", help="a user's top-k businesses by P(excellent)")
    recommend.add_argument("user_id")
    recommend.add_argument("--top-k", type=int, default=10)
    recommend.add_argument("--include-reviewed", action="store_true", help="also rank businesses the user reviewed")
    recommend.add_argument(
        "--min-business-reviews", type=int, default=None, help="train reviews a business needs (default: the set size)"
    )
    args = parser.parse_args(argv)
    try:
        recommender = Recommender.load(args.model)
        if args.command == "predict":
            table = recommender.predict(args.user_id, args.business_ids)
        else:
            table = recommender.recommend(args.user_id, args.top_k, args.include_reviewed, args.min_business_reviews)
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(table.to_string(float_format=lambda value: f"{value:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

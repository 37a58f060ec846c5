"""DVC stage `split`: stars to classes (split.bins) and a seeded 80/10/10 split by user."""

import pandas as pd

from sasnet import paths
from sasnet.classification import majority_class
from sasnet.data.splitting import bayes_oracle, class_counts, split_reviews
from sasnet.errors import PipelineError
from sasnet.io import write_csv, write_json, write_parquet
from sasnet.params import Params
from sasnet.plots import grouped_bars
from sasnet.stage import run_stage, stage_seconds


def run(params: Params) -> None:
    config = params.split
    splits = split_reviews(pd.read_parquet(paths.SAMPLED_REVIEWS), config)
    require_evaluated_size(splits, params.evaluation.min_examples)
    for name, frame in splits.items():
        write_parquet(frame, paths.split_file(name))

    class_names = list(config.bins)
    counts = class_counts(splits, class_names)
    counts["split_class"] = counts["split"] + " · " + counts["class"]  # one bar label for dvc plots
    majority_label = majority_class(splits["train"]["label"].to_numpy())
    metrics = {
        name: {
            "reviews": len(frame),
            "users": int(frame["user_id"].nunique()),
            "businesses": int(frame["business_id"].nunique()),
            "class_counts": dict(counts.loc[counts["split"] == name, ["class", "reviews"]].values.tolist()),
            "majority_class_accuracy": float((frame["label"] == majority_label).mean()),
        }
        for name, frame in splits.items()
    }
    metrics["majority_class"] = class_names[majority_label]
    if paths.DEMO_TRUTH.exists():  # demo data: the best any model can do on each split
        truth = pd.read_parquet(paths.DEMO_TRUTH)
        for name, frame in splits.items():
            metrics[name]["oracle"] = bayes_oracle(frame, truth, config.bins)

    write_json(metrics | {"stage_seconds": stage_seconds()}, paths.METRICS / "split.json")
    write_csv(counts, paths.PLOTS / "split_class_counts.csv")
    grouped_bars(counts, "split", "class", "reviews", "Reviews per class and split", paths.PLOTS / "split_class_counts.png")


def require_evaluated_size(splits: dict[str, pd.DataFrame], min_examples: int) -> None:
    """Refuse valid or test sets too small to score: a "95% interval" of [1.0, 1.0] on one review says nothing."""
    small = {name: len(splits[name]) for name in ("valid", "test") if len(splits[name]) < min_examples}
    if small:
        raise PipelineError(
            f"the split leaves {', '.join(f'{count} {name}' for name, count in small.items())} reviews, under "
            f"evaluation.min_examples ({min_examples}): sample more reviews (sample.*) or lower it knowingly")


if __name__ == "__main__":
    run_stage(run)

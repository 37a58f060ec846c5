"""What the histories alone reveal on the demo: a reference for the Bayes-optimal gap of every model.

Usage: python benchmarks/bench_history_reference.py   (after `dvc repro split` on the demo)

Fits a logistic regression on the *true star ratings* of each review's pools (the mean of the user's other
reviews and of the business's other train reviews, whole pools rather than 5-review sets) and prints its valid
and test accuracy beside the Bayes-optimal accuracy, which knows every latent. A model reading review text
through 5-review sets can hardly beat this reference; the gap between it and Bayes is what the data hides.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from sasnet import paths
from sasnet.data.splitting import bayes_oracle
from sasnet.embeddings.store import canonical_reviews
from sasnet.histories import Histories
from sasnet.params import load_params


def main() -> None:
    if not paths.DEMO_TRUTH.exists():
        raise SystemExit("skipped: no demo truth (data.source is not demo, or `dvc repro split` has not run)")
    params = load_params()
    reviews = canonical_reviews()
    histories = Histories.from_reviews(reviews)
    labels = reviews["label"].to_numpy()
    features = histories.mean_features(reviews[["stars"]].to_numpy(dtype=float), np.arange(len(reviews)))
    train = histories.rows_of("train")
    model = LogisticRegression(max_iter=3000).fit(features[train], labels[train])
    truth = pd.read_parquet(paths.DEMO_TRUTH)
    print("| split | reviews | star-history reference accuracy | Bayes-optimal accuracy (realised) |")
    print("| --- | ---: | ---: | ---: |")
    for split in ("valid", "test"):
        rows = histories.rows_of(split)
        reference = float(np.mean(model.predict(features[rows]) == labels[rows]))
        bayes = bayes_oracle(reviews.iloc[rows], truth, params.split.bins)["bayes_accuracy_realised"]
        print(f"| {split} | {len(rows)} | {reference:.3f} | {bayes:.3f} |")


if __name__ == "__main__":
    main()

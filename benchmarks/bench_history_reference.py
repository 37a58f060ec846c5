"""What the histories alone reveal on the demo: a reference for the Bayes-optimal gap of every model.

Usage: python benchmarks/bench_history_reference.py   (after `dvc repro split` on the demo)

Fits logistic regressions on what each review's pools reveal (the mean over the user's other reviews and over the
business's other train reviews, whole pools rather than 5-review sets) and prints their valid and test accuracy
beside the Bayes-optimal accuracy, which knows every latent:

- *stars*: the true star ratings of the pool reviews;
- *text signals*: the graded statements parsed exactly from the pool reviews' text (stated standards, aspect
  tones, verdict; `sasnet.data.demo_signals`).

The text-signal reference is what a perfect reader of the histories could reach with a linear rule: its gap to
Bayes is what the data hides, and a model's gap to it is what the model fails to read.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from sasnet import paths
from sasnet.data.demo_signals import signal_matrix
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
    signals = signal_matrix(reviews["text"])
    # Centred, so a pool without a statement (NaN, then 0) reads as average rather than as grade 0.
    signals = np.nan_to_num(signals - np.nanmean(signals, axis=0))
    train = histories.rows_of("train")
    predictors = {}
    for name, per_review in (("stars", reviews[["stars"]].to_numpy(dtype=float)), ("text signals", signals)):
        features = histories.mean_features(per_review, histories.examples(np.arange(len(reviews))))
        predictors[name] = (features, LogisticRegression(max_iter=3000).fit(features[train], labels[train]))
    truth = pd.read_parquet(paths.DEMO_TRUTH)
    print("| split | reviews | star-history reference | text-signal reference | Bayes-optimal (expected / realised) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for split in ("valid", "test"):
        rows = histories.rows_of(split)
        cells = [f"{np.mean(model.predict(features[rows]) == labels[rows]):.3f}"
                 for features, model in predictors.values()]
        bayes = bayes_oracle(reviews.iloc[rows], truth, params.split.bins)
        print(f"| {split} | {len(rows)} | " + " | ".join(cells)
              + f" | {bayes['bayes_accuracy_expected']:.3f} / {bayes['bayes_accuracy_realised']:.3f} |")


if __name__ == "__main__":
    from study_page import recording  # docs/studies/<driver>.md

    with recording(__file__):
        main()

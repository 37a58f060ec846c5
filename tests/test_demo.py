"""The demo generator: Yelp's schema and file format, realistic shape, and ratings that follow the latents."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from conftest import REPO_ROOT
from scipy import stats
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from sasnet.config import rule_problems
from sasnet.data import yelp_vocabulary as vocab
from sasnet.data.configs import DemoConfig
from sasnet.data.demo import BUSINESS_COLUMNS, REVIEW_COLUMNS, demo_oracle, generate_demo, write_yelp_json
from sasnet.data.demo_signals import SIGNAL_NAMES, ReviewSignals, review_signals, signal_matrix
from sasnet.params import load_params

TARGET_STAR_SHARES = (0.032, 0.076, 0.199, 0.398, 0.295)  # yelp-core40's histogram
BINS = {"bad": [1, 2, 3], "good": [4], "excellent": [5]}  # params.yaml's split.bins


def small_config(**overrides) -> DemoConfig:
    values = dict(
        seed=7, n_users=1500, n_businesses=300, user_reviews_median=6.0, user_reviews_log_sd=0.8,
        business_popularity_log_sd=1.1, category_choice_strength=1.0, quality_sd=0.6, harshness_sd=0.6,
        aspect_sd=0.8, aspect_taste_concentration=1.0, category_taste_sd=0.3, noise_sd=0.5, mention_tone_sd=0.3,
        verdict_tone_sd=0.5, disposition_rate=0.6, disposition_tone_sd=0.3, min_words=45, max_words=110,
        star_shares=TARGET_STAR_SHARES, first_year=2010,
        last_year=2021,
    )
    return DemoConfig(**{**values, **overrides})


@pytest.fixture(scope="module")
def demo():
    return generate_demo(small_config())


def class_labels(stars: pd.Series) -> np.ndarray:
    return np.select([stars <= 3, stars == 4], ["bad", "good"], "excellent")


def k_core(reviews: pd.DataFrame, min_user: int, min_business: int) -> pd.DataFrame:
    """Drop users and businesses below their minimum review counts until none is left to drop."""
    while True:
        keep = ((reviews.groupby("user_id")["user_id"].transform("size") >= min_user)
                & (reviews.groupby("business_id")["business_id"].transform("size") >= min_business))
        if keep.all():
            return reviews
        reviews = reviews[keep]


def test_review_schema_matches_yelp(demo):
    reviews = demo.reviews
    assert tuple(reviews.columns) == REVIEW_COLUMNS
    for column in ("review_id", "user_id", "business_id"):
        assert reviews[column].str.fullmatch(r"[A-Za-z0-9_-]{22}").all()
    assert reviews["review_id"].is_unique
    assert reviews["stars"].dtype == np.float64 and set(reviews["stars"]) == {1.0, 2.0, 3.0, 4.0, 5.0}
    for column in ("useful", "funny", "cool"):
        assert pd.api.types.is_integer_dtype(reviews[column]) and (reviews[column] >= 0).all()
    assert pd.to_datetime(reviews["date"], format="%Y-%m-%d %H:%M:%S").notna().all()


def test_business_schema_matches_yelp(demo):
    businesses = demo.businesses
    assert tuple(businesses.columns) == BUSINESS_COLUMNS
    assert businesses["business_id"].is_unique
    assert set(demo.reviews["business_id"]) == set(businesses["business_id"])
    counts = demo.reviews["business_id"].value_counts()
    assert businesses.set_index("business_id")["review_count"].to_dict() == counts.to_dict()
    assert set(businesses["stars"] * 2) <= set(range(2, 11))  # half stars from 1 to 5
    assert set(businesses["is_open"]) <= {0, 1}
    for column in ("attributes", "hours"):
        assert all(value is None or isinstance(value, dict) for value in businesses[column])


def test_json_lines_round_trip_in_yelp_key_order(demo, tmp_path):
    review_path, business_path = write_yelp_json(demo, tmp_path)
    assert review_path.name == "yelp_academic_dataset_review.json"
    assert business_path.name == "yelp_academic_dataset_business.json"
    for path, frame, columns in ((review_path, demo.reviews, REVIEW_COLUMNS),
                                 (business_path, demo.businesses, BUSINESS_COLUMNS)):
        lines = path.read_text(encoding="utf-8").splitlines()
        assert len(lines) == len(frame)
        records = [json.loads(line) for line in lines]
        assert all(tuple(record) == columns for record in records)
        assert records == frame.to_dict(orient="records")
    first_review = json.loads(review_path.read_text().splitlines()[0])
    assert isinstance(first_review["stars"], float) and isinstance(first_review["useful"], int)


def test_same_seed_same_data_other_seed_other_data():
    first, again, other = (generate_demo(small_config(n_users=200, n_businesses=60, seed=s)) for s in (3, 3, 4))
    for name in ("reviews", "businesses", "truth"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(again, name))
    assert demo_oracle(first, BINS) == demo_oracle(again, BINS)
    assert not first.reviews["review_id"].isin(other.reviews["review_id"]).any()
    assert first.reviews["text"].iloc[0] != other.reviews["text"].iloc[0]


def test_star_histogram_matches_target(demo):
    shares = demo.reviews["stars"].value_counts(normalize=True).sort_index().to_numpy()
    assert np.abs(shares - np.array(TARGET_STAR_SHARES)).max() < 0.015


def test_review_counts_are_heavy_tailed(demo):
    for column in ("user_id", "business_id"):
        degree = demo.reviews[column].value_counts()
        assert degree.max() >= 8 * degree.median(), column


def test_no_duplicate_user_business_pairs(demo):
    assert not demo.reviews.duplicated(["user_id", "business_id"]).any()


def test_businesses_list_several_real_categories(demo):
    known = set(vocab.MAIN_CATEGORIES) | {sub for spec in vocab.MAIN_CATEGORIES.values() for sub in spec[3]}
    known |= {also for spec in vocab.MAIN_CATEGORIES.values() for also in spec[2]}
    listed = demo.businesses["categories"].str.split(", ")
    assert listed.map(lambda categories: set(categories) <= known).all()
    assert (listed.str.len() >= 2).all()
    assert listed.str.len().mean() > 2.5
    assert demo.businesses["categories"].str.contains("Restaurants").mean() > 0.15


def test_word_counts_in_range(demo):
    words = demo.reviews["text"].str.split().str.len()
    assert words.between(45, 110).all()
    assert words.std() > 8  # users write at different lengths


def test_no_single_word_gives_the_class_away(demo):
    labels = class_labels(demo.reviews["stars"])
    vectorizer = CountVectorizer(min_df=0.01, binary=True)
    present = vectorizer.fit_transform(demo.reviews["text"])
    per_class = np.stack([np.asarray(present[labels == c].sum(axis=0)).ravel()
                          for c in ("bad", "good", "excellent")])
    top_share = per_class.max(axis=0) / per_class.sum(axis=0)
    worst = vectorizer.get_feature_names_out()[top_share.argmax()]
    assert top_share.max() < 0.9, f"{worst!r} is {top_share.max():.2f} one class"


def test_text_predicts_the_class_better_than_majority(demo):
    labels = class_labels(demo.reviews["stars"])
    features = CountVectorizer(min_df=0.01, binary=True).fit_transform(demo.reviews["text"])
    n_train = len(labels) * 2 // 3
    model = LogisticRegression(max_iter=1000).fit(features[:n_train], labels[:n_train])
    accuracy = (model.predict(features[n_train:]) == labels[n_train:]).mean()
    assert accuracy > demo_oracle(demo, BINS)["majority_class_accuracy"] + 0.1


def test_star_probabilities_and_oracle_are_consistent(demo):
    probs = demo.truth[[f"p_star_{k}" for k in range(1, 6)]].to_numpy()
    assert (probs >= 0).all() and np.allclose(probs.sum(axis=1), 1)
    assert (demo.truth["review_id"] == demo.reviews["review_id"]).all()
    # The expected histogram is the calibration target; the realised one is a sample from it.
    assert np.allclose(probs.mean(axis=0), TARGET_STAR_SHARES, atol=1e-6)

    oracle = demo_oracle(demo, BINS)
    class_probs = np.stack([probs[:, :3].sum(axis=1), probs[:, 3], probs[:, 4]], axis=1)
    assert oracle["bayes_accuracy_expected"] == pytest.approx(class_probs.max(axis=1).mean())
    sampling_sd = np.sqrt(oracle["bayes_accuracy_expected"] * (1 - oracle["bayes_accuracy_expected"]) / len(probs))
    assert abs(oracle["bayes_accuracy_realised"] - oracle["bayes_accuracy_expected"]) < 4 * sampling_sd
    assert 0.65 < oracle["bayes_accuracy_expected"] < 0.85
    assert oracle["bayes_accuracy_expected"] > oracle["majority_class_accuracy"] + 0.2
    assert json.loads(json.dumps(oracle)) == oracle
    # another task, another oracle: two classes (<= 3 against >= 4) are easier to tell apart
    binary = demo_oracle(demo, {"low": [1, 2, 3], "high": [4, 5]})
    assert binary["bayes_accuracy_expected"] > oracle["bayes_accuracy_expected"]
    assert set(binary["class_shares"]) == {"low", "high"}


def test_stars_follow_the_latent_utility(demo):
    correlation = np.corrcoef(demo.truth["utility_mean"], demo.reviews["stars"])[0, 1]
    assert correlation > 0.7


def disposition_levels(texts: pd.Series) -> pd.Series:
    return pd.Series(signal_matrix(texts)[:, SIGNAL_NAMES.index("disposition")], index=texts.index)


def test_disposition_statements_follow_the_writers_harshness(demo):
    levels = disposition_levels(demo.reviews["text"])
    stated = levels.notna()
    assert abs(stated.mean() - 0.6) < 0.03  # disposition_rate
    harshness = demo.truth["user_harshness"][stated]
    assert stats.spearmanr(levels[stated], harshness).statistic > 0.85
    assert disposition_levels(generate_demo(small_config(disposition_rate=0.0)).reviews["text"]).isna().all()


def test_aspect_remarks_grade_quality_in_equal_shares(demo):
    tones = demo.reviews["text"].map(lambda text: review_signals(text).aspect_tones)
    shares = np.bincount(np.concatenate(tones.to_numpy()), minlength=6)[1:] / tones.str.len().sum()
    assert np.all((shares > 0.12) & (shares < 0.28)), shares  # five equally likely grades, not the star shares
    per_business = pd.DataFrame({"business_id": demo.reviews["business_id"], "quality": demo.truth["business_quality"],
                                 "tone_sum": tones.map(sum), "remarks": tones.str.len()}).groupby("business_id").agg(
        quality=("quality", "first"), tone_sum=("tone_sum", "sum"), remarks=("remarks", "sum"))
    per_business = per_business[per_business["remarks"] >= 20]
    quality, mean_tone = per_business["quality"], per_business["tone_sum"] / per_business["remarks"]
    assert stats.spearmanr(mean_tone, quality).statistic > 0.7
    # The best businesses stay distinguishable: star cut points would grade all of them "outstanding".
    top = quality >= quality.quantile(0.8)
    assert stats.spearmanr(mean_tone[top], quality[top]).statistic > 0.4


def test_check_reports_bad_fields():
    problems = rule_problems(dataclasses.replace(small_config(), noise_sd=0.0, star_shares=(0.5, 0.5), min_words=200))
    assert {message.split(":")[0] for message in problems} == {"noise_sd", "star_shares", "min_words"}
    with pytest.raises(ValueError, match="noise_sd"):
        generate_demo(dataclasses.replace(small_config(), noise_sd=0.0))


@pytest.mark.slow
def test_default_size_keeps_a_real_but_partial_10_20_core():
    params = load_params(REPO_ROOT / "params.yaml")
    reviews = generate_demo(params.demo).reviews
    core = k_core(reviews, params.filter.min_user_reviews, params.filter.min_business_reviews)
    # The filter removes a real share, and leaves the LP more users and businesses than its targets.
    assert len(core) < 0.6 * len(reviews)
    assert core["user_id"].nunique() >= 2 * params.sample.target_users
    assert core["business_id"].nunique() >= 2 * params.sample.target_businesses


def test_review_signals_read_the_graded_statements():
    text = ("Stopped by Lucky Diner last week. I am a tough critic and rarely give top marks. The staff was awful: "
            "rude. I thought the process was not great: the paperwork was a mess. Overall it was top notch!")
    assert review_signals(text) == ReviewSignals(disposition=5, aspect_tones=(1, 2), verdict=5)
    assert np.isnan(signal_matrix(["I went for lunch."])).all()

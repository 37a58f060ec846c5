"""The mf, bpr and hft families: cornac's fitted item side read faithfully, every user folded in from its user pool
without the target, class probabilities that beat the majority class, and a lossless save/load.

All run on one generated data set with a clear latent-factor signal: users review the businesses they like (so
who-reviews-what carries the signal BPR sees), stars follow the same affinity, and each review's words name its
business's cuisine and tone (HFT's text). Users are split 80/10/10, as the pipeline does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from sasnet.config import ParamsError, build
from sasnet.data.splitting import assign_users
from sasnet.histories import Histories
from sasnet.model_data import ModelData
from sasnet.models import FAMILIES, family, model_class
from sasnet.models.base import load_model

CLASS_NAMES = ["bad", "good", "excellent"]
CLASS_OF_STAR = np.array([-1, 0, 0, 0, 1, 2])  # bad <= 3, good 4, excellent 5
CONFIGS = {
    "mf": {"k": 4, "max_iter": 100, "learning_rate": 0.01, "lambda_reg": 0.02, "fold_in_reg": 1.0, "seed": 0},
    "bpr": {"k": 4, "max_iter": 200, "learning_rate": 0.05, "lambda_reg": 0.01, "fold_in_reg": 1.0, "seed": 0,
            "calibration_reviews": 5000},
    "hft": {"k": 4, "max_iter": 3, "grad_iter": 10, "lambda_text": 0.01, "l2_reg": 1.0, "vocab_size": 200,
            "fold_in_reg": 1.0, "seed": 0},
}
RATING_FAMILIES = ("mf", "hft")
CUISINE_WORDS = [["pizza", "pasta", "oven"], ["sushi", "ramen", "noodle"], ["burger", "fries", "grill"],
                 ["salad", "vegan", "smoothie"]]
TONE_WORDS = ["awful", "poor", "okay", "tasty", "superb"]


def make_reviews(seed: int = 0, n_users: int = 80, n_businesses: int = 40, per_user: int = 15) -> pd.DataFrame:
    """Reviews from affinity = quality_b + taste_u . style_b: each user reviews the businesses of highest
    affinity + Gumbel noise, rates by affinity - harshness + noise, cut into stars at 10/20/40/70% quantiles."""
    rng = np.random.default_rng(seed)
    quality = rng.normal(0, 1, n_businesses)
    style = rng.normal(0, 1, (n_businesses, 2))
    affinity = quality + rng.normal(0, 1, (n_users, 2)) @ style.T
    chosen = np.argsort(-(affinity + rng.gumbel(size=affinity.shape)), axis=1)[:, :per_user]
    users, businesses = np.repeat(np.arange(n_users), per_user), chosen.ravel()
    utility = affinity[users, businesses] - rng.normal(0, 0.5, n_users)[users] + rng.normal(0, 0.4, len(users))
    stars = 1 + np.digitize(utility, np.quantile(utility, [0.1, 0.2, 0.4, 0.7]))
    main_axis = np.abs(style).argmax(axis=1)
    cuisine = 2 * main_axis + (style[np.arange(n_businesses), main_axis] > 0)
    text = [" ".join([*rng.choice(CUISINE_WORDS[cuisine[b]], 2), TONE_WORDS[s - 1], "place"])
            for b, s in zip(businesses, stars)]
    user_ids = pd.Series([f"u{u}" for u in users])
    return pd.DataFrame({
        "review_id": [f"r{i}" for i in range(len(users))],
        "user_id": user_ids,
        "business_id": [f"b{b}" for b in businesses],
        "stars": stars,
        "text": text,
        "date": "2020-01-01",
        "label": CLASS_OF_STAR[stars],
        "split": user_ids.map(assign_users(user_ids, {"train": 0.8, "valid": 0.1, "test": 0.1}, seed)),
    })


def model_data(reviews: pd.DataFrame) -> ModelData:
    reviews = reviews.reset_index(drop=True)
    return ModelData(reviews, Histories.from_reviews(reviews))


def config(name: str):
    return build(family(name).Config, CONFIGS[name])


@pytest.fixture(scope="module")
def data() -> ModelData:
    return model_data(make_reviews())


@pytest.fixture(scope="module")
def fitted(data):
    """Each family fitted once: (recommender, its FitResult)."""
    models = {}
    for name in CONFIGS:
        model = model_class(name)(config(name), CLASS_NAMES, "classify")
        models[name] = (model, model.fit(data, progress=False))
    return models


def held_out(data: ModelData):
    return data.histories.examples(np.concatenate([data.rows_of("valid"), data.rows_of("test")]))


def library_fit(name: str, data: ModelData):
    """cornac's fitted model, its item side as the family extracts it, and its (user bias, user factors) getter."""
    from cornac.models import BPR, MF

    from sasnet.models.bpr.model import bpr_item_side
    from sasnet.models.fold_in import cornac_train_set, fit_library
    from sasnet.models.hft.model import fit_hft, hft_item_side
    from sasnet.models.mf.model import mf_item_side

    train_set, _ = cornac_train_set(data)
    if name == "mf":
        model = fit_library(MF, config(name), train_set)
        return model, mf_item_side(model), lambda u: (model.u_biases[u], model.u_factors[u])
    if name == "bpr":
        model = fit_library(BPR, config(name), train_set)
        return model, bpr_item_side(model), lambda u: (0.0, model.u_factors[u])
    model = fit_hft(config(name), data, train_set)
    return model, hft_item_side(model), lambda u: (model.beta_u[u], model.gamma_u[u])


def test_families_are_discovered_and_read_no_embedding():
    for name in CONFIGS:
        assert name in FAMILIES
        assert family(name).READS == ("review_text" if name == "hft" else "ratings")  # sasnet.inputs


@pytest.mark.parametrize("name", CONFIGS)
def test_config_checks_name_the_key(name):
    with pytest.raises(ParamsError) as caught:
        build(family(name).Config, {**CONFIGS[name], "k": 0, "fold_in_reg": 0.0})
    assert "k: must be >= 1 (got 0)" in caught.value.problems
    assert "fold_in_reg: must be > 0 (got 0.0)" in caught.value.problems


@pytest.mark.parametrize("name", CONFIGS)
def test_item_side_reproduces_cornac_scores_and_the_fit_is_deterministic(name, data, fitted):
    """With cornac's own factors for a train user, our item side (looked up by business id) gives cornac's
    ``score``; and the family's fit, run separately with the same seed, extracted the very same item side."""
    model, items, user_side = library_fit(name, data)
    businesses = pd.Index(sorted(data.reviews["business_id"].unique()))
    item = items.item_of_groups(businesses)
    for user in list(model.uid_map.values())[:3]:  # cornac knows train users only
        user_bias, user_factors = user_side(user)
        ours = items.offset + user_bias + items.biases[item] + items.factors[item] @ user_factors
        theirs = [model.score(user, model.iid_map[business]) for business in businesses]
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    family_items = fitted[name][0].items
    assert family_items.business_ids == items.business_ids
    np.testing.assert_array_equal(family_items.factors, items.factors)
    np.testing.assert_array_equal(family_items.biases, items.biases)


def test_hft_reads_each_business_text_from_its_train_reviews_only(data):
    from sasnet.models.fold_in import cornac_train_set
    from sasnet.models.hft.model import add_item_text

    reviews = data.reviews.copy()
    held = reviews["split"] != "train"
    reviews.loc[held, "text"] = reviews.loc[held, "text"] + " leaked"
    marked = model_data(reviews)
    train_set, _ = cornac_train_set(marked)
    text = add_item_text(marked, train_set, vocab_size=200)
    assert "leaked" not in text.vocab.tok2idx
    business = reviews.loc[held, "business_id"].iloc[0]
    own_train = reviews[(reviews["business_id"] == business) & ~held]
    assert text.corpus[train_set.iid_map[business]].split() == " ".join(own_train["text"]).split()


def test_ridge_fold_in_solves_each_pools_normal_equations(data, fitted):
    from sasnet.models.fold_in import fold_in_ratings

    items = fitted["mf"][0].items
    reg = CONFIGS["mf"]["fold_in_reg"]
    rows = np.concatenate([data.rows_of("train")[:5], data.rows_of("test")[:5]])
    predicted = fold_in_ratings(data, data.histories.examples(rows), items, reg)
    item_of = dict(zip(items.business_ids, range(len(items.business_ids))))
    for row, prediction in zip(rows, predicted):
        user = data.reviews["user_id"].iloc[row]
        pool = data.reviews[(data.reviews["user_id"] == user) & (data.reviews.index != row)]
        design = np.array([[*items.factors[item_of[b]], 1.0] for b in pool["business_id"]])
        residual = pool["stars"].to_numpy() - items.offset - items.biases[[item_of[b] for b in pool["business_id"]]]
        user_side = np.linalg.solve(design.T @ design + reg * np.eye(design.shape[1]), design.T @ residual)
        target = item_of[data.reviews["business_id"].iloc[row]]
        expected = items.offset + items.biases[target] + np.append(items.factors[target], 1.0) @ user_side
        assert prediction == pytest.approx(expected, abs=1e-9)


def bpr_loss(p, items, positives, negatives, reg) -> float:
    """Minus the fold-in objective, written out: sum over positives of the mean log sigmoid over negatives."""
    scores = items.biases + items.factors @ p
    margins = scores[positives][:, None] - scores[negatives][None]
    return -np.sum(np.mean(-np.logaddexp(0, -margins), axis=1)) + reg * p @ p


def test_bpr_fold_in_maximises_the_pools_likelihood(data, fitted):
    from sasnet.models.fold_in import fold_in_bpr

    items = fitted["bpr"][0].items
    reg = CONFIGS["bpr"]["fold_in_reg"]
    rows = np.concatenate([data.rows_of("train")[:3], data.rows_of("valid")[:3]])
    users, worst_gradient = fold_in_bpr(data, data.histories.examples(rows), items, reg)
    assert worst_gradient < 1e-4
    item_of = dict(zip(items.business_ids, range(len(items.business_ids))))
    for row, user in zip(rows, users):
        reviewer = data.reviews["user_id"].iloc[row]
        pool = data.reviews[(data.reviews["user_id"] == reviewer) & (data.reviews.index != row)]
        positives = np.array([item_of[b] for b in pool["business_id"]])
        negatives = np.setdiff1d(np.arange(len(items.biases)), positives)

        best = minimize(bpr_loss, np.zeros(len(user)), args=(items, positives, negatives, reg), method="BFGS",
                        options={"gtol": 1e-9})
        np.testing.assert_allclose(user, best.x, atol=1e-4)


def changed(data: ModelData, row: int, **values) -> ModelData:
    reviews = data.reviews.copy()
    for column, value in values.items():
        reviews.loc[row, column] = value
    reviews["label"] = CLASS_OF_STAR[reviews["stars"].to_numpy()]
    return model_data(reviews)


def other_stars(stars: int) -> int:
    return 1 if stars >= 3 else 5


@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize("name", CONFIGS)
def test_a_folded_in_user_never_sees_its_target(name, split, data, fitted):
    """Changing or removing the target review leaves its prediction as it was; changing another review of the
    same user moves it (its stars for a rating model; which business it is about for BPR)."""
    model = fitted[name][0]
    reviews = data.reviews
    rows = data.rows_of(split)
    target = rows[0]
    if name in RATING_FAMILIES:  # a rating far from the clipping at 1 and 5, which would hide any change
        target = rows[np.abs(model.predict_rating(data, data.histories.examples(rows)) - 3).argmin()]
    user = reviews.loc[target, "user_id"]
    other = reviews.index[(reviews["user_id"] == user) & (reviews.index != target)][0]

    def prediction(on: ModelData, row: int) -> np.ndarray:
        return model.predict_proba(on, on.histories.examples([row]))

    before = prediction(data, target)
    after_change = prediction(changed(data, target, stars=other_stars(reviews.loc[target, "stars"])), target)
    np.testing.assert_allclose(after_change, before, rtol=0, atol=1e-12)

    removed = model_data(reviews.drop(index=target))
    pair = removed.histories.pair_examples(
        [removed.histories.user_ids.get_loc(user)],
        [removed.histories.business_ids.get_loc(reviews.loc[target, "business_id"])],
    )
    np.testing.assert_allclose(model.predict_proba(removed, pair), before, rtol=0, atol=1e-12)

    if name == "bpr":
        unreviewed = sorted(set(reviews["business_id"]) - set(reviews.loc[reviews["user_id"] == user, "business_id"]))
        moved = changed(data, other, business_id=unreviewed[0])
    else:
        moved = changed(data, other, stars=other_stars(reviews.loc[other, "stars"]))
    assert np.abs(prediction(moved, target) - before).max() > 1e-4


@pytest.mark.parametrize("name", CONFIGS)
def test_families_beat_the_majority_class_on_held_out_users(name, data, fitted):
    model = fitted[name][0]
    examples = held_out(data)
    truth = data.labels[examples.rows]
    train = data.rows_of("train")
    majority_accuracy = np.mean(truth == np.bincount(data.labels[train]).argmax())
    accuracy = np.mean(model.predict_proba(data, examples).argmax(axis=1) == truth)
    assert accuracy > majority_accuracy + 0.1, (accuracy, majority_accuracy)
    ratings = model.predict_rating(data, examples)
    if name in RATING_FAMILIES:
        stars = data.stars[examples.rows]
        mean_rmse = np.sqrt(np.mean((stars - data.stars[train].mean()) ** 2))
        rmse = np.sqrt(np.mean((ratings - stars) ** 2))
        assert rmse < mean_rmse - 0.3, (rmse, mean_rmse)
        assert ratings.min() >= 1 and ratings.max() <= 5
    else:
        assert ratings is None


@pytest.mark.parametrize("name", CONFIGS)
def test_fit_reports_its_facts(name, fitted):
    facts = fitted[name][1].facts
    assert facts["k"] == CONFIGS[name]["k"]
    assert facts["train_reviews"] == 960 and facts["fit_seconds"] >= 0
    if name in RATING_FAMILIES:
        assert facts["train_fitted_rmse"] < facts["train_fold_in_rmse"] < 1.0  # fold-in is out of sample
        assert facts["calibrator_converged"]
    else:
        assert facts["fold_in_max_gradient_norm"] < 1e-4
        means = facts["train_mean_score_by_class"]
        assert means["bad"] < means["good"] < means["excellent"]


@pytest.mark.parametrize("name", CONFIGS)
def test_save_and_load_give_identical_predictions(name, data, fitted, tmp_path):
    model = fitted[name][0]
    model.save(tmp_path, {"input": "split"})
    loaded = load_model(tmp_path, data)
    examples = held_out(data)
    np.testing.assert_array_equal(loaded.predict_proba(data, examples), model.predict_proba(data, examples))
    if name in RATING_FAMILIES:
        np.testing.assert_array_equal(loaded.predict_rating(data, examples), model.predict_rating(data, examples))


@pytest.mark.parametrize("name", CONFIGS)
def test_probabilities_are_distributions_even_for_a_business_without_train_reviews(name, data, fitted):
    """A test user's review of a business no train review mentions: that business is all zeros."""
    reviews = data.reviews
    test_user = reviews.loc[reviews["split"] == "test", "user_id"].iloc[0]
    extra = reviews[reviews["user_id"] == test_user].iloc[[0]].assign(review_id="new", business_id="b_new")
    extended = model_data(pd.concat([reviews, extra]))
    examples = held_out(extended)
    probabilities = fitted[name][0].predict_proba(extended, examples)
    assert probabilities.shape == (len(examples), len(CLASS_NAMES))
    assert np.all(probabilities >= 0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-12)


def test_the_calibrator_learns_skewed_classes_from_the_scores():
    """A calibrated rating model predicts the majority class where the ratings say nothing, and follows them where
    they do: the rating's spread and the class shares are fitted, not assumed."""
    from sasnet.models.fold_in import ScoreCalibrator

    rng = np.random.default_rng(0)
    labels = rng.choice(3, 3000, p=[0.1, 0.2, 0.7])
    uninformative = rng.normal(4.3, 0.5, 3000)
    calibrator = ScoreCalibrator(3)
    assert calibrator.fit(uninformative, labels)
    assert (calibrator.predict_proba(uninformative).argmax(axis=1) == 2).mean() > 0.95
    informative = labels + rng.normal(0, 0.3, 3000)
    calibrator.fit(informative, labels)
    assert (calibrator.predict_proba(informative).argmax(axis=1) == labels).mean() > 0.9

"""Tests of MultiViewRegressor: counts from many views, and their spread."""

import pickle

import numpy as np
import pytest
import sklearn
import torch
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV
from skorch import NeuralNetRegressor
from torch import nn

from skcells.multiview import (
    DihedralViews,
    MultiViewClassifier,
    MultiViewRegressor,
    RandomResizedCropViews,
)


def _counts(n, rng, size=16):
    """Toy count images: bright dots with a density that is the target."""
    density = rng.uniform(0.05, 0.5, n)
    X = (rng.random((n, 1, size, size)) < density[:, None, None, None]).astype(
        np.float32
    )
    return X, density


@pytest.fixture(scope="module")
def counts():
    return _counts(80, np.random.default_rng(0))


@pytest.fixture(scope="module")
def fitted(counts):
    X, y = counts
    reg = MultiViewRegressor(
        Ridge(), n_views=9, output_size=5, n_train_views=4, random_state=0
    )
    return reg.fit(X, y), X, y


def test_predict_is_the_median_of_the_views(fitted):
    reg, X, y = fitted
    values = reg.predict_views(X)
    assert values.shape == (80, 9)
    np.testing.assert_allclose(reg.predict(X), np.median(values, axis=1))
    # the views are those of the transformer, each predicted by the estimator
    views = RandomResizedCropViews(9, output_size=reg.output_size_, random_state=0)
    flat = views.transform(X).reshape(720, -1)
    np.testing.assert_allclose(values, reg.estimator_.predict(flat).reshape(80, 9))
    mean = clone(reg).set_params(aggregation="mean").fit(X, y)
    np.testing.assert_allclose(mean.predict(X), values.mean(axis=1))
    # more views: a good fit of the density
    assert reg.set_params(n_views=30).score(X, y) > 0.8
    reg.set_params(n_views=9)


def test_interval_and_uncertainty_are_the_spread_of_the_views(fitted):
    reg, X, _ = fitted
    values = reg.predict_views(X)
    lower, upper = reg.predict_interval(X, coverage=0.8)
    np.testing.assert_allclose(lower, np.quantile(values, 0.1, axis=1))
    np.testing.assert_allclose(upper, np.quantile(values, 0.9, axis=1))
    prediction = reg.predict(X)
    assert np.all(lower <= prediction) and np.all(prediction <= upper)
    inside = ((values >= lower[:, None]) & (values <= upper[:, None])).mean()
    assert 0.7 <= inside <= 1.0
    low50, up50 = reg.predict_interval(X, coverage=0.5)
    assert np.all(low50 >= lower) and np.all(up50 <= upper)
    low1, up1 = reg.predict_interval(X, coverage=1)
    np.testing.assert_allclose(low1, values.min(axis=1))
    np.testing.assert_allclose(up1, values.max(axis=1))
    result = reg.predict_uncertainty(X, coverage=0.8)
    np.testing.assert_allclose(result.prediction, prediction)
    np.testing.assert_allclose(result.lower, lower)
    np.testing.assert_allclose(result.upper, upper)
    np.testing.assert_allclose(result.std, values.std(axis=1))
    for coverage in (0, 1.5, np.nan, "high"):
        with pytest.raises((TypeError, ValueError), match="coverage"):
            reg.predict_interval(X, coverage=coverage)


def test_determinism_batching_and_composition(fitted):
    reg, X, y = fitted
    np.testing.assert_array_equal(reg.predict(X), reg.predict(X))
    np.testing.assert_array_equal(reg.predict(X[5:9]), reg.predict(X)[5:9])
    batched = clone(reg).set_params(batch_size=7).fit(X, y)
    # (the estimator's float32 rounding depends on the batch)
    np.testing.assert_allclose(
        batched.predict_views(X), reg.predict_views(X), rtol=1e-6
    )
    restored = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(restored.predict(X), reg.predict(X))
    search = GridSearchCV(reg, {"n_views": [1, 5]}, cv=2).fit(X, y)
    assert search.best_params_["n_views"] in (1, 5)
    assert search.predict(X).shape == (80,)


def test_dihedral_views_and_frozen_estimator(counts):
    X, y = counts
    reg = MultiViewRegressor(Ridge(), views=DihedralViews(), random_state=0).fit(X, y)
    values = reg.predict_views(X)
    assert values.shape == (80, 8)
    # a linear model of the whole image: the 8 views see the same dots
    lower, upper = reg.predict_interval(X)
    assert np.all(upper - lower < 0.5 * (y.max() - y.min()))
    ridge = Ridge().fit(X.reshape(80, -1), y)
    frozen = MultiViewRegressor(
        FrozenEstimator(ridge), views=DihedralViews(rotations=False)
    ).fit(X[:3], np.zeros(3))  # y is not used to refit
    np.testing.assert_allclose(
        frozen.predict_views(X)[:, 0], ridge.predict(X.reshape(80, -1)), rtol=1e-6
    )


class TinyRegressor(nn.Module):
    """Conv, global average pooling, linear: one value per view."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.head = nn.Linear(4, 1)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).mean(dim=(2, 3)))


def test_skorch_regressor_trains_on_fresh_views(counts):
    X, y = counts
    torch.manual_seed(0)
    net = NeuralNetRegressor(
        TinyRegressor,
        max_epochs=3,
        lr=0.05,
        batch_size=16,
        train_split=None,
        verbose=0,
    )
    reg = MultiViewRegressor(net, n_views=4, output_size=6, random_state=0).fit(
        X.astype(np.float32), y
    )
    assert (
        reg.estimator_.history[-1, "train_loss"]
        < reg.estimator_.history[0, "train_loss"]
    )
    values = reg.predict_views(X)
    assert values.shape == (80, 4) and values.dtype == np.float64
    assert np.corrcoef(reg.predict(X), y)[0, 1] > 0.5


class _DifficultyRegressor(RegressorMixin, BaseEstimator):
    """Records the ``difficulty`` it receives."""

    def fit(self, X, y, difficulty=None):
        self.ridge_ = Ridge().fit(X, y)
        self.difficulty_ = None if difficulty is None else np.asarray(difficulty)
        return self

    def predict(self, X):
        return self.ridge_.predict(X)


def test_difficulty_is_routed_and_repeated(counts):
    X, y = counts
    d = np.linspace(0, 1, 80)
    with sklearn.config_context(enable_metadata_routing=True):
        est = _DifficultyRegressor().set_fit_request(difficulty=True)
        reg = MultiViewRegressor(est, output_size=5, n_train_views=2).fit(
            X, y, difficulty=d
        )
    np.testing.assert_array_equal(reg.estimator_.difficulty_, np.repeat(d, 2))
    reg = MultiViewRegressor(_DifficultyRegressor(), output_size=5).fit(
        X, y, difficulty=d
    )
    np.testing.assert_array_equal(reg.estimator_.difficulty_, d)


def test_classifiers_and_bad_targets_are_refused(counts):
    X, y = counts
    with pytest.raises(ValueError, match="classifier.*MultiViewClassifier"):
        MultiViewRegressor(LogisticRegression()).fit(X, y > 0.2)
    with pytest.raises(ValueError, match="could not convert|numeric"):
        MultiViewRegressor(Ridge(), output_size=5).fit(X, np.array(["a"] * 80))
    with pytest.raises(ValueError, match="NaN"):
        MultiViewRegressor(Ridge(), output_size=5).fit(X, np.full(80, np.nan))
    with pytest.raises(ValueError, match="aggregation"):
        MultiViewRegressor(Ridge(), aggregation="mode").fit(X, y)


def test_huge_n_views_keep_one_float_per_view(counts):
    import tracemalloc

    X, y = counts
    reg = MultiViewRegressor(Ridge(), n_views=2, output_size=2, random_state=0).fit(
        X[:, :, :8, :8], y
    )
    n_views = 200_000
    reg.set_params(n_views=n_views, batch_size=2000)
    tracemalloc.start()
    try:
        prediction = reg.predict(X[:1, :, :8, :8])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    all_boxes = n_views * 4 * 8
    assert prediction.shape == (1,)
    assert peak < all_boxes / 2  # the per-view values (1.6 MB) and one chunk


def test_counts_with_the_classifier_are_a_regressor_s_job(counts):
    # the user study: MultiViewClassifier on counts made one class per count
    X, y = counts
    count = np.round(y * 100)
    with pytest.raises(ValueError, match="MultiViewRegressor"):
        MultiViewClassifier(Ridge(), output_size=5).fit(X, count)
    reg = MultiViewRegressor(Ridge(), output_size=5, random_state=0).fit(X, count)
    assert reg.predict(X).shape == (80,)

"""Tests of MultiViewClassifier and the multi-view aggregation rules."""

import pickle

import numpy as np
import pytest
import sklearn
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback
from torch import nn

from skcells.multiview import (
    MultiViewClassifier,
    RandomResizedCropViews,
    aggregate_geometric_mean,
    aggregate_max,
    aggregate_mean,
    aggregate_mode,
    aggregate_weighted,
    view_agreement,
    view_predictions,
    vote_entropy,
)


# ------------------------------------------------------------------ data
def _dots(n, rng, size=16):
    """Toy 'cell count' images: class 1 has more bright dots than class 0."""
    y = np.arange(n) % 2
    density = np.where(y == 1, 0.3, 0.15)[:, None, None, None]
    X = (rng.random((n, 1, size, size)) < density).astype(np.float32)
    return X, y


@pytest.fixture(scope="module")
def dots():
    return _dots(60, np.random.default_rng(0))


@pytest.fixture(scope="module")
def fitted_lr(dots):
    X, y = dots
    labels = np.where(y == 1, "high", "low")
    clf = MultiViewClassifier(
        LogisticRegression(),
        n_views=6,
        crop_scale=(0.2, 0.4),
        output_size=6,
        n_train_views=4,
        random_state=0,
    )
    return clf.fit(X, labels), X, labels


class TinyCNN(nn.Module):
    """Conv 3->4, global average pool, linear head."""

    def __init__(self, n_classes=2):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, kernel_size=3, padding=1)
        self.head = nn.Linear(4, n_classes)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).mean(dim=(2, 3)))


class BatchRecorder(Callback):
    """Records the first input values and shape of every batch."""

    def initialize(self):
        self.batches = []
        return self

    def on_batch_begin(self, net, batch=None, training=None, **kwargs):
        x = batch[0]
        self.batches.append(
            (len(net.history), training, tuple(x.shape), x[0].flatten()[:8].clone())
        )


@pytest.fixture(scope="module")
def colour_images():
    rng = np.random.default_rng(1)
    y = np.repeat(np.array(["red", "blue"]), 12)
    X = rng.integers(0, 120, (24, 3, 16, 16), dtype=np.uint8)
    X[y == "red", 0] += 120
    return X, y


@pytest.fixture(scope="module")
def fitted_net(colour_images):
    X, y = colour_images
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        TinyCNN,
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=0.01,
        max_epochs=2,
        batch_size=8,
        iterator_train__shuffle=False,
        callbacks=[("recorder", BatchRecorder())],
        verbose=0,
    )
    clf = MultiViewClassifier(net, n_views=4, output_size=8, random_state=0)
    return clf.fit(X, y), X, y


# ------------------------------------------------------ Eq. 3-5, pure
def test_eq3_labels_and_confidences():
    proba = np.array([[[0.1, 0.7, 0.2], [0.5, 0.25, 0.25]]])
    labels, conf = view_predictions(proba)
    np.testing.assert_array_equal(labels, [[1, 0]])
    np.testing.assert_allclose(conf, [[0.7, 0.5]])


def test_mode_and_weighted_disagree_on_hand_made_views():
    # three hesitant votes for class 0, two confident ones for class 1
    labels = np.array([[0, 0, 0, 1, 1], [2, 1, 2, 1, 0]])
    conf = np.array([[0.5, 0.55, 0.6, 0.95, 0.99], [0.9, 0.4, 0.9, 0.4, 0.3]])
    votes = aggregate_mode(labels, 3)
    np.testing.assert_allclose(votes, [[0.6, 0.4, 0.0], [0.2, 0.4, 0.4]])
    z = aggregate_weighted(labels, conf, 3)
    np.testing.assert_allclose(z[0], np.array([1.65, 1.94, 0.0]) / 3.59)
    np.testing.assert_allclose(z[1], np.array([0.3, 0.8, 1.8]) / 2.9)
    # Eq. 4: mode; ties (sample 1: classes 1 and 2) go to the first class
    np.testing.assert_array_equal(votes.argmax(axis=1), [0, 1])
    # Eq. 5: largest cumulative confidence
    np.testing.assert_array_equal(z.argmax(axis=1), [1, 2])


def test_weighted_with_equal_confidences_is_the_mode():
    labels = np.random.default_rng(0).integers(0, 4, (20, 7))
    np.testing.assert_allclose(
        aggregate_weighted(labels, np.full(labels.shape, 0.3), 4),
        aggregate_mode(labels, 4),
    )
    # all-zero confidences fall back to the votes
    np.testing.assert_allclose(
        aggregate_weighted(labels, np.zeros(labels.shape), 4),
        aggregate_mode(labels, 4),
    )


def test_mean_agreement_and_entropy():
    proba = np.array([[[0.2, 0.8], [0.6, 0.4], [0.1, 0.9]]])
    np.testing.assert_allclose(aggregate_mean(proba), [[0.3, 0.7]])
    labels = np.array([[1, 1, 1, 1], [0, 1, 0, 1], [0, 0, 0, 1]])
    np.testing.assert_allclose(view_agreement(labels, [1, 0, 0]), [1, 0.5, 0.75])
    entropy = vote_entropy(labels, 2)
    expected = [0.0, np.log(2), -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))]
    np.testing.assert_allclose(entropy, expected)
    np.testing.assert_allclose(vote_entropy(labels, 2, normalize=True)[1], 1.0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: aggregate_mode([0, 1], 2), "view_labels"),
        (lambda: aggregate_mode([[0, 2]], 2), "view_labels"),
        (lambda: aggregate_mode([[0, 1]], 0), "n_classes"),
        (lambda: aggregate_mode([[0.5, 1]], 2), "view_labels"),
        (lambda: aggregate_weighted([[0, 1]], [[0.5]], 2), "confidences"),
        (lambda: aggregate_weighted([[0, 1]], [[0.5, -1]], 2), "confidences"),
        (lambda: aggregate_mean([[0.5, 0.5]]), "view_proba"),
        (lambda: view_predictions([[0.5, 0.5]]), "view_proba"),
        (lambda: view_agreement([[0, 1]], [0, 1]), "prediction"),
    ],
)
def test_aggregation_bad_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


# ------------------------------------------------ classifier behaviour
def test_predict_views_and_aggregations(fitted_lr):
    clf, X, labels = fitted_lr
    clf = clone(clf).fit(X, labels)
    view_labels, conf = clf.predict_views(X)
    assert view_labels.shape == conf.shape == (60, 6)
    assert set(np.unique(view_labels)) <= {"high", "low"}
    np.testing.assert_array_equal(clf.classes_, ["high", "low"])
    assert np.all((conf >= 0.5) & (conf <= 1))
    codes = np.searchsorted(clf.classes_, view_labels)
    expected = {
        "mode": aggregate_mode(codes, 2),
        "weighted": aggregate_weighted(codes, conf, 2),
    }
    for aggregation, scores in expected.items():
        clf.set_params(aggregation=aggregation)
        proba = clf.predict_proba(X)
        np.testing.assert_allclose(proba, scores)
        np.testing.assert_array_equal(clf.predict(X), clf.classes_[scores.argmax(1)])
    clf.set_params(aggregation="mean")
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(1)])
    assert clf.score(X, labels) > 0.8


def test_predict_uncertainty(fitted_lr):
    clf, X, _ = fitted_lr
    result = clf.predict_uncertainty(X)
    np.testing.assert_array_equal(result.prediction, clf.predict(X))
    view_labels, _ = clf.predict_views(X)
    np.testing.assert_allclose(
        result.agreement, (view_labels == result.prediction[:, None]).mean(axis=1)
    )
    assert np.all((result.entropy >= 0) & (result.entropy <= np.log(2) + 1e-12))
    unanimous = result.agreement == 1
    np.testing.assert_allclose(result.entropy[unanimous], 0.0)


def test_more_views_reduce_the_variance_of_predictions(fitted_lr):
    clf, X, _ = fitted_lr
    clf = clone(clf).fit(X, fitted_lr[2])
    spread = {}
    for n_views in (1, 16):
        clf.set_params(n_views=n_views, aggregation="mean")
        runs = np.stack(
            [
                clf.set_params(random_state=seed).predict_proba(X)[:, 0]
                for seed in range(8)
            ]
        )
        spread[n_views] = runs.var(axis=0).mean()
    assert spread[16] < 0.25 * spread[1]


def test_predict_time_parameters_do_not_refit(fitted_lr):
    clf, X, labels = fitted_lr
    clf = clone(clf).fit(X, labels)
    estimator, coef = clf.estimator_, clf.estimator_.coef_.copy()
    clf.set_params(
        n_views=3, crop_scale=(0.3, 0.5), crop_ratio=(1, 1), aggregation="weighted"
    )
    view_labels, _ = clf.predict_views(X)
    assert view_labels.shape == (60, 3)
    clf.predict(X)
    assert clf.estimator_ is estimator
    np.testing.assert_array_equal(clf.estimator_.coef_, coef)
    assert clf.output_size_ == (6, 6)


def test_random_state_makes_fit_and_predict_deterministic(dots):
    X, y = dots
    params = dict(n_views=5, output_size=6, n_train_views=2, random_state=3)
    a = MultiViewClassifier(LogisticRegression(), **params).fit(X, y)
    b = MultiViewClassifier(LogisticRegression(), **params).fit(X, y)
    np.testing.assert_array_equal(a.estimator_.coef_, b.estimator_.coef_)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    np.testing.assert_array_equal(a.predict_proba(X), a.predict_proba(X))
    # a sample's views do not depend on the rest of the batch
    np.testing.assert_array_equal(a.predict_proba(X[5:9]), a.predict_proba(X)[5:9])
    a.set_params(random_state=None)
    assert not np.array_equal(a.predict_views(X)[1], a.predict_views(X)[1])


class _BatchSpy(ClassifierMixin, BaseEstimator):
    """LogisticRegression that records the size of every predict batch."""

    def fit(self, X, y):
        self.lr_ = LogisticRegression().fit(X, y)
        self.classes_ = self.lr_.classes_
        self.fit_rows_ = X.shape[0]
        self.batches_ = []
        return self

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def predict_proba(self, X):
        self.batches_.append(X.shape[0])
        return self.lr_.predict_proba(X)


def test_batch_size_bounds_the_views_per_call_and_keeps_results(dots):
    X, y = dots
    clf = MultiViewClassifier(
        _BatchSpy(), n_views=5, output_size=6, n_train_views=3, random_state=0
    ).fit(X, y)
    assert clf.estimator_.fit_rows_ == 60 * 3
    full = clf.predict_proba(X)
    assert clf.estimator_.batches_ == [300]
    clf.estimator_.batches_.clear()
    clf.set_params(batch_size=7)
    np.testing.assert_allclose(clf.predict_proba(X), full)
    assert max(clf.estimator_.batches_) == 7 and sum(clf.estimator_.batches_) == 300


def test_clips_with_temporal_windows_and_batches():
    rng = np.random.default_rng(2)
    y = np.arange(20) % 2
    X = rng.normal(size=(20, 6, 1, 10, 10)).astype(np.float32)
    X += y[:, None, None, None, None]
    clf = MultiViewClassifier(
        LogisticRegression(),
        n_views=4,
        output_size=4,
        clip_length=3,
        batch_size=9,
        random_state=0,
    ).fit(X, y)
    assert clf.view_shape_ == (3, 1, 4, 4)
    assert clf.estimator_.coef_.shape == (1, 3 * 4 * 4)
    assert clf.clip_length_ == 3
    assert clf.predict_views(X)[0].shape == (20, 4)
    assert clf.score(X, y) > 0.8
    # clips of another length are fine as long as clip_length fits
    assert clf.predict(X[:, :4]).shape == (20,)


def test_flat_input_and_pipeline(dots):
    X, y = dots
    flat = X.reshape(60, -1)
    pipe = make_pipeline(
        StandardScaler(),
        MultiViewClassifier(LogisticRegression(), n_views=3, random_state=0),
    ).fit(flat, y)
    assert pipe[-1].n_features_in_ == 256
    assert pipe.predict(flat).shape == (60,)
    # a pipeline that turns flat rows into images before the multi-view step
    to_images = FunctionTransformer(lambda Z: np.asarray(Z).reshape(-1, 1, 16, 16))
    pipe = make_pipeline(
        to_images,
        MultiViewClassifier(
            LogisticRegression(), n_views=4, output_size=6, random_state=0
        ),
    ).fit(flat, y)
    assert pipe.predict_proba(flat).shape == (60, 2)
    assert not hasattr(pipe[-1], "n_features_in_")


def test_grid_search_over_views_and_crop_scale(dots):
    X, y = dots
    search = GridSearchCV(
        MultiViewClassifier(
            LogisticRegression(), output_size=6, n_train_views=2, random_state=0
        ),
        {"n_views": [1, 5], "crop_scale": [(0.1, 0.2), (0.3, 0.5)]},
        cv=2,
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_["n_views"] in (1, 5)
    assert search.predict(X).shape == (60,)


def test_pickle_and_clone_round_trip(fitted_lr):
    clf, X, _ = fitted_lr
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    cloned = clone(clf)
    assert not hasattr(cloned, "estimator_")
    assert cloned.get_params()["crop_scale"] == (0.2, 0.4)


def test_estimator_without_predict_proba(dots):
    X, y = dots
    clf = MultiViewClassifier(
        RidgeClassifier(), n_views=5, output_size=6, random_state=0
    ).fit(X, y)
    labels, conf = clf.predict_views(X)
    np.testing.assert_array_equal(conf, 1.0)
    assert clf.predict_proba(X).shape == (60, 2)
    clf.set_params(aggregation="weighted")
    assert not hasattr(clf, "predict_proba")
    with pytest.raises(ValueError, match="aggregation='weighted'"):
        clf.predict(X)


def test_frozen_estimator_is_not_refitted(dots):
    X, y = dots
    views = RandomResizedCropViews(n_views=2, output_size=6, random_state=0)
    V = views.transform(X).reshape(120, -1)
    lr = LogisticRegression().fit(V, np.repeat(y * 10, 2))
    coef = lr.coef_.copy()
    clf = MultiViewClassifier(FrozenEstimator(lr), output_size=6, random_state=0)
    clf.fit(X[:10], np.zeros(10, dtype=int))  # y is not used to refit
    np.testing.assert_array_equal(clf.classes_, [0, 10])
    assert clf.estimator_.estimator is lr
    np.testing.assert_array_equal(lr.coef_, coef)
    assert set(clf.predict(X)) <= {0, 10}


# ------------------------------------------------------------- routing
class _DifficultyClassifier(ClassifierMixin, BaseEstimator):
    """Records the ``difficulty`` it receives; a stand-in for the curriculum net."""

    def fit(self, X, y, difficulty=None):
        self.lr_ = LogisticRegression().fit(X, y)
        self.classes_ = self.lr_.classes_
        self.difficulty_ = None if difficulty is None else np.asarray(difficulty)
        return self

    def predict(self, X):
        return self.lr_.predict(X)

    def predict_proba(self, X):
        return self.lr_.predict_proba(X)


def test_difficulty_is_routed_and_repeated(dots):
    X, y = dots
    d = np.linspace(0, 1, 60)
    with sklearn.config_context(enable_metadata_routing=True):
        est = _DifficultyClassifier().set_fit_request(difficulty=True)
        clf = MultiViewClassifier(est, output_size=6, n_train_views=3).fit(
            X, y, difficulty=d
        )
        np.testing.assert_array_equal(clf.estimator_.difficulty_, np.repeat(d, 3))
        # GridSearchCV slices the metadata with the folds
        search = GridSearchCV(clf, {"n_views": [2]}, cv=2).fit(X, y, difficulty=d)
        np.testing.assert_array_equal(
            search.best_estimator_.estimator_.difficulty_, np.repeat(d, 3)
        )
        unrequested = MultiViewClassifier(_DifficultyClassifier(), output_size=6)
        with pytest.raises(ValueError, match="difficulty"):
            unrequested.fit(X, y, difficulty=d)
    # without routing the parameters go straight to the estimator
    clf = MultiViewClassifier(_DifficultyClassifier(), output_size=6, n_train_views=2)
    clf.fit(X, y, difficulty=d)
    np.testing.assert_array_equal(clf.estimator_.difficulty_, np.repeat(d, 2))


class _ParamsRecorder(_DifficultyClassifier):
    """Records every fit parameter it receives."""

    def fit(self, X, y, **params):
        self.params_ = params
        return super().fit(X, y)


def test_sample_aligned_fit_params_are_repeated_with_the_views(dots):
    X, y = dots
    d = np.linspace(0, 1, 60)
    params = {
        "weights": list(d),
        "groups": np.c_[d, 2 * d],
        "tag": "not aligned",
        "mapping": {"a": 1},
        "scale": 2.0,
        "short": np.arange(3),
    }
    clf = MultiViewClassifier(_ParamsRecorder(), output_size=6, n_train_views=3)
    got = clf.fit(X, y, **params).estimator_.params_
    np.testing.assert_array_equal(got["weights"], np.repeat(d, 3))
    np.testing.assert_array_equal(got["groups"], np.repeat(params["groups"], 3, axis=0))
    for key in ("tag", "mapping", "scale", "short"):
        assert got[key] is params[key]


def test_metadata_routing_maps_fit_to_fit():
    with sklearn.config_context(enable_metadata_routing=True):
        est = _DifficultyClassifier().set_fit_request(difficulty=True)
        routing = MultiViewClassifier(est).get_metadata_routing()
        assert routing.consumes("fit", ["difficulty", "other"]) == {"difficulty"}
        assert routing.consumes("predict", ["difficulty"]) == set()


# --------------------------------------------------------------- skorch
def test_skorch_net_trains_on_fresh_views_every_epoch(fitted_net):
    clf, X, y = fitted_net
    recorder = dict(clf.estimator_.callbacks_)["recorder"]
    train = [b for b in recorder.batches if b[1]]
    valid = [b for b in recorder.batches if not b[1]]
    assert all(shape[1:] == (3, 8, 8) for _, _, shape, _ in recorder.batches)
    # the internal validation split is cropped as well
    assert valid and all(shape[1:] == (3, 8, 8) for _, _, shape, _ in valid)
    # same sample order (no shuffling) but new crops in epoch 2
    first = [x for epoch, _, _, x in train if epoch == 1]
    second = [x for epoch, _, _, x in train if epoch == 2]
    assert len(first) == len(second) > 0
    assert not torch.allclose(first[0], second[0])
    np.testing.assert_array_equal(clf.classes_, ["blue", "red"])
    np.testing.assert_array_equal(clf.estimator_.classes_, [0, 1])


def test_skorch_net_predicts_string_labels_from_views(fitted_net):
    clf, X, y = fitted_net
    labels, conf = clf.predict_views(X)
    assert labels.shape == conf.shape == (24, 4)
    assert set(np.unique(labels)) <= {"blue", "red"}
    assert np.all((conf >= 0.5) & (conf <= 1))
    proba = clf.set_params(aggregation="weighted").predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    assert set(clf.predict(X)) <= {"blue", "red"}
    single = clone(clf).set_params(n_views=1)
    assert single.get_params()["n_views"] == 1
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(restored.predict_proba(X), proba, atol=1e-6)


def test_curriculum_net_receives_difficulty_through_the_views(colour_images):
    from skcells.curriculum import CurriculumNeuralNetClassifier

    X, y = colour_images
    d = np.linspace(0, 1, len(y))
    net = CurriculumNeuralNetClassifier(
        TinyCNN,
        criterion=nn.CrossEntropyLoss,
        max_epochs=2,
        batch_size=8,
        verbose=0,
    )
    with sklearn.config_context(enable_metadata_routing=True):
        clf = MultiViewClassifier(net, n_views=2, output_size=8, random_state=0)
        clf.fit(X, y, difficulty=d)
    history = clf.estimator_.history
    # the first epoch trains on the easiest samples only
    assert history[0, "n_curriculum_samples"] < history[-1, "n_curriculum_samples"]
    assert set(clf.predict(X)) <= {"blue", "red"}


# ----------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_views": 0}, "n_views"),
        ({"n_train_views": 0}, "n_train_views"),
        ({"crop_scale": (0.0, 0.2)}, "crop_scale"),
        ({"crop_scale": (0.4, 0.2)}, "crop_scale"),
        ({"crop_scale": (0.5, 1.2)}, "crop_scale"),
        ({"crop_ratio": (-1, 1)}, "crop_ratio"),
        ({"aggregation": "median"}, "aggregation"),
        ({"output_size": 17}, "output_size"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_bad_parameters_raise_at_fit(dots, params, match):
    X, y = dots
    with pytest.raises(ValueError, match=match):
        MultiViewClassifier(LogisticRegression(), **params).fit(X, y)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_views": 0}, "n_views"),
        ({"crop_scale": (0.3, 0.1)}, "crop_scale"),
        ({"aggregation": "vote"}, "aggregation"),
    ],
)
def test_bad_predict_time_parameters_raise_at_predict(fitted_lr, params, match):
    clf, X, _ = fitted_lr
    clf = clone(clf).fit(X, fitted_lr[2]).set_params(**params)
    with pytest.raises(ValueError, match=match):
        clf.predict(X)


def test_bad_inputs_raise(fitted_lr):
    clf, X, labels = fitted_lr
    with pytest.raises(NotFittedError):
        MultiViewClassifier(LogisticRegression()).predict(X)
    with pytest.raises(ValueError, match="X must be 2-D"):
        clone(clf).fit(X[:, 0], labels)
    with pytest.raises(ValueError, match="X must be 4-D"):
        clf.predict(X.reshape(60, -1))
    with pytest.raises(ValueError, match="channels"):
        clf.predict(np.repeat(X, 2, axis=1))
    with pytest.raises(ValueError, match="output_size"):
        clf.predict(X[:, :, :5, :5])
    bad = X.copy()
    bad[3, 0, 2, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(bad)
    with pytest.raises(ValueError, match="NaN"):
        clone(clf).fit(bad, labels)
    clips = np.zeros((4, 3, 1, 8, 8))
    with pytest.raises(ValueError, match="clip_length"):
        MultiViewClassifier(LogisticRegression(), clip_length=5).fit(clips, [0, 1] * 2)


# ------------------------------------------------- TTA merges (pure)
def test_geometric_mean_and_max_merges():
    proba = np.array(
        [
            [[0.2, 0.8], [0.8, 0.2], [0.5, 0.5]],
            [[0.9, 0.1], [0.0, 1.0], [0.6, 0.4]],  # one view rules class 0 out
        ]
    )
    gm = aggregate_geometric_mean(proba)
    expected = np.exp(np.log(np.maximum(proba, np.finfo(float).tiny)).mean(axis=1))
    np.testing.assert_allclose(gm, expected / expected.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(gm[0], [0.5, 0.5])
    assert gm[1, 0] < 1e-90 and gm.argmax(axis=1)[1] == 1  # the veto holds
    # the arithmetic mean would have kept class 0 for sample 1
    assert aggregate_mean(proba).argmax(axis=1)[1] == 0
    mx = aggregate_max(proba)
    np.testing.assert_allclose(mx, [[0.5, 0.5], [0.9 / 1.9, 1.0 / 1.9]])
    np.testing.assert_allclose(aggregate_max(np.zeros((1, 2, 3))), [[1 / 3] * 3])
    # one class ruled out by every view keeps the order of the others
    np.testing.assert_allclose(
        aggregate_geometric_mean([[[0.0, 0.3, 0.7], [0.0, 0.6, 0.4]]]).sum(), 1.0
    )
    for func in (aggregate_geometric_mean, aggregate_max):
        with pytest.raises(ValueError, match="non-negative"):
            func([[[0.5, -0.5]]])
        with pytest.raises(ValueError, match="view_proba"):
            func([[0.5, 0.5]])


@pytest.mark.parametrize(
    ("aggregation", "merge"),
    [
        ("mean", aggregate_mean),
        ("geometric_mean", aggregate_geometric_mean),
        ("max", aggregate_max),
    ],
)
def test_classifier_merges_the_views_probabilities(fitted_lr, aggregation, merge):
    clf, X, labels = fitted_lr
    clf = clone(clf).set_params(aggregation=aggregation).fit(X, labels)
    views = RandomResizedCropViews(
        6, output_size=6, crop_scale=(0.2, 0.4), random_state=0
    )
    V = views.transform(X).reshape(360, -1)
    proba = clf.estimator_.predict_proba(V).reshape(60, 6, 2)
    np.testing.assert_allclose(clf.predict_proba(X), merge(proba), rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[merge(proba).argmax(1)])
    # chunks never change a result: the per-sample sums span chunks
    clf.set_params(batch_size=7)  # (the estimator's own float32 rounding varies)
    np.testing.assert_allclose(clf.predict_proba(X), merge(proba), rtol=1e-6)


# ------------------------------------------------ targets and estimators
def test_continuous_y_and_regressors_are_refused_with_the_regressor_named(dots):
    from sklearn.linear_model import Ridge

    X, _ = dots
    counts = np.random.default_rng(0).uniform(0, 100, 60)
    with pytest.raises(ValueError, match="continuous.*MultiViewRegressor"):
        MultiViewClassifier(LogisticRegression(), output_size=6).fit(X, counts)
    # MultiViewClassifier(Ridge()) on integer counts silently made 100 classes
    with pytest.raises(ValueError, match="regressor.*MultiViewRegressor"):
        MultiViewClassifier(Ridge(), output_size=6).fit(X, counts.round())
    with pytest.raises(ValueError, match="regressor"):
        MultiViewClassifier(FrozenEstimator(Ridge().fit(X[:, 0, 0], counts))).fit(
            X, counts.round()
        )


# ------------------------------------------------------- views parameter
def test_views_object_dihedral_and_composition(dots):
    from skcells.multiview import ComposedViews, DihedralViews

    X, y = dots
    clf = MultiViewClassifier(
        LogisticRegression(), views=DihedralViews(), random_state=0
    )
    clf.fit(X, y)
    # the non-skorch estimator was trained on the 8 elements of every sample
    assert clf.estimator_.coef_.shape == (1, 256)
    assert clf.view_shape_ == (1, 16, 16) and clf.output_size_ == (16, 16)
    labels, _ = clf.predict_views(X)
    assert labels.shape == (60, 8)
    np.testing.assert_array_equal(
        clf.sample_windows(X[:2]).elements, np.tile(np.arange(8), (2, 1))
    )
    crops = RandomResizedCropViews(2, output_size=6, crop_scale=(0.2, 0.4))
    composed = MultiViewClassifier(
        LogisticRegression(),
        views=ComposedViews(crops, DihedralViews()),
        n_train_views=3,
        random_state=0,
    ).fit(X, y)
    # n_train_views set the n_views of the crops? No: ComposedViews has none,
    # so training used its 16 views per sample
    assert composed.train_views_.n_views == 16
    assert composed.predict_views(X)[0].shape == (60, 16)
    # the crops took the classifier's random_state (theirs is None)
    w = composed.sample_windows(X)
    own = crops.set_params(random_state=0).sample_windows(X).boxes
    np.testing.assert_allclose(w.boxes[:, ::8], own)
    # a grid search reaches the views' own parameters
    search = GridSearchCV(
        MultiViewClassifier(LogisticRegression(), views=crops, random_state=0),
        {"views__n_views": [1, 3]},
        cv=2,
    ).fit(X, y)
    assert search.best_params_["views__n_views"] in (1, 3)


def test_callable_views_and_crop_parameters_beside_a_views_object(dots):
    from torchvision.transforms import v2

    X, y = dots
    clf = MultiViewClassifier(
        LogisticRegression(), views=v2.RandomCrop(6), n_views=5, random_state=0
    ).fit(X, y)
    assert clf.predict_views(X)[0].shape == (60, 5)
    np.testing.assert_array_equal(clf.predict_proba(X), clf.predict_proba(X))
    assert clf.train_views_.n_views == 1  # n_train_views
    with pytest.raises(ValueError, match=r"crop_scale=\(0.3, 0.5\) is set together"):
        clone(clf).set_params(crop_scale=(0.3, 0.5)).fit(X, y)
    views = RandomResizedCropViews(3, output_size=6)
    with pytest.raises(ValueError, match="n_views=4 is set together.*views__n_views"):
        MultiViewClassifier(LogisticRegression(), views=views, n_views=4).fit(X, y)
    fitted = MultiViewClassifier(LogisticRegression(), views=views).fit(X, y)
    with pytest.raises(ValueError, match="output_size=5 is set together"):
        fitted.set_params(output_size=5).predict(X)
    with pytest.raises(ValueError, match="n_train_views=2 is set together"):
        MultiViewClassifier(
            LogisticRegression(), output_size=6, train_views=views, n_train_views=2
        ).fit(X, y)


def test_train_views_are_fixed_at_fit_and_prediction_views_read_at_predict(dots):
    X, y = dots
    clf = MultiViewClassifier(
        LogisticRegression(),
        n_views=4,
        crop_scale=(0.2, 0.4),
        output_size=6,
        n_train_views=3,
        random_state=0,
    ).fit(X, y)
    trained = clf.train_views_
    assert trained.get_params()["crop_scale"] == (0.2, 0.4) and trained.n_views == 3
    coef = clf.estimator_.coef_.copy()
    # tuning the prediction crops after fit changes neither the recorded
    # training views nor the estimator
    clf.set_params(crop_scale=(0.5, 0.7), n_views=6)
    assert clf.predict_views(X)[0].shape == (60, 6)
    assert clf.train_views_ is trained
    np.testing.assert_array_equal(clf.estimator_.coef_, coef)
    # explicit train_views: a refit with other prediction crops trains the same
    fixed = RandomResizedCropViews(3, crop_scale=(0.2, 0.4), output_size=6)
    a = MultiViewClassifier(
        LogisticRegression(), train_views=fixed, crop_scale=(0.1, 0.2), random_state=0
    ).fit(X, y)
    b = MultiViewClassifier(
        LogisticRegression(), train_views=fixed, crop_scale=(0.5, 0.9), random_state=0
    ).fit(X, y)
    np.testing.assert_array_equal(a.estimator_.coef_, b.estimator_.coef_)
    np.testing.assert_array_equal(a.estimator_.coef_, coef)  # the same crops
    assert a.output_size_ == (6, 6)  # the prediction crops take the training size
    assert not np.array_equal(a.predict_proba(X), b.predict_proba(X))
    # training and prediction views must have one shape
    from skcells.multiview import DihedralViews

    with pytest.raises(ValueError, match="the training views"):
        MultiViewClassifier(
            LogisticRegression(), views=DihedralViews(), train_views=fixed
        ).fit(X, y)


def test_sample_windows_of_the_classifier_are_its_prediction_views(fitted_lr):
    clf, X, _ = fitted_lr
    w = clf.sample_windows(X[:5])
    views = RandomResizedCropViews(
        clf.n_views,
        crop_scale=clf.crop_scale,
        output_size=clf.output_size_,
        random_state=clf.random_state,
    )
    np.testing.assert_array_equal(w.boxes, views.sample_windows(X[:5]).boxes)


def test_huge_n_views_with_a_small_batch_size_bound_prediction_memory(dots):
    import tracemalloc

    X, y = dots
    clf = MultiViewClassifier(
        LogisticRegression(), n_views=2, output_size=2, random_state=0
    ).fit(X[:, :, :8, :8], y)
    n_views = 200_000
    clf.set_params(n_views=n_views, batch_size=2000)
    tracemalloc.start()
    try:
        proba = clf.predict_proba(X[:1, :, :8, :8])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    all_boxes = n_views * 4 * 8  # float64 boxes of every view: 6.4 MB
    assert proba.shape == (1, 2)
    assert peak < all_boxes / 4


# --------------------------------------------------------- input contract
@pytest.fixture(scope="module")
def uint8_frames():
    """uint8 frames whose class is the brightness of a central square."""
    rng = np.random.default_rng(3)
    y = np.tile([0, 1], 30)
    X = rng.integers(40, 120, (60, 3, 16, 16)).astype(np.uint8)
    X[y == 1, :, 4:12, 4:12] += 100
    return X, y


def test_uint8_fit_same_pixels_in_other_dtypes_predict_the_same_or_raise(
    uint8_frames,
):
    """The user trap: fit on uint8, predict on float32 0-255 or uint16.

    Before the input contract only uint8 was scaled to [0, 1], so the same
    pixels as float32 or uint16 were 255 times brighter for the model and
    the accuracy fell to chance without a warning.
    """
    X, y = uint8_frames
    clf = MultiViewClassifier(
        LogisticRegression(),
        n_views=5,
        output_size=4,
        crop_scale=(0.3, 0.5),
        n_train_views=3,
        random_state=0,
    ).fit(X, y)
    assert clf.input_dtype_ == np.uint8 and clf.input_range_ == (40.0, 219.0)
    assert clf.input_shape_ == (3, 16, 16) and clf.input_ndim_ == 4
    expected = clf.predict_proba(X)
    assert clf.score(X, y) > 0.8
    for dtype in (np.float32, np.float64, np.uint16, np.int64):
        np.testing.assert_array_equal(clf.predict_proba(X.astype(dtype)), expected)
    with pytest.raises(ValueError, match=r"float32 with values in \[0.*255\)\.round"):
        clf.predict(X.astype(np.float32) / 255)
    with pytest.raises(ValueError, match=r"uint16 .* in \[0, 255\]"):
        clf.predict(X.astype(np.uint16) * 16)
    with pytest.raises(ValueError, match="not all integers"):
        clf.predict(X + np.float32(0.5))
    with pytest.raises(ValueError, match=r"channels-last.*transpose\(0, 3, 1, 2\)"):
        clf.predict(X.transpose(0, 2, 3, 1))


def test_float_fit_keeps_uint8_values_and_refuses_another_scale(uint8_frames):
    X, y = uint8_frames
    clf = MultiViewClassifier(
        LogisticRegression(max_iter=1000), n_views=5, output_size=4, random_state=0
    )
    # fitted on float pixels 0..255: uint8 input keeps its values (the views
    # would otherwise scale it by 1/255)
    clf.fit(X.astype(np.float32), y)
    np.testing.assert_array_equal(
        clf.predict_proba(X), clf.predict_proba(X.astype(np.float32))
    )
    with pytest.raises(ValueError, match=r"fractions.*multiply by 255"):
        clf.predict(X.astype(np.float32) / 255)
    # fitted on [0, 1]: 0..255 is far outside the training range
    clf.fit(X.astype(np.float32) / 255, y)
    with pytest.raises(ValueError, match=r"far outside the range"):
        clf.predict(X)
    with pytest.raises(ValueError, match=r"far outside the range"):
        clf.predict(X.astype(np.float32))
    # a slightly wider range (new noise) is fine
    assert clf.predict(np.clip(X / 255 * 1.2 - 0.1, -0.1, 1.1)).shape == (60,)

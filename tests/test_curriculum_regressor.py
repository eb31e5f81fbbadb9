"""Tests of CurriculumNeuralNetRegressor and of the shared CurriculumMixin."""

import pickle

import numpy as np
import pytest
import sklearn
import torch
from sklearn.base import clone, is_regressor
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNetBinaryClassifier, NeuralNetRegressor
from skorch.callbacks import Callback

from skcells.curriculum import (
    CurriculumMixin,
    CurriculumNeuralNetClassifier,
    CurriculumNeuralNetRegressor,
    competence,
)

N_SAMPLES = 90
N_FEATURES = 6


class MLP(torch.nn.Module):
    """A tiny regressor with one output."""

    def __init__(self, hidden=8):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(N_FEATURES, hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden, 1),
        )

    def forward(self, X):
        return self.layers(X)


class RecordIds(Callback):
    """Record the sample ids (column 0 of X) of the training batches, per epoch."""

    def initialize(self):
        self.train_ids_ = []
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.train_ids_.append([])

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            self.train_ids_[-1].extend(batch[0][:, 0].round().long().tolist())


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(N_SAMPLES, N_FEATURES)).astype(np.float32)
    X[:, 0] = np.arange(N_SAMPLES)  # the sample id, read back by RecordIds
    y = (X[:, 1:3] @ np.array([2.0, -1.0]) + 5.0).astype(np.float32)[:, None]
    # a count-like difficulty: far from the mean target is hard
    difficulty = np.abs(y[:, 0] - y.mean())
    return X, y, difficulty


def make_net(**kwargs):
    params = dict(
        module=MLP,
        max_epochs=3,
        batch_size=16,
        lr=0.05,
        train_split=None,
        verbose=0,
        curriculum_epochs=6,
        initial_competence=0.1,
        competence_power=2,
    )
    params.update(kwargs)
    return CurriculumNeuralNetRegressor(**params)


def _losses(net):
    return net.history[:, "train_loss"], net.history[:, "valid_loss"]


def test_is_a_skorch_regressor():
    net = make_net()
    assert isinstance(net, NeuralNetRegressor)
    assert isinstance(net, CurriculumMixin)
    assert is_regressor(net)
    assert net.criterion is torch.nn.MSELoss


def test_the_curriculum_is_shared_not_copied():
    # One implementation: the classifier and the regressor inherit every
    # curriculum method from the mixin.
    for name in ("fit", "partial_fit", "get_split_datasets", "get_iterator"):
        shared = getattr(CurriculumMixin, name)
        assert getattr(CurriculumNeuralNetRegressor, name) is shared, name
        assert getattr(CurriculumNeuralNetClassifier, name) is shared, name
        assert name not in vars(CurriculumNeuralNetRegressor)
    assert CurriculumNeuralNetRegressor.on_epoch_begin is (
        CurriculumMixin.on_epoch_begin
    )


def test_selected_samples_follow_eq2(data):
    X, y, d = data
    net = make_net(max_epochs=5, callbacks=[("record", RecordIds())])
    net.fit(X, y, difficulty=d)
    c = competence(np.arange(5), T=6, c0=0.1, p=2)
    counts = np.floor(c * N_SAMPLES).astype(int)
    np.testing.assert_allclose(net.history[:, "competence"], c)
    assert net.history[:, "n_curriculum_samples"] == counts.tolist()
    easiest_first = np.argsort(d)
    seen = dict(net.callbacks_)["record"].train_ids_
    for ids, k in zip(seen, counts, strict=True):
        assert sorted(ids) == sorted(easiest_first[:k].tolist())


def test_without_difficulty_equals_neural_net_regressor(data):
    X, y, _ = data
    kwargs = dict(module=MLP, max_epochs=3, batch_size=16, lr=0.05, verbose=0)
    torch.manual_seed(0)
    plain = NeuralNetRegressor(**kwargs).fit(X, y)
    torch.manual_seed(0)
    curr = CurriculumNeuralNetRegressor(**kwargs).fit(X, y)
    assert _losses(curr) == _losses(plain)
    assert "competence" not in curr.history[-1]
    np.testing.assert_array_equal(curr.predict(X), plain.predict(X))
    assert curr.score(X, y) == plain.score(X, y)


def test_full_competence_equals_neural_net_regressor(data):
    X, y, d = data
    kwargs = dict(
        module=MLP,
        max_epochs=3,
        batch_size=16,
        lr=0.05,
        verbose=0,
        iterator_train__shuffle=True,
    )
    torch.manual_seed(0)
    plain = NeuralNetRegressor(**kwargs).fit(X, y)
    torch.manual_seed(0)
    curr = CurriculumNeuralNetRegressor(initial_competence=1.0, **kwargs)
    curr.fit(X, y, difficulty=d)
    assert _losses(curr) == _losses(plain)
    assert curr.history[:, "competence"] == [1.0, 1.0, 1.0]
    np.testing.assert_array_equal(curr.predict(X), plain.predict(X))


def test_curriculum_changes_training(data):
    X, y, d = data
    torch.manual_seed(0)
    plain = make_net().fit(X, y)
    torch.manual_seed(0)
    curr = make_net().fit(X, y, difficulty=d)
    assert plain.history[:, "train_loss"] != curr.history[:, "train_loss"]


def test_partial_fit_and_warm_start_continue_the_schedule(data):
    X, y, d = data
    net = make_net(max_epochs=2)
    net.partial_fit(X, y, difficulty=d)
    net.partial_fit(X, y, difficulty=d)
    np.testing.assert_allclose(
        net.history[:, "competence"], competence(np.arange(4), T=6, c0=0.1, p=2)
    )
    net.partial_fit(X, y)  # not a curriculum epoch: not counted
    assert "competence" not in net.history[-1]
    net.set_params(warm_start=True, max_epochs=1)
    net.fit(X, y, difficulty=d)
    assert net.history[-1, "competence"] == pytest.approx(
        competence(4, T=6, c0=0.1, p=2)
    )
    net.set_params(warm_start=False, max_epochs=2)
    net.fit(X, y, difficulty=d)  # cold fit: the curriculum restarts
    np.testing.assert_allclose(
        net.history[:, "competence"], competence([0, 1], T=6, c0=0.1, p=2)
    )


def test_bad_difficulty_and_hyperparameters(data):
    X, y, d = data
    with pytest.raises(ValueError, match="one value per sample of X"):
        make_net().fit(X, y, difficulty=d[:-1])
    with pytest.raises(ValueError, match="difficulty"):
        make_net().partial_fit(X, y, difficulty=np.r_[d[:-1], np.nan])
    with pytest.raises(ValueError, match="initial_competence"):
        make_net(initial_competence=0).fit(X, y, difficulty=d)
    with pytest.raises(ValueError, match="difficulty_scaling"):
        make_net(difficulty_scaling="rank").fit(X, y, difficulty=d)


def test_pickle_and_clone(data):
    X, y, d = data
    net = make_net(max_epochs=2, min_curriculum_samples=3, difficulty_scaling="minmax")
    cloned = clone(net)
    assert isinstance(cloned, CurriculumNeuralNetRegressor)
    assert cloned.get_params()["min_curriculum_samples"] == 3
    assert cloned.get_params()["difficulty_scaling"] == "minmax"
    net.fit(X, y, difficulty=d)
    restored = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(restored.predict(X), net.predict(X))
    restored.partial_fit(X, y, difficulty=d)
    np.testing.assert_allclose(
        restored.history[:, "competence"], competence(np.arange(4), T=6, c0=0.1, p=2)
    )


def test_metadata_routing(data):
    X, y, d = data
    with sklearn.config_context(enable_metadata_routing=True):
        routing = make_net().get_metadata_routing()
        assert routing.consumes("fit", ["difficulty"]) == {"difficulty"}
        assert routing.consumes("partial_fit", ["difficulty"]) == {"difficulty"}
        search = GridSearchCV(
            make_net(), {"lr": [0.05, 0.1]}, cv=3, error_score="raise"
        )
        search.fit(X, y, difficulty=d)
        assert "competence" in search.best_estimator_.history[-1]
        res = cross_validate(
            make_net(),
            X,
            y,
            cv=KFold(3),
            params={"difficulty": d},
            return_estimator=True,
        )
        for net in res["estimator"]:
            assert net.history[0, "n_curriculum_samples"] == int(0.1 * 60)
        pipe = Pipeline([("scale", StandardScaler()), ("net", make_net())])
        pipe.fit(X, y, difficulty=d)
        assert pipe.named_steps["net"].history[0, "n_curriculum_samples"] == 9


def test_grid_search_without_routing(data):
    X, y, d = data
    search = GridSearchCV(make_net(), {"lr": [0.05]}, cv=3, error_score="raise")
    search.fit(X, y, difficulty=d)
    assert search.best_estimator_.history[0, "n_curriculum_samples"] == 9


def test_the_mixin_extends_other_skorch_nets():
    class CurriculumBinaryNet(CurriculumMixin, NeuralNetBinaryClassifier):
        pass

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32)
    net = CurriculumBinaryNet(
        torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0)),
        curriculum_epochs=2,
        initial_competence=0.5,
        competence_power=1,
        max_epochs=3,
        batch_size=8,
        train_split=None,
        verbose=0,
    )
    net.fit(X, y, difficulty=np.arange(40.0))
    assert net.history[:, "n_curriculum_samples"] == [20, 30, 40]
    assert net.predict(X).shape == (40,)


class _LazyLinear(torch.nn.Module):
    """One linear output for any number of float64 features (sklearn's checks)."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.LazyLinear(1)

    def forward(self, X):
        return self.linear(X.float())


def _failed_sklearn_checks(cls):
    from sklearn.utils.estimator_checks import check_estimator

    net = cls(_LazyLinear, max_epochs=2, train_split=None, verbose=0)
    with pytest.warns():  # skorch's nets warn through many checks
        results = check_estimator(net, on_fail=None)
    return {r["check_name"] for r in results if r["status"] == "failed"}


def test_sklearn_checks_fail_only_where_skorch_regressor_does():
    # skorch's NeuralNetRegressor is not a fully compliant scikit-learn
    # estimator (no n_features_in_, no NaN check, 2-D y, ...); the curriculum
    # must not add a single failing check to skorch's own.
    plain = _failed_sklearn_checks(NeuralNetRegressor)
    curriculum = _failed_sklearn_checks(CurriculumNeuralNetRegressor)
    assert curriculum == plain
    assert "check_get_params_invariance" not in curriculum
    assert "check_parameters_default_constructible" not in curriculum

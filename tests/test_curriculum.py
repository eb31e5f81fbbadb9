"""Tests of CurriculumNeuralNetClassifier and plot_curriculum."""

import pickle

import matplotlib
import numpy as np
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.model_selection import (
    GridSearchCV,
    PredefinedSplit,
    StratifiedKFold,
    cross_validate,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback
from skorch.dataset import Dataset, ValidSplit
from torch.utils.data import Subset

from skcells.curriculum import (
    CurriculumNeuralNetClassifier,
    competence,
    plot_curriculum,
    scale_difficulty,
)

matplotlib.use("Agg")

N_SAMPLES = 97
N_FEATURES = 8


class MLP(torch.nn.Module):
    """A tiny classifier returning probabilities."""

    def __init__(self, hidden=8):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(N_FEATURES, hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden, 2),
        )

    def forward(self, X):
        return torch.softmax(self.layers(X), dim=-1)


class RecordIds(Callback):
    """Record the sample ids (column 0 of X) of every batch, per epoch."""

    def initialize(self):
        self.train_ids_ = []
        self.valid_ids_ = []
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.train_ids_.append([])
        self.valid_ids_.append([])

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        ids = batch[0][:, 0].round().long().tolist()
        (self.train_ids_ if training else self.valid_ids_)[-1].extend(ids)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(42)
    X = rng.normal(size=(N_SAMPLES, N_FEATURES)).astype(np.float32)
    X[:, 0] = np.arange(N_SAMPLES)  # the sample id, read back by RecordIds
    y = (X[:, 1] + 0.3 * X[:, 2] > 0).astype(np.int64)
    difficulty = rng.permutation(N_SAMPLES) / N_SAMPLES  # distinct values
    return X, y, difficulty


def make_net(**kwargs):
    params = dict(
        module=MLP,
        max_epochs=3,
        batch_size=16,
        lr=0.1,
        train_split=None,
        verbose=0,
        curriculum_epochs=6,
        initial_competence=0.1,
        competence_power=2,
    )
    params.update(kwargs)
    return CurriculumNeuralNetClassifier(**params)


def expected_counts(n_train, n_epochs, *, T=6, c0=0.1, p=2, start=0):
    c = competence(np.arange(start, start + n_epochs), T=T, c0=c0, p=p)
    return c, np.floor(c * n_train).astype(int)


def recorder(net):
    return dict(net.callbacks_)["record"]


# ---------------------------------------------------------------- selection


def test_selected_count_follows_eq2(data):
    X, y, d = data
    net = make_net(max_epochs=8).fit(X, y, difficulty=d)
    c, counts = expected_counts(N_SAMPLES, 8)
    np.testing.assert_allclose(net.history[:, "competence"], c)
    assert net.history[:, "n_curriculum_samples"] == counts.tolist()
    # Batch sizes logged by skorch add up to the selection.
    trained = [
        sum(row["train_batch_size"] for row in e["batches"]) for e in net.history
    ]
    assert trained == counts.tolist()


def test_easiest_samples_are_selected(data):
    X, y, d = data
    net = make_net(max_epochs=5, callbacks=[("record", RecordIds())])
    net.fit(X, y, difficulty=d)
    _, counts = expected_counts(N_SAMPLES, 5)
    easiest_first = np.argsort(d)
    for seen, k in zip(recorder(net).train_ids_, counts, strict=True):
        assert sorted(seen) == sorted(easiest_first[:k].tolist())


def test_shuffled_iterator_uses_the_same_selection(data):
    X, y, d = data
    net = make_net(
        max_epochs=3,
        iterator_train__shuffle=True,
        callbacks=[("record", RecordIds())],
    )
    net.fit(X, y, difficulty=d)
    _, counts = expected_counts(N_SAMPLES, 3)
    for seen, k in zip(recorder(net).train_ids_, counts, strict=True):
        assert sorted(seen) == sorted(np.argsort(d)[:k].tolist())


@pytest.mark.parametrize("nested", [False, True])
def test_difficulty_follows_the_training_split(data, nested):
    X, y, _ = data
    valid_idx = np.arange(0, N_SAMPLES, 5)
    train_idx = np.setdiff1d(np.arange(N_SAMPLES), valid_idx)
    # The validation samples are the easiest of all: a curriculum that ignored
    # the split would pick them.
    d = np.linspace(1.0, 2.0, N_SAMPLES)
    d[valid_idx] = np.linspace(0.0, 0.1, valid_idx.size)

    if nested:
        # Training part drawn through two levels of Subset.
        first = np.r_[train_idx[::-1], valid_idx]

        def split(dataset, y=None):
            outer = Subset(dataset, first)
            return (
                Subset(outer, np.arange(train_idx.size)),
                Subset(dataset, valid_idx),
            )

        train_split = split
    else:
        test_fold = np.full(N_SAMPLES, -1)
        test_fold[valid_idx] = 0
        train_split = ValidSplit(PredefinedSplit(test_fold))

    net = make_net(
        max_epochs=4, train_split=train_split, callbacks=[("record", RecordIds())]
    )
    net.fit(X, y, difficulty=d)
    _, counts = expected_counts(train_idx.size, 4)
    assert net.history[:, "n_curriculum_samples"] == counts.tolist()
    rec = recorder(net)
    easiest_train = train_idx[np.argsort(d[train_idx])]
    for seen, k in zip(rec.train_ids_, counts, strict=True):
        assert sorted(seen) == sorted(easiest_train[:k].tolist())
    # Validation always covers the whole validation split.
    for seen in rec.valid_ids_:
        assert sorted(seen) == valid_idx.tolist()


def test_dataset_inputs_align_with_x(data):
    X, y, d = data
    # X itself a Subset: positions refer to X, not to the dataset below it.
    base = Dataset(np.r_[X, X], np.r_[y, y])
    X_sub = Subset(base, np.arange(N_SAMPLES, 2 * N_SAMPLES))
    net = make_net(max_epochs=2, callbacks=[("record", RecordIds())])
    net.fit(X_sub, None, difficulty=d)
    _, counts = expected_counts(N_SAMPLES, 2)
    for seen, k in zip(recorder(net).train_ids_, counts, strict=True):
        assert sorted(seen) == sorted(np.argsort(d)[:k].tolist())


def test_unalignable_training_dataset_raises(data):
    X, y, d = data

    def split(dataset, y=None):  # returns fresh datasets, not Subsets of X
        return Dataset(X[:50], y[:50]), Dataset(X[50:], y[50:])

    net = make_net(train_split=split)
    with pytest.raises(ValueError, match="difficulty has 97 values"):
        net.fit(X, y, difficulty=d)


def test_non_subset_training_dataset_of_same_length_is_positional(data):
    X, y, d = data
    order = np.argsort(-d)  # hardest first

    def split(dataset, y=None):
        return Dataset(X[order], y[order]), None

    net = make_net(max_epochs=1, train_split=split, callbacks=[("record", RecordIds())])
    net.fit(X, y, difficulty=d)
    # Position i of the training dataset is taken to have difficulty d[i].
    k = expected_counts(N_SAMPLES, 1)[1][0]
    assert sorted(recorder(net).train_ids_[0]) == sorted(order[np.argsort(d)[:k]])


@pytest.mark.parametrize(
    ("min_samples", "expected"), [(None, 16), (5, 5), (30, 30), (200, N_SAMPLES)]
)
def test_low_competence_falls_back_to_easiest_samples(data, min_samples, expected):
    X, y, d = data
    # c0 * n < 1: no sample qualifies in the first epoch.
    net = make_net(
        max_epochs=1,
        initial_competence=0.005,
        min_curriculum_samples=min_samples,
        callbacks=[("record", RecordIds())],
    )
    net.fit(X, y, difficulty=d)
    assert net.history[-1, "n_curriculum_samples"] == expected
    assert sorted(recorder(net).train_ids_[0]) == sorted(np.argsort(d)[:expected])


def test_fallback_batch_uses_iterator_batch_size(data):
    X, y, d = data
    net = make_net(max_epochs=1, initial_competence=0.005, iterator_train__batch_size=7)
    net.fit(X, y, difficulty=d)
    assert net.history[-1, "n_curriculum_samples"] == 7


def test_min_curriculum_samples_below_selection_is_inactive(data):
    X, y, d = data
    net = make_net(max_epochs=3, min_curriculum_samples=5).fit(X, y, difficulty=d)
    assert (
        net.history[:, "n_curriculum_samples"]
        == expected_counts(N_SAMPLES, 3)[1].tolist()
    )


@pytest.mark.parametrize("scaling", ["minmax", "none"])
def test_other_scalings(data, scaling):
    X, y, d = data
    net = make_net(max_epochs=3, difficulty_scaling=scaling).fit(X, y, difficulty=d)
    c = np.asarray(net.history[:, "competence"])
    scaled = scale_difficulty(d, scaling)
    expected = [int(np.sum(scaled <= ci)) for ci in c]
    assert net.history[:, "n_curriculum_samples"] == expected


def test_default_curriculum_length_is_half_of_max_epochs(data):
    X, y, d = data
    net = make_net(max_epochs=4, curriculum_epochs=None).fit(X, y, difficulty=d)
    np.testing.assert_allclose(
        net.history[:, "competence"], competence(np.arange(4), T=2, c0=0.1, p=2)
    )


# ---------------------------------------------- equivalence and continuation


def _losses(net):
    return net.history[:, "train_loss"], net.history[:, "valid_loss"]


def test_without_difficulty_equals_neural_net_classifier(data):
    X, y, _ = data
    kwargs = dict(module=MLP, max_epochs=3, batch_size=16, lr=0.1, verbose=0)
    torch.manual_seed(0)
    plain = NeuralNetClassifier(**kwargs).fit(X, y)
    torch.manual_seed(0)
    curr = CurriculumNeuralNetClassifier(**kwargs).fit(X, y)
    assert _losses(curr) == _losses(plain)
    assert "competence" not in curr.history[-1]
    np.testing.assert_array_equal(curr.predict_proba(X), plain.predict_proba(X))


def test_full_competence_equals_neural_net_classifier(data):
    X, y, d = data
    kwargs = dict(
        module=MLP,
        max_epochs=3,
        batch_size=16,
        lr=0.1,
        verbose=0,
        iterator_train__shuffle=True,
    )
    torch.manual_seed(0)
    plain = NeuralNetClassifier(**kwargs).fit(X, y)
    torch.manual_seed(0)
    curr = CurriculumNeuralNetClassifier(initial_competence=1.0, **kwargs)
    curr.fit(X, y, difficulty=d)
    assert _losses(curr) == _losses(plain)
    assert curr.history[:, "competence"] == [1.0, 1.0, 1.0]


def test_partial_fit_and_warm_start_continue_the_schedule(data):
    X, y, d = data
    net = make_net(max_epochs=2)
    net.partial_fit(X, y, difficulty=d)
    net.partial_fit(X, y, difficulty=d)
    c, counts = expected_counts(N_SAMPLES, 4)
    np.testing.assert_allclose(net.history[:, "competence"], c)
    assert net.history[:, "n_curriculum_samples"] == counts.tolist()

    # An epoch without difficulty trains on everything and is not counted.
    net.partial_fit(X, y)
    assert "competence" not in net.history[-1]
    net.partial_fit(X, y, difficulty=d)
    np.testing.assert_allclose(
        net.history[-2:, "competence"], competence([4, 5], T=6, c0=0.1, p=2)
    )

    net.set_params(warm_start=True)
    net.fit(X, y, difficulty=d)
    assert net.history[-1, "competence"] == pytest.approx(
        competence(7, T=6, c0=0.1, p=2)
    )

    net.set_params(warm_start=False)
    net.fit(X, y, difficulty=d)  # cold fit: the curriculum restarts
    np.testing.assert_allclose(net.history[:, "competence"], c[:2])


def test_pickle_and_clone(data):
    X, y, d = data
    net = make_net(max_epochs=2, min_curriculum_samples=3, difficulty_scaling="minmax")
    params = net.get_params()
    for name, value in [
        ("curriculum_epochs", 6),
        ("initial_competence", 0.1),
        ("competence_power", 2),
        ("difficulty_scaling", "minmax"),
        ("min_curriculum_samples", 3),
    ]:
        assert params[name] == value
    cloned = clone(net)
    assert cloned.get_params()["min_curriculum_samples"] == 3
    cloned.set_params(initial_competence=0.5, curriculum_epochs=3)
    assert (cloned.initial_competence, cloned.curriculum_epochs) == (0.5, 3)

    net.set_params(difficulty_scaling="cdf").fit(X, y, difficulty=d)
    restored = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(restored.predict_proba(X), net.predict_proba(X))
    # The schedule survives pickling with the history.
    restored.partial_fit(X, y, difficulty=d)
    np.testing.assert_allclose(
        restored.history[:, "competence"],
        competence(np.arange(4), T=6, c0=0.1, p=2),
    )
    assert clone(net).get_params()["difficulty_scaling"] == "cdf"
    assert not clone(net).initialized_


# -------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("difficulty", "error", "match"),
    [
        (np.zeros(N_SAMPLES - 1), ValueError, "one value per sample of X"),
        (np.r_[np.zeros(N_SAMPLES - 1), np.nan], ValueError, "NaN or infinity"),
        (np.r_[np.inf, np.zeros(N_SAMPLES - 1)], ValueError, "NaN or infinity"),
        (np.zeros((N_SAMPLES, 1)), ValueError, "1-D"),
        ("hard", TypeError, "difficulty"),
    ],
)
def test_bad_difficulty(data, difficulty, error, match):
    X, y, _ = data
    net = make_net()
    with pytest.raises(error, match=match) as info:
        net.fit(X, y, difficulty=difficulty)
    assert "difficulty" in str(info.value)
    with pytest.raises(error, match=match):
        net.partial_fit(X, y, difficulty=difficulty)


@pytest.mark.parametrize(
    ("params", "error", "name"),
    [
        ({"curriculum_epochs": 0}, ValueError, "curriculum_epochs"),
        ({"curriculum_epochs": -3}, ValueError, "curriculum_epochs"),
        ({"curriculum_epochs": "10"}, TypeError, "curriculum_epochs"),
        ({"initial_competence": 0.0}, ValueError, "initial_competence"),
        ({"initial_competence": 1.5}, ValueError, "initial_competence"),
        ({"competence_power": 0.5}, ValueError, "competence_power"),
        ({"difficulty_scaling": "rank"}, ValueError, "difficulty_scaling"),
        ({"min_curriculum_samples": 0}, ValueError, "min_curriculum_samples"),
        ({"min_curriculum_samples": 2.5}, TypeError, "min_curriculum_samples"),
    ],
)
def test_bad_hyperparameters(data, params, error, name):
    X, y, d = data
    net = make_net(**params)
    with pytest.raises(error, match=name):
        net.fit(X, y, difficulty=d)


def test_difficulty_out_of_range_without_scaling(data):
    X, y, d = data
    net = make_net(difficulty_scaling="none")
    with pytest.raises(ValueError, match=r"difficulty must lie in \[0, 1\]"):
        net.fit(X, y, difficulty=d + 1.0)


# ------------------------------------------------- scikit-learn integration


def _fold_sizes(X, y):
    return [train.size for train, _ in StratifiedKFold(3).split(X, y)]


def _check_fold_nets(nets, n_train_folds):
    for net, n_train in zip(nets, n_train_folds, strict=True):
        assert (
            net.history[:, "n_curriculum_samples"]
            == expected_counts(n_train, 3)[1].tolist()
        )


def test_grid_search_and_cross_validate_without_routing(data):
    X, y, d = data
    # error_score="raise": an unsliced difficulty would fail the length check.
    search = GridSearchCV(
        make_net(), {"lr": [0.05, 0.1]}, cv=3, error_score="raise", refit=True
    )
    search.fit(X, y, difficulty=d)
    assert (
        search.best_estimator_.history[-1, "n_curriculum_samples"]
        == (expected_counts(N_SAMPLES, 3)[1][-1])
    )
    res = cross_validate(
        make_net(), X, y, cv=3, params={"difficulty": d}, return_estimator=True
    )
    _check_fold_nets(res["estimator"], _fold_sizes(X, y))


def test_pipeline_without_routing(data):
    X, y, d = data
    pipe = Pipeline([("scale", StandardScaler()), ("net", make_net())])
    pipe.fit(X, y, net__difficulty=d)
    _check_fold_nets([pipe.named_steps["net"]], [N_SAMPLES])


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
            make_net(), X, y, cv=3, params={"difficulty": d}, return_estimator=True
        )
        _check_fold_nets(res["estimator"], _fold_sizes(X, y))

        pipe = Pipeline([("scale", StandardScaler()), ("net", make_net())])
        pipe.fit(X, y, difficulty=d)
        _check_fold_nets([pipe.named_steps["net"]], [N_SAMPLES])

        # An alias set through skorch's set_fit_request is honoured too.
        aliased = make_net().set_fit_request(difficulty="hardness")
        Pipeline([("net", aliased)]).fit(X, y, hardness=d)
        _check_fold_nets([aliased], [N_SAMPLES])


# ------------------------------------------------------------------- plot


def test_plot_curriculum(data):
    import matplotlib.pyplot as plt

    X, y, d = data
    net = make_net(max_epochs=4).fit(X, y, difficulty=d)
    fig = plot_curriculum(
        d, curriculum_epochs=6, initial_competence=0.1, n_epochs=8, history=net.history
    )
    try:
        ax_hist, ax_comp = fig.axes
        heights = [patch.get_height() for patch in ax_hist.patches]
        assert sum(heights) == N_SAMPLES
        curve, admitted, recorded = ax_comp.get_lines()[:3]
        np.testing.assert_allclose(
            curve.get_ydata(), competence(np.arange(9), T=6, c0=0.1, p=2)
        )
        np.testing.assert_allclose(
            admitted.get_ydata(), np.floor(curve.get_ydata() * N_SAMPLES) / N_SAMPLES
        )
        np.testing.assert_allclose(recorded.get_ydata(), net.history[:, "competence"])
    finally:
        plt.close(fig)

    fig, axes = plt.subplots(1, 2)
    try:
        assert plot_curriculum(d, curriculum_epochs=3, axes=axes) is fig
        assert len(axes[1].get_lines()[0].get_xdata()) == 5  # ceil(1.25 * 3) + 1
    finally:
        plt.close(fig)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"curriculum_epochs": 0}, ValueError, "curriculum_epochs"),
        ({"initial_competence": 2.0}, ValueError, "initial_competence"),
        ({"competence_power": 0.0}, ValueError, "competence_power"),
        ({"n_epochs": 0}, ValueError, "n_epochs"),
        ({"bins": 2.5}, TypeError, "bins"),
        ({"difficulty_scaling": "rank"}, ValueError, "difficulty_scaling"),
    ],
)
def test_plot_curriculum_bad_input(kwargs, error, name):
    params = {"curriculum_epochs": 10}
    params.update(kwargs)
    with pytest.raises(error, match=name):
        plot_curriculum([0.1, 0.5, 0.9], **params)


class RecordIteratorLength(Callback):
    """Record len() of the training iterator the net hands out each epoch."""

    def initialize(self):
        self.lengths_ = []
        return self

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        self.lengths_.append(len(net.get_iterator(dataset_train, training=True)))


def test_training_iterator_length_follows_the_selection(data):
    X, y, d = data
    net = make_net(max_epochs=4, callbacks=[("lengths", RecordIteratorLength())])
    net.fit(X, y, difficulty=d)
    counts = net.history[:, "n_curriculum_samples"]
    assert dict(net.callbacks_)["lengths"].lengths_ == [-(-k // 16) for k in counts]
    assert net.history[:, "train_batch_count"] == [-(-k // 16) for k in counts]

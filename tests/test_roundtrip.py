"""Round trips: pickle, clone and weights-only save/load keep predictions.

Fitted estimators pickled and unpickled (in this process and in a fresh
interpreter) predict exactly as before; ``clone`` plus a refit with the same
``random_state`` (and torch seed) reproduces the predictions; a fitted
:class:`~skcells.multiview.MultiViewClassifier` around a skorch net restored
from skorch ``save_params``/``load_params`` files (torch and safetensors)
predicts the same.
"""

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression

from skcells.curriculum import CurriculumNeuralNetClassifier
from skcells.datasets import SyntheticBloodVideos
from skcells.multiview import MultiViewClassifier, RandomResizedCropViews
from skcells.tuning import PredictTimeSpace

_RNG = np.random.default_rng(0)
Y_STR = np.repeat(["high", "low"], 12)
Y_INT = (Y_STR == "high").astype(np.int64)
SHIFT = Y_INT[:, None, None, None]
IMAGES = (_RNG.normal(size=(24, 3, 16, 16)) + SHIFT).astype(np.float32)
CLIPS = (_RNG.normal(size=(24, 5, 1, 12, 12)) + SHIFT[:, None]).astype(np.float32)
FLAT = _RNG.normal(size=(24, 20)) + Y_INT[:, None]
D = _RNG.uniform(size=24)


def _outputs(clf, X):
    labels, conf = clf.predict_views(X)
    return clf.predict(X), clf.predict_proba(X), labels, conf


def _assert_same_outputs(a, b):
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def _round_trip(obj):
    return pickle.loads(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


class SmallCNN(torch.nn.Module):
    """A two-layer convolutional net (logits), small enough for 2 CPU cores."""

    def __init__(self, n_classes=2, width=4):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(3, width, 3, padding=1),
            torch.nn.BatchNorm2d(width),
            torch.nn.LeakyReLU(0.01),
            torch.nn.Conv2d(width, width, 3, padding=1),
            torch.nn.AdaptiveAvgPool2d(1),
            torch.nn.Flatten(),
        )
        self.head = torch.nn.Linear(width, n_classes)

    def forward(self, x):
        return self.head(self.features(x))


def _cnn_net(**params):
    params = {
        "module__n_classes": 2,
        "criterion": torch.nn.CrossEntropyLoss,
        "optimizer": torch.optim.Adam,
        "lr": 1e-2,
        "max_epochs": 2,
        "batch_size": 8,
        "curriculum_epochs": 1,
        "initial_competence": 0.5,
        "train_split": None,
        "verbose": 0,
        **params,
    }
    return CurriculumNeuralNetClassifier(SmallCNN, **params)


def _cnn_multiview(**params):
    params = {
        "n_views": 3,
        "crop_scale": (0.6, 1.0),
        "output_size": 10,
        "aggregation": "mean",
        "random_state": 0,
        **params,
    }
    return MultiViewClassifier(_cnn_net(), **params)


@pytest.fixture(scope="module")
def cnn_multiview():
    """A MultiViewClassifier around a curriculum CNN, fitted once."""
    torch.manual_seed(0)
    return _cnn_multiview().fit(IMAGES, Y_STR, difficulty=D)


# ----------------------------------------------------------- sklearn estimators
@pytest.mark.parametrize(
    ("X", "params"),
    [
        pytest.param(IMAGES, {"output_size": 6}, id="images"),
        pytest.param(CLIPS, {"output_size": 5, "clip_length": 3}, id="clips"),
        pytest.param(FLAT, {}, id="flat"),
    ],
)
@pytest.mark.parametrize("aggregation", ["mode", "weighted", "mean"])
def test_pickle_and_clone_of_a_fitted_multiview_classifier(X, params, aggregation):
    clf = MultiViewClassifier(
        LogisticRegression(max_iter=300),
        n_views=4,
        n_train_views=2,
        aggregation=aggregation,
        random_state=0,
        **params,
    ).fit(X, Y_STR)
    before = _outputs(clf, X)
    _assert_same_outputs(_outputs(_round_trip(clf), X), before)
    refit = clone(clf).fit(X, Y_STR)
    _assert_same_outputs(_outputs(refit, X), before)
    # predict-time parameters still act on the unpickled copy, without refit
    copy = _round_trip(clf).set_params(n_views=2)
    assert copy.predict_views(X)[0].shape == (len(X), 2)
    assert copy.estimator_.coef_.tobytes() == clf.estimator_.coef_.tobytes()


def test_pickle_of_a_multiview_classifier_around_a_frozen_estimator():
    inner = LogisticRegression(max_iter=300).fit(FLAT[:, :10], Y_STR)
    clf = MultiViewClassifier(
        FrozenEstimator(inner), crop_scale=(0.5, 0.5), output_size=10, random_state=0
    ).fit(FLAT, Y_STR)
    _assert_same_outputs(_outputs(_round_trip(clf), FLAT), _outputs(clf, FLAT))


def test_views_and_datasets_pickle_to_the_same_draws():
    views = RandomResizedCropViews(3, output_size=8, random_state=7)
    np.testing.assert_array_equal(
        _round_trip(views).transform(IMAGES), views.transform(IMAGES)
    )
    dataset = SyntheticBloodVideos(n_videos=3, n_frames=2, size=16, random_state=4)
    copy = _round_trip(dataset)
    for i in range(3):
        np.testing.assert_array_equal(copy[i][0], dataset[i][0])
        assert copy[i][1] == dataset[i][1]
    space = PredictTimeSpace(n_views=(2, 5), aggregation=("mode",))
    assert _round_trip(space) == space


# ---------------------------------------------------------------- skorch nets
def test_pickle_and_clone_of_a_fitted_curriculum_net():
    X = FLAT.astype(np.float32)

    def fit(net):
        torch.manual_seed(0)
        return net.fit(X, Y_INT, difficulty=D)

    net = fit(
        CurriculumNeuralNetClassifier(
            torch.nn.Linear,  # a class: clone + fit re-initialises the weights
            module__in_features=20,
            module__out_features=2,
            criterion=torch.nn.CrossEntropyLoss,
            max_epochs=3,
            batch_size=8,
            train_split=None,
            verbose=0,
        )
    )
    proba = net.predict_proba(X)
    copy = _round_trip(net)
    np.testing.assert_array_equal(copy.predict_proba(X), proba)
    assert copy.history[:, "competence"] == net.history[:, "competence"]
    np.testing.assert_array_equal(fit(clone(net)).predict_proba(X), proba)


def test_pickle_of_a_multiview_classifier_around_a_skorch_net(cnn_multiview):
    before = _outputs(cnn_multiview, IMAGES)
    _assert_same_outputs(_outputs(_round_trip(cnn_multiview), IMAGES), before)


def test_clone_and_refit_of_a_multiview_skorch_classifier_is_reproducible(
    cnn_multiview,
):
    torch.manual_seed(0)
    refit = clone(cnn_multiview).fit(IMAGES, Y_STR, difficulty=D)
    _assert_same_outputs(_outputs(refit, IMAGES), _outputs(cnn_multiview, IMAGES))


@pytest.mark.parametrize("use_safetensors", [False, True])
def test_skorch_params_restore_a_multiview_classifier(
    cnn_multiview, tmp_path, use_safetensors
):
    """Weights-only files (no pickle) restore the fitted net inside."""
    before = _outputs(cnn_multiview, IMAGES)
    path = tmp_path / ("params.safetensors" if use_safetensors else "params.pt")
    cnn_multiview.estimator_.save_params(f_params=path, use_safetensors=use_safetensors)

    restored = _round_trip(cnn_multiview)
    torch.manual_seed(123)
    restored.estimator_.initialize()  # fresh random weights
    assert not np.array_equal(restored.predict_views(IMAGES)[1], before[3])
    restored.estimator_.load_params(f_params=path, use_safetensors=use_safetensors)
    _assert_same_outputs(_outputs(restored, IMAGES), before)


def test_pickled_multiview_classifier_predicts_the_same_in_a_fresh_process(
    cnn_multiview, tmp_path
):
    model = tmp_path / "model.pkl"
    data = tmp_path / "X.npy"
    out = tmp_path / "proba.npy"
    model.write_bytes(pickle.dumps(cnn_multiview))
    np.save(data, IMAGES)
    code = (
        "import pickle, sys, numpy as np\n"
        "clf = pickle.loads(open(sys.argv[1], 'rb').read())\n"
        "X = np.load(sys.argv[2])\n"
        "np.save(sys.argv[3], clf.predict_proba(X))\n"
        "print(''.join(clf.predict(X)))\n"
    )
    # the pickled net refers to SmallCNN of this module: make it importable
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    proc = subprocess.run(
        [sys.executable, "-c", code, str(model), str(data), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(np.load(out), cnn_multiview.predict_proba(IMAGES))
    assert proc.stdout.strip() == "".join(cnn_multiview.predict(IMAGES))

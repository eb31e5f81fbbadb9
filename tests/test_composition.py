"""The paper's pipeline composes with scikit-learn's tools.

A ``Pipeline`` of a preprocessing step and
``MultiViewClassifier(CurriculumNeuralNetClassifier)`` goes through
``GridSearchCV`` and ``cross_validate`` with ``StratifiedKFold`` and
``n_jobs=2``, with and without metadata routing, and ``difficulty`` reaches
the curriculum network of every fold sliced to the fold's training samples.
"""

import numpy as np
import pytest
import sklearn
import torch
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from skcells.curriculum import CurriculumNeuralNetClassifier
from skcells.multiview import MultiViewClassifier

N_SAMPLES = 32
N_SPLITS = 2


class TinyConvNet(torch.nn.Module):
    """A few hundred parameters: conv, pooling, linear; returns logits."""

    def __init__(self, n_classes=2, channels=4):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, channels, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(1),
            torch.nn.Flatten(),
        )
        self.head = torch.nn.Linear(channels, n_classes)

    def forward(self, x):
        return self.head(self.features(x))


def to_unit_float(X):
    """The preprocessing step: uint8 frames to float32 in [0, 1]."""
    return np.asarray(X, dtype=np.float32) / np.float32(255.0)


@pytest.fixture(scope="module")
def data():
    """Small uint8 'cell' images: class 1 has a bright square, class 0 not."""
    rng = np.random.default_rng(0)
    y = np.tile([0, 1], N_SAMPLES // 2)
    X = rng.integers(0, 120, size=(N_SAMPLES, 1, 16, 16)).astype(np.float32)
    X[y == 1, :, 4:12, 4:12] += 120
    difficulty = rng.uniform(size=N_SAMPLES)
    return X.astype(np.uint8), y, difficulty


def make_pipeline(max_epochs=2):
    net = CurriculumNeuralNetClassifier(
        TinyConvNet,
        criterion=torch.nn.CrossEntropyLoss,
        curriculum_epochs=1,
        initial_competence=0.5,
        competence_power=1,
        max_epochs=max_epochs,
        lr=0.05,
        batch_size=16,
        train_split=None,
        verbose=0,
    )
    clf = MultiViewClassifier(
        net, n_views=3, crop_scale=(0.3, 0.6), output_size=8, random_state=0
    )
    return Pipeline([("scale", FunctionTransformer(to_unit_float)), ("clf", clf)])


def _net(fitted_pipeline):
    return fitted_pipeline.named_steps["clf"].estimator_


def _trained_on(net):
    """Training samples of the last (competence 1) curriculum epoch."""
    assert net.history[-1, "competence"] == pytest.approx(1.0)
    return net.history[-1, "n_curriculum_samples"]


@pytest.mark.parametrize("routing", [False, True], ids=["plain", "routing"])
def test_cross_validate_routes_difficulty_per_fold(data, routing):
    X, y, difficulty = data
    cv = StratifiedKFold(n_splits=N_SPLITS, shuffle=True, random_state=0)
    params = {"difficulty": difficulty} if routing else {"clf__difficulty": difficulty}
    with sklearn.config_context(enable_metadata_routing=routing):
        result = cross_validate(
            make_pipeline(),
            X,
            y,
            cv=cv,
            params=params,
            n_jobs=2,
            scoring="accuracy",
            return_estimator=True,
            error_score="raise",
        )
    assert result["test_score"].shape == (N_SPLITS,)
    assert np.all((result["test_score"] >= 0) & (result["test_score"] <= 1))
    for (train, _), fitted in zip(cv.split(X, y), result["estimator"]):
        # The curriculum ran, on exactly the fold's training samples.
        assert _trained_on(_net(fitted)) == len(train)


@pytest.mark.parametrize("routing", [False, True], ids=["plain", "routing"])
def test_grid_search_over_predict_and_training_parameters(data, routing):
    X, y, difficulty = data
    cv = StratifiedKFold(n_splits=N_SPLITS, shuffle=True, random_state=0)
    grid = {
        "clf__n_views": [1, 3],
        "clf__aggregation": ["mode", "weighted"],
        "clf__estimator__initial_competence": [0.25, 0.5],
    }
    search = GridSearchCV(
        make_pipeline(),
        grid,
        cv=cv,
        scoring="accuracy",
        n_jobs=2,
        error_score="raise",
    )
    params = {"difficulty": difficulty} if routing else {"clf__difficulty": difficulty}
    with sklearn.config_context(enable_metadata_routing=routing):
        search.fit(X, y, **params)
        predictions = search.predict(X)
    n_candidates = 8
    assert len(search.cv_results_["params"]) == n_candidates
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert set(search.best_params_) == set(grid)
    # The refit on all the data trained the curriculum on every sample.
    assert _trained_on(_net(search.best_estimator_)) == N_SAMPLES
    assert predictions.shape == (N_SAMPLES,)
    assert set(np.unique(predictions)) <= {0, 1}


def test_routing_without_difficulty_request_is_refused(data):
    """Routing on and the net's request switched off: sklearn refuses."""
    X, y, difficulty = data
    pipe = make_pipeline(max_epochs=1)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe.named_steps["clf"].estimator.set_fit_request(difficulty=False)
        with pytest.raises(TypeError, match="difficulty"):
            pipe.fit(X, y, difficulty=difficulty)


def test_pipeline_default_score_under_routing(data):
    X, y, difficulty = data
    pipe = make_pipeline(max_epochs=1)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe.fit(X, y, difficulty=difficulty)
        score = pipe.score(X, y)
    assert 0 <= score <= 1

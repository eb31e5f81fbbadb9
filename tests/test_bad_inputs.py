"""Every public entry point refuses bad input with a typed, named error.

Each case calls one public function, estimator method or ``skcells`` command
with one invalid argument and checks the exception class and that its
message names the parameter (``match=``).  Cases carry the class of invalid
input they exercise (wrong type, wrong ndim, empty, NaN/inf, out of range,
unknown option, mismatched lengths, unfitted use, a single class in y), and
``test_every_invalid_input_class_is_covered`` checks that every class is
tried.  ``tests/conftest.py`` prints the number of cases that ran at the end
of the session (``bad-input cases: N``).

Messages that come from scikit-learn's own validators (``check_array``,
``check_consistent_length``) keep scikit-learn's wording, which names the
array (``Input X contains NaN``) or the problem (``0 sample(s)``,
``inconsistent numbers of samples``) rather than always the argument.
"""

import functools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, Perceptron, Ridge
from sklearn.pipeline import make_pipeline
from skorch import NeuralNetClassifier

from skcells import cli
from skcells.curriculum import (
    CurriculumNeuralNetClassifier,
    CurriculumNeuralNetRegressor,
    competence,
    difficulty_score,
    plot_curriculum,
    scale_difficulty,
)
from skcells.datasets import (
    GenerationParams,
    SyntheticBloodVideos,
    add_noise,
    box_blur,
    cell_positions,
    degrade,
    estimate_blur,
    estimate_difficulty,
    fetch_bccd,
    fetch_synthetic_blood_videos,
    get_data_home,
    high_frequency_energy,
    load_videos,
    plot_sample_frames,
    render_video,
    save_video_gif,
    splat_cells,
    sprite_profiles,
    summarize_conditions,
)
from skcells.models import (
    CNN9,
    X3D,
    ScaleUint8,
    count_parameters,
    freeze_all_but,
    load_state_dict_with_new_head,
    make_model,
    read_checkpoint,
    resnet18,
    vit_l16,
)
from skcells.multiview import (
    ComposedViews,
    DihedralViews,
    MultiViewClassifier,
    MultiViewRegressor,
    RandomResizedCropViews,
    TransformViews,
    aggregate_geometric_mean,
    aggregate_max,
    aggregate_mean,
    aggregate_mode,
    aggregate_weighted,
    view_agreement,
    view_predictions,
    vote_entropy,
)
from skcells.noise import (
    SmoothedCrossEntropyLoss,
    asymmetric_label_noise,
    label_smoothing_loss,
    pairflip_mapping,
)
from skcells.tuning import (
    PredictTimeObjective,
    PredictTimeSpace,
    best_trial_summary,
    check_n_trials,
    count_states,
    curriculum_search_space,
    load_or_create_study,
    make_storage,
    plot_history,
    training_search,
    trials_table,
    tune_predict_time,
    tuning_problem_from_data,
    tuning_recipe_from_data,
    warn_if_flat,
    write_study_report,
)
from skcells.utils import (
    cap_n_jobs,
    check_free_space,
    load_npy,
    open_regular_file,
)

NAN = np.nan
# The classes of invalid input of issue 9; every one must have cases.
KINDS = (
    "type",
    "ndim",
    "empty",
    "nan",
    "range",
    "option",
    "length",
    "unfitted",
    "one-class",
)
TYPE_OR_VALUE = (TypeError, ValueError)

# ------------------------------------------------------------------ inputs
# Tiny, fixed inputs shared by the cases (built once at import, < 1 ms).
_RNG = np.random.default_rng(0)
IMG = _RNG.random((12, 1, 8, 8))  # 4-D images
CLIP = _RNG.random((12, 3, 1, 8, 8))  # 5-D clips
FLAT = _RNG.random((12, 10))  # 2-D features
Y = np.tile([0, 1], 6)
VID_U8 = np.zeros((2, 3, 3, 8, 8), dtype=np.uint8)  # (n, frames, C, H, W)
IMG_U8 = np.zeros((2, 3, 8, 8), dtype=np.uint8)


def _with_nan(x, value=NAN):
    out = np.array(x, dtype=float)
    out.flat[0] = value
    return out


def _mv(**params):
    params = {
        "estimator": LogisticRegression(),
        "n_views": 3,
        "output_size": 4,
        "random_state": 0,
        **params,
    }
    return MultiViewClassifier(**params)


@functools.cache
def _mv_fitted():
    """A MultiViewClassifier fitted on 1-channel 8x8 images."""
    return _mv().fit(IMG, Y)


@functools.cache
def _mv_flat_fitted():
    """A MultiViewClassifier fitted on 10 flat features."""
    return MultiViewClassifier(LogisticRegression(), n_views=3, random_state=0).fit(
        FLAT, Y
    )


@functools.cache
def _mv_mode_only():
    """A MultiViewClassifier around an estimator without predict_proba."""
    return _mv(estimator=Perceptron()).fit(IMG, Y)


def _mvr(**params):
    params = {
        "estimator": Ridge(),
        "n_views": 3,
        "output_size": 4,
        "random_state": 0,
        **params,
    }
    return MultiViewRegressor(**params)


Y_REAL = np.linspace(0.0, 1.0, 12)


@functools.cache
def _mvr_fitted():
    """A MultiViewRegressor fitted on 1-channel 8x8 images."""
    return _mvr().fit(IMG, Y_REAL)


@functools.cache
def _mv_uint8_fitted():
    """A MultiViewClassifier fitted on uint8 images (the input contract)."""
    X = (IMG * 255).astype(np.uint8)
    return _mv().fit(X, Y)


class _TinyModule(torch.nn.Module):
    def __init__(self, n_in=16):
        super().__init__()
        self.linear = torch.nn.Linear(n_in, 2)

    def forward(self, x):
        return self.linear(x.flatten(1))


def _net(**params):
    params = {"max_epochs": 1, "batch_size": 4, "train_split": None, **params}
    return CurriculumNeuralNetClassifier(
        _TinyModule(4),
        criterion=torch.nn.CrossEntropyLoss,
        verbose=0,
        **params,
    )


X_NET = _RNG.random((12, 4)).astype(np.float32)
D_NET = np.linspace(0, 1, 12)


def _skorch_mv():
    net = NeuralNetClassifier(
        _TinyModule,
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=1,
        train_split=None,
        verbose=0,
    )
    return MultiViewClassifier(net, n_views=2, output_size=4, random_state=0)


def _curriculum_mv():
    net = CurriculumNeuralNetClassifier(
        _TinyModule,
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=1,
        train_split=None,
        verbose=0,
    )
    return MultiViewClassifier(net, n_views=2, output_size=4, random_state=0)


def _tmpdir():
    """A fresh private folder (cases run at collection-independent times)."""
    import tempfile

    return Path(tempfile.mkdtemp(prefix="skcells-bad-"))


def _optuna_study(direction="maximize"):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(direction=direction)


# ------------------------------------------------------------------- cases
CASES = []


def bad(kind, name, call, exc, match):
    """Register one case: ``call()`` must raise ``exc`` matching ``match``."""
    assert kind in KINDS, kind
    CASES.append(pytest.param(call, exc, match, id=f"{name}[{kind}]"))


# --- curriculum: competence, difficulty_score, scale_difficulty, plot ------
bad("type", "competence-t", lambda: competence("a", T=10), TypeError, r"\bt\b")
bad("nan", "competence-t", lambda: competence(NAN, T=10), ValueError, r"\bt must")
bad("range", "competence-t", lambda: competence(-1, T=10), ValueError, r"\bt must")
bad("range", "competence-T", lambda: competence(1, T=0), ValueError, r"\bT must")
bad("type", "competence-T", lambda: competence(1, T="x"), TypeError, r"\bT must")
bad("nan", "competence-T", lambda: competence(1, T=np.inf), ValueError, r"\bT must")
bad("range", "competence-c0", lambda: competence(1, T=1, c0=0), ValueError, "c0")
bad("range", "competence-c0>1", lambda: competence(1, T=1, c0=2), ValueError, "c0")
bad("range", "competence-p", lambda: competence(1, T=1, p=0.5), ValueError, r"\bp\b")
bad("nan", "competence-p", lambda: competence(1, T=1, p=NAN), ValueError, r"\bp\b")
bad("ndim", "difficulty-blur", lambda: difficulty_score([[1]], [1]), ValueError, "blur")
bad(
    "length",
    "difficulty-blur-distance",
    lambda: difficulty_score([1, 2], [1]),
    ValueError,
    "blur and distance",
)
bad("nan", "difficulty-blur", lambda: difficulty_score([NAN], [1]), ValueError, "blur")
bad(
    "nan",
    "difficulty-distance",
    lambda: difficulty_score([1], [np.inf]),
    ValueError,
    "distance",
)
bad("range", "difficulty-blur", lambda: difficulty_score([11], [1]), ValueError, "blur")
bad(
    "range",
    "difficulty-distance",
    lambda: difficulty_score([1], [-1]),
    ValueError,
    "distance",
)
bad(
    "range",
    "difficulty-alpha",
    lambda: difficulty_score([1], [1], alpha=2),
    ValueError,
    "alpha",
)
bad(
    "range",
    "difficulty-alpha+beta",
    lambda: difficulty_score([1], [1], alpha=0.5, beta=0.3),
    ValueError,
    "alpha . beta",
)
bad(
    "option",
    "difficulty-distance_rule",
    lambda: difficulty_score([1], [1], distance_rule="x"),
    ValueError,
    "distance_rule",
)
bad("type", "difficulty-blur", lambda: difficulty_score("ab", [1]), TypeError, "blur")
bad(
    "range",
    "difficulty-max_blur",
    lambda: difficulty_score([1], [1], max_blur=0),
    ValueError,
    "max_blur",
)
bad(
    "range",
    "difficulty-distance_scale",
    lambda: difficulty_score([1], [1], distance_scale=-1),
    ValueError,
    "distance_scale",
)
bad(
    "option",
    "scale_difficulty-method",
    lambda: scale_difficulty([1], method="x"),
    ValueError,
    "method",
)
bad(
    "nan", "scale_difficulty", lambda: scale_difficulty([NAN]), ValueError, "difficulty"
)
bad(
    "ndim",
    "scale_difficulty",
    lambda: scale_difficulty([[1]]),
    ValueError,
    "difficulty",
)
bad(
    "range",
    "scale_difficulty-none",
    lambda: scale_difficulty([2.0], method="none"),
    ValueError,
    "difficulty must lie in",
)
bad(
    "empty",
    "plot_curriculum",
    lambda: plot_curriculum([], curriculum_epochs=10),
    ValueError,
    "difficulty",
)
bad(
    "range",
    "plot_curriculum-T",
    lambda: plot_curriculum([1], curriculum_epochs=0),
    ValueError,
    "curriculum_epochs",
)
bad(
    "nan",
    "plot_curriculum",
    lambda: plot_curriculum([NAN], curriculum_epochs=10),
    ValueError,
    "difficulty",
)
bad(
    "range",
    "plot_curriculum-bins",
    lambda: plot_curriculum([1], curriculum_epochs=10, bins=0),
    ValueError,
    "bins",
)
bad(
    "option",
    "plot_curriculum-scaling",
    lambda: plot_curriculum([1], curriculum_epochs=10, difficulty_scaling="x"),
    ValueError,
    "difficulty_scaling",
)

# --- curriculum: CurriculumNeuralNetClassifier ----------------------------
bad(
    "length",
    "net-difficulty",
    lambda: _net().fit(X_NET, Y, difficulty=np.ones(5)),
    ValueError,
    "difficulty",
)
bad(
    "nan",
    "net-difficulty",
    lambda: _net().fit(X_NET, Y, difficulty=_with_nan(D_NET)),
    ValueError,
    "difficulty",
)
bad(
    "ndim",
    "net-difficulty",
    lambda: _net().fit(X_NET, Y, difficulty=D_NET[:, None]),
    ValueError,
    "difficulty",
)
bad(
    "type",
    "net-difficulty",
    lambda: _net().fit(X_NET, Y, difficulty="hard"),
    TypeError,
    "difficulty",
)
bad(
    "range",
    "net-curriculum_epochs",
    lambda: _net(curriculum_epochs=0).fit(X_NET, Y, difficulty=D_NET),
    ValueError,
    "curriculum_epochs",
)
bad(
    "type",
    "net-curriculum_epochs",
    lambda: _net(curriculum_epochs="5").fit(X_NET, Y),
    TypeError,
    "curriculum_epochs",
)
bad(
    "range",
    "net-initial_competence",
    lambda: _net(initial_competence=0).fit(X_NET, Y, difficulty=D_NET),
    ValueError,
    "initial_competence",
)
bad(
    "range",
    "net-competence_power",
    lambda: _net(competence_power=0.5).fit(X_NET, Y, difficulty=D_NET),
    ValueError,
    "competence_power",
)
bad(
    "option",
    "net-difficulty_scaling",
    lambda: _net(difficulty_scaling="x").fit(X_NET, Y, difficulty=D_NET),
    ValueError,
    "difficulty_scaling",
)
bad(
    "range",
    "net-difficulty-none-scaling",
    lambda: _net(difficulty_scaling="none").fit(X_NET, Y, difficulty=D_NET + 3),
    ValueError,
    "difficulty must lie in",
)
bad(
    "range",
    "net-min_curriculum_samples",
    lambda: _net(min_curriculum_samples=0).fit(X_NET, Y, difficulty=D_NET),
    ValueError,
    "min_curriculum_samples",
)
bad(
    "type",
    "net-min_curriculum_samples",
    lambda: _net(min_curriculum_samples=1.5).fit(X_NET, Y, difficulty=D_NET),
    TypeError,
    "min_curriculum_samples",
)
bad("unfitted", "net-predict", lambda: _net().predict(X_NET), NotFittedError, "fit")
bad(
    "unfitted",
    "net-predict_proba",
    lambda: _net().predict_proba(X_NET),
    NotFittedError,
    "fit",
)
bad(
    "length",
    "net-partial_fit-difficulty",
    lambda: _net().partial_fit(X_NET, Y, difficulty=np.ones(3)),
    ValueError,
    "difficulty",
)

# --- curriculum: CurriculumNeuralNetRegressor -----------------------------
Y_REG = np.linspace(0, 1, 12, dtype=np.float32)[:, None]


def _reg(**params):
    params = {"max_epochs": 1, "batch_size": 4, "train_split": None, **params}
    return CurriculumNeuralNetRegressor(torch.nn.Linear(4, 1), verbose=0, **params)


bad(
    "length",
    "regressor-difficulty",
    lambda: _reg().fit(X_NET, Y_REG, difficulty=np.ones(5)),
    ValueError,
    "difficulty",
)
bad(
    "nan",
    "regressor-difficulty",
    lambda: _reg().fit(X_NET, Y_REG, difficulty=_with_nan(D_NET)),
    ValueError,
    "difficulty",
)
bad(
    "type",
    "regressor-difficulty",
    lambda: _reg().partial_fit(X_NET, Y_REG, difficulty="hard"),
    TypeError,
    "difficulty",
)
bad(
    "range",
    "regressor-initial_competence",
    lambda: _reg(initial_competence=2).fit(X_NET, Y_REG, difficulty=D_NET),
    ValueError,
    "initial_competence",
)
bad(
    "option",
    "regressor-difficulty_scaling",
    lambda: _reg(difficulty_scaling="x").fit(X_NET, Y_REG, difficulty=D_NET),
    ValueError,
    "difficulty_scaling",
)
bad(
    "unfitted",
    "regressor-predict",
    lambda: _reg().predict(X_NET),
    NotFittedError,
    "fit",
)

# --- multiview: aggregation functions -------------------------------------
bad(
    "ndim",
    "view_predictions",
    lambda: view_predictions([[1, 2]]),
    ValueError,
    "view_proba",
)
bad(
    "nan",
    "view_predictions",
    lambda: view_predictions([[[NAN, 1.0]]]),
    ValueError,
    "view_proba",
)
bad(
    "type",
    "view_predictions",
    lambda: view_predictions([[["a", "b"]]]),
    TypeError,
    "view_proba",
)
bad(
    "empty",
    "view_predictions-classes",
    lambda: view_predictions(np.zeros((1, 1, 0))),
    ValueError,
    "view_proba",
)
bad(
    "range",
    "aggregate_mode-n_classes",
    lambda: aggregate_mode([[0]], 0),
    ValueError,
    "n_classes",
)
bad(
    "type",
    "aggregate_mode-n_classes",
    lambda: aggregate_mode([[0]], "2"),
    ValueError,
    "n_classes",
)
bad(
    "range",
    "aggregate_mode-code",
    lambda: aggregate_mode([[3]], 2),
    ValueError,
    "view_labels",
)
bad(
    "range",
    "aggregate_mode-negative",
    lambda: aggregate_mode([[-1]], 2),
    ValueError,
    "view_labels",
)
bad(
    "ndim",
    "aggregate_mode",
    lambda: aggregate_mode([0, 1], 2),
    ValueError,
    "view_labels",
)
bad(
    "type",
    "aggregate_mode-float",
    lambda: aggregate_mode([[0.5]], 2),
    TypeError,
    "view_labels",
)
bad(
    "nan",
    "aggregate_mode",
    lambda: aggregate_mode([[NAN]], 2),
    TypeError,
    "view_labels",
)
bad(
    "empty",
    "aggregate_mode-views",
    lambda: aggregate_mode(np.zeros((2, 0), int), 2),
    ValueError,
    "view_labels",
)
bad(
    "length",
    "aggregate_weighted",
    lambda: aggregate_weighted([[0, 1]], [[1.0]], 2),
    ValueError,
    "confidences",
)
bad(
    "nan",
    "aggregate_weighted",
    lambda: aggregate_weighted([[0, 1]], [[1.0, NAN]], 2),
    ValueError,
    "confidences",
)
bad(
    "range",
    "aggregate_weighted",
    lambda: aggregate_weighted([[0, 1]], [[1.0, -1.0]], 2),
    ValueError,
    "confidences",
)
bad(
    "type",
    "aggregate_weighted",
    lambda: aggregate_weighted([[0, 1]], [["a", "b"]], 2),
    TypeError,
    "confidences",
)
bad(
    "ndim", "aggregate_mean", lambda: aggregate_mean([[1, 2]]), ValueError, "view_proba"
)
bad(
    "nan",
    "aggregate_mean",
    lambda: aggregate_mean([[[NAN, 1.0]]]),
    ValueError,
    "view_proba",
)
bad(
    "type",
    "aggregate_mean",
    lambda: aggregate_mean([[["a", "b"]]]),
    TypeError,
    "view_proba",
)
bad(
    "empty",
    "aggregate_mean-views",
    lambda: aggregate_mean(np.zeros((1, 0, 2))),
    ValueError,
    "view_proba",
)
bad(
    "length",
    "view_agreement",
    lambda: view_agreement([[0, 1]], [0, 1]),
    ValueError,
    "prediction",
)
bad(
    "ndim",
    "view_agreement",
    lambda: view_agreement([0, 1], [0]),
    ValueError,
    "view_labels",
)
bad(
    "type",
    "vote_entropy-normalize",
    lambda: vote_entropy([[0]], 2, normalize="yes"),
    TypeError,
    "normalize",
)
bad(
    "range",
    "vote_entropy-n_classes",
    lambda: vote_entropy([[0]], -1),
    ValueError,
    "n_classes",
)

# --- multiview: MultiViewClassifier ---------------------------------------
for _method in ("predict", "predict_proba", "predict_views", "predict_uncertainty"):
    bad(
        "unfitted",
        f"mv-{_method}",
        lambda m=_method: getattr(_mv(), m)(IMG),
        NotFittedError,
        "not fitted",
    )
bad("ndim", "mv-fit-3d", lambda: _mv().fit(IMG[:, 0], Y), ValueError, r"X must be 2-D")
bad("ndim", "mv-fit-1d", lambda: _mv().fit(Y, Y), ValueError, r"X must be 2-D")
bad(
    "nan",
    "mv-fit",
    lambda: _mv().fit(_with_nan(IMG), Y),
    ValueError,
    "Input X contains NaN",
)
bad(
    "nan",
    "mv-fit-inf-flat",
    lambda: _mv(output_size=None).fit(_with_nan(FLAT, np.inf), Y),
    ValueError,
    "Input X contains infinity",
)
bad("empty", "mv-fit", lambda: _mv().fit(IMG[:0], Y[:0]), ValueError, r"0 sample\(s\)")
bad(
    "length",
    "mv-fit-X-y",
    lambda: _mv().fit(IMG, Y[:5]),
    ValueError,
    "inconsistent numbers of samples",
)
bad(
    "one-class",
    "mv-fit",
    lambda: _mv().fit(IMG, np.zeros(12)),
    ValueError,
    r"y must hold at least 2 classes",
)
bad(
    "one-class",
    "mv-fit-skorch",
    lambda: _skorch_mv().fit(IMG.astype(np.float32), np.zeros(12)),
    ValueError,
    r"y must hold at least 2 classes",
)
bad("type", "mv-fit-y-None", lambda: _mv().fit(IMG, None), ValueError, r"requires y")
bad(
    "ndim",
    "mv-fit-y-2d",
    lambda: _mv().fit(IMG, np.c_[Y, Y]),
    ValueError,
    r"\by should be a 1d",
)
bad(
    "type",
    "mv-fit-y-continuous",
    lambda: _mv().fit(IMG, np.linspace(0, 1, 12)),
    ValueError,
    "Unknown label type",
)
bad(
    "type",
    "mv-fit-X-strings",
    lambda: _mv().fit(np.full((12, 1, 8, 8), "a"), Y),
    ValueError,
    "strings",
)
for _param, _value, _kind in (
    ("n_views", 0, "range"),
    ("n_views", "3", "type"),
    ("n_views", 3.0, "type"),
    ("crop_scale", "ab", "type"),
    ("output_size", 0, "range"),
    ("output_size", 2.5, "type"),
    ("aggregation", "median", "option"),
    ("clip_length", 0, "range"),
    ("n_train_views", 0, "range"),
    ("batch_size", 0, "range"),
    ("random_state", "x", "type"),
):
    bad(
        _kind,
        f"mv-{_param}={_value!r}",
        lambda p=_param, v=_value: _mv(**{p: v}).fit(IMG, Y),
        TYPE_OR_VALUE,
        f"'{_param}' parameter",
    )
for _param, _value, _kind in (
    ("crop_scale", (0.5, 2), "range"),
    ("crop_scale", (0.5, 0.2), "range"),
    ("crop_scale", (0.1, 0.2, 0.3), "length"),
    ("crop_scale", (NAN, 0.2), "nan"),
    ("crop_ratio", (0, 1), "range"),
    ("output_size", 100, "range"),
    ("output_size", (2, 2, 2), "length"),
):
    bad(
        _kind,
        f"mv-{_param}={_value!r}",
        lambda p=_param, v=_value: _mv(**{p: v}).fit(IMG, Y),
        ValueError,
        _param,
    )
bad(
    "range",
    "mv-clip_length-too-long",
    lambda: _mv(clip_length=50).fit(CLIP, Y),
    ValueError,
    "clip_length",
)
bad(
    "type",
    "mv-estimator-None",
    lambda: MultiViewClassifier(None).fit(IMG, Y),
    TYPE_OR_VALUE,
    "'estimator' parameter",
)
bad(
    "type",
    "mv-estimator-object",
    lambda: MultiViewClassifier(object()).fit(IMG, Y),
    TYPE_OR_VALUE,
    "'estimator' parameter",
)
bad(
    "option",
    "mv-aggregation-at-predict",
    lambda: _mv_fitted().set_params(aggregation="median").predict(IMG),
    TYPE_OR_VALUE,
    "'aggregation' parameter",
)
bad(
    "range",
    "mv-n_views-at-predict",
    lambda: _mv_fitted().set_params(aggregation="mode", n_views=0).predict(IMG),
    TYPE_OR_VALUE,
    "'n_views' parameter",
)
bad(
    "option",
    "mv-weighted-without-predict_proba",
    lambda: _mv_mode_only().set_params(aggregation="weighted").predict(IMG),
    ValueError,
    "aggregation='weighted' needs an estimator with predict_proba",
)
bad(
    "ndim",
    "mv-predict",
    lambda: _mv_fitted().set_params(n_views=3, aggregation="mode").predict(IMG[:, 0]),
    ValueError,
    "X must be 4-D",
)
bad(
    "length",
    "mv-predict-channels",
    lambda: _mv_fitted().set_params(n_views=3).predict(np.concatenate([IMG, IMG], 1)),
    ValueError,
    "channels",
)
bad(
    "nan",
    "mv-predict",
    lambda: _mv_fitted().set_params(n_views=3).predict(_with_nan(IMG)),
    ValueError,
    "Input X contains NaN",
)
bad(
    "empty",
    "mv-predict",
    lambda: _mv_fitted().set_params(n_views=3).predict(IMG[:0]),
    ValueError,
    r"0 sample\(s\)",
)
bad(
    "length",
    "mv-predict-features",
    lambda: _mv_flat_fitted().predict(FLAT[:, :5]),
    ValueError,
    "X has 5 features",
)
bad(
    "range",
    "mv-predict-smaller-than-output_size",
    lambda: _mv_fitted().set_params(n_views=3).predict(IMG[:, :, :2, :2]),
    ValueError,
    "output_size",
)

# --- multiview: RandomResizedCropViews ------------------------------------
bad(
    "range",
    "views-n_views",
    lambda: RandomResizedCropViews(0).transform(IMG),
    TYPE_OR_VALUE,
    "'n_views' parameter",
)
bad(
    "nan",
    "views-transform",
    lambda: RandomResizedCropViews(2).transform(_with_nan(IMG)),
    ValueError,
    "Input X contains NaN",
)
bad(
    "nan",
    "views-sample_windows",
    lambda: RandomResizedCropViews(2).sample_windows(_with_nan(IMG)),
    ValueError,
    "Input X contains NaN",
)
bad(
    "ndim",
    "views-transform",
    lambda: RandomResizedCropViews(2).transform(IMG[:, 0]),
    ValueError,
    "X must be 2-D",
)
bad(
    "range",
    "views-crop_scale",
    lambda: RandomResizedCropViews(2, crop_scale=(0, 1)).transform(IMG),
    ValueError,
    "crop_scale",
)
bad(
    "range",
    "views-output_size",
    lambda: RandomResizedCropViews(2, output_size=(0, 2)).transform(IMG),
    ValueError,
    "output_size",
)
bad(
    "empty",
    "views-transform",
    lambda: RandomResizedCropViews(2).transform(IMG[:0]),
    ValueError,
    r"0 sample\(s\)",
)
bad(
    "empty",
    "views-transform-axis",
    lambda: RandomResizedCropViews(2).transform(np.zeros((2, 1, 0, 4))),
    ValueError,
    "X has an empty axis",
)
bad(
    "range",
    "views-random_state",
    lambda: RandomResizedCropViews(2, random_state=-1).transform(IMG),
    TYPE_OR_VALUE,
    "'random_state' parameter",
)
bad(
    "range",
    "views-iter_views-batch_size",
    lambda: RandomResizedCropViews(2).iter_views(IMG, batch_size=0),
    ValueError,
    "batch_size",
)
bad(
    "type",
    "views-sample_windows-training",
    lambda: RandomResizedCropViews(2).sample_windows(IMG, training="yes"),
    TypeError,
    "training",
)
bad(
    "length",
    "views-training_dataset",
    lambda: RandomResizedCropViews(2).training_dataset(IMG, Y[:5]),
    ValueError,
    "inconsistent numbers of samples",
)
bad(
    "length",
    "views-transform-features",
    lambda: RandomResizedCropViews(2).fit(FLAT).transform(FLAT[:, :5]),
    ValueError,
    "X has 5 features",
)

# --- multiview: views parameter and input contract of the estimators ------
for _param, _value, _kind in (
    ("views", "crops", "type"),
    ("views", 3, "type"),
    ("train_views", object(), "type"),
):
    bad(
        _kind,
        f"mv-{_param}={_value!r}",
        lambda p=_param, v=_value: _mv(**{p: v}).fit(IMG, Y),
        TYPE_OR_VALUE,
        f"'{_param}' parameter",
    )
bad(
    "option",
    "mv-crop_scale-with-views",
    lambda: _mv(
        views=DihedralViews(), output_size=None, n_views=10, crop_scale=(0.3, 0.4)
    ).fit(IMG, Y),
    ValueError,
    r"crop_scale=\(0.3, 0.4\) is set together with views=.*views__crop_scale",
)
bad(
    "option",
    "mv-n_views-with-views",
    lambda: _mv(views=DihedralViews(), output_size=None).fit(IMG, Y),
    ValueError,
    r"n_views=3 is set together with views=",
)
bad(
    "option",
    "mv-n_train_views-with-train_views",
    lambda: _mv(train_views=DihedralViews(), n_train_views=2).fit(IMG, Y),
    ValueError,
    r"n_train_views=2 is set together with train_views=",
)
bad(
    "length",
    "mv-train_views-shape",
    lambda: _mv(train_views=DihedralViews()).fit(IMG, Y),
    ValueError,
    "the training views",
)
bad(
    "unfitted",
    "mv-sample_windows",
    lambda: _mv().sample_windows(IMG),
    NotFittedError,
    "not fitted",
)
bad(
    "range",
    "mv-predict-float-in-0-1-after-uint8",
    lambda: _mv_uint8_fitted().predict(IMG.astype(np.float32)),
    ValueError,
    r"fitted on uint8 .* Pixels scaled to \[0, 1\]",
)
bad(
    "range",
    "mv-predict-uint16-above-255-after-uint8",
    lambda: _mv_uint8_fitted().predict((IMG * 4000).astype(np.uint16)),
    ValueError,
    r"X has dtype uint16 .* integer in \[0, 255\]",
)
bad(
    "range",
    "mv-predict-far-outside-the-fitted-range",
    lambda: _mv_fitted().set_params(n_views=3).predict(IMG * 255),
    ValueError,
    "far outside the range",
)
bad(
    "type",
    "mv-fit-regressor-estimator",
    lambda: _mv(estimator=Ridge()).fit(IMG, Y),
    ValueError,
    "is a regressor.*MultiViewRegressor",
)

# --- multiview: MultiViewRegressor ------------------------------------------
for _method in (
    "predict",
    "predict_views",
    "predict_interval",
    "predict_uncertainty",
    "sample_windows",
):
    bad(
        "unfitted",
        f"mvr-{_method}",
        lambda m=_method: getattr(_mvr(), m)(IMG),
        NotFittedError,
        "not fitted",
    )
bad("ndim", "mvr-fit-3d", lambda: _mvr().fit(IMG[:, 0], Y_REAL), ValueError, "X must")
bad("nan", "mvr-fit", lambda: _mvr().fit(_with_nan(IMG), Y_REAL), ValueError, "NaN")
bad(
    "nan",
    "mvr-fit-y",
    lambda: _mvr().fit(IMG, _with_nan(Y_REAL)),
    ValueError,
    "Input y contains NaN",
)
bad("empty", "mvr-fit", lambda: _mvr().fit(IMG[:0], Y_REAL[:0]), ValueError, "0 sample")
bad(
    "length",
    "mvr-fit-X-y",
    lambda: _mvr().fit(IMG, Y_REAL[:5]),
    ValueError,
    "inconsistent numbers of samples",
)
bad("type", "mvr-fit-y-None", lambda: _mvr().fit(IMG, None), ValueError, "requires y")
bad(
    "type",
    "mvr-fit-y-strings",
    lambda: _mvr().fit(IMG, np.array(["a"] * 12)),
    ValueError,
    "could not convert|numeric",
)
bad(
    "type",
    "mvr-fit-classifier-estimator",
    lambda: _mvr(estimator=LogisticRegression()).fit(IMG, Y),
    ValueError,
    "is a classifier.*MultiViewClassifier",
)
for _param, _value, _kind in (
    ("aggregation", "mode", "option"),
    ("n_views", 0, "range"),
    ("batch_size", 0, "range"),
    ("views", "dihedral", "type"),
    ("random_state", "x", "type"),
):
    bad(
        _kind,
        f"mvr-{_param}={_value!r}",
        lambda p=_param, v=_value: _mvr(**{p: v}).fit(IMG, Y_REAL),
        TYPE_OR_VALUE,
        f"'{_param}' parameter",
    )
for _value, _kind, _exc in (
    (0, "range", ValueError),
    (1.5, "range", ValueError),
    (NAN, "nan", ValueError),
    ("0.8", "type", TypeError),
):
    bad(
        _kind,
        f"mvr-predict_interval-coverage={_value!r}",
        lambda v=_value: _mvr_fitted().predict_interval(IMG, coverage=v),
        _exc,
        "coverage",
    )
bad(
    "length",
    "mvr-predict-channels",
    lambda: _mvr_fitted().predict(np.concatenate([IMG, IMG], 1)),
    ValueError,
    "channels",
)
bad(
    "ndim",
    "mvr-predict",
    lambda: _mvr_fitted().predict(IMG[:, 0]),
    ValueError,
    "X must be 4-D",
)

# --- multiview: DihedralViews, TransformViews, ComposedViews ---------------
bad(
    "type",
    "dihedral-rotations",
    lambda: DihedralViews(rotations="yes").transform(IMG),
    TYPE_OR_VALUE,
    "'rotations' parameter",
)
bad(
    "range",
    "dihedral-non-square",
    lambda: DihedralViews().transform(IMG[:, :, :, :6]),
    ValueError,
    "needs square inputs",
)
bad("ndim", "dihedral-2d", lambda: DihedralViews().transform(FLAT), ValueError, "2-D")
bad(
    "nan",
    "dihedral-transform",
    lambda: DihedralViews().transform(_with_nan(IMG)),
    ValueError,
    "Input X contains NaN",
)
bad(
    "empty",
    "dihedral-transform",
    lambda: DihedralViews().transform(IMG[:0]),
    ValueError,
    r"0 sample\(s\)",
)
bad(
    "type",
    "transform-views-func",
    lambda: TransformViews(None).transform(IMG),
    TYPE_OR_VALUE,
    "'func' parameter",
)
bad(
    "range",
    "transform-views-n_views",
    lambda: TransformViews(np.asarray, n_views=0).transform(IMG),
    TYPE_OR_VALUE,
    "'n_views' parameter",
)
bad(
    "type",
    "transform-views-scalar",
    lambda: TransformViews(lambda x: x.sum(), n_views=2).transform(IMG),
    ValueError,
    "func must return an array",
)
bad(
    "type",
    "composed-first",
    lambda: ComposedViews(None, DihedralViews()).transform(IMG),
    TYPE_OR_VALUE,
    "'first' parameter",
)
bad(
    "type",
    "composed-second-callable",
    lambda: ComposedViews(RandomResizedCropViews(2), np.flip).transform(IMG),
    TYPE_OR_VALUE,
    "'second' parameter",
)
for _func in (aggregate_geometric_mean, aggregate_max):
    bad(
        "range",
        f"{_func.__name__}-negative",
        lambda f=_func: f([[[0.5, -0.5]]]),
        ValueError,
        "non-negative",
    )
    bad(
        "ndim",
        f"{_func.__name__}-2d",
        lambda f=_func: f([[0.5, 0.5]]),
        ValueError,
        "view_proba",
    )
    bad(
        "nan",
        f"{_func.__name__}-nan",
        lambda f=_func: f([[[NAN, 0.5]]]),
        ValueError,
        "view_proba",
    )

# --- datasets: degradation primitives -------------------------------------
for _radius, _kind, _exc in (
    (11, "range", ValueError),
    (-1, "range", ValueError),
    (1.5, "type", ValueError),
    ("1", "type", TypeError),
    (NAN, "nan", ValueError),
):
    bad(
        _kind,
        f"box_blur-radius={_radius!r}",
        lambda r=_radius: box_blur(IMG_U8, r),
        _exc,
        "radius",
    )
bad("ndim", "box_blur-x", lambda: box_blur(np.zeros(5), 1), ValueError, r"\bx must")
bad(
    "type",
    "box_blur-x",
    lambda: box_blur(np.full((3, 3), "a"), 1),
    TypeError,
    r"\bx must",
)
bad(
    "nan",
    "box_blur-x",
    lambda: box_blur(np.full((3, 3), NAN), 1),
    ValueError,
    r"\bx must",
)
bad(
    "empty",
    "box_blur-x",
    lambda: box_blur(np.zeros((0, 0)), 1),
    ValueError,
    r"\bx must",
)
bad("range", "add_noise-level", lambda: add_noise(IMG_U8, 2), ValueError, "level")
bad("nan", "add_noise-level", lambda: add_noise(IMG_U8, NAN), ValueError, "level")
bad("type", "add_noise-level", lambda: add_noise(IMG_U8, "a"), TypeError, "level")
bad(
    "option",
    "add_noise-law",
    lambda: add_noise(IMG_U8, 0.1, law="x"),
    ValueError,
    "law",
)
bad(
    "nan",
    "add_noise-x",
    lambda: add_noise(_with_nan(IMG_U8), 0.1),
    ValueError,
    r"\bx must",
)
bad(
    "type",
    "add_noise-random_state",
    lambda: add_noise(IMG_U8, 0.1, random_state="x"),
    TypeError,
    "random_state",
)
bad(
    "ndim",
    "degrade",
    lambda: degrade(np.zeros((8, 8)), blur=0, noise=0),
    ValueError,
    "images",
)
bad(
    "length",
    "degrade-blur",
    lambda: degrade(IMG_U8, blur=[1, 2, 3], noise=0),
    ValueError,
    "blur",
)
bad(
    "length",
    "degrade-noise",
    lambda: degrade(IMG_U8, blur=0, noise=[0.1] * 3),
    ValueError,
    "noise",
)
bad(
    "range",
    "degrade-blur",
    lambda: degrade(IMG_U8, blur=11, noise=0),
    ValueError,
    "blur",
)
bad(
    "type",
    "degrade-blur-float",
    lambda: degrade(IMG_U8, blur=1.5, noise=0),
    ValueError,
    "blur",
)
bad(
    "type",
    "degrade-blur-str",
    lambda: degrade(IMG_U8, blur="a", noise=0),
    TypeError,
    "blur",
)
bad(
    "nan",
    "degrade-blur",
    lambda: degrade(IMG_U8, blur=NAN, noise=0),
    ValueError,
    "blur",
)
bad(
    "nan",
    "degrade-noise",
    lambda: degrade(IMG_U8, blur=0, noise=NAN),
    ValueError,
    "noise",
)
bad(
    "range",
    "degrade-noise",
    lambda: degrade(IMG_U8, blur=0, noise=1.5),
    ValueError,
    "noise",
)
bad(
    "type",
    "degrade-noise",
    lambda: degrade(IMG_U8, blur=0, noise="a"),
    TypeError,
    "noise",
)
bad(
    "option",
    "degrade-law",
    lambda: degrade(IMG_U8, blur=0, noise=0.1, law="x"),
    ValueError,
    "law",
)
bad(
    "option",
    "degrade-law-without-noise",
    lambda: degrade(IMG_U8, blur=0, noise=0.0, law="x"),
    ValueError,
    "law",
)
bad(
    "nan",
    "degrade-images",
    lambda: degrade(_with_nan(IMG_U8), blur=0, noise=0),
    ValueError,
    "images",
)
bad(
    "type",
    "degrade-images",
    lambda: degrade(np.full((2, 3, 4, 4), "a"), blur=0, noise=0),
    ValueError,
    "images",
)
bad("ndim", "estimate_blur", lambda: estimate_blur(np.zeros(5)), ValueError, "images")
bad(
    "nan",
    "estimate_blur",
    lambda: estimate_blur(np.full((2, 3, 16, 16), NAN)),
    ValueError,
    "images",
)
bad(
    "range",
    "estimate_blur-max_lag",
    lambda: estimate_blur(np.zeros((2, 3, 16, 16)), max_lag=1),
    ValueError,
    "max_lag",
)
bad(
    "range",
    "estimate_blur-max_lag-large",
    lambda: estimate_blur(np.zeros((2, 3, 16, 16)), max_lag=100),
    ValueError,
    "max_lag",
)
bad(
    "empty",
    "estimate_blur",
    lambda: estimate_blur(np.zeros((0, 3, 16, 16))),
    ValueError,
    "images",
)
bad(
    "type",
    "estimate_blur",
    lambda: estimate_blur(np.full((2, 3, 16, 16), "a")),
    TypeError,
    "images",
)

# --- datasets: summaries and figures --------------------------------------
bad(
    "range",
    "high_frequency_energy-batch_size",
    lambda: high_frequency_energy(VID_U8, batch_size=0),
    ValueError,
    "batch_size",
)
bad(
    "ndim",
    "high_frequency_energy",
    lambda: high_frequency_energy(np.zeros((4, 4))),
    ValueError,
    "videos",
)
bad(
    "type",
    "summarize_conditions",
    lambda: summarize_conditions({"data": VID_U8}),
    ValueError,
    "dataset must hold the keys",
)
bad(
    "length",
    "plot_sample_frames-condition",
    lambda: plot_sample_frames(VID_U8, ["clear"]),
    ValueError,
    "condition",
)
bad(
    "range",
    "plot_sample_frames-frame",
    lambda: plot_sample_frames(VID_U8, ["clear", "noisy"], frame=5),
    ValueError,
    "frame",
)
bad(
    "ndim",
    "save_video_gif",
    lambda: save_video_gif(IMG_U8[0], _tmpdir() / "a.gif"),
    ValueError,
    "video",
)
bad(
    "range",
    "save_video_gif-fps",
    lambda: save_video_gif(VID_U8[0], _tmpdir() / "a.gif", fps=0),
    ValueError,
    "fps",
)
bad(
    "range",
    "save_video_gif-scale",
    lambda: save_video_gif(VID_U8[0], _tmpdir() / "a.gif", scale=0),
    ValueError,
    "scale",
)

# --- datasets: the renderer and the synthetic dataset ---------------------
_RV = {"n_frames": 2, "size": 8}
for _kw, _kind, _exc, _name in (
    ({"rbc_count": -1}, "range", ValueError, "rbc_count"),
    ({"rbc_count": 1.5}, "type", ValueError, "rbc_count"),
    ({"wbc_count": "1"}, "type", TypeError, "wbc_count"),
    ({"size": 0}, "range", ValueError, "size"),
    ({"n_frames": 0}, "range", ValueError, "n_frames"),
    ({"blur": 11}, "range", ValueError, "blur"),
    ({"noise": 2}, "range", ValueError, "noise"),
    ({"noise": NAN}, "nan", ValueError, "noise"),
    ({"noise_law": "x"}, "option", ValueError, "noise_law"),
    ({"step": NAN}, "nan", ValueError, "step"),
    ({"rbc_radius": -1}, "range", ValueError, "rbc_radius"),
    ({"rbc_absorbance": (1, 2)}, "length", ValueError, "rbc_absorbance"),
    ({"background": (300, 0, 0)}, "range", ValueError, "background"),
    ({"random_state": "x"}, "type", TypeError, "random_state"),
):

    def _render(kw=_kw):
        kw = {"rbc_count": 1, "wbc_count": 0, **_RV, **kw}
        counts = kw.pop("rbc_count"), kw.pop("wbc_count")
        return render_video(*counts, **kw)

    bad(_kind, f"render_video-{_name}", _render, _exc, _name)

bad(
    "range",
    "cell_positions",
    lambda: cell_positions(-1, 2, 8, 1.0),
    ValueError,
    "n_cells",
)
bad("nan", "cell_positions", lambda: cell_positions(2, 2, 8, NAN), ValueError, "step")
bad(
    "ndim",
    "splat_cells",
    lambda: splat_cells(np.zeros((2, 2)), [0, 1], 8),
    ValueError,
    "positions",
)
bad(
    "length",
    "splat_cells",
    lambda: splat_cells(np.zeros((1, 2, 2)), [0], 8),
    ValueError,
    "cell_type",
)
bad(
    "range",
    "sprite_profiles",
    lambda: sprite_profiles(16, 0.7, 0.1, 0.5),
    ValueError,
    "rbc_radius",
)
bad(
    "option",
    "GenerationParams",
    lambda: GenerationParams(target="x"),
    ValueError,
    "target",
)
bad("type", "GenerationParams", lambda: GenerationParams(size="8"), TypeError, "size")
bad("type", "get_data_home", lambda: get_data_home(5), TypeError, "data_home")
bad("empty", "get_data_home", lambda: get_data_home(""), ValueError, "data_home")
bad(
    "type",
    "get_data_home-file",
    lambda: get_data_home(__file__),
    ValueError,
    "data_home",
)
for _kw, _kind, _exc, _name in (
    ({"n_videos": 0}, "range", ValueError, "n_videos"),
    ({"n_videos": True}, "type", TypeError, "n_videos"),
    ({"target": "plt"}, "option", ValueError, "target"),
    ({"frames": 5}, "range", ValueError, "frames"),
    ({"condition_proba": (1, 1, 1, 1)}, "range", ValueError, "condition_proba"),
    ({"condition_proba": (0.5, 0.5)}, "length", ValueError, "condition_proba"),
    ({"blur_range": (5, 1)}, "range", ValueError, "blur_range"),
    ({"noise_range": (0.5, 0.1)}, "range", ValueError, "noise_range"),
    ({"random_state": None}, "type", TypeError, "random_state"),
    ({"random_state": -1}, "range", ValueError, "random_state"),
    ({"transform": 5}, "type", TypeError, "transform"),
    ({"rbc_std": -1}, "range", ValueError, "rbc_std"),
    ({"rbc_mean": NAN}, "nan", ValueError, "rbc_mean"),
    ({"alpha": 2}, "range", ValueError, "alpha"),
    ({"distance_rule": "x"}, "option", ValueError, "distance_rule"),
):
    bad(
        _kind,
        f"SyntheticBloodVideos-{_name}",
        lambda kw=_kw: SyntheticBloodVideos(
            **{"n_videos": 2, "n_frames": 2, "size": 8, **kw}
        ),
        _exc,
        _name,
    )
bad(
    "range",
    "SyntheticBloodVideos-index",
    lambda: SyntheticBloodVideos(2, n_frames=2, size=8)[5],
    IndexError,
    "index",
)
bad(
    "type",
    "SyntheticBloodVideos-index",
    lambda: SyntheticBloodVideos(2, n_frames=2, size=8)["a"],
    TypeError,
    "index",
)
for _kw, _kind, _exc, _name in (
    ({"n_jobs": 0}, "range", ValueError, "n_jobs"),
    ({"n_jobs": "2"}, "type", ValueError, "n_jobs"),
    ({"force": "yes"}, "type", TypeError, "force"),
    ({"check_hash": 1}, "type", TypeError, "check_hash"),
    ({"return_X_y": "no"}, "type", TypeError, "return_X_y"),
    ({"verbose": "yes"}, "type", TypeError, "verbose"),
    ({"data_home": 5}, "type", TypeError, "data_home"),
    ({"size": 2}, "range", ValueError, "size"),
    ({"size": 8.0}, "type", ValueError, "size"),
    ({"target": "both"}, "option", ValueError, "target"),
    ({"noise_law": "laplace"}, "option", ValueError, "noise_law"),
    ({"n_frames": -3}, "range", ValueError, "n_frames"),
):
    bad(
        _kind,
        f"fetch_synthetic_blood_videos-{_name}",
        lambda kw=_kw: fetch_synthetic_blood_videos(
            **{"n_videos": 2, "n_frames": 2, "size": 8, "data_home": _tmpdir(), **kw}
        ),
        _exc,
        _name,
    )
for _kw, _kind, _exc, _name in (
    ({"subset": "x"}, "option", ValueError, "subset"),
    ({"target": "x"}, "option", ValueError, "target"),
    ({"download_if_missing": "no"}, "type", TypeError, "download_if_missing"),
    ({"return_X_y": 1}, "type", TypeError, "return_X_y"),
    ({"partial": "yes"}, "type", TypeError, "partial"),
    ({"partial": True}, "empty", ValueError, "partial"),
    ({"local_path": 5}, "type", TypeError, "local_path"),
    ({"local_path": "/nonexistent/bccd"}, "empty", FileNotFoundError, "local_path"),
    ({"download_if_missing": False}, "empty", FileNotFoundError, "download_if_missing"),
):
    bad(
        _kind,
        f"fetch_bccd-{_name}",
        lambda kw=_kw: fetch_bccd(**{"data_home": _tmpdir(), **kw}),
        _exc,
        _name,
    )


# --- datasets: your own videos --------------------------------------------
@functools.cache
def _video_folder():
    """A folder with one 4-frame TIFF stack and its labels."""
    from PIL import Image

    folder = _tmpdir()
    pages = [Image.fromarray(np.full((8, 8), 40 * i, np.uint8)) for i in range(4)]
    pages[0].save(folder / "a.tif", save_all=True, append_images=pages[1:])
    (folder / "labels.csv").write_text("filename,y\na.tif,1\n")
    return folder


_CLIPS16 = _RNG.random((12, 2, 1, 16, 16))  # large enough for the blur lags


def _load(**kw):
    params = {"n_frames": 2, "size": 8, "data_home": _tmpdir(), **kw}
    return load_videos(kw.pop("paths", _video_folder()), **params)


for _kw, _kind, _exc, _name in (
    ({"n_frames": 0}, "range", ValueError, "n_frames"),
    ({"n_frames": 2.0}, "type", TypeError, "n_frames"),
    ({"n_frames": 5}, "range", ValueError, "n_frames=5"),
    ({"size": -1}, "range", ValueError, "size"),
    ({"size": "big"}, "type", TypeError, "size"),
    ({"size": (8,)}, "length", ValueError, "size"),
    ({"frame_selection": "x"}, "option", ValueError, "frame_selection"),
    ({"on_error": "x"}, "option", ValueError, "on_error"),
    ({"max_file_size": 1}, "range", ValueError, "max_file_size"),
    ({"labels": 1.5}, "type", TypeError, "labels"),
    ({"labels": "/nonexistent/labels.csv"}, "empty", ValueError, "labels"),
    ({"target": "y"}, "option", ValueError, "target"),
    ({"return_X_y": "no"}, "type", TypeError, "return_X_y"),
    ({"verbose": "loud"}, "type", TypeError, "verbose"),
):
    bad(_kind, f"load_videos-{_name}", lambda kw=_kw: _load(**kw), _exc, _name)
bad(
    "empty",
    "load_videos-paths",
    lambda: load_videos([], data_home=_tmpdir()),
    ValueError,
    "paths",
)
bad(
    "type",
    "load_videos-paths",
    lambda: load_videos(12, data_home=_tmpdir()),
    TypeError,
    "paths",
)
bad(
    "option",
    "load_videos-labels-target",
    lambda: _load(labels=_video_folder() / "labels.csv", target="count"),
    ValueError,
    "target",
)
bad(
    "ndim",
    "estimate_difficulty",
    lambda: estimate_difficulty(np.zeros(5)),
    ValueError,
    "images",
)
bad(
    "length",
    "estimate_difficulty-counts",
    lambda: estimate_difficulty(_CLIPS16, counts=[1, 2]),
    ValueError,
    "counts",
)
bad(
    "nan",
    "estimate_difficulty-counts",
    lambda: estimate_difficulty(_CLIPS16, counts=_with_nan(np.ones(12))),
    ValueError,
    "counts",
)
bad(
    "range",
    "estimate_difficulty-max_blur",
    lambda: estimate_difficulty(_CLIPS16, max_blur=-1),
    ValueError,
    "max_blur",
)
bad(
    "option",
    "estimate_difficulty-distance_rule",
    lambda: estimate_difficulty(_CLIPS16, counts=np.ones(12), distance_rule="x"),
    ValueError,
    "distance_rule",
)
bad(
    "nan",
    "estimate_difficulty-constant",
    lambda: estimate_difficulty(np.zeros((2, 1, 1, 16, 16))),
    ValueError,
    "constant",
)

# --- noise ----------------------------------------------------------------
bad(
    "range",
    "label_noise-rate",
    lambda: asymmetric_label_noise([0, 1], 2),
    ValueError,
    "rate",
)
bad(
    "nan",
    "label_noise-rate",
    lambda: asymmetric_label_noise([0, 1], NAN),
    ValueError,
    "rate",
)
bad(
    "type",
    "label_noise-rate",
    lambda: asymmetric_label_noise([0, 1], "a"),
    ValueError,
    "rate",
)
bad(
    "ndim",
    "label_noise-y",
    lambda: asymmetric_label_noise([[0, 1]], 0.1),
    ValueError,
    r"\by must",
)
bad(
    "option",
    "label_noise-mapping",
    lambda: asymmetric_label_noise([0, 1], 0.1, mapping="x"),
    ValueError,
    "mapping",
)
bad(
    "type",
    "label_noise-mapping",
    lambda: asymmetric_label_noise([0, 1], 0.1, mapping=5),
    TypeError,
    "mapping",
)
bad(
    "empty",
    "label_noise-mapping",
    lambda: asymmetric_label_noise([0, 1], 0.1, mapping={}),
    ValueError,
    "mapping",
)
bad(
    "range",
    "label_noise-mapping-self",
    lambda: asymmetric_label_noise([0, 1], 0.1, mapping={0: 0}),
    ValueError,
    "mapping",
)
bad(
    "range",
    "label_noise-cifar10-labels",
    lambda: asymmetric_label_noise([0, 11], 0.1),
    ValueError,
    "mapping='cifar10'",
)
bad("empty", "pairflip_mapping", lambda: pairflip_mapping([]), ValueError, "classes")
bad(
    "one-class",
    "pairflip_mapping",
    lambda: pairflip_mapping([1]),
    ValueError,
    "classes",
)
bad(
    "range",
    "pairflip_mapping-duplicates",
    lambda: pairflip_mapping([1, 1]),
    ValueError,
    "classes",
)
bad(
    "range",
    "smoothed_ce-smoothing",
    lambda: SmoothedCrossEntropyLoss(2),
    ValueError,
    "smoothing",
)
bad(
    "type",
    "smoothed_ce-smoothing",
    lambda: SmoothedCrossEntropyLoss("a"),
    ValueError,
    "smoothing",
)
bad(
    "option",
    "smoothed_ce-reduction",
    lambda: SmoothedCrossEntropyLoss(0.1, reduction="x"),
    ValueError,
    "reduction",
)
bad(
    "range",
    "label_smoothing_loss",
    lambda: label_smoothing_loss(-1),
    ValueError,
    "smoothing",
)

# --- models ---------------------------------------------------------------
for _kw, _kind, _exc, _name in (
    ({"n_classes": 0}, "range", ValueError, "n_classes"),
    ({"width": 0}, "range", ValueError, "width"),
    ({"width": "a"}, "type", ValueError, "width"),
    ({"in_channels": 0}, "range", ValueError, "in_channels"),
    ({"dropout": 2}, "range", ValueError, "dropout"),
    ({"dropout": NAN}, "nan", ValueError, "dropout"),
    ({"negative_slope": NAN}, "nan", ValueError, "negative_slope"),
    ({"negative_slope": "a"}, "type", TypeError, "negative_slope"),
):
    bad(
        _kind,
        f"CNN9-{_name}",
        lambda kw=_kw: CNN9(**{"n_classes": 2, **kw}),
        _exc,
        _name,
    )
bad(
    "ndim",
    "CNN9-forward",
    lambda: CNN9(2, width=0.02)(torch.zeros(3, 32, 32)),
    ValueError,
    r"\bx must have shape",
)
bad(
    "length",
    "CNN9-forward-channels",
    lambda: CNN9(2, width=0.02)(torch.zeros(1, 1, 32, 32)),
    ValueError,
    "in_channels",
)
bad(
    "range",
    "CNN9-forward-too-small",
    lambda: CNN9(2, width=0.02)(torch.zeros(1, 3, 8, 8)),
    ValueError,
    r"\bx must be at least",
)
bad("option", "make_model-name", lambda: make_model("x", 2), ValueError, "name")
bad("type", "make_model-name", lambda: make_model(5, 2), ValueError, "name")
bad(
    "range",
    "make_model-n_classes",
    lambda: make_model("cnn9", 0),
    ValueError,
    "n_classes",
)
bad(
    "type",
    "make_model-pretrained",
    lambda: make_model("cnn9", 2, pretrained=5),
    TypeError,
    "pretrained",
)
bad(
    "empty",
    "make_model-pretrained-missing",
    lambda: make_model("cnn9", 2, pretrained="/nonexistent/w.pt"),
    FileNotFoundError,
    "pretrained",
)
bad(
    "option",
    "make_model-pretrained-True",
    lambda: make_model("cnn9", 2, pretrained=True),
    ValueError,
    "pretrained=True",
)
bad(
    "option", "make_model-kwarg", lambda: make_model("cnn9", 2, foo=1), TypeError, "foo"
)
bad(
    "type",
    "read_checkpoint",
    lambda: read_checkpoint(5),
    TypeError,
    "'path' parameter of read_checkpoint",
)
bad(
    "empty",
    "read_checkpoint-missing",
    lambda: read_checkpoint("/nonexistent/w.pt"),
    FileNotFoundError,
    "checkpoint",
)
bad("type", "count_parameters-model", lambda: count_parameters(5), TypeError, "model")
bad(
    "type",
    "count_parameters-trainable",
    lambda: count_parameters(torch.nn.Linear(1, 1), trainable="yes"),
    TypeError,
    "trainable",
)
bad(
    "option",
    "freeze_all_but-head",
    lambda: freeze_all_but(torch.nn.Linear(1, 1), "nope"),
    ValueError,
    "head",
)
bad(
    "type",
    "freeze_all_but-head",
    lambda: freeze_all_but(torch.nn.Linear(1, 1), 5),
    TypeError,
    "head",
)
bad("type", "freeze_all_but-model", lambda: freeze_all_but(5, "x"), TypeError, "model")
bad(
    "type",
    "load_state_dict-state_dict",
    lambda: load_state_dict_with_new_head(torch.nn.Linear(1, 1), 5),
    TypeError,
    "state_dict",
)
bad(
    "type",
    "load_state_dict-model",
    lambda: load_state_dict_with_new_head(5, {}),
    TypeError,
    "model",
)
bad(
    "length",
    "load_state_dict-shapes",
    lambda: load_state_dict_with_new_head(
        torch.nn.Linear(2, 1), torch.nn.Linear(3, 1).state_dict()
    ),
    ValueError,
    "shape mismatch",
)
bad("range", "X3D-n_classes", lambda: X3D(0), ValueError, "n_classes")
bad(
    "range",
    "X3D-width_factor",
    lambda: X3D(2, width_factor=0),
    ValueError,
    "width_factor",
)
bad("type", "X3D-pretrained", lambda: X3D(2, pretrained=5), TypeError, "pretrained")
bad("range", "resnet18-n_classes", lambda: resnet18(0), ValueError, "n_classes")
bad(
    "type",
    "resnet18-pretrained",
    lambda: resnet18(2, pretrained=1.5),
    TypeError,
    "pretrained",
)
bad("range", "vit_l16-n_classes", lambda: vit_l16(0), ValueError, "n_classes")
bad("option", "vit_l16-arch", lambda: vit_l16(2, arch="nope_model"), ValueError, "arch")
bad("type", "vit_l16-arch", lambda: vit_l16(2, arch=5), TypeError, "arch")

bad(
    "type",
    "ScaleUint8-dtype",
    lambda: ScaleUint8()(torch.zeros(2, dtype=torch.int64)),
    TypeError,
    "uint8",
)
bad(
    "type",
    "CNN9-forward-int64",
    lambda: CNN9(n_classes=2, width=0.0625)(
        torch.zeros(1, 3, 32, 32, dtype=torch.int64)
    ),
    TypeError,
    "dtype",
)

# --- tuning ---------------------------------------------------------------
for _kw, _kind, _exc, _name in (
    ({"n_views": (0, 3)}, "range", ValueError, "n_views"),
    ({"n_views": (10, 5)}, "range", ValueError, "n_views"),
    ({"n_views": (1.5, 3)}, "type", TypeError, "n_views"),
    ({"n_views": "ab"}, "type", TypeError, "n_views"),
    ({"crop_scale_low": (0, 0.5)}, "range", ValueError, "crop_scale_low"),
    ({"crop_scale_high": (0.1, 2)}, "range", ValueError, "crop_scale_high"),
    ({"aggregation": ("median",)}, "option", ValueError, "aggregation"),
    ({"aggregation": ()}, "empty", ValueError, "aggregation"),
    ({"n_views_log": "yes"}, "type", TypeError, "n_views_log"),
):
    bad(
        _kind,
        f"PredictTimeSpace-{_name}",
        lambda kw=_kw: PredictTimeSpace(**kw),
        _exc,
        _name,
    )
bad(
    "unfitted",
    "PredictTimeObjective",
    lambda: PredictTimeObjective(_mv(), IMG, Y),
    NotFittedError,
    "not fitted",
)
bad(
    "length",
    "PredictTimeObjective-X-y",
    lambda: PredictTimeObjective(_mv_fitted(), IMG, Y[:3]),
    ValueError,
    "X and y",
)
bad(
    "type",
    "PredictTimeObjective-space",
    lambda: PredictTimeObjective(_mv_fitted(), IMG, Y, space=5),
    TypeError,
    "space",
)
bad(
    "type",
    "PredictTimeObjective-random_state",
    lambda: PredictTimeObjective(_mv_fitted(), IMG, Y, random_state="x"),
    TypeError,
    "random_state",
)
bad(
    "option",
    "PredictTimeObjective-scoring",
    lambda: PredictTimeObjective(_mv_fitted(), IMG, Y, scoring="nope"),
    TYPE_OR_VALUE,
    "'scoring' parameter",
)
bad(
    "unfitted",
    "tune_predict_time",
    lambda: tune_predict_time(_mv(), IMG, Y, n_trials=1),
    NotFittedError,
    "not fitted",
)
bad(
    "range",
    "tune_predict_time-n_trials",
    lambda: tune_predict_time(_mv_fitted(), IMG, Y, n_trials=0),
    ValueError,
    "n_trials",
)
bad(
    "type",
    "tune_predict_time-n_trials",
    lambda: tune_predict_time(_mv_fitted(), IMG, Y, n_trials=1.5),
    TypeError,
    "n_trials",
)
bad(
    "type",
    "tune_predict_time-study",
    lambda: tune_predict_time(_mv_fitted(), IMG, Y, n_trials=1, study=5),
    TypeError,
    "study",
)
bad(
    "option",
    "tune_predict_time-study-minimize",
    lambda: tune_predict_time(
        _mv_fitted(), IMG, Y, n_trials=1, study=_optuna_study("minimize")
    ),
    ValueError,
    "study must maximise",
)
for _func in (trials_table, best_trial_summary, count_states, plot_history):
    bad(
        "type",
        f"{_func.__name__}-study",
        lambda f=_func: f(5),
        TypeError,
        f"'study' parameter of {_func.__name__} must be an instance of 'optuna",
    )
bad(
    "type",
    "write_study_report-study",
    lambda: write_study_report(5, _tmpdir()),
    TypeError,
    "study",
)
bad(
    "type",
    "write_study_report-out_dir",
    lambda: write_study_report(_optuna_study(), 5),
    TypeError,
    "out_dir",
)
bad(
    "type",
    "training_search-study",
    lambda: _search(study=5),
    TypeError,
    "'study' parameter of training_search must be an instance of 'optuna",
)
bad("range", "check_n_trials", lambda: check_n_trials(-1), ValueError, "n_trials")
bad("type", "check_n_trials", lambda: check_n_trials(True), TypeError, "n_trials")
bad(
    "option",
    "curriculum_search_space-estimator",
    lambda: curriculum_search_space(LogisticRegression()),
    ValueError,
    "curriculum_epochs",
)
for _kw, _name in (
    ({"lr": (0, 1)}, "lr"),
    ({"lr": (1, 0.1)}, "lr"),
    ({"curriculum_epochs": (0, 3)}, "curriculum_epochs"),
    ({"initial_competence": (0.5, 2)}, "initial_competence"),
    ({"competence_power": (0.5, 2)}, "competence_power"),
):
    bad(
        "range",
        f"curriculum_search_space-{_name}",
        lambda kw=_kw: curriculum_search_space(_curriculum_mv(), **kw),
        TYPE_OR_VALUE,
        _name,
    )


def _search(**kw):
    import optuna

    space = {"n_views": optuna.distributions.IntDistribution(1, 3)}
    return training_search(_mv(), space, **kw)


bad(
    "range",
    "training_search-n_trials",
    lambda: _search(n_trials=0),
    ValueError,
    "n_trials",
)
bad(
    "empty",
    "training_search-param_distributions",
    lambda: training_search(_mv(), {}, n_trials=1),
    ValueError,
    "param_distributions",
)
bad(
    "type",
    "training_search-param_distributions",
    lambda: training_search(_mv(), [1], n_trials=1),
    ValueError,
    "param_distributions",
)
bad(
    "type",
    "training_search-random_state",
    lambda: _search(random_state="x"),
    TypeError,
    "random_state",
)
bad(
    "option",
    "training_search-study-minimize",
    lambda: _search(study=_optuna_study("minimize")),
    ValueError,
    "study must maximise",
)
for _call, _kind, _exc, _name in (
    (lambda: make_storage(5), "type", TypeError, "storage"),
    (lambda: make_storage("nonsense"), "option", ValueError, "storage"),
    (lambda: make_storage(None), "empty", ValueError, "out_dir"),
    (lambda: make_storage(None, out_dir=5), "type", TypeError, "out_dir"),
    (
        lambda: make_storage("sqlite:///:memory:", connect_timeout=0),
        "range",
        ValueError,
        "connect_timeout",
    ),
    (
        lambda: make_storage("sqlite:///:memory:", connect_timeout="5"),
        "type",
        TypeError,
        "connect_timeout",
    ),
    (
        lambda: make_storage("sqlite:///:memory:", heartbeat_interval=0),
        "range",
        ValueError,
        "heartbeat_interval",
    ),
    (
        lambda: make_storage("sqlite:///:memory:", grace_period=5),
        "option",
        ValueError,
        "grace_period",
    ),
    (lambda: make_storage("nosuchdb://x"), "option", ValueError, "storage"),
    (
        lambda: load_or_create_study("", out_dir=_tmpdir()),
        "empty",
        ValueError,
        "study_name",
    ),
    (
        lambda: load_or_create_study(5, out_dir=_tmpdir()),
        "type",
        ValueError,
        "study_name",
    ),
    (
        lambda: load_or_create_study("s", out_dir=_tmpdir(), direction="up"),
        "option",
        ValueError,
        "direction",
    ),
    (
        lambda: load_or_create_study("s", out_dir=_tmpdir(), create="yes"),
        "type",
        TypeError,
        "create",
    ),
    (
        lambda: load_or_create_study("nope", out_dir=_tmpdir()),
        "empty",
        ValueError,
        "study_name",
    ),
):
    bad(_kind, f"tuning-storage-{_name}", _call, _exc, _name)


# --- tuning: pipelines, flat studies, the user's data -----------------------
bad(
    "unfitted",
    "tune_predict_time-pipeline",
    lambda: tune_predict_time(make_pipeline(_mv()), IMG, Y),
    NotFittedError,
    "not fitted",
)
bad(
    "type",
    "tune_predict_time-estimator",
    lambda: tune_predict_time(LogisticRegression().fit(FLAT, Y), FLAT, Y),
    TypeError,
    "n_views, crop_scale and aggregation",
)
bad("type", "warn_if_flat-study", lambda: warn_if_flat(5), TypeError, "study")
bad(
    "option",
    "training_search-fit-difficulty",
    lambda: training_search(
        make_pipeline(_mv()),
        {
            "multiviewclassifier__n_views": __import__(
                "optuna"
            ).distributions.IntDistribution(1, 2)
        },
        n_trials=1,
    ).fit(IMG, Y, difficulty=np.zeros(len(Y))),
    ValueError,
    "difficulty",
)
_IMG32 = np.zeros((12, 3, 32, 32), dtype=np.uint8)
for _call, _kind, _exc, _name in (
    (lambda f: f(FLAT, Y), "ndim", ValueError, "X must be images"),
    (lambda f: f(IMG, Y), "range", ValueError, "at least 28x28"),
    (lambda f: f(_IMG32.astype(object), Y), "type", TypeError, "X must hold numbers"),
    (lambda f: f(_IMG32, Y[:5]), "length", ValueError, "y must hold one label"),
    (lambda f: f(_IMG32, np.zeros(12)), "one-class", ValueError, "y must hold at"),
    (lambda f: f(_IMG32[:0], Y[:0]), "empty", ValueError, "y must hold at least"),
    (
        lambda f: f(_IMG32, Y, difficulty=_with_nan(np.zeros(12))),
        "nan",
        ValueError,
        "difficulty",
    ),
    (
        lambda f: f(_IMG32, Y, difficulty=np.zeros(5)),
        "length",
        ValueError,
        "difficulty must hold one value per sample",
    ),
    (lambda f: f(_IMG32, Y, scale="huge"), "option", ValueError, "scale"),
    (lambda f: f(_IMG32, Y, random_state=-1), "range", ValueError, "random_state"),
):
    for _func in (tuning_recipe_from_data, tuning_problem_from_data):
        bad(
            _kind,
            f"{_func.__name__}-{_name[:20]}",
            lambda c=_call, f=_func: c(f),
            _exc,
            _name,
        )


# --- persistence ----------------------------------------------------------
def _persistence():
    from skcells import persistence

    return persistence


def _a_model_file():
    import warnings

    path = _tmpdir() / "model.skcells"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _persistence().save_model(_mv_fitted(), path)
    return path


def _trained_net():
    return _curriculum_mv_net().initialize()


def _curriculum_mv_net():
    return NeuralNetClassifier(
        _TinyModule,
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=1,
        train_split=None,
        verbose=0,
    )


def _text_file():
    path = _tmpdir() / "model.skcells"
    path.write_text("not a model")
    return path


for _call, _kind, _exc, _name in (
    (
        lambda p: p.save_model(_mv(n_views=torch.ones(2)), _tmpdir() / "m"),
        "type",
        TypeError,
        "estimator.n_views is a torch tensor",
    ),
    (
        lambda p: p.load_model(_text_file()),
        "type",
        ValueError,
        "is not a skcells model file",
    ),
    (
        lambda p: p.load_model(_tmpdir() / "missing.skcells"),
        "empty",
        FileNotFoundError,
        "does not exist",
    ),
    (
        lambda p: p.load_model(_a_model_file(), trusted="x"),
        "type",
        TypeError,
        "trusted",
    ),
    (
        lambda p: p.load_model(_a_model_file(), trusted=[5]),
        "type",
        TypeError,
        "trusted",
    ),
    (lambda p: p.load_model(_a_model_file(), device=0), "type", TypeError, "device"),
    (
        lambda p: p.get_untrusted_types(_a_model_file(), trusted=5),
        "type",
        TypeError,
        "trusted",
    ),
    (
        lambda p: p.wrap_fitted_net(LogisticRegression(), IMG),
        "type",
        TypeError,
        "net must be a skorch NeuralNet",
    ),
    (
        lambda p: p.wrap_fitted_net(_curriculum_mv_net(), IMG, classes=[0, 1]),
        "unfitted",
        ValueError,
        "net is not trained",
    ),
    (
        lambda p: p.wrap_fitted_net(_trained_net(), IMG[:0], classes=[0, 1]),
        "empty",
        ValueError,
        "X must hold at least one input",
    ),
    (
        lambda p: p.wrap_fitted_net(_trained_net(), IMG, classes=[1]),
        "one-class",
        ValueError,
        "classes must hold at least 2 distinct labels",
    ),
    (
        lambda p: p.wrap_fitted_net(_trained_net(), IMG),
        "empty",
        ValueError,
        "classes is required",
    ),
):
    bad(
        _kind,
        f"persistence-{_name[:24]}",
        lambda c=_call: c(_persistence()),
        _exc,
        _name,
    )


# --- experiments (the paper's protocol) -----------------------------------
def _experiments():
    from skcells import experiments

    return experiments


_NET = {"model": "cnn9", "n_classes": 2, "epochs": 1, "batch_size": 4, "seed": 0}
for _call, _kind, _exc, _name in (
    (lambda: _experiments().get_scale("huge"), "option", ValueError, "scale"),
    (lambda: _experiments().get_scale(5), "type", ValueError, "scale"),
    (
        lambda: _experiments().run_experiments(series=(7,), scale="smoke"),
        "option",
        ValueError,
        "series",
    ),
    (
        lambda: _experiments().run_experiments(series=(), scale="smoke"),
        "empty",
        ValueError,
        "series",
    ),
    (
        lambda: _experiments().run_experiments(scale="huge"),
        "option",
        ValueError,
        "scale",
    ),
    (
        lambda: _experiments().run_experiments(scale="smoke", seeds=[-1]),
        "range",
        ValueError,
        "seeds",
    ),
    (
        lambda: _experiments().run_experiments(scale="smoke", seeds=[]),
        "empty",
        ValueError,
        "seeds",
    ),
    (
        lambda: _experiments().run_experiments(scale="smoke", device="tpu"),
        "option",
        ValueError,
        "device",
    ),
    (
        lambda: _experiments().run_experiments(scale="smoke", n_jobs=0),
        "range",
        ValueError,
        "n_jobs",
    ),
    (
        lambda: _experiments().run_experiments(scale="smoke", weights={"nope": "w.pt"}),
        "option",
        ValueError,
        "weights",
    ),
    (
        lambda: _experiments().run_experiments(
            series=(3,), scale="smoke", cifar_root="/nonexistent"
        ),
        "empty",
        FileNotFoundError,
        "cifar_root",
    ),
    (
        lambda: _experiments().run_experiments(scale="smoke", scheduler=5),
        "type",
        TypeError,
        "scheduler",
    ),
    (
        lambda: _experiments().run_experiments(scale="smoke", scheduler=" "),
        "empty",
        ValueError,
        "scheduler",
    ),
    (
        lambda: _experiments().run_experiments(
            scale="smoke", scheduler="tcp://127.0.0.1:1", n_jobs=2
        ),
        "option",
        ValueError,
        "n_jobs",
    ),
    (
        lambda: _experiments().make_net(**_NET, channels_last="yes"),
        "type",
        TypeError,
        "channels_last",
    ),
    (
        lambda: _experiments().load_cifar10("/nonexistent"),
        "empty",
        FileNotFoundError,
        "cifar_root",
    ),
    (lambda: _experiments().load_cifar10(5), "type", TypeError, "cifar_root"),
    (
        lambda: _experiments().load_digit_images(size=4),
        "range",
        ValueError,
        "size",
    ),
    (
        lambda: _experiments().load_digit_images(size="x"),
        "type",
        ValueError,
        "size",
    ),
    (
        lambda: _experiments().make_net(**{**_NET, "epochs": 0}),
        "range",
        ValueError,
        "epochs",
    ),
    (
        lambda: _experiments().make_net(**{**_NET, "batch_size": 0}),
        "range",
        ValueError,
        "batch_size",
    ),
    (
        lambda: (
            _experiments()
            .make_net(**{**_NET, "n_classes": 0})
            .fit(IMG_U8.astype(np.float32), Y[:2])
        ),
        "range",
        ValueError,
        "n_classes",
    ),
    (
        lambda: _experiments().evaluate_views(_mv(), IMG, Y, n_views=3),
        "unfitted",
        NotFittedError,
        "not fitted",
    ),
    (
        lambda: _experiments().split_test(Y, random_state=0, test_size=2.0),
        "range",
        TYPE_OR_VALUE,
        "'test_size' parameter",
    ),
):
    bad(_kind, f"experiments-{_name}", _call, _exc, _name)


# --- issue 16: hostile files, huge numbers, resources, numeric traps --------
def _hostile(kind):
    """A FIFO, a symlink or a device where a file or folder is expected."""
    folder = _tmpdir()
    if kind == "fifo":
        os.mkfifo(folder / "bccd.zip")
        return folder / "bccd.zip"
    if kind == "symlink":
        (folder / "a").write_bytes(b"x")
        (folder / "link").symlink_to(folder / "a")
        return folder
    return Path("/dev/zero")


def _checkpoint_with_int_keys():
    path = _tmpdir() / "int_keys.pt"
    torch.save({0: torch.zeros(2), "bias": torch.zeros(2)}, path)
    return path


def _malformed_journal():
    folder = _tmpdir()
    (folder / "optuna-journal.log").write_text('{"op_code": 99}\n')
    return folder


for _kw, _kind in (
    ({"rbc_mean": 1e300}, "range"),
    ({"rbc_std": 1e6}, "range"),
    ({"wbc_mean": 1e40}, "range"),
    ({"wbc_std": 1e300}, "range"),
    ({"step": 1e39}, "range"),
    ({"n_videos": 10**8}, "range"),
    ({"n_frames": 10**6}, "range"),
    ({"size": 5000}, "range"),
    ({"rbc_absorbance": (1e39, 0, 0)}, "range"),
    ({"wbc_absorbance": (0, 1e300, 0)}, "range"),
    ({"nucleus_absorbance": (0, 0, 51)}, "range"),
    ({"n_frames": 1000, "size": 4096}, "range"),
):
    _name = next(iter(_kw))
    bad(
        _kind,
        f"GenerationParams-huge-{_name}",
        lambda kw=_kw: GenerationParams(**kw),
        ValueError,
        _name,
    )
for _call, _kind, _exc, _match, _name in (
    (
        lambda: fetch_synthetic_blood_videos(n_videos=2, n_frames=2, size=8,
                                             data_home=_tmpdir(), verbose="yes"),
        "type", TypeError, "verbose", "fetch_synthetic-verbose",
    ),
    (
        lambda: fetch_synthetic_blood_videos(n_videos=10**7, n_frames=40, size=4096,
                                             data_home=_tmpdir()),
        "range", OSError, "n_videos, n_frames or size", "fetch_synthetic-no-space",
    ),
    (
        lambda: fetch_bccd(data_home=_tmpdir(), local_path=_hostile("fifo")),
        "type", ValueError, "local_path", "fetch_bccd-local_path-fifo",
    ),
    (
        lambda: fetch_bccd(data_home=_tmpdir(), local_path=_hostile("device")),
        "type", ValueError, "local_path", "fetch_bccd-local_path-device",
    ),
    (
        lambda: scale_difficulty(["0.5", "0.1"]),
        "type", TypeError, "difficulty", "scale_difficulty-strings",
    ),
    (
        lambda: scale_difficulty([0.5 + 1j, 0.1]),
        "type", TypeError, "difficulty", "scale_difficulty-complex",
    ),
    (
        lambda: difficulty_score(["1"], [1]),
        "type", TypeError, "blur", "difficulty_score-strings",
    ),
    (
        lambda: _net().fit(X_NET, Y, difficulty=[str(d) for d in D_NET]),
        "type", TypeError, "difficulty", "net-difficulty-strings",
    ),
    (
        lambda: asymmetric_label_noise(
            np.array([1, "a", 1, "a"], dtype=object), 0.5, mapping="pairflip"
        ),
        "type", TypeError, "pairflip", "label_noise-pairflip-mixed",
    ),
    (
        lambda: pairflip_mapping(np.array([1, "a"], dtype=object)),
        "type", TypeError, "classes", "pairflip_mapping-mixed",
    ),
    (
        lambda: make_model("cnn9", 2, width=np.inf),
        "nan", ValueError, "width", "make_model-width-inf",
    ),
    (
        lambda: make_model("cnn9", 2, width=1e300),
        "range", ValueError, "width", "make_model-width-huge",
    ),
    (
        lambda: X3D(2, depth_factor=np.inf),
        "nan", ValueError, "depth_factor", "X3D-depth_factor-inf",
    ),
    (
        lambda: make_model("cnn9", 2, width=0.125, freeze_backbone="no"),
        "type", TypeError, "freeze_backbone", "make_model-freeze_backbone-no",
    ),
    (
        lambda: read_checkpoint(_checkpoint_with_int_keys()),
        "type", ValueError, "keys must be parameter names", "read_checkpoint-keys",
    ),
    (
        lambda: make_storage("sqlite:///:memory:", connect_timeout=1e300),
        "range", ValueError, "connect_timeout", "make_storage-connect_timeout-huge",
    ),
    (
        lambda: make_storage("sqlite:///:memory:", heartbeat_interval=10**6),
        "range", ValueError, "heartbeat_interval", "make_storage-heartbeat-huge",
    ),
    (
        lambda: make_storage(
            "sqlite:///:memory:", heartbeat_interval=5, grace_period=10**17
        ),
        "range", ValueError, "grace_period", "make_storage-grace_period-huge",
    ),
    (
        lambda: load_or_create_study("s", out_dir=_malformed_journal()),
        "type", ValueError, "malformed", "load_or_create_study-journal",
    ),
    (
        lambda: cap_n_jobs(0, 3),
        "range", ValueError, "n_jobs", "cap_n_jobs-n_jobs",
    ),
    (
        lambda: cap_n_jobs(2, 0),
        "range", ValueError, "n_tasks", "cap_n_jobs-n_tasks",
    ),
    (
        lambda: check_free_space(_tmpdir(), 10**30, what="the test data"),
        "range", OSError, "the test data needs", "check_free_space",
    ),
    (
        lambda: open_regular_file("link", root=_hostile("symlink")),
        "type", ValueError, "symbolic link", "open_regular_file-symlink",
    ),
    (
        lambda: open_regular_file("../x", root=_tmpdir()),
        "range", ValueError, "relative path", "open_regular_file-dotdot",
    ),
    (
        lambda: open_regular_file(_hostile("device")),
        "type", ValueError, "device", "open_regular_file-device",
    ),
    (
        lambda: load_npy(__file__, dtype=np.int64, shape=(None,)),
        "type", ValueError, "magic", "load_npy-not-npy",
    ),
):  # fmt: skip
    bad(_kind, _name, _call, _exc, _match)


# ------------------------------------------------------------------- tests
@pytest.mark.parametrize(("call", "exc", "match"), CASES)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_every_invalid_input_class_is_covered():
    kinds = {p.id.rsplit("[", 1)[1].rstrip("]") for p in CASES}
    assert kinds == set(KINDS)
    assert len(CASES) > 300


def test_an_empty_data_home_variable_means_unset(monkeypatch, tmp_path):
    """SKCELLS_DATA="" falls back to the default, never the current folder."""
    monkeypatch.setenv("SKCELLS_DATA", "")
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sklearn"))
    monkeypatch.chdir(tmp_path)
    assert get_data_home() == tmp_path / "sklearn" / "skcells"


def test_unreachable_database_error_hides_the_password():
    """The storage error names the storage without leaking its password."""
    url = "postgresql+psycopg2://user:s3cr3t-pw@127.0.0.1:1/db"
    with pytest.raises(ValueError, match="storage") as info:
        make_storage(url, connect_timeout=1)
    assert "s3cr3t-pw" not in str(info.value)
    assert "unreachable" in str(info.value)


# --------------------------------------------------------------------- CLI
SKCELLS = Path(sys.executable).with_name("skcells")
_TINY = ["--n-videos", "2", "--n-frames", "2", "--size", "8"]

# (command, argv, fragment of the error line, kind, from argparse)
CLI_CASES = [
    ("generate", ["generate", "--n-videos", "0"], "n_videos", "range", False),
    ("generate", ["generate", "--n-videos", "x"], "--n-videos", "type", True),
    (
        "generate",
        ["generate", *_TINY, "--blur-range", "5", "1"],
        "blur_range",
        "range",
        False,
    ),
    ("generate", ["generate", *_TINY, "--n-jobs", "0"], "n_jobs", "range", False),
    (
        "generate",
        ["generate", *_TINY, "--noise-law", "x"],
        "--noise-law",
        "option",
        True,
    ),
    (
        "generate",
        ["generate", *_TINY, "--condition-proba", "1", "1", "1", "1"],
        "condition_proba",
        "range",
        False,
    ),
    ("generate", ["generate", *_TINY, "--step", "nan"], "step", "nan", False),
    (
        "generate",
        ["generate", *_TINY, "--data-home", "{file}"],
        "data_home",
        "type",
        False,
    ),
    (
        "generate",
        ["generate", *_TINY, "--bogus"],
        "unrecognized arguments",
        "option",
        True,
    ),
    (
        "show",
        ["show", *_TINY, "--frame", "99", "--out", "{tmp}"],
        "frame",
        "range",
        False,
    ),
    (
        "show",
        ["show", *_TINY, "--index", "99", "--out", "{tmp}"],
        "index",
        "range",
        False,
    ),
    ("show", ["show", *_TINY, "--size", "2", "--out", "{tmp}"], "size", "range", False),
    ("reproduce", ["reproduce", "--scale", "huge"], "--scale", "option", True),
    ("reproduce", ["reproduce", "--device", "tpu"], "--device", "option", True),
    ("reproduce", ["reproduce", "--series", "7"], "--series", "option", True),
    ("reproduce", ["reproduce", "--out", "{file}"], "--out", "type", False),
    (
        "reproduce",
        ["reproduce", "--scale", "smoke", "--weights", "bogus", "--out", "{tmp}"],
        "--weights",
        "type",
        False,
    ),
    (
        "reproduce",
        ["reproduce", "--scale", "smoke", "--seeds", "-1", "--out", "{tmp}"],
        "seeds",
        "range",
        False,
    ),
    (
        "reproduce",
        ["reproduce", "--scale", "smoke", "--n-jobs", "0", "--out", "{tmp}"],
        "n_jobs",
        "range",
        False,
    ),
    ("tune", ["tune", "--n-trials", "0", "--out", "{tmp}"], "n-trials", "range", False),
    ("tune", ["tune", "--timeout", "-1", "--out", "{tmp}"], "timeout", "range", False),
    (
        "tune",
        ["tune", "--n-views", "5", "1", "--out", "{tmp}"],
        "n_views",
        "range",
        False,
    ),
    (
        "tune",
        ["tune", "--crop-scale-low", "0", "0.5", "--out", "{tmp}"],
        "crop_scale_low",
        "range",
        False,
    ),
    (
        "tune",
        ["tune", "--storage", "nonsense", "--out", "{tmp}"],
        "storage",
        "option",
        False,
    ),
    (
        "tune",
        ["tune", "--study", "nope", "--report", "--out", "{tmp}"],
        "nope",
        "empty",
        False,
    ),
    ("tune", ["tune", "--labels", "y.npy", "--out", "{tmp}"], "--data", "empty", False),
    ("tune", ["tune", "--trust", "a.B", "--out", "{tmp}"], "--trust", "option", False),
    (
        "tune",
        ["tune", "--data", "{file}", "--labels", "{file}", "--out", "{tmp}"],
        "must be a .npy file",
        "type",
        False,
    ),
    ("predict", ["predict", "{file}"], "INPUTS", "empty", True),
    (
        "predict",
        ["predict", "{file}", "{file}", "--out", "{tmp}.csv"],
        "a_file.txt",
        "type",
        False,
    ),
    (
        "predict",
        ["predict", "{file}", "{file}", "--min-agreement", "2"],
        "--min-agreement",
        "range",
        False,
    ),
    (
        "predict",
        ["predict", "{file}", "{file}", "--chunk-size", "0"],
        "--chunk-size",
        "range",
        False,
    ),
    (
        "predict",
        ["predict", "{file}", "{file}", "--coverage", "x"],
        "--coverage",
        "type",
        True,
    ),
    ("tune", ["tune", "--aggregation", "median"], "--aggregation", "option", True),
    (
        "tune",
        ["tune", "--sampler-seed", "-5", "--create", "--out", "{tmp}"],
        "--sampler-seed",
        "range",
        False,
    ),
    (
        "tune",
        ["tune", "--out", "{file}", "--n-trials", "1"],
        "",
        "type",
        False,
    ),
    # issue 16: numbers beyond float32/int64, sizes, timings, checkpoints
    ("generate", ["generate", *_TINY, "--rbc-mean", "1e300"], "rbc_mean", "range",
     False),
    ("generate", ["generate", *_TINY, "--step", "1e39"], "step", "range", False),
    ("generate", ["generate", "--size", "4096", "--n-frames", "1000"],
     "n_frames=1000", "range", False),
    ("generate", ["generate", "--n-videos", "10000000", "--n-frames", "40",
                  "--size", "4096"], "n_videos, n_frames or size", "range", False),
    ("show", ["show", *_TINY, "--fps", "1e-300", "--out", "{tmp}"], "fps", "range",
     False),
    ("show", ["show", *_TINY, "--fps", "inf", "--out", "{tmp}"], "fps", "nan", False),
    ("tune", ["tune", "--connect-timeout", "1e300", "--create", "--out", "{tmp}"],
     "connect_timeout", "range", False),
    ("tune", ["tune", "--storage", "sqlite:///{tmp}.db", "--heartbeat-interval",
              "1000000", "--create"], "heartbeat_interval", "range", False),
    ("reproduce", ["reproduce", "--scale", "smoke", "--weights", "cnn9={file}",
                   "--out", "{tmp}"], "--weights cnn9=", "type", False),
]  # fmt: skip
CLI_PARAMS = [
    pytest.param(*case, id=f"skcells {' '.join(case[1][:1] + case[1][-3:])}[{case[3]}]")
    for case in CLI_CASES
]


def _run_main(argv, capsys):
    try:
        status = cli.main(argv)
    except SystemExit as exc:  # argparse errors
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def cli_sandbox(data_home, tmp_path, monkeypatch):
    """Run commands inside tmp_path with a private data home; a plain file."""
    monkeypatch.chdir(tmp_path)
    a_file = tmp_path / "a_file.txt"
    a_file.write_text("not a folder")
    return {"tmp": str(tmp_path / "out"), "file": str(a_file)}


@pytest.mark.parametrize(("command", "argv", "fragment", "kind", "usage"), CLI_PARAMS)
def test_cli_bad_input(command, argv, fragment, kind, usage, cli_sandbox, capsys):
    if command not in cli._available_commands():
        pytest.skip(f"skcells {command} is not in this installation yet")
    argv = [a.format(**cli_sandbox) for a in argv]
    status, out, err = _run_main(argv, capsys)
    assert status == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines, "no error message on standard error"
    if usage:  # argparse: usage lines, then one error line
        assert lines[-1].startswith("skcells")
        assert ": error: " in lines[-1]
    else:  # library errors: exactly one line
        assert len(lines) == 1, err
        assert lines[0].startswith(f"skcells {command}: error: ")
    assert fragment in lines[-1]


def test_cli_without_command_prints_help_and_fails(capsys):
    status, out, err = _run_main([], capsys)
    assert status == 2
    assert "usage: skcells" in out
    assert "Traceback" not in out + err


def test_cli_unknown_command(capsys):
    status, out, err = _run_main(["nope"], capsys)
    assert status == 2
    assert "invalid choice: 'nope'" in err.strip().splitlines()[-1]
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["generate", "--n-videos", "0"], id="generate-n_videos"),
        pytest.param(
            ["generate", *_TINY, "--data-home", "{file}"], id="generate-data_home-file"
        ),
    ],
)
def test_console_script_reports_one_line(argv, tmp_path):
    """The installed ``skcells`` script fails with one line, no traceback."""
    if not SKCELLS.exists():
        pytest.skip(f"no console script at {SKCELLS}")
    a_file = tmp_path / "a_file.txt"
    a_file.write_text("x")
    argv = [a.format(file=a_file) for a in argv]
    env = {**os.environ, "SKCELLS_DATA": str(tmp_path / "data")}
    proc = subprocess.run(
        [str(SKCELLS), *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("skcells generate: error: ")
    assert "Traceback" not in proc.stderr

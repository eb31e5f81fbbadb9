"""Tests for skcells.tuning and ``skcells tune``."""

import json
import pickle
import shutil
import threading
from pathlib import Path

import numpy as np
import optuna
import pytest
import sklearn
import torch
from sklearn.base import BaseEstimator
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from skcells.cli import main
from skcells.curriculum import CurriculumNeuralNetClassifier
from skcells.multiview import MultiViewClassifier
from skcells.tuning import (
    PredictTimeObjective,
    PredictTimeSpace,
    best_trial,
    best_trial_summary,
    check_n_trials,
    count_states,
    curriculum_search_space,
    describe_storage,
    load_or_create_study,
    make_storage,
    training_search,
    trials_table,
    tune_predict_time,
    tuning_model,
    tuning_problem,
    tuning_problem_from_data,
    tuning_recipe,
    tuning_recipe_from_data,
    warn_if_flat,
    write_study_report,
)
from skcells.utils import params_hash, sha256_file, write_manifest

optuna.logging.set_verbosity(optuna.logging.WARNING)


# --------------------------------------------------------------------- storage


def test_default_storage_is_a_journal_file_in_out_dir(tmp_path):
    out = tmp_path / "out"
    storage = make_storage(out_dir=out)
    assert isinstance(storage, optuna.storages.JournalStorage)
    study = optuna.create_study(storage=storage, study_name="s")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    journal = out / "optuna-journal.log"
    assert journal.is_file() and journal.stat().st_size > 0
    assert describe_storage(storage) == f"journal file {journal}"
    # A second storage object on the same file sees the same trials.
    again = optuna.load_study(study_name="s", storage=make_storage(out_dir=out))
    assert [t.value for t in again.trials] == [t.value for t in study.trials]


@pytest.mark.parametrize("name", ["study.log", "study.journal", "study.jsonl"])
def test_journal_path_strings_and_pathlike(tmp_path, name):
    for storage in (str(tmp_path / name), tmp_path / ("p-" + name)):
        opened = make_storage(storage)
        assert isinstance(opened, optuna.storages.JournalStorage)


def test_database_url_and_storage_object(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    opened = make_storage(url)
    assert isinstance(opened, optuna.storages.RDBStorage)
    assert make_storage(opened) is opened
    assert describe_storage(url) == url


def test_describe_storage_hides_password():
    text = describe_storage("postgresql+psycopg2://me:s3cret@db.example:5432/opt")
    assert "s3cret" not in text and "db.example:5432/opt" in text


@pytest.mark.parametrize(
    "storage, match",
    [
        ("postgres", "Optuna storage URL"),
        ("study.db", "Optuna storage URL"),
        ("nosuchdialect://host/db", "cannot open the storage"),
    ],
)
def test_bad_storage_strings(storage, match):
    with pytest.raises(ValueError, match=match):
        make_storage(storage)


def test_bad_storage_types(tmp_path):
    with pytest.raises(TypeError, match="storage must be None"):
        make_storage(42)
    with pytest.raises(ValueError, match="pass out_dir"):
        make_storage(None)
    with pytest.raises(TypeError, match="out_dir must be"):
        make_storage(None, out_dir=3)
    (tmp_path / "dir.log").mkdir()
    with pytest.raises(ValueError, match="is a folder"):
        make_storage(tmp_path / "dir.log")


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"connect_timeout": 0}, ValueError, "connect_timeout must be .*> 0, got 0"),
        ({"connect_timeout": "5"}, TypeError, "connect_timeout must be a .*number"),
        ({"heartbeat_interval": 0}, ValueError, "heartbeat_interval must be .*>= 1"),
        ({"heartbeat_interval": 1.5}, TypeError, "heartbeat_interval must be an int"),
        ({"grace_period": 3}, ValueError, "grace_period needs a heartbeat"),
    ],
)
def test_bad_storage_parameters(tmp_path, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        make_storage(out_dir=tmp_path, **kwargs)


def test_unreachable_database_is_a_clear_error():
    # Port 1 on the loopback interface: nothing listens there.
    url = "postgresql+psycopg2://someone:pw@127.0.0.1:1/nodb"
    with pytest.raises(ValueError, match="is unreachable") as info:
        make_storage(url, connect_timeout=2)
    message = str(info.value)
    assert "127.0.0.1:1/nodb" in message and "pw@" not in message


def test_sqlite_in_missing_folder_is_a_clear_error(tmp_path):
    url = f"sqlite:///{tmp_path / 'missing' / 'study.db'}"
    with pytest.raises(ValueError, match="unreachable"):
        make_storage(url)


# --------------------------------------------------------------------- studies


def test_unknown_study_needs_create(tmp_path):
    with pytest.raises(ValueError, match="study_name='nope' does not exist") as info:
        load_or_create_study("nope", out_dir=tmp_path)
    assert "--create" in str(info.value)
    created = load_or_create_study("nope", out_dir=tmp_path, create=True)
    created.optimize(lambda t: t.suggest_int("k", 0, 3), n_trials=1)
    loaded = load_or_create_study("nope", out_dir=tmp_path)
    assert loaded.study_name == "nope" and len(loaded.trials) == 1
    # Creating again loads the existing study with its trials.
    assert len(load_or_create_study("nope", out_dir=tmp_path, create=True).trials) == 1


def test_study_direction_mismatch_and_bad_arguments(tmp_path):
    load_or_create_study("s", out_dir=tmp_path, create=True, direction="minimize")
    with pytest.raises(ValueError, match="direction 'minimize'"):
        load_or_create_study("s", out_dir=tmp_path, create=True)
    with pytest.raises(ValueError, match="study_name must be a non-empty string"):
        load_or_create_study("  ", out_dir=tmp_path)
    with pytest.raises(ValueError, match="direction must be one of"):
        load_or_create_study("s", out_dir=tmp_path, direction="up")
    with pytest.raises(TypeError, match="create must be a bool"):
        load_or_create_study("s", out_dir=tmp_path, create="yes")


def test_concurrent_create_gives_one_study(tmp_path):
    url = f"sqlite:///{tmp_path / 'race.db'}"
    errors = []

    def worker(i):
        try:
            study = load_or_create_study("shared", url, create=True)
            study.set_user_attr(f"worker{i}", i)  # written into the study it got
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    # one study, which all four workers got
    study = load_or_create_study("shared", url)
    assert study.user_attrs == {f"worker{i}": i for i in range(4)}
    names = [s.study_name for s in optuna.get_all_study_summaries(url)]
    assert names == ["shared"]


# --------------------------------------------------------------- search space


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"n_views": (0, 5)}, ValueError, r"n_views must be a pair .* got \(0, 5\)"),
        ({"n_views": (6, 5)}, ValueError, r"low <= high, both >= 1, got \(6, 5\)"),
        ({"n_views": (1.0, 5)}, TypeError, "n_views must be a pair of integers"),
        ({"n_views": 5}, ValueError, "n_views must be a pair"),
        ({"crop_scale_low": (0.3, 0.2)}, ValueError, r"low <= high, both in \(0, 1\]"),
        ({"crop_scale_low": (0.0, 0.2)}, ValueError, "crop_scale_low must be"),
        ({"crop_scale_high": (0.5, 1.5)}, ValueError, "crop_scale_high must be"),
        ({"crop_scale_high": (0.1, 0.3)}, ValueError, "must reach at least the top"),
        (
            {"crop_scale_low": (0.1, float("nan"))},
            ValueError,
            r"crop_scale_low must be .* got \(0.1, nan\)",
        ),
        ({"aggregation": ()}, ValueError, "aggregation must be a non-empty"),
        (
            {"aggregation": ("median",)},  # a regressor's rule
            ValueError,
            "aggregation must be one of .*got 'median'",
        ),
        ({"aggregation": ("mode", "mode")}, ValueError, "distinct"),
        ({"n_views_log": 1}, TypeError, "n_views_log must be a bool"),
    ],
)
def test_predict_space_rejects_bad_ranges(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        PredictTimeSpace(**kwargs)


def test_predict_space_draws_inside_its_ranges():
    space = PredictTimeSpace(
        n_views=(2, 9),
        crop_scale_low=(0.1, 0.4),
        crop_scale_high=(0.2, 0.6),
        aggregation="weighted",
    )
    assert space.aggregation == ("weighted",)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(60):
        trial = study.ask()
        params = space.suggest(trial)
        low, high = params["crop_scale"]
        assert 2 <= params["n_views"] <= 9
        assert 0.1 <= low <= 0.4 and max(low, 0.2) <= high <= 0.6
        assert params["aggregation"] == "weighted"
        assert PredictTimeSpace.to_estimator_params(trial.params) == params
        study.tell(trial, 0.0)


def test_fixed_ranges_fix_the_parameters():
    space = PredictTimeSpace(
        n_views=(4, 4), crop_scale_low=(0.2, 0.2), crop_scale_high=(0.2, 0.2)
    )
    trial = optuna.create_study().ask()
    params = space.suggest(trial)
    assert params["n_views"] == 4 and params["crop_scale"] == (0.2, 0.2)


def test_to_estimator_params_needs_every_draw():
    with pytest.raises(ValueError, match="missing \\['crop_scale_high'\\]"):
        PredictTimeSpace.to_estimator_params(
            {"n_views": 3, "crop_scale_low": 0.1, "aggregation": "mode"}
        )


@pytest.mark.parametrize(
    "value, exc",
    [(0, ValueError), (-3, ValueError), (2.0, TypeError), (True, TypeError)],
)
def test_check_n_trials(value, exc):
    with pytest.raises(exc, match=f"n_trials must be an int >= 1, got {value!r}"):
        check_n_trials(value)
    assert check_n_trials(np.int64(3)) == 3


# --------------------------------------------------------------------- reports


def _study_with_every_state():
    study = optuna.create_study(direction="maximize")
    study.enqueue_trial({"x": 0.75})
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    failed = study.ask()
    failed.suggest_float("x", 0, 1)
    study.tell(failed, state=optuna.trial.TrialState.FAIL)
    running = study.ask()
    running.suggest_float("x", 0, 1)
    return study


def test_trials_table_keeps_unfinished_trials():
    study = _study_with_every_state()
    table = trials_table(study)
    assert list(table["number"]) == [0, 1, 2, 3, 4]
    assert list(table["state"]) == ["COMPLETE"] * 3 + ["FAIL", "RUNNING"]
    assert "params_x" in table.columns
    assert count_states(study) == {"COMPLETE": 3, "FAIL": 1, "RUNNING": 1}


def test_best_trial_summary_uses_complete_trials_only():
    study = _study_with_every_state()
    best = max(t.value for t in study.trials if t.value is not None)
    summary = best_trial_summary(study)
    assert summary.startswith(f"best trial #{study.best_trial.number}: value=")
    assert f"{best:.6g}" in summary


def test_write_study_report(tmp_path):
    study = _study_with_every_state()
    paths = write_study_report(study, tmp_path / "report")
    assert paths["trials"].read_text().splitlines()[0].startswith("number,")
    assert len(paths["trials"].read_text().splitlines()) == 6
    assert paths["history"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    leftovers = [p.name for p in (tmp_path / "report").iterdir()]
    assert sorted(leftovers) == ["optimization_history.png", "trials.csv"]
    with pytest.raises(
        TypeError, match="'out_dir' parameter of write_study_report must"
    ):
        write_study_report(study, None)


def test_report_of_an_empty_study(tmp_path):
    study = optuna.create_study()
    assert best_trial_summary(study) == "no complete trial yet"
    paths = write_study_report(study, tmp_path)
    assert paths["history"].is_file()


# ------------------------------------------------------- predict-time objective


def test_objective_rejects_unfitted_and_foreign_estimators():
    X, y = np.zeros((4, 3)), np.array([0, 1, 0, 1])
    with pytest.raises(NotFittedError):
        PredictTimeObjective(_Unfitted(), X, y)
    fitted = LogisticRegression().fit(X + np.arange(4)[:, None], y)
    fitted.estimator_ = fitted
    with pytest.raises(TypeError, match="MultiViewClassifier"):
        PredictTimeObjective(fitted, X, y)


class _Unfitted(BaseEstimator):
    """Stands for a multi-view classifier that has not been fitted yet."""

    def __init__(self, n_views=1, crop_scale=(0.1, 0.2), aggregation="mode"):
        self.n_views = n_views
        self.crop_scale = crop_scale
        self.aggregation = aggregation

    def fit(self, X, y):
        self.estimator_ = None
        return self


# ------------------------------------------- predict-time tuning, real classifier


class CountingLogisticRegression(LogisticRegression):
    """Logistic regression that counts every fit in this process."""

    n_fits = 0

    def fit(self, X, y, **kwargs):
        type(self).n_fits += 1
        return super().fit(X, y, **kwargs)


@pytest.fixture(scope="module")
def digits_split():
    X, y = load_digits(return_X_y=True)
    return X[:300], y[:300], X[300:420], y[300:420]


@pytest.fixture
def fitted_multiview(digits_split):
    X_train, y_train, _, _ = digits_split
    clf = MultiViewClassifier(
        CountingLogisticRegression(max_iter=300),
        n_views=3,
        crop_scale=(0.5, 0.9),
        random_state=0,
    )
    return clf.fit(X_train, y_train)


def test_tune_predict_time_never_refits(fitted_multiview, digits_split):
    _, _, X_val, y_val = digits_split
    fits_before = CountingLogisticRegression.n_fits
    inner = fitted_multiview.estimator_
    params_before = fitted_multiview.get_params(deep=False)
    space = PredictTimeSpace(
        n_views=(1, 6), crop_scale_low=(0.3, 0.6), crop_scale_high=(0.6, 1.0)
    )
    study = tune_predict_time(
        fitted_multiview, X_val, y_val, space=space, n_trials=6, random_state=0
    )
    assert CountingLogisticRegression.n_fits == fits_before
    assert fitted_multiview.estimator_ is inner
    assert fitted_multiview.get_params(deep=False) == params_before
    assert len(study.trials) == 6
    assert count_states(study) == {"COMPLETE": 6}
    for trial in study.trials:
        params = PredictTimeSpace.to_estimator_params(trial.params)
        assert trial.user_attrs["crop_scale"] == list(params["crop_scale"])
    # The best value is reproducible by setting the best parameters on a copy.
    best = PredictTimeSpace.to_estimator_params(study.best_params)
    objective = PredictTimeObjective(
        fitted_multiview, X_val, y_val, space=space, random_state=0
    )
    candidate = objective.candidate(best)
    assert candidate.estimator_ is inner
    assert candidate.score(X_val, y_val) == pytest.approx(study.best_value)
    assert CountingLogisticRegression.n_fits == fits_before


def test_tune_predict_time_adds_to_a_stored_study(
    fitted_multiview, digits_split, tmp_path
):
    _, _, X_val, y_val = digits_split
    study = load_or_create_study("mv", out_dir=tmp_path, create=True)
    tune_predict_time(
        fitted_multiview,
        X_val,
        y_val,
        space=PredictTimeSpace(n_views=(1, 3)),
        n_trials=2,
        study=study,
        scoring="balanced_accuracy",
    )
    again = load_or_create_study("mv", out_dir=tmp_path)
    assert [t.state.name for t in again.trials] == ["COMPLETE", "COMPLETE"]
    assert all(0 <= t.value <= 1 for t in again.trials)


def test_tune_predict_time_bad_input(fitted_multiview, digits_split):
    _, _, X_val, y_val = digits_split
    with pytest.raises(ValueError, match="n_trials must be an int >= 1, got 0"):
        tune_predict_time(fitted_multiview, X_val, y_val, n_trials=0)
    with pytest.raises(ValueError, match="same number of samples"):
        tune_predict_time(fitted_multiview, X_val, y_val[:-1], n_trials=1)
    with pytest.raises(TypeError, match="space must be a PredictTimeSpace"):
        tune_predict_time(fitted_multiview, X_val, y_val, space={"n_views": (1, 2)})
    with pytest.raises(
        TypeError, match="'study' parameter of .* an instance of 'optuna"
    ):
        tune_predict_time(fitted_multiview, X_val, y_val, n_trials=1, study="s")
    with pytest.raises(NotFittedError):
        tune_predict_time(
            MultiViewClassifier(LogisticRegression()), X_val, y_val, n_trials=1
        )


def test_tune_predict_time_on_a_fitted_pipeline(digits_split):
    X_train, y_train, X_val, y_val = digits_split
    pipe = Pipeline(
        [
            ("scale", FunctionTransformer(lambda X: X / 16.0)),
            (
                "mv",
                MultiViewClassifier(
                    CountingLogisticRegression(max_iter=300),
                    n_views=3,
                    crop_scale=(0.5, 0.9),
                    random_state=0,
                ),
            ),
        ]
    ).fit(X_train, y_train)
    fits_before = CountingLogisticRegression.n_fits
    step = pipe.named_steps["mv"]
    inner, steps, params = step.estimator_, list(pipe.steps), step.get_params()
    space = PredictTimeSpace(n_views=(1, 5), crop_scale_low=(0.3, 0.6))
    study = tune_predict_time(
        pipe, X_val, y_val, space=space, n_trials=4, random_state=0
    )
    assert count_states(study) == {"COMPLETE": 4}
    # Nothing refitted, the pipeline and its step unchanged.
    assert CountingLogisticRegression.n_fits == fits_before
    assert pipe.steps == steps and pipe.named_steps["mv"] is step
    assert step.estimator_ is inner and step.get_params() == params
    objective = PredictTimeObjective(pipe, X_val, y_val, random_state=0)
    assert objective.prefix_ == "mv__"
    best = PredictTimeSpace.to_estimator_params(study.best_params)
    candidate = objective.candidate(best)
    assert candidate.named_steps["mv"].estimator_ is inner
    assert candidate.named_steps["mv"].n_views == best["n_views"]
    assert candidate.score(X_val, y_val) == pytest.approx(study.best_value)
    assert pipe.named_steps["mv"].n_views == 3
    # The best parameters go back into the pipeline by the step's name.
    pipe.set_params(**{objective.prefix_ + k: v for k, v in best.items()})
    assert pipe.score(X_val, y_val) == pytest.approx(study.best_value)


def test_tune_predict_time_refuses_what_it_cannot_tune(digits_split):
    X_train, y_train, X_val, y_val = digits_split
    unfitted = Pipeline([("mv", MultiViewClassifier(LogisticRegression()))])
    with pytest.raises(NotFittedError):
        tune_predict_time(unfitted, X_val, y_val, n_trials=1)
    plain = Pipeline([("lr", LogisticRegression())]).fit(X_train, y_train)
    with pytest.raises(TypeError, match="Pipeline with one as a step"):
        tune_predict_time(plain, X_val, y_val, n_trials=1)


def test_tune_predict_time_refuses_views_objects(digits_split):
    from skcells.multiview import DihedralViews

    X_train, y_train, X_val, y_val = digits_split
    clf = MultiViewClassifier(LogisticRegression(max_iter=300), views=DihedralViews())
    clf.fit(X_train.reshape(-1, 1, 8, 8), y_train)
    with pytest.raises(ValueError, match=r"views=DihedralViews\(\)\. Tune the"):
        tune_predict_time(clf, X_val.reshape(-1, 1, 8, 8), y_val, n_trials=1)


def test_warn_if_flat():
    study = optuna.create_study(study_name="flat", direction="maximize")
    assert warn_if_flat(study) is None  # no trial
    study.optimize(lambda t: 0.25 + 0 * t.suggest_float("x", 0, 1), n_trials=1)
    assert warn_if_flat(study) is None  # one trial
    study.optimize(lambda t: 0.25 + 0 * t.suggest_float("x", 0, 1), n_trials=2)
    with pytest.warns(UserWarning, match="all 3 complete trials of study 'flat'"):
        message = warn_if_flat(study)
    assert "scored 0.25" in message
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert warn_if_flat(study) is None


def test_a_flat_predict_time_study_warns(fitted_multiview, digits_split):
    _, _, X_val, y_val = digits_split
    fixed = PredictTimeSpace(
        n_views=(3, 3),
        crop_scale_low=(0.5, 0.5),
        crop_scale_high=(0.9, 0.9),
        aggregation=("mode",),
    )
    with pytest.warns(UserWarning, match="all 3 complete trials .* did not change"):
        tune_predict_time(
            fitted_multiview, X_val, y_val, space=fixed, n_trials=3, random_state=0
        )


# ------------------------------------------------------- training-time tuning


class RecordingCurriculumNet(CurriculumNeuralNetClassifier):
    """Curriculum net that records the difficulties each fit receives."""

    received = []

    def fit(self, X, y, difficulty=None, **fit_params):
        type(self).received.append(None if difficulty is None else np.array(difficulty))
        return super().fit(X, y, difficulty=difficulty, **fit_params)


class _TinyNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Conv2d(1, 2, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(1),
            torch.nn.Flatten(),
            torch.nn.Linear(2, 2),
        )

    def forward(self, x):
        return self.layers(x)


def _curriculum_multiview(net_class=CurriculumNeuralNetClassifier):
    net = net_class(
        _TinyNet,
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=2,
        batch_size=8,
        train_split=None,
        verbose=0,
    )
    return MultiViewClassifier(net, n_views=2, output_size=6, random_state=0)


def test_curriculum_search_space_names_follow_the_estimator():
    mv = _curriculum_multiview()
    space = curriculum_search_space(mv)
    assert set(space) == {
        "estimator__lr",
        "estimator__curriculum_epochs",
        "estimator__initial_competence",
        "estimator__competence_power",
    }  # a skorch net draws fresh views every epoch: no n_train_views
    assert space["estimator__lr"].log
    pipe = Pipeline([("scale", FunctionTransformer()), ("clf", mv)])
    space = curriculum_search_space(pipe, n_train_views=(1, 3), lr=None)
    assert set(space) == {
        "clf__estimator__curriculum_epochs",
        "clf__estimator__initial_competence",
        "clf__estimator__competence_power",
        "clf__n_train_views",
    }
    assert (space["clf__n_train_views"].low, space["clf__n_train_views"].high) == (1, 3)
    # A classic estimator inside the multi-view classifier: n_train_views only.
    mv_lr = MultiViewClassifier(LogisticRegression())
    space = curriculum_search_space(
        mv_lr,
        lr=None,
        curriculum_epochs=None,
        initial_competence=None,
        competence_power=None,
    )
    assert set(space) == {"n_train_views"}


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"lr": (0.1, 0.01)}, ValueError, "lr must be a pair"),
        ({"lr": (0.0, 0.01)}, ValueError, "lr must be a pair .* both > 0"),
        ({"curriculum_epochs": (0, 3)}, ValueError, "curriculum_epochs must be"),
        ({"curriculum_epochs": (1.5, 3)}, TypeError, "curriculum_epochs must be"),
        ({"initial_competence": (0.5, 1.5)}, ValueError, "initial_competence"),
        ({"competence_power": (0.5, 2)}, ValueError, "competence_power must be"),
        ({"n_train_views": (0, 2)}, ValueError, "n_train_views must be"),
    ],
)
def test_curriculum_search_space_rejects_bad_ranges(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        curriculum_search_space(_curriculum_multiview(), **kwargs)


def test_curriculum_search_space_missing_parameters():
    with pytest.raises(ValueError, match="no parameter ending in 'curriculum_epochs'"):
        curriculum_search_space(MultiViewClassifier(LogisticRegression()))
    with pytest.raises(ValueError, match="search space is empty"):
        curriculum_search_space(
            _curriculum_multiview(),
            lr=None,
            curriculum_epochs=None,
            initial_competence=None,
            competence_power=None,
            n_train_views=None,
        )


@pytest.mark.filterwarnings("ignore:all 2 complete trials")
@pytest.mark.parametrize("routing", [False, True], ids=["plain", "routing"])
def test_training_search_routes_difficulty_to_every_fold(routing):
    rng = np.random.default_rng(0)
    n = 24
    y = np.tile([0, 1], n // 2)
    X = rng.normal(size=(n, 1, 10, 10)).astype(np.float32)
    X[y == 1, :, 3:7, 3:7] += 2.0
    difficulty = np.arange(n) / n  # distinct: a value identifies its sample
    cv = StratifiedKFold(n_splits=2, shuffle=True, random_state=0)
    estimator = _curriculum_multiview(RecordingCurriculumNet)
    search = training_search(
        estimator,
        curriculum_search_space(estimator, lr=(0.01, 0.1), curriculum_epochs=(1, 2)),
        n_trials=2,
        cv=cv,
        random_state=0,
    )
    RecordingCurriculumNet.received = []
    with sklearn.config_context(enable_metadata_routing=routing):
        search.fit(X, y, difficulty=difficulty)
    received = RecordingCurriculumNet.received
    # Two trials of two folds, then the refit of the best on everything.
    assert len(received) == 2 * 2 + 1
    folds = [sorted(difficulty[train]) for train, _ in cv.split(X, y)]
    for i, got in enumerate(received[:-1]):
        assert sorted(got) == folds[i % 2]
    assert sorted(received[-1]) == sorted(difficulty)
    assert len(search.trials_) == 2
    assert all(t.state.name == "COMPLETE" for t in search.trials_)
    assert set(search.best_params_) == {
        "estimator__lr",
        "estimator__curriculum_epochs",
        "estimator__initial_competence",
        "estimator__competence_power",
    }
    assert search.predict(X).shape == (n,)


def test_training_search_bad_input():
    estimator = _curriculum_multiview()
    with pytest.raises(ValueError, match="n_trials must be an int >= 1, got 0"):
        training_search(estimator, n_trials=0)
    with pytest.raises(ValueError, match="param_distributions must be a non-empty"):
        training_search(estimator, {})
    with pytest.raises(TypeError, match="random_state must be an int"):
        training_search(estimator, random_state=1.5)
    with pytest.raises(ValueError, match="study must maximise"):
        training_search(estimator, study=optuna.create_study(direction="minimize"))
    search = training_search(estimator, random_state=3)
    assert isinstance(search.cv, StratifiedKFold) and search.cv.random_state == 3


def _pipeline(net_class=RecordingCurriculumNet):
    return Pipeline(
        [("id", FunctionTransformer()), ("clf", _curriculum_multiview(net_class))]
    )


def test_training_search_says_before_the_first_trial_that_difficulty_is_lost():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, 1, 10, 10)).astype(np.float32)
    y, d = np.tile([0, 1], 8), np.linspace(0, 1, 16)
    RecordingCurriculumNet.received = []
    space = {"clf__estimator__lr": optuna.distributions.FloatDistribution(0.01, 0.1)}
    search = training_search(_pipeline(), space, n_trials=2, cv=2)
    # A pipeline without routing refuses un-prefixed parameters.
    with pytest.raises(
        ValueError,
        match=r"(?s)Pipeline.fit takes no parameter "
        r"'difficulty' without metadata routing.*enable_metadata_rou"
        r"ting=True.*clf__difficulty=",
    ):
        search.fit(X, y, difficulty=d)
    # Routing runs in threads that do not see it.
    search_threads = training_search(_pipeline(), space, n_trials=2, cv=2, n_jobs=2)
    with sklearn.config_context(enable_metadata_routing=True):
        with pytest.raises(
            ValueError, match="n_jobs=2 runs trials in parallel threads"
        ):
            search_threads.fit(X, y, difficulty=d)
    # With routing, a parameter nobody requests is named.
    lr = training_search(
        MultiViewClassifier(LogisticRegression(), n_views=2, output_size=4),
        {"estimator__C": optuna.distributions.FloatDistribution(0.1, 1)},
        n_trials=1,
        cv=2,
    )
    with sklearn.config_context(enable_metadata_routing=True):
        with pytest.raises(ValueError, match=r"\['difficulty'\] cannot be routed"):
            lr.fit(X, y, difficulty=d)
    assert RecordingCurriculumNet.received == []  # no trial ran
    # The step-prefixed name reaches the network of every fold.
    search.fit(X, y, clf__difficulty=d)
    assert len(RecordingCurriculumNet.received) == 2 * 2 + 1
    assert count_states(search.study_) == {"COMPLETE": 2}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NaN means of failed fits
@pytest.mark.parametrize("refit", [True, False])
def test_a_search_whose_trials_all_fail_says_so(refit):
    X = np.random.default_rng(0).normal(size=(12, 1, 6, 6))
    y = np.tile([0, 1], 6)
    search = training_search(
        MultiViewClassifier(LogisticRegression(), n_views=2, output_size=3),
        {"estimator__C": optuna.distributions.FloatDistribution(-2.0, -1.0)},
        n_trials=2,
        cv=2,
        refit=refit,
    )
    with pytest.raises(ValueError, match="all 2 trial.s. of the search failed"):
        search.fit(X, y)


# ------------------------------------------------------------- skcells tune


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--n-trials", "0"], "--n-trials must be an int >= 1, got 0"),
        (["--n-views", "5", "2"], "n_views must be a pair (low, high)"),
        (["--crop-scale-low", "0.6", "0.7", "--crop-scale-high", "0.2", "0.5"],
         "crop_scale_high must reach"),
        (["--timeout", "-1"], "--timeout must be a finite real number > 0"),
        (["--study", "nope", "--report"], "study_name='nope' does not exist"),
        (["--storage", "nonsense"], "storage must be an Optuna storage URL"),
        (["--storage", "postgresql+psycopg2://u:pw@127.0.0.1:1/x", "--create",
          "--connect-timeout", "2"], "is unreachable"),
    ],
)  # fmt: skip
def test_tune_command_bad_input(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    status = main(["tune", "--scale", "smoke", "--out", str(out), *argv])
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("skcells tune: error: ")
    assert message in err[0]
    assert "pw@" not in err[0]
    # Nothing that could pass for results.
    assert not any((out / name).exists() for name in ("trials.csv", "run.json"))


@pytest.fixture(scope="module")
def smoke_home(tmp_path_factory):
    """A data home shared by the tests that need the smoke tuning model."""
    return tmp_path_factory.mktemp("smoke_home")


def test_tune_command_runs_reports_and_guards_its_study(tmp_path, capsys, smoke_home):
    out, home = tmp_path / "out", smoke_home
    base = ["tune", "--scale", "smoke", "--out", str(out), "--data-home", str(home)]
    assert main([*base, "--create", "--n-trials", "3", "--n-views", "1", "3"]) == 0
    printed = capsys.readouterr().out
    run = json.loads((out / "run.json").read_text())
    assert run["trials_run"] == [0, 1, 2] and run["states"] == {"COMPLETE": 3}
    assert f"best trial #{run['best_trial']['number']}:" in printed
    assert run["best_trial"]["estimator_params"]["n_views"] in (1, 2, 3)
    table = (out / "trials.csv").read_text().splitlines()
    assert len(table) == 4 and "params_n_views" in table[0]
    assert (out / "optimization_history.png").read_bytes()[:4] == b"\x89PNG"

    # A second run of the same command adds trials to the same study.
    assert main([*base, "--n-trials", "1", "--n-views", "1", "3"]) == 0
    assert json.loads((out / "run.json").read_text())["trials_run"] == [3]

    # --report runs nothing and sees the same best trial.
    assert main([*base, "--report"]) == 0
    report = json.loads((out / "run.json").read_text())
    assert report["trials_run"] == [] and report["states"] == {"COMPLETE": 4}
    study = load_or_create_study("skcells-tune", out_dir=out)
    assert report["best_trial"]["number"] == best_trial(study).number

    # Another recipe, or another model, may not join the study.
    before = (out / "run.json").read_text()
    capsys.readouterr()
    assert main([*base, "--seed", "1", "--n-trials", "1"]) == 2
    assert "another recipe" in capsys.readouterr().err
    study.set_user_attr("skcells:model_sha256", "0" * 64)
    assert main([*base, "--n-trials", "1"]) == 2
    assert "another fitted model" in capsys.readouterr().err
    assert (out / "run.json").read_text() == before
    assert len(load_or_create_study("skcells-tune", out_dir=out).trials) == 4


def test_tuning_model_cache_stores_weights_only(smoke_home):
    problem = tuning_problem("smoke", data_home=smoke_home)
    folder = problem.model_path.parent
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "params.pt"]
    assert problem.model_sha256 == sha256_file(problem.model_path)
    assert problem.recipe == tuning_recipe("smoke")
    # The model rebuilt from the cached weights predicts as a fresh fit does.
    fresh = tuning_problem("smoke", data_home=smoke_home, cache=False)
    assert fresh.model_sha256 is None and fresh.model_path is None
    for n_views, crop_scale in ((1, (0.1, 0.2)), (5, (0.4, 0.9))):
        for p in (problem, fresh):
            p.model.set_params(n_views=n_views, crop_scale=crop_scale)
        np.testing.assert_allclose(
            problem.model.predict_proba(problem.X_val),
            fresh.model.predict_proba(fresh.X_val),
            atol=1e-6,
        )
    # Loading again reuses the cache: same weights file, same hash.
    again = tuning_problem("smoke", data_home=smoke_home)
    assert again.model_sha256 == problem.model_sha256


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
def test_tampered_tuning_weights_are_refused(tmp_path, smoke_home):
    src = tuning_problem("smoke", data_home=smoke_home).model_path.parent
    home = tmp_path / "home"
    shutil.copytree(smoke_home, home)  # dataset and model caches
    folder = home / src.relative_to(smoke_home)
    marker = tmp_path / "PAYLOAD_RAN"
    (folder / "params.pt").write_bytes(pickle.dumps(_Payload(marker)))
    write_manifest(folder, ["params.pt"], recipe=tuning_recipe("smoke"))
    with pytest.raises(ValueError, match="cached tuning model .* cannot be loaded"):
        tuning_problem("smoke", data_home=home)
    assert not marker.exists()


class _Payload:
    """Unpickling this object would create ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "payload ran"))


def test_tuning_recipe_bad_input():
    with pytest.raises(ValueError, match="scale must be one of"):
        tuning_recipe("huge")
    with pytest.raises(ValueError, match="target must be one of"):
        tuning_recipe("smoke", target="plt")
    with pytest.raises(ValueError, match="random_state must be an int >= 0"):
        tuning_recipe("smoke", random_state=-1)


def test_tuning_uses_the_experiments_scales_and_net():
    import skcells.tuning
    from skcells.experiments import get_scale

    recipe, sizes = tuning_recipe("quick"), get_scale("quick").tuning
    assert recipe["data"]["n_videos"] == sizes["n_videos"] == 240
    assert recipe["net"]["max_epochs"] == sizes["max_epochs"]
    net = tuning_model(recipe).estimator
    assert isinstance(net, CurriculumNeuralNetClassifier) and net.train_split is None
    assert net.module__name == "cnn9" and net.module__width == sizes["width"]
    with pytest.warns(FutureWarning, match="get_scale"):
        assert skcells.tuning.SCALES["quick"] == sizes


# ---------------------------------------------------- skcells tune, own data
@pytest.fixture(scope="module")
def own_model(tmp_path_factory):
    """A saved multi-view classifier, validation data and labels files."""
    from skcells.persistence import save_model

    folder = tmp_path_factory.mktemp("own")
    X, y = load_digits(return_X_y=True)
    X = X.reshape(-1, 1, 8, 8)
    clf = MultiViewClassifier(
        LogisticRegression(max_iter=300), n_views=3, output_size=5, random_state=0
    ).fit(X[:200], y[:200])
    save_model(clf, folder / "model.skcells")
    np.save(folder / "X_val.npy", X[200:300])
    import pandas as pd

    pd.DataFrame(
        {"filename": [f"img{i}" for i in range(100)], "digit": y[200:300]}
    ).to_csv(folder / "labels.csv", index=False)
    np.save(folder / "labels.npy", y[200:300])
    return folder


def test_tune_command_tunes_a_saved_model_without_create(own_model, tmp_path, capsys):
    out = tmp_path / "out"
    base = [
        "tune", "--out", str(out), "--scale", "smoke", "--n-views", "1", "3",
        "--model", str(own_model / "model.skcells"),
        "--data", str(own_model / "X_val.npy"),
    ]  # fmt: skip
    # No --create: the default study in --out is created.
    assert (
        main([*base, "--labels", str(own_model / "labels.csv"), "--n-trials", "3"]) == 0
    )
    run = json.loads((out / "run.json").read_text())
    assert run["states"] == {"COMPLETE": 3} and run["trials_run"] == [0, 1, 2]
    assert run["model_sha256"] == sha256_file(own_model / "model.skcells")
    # The trials are the library's, on the same model and data.
    from skcells.persistence import load_model

    model = load_model(own_model / "model.skcells")
    best = run["best_trial"]
    model.set_params(**best["estimator_params"], random_state=0)
    X_val = np.load(own_model / "X_val.npy")
    y_val = np.load(own_model / "labels.npy")
    assert model.score(X_val, y_val) == pytest.approx(best["value"])
    # Other labels are another recipe: the study refuses them.
    capsys.readouterr()
    assert main([*base, "--labels", str(own_model / "labels.npy")]) == 2
    assert "another recipe" in capsys.readouterr().err


def test_tune_command_fits_on_the_users_images(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(16, 3, 32, 32), dtype=np.uint8)
    y = np.tile(["a", "b"], 8)
    d = rng.uniform(size=16)
    for name, array in (("X", X), ("y", y), ("d", d)):
        np.save(tmp_path / f"{name}.npy", array)
    out, home = tmp_path / "out", tmp_path / "home"
    argv = [
        "tune", "--out", str(out), "--scale", "smoke", "--data-home", str(home),
        "--data", str(tmp_path / "X.npy"), "--labels", str(tmp_path / "y.npy"),
        "--difficulty", str(tmp_path / "d.npy"), "--n-trials", "2",
        "--n-views", "1", "2",
    ]  # fmt: skip
    assert main(argv) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["states"] == {"COMPLETE": 2}
    recipe = tuning_recipe_from_data(X, y, difficulty=d, scale="smoke")
    assert run["recipe_hash"] == params_hash(recipe)
    assert recipe["net"]["n_classes"] == 2 and recipe["data"]["classes"] == ["a", "b"]
    # The model was cached: the library finds the same one.
    problem = tuning_problem_from_data(
        X, y, difficulty=d, scale="smoke", data_home=home
    )
    assert problem.model_sha256 == run["model_sha256"]
    assert problem.X_val.shape == (8, 3, 32, 32)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--labels", "y.npy"], "--data and --labels go together"),
        (["--data", "X.npy"], "--data and --labels go together"),
        (["--model", "m.skcells", "--data", "X.npy"], "(and --model needs both)"),
        (["--trust", "a.B"], "--trust only applies to --model"),
        (["--data", "X.npy", "--labels", "y.npy", "--target", "rbc"], "--target"),
        (["--model", "m", "--data", "X.npy", "--labels", "y.npy", "--difficulty",
          "d.npy"], "--difficulty is for fitting"),
        (["--data", "X.npy", "--labels", "short.npy"], "--labels has 3 labels for"),
        (["--data", "X.npy", "--labels", "two.csv"], "must have one label column"),
        (["--data", "X.npy", "--labels", "y.txt"], "must be a .npy or .csv file"),
        (["--data", "missing.npy", "--labels", "y.npy"], "does not exist"),
        (["--data", "X.npy", "--labels", "y.npy", "--difficulty", "short.npy"],
         "--difficulty has 3 values"),
        (["--model", "missing.skcells", "--data", "X.npy", "--labels", "y.npy"],
         "does not exist"),
        (["--data", "small.npy", "--labels", "y.npy"], "needs at least 28x28"),
    ],
)  # fmt: skip
def test_tune_command_own_data_bad_input(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    np.save("X.npy", np.zeros((6, 3, 32, 32), dtype=np.uint8))
    np.save("small.npy", np.zeros((6, 3, 8, 8), dtype=np.uint8))
    np.save("y.npy", np.tile([0, 1], 3))
    np.save("short.npy", np.zeros(3))
    Path("two.csv").write_text("a,b\n1,2\n")
    Path("y.txt").write_text("0\n1\n")
    status = main(["tune", "--scale", "smoke", "--out", "out", *argv])
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("skcells tune: error: "), err
    assert message in err[0]
    assert not Path("out/run.json").exists()


def test_tune_offers_every_aggregation_of_the_classifier():
    # The command writes the choices out (no torch import to build the
    # parser); they must stay the classifier's.
    from skcells._commands.tune import AGGREGATION_CHOICES
    from skcells.multiview import CLASSIFIER_AGGREGATIONS
    from skcells.tuning import PredictTimeSpace

    assert AGGREGATION_CHOICES == CLASSIFIER_AGGREGATIONS
    space = PredictTimeSpace(aggregation=("geometric_mean", "max"))
    assert space.aggregation == ("geometric_mean", "max")
    with pytest.raises(ValueError, match="aggregation must be one of"):
        PredictTimeSpace(aggregation=("median",))

"""Predict-time tuning of a fitted multi-view classifier, without refitting.

The number of views, the crop scale and the aggregation rule of
:class:`~skcells.multiview.MultiViewClassifier` only act when it predicts.
Every trial of :func:`tune_predict_time` therefore takes a shallow copy of
the fitted classifier (sharing its fitted ``estimator_``), sets the trial's
predict-time parameters on the copy and scores it on validation data.  The
network is trained once for the whole study, where
:class:`~sklearn.model_selection.GridSearchCV` would train it again for every
candidate and fold (``benchmarks/bench_tuning.py`` measures the saving).
"""

import copy
import dataclasses
import logging

import optuna
from sklearn.metrics import check_scoring
from sklearn.utils._param_validation import validate_params
from sklearn.utils.validation import check_is_fitted

from ..utils import check_bool, check_int, check_option, check_range
from ._report import warn_if_flat

logger = logging.getLogger(__name__)

# The default search covers the paper's two rules and the mean of
# probabilities; every rule of the classifier may be asked for.
_AGGREGATIONS = ("mode", "weighted", "mean")


@dataclasses.dataclass(frozen=True, kw_only=True)
class PredictTimeSpace:
    """Search space of the predict-time multi-view parameters.

    A trial draws ``n_views`` from ``n_views``, the lower crop-scale bound
    from ``crop_scale_low``, the upper bound from ``crop_scale_high``
    restricted to values ``>=`` the lower bound, and one of ``aggregation``.
    Every range is inclusive; a range whose two ends are equal fixes the
    parameter.

    Parameters
    ----------
    n_views : tuple of (int, int), default=(1, 20)
        Range of the number of views, ``1 <= low <= high``.
    crop_scale_low : tuple of (float, float), default=(0.05, 0.5)
        Range of the lower bound of the crop area fraction, within ``(0, 1]``.
    crop_scale_high : tuple of (float, float), default=(0.1, 1.0)
        Range of the upper bound of the crop area fraction, within ``(0, 1]``;
        its high end must be ``>=`` the high end of ``crop_scale_low`` so that
        every lower bound has an upper bound.
    aggregation : tuple of str, default=("mode", "weighted", "mean")
        Aggregation rules to try, a non-empty subset of
        ``("mode", "weighted", "mean")``.
    n_views_log : bool, default=False
        Draw ``n_views`` on a log scale.

    Examples
    --------
    >>> import optuna
    >>> from skcells.tuning import PredictTimeSpace
    >>> space = PredictTimeSpace(n_views=(5, 10), aggregation=("mode",))
    >>> trial = optuna.create_study().ask()
    >>> params = space.suggest(trial)
    >>> sorted(params)
    ['aggregation', 'crop_scale', 'n_views']
    >>> low, high = params["crop_scale"]
    >>> bool(0.05 <= low <= high <= 1.0), params["aggregation"]
    (True, 'mode')
    >>> PredictTimeSpace(n_views=(10, 5))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: n_views must be a pair (low, high) with low <= high, ... (10, 5).
    """

    n_views: tuple = (1, 20)
    crop_scale_low: tuple = (0.05, 0.5)
    crop_scale_high: tuple = (0.1, 1.0)
    aggregation: tuple = _AGGREGATIONS
    n_views_log: bool = False

    def __post_init__(self):
        n_views = check_range(self.n_views, "n_views", integer=True, low=1)
        unit = {"low": 0, "low_open": True, "high": 1}
        low = check_range(self.crop_scale_low, "crop_scale_low", **unit)
        high = check_range(self.crop_scale_high, "crop_scale_high", **unit)
        if high[1] < low[1]:
            raise ValueError(
                "crop_scale_high must reach at least the top of crop_scale_low "
                f"(a lower bound needs an upper bound >= it), got "
                f"crop_scale_low={self.crop_scale_low!r} and "
                f"crop_scale_high={self.crop_scale_high!r}."
            )
        aggregation = self.aggregation
        if isinstance(aggregation, str) or not hasattr(aggregation, "__iter__"):
            aggregation = (aggregation,)
        from ..multiview import CLASSIFIER_AGGREGATIONS

        aggregation = tuple(
            check_option(a, "aggregation", CLASSIFIER_AGGREGATIONS) for a in aggregation
        )
        if not aggregation or len(set(aggregation)) != len(aggregation):
            raise ValueError(
                "aggregation must be a non-empty sequence of distinct values from "
                f"{CLASSIFIER_AGGREGATIONS}, got {self.aggregation!r}."
            )
        check_bool(self.n_views_log, "n_views_log")
        object.__setattr__(self, "n_views", n_views)
        object.__setattr__(self, "crop_scale_low", low)
        object.__setattr__(self, "crop_scale_high", high)
        object.__setattr__(self, "aggregation", aggregation)

    def suggest(self, trial):
        """Draw the parameters of one trial.

        Parameters
        ----------
        trial : optuna.trial.Trial
            The trial that records the draws as ``n_views``,
            ``crop_scale_low``, ``crop_scale_high`` and ``aggregation``.

        Returns
        -------
        params : dict
            ``n_views``, ``crop_scale`` (a ``(low, high)`` tuple) and
            ``aggregation``, ready for ``set_params``.
        """
        n_views = trial.suggest_int(
            "n_views", self.n_views[0], self.n_views[1], log=self.n_views_log
        )
        low = trial.suggest_float(
            "crop_scale_low", self.crop_scale_low[0], self.crop_scale_low[1]
        )
        high = trial.suggest_float(
            "crop_scale_high",
            max(low, self.crop_scale_high[0]),
            self.crop_scale_high[1],
        )
        aggregation = trial.suggest_categorical("aggregation", self.aggregation)
        return {
            "n_views": n_views,
            "crop_scale": (low, high),
            "aggregation": aggregation,
        }

    @staticmethod
    def to_estimator_params(params):
        """Turn a trial's recorded parameters into ``set_params`` arguments.

        Parameters
        ----------
        params : dict
            ``trial.params`` of a trial drawn by :meth:`suggest`.

        Returns
        -------
        estimator_params : dict
            ``n_views``, ``crop_scale`` and ``aggregation``.

        Examples
        --------
        >>> from skcells.tuning import PredictTimeSpace
        >>> PredictTimeSpace.to_estimator_params({"n_views": 4,
        ...     "crop_scale_low": 0.1, "crop_scale_high": 0.3,
        ...     "aggregation": "mode"})
        {'n_views': 4, 'crop_scale': (0.1, 0.3), 'aggregation': 'mode'}
        """
        missing = {"n_views", "crop_scale_low", "crop_scale_high", "aggregation"}
        missing -= set(params)
        if missing:
            raise ValueError(
                f"params must hold the predict-time draws, missing {sorted(missing)} "
                f"in {params!r}."
            )
        return {
            "n_views": int(params["n_views"]),
            "crop_scale": (
                float(params["crop_scale_low"]),
                float(params["crop_scale_high"]),
            ),
            "aggregation": params["aggregation"],
        }


class PredictTimeObjective:
    """Optuna objective scoring predict-time parameters of a fitted classifier.

    Each call copies ``estimator`` shallowly, so the copy shares the fitted
    ``estimator_`` (and every other fitted attribute), sets the trial's
    parameters with ``set_params`` on the copy, and scores the copy on
    ``(X, y)``.  For a :class:`~sklearn.pipeline.Pipeline` the pipeline and
    the multi-view step are copied (the other steps are shared, fitted as
    they are) and the parameters are set on the step.  Neither ``estimator``
    nor its ``estimator_`` is modified or refitted; the objective checks
    after every trial that ``estimator_`` is still the very same object.

    Parameters
    ----------
    estimator : MultiViewClassifier or Pipeline
        A fitted multi-view classifier, or a fitted pipeline with one as a
        step (its parameters found as ``<step>__n_views``, ...).
    X : array-like
        Validation inputs, in any layout ``estimator`` predicts on.
    y : array-like of shape (n_samples,)
        Validation labels.
    space : PredictTimeSpace, default=None
        The search space; the default :class:`PredictTimeSpace` when None.
    scoring : str or callable, default=None
        A scikit-learn scorer name or callable ``scorer(estimator, X, y)``;
        the estimator's ``score`` (accuracy) when None.
    random_state : int, default=None
        When given, set as the copy's ``random_state`` in every trial, so that
        all trials draw their crops from the same random stream (common
        random numbers make the comparison of trials less noisy).

    Attributes
    ----------
    prefix_ : str
        The prefix of the predict-time parameters in ``estimator``'s
        parameters: ``""`` for a multi-view classifier, ``"clf__"`` for a
        pipeline step ``"clf"``.
    scorer_ : callable
        The scorer.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        When ``estimator`` (or its multi-view step) is not fitted.
    """

    def __init__(self, estimator, X, y, *, space=None, scoring=None, random_state=None):
        path = _predict_time_path(estimator)
        step = _step(estimator, path)
        check_is_fitted(step, "estimator_")
        views = step.get_params(deep=False).get("views")
        if views is not None:
            raise ValueError(
                "the predict-time space tunes the random crops of views=None "
                f"(n_views, crop_scale, aggregation); this classifier predicts "
                f"from views={views!r}. Tune the parameters of its views object "
                "instead (views__<name> with set_params)."
            )
        if space is None:
            space = PredictTimeSpace()
        if not isinstance(space, PredictTimeSpace):
            raise TypeError(
                f"space must be a PredictTimeSpace or None, got {type(space).__name__}."
            )
        if random_state is not None:
            check_int(random_state, "random_state")
        if len(y) != _num_samples(X):
            raise ValueError(
                f"X and y must have the same number of samples, got {_num_samples(X)} "
                f"and {len(y)}."
            )
        self.estimator = estimator
        self.X = X
        self.y = y
        self.space = space
        self.scoring = scoring
        self.random_state = random_state
        self.prefix_ = "".join(f"{name}__" for name in path)
        self.scorer_ = check_scoring(estimator, scoring=scoring)
        self._path = path
        self._fitted = step.estimator_

    def candidate(self, params):
        """Return a shallow copy of the fitted estimator with ``params`` set.

        Parameters
        ----------
        params : dict
            Predict-time parameters (``n_views``, ``crop_scale``,
            ``aggregation``), without the step prefix.

        Returns
        -------
        estimator : MultiViewClassifier or Pipeline
            A copy that shares the fitted ``estimator_``.
        """
        candidate = _copy_along(self.estimator, self._path)
        if self.random_state is not None:
            params = {**params, "random_state": self.random_state}
        _step(candidate, self._path).set_params(**params)
        return candidate

    def __call__(self, trial):
        """Score one trial's parameters; return the validation score."""
        params = self.space.suggest(trial)
        candidate = self.candidate(params)
        score = float(self.scorer_(candidate, self.X, self.y))
        if (
            _step(candidate, self._path).estimator_ is not self._fitted
            or _step(self.estimator, self._path).estimator_ is not self._fitted
        ):
            raise RuntimeError(
                "the fitted estimator_ was replaced during a predict-time trial; "
                "predict-time tuning must never refit."
            )
        trial.set_user_attr("crop_scale", list(params["crop_scale"]))
        logger.debug("trial %d: %s -> %.4f", trial.number, params, score)
        return score


_PREDICT_TIME_PARAMS = ("n_views", "crop_scale", "aggregation")


def _predict_time_path(estimator):
    """Step names from ``estimator`` to the object with the predict-time params.

    The object is ``estimator`` itself or a step of (nested) pipelines: a
    pipeline's steps are its fitted estimators, so a shallow copy of the path
    shares them.  Other meta-estimators keep their fitted model elsewhere
    than in their parameters and are refused.
    """
    from sklearn.pipeline import Pipeline

    if not hasattr(estimator, "get_params"):
        raise TypeError(
            "estimator must be a fitted MultiViewClassifier or a Pipeline with "
            f"one as a step, got {type(estimator).__name__}."
        )
    own = estimator.get_params(deep=False)
    if all(p in own for p in _PREDICT_TIME_PARAMS):
        return ()
    if isinstance(estimator, Pipeline):
        found = []
        for name, step in estimator.steps:
            if step is None or step == "passthrough":
                continue
            try:
                found.append((name, *_predict_time_path(step)))
            except TypeError:
                continue
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = ", ".join("__".join(path) for path in found)
            raise TypeError(
                "estimator has several steps with the predict-time parameters "
                f"n_views, crop_scale and aggregation ({names}); tune one "
                "multi-view classifier at a time."
            )
    raise TypeError(
        "estimator must have the predict-time parameters n_views, crop_scale and "
        "aggregation (a MultiViewClassifier, or a Pipeline with one as a step); "
        f"{type(estimator).__name__} lacks "
        f"{[p for p in _PREDICT_TIME_PARAMS if p not in own]}."
    )


def _step(estimator, path):
    """The object at ``path`` (pipeline step names) inside ``estimator``."""
    for name in path:
        estimator = estimator.named_steps[name]
    return estimator


def _copy_along(estimator, path):
    """Shallow copies of ``estimator`` and of every step on ``path``.

    Copying a pipeline shares its list of steps; ``set_params(name=...)``
    gives the copy a new list, so the original keeps its own steps.
    """
    out = copy.copy(estimator)
    if path:
        child = _copy_along(estimator.named_steps[path[0]], path[1:])
        out.set_params(**{path[0]: child})
    return out


@validate_params({"study": [optuna.Study, None]}, prefer_skip_nested_validation=True)
def tune_predict_time(
    estimator,
    X,
    y,
    *,
    space=None,
    n_trials=20,
    study=None,
    scoring=None,
    timeout=None,
    random_state=None,
    n_jobs=1,
    callbacks=None,
):
    """Tune ``n_views``, ``crop_scale`` and ``aggregation`` without refitting.

    Runs an Optuna study whose trials score shallow copies of the fitted
    ``estimator`` (see :class:`PredictTimeObjective`): the network inside is
    trained once, before, never during the study.

    Parameters
    ----------
    estimator : MultiViewClassifier or Pipeline
        A fitted multi-view classifier, or a fitted pipeline with one as a
        step (only that step's parameters change).
    X : array-like
        Validation inputs.
    y : array-like of shape (n_samples,)
        Validation labels.
    space : PredictTimeSpace, default=None
        The search space; :class:`PredictTimeSpace` defaults when None.
    n_trials : int, default=20
        Trials to run (``>= 1``).
    study : optuna.Study, default=None
        A study to add the trials to (for instance from
        :func:`load_or_create_study`, to share it between workers); a new
        in-memory study maximising the score when None.
    scoring : str or callable, default=None
        Scorer; the estimator's accuracy when None.
    timeout : float, default=None
        Stop starting new trials after this many seconds.
    random_state : int, default=None
        Seeds the sampler of a new study and the crops of every trial (see
        :class:`PredictTimeObjective`).
    n_jobs : int, default=1
        Trials run in parallel threads.
    callbacks : list of callable, default=None
        Optuna callbacks ``callback(study, frozen_trial)``.

    Returns
    -------
    study : optuna.Study
        The study; ``PredictTimeSpace.to_estimator_params(study.best_params)``
        gives the best parameters for ``set_params`` of the multi-view
        classifier (of the pipeline's step).

    Warns
    -----
    UserWarning
        When every complete trial of the study has the same score (see
        :func:`warn_if_flat`).

    Notes
    -----
    The network is trained once instead of once per candidate (and fold), so
    the study costs one fit plus one prediction per trial.
    ``benchmarks/bench_tuning.py`` compares it with ``GridSearchCV`` on the
    same 24 candidates and the same split: on two CPU cores with the smoke
    recipe trained for 10 epochs the study took 8.5 times less CPU time
    (2 epochs: 1.9 times, as prediction then costs as much as training); the
    saving grows with the training time, which the paper puts at 200-800
    epochs.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skcells.multiview import MultiViewClassifier
    >>> from skcells.tuning import PredictTimeSpace, tune_predict_time
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MultiViewClassifier(LogisticRegression(max_iter=200), n_views=3,
    ...                           random_state=0).fit(X[:300], y[:300])
    >>> study = tune_predict_time(clf, X[300:500], y[300:500], n_trials=4,
    ...                           space=PredictTimeSpace(n_views=(1, 5)),
    ...                           random_state=0)
    >>> len(study.trials)
    4
    >>> best = PredictTimeSpace.to_estimator_params(study.best_params)
    >>> sorted(best)
    ['aggregation', 'crop_scale', 'n_views']
    """
    check_n_trials(n_trials)
    objective = PredictTimeObjective(
        estimator, X, y, space=space, scoring=scoring, random_state=random_state
    )
    if study is None:
        study = optuna.create_study(
            direction="maximize", sampler=optuna.samplers.TPESampler(seed=random_state)
        )
    _check_maximizes(study)
    study.optimize(
        objective,
        n_trials=n_trials,
        timeout=timeout,
        n_jobs=n_jobs,
        callbacks=callbacks,
    )
    warn_if_flat(study, stacklevel=4)
    return study


def check_n_trials(n_trials, name="n_trials"):
    """Validate a number of trials (an int ``>= 1``).

    Parameters
    ----------
    n_trials : int
        The value to check.
    name : str, default="n_trials"
        The parameter name used in the error message.

    Returns
    -------
    n_trials : int
        The validated number of trials.

    Examples
    --------
    >>> from skcells.tuning import check_n_trials
    >>> check_n_trials(0)
    Traceback (most recent call last):
    ...
    ValueError: n_trials must be an int >= 1, got 0.
    """
    return check_int(n_trials, name, low=1)


def _check_maximizes(study):
    """Refuse a study that does not maximise: the objectives are scores."""
    directions = [d.name for d in study.directions]
    if directions != ["MAXIMIZE"]:
        # a minimising study would search for the worst parameters
        raise ValueError(
            f"study must maximise the score, got direction(s) {directions}."
        )


def _num_samples(X):
    """Number of samples of an array-like or a sequence."""
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) > 0:
        return int(shape[0])
    return len(X)

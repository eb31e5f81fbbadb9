"""The ``OptunaSearchCV`` that :func:`~skcells.tuning.training_search` returns.

``OptunaSearchCV`` scores a candidate whose fits all fail as NaN, marks the
trial failed, and only reports "No trials are completed yet" once every
trial has failed, which hides the cause.  The subclass checks, before the
first trial, that the fit parameters (``difficulty``) can reach the
estimator, and names the cause when no trial completes.
"""

import inspect

import optuna
from optuna_integration import OptunaSearchCV
from sklearn import get_config
from sklearn.pipeline import Pipeline
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    process_routing,
)

from ._report import warn_if_flat

_ROUTING = "sklearn.set_config(enable_metadata_routing=True)"


class CurriculumSearchCV(OptunaSearchCV):
    """``OptunaSearchCV`` that checks its fit parameters before the first trial.

    Returned by :func:`training_search`; its parameters are those of
    :class:`optuna_integration.OptunaSearchCV`.  ``fit`` differs in three
    ways:

    - before the first trial it checks that every fit parameter (e.g.
      ``difficulty``) reaches the estimator: without metadata routing a
      :class:`~sklearn.pipeline.Pipeline` only accepts step-prefixed names
      (``clf__difficulty``); with routing, some step must request it, and
      ``n_jobs`` must be 1 (Optuna runs parallel trials in threads, which do
      not see the routing setting: scikit-learn's configuration is per
      thread).  Otherwise every trial would fail and score NaN;
    - when no trial completes, it raises a :class:`ValueError` that says so
      instead of Optuna's "No trials are completed yet";
    - when every trial scores the same, it warns (:func:`warn_if_flat`).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from skcells.curriculum import CurriculumNeuralNetClassifier
    >>> from skcells.multiview import MultiViewClassifier
    >>> from skcells.tuning import training_search
    >>> net = CurriculumNeuralNetClassifier(torch.nn.Linear, module__in_features=4,
    ...                                     module__out_features=2)
    >>> pipe = make_pipeline(FunctionTransformer(), MultiViewClassifier(net))
    >>> search = training_search(pipe, n_trials=1)
    >>> search.fit(np.zeros((8, 1, 4, 4)), np.tile([0, 1], 4),
    ...            difficulty=np.zeros(8))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Pipeline.fit takes no parameter 'difficulty' without metadata ...
    """

    def fit(self, X, y=None, groups=None, **fit_params):
        """Check the fit parameters, then run the trials and refit.

        Parameters
        ----------
        X : array-like
            Training inputs.
        y : array-like, default=None
            Targets.
        groups : array-like, default=None
            Group labels for the splitter.
        **fit_params : dict
            Parameters for the estimator's ``fit`` (e.g. ``difficulty``).

        Returns
        -------
        self : CurriculumSearchCV
            The fitted search.
        """
        _check_fit_params(self.estimator, fit_params, n_jobs=self.n_jobs)
        try:
            super().fit(X, y, groups=groups, **fit_params)
        except ValueError as exc:
            message = self._failure()
            if message is None:
                raise
            raise ValueError(message) from exc
        message = self._failure()
        if message is not None:
            raise ValueError(message)
        warn_if_flat(self.study_, stacklevel=3)
        return self

    def _failure(self):
        """The message for a search in which no trial completed, else None."""
        study = getattr(self, "study_", None)
        if study is None:
            return None
        states = [t.state for t in study.get_trials(deepcopy=False)]
        if optuna.trial.TrialState.COMPLETE in states:
            return None
        return (
            f"all {len(states)} trial(s) of the search failed: every cross-validated "
            "fit raised an error or scored NaN, which OptunaSearchCV records as a "
            "failed trial (error_score=nan). Fit with error_score='raise' to see "
            "the error."
        )


def _check_fit_params(estimator, params, *, n_jobs=None):
    """Check that ``estimator.fit`` will receive ``params`` in a search.

    Parameters
    ----------
    estimator : estimator object
        The estimator a search cross-validates.
    params : dict
        The fit parameters given to the search's ``fit``.
    n_jobs : int or None, default=None
        Parallel trials of the search (threads).

    Raises
    ------
    ValueError
        When a parameter would not reach the estimator, naming it and the
        way to pass it.
    """
    if not params:
        return
    names = sorted(params)
    if get_config().get("enable_metadata_routing", False):
        if n_jobs not in (None, 1):
            raise ValueError(
                f"n_jobs={n_jobs} runs trials in parallel threads, which do not see "
                f"{_ROUTING} (scikit-learn's configuration is per thread): "
                f"{names} would not reach the estimator in them. Use n_jobs=1 with "
                "routing, or pass the parameters without routing (a pipeline "
                "takes them as <step>__<name>)."
            )
        router = MetadataRouter(owner="training_search").add(
            estimator=estimator,
            method_mapping=MethodMapping().add(caller="fit", callee="fit"),
        )
        try:
            process_routing(router, "fit", **params)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"the fit parameters {names} cannot be routed to "
                f"{type(estimator).__name__}: {exc}"
            ) from None
        return
    if isinstance(estimator, Pipeline):
        steps = estimator.named_steps
        bad = [k for k in names if k.partition("__")[0] not in steps or "__" not in k]
        if bad:
            last = estimator.steps[-1][0]
            raise ValueError(
                f"Pipeline.fit takes no parameter {bad[0]!r} without metadata "
                f"routing, so every trial would fail. Turn routing on with "
                f"{_ROUTING} (or within sklearn.config_context(...)), or pass it "
                f"to its step by name, e.g. {last}__{bad[0]}=..."
            )
        return
    try:
        signature = inspect.signature(estimator.fit)
    except (TypeError, ValueError):
        return
    kinds = {p.kind for p in signature.parameters.values()}
    if inspect.Parameter.VAR_KEYWORD in kinds:
        return
    bad = [k for k in names if k not in signature.parameters]
    if bad:
        raise ValueError(
            f"{type(estimator).__name__}.fit takes no parameter {bad[0]!r}, so every "
            "trial would fail."
        )

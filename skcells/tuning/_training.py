"""Training-time tuning of the curriculum network with ``OptunaSearchCV``.

The learning rate, the curriculum (``curriculum_epochs`` ``T``,
``initial_competence`` ``c0``, ``competence_power`` ``p``) and the number of
training views change the fitted network, so every candidate is trained again
on every cross-validation fold.  :func:`training_search` wraps
:class:`optuna_integration.OptunaSearchCV` with a search space found in the
estimator's parameters, so it works on a bare
:class:`~skcells.multiview.MultiViewClassifier` and on a ``Pipeline`` that
ends with one alike.  ``difficulty`` passed to ``fit`` reaches the curriculum
network of every fold, sliced to the fold's training samples: by plain
fit-parameter slicing, or by metadata routing when
``sklearn.set_config(enable_metadata_routing=True)`` is active (which a
pipeline needs).  The search checks this before its first trial.
"""

import logging
import warnings

import numpy as np
import optuna
from optuna.distributions import FloatDistribution, IntDistribution
from sklearn.base import is_classifier
from sklearn.model_selection import StratifiedKFold
from sklearn.utils._param_validation import validate_params

from ..utils import check_int, check_range
from ._predict import _check_maximizes, check_n_trials

logger = logging.getLogger(__name__)

# Parameter of the curriculum network -> the bounds of its range.
_NET_PARAMS = {
    "lr": {"low": 0, "low_open": True},
    "curriculum_epochs": {"low": 1, "integer": True},
    "initial_competence": {"low": 0, "low_open": True, "high": 1},
    "competence_power": {"low": 1},
}


def curriculum_search_space(
    estimator,
    *,
    lr=(1e-4, 1e-1),
    curriculum_epochs=(1, 10),
    initial_competence=(0.01, 0.5),
    competence_power=(1.0, 3.0),
    n_train_views="auto",
):
    """Optuna distributions for the training-time parameters of ``estimator``.

    The parameter names are looked up in ``estimator.get_params(deep=True)``:
    the curriculum network's are the keys ending in ``curriculum_epochs``
    (with the same prefix for ``lr``, ``initial_competence`` and
    ``competence_power``), the multi-view classifier's the key ending in
    ``n_train_views``.  So ``MultiViewClassifier(net)`` gives
    ``estimator__lr``, ..., ``n_train_views``, and a pipeline step ``"clf"``
    gives ``clf__estimator__lr``, ..., ``clf__n_train_views``.

    Parameters
    ----------
    estimator : estimator
        The estimator to tune.
    lr : tuple of (float, float) or None, default=(1e-4, 1e-1)
        Learning rate range, drawn on a log scale; None leaves it out.
    curriculum_epochs : tuple of (int, int) or None, default=(1, 10)
        Range of the curriculum length ``T`` in epochs (``>= 1``).
    initial_competence : tuple of (float, float) or None, default=(0.01, 0.5)
        Range of ``c0`` within ``(0, 1]``.
    competence_power : tuple of (float, float) or None, default=(1.0, 3.0)
        Range of ``p`` (``>= 1``).
    n_train_views : tuple of (int, int), "auto" or None, default="auto"
        Range of the number of random views per training sample (``>= 1``).
        ``"auto"`` is ``(1, 4)`` when the multi-view classifier wraps an
        estimator fitted once on fixed views, and leaves the parameter out
        when it wraps a skorch net, which draws fresh views every epoch and
        does not use ``n_train_views``.

    Returns
    -------
    param_distributions : dict of str to optuna.distributions.BaseDistribution
        Ready for :class:`optuna_integration.OptunaSearchCV`.

    Raises
    ------
    ValueError
        For an empty or out-of-bounds range, or a parameter that
        ``estimator`` does not have (pass None for it to leave it out).

    Examples
    --------
    >>> import torch
    >>> from skcells.curriculum import CurriculumNeuralNetClassifier
    >>> from skcells.multiview import MultiViewClassifier
    >>> from skcells.tuning import curriculum_search_space
    >>> net = CurriculumNeuralNetClassifier(torch.nn.Linear, module__in_features=4,
    ...                                     module__out_features=2)
    >>> space = curriculum_search_space(MultiViewClassifier(net), lr=(1e-3, 1e-1))
    >>> sorted(space)  # doctest: +NORMALIZE_WHITESPACE
    ['estimator__competence_power', 'estimator__curriculum_epochs',
     'estimator__initial_competence', 'estimator__lr']
    >>> space["estimator__lr"]
    FloatDistribution(high=0.1, log=True, low=0.001, step=None)
    """
    keys = list(estimator.get_params(deep=True))
    ranges = {
        "lr": lr,
        "curriculum_epochs": curriculum_epochs,
        "initial_competence": initial_competence,
        "competence_power": competence_power,
    }
    space = {}
    if any(r is not None for r in ranges.values()):
        net_prefix = _unique_prefix(
            keys,
            "curriculum_epochs",
            estimator,
            "/".join(name for name, r in ranges.items() if r is not None),
        )
        for name, rng in ranges.items():
            if rng is None:
                continue
            lo, hi = check_range(rng, name, **_NET_PARAMS[name])
            key = net_prefix + name
            if key not in keys:
                raise ValueError(
                    f"estimator has no parameter {key!r} for {name}; pass "
                    f"{name}=None to leave it out."
                )
            if name == "curriculum_epochs":
                space[key] = IntDistribution(lo, hi)
            else:
                space[key] = FloatDistribution(lo, hi, log=name == "lr")
    if isinstance(n_train_views, str) and n_train_views == "auto":
        n_train_views = _auto_n_train_views(estimator, keys)
    if n_train_views is not None:
        lo, hi = check_range(n_train_views, "n_train_views", integer=True, low=1)
        prefix = _unique_prefix(keys, "n_train_views", estimator, "n_train_views")
        key = prefix + "n_train_views"
        space[key] = IntDistribution(lo, hi)
    if not space:
        raise ValueError(
            "the search space is empty: every range is None; give at least one of "
            "lr, curriculum_epochs, initial_competence, competence_power, "
            "n_train_views."
        )
    return space


@validate_params({"study": [optuna.Study, None]}, prefer_skip_nested_validation=True)
def training_search(
    estimator,
    param_distributions=None,
    *,
    n_trials=10,
    cv=None,
    scoring=None,
    study=None,
    random_state=None,
    n_jobs=None,
    refit=True,
    timeout=None,
    error_score=np.nan,
):
    """An ``OptunaSearchCV`` over the training-time curriculum parameters.

    Parameters
    ----------
    estimator : estimator
        A :class:`~skcells.multiview.MultiViewClassifier` around a
        :class:`~skcells.curriculum.CurriculumNeuralNetClassifier`, or a
        pipeline ending in one.
    param_distributions : dict, default=None
        Optuna distributions by parameter name;
        ``curriculum_search_space(estimator)`` when None.
    n_trials : int, default=10
        Candidates to train and cross-validate (``>= 1``).
    cv : int or cross-validation generator, default=None
        Splitter; ``StratifiedKFold(3, shuffle=True,
        random_state=random_state)`` for a classifier when None.
    scoring : str or callable, default=None
        Scorer; the estimator's ``score`` when None.
    study : optuna.Study, default=None
        A study to record the trials in (it must maximise); a new in-memory
        study when None.
    random_state : int, default=None
        Seeds the default splitter and the sampler of a new study.
    n_jobs : int, default=None
        Trials run in parallel threads.
    refit : bool, default=True
        Refit the best candidate on all the data.
    timeout : float, default=None
        Stop starting new trials after this many seconds.
    error_score : float, default=np.nan
        Score of a candidate whose fit fails.

    Returns
    -------
    search : optuna_integration.OptunaSearchCV
        The unfitted search (a subclass whose ``fit`` adds the checks below);
        call ``search.fit(X, y, difficulty=d)``.  Before the first trial,
        ``fit`` checks that ``difficulty`` reaches the network: a bare
        multi-view classifier takes it with or without metadata routing, a
        pipeline needs ``sklearn.set_config(enable_metadata_routing=True)``
        (or the step-prefixed name, ``clf__difficulty=d``), and routing needs
        ``n_jobs=1``; otherwise every trial would fail.  A search whose trials
        all fail raises a :class:`ValueError` that says so; one whose trials
        all score the same warns.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skcells.curriculum import CurriculumNeuralNetClassifier
    >>> from skcells.multiview import MultiViewClassifier
    >>> from skcells.tuning import curriculum_search_space, training_search
    >>> rng = np.random.default_rng(0)
    >>> y = np.tile([0, 1], 12)
    >>> X = rng.normal(size=(24, 1, 8, 8)).astype(np.float32) + y[:, None, None, None]
    >>> net = CurriculumNeuralNetClassifier(
    ...     torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2)),
    ...     criterion=torch.nn.CrossEntropyLoss, max_epochs=2, train_split=None,
    ...     verbose=0)
    >>> clf = MultiViewClassifier(net, n_views=2, output_size=4, random_state=0)
    >>> space = curriculum_search_space(clf, lr=(0.01, 0.1), curriculum_epochs=(1, 2))
    >>> search = training_search(clf, space, n_trials=2, cv=2, random_state=0)
    >>> search = search.fit(X, y, difficulty=rng.uniform(size=24))
    >>> len(search.trials_), sorted(search.best_params_)[0]
    (2, 'estimator__competence_power')
    """
    from ._search import CurriculumSearchCV

    check_n_trials(n_trials)
    if param_distributions is None:
        param_distributions = curriculum_search_space(estimator)
    elif not isinstance(param_distributions, dict) or not param_distributions:
        raise ValueError(
            "param_distributions must be a non-empty dict of optuna distributions "
            f"or None, got {param_distributions!r}."
        )
    if random_state is not None:
        check_int(random_state, "random_state")
    if cv is None and is_classifier(estimator):
        cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=random_state)
    if study is not None:
        _check_maximizes(study)
    with warnings.catch_warnings():
        # OptunaSearchCV is flagged "experimental" at construction; the
        # choice to rely on it is made here, once, not by every caller.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        search = CurriculumSearchCV(
            estimator,
            param_distributions,
            cv=cv,
            n_trials=n_trials,
            scoring=scoring,
            study=study,
            random_state=random_state,
            n_jobs=n_jobs,
            refit=refit,
            timeout=timeout,
            error_score=error_score,
        )
    return search


def _auto_n_train_views(estimator, keys):
    """``(1, 4)`` unless the multi-view classifier wraps a skorch net.

    A skorch net inside :class:`~skcells.multiview.MultiViewClassifier` sees
    fresh random views every epoch and ignores ``n_train_views``; tuning it
    would only add noise to the search.
    """
    from skorch import NeuralNet

    matches = [k for k in keys if k == "n_train_views" or k.endswith("__n_train_views")]
    if len(matches) != 1:
        return None
    inner = estimator.get_params(deep=True).get(
        matches[0][: -len("n_train_views")] + "estimator"
    )
    return None if isinstance(inner, NeuralNet) else (1, 4)


def _unique_prefix(keys, suffix, estimator, hint):
    """Return the prefix of the single parameter key ending in ``suffix``."""
    matches = [k for k in keys if k == suffix or k.endswith("__" + suffix)]
    if not matches:
        raise ValueError(
            f"estimator {type(estimator).__name__} has no parameter ending in "
            f"{suffix!r}; pass {hint}=None to leave it out."
        )
    if len(matches) > 1:
        raise ValueError(
            f"estimator {type(estimator).__name__} has several parameters ending in "
            f"{suffix!r} ({matches}); pass param_distributions explicitly."
        )
    return matches[0][: -len(suffix)]

"""Optuna tuning of the multi-view and curriculum hyper-parameters.

- :func:`tune_predict_time` tunes ``n_views``, ``crop_scale`` and
  ``aggregation`` of a fitted :class:`~skcells.multiview.MultiViewClassifier`
  without refitting it;
- :func:`training_search` builds an ``OptunaSearchCV`` over the learning
  rate, the curriculum and the number of training views, with
  ``difficulty`` routed to the curriculum network of every fold;
- :func:`load_or_create_study` keeps a study in a local journal file by
  default, or in any Optuna storage URL (PostgreSQL for several machines);
- :func:`write_study_report` writes the trials table and the optimisation
  history.
"""

from ._predict import (
    PredictTimeObjective,
    PredictTimeSpace,
    check_n_trials,
    tune_predict_time,
)
from ._recipe import (
    _SCALES,
    tuning_model,
    tuning_problem,
    tuning_problem_from_data,
    tuning_recipe,
    tuning_recipe_from_data,
)
from ._report import (
    best_trial,
    best_trial_summary,
    count_states,
    plot_history,
    trials_table,
    warn_if_flat,
    write_study_report,
)
from ._storage import describe_storage, load_or_create_study, make_storage
from ._training import curriculum_search_space, training_search

__all__ = [
    "PredictTimeObjective",
    "PredictTimeSpace",
    "best_trial",
    "best_trial_summary",
    "check_n_trials",
    "count_states",
    "curriculum_search_space",
    "describe_storage",
    "load_or_create_study",
    "make_storage",
    "plot_history",
    "training_search",
    "trials_table",
    "tune_predict_time",
    "tuning_model",
    "tuning_problem",
    "tuning_problem_from_data",
    "tuning_recipe",
    "tuning_recipe_from_data",
    "warn_if_flat",
    "write_study_report",
]


def __getattr__(name):
    # Deprecated: the sizes of the tuning model are a part of the scales of
    # skcells.experiments (``get_scale(name).tuning``).
    if name == "SCALES":
        import warnings

        from ..experiments import get_scale

        warnings.warn(
            "skcells.tuning.SCALES is deprecated; use "
            "skcells.experiments.get_scale(name).tuning.",
            FutureWarning,
            stacklevel=2,
        )
        return {scale: get_scale(scale).tuning for scale in _SCALES}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

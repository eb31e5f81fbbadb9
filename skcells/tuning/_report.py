"""Trials table, optimisation-history plot and best-trial summary of a study."""

import os
import warnings
from pathlib import Path

import optuna
from sklearn.utils._param_validation import validate_params

from ..utils import atomic_file

# Every function takes a study first; validated with scikit-learn's machinery.
_takes_a_study = validate_params(
    {"study": [optuna.Study], "out_dir": [str, os.PathLike]},
    prefer_skip_nested_validation=True,
)


@_takes_a_study
def trials_table(study):
    """Return every trial of a study as a DataFrame, one row per trial.

    Parameters
    ----------
    study : optuna.Study
        The study.

    Returns
    -------
    table : pandas.DataFrame
        Columns ``number``, ``value``, ``state``, ``datetime_start``,
        ``datetime_complete``, ``duration``, one ``params_<name>`` per
        parameter and one ``user_attrs_<name>`` per user attribute, sorted by
        trial number.  Unfinished (``RUNNING``) and failed trials are kept,
        with their state, so a table is never mistaken for complete results.

    Examples
    --------
    >>> import optuna
    >>> from skcells.tuning import trials_table
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> study = optuna.create_study()
    >>> study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    >>> table = trials_table(study)
    >>> list(table["number"]), list(table["state"].unique())
    ([0, 1, 2], ['COMPLETE'])
    """
    table = study.trials_dataframe(multi_index=False)
    if "number" in table.columns:
        table = table.sort_values("number").reset_index(drop=True)
    return table


@_takes_a_study
def best_trial(study):
    """The best complete trial; ties go to the lowest trial number.

    Unlike ``study.best_trial``, whose choice among equal values depends on
    the storage (a database returns any of the tied rows), the answer is the
    same for every worker that reads the same trials.

    Parameters
    ----------
    study : optuna.Study
        A single-objective study.

    Returns
    -------
    trial : optuna.trial.FrozenTrial or None
        None when no trial has completed.

    Examples
    --------
    >>> import optuna
    >>> from skcells.tuning import best_trial
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> study = optuna.create_study(direction="maximize")
    >>> study.optimize(lambda t: float(t.number % 2), n_trials=4)
    >>> best_trial(study).number
    1
    """
    complete = study.get_trials(
        deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)
    )
    if not complete:
        return None
    sign = -1.0 if study.direction.name == "MAXIMIZE" else 1.0
    return min(complete, key=lambda t: (sign * t.value, t.number))


@_takes_a_study
def best_trial_summary(study):
    """One line naming the best complete trial, its value and parameters.

    Parameters
    ----------
    study : optuna.Study
        The study.

    Returns
    -------
    summary : str
        ``"best trial #N: value=V; name=value, ..."``, or a line saying that
        no trial has completed yet.

    Examples
    --------
    >>> import optuna
    >>> from skcells.tuning import best_trial_summary
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> study = optuna.create_study(direction="maximize")
    >>> best_trial_summary(study)
    'no complete trial yet'
    >>> study.enqueue_trial({"x": 0.25})
    >>> study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    >>> best_trial_summary(study)
    'best trial #0: value=0.25; x=0.25'
    """
    best = best_trial(study)
    if best is None:
        return "no complete trial yet"
    params = ", ".join(f"{k}={_fmt(v)}" for k, v in sorted(best.params.items()))
    return f"best trial #{best.number}: value={_fmt(best.value)}; {params}"


@_takes_a_study
def count_states(study):
    """Count the trials of a study by state.

    Parameters
    ----------
    study : optuna.Study
        The study.

    Returns
    -------
    counts : dict of str to int
        State name (``"COMPLETE"``, ``"RUNNING"``, ...) to number of trials;
        states without trials are left out.
    """
    counts = {}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts


@validate_params(
    {"study": [optuna.Study], "stacklevel": [int]}, prefer_skip_nested_validation=True
)
def warn_if_flat(study, *, stacklevel=2):
    """Warn when every complete trial of a study has the same score.

    A flat study found nothing: its "best" trial is merely the first one.
    Common causes are a validation set too small to tell the candidates
    apart, a model that predicts one class whatever the parameters, or
    parameters that do not act on the model.

    Parameters
    ----------
    study : optuna.Study
        A single-objective study.
    stacklevel : int, default=2
        Passed to :func:`warnings.warn`.

    Returns
    -------
    message : str or None
        The warning's message, or None (no warning) when the study has fewer
        than two complete trials or two different scores.

    Examples
    --------
    >>> import warnings, optuna
    >>> from skcells.tuning import warn_if_flat
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> study = optuna.create_study(study_name="flat", direction="maximize")
    >>> study.optimize(lambda t: 0.5 + 0 * t.suggest_float("x", 0, 1), n_trials=3)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     message = warn_if_flat(study)
    >>> message.split(":")[0]
    "all 3 complete trials of study 'flat' scored 0.5"
    >>> len(caught)
    1
    """
    complete = study.get_trials(
        deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)
    )
    values = {t.value for t in complete}
    if len(complete) < 2 or len(values) != 1:
        return None
    message = (
        f"all {len(complete)} complete trials of study {study.study_name!r} scored "
        f"{_fmt(complete[0].value)}: the parameters searched did not change the "
        "score, so the best trial is only the first one. The validation set may "
        "be too small to tell them apart, the model may predict one class "
        "whatever they are, or they may not act on this model."
    )
    warnings.warn(message, UserWarning, stacklevel=stacklevel)
    return message


@_takes_a_study
def write_study_report(study, out_dir):
    """Write the trials table (CSV) and the optimisation-history plot (PNG).

    Each file is written under a temporary name and moved into place, so a
    reader never sees a half-written file.

    Parameters
    ----------
    study : optuna.Study
        The study.
    out_dir : str or path-like
        Folder to write into (created if missing).

    Returns
    -------
    paths : dict of str to pathlib.Path
        ``{"trials": ..., "history": ...}``.

    Examples
    --------
    >>> import tempfile, optuna
    >>> from skcells.tuning import write_study_report
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> study = optuna.create_study()
    >>> study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    >>> paths = write_study_report(study, tempfile.mkdtemp())
    >>> sorted(p.name for p in paths.values())
    ['optimization_history.png', 'trials.csv']
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    trials_path = out_dir / "trials.csv"
    history_path = out_dir / "optimization_history.png"
    table = trials_table(study)
    with atomic_file(trials_path) as tmp:
        table.to_csv(tmp, index=False)
    fig = plot_history(study)
    try:
        with atomic_file(history_path) as tmp:
            fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return {"trials": trials_path, "history": history_path}


@_takes_a_study
def plot_history(study):
    """Plot the optimisation history of a study with matplotlib.

    Parameters
    ----------
    study : optuna.Study
        The study.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure (close it with ``matplotlib.pyplot.close`` when done).
    """
    from optuna.visualization.matplotlib import plot_optimization_history

    with warnings.catch_warnings():
        # The matplotlib backend of optuna.visualization is "experimental";
        # an empty study only warns that there is nothing to plot.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message=".*[Nn]o .*", category=UserWarning)
        ax = plot_optimization_history(study)
    ax.set_title(f"Optimisation history of study {study.study_name!r}")
    fig = ax.figure
    fig.tight_layout()
    return fig


def _fmt(value):
    """Format a parameter or objective value compactly."""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)

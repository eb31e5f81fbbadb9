"""Summaries of the results: mean and spread over seeds, multi-view gain."""

import math

from ..datasets import CONDITIONS
from ._paper import _MODEL_LABELS
from ._protocol import VARIANTS

#: Columns that identify a configuration of the synthetic series.
_CONFIG = ["series", "dataset", "model", "input", "curriculum"]

_GROUP = [
    "series",
    "dataset",
    "model",
    "input",
    "curriculum",
    "label_noise",
    "label_smoothing",
    "variant",
]


def summarize(results):
    """Mean and standard deviation of the accuracy over seeds.

    Parameters
    ----------
    results : pandas.DataFrame
        :attr:`ExperimentResults.results`.

    Returns
    -------
    summary : pandas.DataFrame
        One row per configuration and variant with ``mean``, ``std``
        (sample standard deviation; NaN for a single seed), ``n_seeds`` and
        the configuration columns ``epochs``, ``input_shape``, ``n_params``,
        ``n_trainable``, ``pretrained``, ``mean_best_epoch``, and ``limit``:
        the mean of the ``limit`` column (the information limit of the
        views the variant used), NaN where the results do not record it.

    Examples
    --------
    >>> import pandas as pd
    >>> from skcells.experiments import summarize
    >>> runs = pd.DataFrame(dict(
    ...     series=1, dataset="wbc", model="cnn9", input="frame",
    ...     curriculum=False, label_noise=0.0, label_smoothing=0.0,
    ...     variant="MVM", accuracy=[80.0, 90.0], epochs=20,
    ...     input_shape="[3,32,32]", n_params=10, n_trainable=10,
    ...     pretrained="none", best_epoch=[5, 7]))
    >>> summarize(runs)[["mean", "n_seeds"]].to_dict("records")
    [{'mean': 85.0, 'n_seeds': 2}]
    """
    grouped = results.groupby(_GROUP, sort=False, dropna=False)
    summary = grouped["accuracy"].agg(["mean", "std", "count"])
    summary = summary.rename(columns={"count": "n_seeds"})
    config = grouped[["epochs", "input_shape", "n_params", "n_trainable", "pretrained"]]
    summary = summary.join(config.first())
    summary["mean_best_epoch"] = grouped["best_epoch"].mean()
    summary["limit"] = _group_mean(results, grouped, "limit")
    return summary.reset_index()


def _numeric(results, column):
    """``results[column]`` as floats (NaN where missing or not a number)."""
    import pandas as pd

    if column not in results:
        return pd.Series(math.nan, index=results.index, dtype=float)
    return pd.to_numeric(results[column], errors="coerce").astype(float)


def _group_mean(results, grouped, column):
    """Mean of ``column`` per group of ``grouped``; NaN where not recorded."""
    if column not in results:
        return math.nan
    return grouped[column].mean()


def _check_results(results, columns, name="results"):
    """Raise unless ``results`` is a DataFrame holding ``columns``."""
    import pandas as pd

    if not isinstance(results, pd.DataFrame):
        raise TypeError(
            f"{name} must be a pandas DataFrame (ExperimentResults.results), "
            f"got {type(results).__name__}."
        )
    missing = [c for c in columns if c not in results.columns]
    if missing:
        raise ValueError(f"{name} lacks the column(s) {missing}.")


def _seed_means(results, column="accuracy"):
    """Mean of ``column`` over seeds per configuration and variant.

    Groups as :func:`summarize` does; seeds whose value is NaN are left out,
    so a configuration all of whose seeds gave NaN has a NaN mean.
    """
    values = _numeric(results, column)
    frame = results[_GROUP].assign(value=values)
    grouped = frame.groupby(_GROUP, sort=False, dropna=False)["value"]
    return grouped.mean().reset_index()


def _config_order(frame):
    """Sort configurations: series, the paper's model and input order, CL."""

    def rank(values, order):
        order = list(order)
        return [order.index(v) if v in order else len(order) for v in values]

    return frame.assign(
        _model=rank(frame["model"], _MODEL_LABELS),
        _input=rank(frame["input"], ("frame", "clip")),
    ).sort_values(["series", "_model", "_input", "curriculum"], kind="stable")


def condition_breakdown(results):
    """Accuracy per imaging condition: single view, multi-view, limits.

    For every configuration of the synthetic series (1: WBC, 2: RBC) and
    every imaging condition of the test videos (clear, blurred, noisy,
    blurred+noisy), the mean over seeds of the baseline, MVM and MVWCo-S
    accuracies and of the information limits of one view and of the
    multi-view views.

    Parameters
    ----------
    results : pandas.DataFrame
        :attr:`ExperimentResults.results`; the per-condition columns are
        ``accuracy_<condition>`` and ``limit_<condition>``.

    Returns
    -------
    breakdown : pandas.DataFrame
        One row per configuration and condition with the configuration
        columns (``series``, ``dataset``, ``model``, ``input``,
        ``curriculum``), ``n_views`` (views of the multi-view variants),
        ``condition``, ``baseline``, ``MVM``, ``MVWCo-S`` (accuracy in %),
        ``limit_1`` (the limit of the baseline's single view), ``limit_m``
        (the limit of the MVM views) and ``n_seeds`` (seeds with a
        baseline accuracy for the condition).  Values the results do not
        record (a table without the per-condition columns) are NaN, with
        ``n_seeds`` 0.  Empty when neither series 1 nor 2 ran.

    Examples
    --------
    >>> import pandas as pd
    >>> from skcells.experiments import condition_breakdown
    >>> runs = pd.DataFrame(dict(
    ...     series=1, dataset="wbc", model="cnn9", input="frame",
    ...     curriculum=False, seed=[1, 1, 1, 2, 2, 2], views_used=[1, 9, 9] * 2,
    ...     variant=["baseline", "MVM", "MVWCo-S"] * 2,
    ...     accuracy_noisy=[70.0, 80.0, 81.0, 72.0, 84.0, 83.0],
    ...     limit_noisy=[90.0, 99.0, 99.0, 92.0, 97.0, 97.0]))
    >>> row = condition_breakdown(runs).query("condition == 'noisy'").iloc[0]
    >>> row[["baseline", "MVM", "limit_1", "limit_m", "n_seeds"]].astype(float).tolist()
    [71.0, 82.0, 91.0, 98.0, 2.0]
    """
    import pandas as pd

    _check_results(results, [*_CONFIG, "variant"])
    columns = [
        *_CONFIG,
        "n_views",
        "condition",
        *VARIANTS,
        "limit_1",
        "limit_m",
        "n_seeds",
    ]
    synthetic = results[results["series"].isin([1, 2])]
    rows = []
    for key, runs in synthetic.groupby(_CONFIG, sort=False, dropna=False):
        variant = {v: runs[runs["variant"] == v] for v in VARIANTS}
        views = _numeric(variant["MVM"], "views_used").dropna()
        if views.empty:
            views = _numeric(variant["MVM"], "n_views").dropna()
        n_views = int(views.iloc[0]) if len(views) else math.nan
        for condition in CONDITIONS:
            accuracy, limit = f"accuracy_{condition}", f"limit_{condition}"
            row = dict(zip(_CONFIG, key), n_views=n_views, condition=condition)
            for name, part in variant.items():
                row[name] = _numeric(part, accuracy).mean()
            row["limit_1"] = _numeric(variant["baseline"], limit).mean()
            row["limit_m"] = _numeric(variant["MVM"], limit).mean()
            row["n_seeds"] = int(_numeric(variant["baseline"], accuracy).count())
            rows.append(row)
    breakdown = pd.DataFrame(rows, columns=columns)
    if breakdown.empty:
        return breakdown
    breakdown = _config_order(breakdown)
    # the condition order within a configuration is the one of CONDITIONS
    return breakdown.drop(columns=["_model", "_input"]).reset_index(drop=True)


def multiview_gain(results, *, dataset="wbc"):
    """Gain of multi-view over the single-view baseline, in points.

    For every model and seed of ``dataset`` (without curriculum), the
    difference of the MVM (and MVWCo-S) accuracy and the baseline accuracy
    of the same fitted model, then averaged over seeds.

    Parameters
    ----------
    results : pandas.DataFrame
        :attr:`ExperimentResults.results`.
    dataset : str, default="wbc"
        Dataset of the comparison.

    Returns
    -------
    gain : pandas.DataFrame
        Indexed by model, with ``MVM`` and ``MVWCo-S`` (mean gain in points),
        ``MVM_std``, ``n_seeds`` and ``MVM_wins`` / ``MVWCo-S_wins`` (seeds
        where multi-view beat the baseline).

    Examples
    --------
    >>> import pandas as pd
    >>> from skcells.experiments import multiview_gain
    >>> runs = pd.DataFrame(dict(
    ...     dataset="wbc", model="cnn9", curriculum=False, seed=[1, 1, 1],
    ...     variant=["baseline", "MVM", "MVWCo-S"], accuracy=[80.0, 88.0, 89.0]))
    >>> multiview_gain(runs).loc["cnn9", ["MVM", "MVWCo-S"]].tolist()
    [8.0, 9.0]
    """
    import pandas as pd

    rows = results[(results["dataset"] == dataset) & (~results["curriculum"])]
    if rows.empty:
        return pd.DataFrame(
            columns=["MVM", "MVWCo-S", "MVM_std", "n_seeds", "MVM_wins", "MVWCo-S_wins"]
        )
    wide = rows.pivot_table(
        index=["model", "seed"], columns="variant", values="accuracy"
    )
    diff = pd.DataFrame(
        {v: wide[v] - wide["baseline"] for v in ("MVM", "MVWCo-S")}, index=wide.index
    )
    grouped = diff.groupby(level="model")
    gain = grouped.mean()
    gain["MVM_std"] = grouped["MVM"].std()
    gain["n_seeds"] = grouped.size()
    for variant in ("MVM", "MVWCo-S"):
        gain[f"{variant}_wins"] = (diff[variant] > 0).groupby(level="model").sum()
    return gain

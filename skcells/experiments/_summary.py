"""Summaries of the results: mean and spread over seeds, multi-view gain."""

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
        ``n_trainable``, ``pretrained``, ``mean_best_epoch``.

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
    return summary.reset_index()


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

"""The paper's figures from the experiment results (Fig. 1, 2 and 4).

And one of ours: the accuracy per imaging condition beside the information
limits (:func:`plot_condition_breakdown`).
"""

import math

import numpy as np

from ..datasets import CONDITIONS
from ._paper import _MODEL_LABELS
from ._summary import condition_breakdown

#: Colours of the paper's Figure 4: validation loss blue, accuracy orange.
_LOSS_COLOR = "tab:blue"
_ACCURACY_COLOR = "tab:orange"
#: Bar colours of the evaluation variants.
_VARIANT_COLORS = {"baseline": "tab:gray", "MVM": "tab:blue", "MVWCo-S": "tab:green"}


def plot_sample_videos(videos):
    """Paper Fig. 1 (b-d): one sample frame per imaging condition.

    Parameters
    ----------
    videos : sklearn.utils.Bunch
        Output of :func:`skcells.datasets.fetch_synthetic_blood_videos`
        (:attr:`ExperimentResults.videos`).

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure of :func:`skcells.datasets.plot_sample_frames`.
    """
    from ..datasets import plot_sample_frames

    return plot_sample_frames(
        videos.data, videos.condition, blur=videos.blur, noise=videos.noise
    )


def plot_competence(experiment):
    """Paper Fig. 2: difficulty histogram and competence curve.

    The difficulties are those of the videos (RBC target) and the
    competence follows the curriculum of the scale's first curriculum run;
    the competence that run recorded is drawn as markers.

    Parameters
    ----------
    experiment : ExperimentResults
        Output of :func:`run_experiments` with series 2 (or 1: the curve is
        then drawn for the series-2 settings without recorded markers).

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure of :func:`skcells.curriculum.plot_curriculum`.
    """
    from ..curriculum import plot_curriculum

    if experiment.videos is None:
        raise ValueError(
            "experiment has no synthetic videos (series 1 or 2 did not run); "
            "the competence figure needs their difficulties."
        )
    # the longest curriculum run shows the schedule best
    spec = max(
        (s for s in experiment.scale.specs if s.curriculum), key=lambda s: s.epochs
    )
    curriculum = dict(experiment.scale.curriculum)
    T = curriculum.get("curriculum_epochs") or max(1.0, spec.epochs / 2)
    history = None
    for key, rows in experiment.histories.items():
        if key.startswith(f"s2-rbc-{spec.model}-{spec.input}-cl-"):
            history = rows
            break
    fig = plot_curriculum(
        experiment.videos.difficulty,
        curriculum_epochs=T,
        initial_competence=curriculum.get("initial_competence", 0.01),
        competence_power=curriculum.get("competence_power", 2),
        n_epochs=spec.epochs,
        history=history,
    )
    return fig


def plot_validation_curves(experiment, *, series=1):
    """Paper Fig. 4: validation loss and accuracy over the epochs.

    One panel per network of the series; every seed is one line, the loss
    (blue, left axis) and the validation accuracy (orange, right axis).

    Parameters
    ----------
    experiment : ExperimentResults
        Output of :func:`run_experiments`.
    series : int, default=1
        Series whose runs (without curriculum or label noise) are drawn.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from skcells.experiments import plot_validation_curves
    >>> rows = [{"epoch": e, "valid_loss": 1 / e, "valid_acc": 0.5 + e / 20}
    ...         for e in range(1, 6)]
    >>> exp = SimpleNamespace(histories={"s1-wbc-cnn9-frame-seed42": rows})
    >>> fig = plot_validation_curves(exp)
    >>> [ax.get_title() for ax in fig.axes[:1]]
    ['9-layer CNN (frame)']
    """
    from matplotlib.figure import Figure

    prefix = f"s{series}-"
    curves = {}
    for key, rows in experiment.histories.items():
        parts = key.split("-")
        if not key.startswith(prefix) or "cl" in parts or key.count("noise"):
            continue
        model, kind = parts[2], parts[3]
        curves.setdefault((model, kind), []).append(rows)
    if not curves:
        raise ValueError(f"experiment has no histories of series {series}.")
    order = list(_MODEL_LABELS)
    panels = sorted(curves, key=lambda mk: (order.index(mk[0]), mk[1]))
    fig = Figure(figsize=(4.2 * len(panels), 3.4), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (model, kind) in zip(axes, panels):
        twin = ax.twinx()
        for rows in curves[(model, kind)]:
            epochs = np.array([r.get("epoch", i + 1) for i, r in enumerate(rows)])
            loss = np.array([r.get("valid_loss", np.nan) for r in rows], dtype=float)
            acc = np.array([r.get("valid_acc", np.nan) for r in rows], dtype=float)
            ax.plot(epochs, loss, color=_LOSS_COLOR, alpha=0.8, lw=1.2)
            twin.plot(epochs, 100 * acc, color=_ACCURACY_COLOR, alpha=0.8, lw=1.2)
        ax.set_title(f"{_MODEL_LABELS[model]} ({kind})")
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation loss", color=_LOSS_COLOR)
        twin.set_ylabel("validation accuracy, %", color=_ACCURACY_COLOR)
        ax.tick_params(axis="y", colors=_LOSS_COLOR)
        twin.tick_params(axis="y", colors=_ACCURACY_COLOR)
    return fig


def plot_condition_breakdown(results):
    """Accuracy per imaging condition beside the information limits.

    One panel per configuration without curriculum learning (the series-1
    models on WBC, the series-2 inputs on RBC); in each, one group of bars
    per imaging condition (baseline, MVM, MVWCo-S; mean over seeds) and two
    horizontal marks for the information limits of one view (solid) and of
    the MVM views (dashed).  A panel whose results record no per-condition
    accuracy says "not measured".

    Parameters
    ----------
    results : pandas.DataFrame
        :attr:`ExperimentResults.results` (see :func:`condition_breakdown`).

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure.

    Raises
    ------
    ValueError
        If ``results`` has no run of series 1 or 2 without curriculum.

    Examples
    --------
    >>> import pandas as pd
    >>> from skcells.experiments import plot_condition_breakdown
    >>> runs = pd.DataFrame(dict(
    ...     series=1, dataset="wbc", model="cnn9", input="frame",
    ...     curriculum=False, variant=["baseline", "MVM", "MVWCo-S"],
    ...     views_used=[1, 9, 9], accuracy_clear=[80.0, 88.0, 87.0],
    ...     limit_clear=[90.0, 97.0, 97.0]))
    >>> fig = plot_condition_breakdown(runs)
    >>> [ax.get_title() for ax in fig.axes]
    ['WBC, 9-layer CNN (frame)']
    """
    from matplotlib.figure import Figure

    breakdown = condition_breakdown(results)
    if not breakdown.empty:
        breakdown = breakdown[~breakdown["curriculum"].astype(bool)]
    if breakdown.empty:
        raise ValueError(
            "results has no run of series 1 or 2 without curriculum learning; "
            "the per-condition figure needs one."
        )
    keys = ["series", "dataset", "model", "input"]
    panels = list(breakdown.groupby(keys, sort=False))
    fig = Figure(figsize=(4.2 * len(panels), 3.6), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    x = np.arange(len(CONDITIONS))
    width = 0.26
    for ax, ((_, dataset, model, kind), rows) in zip(axes, panels):
        rows = rows.set_index("condition").reindex(list(CONDITIONS))
        for i, (variant, color) in enumerate(_VARIANT_COLORS.items()):
            ax.bar(
                x + (i - 1) * width,
                rows[variant].to_numpy(dtype=float),
                width,
                color=color,
                label=variant,
            )
        views = rows["n_views"].dropna()
        m = f"{views.iloc[0]:.0f}" if len(views) else "m"
        for column, style, label in (
            ("limit_1", "-", "limit (1 view)"),
            ("limit_m", "--", f"limit ({m} views)"),
        ):
            ax.hlines(
                rows[column].to_numpy(dtype=float),
                x - 1.5 * width,
                x + 1.5 * width,
                colors="black",
                linestyles=style,
                label=label,
            )
        ax.set_title(
            f"{str(dataset).upper()}, {_MODEL_LABELS.get(model, model)} ({kind})"
        )
        ax.set_xticks(x, list(CONDITIONS))
        ax.set_ylabel("test accuracy, %")
        values = rows[["baseline", "MVM", "MVWCo-S", "limit_1", "limit_m"]]
        finite = values.to_numpy(dtype=float)
        finite = finite[np.isfinite(finite)]
        if finite.size:
            low = max(0.0, 10 * math.floor((finite.min() - 5) / 10))
            ax.set_ylim(low, 100)
        else:
            ax.set_ylim(0, 100)
            ax.text(0.5, 0.5, "not measured", transform=ax.transAxes, ha="center")
    handles = dict(zip(*axes[0].get_legend_handles_labels()[::-1]))
    labels = [*_VARIANT_COLORS, *(k for k in handles if k not in _VARIANT_COLORS)]
    fig.legend(
        [handles[k] for k in labels],
        labels,
        loc="outside lower center",
        ncols=len(labels),
    )
    return fig

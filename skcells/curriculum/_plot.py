"""The paper's Figure 2: difficulty histogram and competence curve."""

import numpy as np

from ..utils import check_array_1d, check_int, check_option, check_real
from ._competence import competence, scale_difficulty


def plot_curriculum(
    difficulty,
    *,
    curriculum_epochs,
    initial_competence=0.01,
    competence_power=2,
    n_epochs=None,
    difficulty_scaling="cdf",
    history=None,
    bins=20,
    axes=None,
):
    """Draw the curriculum of paper Figure 2.

    The left panel is the histogram of the raw difficulties; the right panel
    is the competence ``c(t)`` of Eq. 2 over the epochs together with the
    fraction of the samples it admits (scaled difficulty ``<= c(t)``, as in
    :class:`~skcells.curriculum.CurriculumNeuralNetClassifier`).

    Parameters
    ----------
    difficulty : array-like of shape (n_samples,)
        Raw difficulty of each sample (e.g. from
        :func:`~skcells.curriculum.difficulty_score`).
    curriculum_epochs : float
        ``T``, the length of the curriculum phase in epochs (``> 0``).
    initial_competence : float, default=0.01
        ``c0``, in ``(0, 1]``.
    competence_power : float, default=2
        ``p >= 1``.
    n_epochs : int, default=None
        Number of epochs drawn on the right panel (``>= 1``); None draws
        ``ceil(1.25 * T)`` epochs.
    difficulty_scaling : {"cdf", "minmax", "none"}, default="cdf"
        Scaling used to compute the admitted fraction (see
        :func:`~skcells.curriculum.scale_difficulty`).
    history : skorch.history.History, default=None
        History of a fitted
        :class:`~skcells.curriculum.CurriculumNeuralNetClassifier`; the
        competence it recorded is drawn as markers on the right panel.
    bins : int, default=20
        Number of histogram bins (``>= 1``).
    axes : sequence of two matplotlib Axes, default=None
        Axes to draw into; None creates a new figure with two axes.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure holding the two panels.

    Examples
    --------
    >>> import numpy as np
    >>> from skcells.curriculum import difficulty_score, plot_curriculum
    >>> rng = np.random.default_rng(0)
    >>> d = difficulty_score(rng.uniform(0, 10, 500), rng.uniform(0, 300, 500))
    >>> fig = plot_curriculum(d, curriculum_epochs=1000, initial_competence=0.05)
    >>> [ax.get_xlabel() for ax in fig.axes]
    ['difficulty d', 'epoch t']
    >>> import matplotlib.pyplot as plt
    >>> plt.close(fig)
    """
    d = check_array_1d(difficulty, "difficulty")
    if d.size == 0:
        raise ValueError("difficulty must contain at least one value, got none.")
    check_real(curriculum_epochs, "curriculum_epochs", low=0, low_open=True)
    check_real(initial_competence, "initial_competence", low=0, high=1, low_open=True)
    check_real(competence_power, "competence_power", low=1)
    if n_epochs is None:
        n_epochs = int(np.ceil(1.25 * curriculum_epochs))
    check_int(n_epochs, "n_epochs", low=1)
    check_int(bins, "bins", low=1)
    check_option(difficulty_scaling, "difficulty_scaling", ("cdf", "minmax", "none"))
    scaled = scale_difficulty(d, difficulty_scaling)

    epochs = np.arange(n_epochs + 1)
    c = competence(
        epochs, T=curriculum_epochs, c0=initial_competence, p=competence_power
    )
    # Fraction of samples with scaled difficulty <= c, for every epoch at once.
    admitted = np.searchsorted(np.sort(scaled), c, side="right") / d.size

    if axes is None:
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained")
    else:
        if len(axes) != 2:
            raise ValueError(f"axes must hold two Axes, got {len(axes)}.")
        fig = axes[0].figure
    ax_hist, ax_comp = axes

    ax_hist.hist(d, bins=bins, color="tab:gray", edgecolor="white")
    ax_hist.set_xlabel("difficulty d")
    ax_hist.set_ylabel("number of samples")
    ax_hist.set_title("Difficulty")

    ax_comp.plot(epochs, c, color="tab:blue", label="competence c(t)")
    ax_comp.plot(
        epochs,
        admitted,
        color="tab:orange",
        linestyle="--",
        label=f"admitted fraction ({difficulty_scaling})",
    )
    if history is not None:
        recorded = [row["competence"] for row in history if "competence" in row]
        ax_comp.plot(
            np.arange(len(recorded)),
            recorded,
            "o",
            color="tab:green",
            markersize=3,
            label="recorded competence",
        )
    ax_comp.axvline(curriculum_epochs, color="black", linewidth=0.8, linestyle=":")
    ax_comp.set_ylim(0, 1.05)
    ax_comp.set_xlabel("epoch t")
    ax_comp.set_ylabel("competence / fraction")
    ax_comp.set_title(
        f"Competence (T={curriculum_epochs:g}, c0={initial_competence:g}, "
        f"p={competence_power:g})"
    )
    ax_comp.legend(loc="lower right")
    return fig

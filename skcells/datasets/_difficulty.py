"""The difficulty of a sample, paper Eq. 2: a property of the data.

The synthetic datasets attach it to every video; the curriculum
(:mod:`skcells.curriculum`) orders the samples by it.
"""

import numpy as np

from ..utils import check_array_1d, check_option, check_real

__all__ = ["difficulty_score"]

DISTANCE_RULES = ("boundary", "literal")


def difficulty_score(
    blur,
    distance,
    *,
    alpha=0.5,
    beta=None,
    max_blur=10,
    distance_scale=None,
    distance_rule="boundary",
):
    """Difficulty ``d = alpha * b + beta * l`` of samples (paper Eq. 2).

    Both terms are normalised to ``[0, 1]`` first: ``b = blur / max_blur``
    and ``l`` is built from ``distance / distance_scale`` (clipped at 1).

    The paper defines ``l`` as the distance of a sample's cell count from the
    mean count, which is also the class boundary of the high/low label.  A
    count right at the mean is the hardest to classify, so by default
    (``distance_rule="boundary"``) the term is ``l = 1 - distance /
    distance_scale`` and grows as the count nears the boundary.  The paper's
    literal reading, ``l = distance / distance_scale`` (far from the mean is
    hard), is ``distance_rule="literal"``.

    Parameters
    ----------
    blur : array-like of shape (n_samples,)
        Box-blur radius of each sample, in ``[0, max_blur]``.
    distance : array-like of shape (n_samples,)
        ``|count - mean|`` of each sample, ``>= 0``.
    alpha : float, default=0.5
        Weight of the blur term, in ``[0, 1]``.
    beta : float, default=None
        Weight of the distance term, in ``[0, 1]``; ``1 - alpha`` when None.
        ``alpha + beta`` must equal 1.
    max_blur : float, default=10
        Blur radius that maps to 1.
    distance_scale : float, default=None
        Distance that maps to 1 (larger distances are clipped).  When None,
        the largest distance in ``distance`` is used, which makes the score
        depend on the whole array; pass a fixed scale (e.g. three standard
        deviations of the count) for per-sample scores.
    distance_rule : {"boundary", "literal"}, default="boundary"
        Whether samples near the mean (``"boundary"``) or far from it
        (``"literal"``) are hard.

    Returns
    -------
    difficulty : ndarray of shape (n_samples,)
        Scores in ``[0, 1]``.

    Examples
    --------
    >>> from skcells.datasets import difficulty_score
    >>> difficulty_score([0, 10], [100, 0], distance_scale=100)
    array([0., 1.])
    >>> difficulty_score([0, 10], [100, 0], distance_scale=100,
    ...                  distance_rule="literal")
    array([0.5, 0.5])
    """
    alpha, beta = check_weights(alpha, beta)
    check_option(distance_rule, "distance_rule", DISTANCE_RULES)
    max_blur = check_real(max_blur, "max_blur", low=0, low_open=True)
    b = check_array_1d(blur, "blur")
    dist = check_array_1d(distance, "distance")
    if b.shape != dist.shape:
        raise ValueError(
            f"blur and distance must have the same length, got {b.shape[0]} "
            f"and {dist.shape[0]}."
        )
    if np.any(b < 0) or np.any(b > max_blur):
        raise ValueError(f"blur must lie in [0, {max_blur:g}].")
    if np.any(dist < 0):
        raise ValueError("distance must be >= 0.")
    if distance_scale is None:
        distance_scale = float(dist.max()) if dist.size and dist.max() > 0 else 1.0
    check_real(distance_scale, "distance_scale", low=0, low_open=True)
    l_lit = np.minimum(dist / distance_scale, 1.0)
    l_term = 1.0 - l_lit if distance_rule == "boundary" else l_lit
    return alpha * (b / max_blur) + beta * l_term


def check_weights(alpha, beta):
    """The weights ``(alpha, beta)`` of Eq. 2, in ``[0, 1]`` and summing to 1.

    ``beta=None`` means ``1 - alpha``.
    """
    alpha = check_real(alpha, "alpha", low=0, high=1)
    beta = 1.0 - alpha if beta is None else check_real(beta, "beta", low=0, high=1)
    if not np.isclose(alpha + beta, 1.0):
        raise ValueError(f"alpha + beta must equal 1, got {alpha} + {beta}.")
    return alpha, beta

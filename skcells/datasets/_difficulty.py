"""The difficulty of a sample, paper Eq. 2: a property of the data.

The synthetic datasets attach it to every video; the curriculum
(:mod:`skcells.curriculum`) orders the samples by it.
"""

import numpy as np

from ..utils import check_array_1d, check_option, check_real

__all__ = ["difficulty_score", "estimate_difficulty"]

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


def estimate_difficulty(
    videos,
    counts=None,
    *,
    alpha=None,
    beta=None,
    max_blur=None,
    center=None,
    distance_scale=None,
    distance_rule="literal",
    max_lag=8,
):
    """Difficulty of Eq. 2 for videos whose blur is unknown.

    The blur term is measured from the pixels with
    :func:`~skcells.datasets.estimate_blur` (a correlation length in pixels;
    larger is blurrier) and divided by ``max_blur``; with ``counts``, the
    count term is their distance from ``center``, scaled by
    ``distance_scale``, and the two are weighed by ``alpha`` and ``beta`` as
    in :func:`~skcells.datasets.difficulty_score`.  Without counts the
    difficulty is the blur term alone.

    The result feeds the ``difficulty`` of
    :class:`~skcells.curriculum.CurriculumNeuralNetClassifier` and
    :class:`~skcells.curriculum.CurriculumNeuralNetRegressor`, whose default
    CDF scaling uses only the order of the scores.

    Parameters
    ----------
    videos : array-like of shape (n_samples, n_frames, n_channels, height, \
width) or (n_samples, n_channels, height, width)
        Clips or images (uint8 or float), e.g. the ``data`` of
        :func:`~skcells.datasets.load_videos`; see
        :func:`~skcells.datasets.estimate_blur` for the accepted layouts.
    counts : array-like of shape (n_samples,), default=None
        A count (or any quantity) per sample; None leaves out the count term.
    alpha : float, default=None
        Weight of the blur term, in ``[0, 1]``; 0.5 when None.  Only with
        ``counts``.
    beta : float, default=None
        Weight of the count term, in ``[0, 1]``; ``1 - alpha`` when None.
        Only with ``counts``.
    max_blur : float, default=None
        Blur that maps to 1; larger blurs (and a blur that does not decay
        within ``max_lag``, ``inf``) count as 1.  None uses the largest
        finite blur of ``videos``, so the scores depend on the whole batch:
        pass the training set's value to score new videos on its scale.
    center : float, default=None
        The reference count; the mean of ``counts`` when None.  Use the class
        threshold with ``distance_rule="boundary"`` for a high/low label.
    distance_scale : float, default=None
        Distance that maps to 1 (larger ones are clipped); three standard
        deviations of ``counts`` when None (1 if they are all equal).
    distance_rule : {"literal", "boundary"}, default="literal"
        ``"literal"``: counts far from ``center`` are hard (the rare ones, for
        a regressor); ``"boundary"``: counts near it are hard (a class
        boundary).
    max_lag : int, default=8
        Largest lag of the blur estimate, see
        :func:`~skcells.datasets.estimate_blur`.

    Returns
    -------
    difficulty : ndarray of shape (n_samples,)
        Scores in ``[0, 1]``; higher is harder.

    See Also
    --------
    estimate_blur : The blur measure.
    difficulty_score : Eq. 2 from known blur radii and distances.

    Examples
    --------
    >>> import numpy as np
    >>> from skcells.datasets import degrade, estimate_difficulty
    >>> rng = np.random.default_rng(0)
    >>> sharp = rng.integers(0, 256, size=(1, 2, 1, 32, 32), dtype=np.uint8)
    >>> videos = degrade(np.repeat(sharp, 3, axis=0), blur=[0, 2, 4], noise=0.0)
    >>> d = estimate_difficulty(videos)
    >>> bool(np.all(np.diff(d) > 0)), float(d.max())
    (True, 1.0)
    >>> estimate_difficulty(videos, counts=[10, 50, 30]).round(2)
    array([0.2 , 0.54, 0.5 ])
    """
    from ._blur import estimate_blur

    # every argument is checked before the (slow) blur estimate
    if counts is None:
        if alpha is not None or beta is not None:
            raise ValueError(
                "alpha and beta weigh the blur term against the count term; "
                "without counts the difficulty is the blur term alone, so "
                "leave them None."
            )
    else:
        counts = check_array_1d(counts, "counts")
        alpha, beta = check_weights(0.5 if alpha is None else alpha, beta)
        check_option(distance_rule, "distance_rule", DISTANCE_RULES)
        if center is not None:
            center = check_real(center, "center")
        if distance_scale is not None:
            check_real(distance_scale, "distance_scale", low=0, low_open=True)
    if max_blur is not None:
        max_blur = check_real(max_blur, "max_blur", low=0, low_open=True)
    n = np.shape(videos)[0] if np.ndim(videos) else 0
    if counts is not None and counts.shape[0] != n:
        raise ValueError(
            f"counts must have one value per video ({n}), got {counts.shape[0]}."
        )

    blur = estimate_blur(videos, max_lag=max_lag)
    constant = np.flatnonzero(np.isnan(blur))
    if constant.size:
        raise ValueError(
            f"videos {constant[:10].tolist()} are constant: their blur, hence "
            "their difficulty, is undefined; leave them out."
        )
    if max_blur is None:
        finite = blur[np.isfinite(blur)]
        max_blur = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    b = np.minimum(blur, max_blur)
    if counts is None:
        return b / max_blur
    if center is None:
        center = float(counts.mean())
    if distance_scale is None:
        spread = 3.0 * float(counts.std())
        distance_scale = spread if spread > 0 else 1.0
    return difficulty_score(
        b,
        np.abs(counts - center),
        alpha=alpha,
        beta=beta,
        max_blur=max_blur,
        distance_scale=distance_scale,
        distance_rule=distance_rule,
    )

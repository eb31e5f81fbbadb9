"""Competence schedule, difficulty score and difficulty scaling (paper Eq. 2).

These are pure NumPy functions: the synthetic dataset uses
:func:`difficulty_score` to attach a difficulty to every video, and
:class:`~skcells.curriculum.CurriculumNeuralNetClassifier` uses
:func:`competence` and :func:`scale_difficulty` to pick the samples of each
epoch.  There is one implementation of each rule.
"""

import numbers

import numpy as np

DISTANCE_RULES = ("boundary", "literal")


def competence(t, *, T, c0=0.01, p=2):
    """Competence of the model after ``t`` epochs (paper Eq. 2).

    ``c(t) = min(1, (t (1 - c0**p) / T + c0**p) ** (1 / p))``; ``p=1`` is the
    linear schedule and ``p=2`` the square-root schedule of Platanios et al.
    (2019).  ``c(0) = c0`` and ``c(t) = 1`` for every ``t >= T``.

    Parameters
    ----------
    t : float or array-like of float
        Epochs already trained (``>= 0``).
    T : float
        Length of the curriculum phase in epochs (``> 0``).
    c0 : float, default=0.01
        Initial competence, in ``(0, 1]``.
    p : float, default=2
        Power of the schedule, ``>= 1``.

    Returns
    -------
    c : float or ndarray of float
        Competence in ``[c0, 1]``, of the shape of ``t``.

    Examples
    --------
    >>> from skcells.curriculum import competence
    >>> float(competence(0, T=100, c0=0.05, p=2))
    0.05
    >>> float(competence(100, T=100, c0=0.05, p=2))
    1.0
    >>> round(float(competence(50, T=100, c0=0.0001, p=1)), 4)
    0.5
    """
    _check_real(T, "T", low=0, low_open=True)
    _check_real(c0, "c0", low=0, high=1, low_open=True)
    _check_real(p, "p", low=1)
    try:
        t_arr = np.asarray(t, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(
            f"t must be a number or an array-like of numbers >= 0, got {t!r}."
        ) from None
    if not np.all(np.isfinite(t_arr)) or np.any(t_arr < 0):
        raise ValueError(f"t must be finite and >= 0, got {t!r}.")
    c0p = c0**p
    c = np.minimum(1.0, (t_arr * (1.0 - c0p) / T + c0p) ** (1.0 / p))
    # Rounding can leave c(T) a hair below 1; the schedule is exactly 1 from T on.
    c = np.where(t_arr >= T, 1.0, c)
    return c if c.ndim else c[()]


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
    >>> from skcells.curriculum import difficulty_score
    >>> difficulty_score([0, 10], [100, 0], distance_scale=100)
    array([0., 1.])
    >>> difficulty_score([0, 10], [100, 0], distance_scale=100,
    ...                  distance_rule="literal")
    array([0.5, 0.5])
    """
    _check_real(alpha, "alpha", low=0, high=1)
    if beta is None:
        beta = 1.0 - alpha
    _check_real(beta, "beta", low=0, high=1)
    if not np.isclose(alpha + beta, 1.0):
        raise ValueError(f"alpha + beta must equal 1, got {alpha} + {beta}.")
    if distance_rule not in DISTANCE_RULES:
        raise ValueError(
            f"distance_rule must be one of {DISTANCE_RULES}, got {distance_rule!r}."
        )
    _check_real(max_blur, "max_blur", low=0, low_open=True)
    b = _as_1d_finite(blur, "blur")
    dist = _as_1d_finite(distance, "distance")
    if b.shape != dist.shape:
        raise ValueError(
            f"blur and distance must have the same length, got {b.shape[0]} "
            f"and {dist.shape[0]}."
        )
    if np.any(b < 0) or np.any(b > max_blur):
        raise ValueError(f"blur must lie in [0, {max_blur}].")
    if np.any(dist < 0):
        raise ValueError("distance must be >= 0.")
    if distance_scale is None:
        distance_scale = float(dist.max()) if dist.size and dist.max() > 0 else 1.0
    _check_real(distance_scale, "distance_scale", low=0, low_open=True)
    l_lit = np.minimum(dist / distance_scale, 1.0)
    l_term = 1.0 - l_lit if distance_rule == "boundary" else l_lit
    return alpha * (b / max_blur) + beta * l_term


def scale_difficulty(difficulty, method="cdf"):
    """Map raw difficulties to ``[0, 1]`` for comparison with competence.

    Parameters
    ----------
    difficulty : array-like of shape (n_samples,)
        Raw difficulty scores (finite).
    method : {"cdf", "minmax", "none"}, default="cdf"
        ``"cdf"``: the empirical CDF of Platanios et al. (2019), i.e. the
        fraction of samples whose difficulty is ``<=`` the sample's own (ties
        share the larger value), so that competence ``c`` admits about a
        fraction ``c`` of the data; ``"minmax"``: linear rescaling to
        ``[0, 1]``; ``"none"``: the scores unchanged (must already lie in
        ``[0, 1]``).

    Returns
    -------
    scaled : ndarray of shape (n_samples,)
        Scaled difficulties in ``[0, 1]``.

    Examples
    --------
    >>> from skcells.curriculum import scale_difficulty
    >>> scale_difficulty([0.3, 0.1, 0.2, 0.2])
    array([1.  , 0.25, 0.75, 0.75])
    """
    d = _as_1d_finite(difficulty, "difficulty")
    if method == "cdf":
        if d.size == 0:
            return d
        sorted_d = np.sort(d)
        return np.searchsorted(sorted_d, d, side="right") / d.size
    if method == "minmax":
        span = d.max() - d.min() if d.size else 0.0
        return (d - d.min()) / span if span > 0 else np.zeros_like(d)
    if method == "none":
        if np.any(d < 0) or np.any(d > 1):
            raise ValueError(
                "difficulty must lie in [0, 1] when difficulty_scaling='none'."
            )
        return d
    raise ValueError(
        f"method must be one of ('cdf', 'minmax', 'none'), got {method!r}."
    )


def _as_1d_finite(x, name):
    """Return ``x`` as a finite 1-D float array or raise naming ``name``."""
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be a 1-D array of numbers, got {type(x).__name__}."
        ) from exc
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got an array of shape {arr.shape}.")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} must not contain NaN or infinity, got {int(bad.sum())} "
            f"non-finite value(s), the first {float(arr[first])} at index {first}."
        )
    return arr


def _check_real(value, name, *, low=None, high=None, low_open=False):
    """Validate a real scalar in a range, naming the parameter on failure."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}.")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}.")
    if low is not None and (value <= low if low_open else value < low):
        bound = f"> {low}" if low_open else f">= {low}"
        raise ValueError(f"{name} must be {bound}, got {value!r}.")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value!r}.")
    return value

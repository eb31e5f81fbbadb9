"""Competence schedule and difficulty scaling (paper Eq. 2).

These are pure NumPy functions:
:class:`~skcells.curriculum.CurriculumNeuralNetClassifier` uses
:func:`competence` and :func:`scale_difficulty` to pick the samples of each
epoch by the difficulty of :func:`skcells.datasets.difficulty_score`, a
property of the data.  There is one implementation of each rule.
"""

import numpy as np

from ..utils import check_array_1d, check_option, check_real


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
    check_real(T, "T", low=0, low_open=True)
    check_real(c0, "c0", low=0, high=1, low_open=True)
    check_real(p, "p", low=1)
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
    d = check_array_1d(difficulty, "difficulty")
    check_option(method, "method", ("cdf", "minmax", "none"))
    if method == "cdf":
        if d.size == 0:
            return d
        sorted_d = np.sort(d)
        return np.searchsorted(sorted_d, d, side="right") / d.size
    if method == "minmax":
        if d.size == 0:
            return d
        low, high = d.min(), d.max()
        if high <= low:
            return np.zeros_like(d)
        with np.errstate(over="ignore"):
            span = high - low
        if not np.isfinite(span):
            # a span beyond the float range (difficulties near -1e308 and
            # 1e308) would be inf and give NaN: halve everything first
            d, low, high = d / 2, low / 2, high / 2
        return np.clip((d - low) / (high - low), 0.0, 1.0)
    if method == "none":
        if np.any(d < 0) or np.any(d > 1):
            raise ValueError(
                "difficulty must lie in [0, 1] when difficulty_scaling='none'."
            )
    return d

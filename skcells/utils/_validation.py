"""Parameter checks shared by every skcells package.

Each check validates one argument, names it in the error and returns the
value in a canonical Python type.  Integers go through scikit-learn's
:func:`~sklearn.utils.check_scalar` after the bools it lets through are
refused; reals are refused when NaN or infinite.  Estimators validate their
hyperparameters with ``_parameter_constraints`` instead.
"""

import math
import numbers
import os
import sys

import numpy as np
from sklearn.utils import check_scalar

__all__ = [
    "cap_n_jobs",
    "check_array_1d",
    "check_bool",
    "check_int",
    "check_n_jobs",
    "check_option",
    "check_range",
    "check_real",
    "check_vector",
]


def _is_finite(value):
    """Whether a real number is finite and fits in a float.

    ``np.isfinite`` fails on Python ints beyond int64; an int is finite but
    must still convert to a float where a float is returned.
    """
    if isinstance(value, numbers.Integral):
        return abs(int(value)) <= sys.float_info.max
    try:
        return math.isfinite(value)
    except (OverflowError, TypeError, ValueError):
        return False


def _interval(low, high, low_open=False, high_open=False):
    """Describe a range the way the error messages print it."""
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high}"
    return ""


def check_int(value, name, *, low=None, high=None):
    """Return ``value`` as an int in ``[low, high]``, refusing bools and floats.

    Parameters
    ----------
    value : object
        The argument.
    name : str
        The parameter's name, used in the error message.
    low, high : int, default=None
        Inclusive bounds; None leaves a side open.

    Returns
    -------
    value : int
        The validated value.

    Raises
    ------
    TypeError
        If ``value`` is not an integer (``True``, ``1.0`` and ``"1"`` are not).
    ValueError
        If ``value`` lies outside ``[low, high]``.

    Examples
    --------
    >>> from skcells.utils import check_int
    >>> check_int(3, "n_views", low=1)
    3
    """
    accepted = f"an int {_interval(low, high)}".rstrip()
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {accepted}, got {value!r}.")
    try:
        check_scalar(int(value), name, numbers.Integral, min_val=low, max_val=high)
    except ValueError:
        raise ValueError(f"{name} must be {accepted}, got {value!r}.") from None
    return int(value)


def check_real(value, name, *, low=None, high=None, low_open=False, high_open=False):
    """Return ``value`` as a finite float within the given bounds.

    Parameters
    ----------
    value : object
        The argument.
    name : str
        The parameter's name, used in the error message.
    low, high : float, default=None
        Bounds; None leaves a side open.
    low_open, high_open : bool, default=False
        Exclude the bound itself.

    Returns
    -------
    value : float
        The validated value.

    Raises
    ------
    TypeError
        If ``value`` is not a real number (bools are not).
    ValueError
        If ``value`` is NaN, infinite or out of bounds.

    Examples
    --------
    >>> from skcells.utils import check_real
    >>> check_real(0.5, "alpha", low=0, high=1)
    0.5
    """
    accepted = f"a finite real number {_interval(low, high, low_open, high_open)}"
    accepted = accepted.rstrip()
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {accepted}, got {value!r}.")
    if not _is_finite(value):
        raise ValueError(f"{name} must be {accepted}, got {value!r}.")
    out = low is not None and (value <= low if low_open else value < low)
    out = out or (high is not None and (value >= high if high_open else value > high))
    if out:
        raise ValueError(f"{name} must be {accepted}, got {value!r}.")
    return float(value)


def check_bool(value, name):
    """Return ``value`` as a bool; only ``bool`` and ``numpy.bool_`` are accepted.

    Parameters
    ----------
    value : object
        The argument.
    name : str
        The parameter's name, used in the error message.

    Returns
    -------
    value : bool
        The validated flag.

    Raises
    ------
    TypeError
        For anything else (``"no"``, ``0``, None): a string is truthy, so
        accepting it would silently mean the opposite of what it says.

    Examples
    --------
    >>> import numpy as np
    >>> from skcells.utils import check_bool
    >>> check_bool(np.True_, "force")
    True
    """
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be a bool, got {value!r}.")
    return bool(value)


def check_option(value, name, options):
    """Return ``value`` if it is one of ``options`` (strings compared exactly).

    Parameters
    ----------
    value : object
        The argument.
    name : str
        The parameter's name, used in the error message.
    options : sequence
        The accepted values.

    Returns
    -------
    value : object
        The validated value.

    Raises
    ------
    ValueError
        If ``value`` is not among ``options``.

    Examples
    --------
    >>> from skcells.utils import check_option
    >>> check_option("wbc", "target", ("wbc", "rbc"))
    'wbc'
    """
    try:
        ok = any(value == o and type(value) is type(o) for o in options)
    except (TypeError, ValueError):  # arrays and other odd objects
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {list(options)}, got {value!r}.")
    return value


def check_range(value, name, *, integer=False, low=None, high=None, low_open=False):
    """Return a pair ``(lo, hi)`` with ``lo <= hi`` inside the given bounds.

    Parameters
    ----------
    value : object
        The argument, a sequence of two numbers.
    name : str
        The parameter's name, used in the error message.
    integer : bool, default=False
        Require integers and return ints.
    low, high : float, default=None
        Inclusive bounds of both ends; None leaves a side open.
    low_open : bool, default=False
        Exclude ``low`` itself.

    Returns
    -------
    pair : tuple of 2 int or float
        The validated range.

    Raises
    ------
    TypeError
        If an end is not a number (bools are not).
    ValueError
        If it is not a pair, an end is not finite, ``lo > hi`` or an end is
        out of bounds.

    Examples
    --------
    >>> from skcells.utils import check_range
    >>> check_range([0.1, 0.2], "crop_scale", low=0, low_open=True, high=1)
    (0.1, 0.2)
    """
    kind = numbers.Integral if integer else numbers.Real
    bounds = _interval(low, high, low_open)
    accepted = (
        f"a pair (low, high) with low <= high{', both ' + bounds if bounds else ''}"
    )
    if isinstance(value, str | bytes):
        raise TypeError(f"{name} must be {accepted}, got {value!r}.")
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {accepted}, got {value!r}.") from None
    for v in (lo, hi):
        if isinstance(v, bool | np.bool_) or not isinstance(v, kind):
            what = "integers" if integer else "real numbers"
            raise TypeError(f"{name} must be a pair of {what}, got {value!r}.")
        if not (integer or _is_finite(v)):
            raise ValueError(f"{name} must be {accepted}, got {value!r}.")
    ok = lo <= hi
    if low is not None:
        ok = ok and (lo > low if low_open else lo >= low)
    if high is not None:
        ok = ok and hi <= high
    if not ok:
        raise ValueError(f"{name} must be {accepted}, got {value!r}.")
    cast = int if integer else float
    return cast(lo), cast(hi)


def check_vector(value, name, *, length, low=None, high=None, total=None):
    """Return ``length`` finite reals within bounds as a tuple of float.

    Parameters
    ----------
    value : array-like
        The argument.
    name : str
        The parameter's name, used in the error message.
    length : int
        The number of values required.
    low, high : float, default=None
        Inclusive bounds of every value; None leaves a side open.
    total : float, default=None
        When given, the values must sum to it (within 1e-6).

    Returns
    -------
    values : tuple of float
        The validated values.

    Raises
    ------
    TypeError
        If ``value`` is not numeric.
    ValueError
        If it has the wrong length, a value is not finite or out of bounds,
        or the sum is off.

    Examples
    --------
    >>> from skcells.utils import check_vector
    >>> check_vector((245, 240, 235), "background", length=3, low=0, high=255)
    (245.0, 240.0, 235.0)
    """
    accepted = f"{length} real numbers" + (
        f" {_interval(low, high)}" if low is not None or high is not None else ""
    )
    if total is not None:
        accepted += f" summing to {total:g}"
    if isinstance(value, str | bytes):
        raise TypeError(f"{name} must be {accepted}, got {value!r}.")
    try:
        arr = np.asarray(value, dtype=float)
    except OverflowError:  # ints beyond the float range
        raise ValueError(f"{name} must be {accepted}, got {value!r}.") from None
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be {accepted}, got {value!r}.") from None
    bad = arr.shape != (length,) or not np.all(np.isfinite(arr))
    bad = bad or (low is not None and np.any(arr < low))
    bad = bad or (high is not None and np.any(arr > high))
    with np.errstate(over="ignore"):  # 1e308 + 1e308 is simply not 1
        bad = bad or (
            total is not None and not np.isclose(arr.sum(), total, rtol=0, atol=1e-6)
        )
    if bad:
        raise ValueError(f"{name} must be {accepted}, got {value!r}.")
    return tuple(float(v) for v in arr)


def check_n_jobs(n_jobs, name="n_jobs"):
    """Validate a joblib-style ``n_jobs``: None, -1 (all cores) or an int >= 1.

    Negative values other than -1 follow joblib (``-2``: all cores but one).

    Parameters
    ----------
    n_jobs : int or None
        The argument.
    name : str, default="n_jobs"
        The parameter's name, used in the error message.

    Returns
    -------
    n_jobs : int or None
        None, or a positive number of processes (negative values resolved
        against :func:`os.cpu_count`, never below 1).

    Raises
    ------
    TypeError
        If ``n_jobs`` is not None or an int.
    ValueError
        If ``n_jobs`` is 0.

    Examples
    --------
    >>> from skcells.utils import check_n_jobs
    >>> check_n_jobs(2), check_n_jobs(None)
    (2, None)
    """
    if n_jobs is None:
        return None
    accepted = "None, -1 (all cores) or an int >= 1"
    if isinstance(n_jobs, bool | np.bool_) or not isinstance(n_jobs, numbers.Integral):
        raise TypeError(f"{name} must be {accepted}, got {n_jobs!r}.")
    if n_jobs == 0:
        raise ValueError(f"{name} must be {accepted}, got {n_jobs!r}.")
    if n_jobs < 0:
        return max(1, (os.cpu_count() or 1) + 1 + int(n_jobs))
    return int(n_jobs)


def cap_n_jobs(n_jobs, n_tasks, name="n_jobs"):
    """The number of worker processes worth starting for ``n_tasks`` tasks.

    ``n_jobs`` is validated by :func:`check_n_jobs` (None means 1) and
    resolved by joblib, then capped at the number of tasks and at the
    workers the active joblib backend can run at once (the CPU cores, or
    the workers of a Dask cluster under its backend): ``n_jobs=100000``
    starts no more processes than could run.  Results never depend on it.

    Parameters
    ----------
    n_jobs : int or None
        The requested workers, as for :func:`check_n_jobs`.
    n_tasks : int
        The number of independent tasks (``>= 1``).
    name : str, default="n_jobs"
        The parameter's name, used in error messages.

    Returns
    -------
    n_workers : int
        Between 1 and ``n_tasks``.

    Examples
    --------
    >>> import os
    >>> from skcells.utils import cap_n_jobs
    >>> cap_n_jobs(100_000, 1), cap_n_jobs(None, 10)
    (1, 1)
    >>> cap_n_jobs(100_000, 1000) <= os.cpu_count()
    True
    """
    from joblib import effective_n_jobs

    n_jobs = check_n_jobs(n_jobs, name)
    n_tasks = check_int(n_tasks, "n_tasks", low=1)
    return max(1, min(effective_n_jobs(n_jobs), n_tasks, effective_n_jobs(-1)))


def check_array_1d(value, name):
    """Return ``value`` as a finite 1-D float array.

    Parameters
    ----------
    value : array-like
        The argument.
    name : str
        The parameter's name, used in the error message.

    Returns
    -------
    array : ndarray of shape (n,), dtype float64
        The validated values.

    Raises
    ------
    TypeError
        If ``value`` is not real numbers: strings (even ``"0.5"``), complex
        numbers, bools and objects are refused rather than converted.
    ValueError
        If it is not 1-D or holds NaN or infinity (the message gives the
        first such value and its index).

    Examples
    --------
    >>> from skcells.utils import check_array_1d
    >>> check_array_1d([0, 2.5], "difficulty")
    array([0. , 2.5])
    """
    try:
        kind = np.asarray(value).dtype.kind
    except (TypeError, ValueError):  # ragged sequences
        kind = "O"
    if kind not in "iuf":
        raise TypeError(
            f"{name} must be a 1-D array of real numbers, got "
            f"{type(value).__name__} of dtype kind {kind!r} (strings, complex "
            "numbers, bools and objects are not converted)."
        )
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be a 1-D array of numbers, got {type(value).__name__}."
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

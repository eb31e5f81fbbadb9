"""Aggregation of per-view predictions (paper Appendix B, Eq. 3-5).

Pure NumPy functions on per-view outputs of ``n_samples`` inputs with
``n_views`` views each.  Class labels are integer codes ``0 .. n_classes - 1``
(indices into a classifier's ``classes_``); every function is vectorised
over samples and views (a weighted :func:`numpy.bincount` with one bin per
(sample, class) pair, never a Python loop).

Every aggregation is a function of per-sample sums (or maxima) over the
views, kept by :class:`_ViewStats`; the public functions feed it all views
at once, and the estimators feed it chunk by chunk, so that predicting
needs memory for the per-sample statistics and one chunk of views, not for
every view.

Ties (two classes with the same vote count or the same cumulative
confidence) are resolved by :func:`numpy.argmax` on the returned score
matrices, i.e. in favour of the class with the smallest code, which is the
class that comes first in ``classes_`` (the rule of :func:`scipy.stats.mode`).
"""

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params

__all__ = [
    "aggregate_geometric_mean",
    "aggregate_max",
    "aggregate_mean",
    "aggregate_mode",
    "aggregate_weighted",
    "view_agreement",
    "view_predictions",
    "vote_entropy",
]


# Parameter constraints of the functions that take ``n_classes``.
_N_CLASSES = {"n_classes": [Interval(Integral, 1, None, closed="left")]}


def _check_view_labels(view_labels, n_classes):
    """``view_labels`` as a 2-D intp array of class codes in [0, n_classes)."""
    labels = np.asarray(view_labels)
    if labels.ndim != 2:
        raise ValueError(
            f"view_labels must be a 2-D array of shape (n_samples, n_views), got an "
            f"array of shape {labels.shape}."
        )
    if labels.shape[1] < 1:
        raise ValueError(
            f"view_labels must hold at least one view, got shape {labels.shape}."
        )
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        if not np.issubdtype(labels.dtype, np.floating) or not np.all(
            labels == np.round(labels)
        ):
            raise TypeError(
                f"view_labels must hold integer class codes, got dtype {labels.dtype}."
            )
    labels = labels.astype(np.intp, copy=False)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"view_labels must hold class codes in [0, {n_classes - 1}] "
            f"(n_classes={n_classes}), got values in "
            f"[{labels.min()}, {labels.max()}]."
        )
    return labels


def _as_finite_float(x, name, accepted):
    """``x`` as a float array, or raise naming ``name`` if not finite real."""
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be {accepted} of real numbers.") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(
            f"{name} must be {accepted} of finite numbers, got NaN or infinity."
        )
    return arr


def _check_view_proba(view_proba):
    """``view_proba`` as a float array (n_samples, n_views >= 1, n_classes >= 1)."""
    proba = _as_finite_float(
        view_proba, "view_proba", "an array of shape (n_samples, n_views, n_classes)"
    )
    if proba.ndim != 3 or min(proba.shape[1:]) < 1:
        raise ValueError(
            "view_proba must be a 3-D array of shape (n_samples, n_views, "
            "n_classes) with n_views >= 1 and n_classes >= 1, got an array of "
            f"shape {proba.shape}."
        )
    return proba


def _check_probabilities(view_proba):
    """``view_proba`` as for :func:`_check_view_proba`, and non-negative."""
    proba = _check_view_proba(view_proba)
    if np.any(proba < 0):
        raise ValueError(
            "view_proba must hold non-negative probabilities, got a negative value."
        )
    return proba


# Probabilities are clipped here before their logarithm: a view that gives a
# class probability 0 vetoes it without making the geometric mean undefined.
_TINY = np.finfo(np.float64).tiny


def _normalise_rows(scores):
    """Rows divided by their sums; a row summing to 0 becomes uniform."""
    total = scores.sum(axis=1, keepdims=True)
    uniform = np.full_like(scores, 1.0 / scores.shape[1])
    return np.divide(scores, total, out=uniform, where=total > 0)


def _entropy(fractions):
    """Entropy in nats of each row of vote fractions (``0 log 0 = 0``)."""
    logs = np.log(fractions, out=np.zeros_like(fractions), where=fractions > 0)
    return np.maximum(-(fractions * logs).sum(axis=1), 0.0)  # -0.0 -> 0.0


def _runs(sample_index):
    """Start of every run of equal sample indices."""
    change = sample_index[1:] != sample_index[:-1]
    return np.concatenate([[0], np.flatnonzero(change) + 1])


class _ViewStats:
    """Per-sample sums and maxima over views, updated chunk by chunk.

    ``needs`` names the statistics to keep among ``"votes"`` (views per
    class), ``"weighted"`` (confidence per class), ``"sum"`` (sum of the
    probabilities), ``"log"`` (sum of the log-probabilities) and ``"max"``
    (largest probability per class).  :meth:`add` takes the outputs of any
    chunk of views with the sample of each view; the views of a sample may
    span chunks.
    """

    def __init__(self, n_samples, n_classes, needs):
        self.n_classes = n_classes
        self.count = np.zeros(n_samples)
        self.stats = {
            name: np.full((n_samples, n_classes), -np.inf if name == "max" else 0.0)
            for name in needs
        }

    def _class_sums(self, name, sample_index, labels, weights=None):
        lo, hi = sample_index.min(), sample_index.max() + 1
        flat = (sample_index - lo) * self.n_classes + labels
        sums = np.bincount(flat, weights=weights, minlength=(hi - lo) * self.n_classes)
        self.stats[name][lo:hi] += sums.reshape(hi - lo, self.n_classes)

    def add(self, sample_index, labels=None, confidences=None, proba=None):
        """Add the outputs of views of the samples ``sample_index``."""
        sample_index = np.asarray(sample_index, dtype=np.intp)
        if sample_index.size == 0:
            return
        self.count += np.bincount(sample_index, minlength=self.count.shape[0])
        if "votes" in self.stats:
            self._class_sums("votes", sample_index, labels)
        if "weighted" in self.stats:
            self._class_sums("weighted", sample_index, labels, confidences)
        starts = None
        for name, ufunc, values in (
            ("sum", np.add, proba),
            ("log", np.add, None),
            ("max", np.maximum, proba),
        ):
            if name not in self.stats:
                continue
            if name == "log":
                values = np.log(np.maximum(proba, _TINY))
            starts = _runs(sample_index) if starts is None else starts
            ufunc.at(
                self.stats[name],
                sample_index[starts],
                ufunc.reduceat(values, starts, axis=0),
            )

    def votes(self):
        """Fraction of the views of each sample that voted for each class."""
        return self.stats["votes"] / self.count[:, None]

    def weighted(self):
        """Normalised cumulative confidences; the votes where they are all 0."""
        z = self.stats["weighted"]
        total = z.sum(axis=1, keepdims=True)
        return np.divide(z, total, out=self.votes(), where=total > 0)

    def mean(self):
        """Mean probabilities."""
        return self.stats["sum"] / self.count[:, None]

    def geometric_mean(self):
        """Normalised exponential of the mean log-probabilities."""
        mean_log = self.stats["log"] / self.count[:, None]
        return _normalise_rows(np.exp(mean_log - mean_log.max(axis=1, keepdims=True)))

    def max(self):
        """Normalised largest probability of each class."""
        return _normalise_rows(self.stats["max"])

    @classmethod
    def of_views(cls, n_samples, n_views, n_classes, needs, **outputs):
        """The statistics of complete ``(n_samples, n_views, ...)`` outputs."""
        stats = cls(n_samples, n_classes, needs)
        rows = np.repeat(np.arange(n_samples), n_views)
        flat = {
            name: None if value is None else value.reshape(n_samples * n_views, -1)
            for name, value in outputs.items()
        }
        for name in ("labels", "confidences"):
            if flat.get(name) is not None:
                flat[name] = flat[name][:, 0]
        stats.add(rows, **flat)
        return stats


def view_predictions(view_proba):
    """Per-view labels and confidences from per-view class scores (Eq. 3).

    ``y(i, j) = argmax_k h_k(i, j)`` and ``c(i, j) = max_k h_k(i, j)``.

    Parameters
    ----------
    view_proba : array-like of shape (n_samples, n_views, n_classes)
        Class probabilities (or any scores) of every view.

    Returns
    -------
    labels : ndarray of shape (n_samples, n_views)
        Integer class code of the top class of each view (the first one on
        ties).
    confidences : ndarray of shape (n_samples, n_views)
        The top score of each view.

    Examples
    --------
    >>> import numpy as np
    >>> from skcells.multiview import view_predictions
    >>> labels, conf = view_predictions([[[0.2, 0.8], [0.6, 0.4]]])
    >>> labels
    array([[1, 0]])
    >>> conf
    array([[0.8, 0.6]])
    """
    proba = _check_view_proba(view_proba)
    labels = np.argmax(proba, axis=2)
    confidences = np.take_along_axis(proba, labels[..., None], axis=2)[..., 0]
    return labels, confidences


@validate_params(_N_CLASSES, prefer_skip_nested_validation=True)
def aggregate_mode(view_labels, n_classes):
    """Vote fractions of the per-view labels (``"mode"``: the paper's MVM, Eq. 4).

    The prediction ``mode_j y(i, j)`` is ``argmax`` of the returned row; ties
    go to the class with the smallest code.

    Parameters
    ----------
    view_labels : array-like of int of shape (n_samples, n_views)
        Class code of every view, in ``[0, n_classes)``.
    n_classes : int
        Number of classes.

    Returns
    -------
    votes : ndarray of shape (n_samples, n_classes)
        Fraction of the views that voted for each class; rows sum to 1.

    Examples
    --------
    >>> from skcells.multiview import aggregate_mode
    >>> aggregate_mode([[0, 1, 1], [2, 2, 0]], n_classes=3)
    array([[0.33333333, 0.66666667, 0.        ],
           [0.33333333, 0.        , 0.66666667]])
    """
    labels = _check_view_labels(view_labels, n_classes)
    n, m = labels.shape
    return _ViewStats.of_views(n, m, n_classes, ["votes"], labels=labels).votes()


@validate_params(_N_CLASSES, prefer_skip_nested_validation=True)
def aggregate_weighted(view_labels, confidences, n_classes):
    """Confidence-weighted vote count of the views (``"weighted"``: MVWCo-S, Eq. 5).

    ``z_k(i) = sum_j c(i, j) [y(i, j) = k]``, normalised to sum to 1 per
    sample; the prediction is ``argmax_k z_k(i)`` (ties to the smallest
    code).  A sample whose confidences are all zero falls back to the vote
    fractions of :func:`aggregate_mode`.

    Parameters
    ----------
    view_labels : array-like of int of shape (n_samples, n_views)
        Class code of every view, in ``[0, n_classes)``.
    confidences : array-like of shape (n_samples, n_views)
        Non-negative confidence ``c(i, j)`` of every view (Eq. 3).
    n_classes : int
        Number of classes.

    Returns
    -------
    weights : ndarray of shape (n_samples, n_classes)
        Normalised cumulative confidence of each class; rows sum to 1.

    Examples
    --------
    Two confident views outweigh three hesitant ones, so the weighted vote
    (MVWCo-S) and the mode (MVM) disagree here:

    >>> from skcells.multiview import aggregate_mode, aggregate_weighted
    >>> labels = [[0, 0, 0, 1, 1]]
    >>> conf = [[0.5, 0.5, 0.5, 0.99, 0.99]]
    >>> int(aggregate_mode(labels, 2).argmax())
    0
    >>> aggregate_weighted(labels, conf, 2).round(3)
    array([[0.431, 0.569]])
    """
    labels = _check_view_labels(view_labels, n_classes)
    conf = _as_finite_float(
        confidences, "confidences", "an array of shape (n_samples, n_views)"
    )
    if conf.shape != labels.shape:
        raise ValueError(
            f"confidences must have the shape of view_labels {labels.shape}, got "
            f"{conf.shape}."
        )
    if np.any(conf < 0):
        raise ValueError("confidences must be finite and >= 0.")
    n, m = labels.shape
    stats = _ViewStats.of_views(
        n, m, n_classes, ["votes", "weighted"], labels=labels, confidences=conf
    )
    return stats.weighted()


def aggregate_mean(view_proba):
    """Mean of the per-view class probabilities (test-time augmentation).

    Parameters
    ----------
    view_proba : array-like of shape (n_samples, n_views, n_classes)
        Class probabilities of every view.

    Returns
    -------
    proba : ndarray of shape (n_samples, n_classes)
        Mean over the views.

    Examples
    --------
    >>> from skcells.multiview import aggregate_mean
    >>> aggregate_mean([[[0.2, 0.8], [0.6, 0.4]]])
    array([[0.4, 0.6]])
    """
    proba = _check_view_proba(view_proba)
    n, m, k = proba.shape
    return _ViewStats.of_views(n, m, k, ["sum"], proba=proba).mean()


def aggregate_geometric_mean(view_proba):
    """Geometric mean of the per-view class probabilities, renormalised.

    ``p_k(i) ∝ exp(mean_j log h_k(i, j))``, the mean of the
    log-probabilities (ttach's ``"gmean"`` merge): a class that one view
    rules out (probability 0) is ruled out.  Probabilities are clipped at
    the smallest positive float64 before the logarithm, so a class that
    every view rules out keeps the order given by its other probabilities.

    Parameters
    ----------
    view_proba : array-like of shape (n_samples, n_views, n_classes)
        Non-negative class probabilities of every view.

    Returns
    -------
    proba : ndarray of shape (n_samples, n_classes)
        Rows sum to 1.

    Examples
    --------
    >>> from skcells.multiview import aggregate_geometric_mean
    >>> proba = [[[0.2, 0.8], [0.8, 0.2]], [[0.5, 0.5], [0.0, 1.0]]]
    >>> aggregate_geometric_mean(proba).round(3)
    array([[0.5, 0.5],
           [0. , 1. ]])
    """
    proba = _check_probabilities(view_proba)
    n, m, k = proba.shape
    return _ViewStats.of_views(n, m, k, ["log"], proba=proba).geometric_mean()


def aggregate_max(view_proba):
    """Largest probability of each class over the views, renormalised.

    ``p_k(i) ∝ max_j h_k(i, j)`` (ttach's ``"max"`` merge): the predicted
    class is the one some view is most confident about.

    Parameters
    ----------
    view_proba : array-like of shape (n_samples, n_views, n_classes)
        Non-negative class probabilities of every view.

    Returns
    -------
    proba : ndarray of shape (n_samples, n_classes)
        Rows sum to 1 (uniform where every probability is 0).

    Examples
    --------
    >>> from skcells.multiview import aggregate_max
    >>> aggregate_max([[[0.4, 0.6], [0.9, 0.1]]])
    array([[0.6, 0.4]])
    """
    proba = _check_probabilities(view_proba)
    n, m, k = proba.shape
    return _ViewStats.of_views(n, m, k, ["max"], proba=proba).max()


def view_agreement(view_labels, prediction):
    """Fraction of the views of each sample that voted for ``prediction``.

    1 means that every view agrees with the aggregated prediction; values
    near ``1 / n_classes`` flag samples a user may want to abstain on.

    Parameters
    ----------
    view_labels : array-like of shape (n_samples, n_views)
        Label of every view.
    prediction : array-like of shape (n_samples,)
        Aggregated label of every sample, in the same label space.

    Returns
    -------
    agreement : ndarray of shape (n_samples,)
        Values in ``[0, 1]``.

    Examples
    --------
    >>> from skcells.multiview import view_agreement
    >>> view_agreement([[0, 1, 1, 1], [2, 0, 1, 2]], [1, 2])
    array([0.75, 0.5 ])
    """
    labels = np.asarray(view_labels)
    pred = np.asarray(prediction)
    if labels.ndim != 2 or labels.shape[1] < 1:
        raise ValueError(
            "view_labels must be a 2-D array of shape (n_samples, n_views) with "
            f"n_views >= 1, got an array of shape {labels.shape}."
        )
    if pred.shape != (labels.shape[0],):
        raise ValueError(
            f"prediction must have shape ({labels.shape[0]},) to match view_labels, "
            f"got {pred.shape}."
        )
    return (labels == pred[:, None]).mean(axis=1)


@validate_params(
    {**_N_CLASSES, "normalize": ["boolean"]}, prefer_skip_nested_validation=True
)
def vote_entropy(view_labels, n_classes, *, normalize=False):
    """Entropy of the distribution of the views' votes, per sample.

    ``H(i) = -sum_k v_k(i) log v_k(i)`` with ``v`` the vote fractions of
    :func:`aggregate_mode` (natural logarithm, ``0 log 0 = 0``).  It is 0
    when all views agree and largest when the votes are spread evenly.

    Parameters
    ----------
    view_labels : array-like of int of shape (n_samples, n_views)
        Votes: the class code of every view, in ``[0, n_classes)``.
    n_classes : int
        Number of classes a view can vote for.
    normalize : bool, default=False
        Divide by ``log(min(n_classes, n_views))``, the largest reachable
        entropy, so that the values lie in ``[0, 1]`` (all zero when that
        maximum is 0, i.e. with one class or one view).

    Returns
    -------
    entropy : ndarray of shape (n_samples,)
        Vote entropy in nats (or normalised).

    Examples
    --------
    >>> from skcells.multiview import vote_entropy
    >>> vote_entropy([[0, 0, 0, 0], [0, 0, 1, 1]], n_classes=2).round(4)
    array([0.    , 0.6931])
    >>> vote_entropy([[0, 0, 1, 1]], n_classes=2, normalize=True)
    array([1.])
    """
    entropy = _entropy(aggregate_mode(view_labels, n_classes))
    if normalize:
        labels = np.asarray(view_labels)
        top = np.log(min(n_classes, labels.shape[1]))
        entropy = entropy / top if top > 0 else np.zeros_like(entropy)
    return entropy

"""Information limits: what the ideal reader gets from the views a model saw."""

from sklearn.utils import Bunch

from ..datasets import ideal_reader
from ..multiview import aggregate_mode


def information_limit(videos, windows, indices=None, *, frame=0):
    """Accuracy of the ideal reader from one view and from all views (MVM).

    The ideal reader (:func:`skcells.datasets.ideal_reader`) knows the true
    number of cells inside every view's box and calls a view "high" when it
    holds more cells than a box of that area holds at the mean count.  Its
    accuracy from the first view is the information limit of a single-view
    prediction, and that of the mode of its calls over all views (paper
    Eq. 4) the limit of MVM: a model that reads only the pixels of those
    views is not expected to beat it, so the distance of a model to its
    limit says how much of the information in its views it uses.

    Parameters
    ----------
    videos : sklearn.utils.Bunch, SyntheticBloodVideos or GenerationParams
        The synthetic set (target ``"wbc"`` or ``"rbc"``), as
        :func:`~skcells.datasets.fetch_synthetic_blood_videos` returns it.
    windows : sklearn.utils.Bunch
        The views, e.g.
        :meth:`MultiViewClassifier.sample_windows
        <skcells.multiview.MultiViewClassifier.sample_windows>` of the test
        inputs: the same boxes the model's predictions were made from.
    indices : array-like of int of shape (n_samples,), default=None
        The video of each input; None: ``0 .. n_samples - 1``.
    frame : int, default=0
        The frame the inputs were taken from when they are single frames.

    Returns
    -------
    limit : sklearn.utils.Bunch
        ``single`` and ``multi``: the accuracy in ``[0, 1]`` of the first
        view and of the mode of all views; ``per_view``: the mean accuracy
        of a single view over all views (a less noisy estimate of the
        single-view limit); ``correct_single`` and ``correct_multi``: the
        per-input booleans; ``n_views``; and ``reader``, the
        :func:`~skcells.datasets.ideal_reader` output.

    Examples
    --------
    >>> import numpy as np
    >>> from skcells.datasets import GenerationParams
    >>> from skcells.experiments import information_limit
    >>> from skcells.multiview import RandomResizedCropViews
    >>> params = GenerationParams(n_videos=40, n_frames=1, size=32)
    >>> X = np.arange(40, dtype=np.uint8)[:, None, None, None] * np.ones(
    ...     (1, 3, 32, 32), np.uint8)  # distinct inputs: distinct views
    >>> views = RandomResizedCropViews(n_views=9, random_state=0)
    >>> limit = information_limit(params, views.sample_windows(X))
    >>> round(limit.per_view, 3), limit.multi
    (0.864, 0.9)
    """
    reader = ideal_reader(videos, windows, indices, frame=frame)
    labels, target = reader.labels, reader.target
    mode = aggregate_mode(labels, 2).argmax(axis=1)
    correct_single = labels[:, 0] == target
    correct_multi = mode == target
    return Bunch(
        single=float(correct_single.mean()),
        multi=float(correct_multi.mean()),
        per_view=float((labels == target[:, None]).mean()),
        correct_single=correct_single,
        correct_multi=correct_multi,
        n_views=labels.shape[1],
        reader=reader,
    )

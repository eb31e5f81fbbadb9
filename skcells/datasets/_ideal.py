"""The ideal reader: the true cell counts inside the views a model sees.

The generator knows where every cell of a synthetic video is, so the
information that a view carries about the label can be measured without any
model: count the cells whose centre lies in the view's box (over the frames
of a clip view) and call the view "high" when the count is above the count
expected in a box of that area.  No model that sees only the pixels of the
view can do better on average than this reader of the ground truth, up to
what it can infer from the rest of the picture; its accuracy is an
*information limit* of the view geometry (see
:func:`skcells.experiments.information_limit`).
"""

import numbers

import numpy as np
from sklearn.utils import Bunch

from ._params import CONDITIONS, GenerationParams, parameter_errors

__all__ = ["count_cells_in_windows", "ideal_reader", "true_cell_centres"]

_CELLS = ("rbc", "wbc")


def true_cell_centres(videos, index, *, cell="wbc"):
    """The centres of the cells of one synthetic video, in every frame.

    The positions are those the generator drew to render the video, in the
    coordinates of the views' boxes
    (:meth:`~skcells.multiview.RandomResizedCropViews.sample_windows`): the
    frame spans ``[0, size] x [0, size]`` and pixel ``(row, col)`` covers
    ``[col, col + 1] x [row, row + 1]``.  The field is periodic, so the
    centres are wrapped into the frame.

    Parameters
    ----------
    videos : sklearn.utils.Bunch, SyntheticBloodVideos or GenerationParams
        The set: what :func:`fetch_synthetic_blood_videos` returns, a
        :class:`SyntheticBloodVideos`, or the parameters that define it.
    index : int
        The video, in ``[0, n_videos)``.
    cell : {"wbc", "rbc"}, default="wbc"
        Which cells.

    Returns
    -------
    centres : ndarray of shape (n_frames, n_cells, 2), dtype float64
        The ``(x, y)`` centre of every cell in every frame, in ``[0, size)``.

    Examples
    --------
    >>> from skcells.datasets import GenerationParams, true_cell_centres
    >>> params = GenerationParams(n_videos=3, n_frames=4, size=32)
    >>> centres = true_cell_centres(params, 1, cell="wbc")
    >>> centres.shape[0], centres.shape[2], bool((centres < 32).all())
    (4, 2, True)
    """
    from ._synthetic import _Config

    config = _Config(GenerationParams.of(videos))
    params = config.params
    with parameter_errors():
        if cell not in _CELLS:
            raise ValueError(f"cell must be 'wbc' or 'rbc', got {cell!r}.")
        if (
            not isinstance(index, numbers.Integral)
            or isinstance(index, bool)
            or not 0 <= index < params.n_videos
        ):
            raise ValueError(
                f"index must be an int in [0, {params.n_videos}), got {index!r}."
            )
    return _centres(config, index, config.item_metadata([index]), 0, cell)


def _centres(config, index, meta, k, cell):
    """:func:`true_cell_centres` of video ``index``, whose metadata is row ``k``."""
    from ._render import _video_positions

    rbc, wbc = int(meta["rbc_count"][k]), int(meta["wbc_count"][k])
    positions, cell_type = _video_positions(
        rbc, wbc, config.params.n_frames, config._seed(index, 1), config.render
    )
    rows_cols = positions[:, cell_type == _CELLS.index(cell)].astype(np.float64)
    # a splatted cell centred on pixel index p covers [p, p + 1]: centre p + 0.5
    return np.mod(rows_cols[..., ::-1] + 0.5, config.params.size)


def count_cells_in_windows(centres, boxes, frames=None):
    """Mean number of cells per frame inside each of the boxes of one input.

    A cell counts in a box when its centre ``(x, y)`` satisfies ``x1 <= x <
    x2`` and ``y1 <= y < y2``.

    Parameters
    ----------
    centres : array-like of shape (n_frames, n_cells, 2)
        ``(x, y)`` centre of every cell in every frame of the input (e.g.
        :func:`true_cell_centres`; one frame for an image).
    boxes : array-like of shape (n_views, 4)
        ``(x1, y1, x2, y2)`` of every view, in the coordinates of
        ``centres``.
    frames : array-like of shape (n_views, 2), default=None
        ``(start, stop)`` frames of every view (a clip view counts the mean
        over its frames); None: every frame of ``centres``.

    Returns
    -------
    counts : ndarray of shape (n_views,), dtype float64
        The mean number of cells per frame inside each box.

    Examples
    --------
    >>> import numpy as np
    >>> from skcells.datasets import count_cells_in_windows
    >>> centres = np.array([[[1.0, 1.0], [5.0, 5.0], [5.5, 1.0]]])  # one frame
    >>> boxes = [[0, 0, 4, 4], [0, 0, 8, 8], [4, 0, 8, 4]]
    >>> count_cells_in_windows(centres, boxes).tolist()
    [1.0, 3.0, 1.0]
    """
    centres = _finite(centres, "centres", 3)
    boxes = _finite(boxes, "boxes", 2)
    if centres.shape[2] != 2:
        raise ValueError(
            f"centres must have shape (n_frames, n_cells, 2), got {centres.shape}."
        )
    if boxes.shape[1] != 4:
        raise ValueError(f"boxes must have shape (n_views, 4), got {boxes.shape}.")
    n_frames = centres.shape[0]
    x, y = centres[..., 0][:, :, None], centres[..., 1][:, :, None]
    x1, y1, x2, y2 = (boxes[:, k][None, None] for k in range(4))
    inside = (x >= x1) & (x < x2) & (y >= y1) & (y < y2)
    per_frame = inside.sum(axis=1, dtype=np.float64)  # (n_frames, n_views)
    if frames is None:
        return per_frame.mean(axis=0)
    frames = np.asarray(frames)
    if (
        frames.shape != (boxes.shape[0], 2)
        or frames.dtype.kind not in "iu"
        or (frames[:, 0] < 0).any()
        or (frames[:, 1] > n_frames).any()
        or (frames[:, 0] >= frames[:, 1]).any()
    ):
        raise ValueError(
            f"frames must be integer (start, stop) pairs with 0 <= start < stop <= "
            f"{n_frames}, one per box, got shape {frames.shape}."
        )
    t = np.arange(n_frames)[:, None]
    window = (t >= frames[None, :, 0]) & (t < frames[None, :, 1])
    return (per_frame * window).sum(axis=0) / window.sum(axis=0)


def ideal_reader(videos, windows, indices=None, *, frame=0):
    """The ideal reader's high/low call on every view of synthetic videos.

    For each view, the true number of cells of the target type inside its
    box (the mean over its frames for a clip view) is compared with the
    number expected in a box of that area, ``mean * box_area / size**2``
    (the count of the label's distribution, scaled to the box): above it,
    the view says "high" (1), else "low" (0), as the label does for the
    whole frame.

    Parameters
    ----------
    videos : sklearn.utils.Bunch, SyntheticBloodVideos or GenerationParams
        The set whose target is ``"wbc"`` or ``"rbc"``: what
        :func:`fetch_synthetic_blood_videos` returns, a
        :class:`SyntheticBloodVideos`, or its parameters.
    windows : sklearn.utils.Bunch
        The views, as
        :meth:`~skcells.multiview.RandomResizedCropViews.sample_windows`
        returns them for the inputs: ``boxes`` of shape (n_samples, n_views,
        4) and ``frames`` of shape (n_samples, n_views, 2) or None.  The
        inputs must be the videos (clips) or frames of them at their full
        size, so that the boxes are in the frame's pixels.
    indices : array-like of int of shape (n_samples,), default=None
        The video of each input; None: ``0 .. n_samples - 1``.
    frame : int, default=0
        The frame the inputs were taken from when ``windows.frames`` is
        None (single frames).

    Returns
    -------
    reader : sklearn.utils.Bunch
        ``counts``: the true cells per frame in each view, shape
        (n_samples, n_views); ``expected``: the count of a box of that area
        at the mean; ``labels``: the view's call, int64, 1 where ``counts >
        expected``; ``target``: the label of each video (0 or 1);
        ``condition``: its imaging condition (one of :data:`CONDITIONS`).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.utils import Bunch
    >>> from skcells.datasets import GenerationParams, ideal_reader
    >>> params = GenerationParams(n_videos=2, n_frames=3, size=32)
    >>> whole = Bunch(boxes=np.array([[[0, 0, 32, 32]]] * 2, float), frames=None)
    >>> reader = ideal_reader(params, whole)  # the whole frame: the true label
    >>> bool((reader.labels[:, 0] == reader.target).all())
    True
    """
    from ._synthetic import _Config

    config = _Config(GenerationParams.of(videos))
    params = config.params
    with parameter_errors():
        if params.target not in _CELLS:
            raise ValueError(
                "the ideal reader calls high/low: videos must have target 'wbc' "
                f"or 'rbc', got {params.target!r}."
            )
        boxes = np.asarray(getattr(windows, "boxes", None))
        if boxes.ndim != 3 or boxes.shape[2] != 4:
            raise ValueError(
                "windows must hold boxes of shape (n_samples, n_views, 4) (from "
                f"sample_windows of image or clip inputs), got {windows!r}."
            )
        n = boxes.shape[0]
        indices = np.arange(n) if indices is None else np.asarray(indices)
        if (
            indices.shape != (n,)
            or indices.dtype.kind not in "iu"
            or (indices < 0).any()
            or (indices >= params.n_videos).any()
        ):
            raise ValueError(
                f"indices must be {n} video indices in [0, {params.n_videos}), got "
                f"{indices!r}."
            )
        frames = getattr(windows, "frames", None)
        if frames is None and not (
            isinstance(frame, numbers.Integral) and 0 <= frame < params.n_frames
        ):
            raise ValueError(
                f"frame must be an int in [0, {params.n_frames}), got {frame!r}."
            )
    cell = params.target
    meta = config.item_metadata(indices)
    counts = np.empty(boxes.shape[:2])
    for k, i in enumerate(indices.tolist()):
        centres = _centres(config, i, meta, k, cell)
        if frames is None:
            counts[k] = count_cells_in_windows(centres[frame : frame + 1], boxes[k])
        else:
            counts[k] = count_cells_in_windows(centres, boxes[k], frames[k])
    area = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
    expected = getattr(params, f"{cell}_mean") * area / params.size**2
    return Bunch(
        counts=counts,
        expected=expected,
        labels=(counts > expected).astype(np.int64),
        target=config.labels(meta)["target"],
        condition=np.array(CONDITIONS)[meta["condition"].astype(np.intp)],
    )


def _finite(values, name, ndim):
    values = np.asarray(values)
    if values.ndim != ndim or values.dtype.kind not in "iuf":
        raise ValueError(
            f"{name} must be a {ndim}-D array of real numbers, got {values.dtype} "
            f"of shape {values.shape}."
        )
    values = values.astype(np.float64)
    if not np.isfinite(values).all():
        raise ValueError(f"{name} must be finite.")
    return values

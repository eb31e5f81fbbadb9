"""The synthetic blood-cell videos as a :class:`torch.utils.data.Dataset`.

Kept apart from :mod:`skcells.datasets._synthetic` because it imports torch;
``skcells.datasets`` imports it on first use.
"""

import numbers
import operator
from collections.abc import Sequence
from functools import cached_property

import numpy as np
from torch.utils.data import Dataset

from ._render import (
    DEFAULT_BACKGROUND,
    DEFAULT_NUCLEUS_ABSORBANCE,
    DEFAULT_RBC_ABSORBANCE,
    DEFAULT_WBC_ABSORBANCE,
)
from ._synthetic import (
    GENERATION_DOC,
    PAPER_CONDITION_PROBA,
    _Config,
    _metadata_frame,
)

__all__ = ["SyntheticBloodVideos"]


class SyntheticBloodVideos(Dataset, Sequence):
    """The paper's synthetic blood-cell videos, rendered on demand.

    A :class:`torch.utils.data.Dataset` and a :class:`collections.abc.Sequence`
    of ``n_videos`` items.  Item ``i`` is rendered when it is requested and
    is a pure function of ``(random_state, i, parameters)``: it does not
    depend on ``n_videos``, on the other items or on the order of access,
    and equals row ``i`` of :func:`fetch_synthetic_blood_videos` with the
    same parameters.  The dataset is described in the ``DESCR`` of
    :func:`fetch_synthetic_blood_videos`.

    Parameters
    ----------
    n_videos : int, default=1150
        Number of videos (``>= 1``).
    n_frames : int, default=100
        Frames per video (``>= 1``).
    size : int, default=128
        Height and width of the frames in pixels (``>= 4``).
    target : {"wbc", "rbc"}, default="wbc"
        Which count the label describes: 1 when the video's count of that
        cell type is above the distribution mean, else 0.
    frames : int, slice or array-like of int, default=None
        Frames returned per item.  None: all frames, a video of shape
        ``(n_frames, 3, size, size)``.  An int ``f``: the single frame ``f``,
        an image of shape ``(3, size, size)`` (a single-frame dataset).  A
        slice or a sequence of indices: those frames, ``(k, 3, size, size)``.
        Only the requested frames are rendered.
    transform : callable, default=None
        Called as ``transform(video)`` on the uint8 :class:`numpy.ndarray`
        described by ``frames``; its return value is returned instead.
    target_transform : callable, default=None
        Called as ``target_transform(target)`` on the int label; its return
        value is returned instead.
    random_state : int, default=0
        Seed of the whole dataset (non-negative).
    <generation parameters>

    Attributes
    ----------
    metadata : pandas.DataFrame
        One row per video, computed without rendering: ``rbc_count``,
        ``wbc_count``, ``condition`` (categorical), ``blur``, ``noise``,
        ``distance`` (``|count - mean|`` of the target count),
        ``difficulty`` (paper Eq. 2, in ``[0, 1]``) and ``target``.
    targets : ndarray of shape (n_videos,)
        The labels, as in ``metadata["target"]``.

    See Also
    --------
    fetch_synthetic_blood_videos : The same videos, cached on disk.
    render_video : Render one video from explicit counts.

    Examples
    --------
    >>> from skcells.datasets import SyntheticBloodVideos
    >>> ds = SyntheticBloodVideos(8, n_frames=4, size=32, random_state=0)
    >>> video, target = ds[0]
    >>> video.shape, video.dtype, target in (0, 1)
    ((4, 3, 32, 32), dtype('uint8'), True)
    >>> sorted(ds.metadata.columns)[:3]
    ['blur', 'condition', 'difficulty']
    >>> frame, _ = SyntheticBloodVideos(8, n_frames=4, size=32, frames=2)[0]
    >>> bool((frame == video[2]).all())
    True
    """

    def __init__(
        self,
        n_videos=1150,
        *,
        n_frames=100,
        size=128,
        target="wbc",
        frames=None,
        transform=None,
        target_transform=None,
        random_state=0,
        rbc_mean=5000.0,
        rbc_std=97.9,
        wbc_mean=202.0,
        wbc_std=95.5,
        condition_proba=PAPER_CONDITION_PROBA,
        blur_range=(1, 10),
        noise_range=(0.05, 0.3),
        noise_law="gaussian",
        step=1.0,
        rbc_radius=0.025,
        wbc_radius=0.035,
        nucleus_ratio=0.5,
        rbc_absorbance=DEFAULT_RBC_ABSORBANCE,
        wbc_absorbance=DEFAULT_WBC_ABSORBANCE,
        nucleus_absorbance=DEFAULT_NUCLEUS_ABSORBANCE,
        background=DEFAULT_BACKGROUND,
        illumination_jitter=0.02,
        alpha=0.5,
        beta=None,
        distance_rule="boundary",
    ):
        self._config = _Config(
            n_videos=n_videos,
            n_frames=n_frames,
            size=size,
            target=target,
            random_state=random_state,
            rbc_mean=rbc_mean,
            rbc_std=rbc_std,
            wbc_mean=wbc_mean,
            wbc_std=wbc_std,
            condition_proba=condition_proba,
            blur_range=blur_range,
            noise_range=noise_range,
            noise_law=noise_law,
            step=step,
            rbc_radius=rbc_radius,
            wbc_radius=wbc_radius,
            nucleus_ratio=nucleus_ratio,
            rbc_absorbance=rbc_absorbance,
            wbc_absorbance=wbc_absorbance,
            nucleus_absorbance=nucleus_absorbance,
            background=background,
            illumination_jitter=illumination_jitter,
            alpha=alpha,
            beta=beta,
            distance_rule=distance_rule,
        )
        for name, fn in (
            ("transform", transform),
            ("target_transform", target_transform),
        ):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name} must be callable or None, got {fn!r}.")
        self._frame_index, self._single_frame = _check_frame_selection(
            frames, self._config.n_frames
        )
        self.n_videos = self._config.n_videos
        self.n_frames = self._config.n_frames
        self.size = self._config.size
        self.target = target
        self.frames = frames
        self.transform = transform
        self.target_transform = target_transform
        self.random_state = self._config.random_state

    def __len__(self):
        return self.n_videos

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        try:
            i = operator.index(index)
        except TypeError:
            raise TypeError(
                f"index must be an int or a slice, got {type(index).__name__}."
            ) from None
        if not -self.n_videos <= i < self.n_videos:
            raise IndexError(f"index {i} is out of range for {self.n_videos} videos.")
        i %= self.n_videos
        meta = self._config.item_metadata([i])
        video = self._config.render_item(i, meta, frames=self._frame_index)
        if self._single_frame:
            video = video[0]
        target = int(self._config.labels(meta)["target"][0])
        if self.transform is not None:
            video = self.transform(video)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return video, target

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self):
        return (
            f"{type(self).__name__}(n_videos={self.n_videos}, n_frames="
            f"{self.n_frames}, size={self.size}, target={self.target!r}, "
            f"random_state={self.random_state})"
        )

    @cached_property
    def metadata(self):
        """Per-video metadata as a :class:`pandas.DataFrame` (no rendering)."""
        meta = self._config.item_metadata(np.arange(self.n_videos))
        return _metadata_frame(meta, self._config.labels(meta))

    @property
    def targets(self):
        """The labels of all videos, an int ndarray of shape (n_videos,)."""
        return self.metadata["target"].to_numpy()


SyntheticBloodVideos.__doc__ = SyntheticBloodVideos.__doc__.replace(
    "    <generation parameters>\n", GENERATION_DOC
)


def _check_frame_selection(frames, n_frames):
    """Frame indices to render and whether a single frame was asked for."""
    if frames is None:
        return None, False
    if isinstance(frames, slice):
        index = np.arange(n_frames)[frames]
        if index.size == 0:
            raise ValueError(
                f"frames must select at least one of the {n_frames} frames, got "
                f"{frames!r}."
            )
        return index, False
    if isinstance(frames, numbers.Integral) and not isinstance(frames, bool):
        if not -n_frames <= frames < n_frames:
            raise ValueError(
                f"frames must be a frame index in [0, {n_frames}), got {frames!r}."
            )
        return np.array([frames % n_frames]), True
    arr = np.asarray(frames)
    if (
        arr.ndim != 1
        or arr.size == 0
        or not np.issubdtype(arr.dtype, np.integer)
        or arr.min() < 0
        or arr.max() >= n_frames
    ):
        raise ValueError(
            "frames must be None, an int, a slice or a non-empty sequence of "
            f"frame indices in [0, {n_frames}), got {frames!r}."
        )
    return arr.astype(np.intp), False

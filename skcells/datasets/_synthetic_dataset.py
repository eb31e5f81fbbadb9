"""The synthetic blood-cell videos as a :class:`torch.utils.data.Dataset`.

Kept apart from :mod:`skcells.datasets._synthetic` because it imports torch;
``skcells.datasets`` imports it on first use.
"""

import operator
from collections.abc import Sequence
from functools import cached_property

import numpy as np
from torch.utils.data import Dataset

from ._params import params_from
from ._render import check_frames
from ._synthetic import _Config, _metadata_frame

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
    target : {"wbc", "rbc", "wbc_count", "rbc_count"}, default="wbc"
        The label.  ``"wbc"`` and ``"rbc"``: 1 when the video's count of that
        cell type is above the distribution mean, else 0 (classification).
        ``"wbc_count"`` and ``"rbc_count"``: the number of cells of that
        type per field of view, as float64 (regression; the unit is
        explained in the dataset description).
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
        Called as ``target_transform(target)`` on the label (an int, or a
        float for the count targets); its return value is returned instead.
        A skorch regressor wants a float32 array of one value, e.g.
        ``target_transform=lambda count: np.float32([count])``.
    random_state : int, default=0
        Seed of the whole dataset (non-negative).
    rbc_mean : float, default=5000.0
        Mean number of red blood cells per video (``>= 0``).
    rbc_std : float, default=97.9
        Standard deviation of the RBC count (``>= 0``).  Counts are drawn
        from a normal law, rounded and clipped at 0.
    wbc_mean : float, default=202.0
        Mean number of white blood cells per video (``>= 0``).
    wbc_std : float, default=95.5
        Standard deviation of the WBC count (``>= 0``).
    condition_proba : tuple of 4 float, default=(0.13, 0.304, 0.217, 0.349)
        Probabilities of the conditions ``"clear"``, ``"blurred"``,
        ``"noisy"`` and ``"blurred+noisy"``; non-negative, summing to 1.
    blur_range : tuple of 2 int, default=(1, 10)
        Inclusive range of the box-blur radius ``b`` of the blurred
        conditions (uniform integer); within ``[0, 10]``.  Other videos have
        ``b = 0``.
    blur_reference : int, default=128
        Side in pixels of the frame in which ``b`` is measured (``>= 1``):
        the box is ``2 b + 1`` pixels wide at ``size = blur_reference`` and
        ``(2 b + 1) * size / blur_reference`` pixels wide at other sizes (a
        box with fractional end weights), so that a blur hides the same
        fraction of a cell at every resolution.  The default is the paper's
        128-px frame, whose videos are blurred exactly as with whole-pixel
        radii; ``blur_reference=size`` measures ``b`` in pixels of the frame.
    noise_range : tuple of 2 float, default=(0.05, 0.3)
        Range of the noise level of the noisy conditions (uniform), within
        ``[0, 1]``; the level is the noise standard deviation as a fraction
        of 255.  Other videos have no noise.
    noise_law : {"gaussian", "poisson"}, default="gaussian"
        The noise model (see :func:`skcells.datasets.add_noise`).
    step : float, default=1.0
        Displacement in pixels of each coordinate of each cell per frame
        (``Y_i * step`` with ``Y_i = +-1``, paper Eq. 1).  After ``n`` frames
        a coordinate has moved by ``step * sqrt(n)`` pixels on average (rms).
        ``0`` freezes the cells.  Measured in pixels with
        ``motion="pixels"``, in the units of Eq. 1 with ``motion="eq1"``.
    motion : {"pixels", "eq1"}, default="pixels"
        The unit of ``step``.  ``"pixels"``: ``step`` pixels per frame.
        ``"eq1"``: the paper's Eq. 1 read literally, with the position
        ``W`` in units of the frame side and ``n = 100`` frames (the paper's
        video length): each coordinate moves by ``step * size / sqrt(100)``
        pixels per frame, 12.8 px at 128 px and 6.4 px at 64 px, so that the
        cells seen in consecutive frames are partly new ones (see the
        dataset description for what each choice gives a video model).
    rbc_radius : float, default=0.025
        RBC radius as a fraction of ``size`` (3.2 px at 128 px), in
        ``(0, 0.5]``.  Cell sizes scale with the frame so that small frames
        show the same scene at a lower resolution.
    wbc_radius : float, default=0.035
        WBC radius as a fraction of ``size`` (4.5 px at 128 px), in
        ``(0, 0.5]``.
    nucleus_ratio : float, default=0.5
        WBC nucleus radius as a fraction of the WBC radius, in ``[0, 1]``.
    rbc_absorbance : tuple of 3 float, default=(0.02, 0.09, 0.08)
        Optical density of one RBC at full thickness in the red, green and
        blue channels (``>= 0``).
    wbc_absorbance : tuple of 3 float, default=(0.16, 0.13, 0.03)
        Optical density of the WBC cytoplasm (pale lilac) per channel.
    nucleus_absorbance : tuple of 3 float, default=(0.9, 1.0, 0.35)
        Optical density added by the WBC nucleus (dark purple) per channel.
    background : tuple of 3 float, default=(245.0, 240.0, 235.0)
        Intensity of an empty field per channel, in ``[0, 255]``.
    illumination_jitter : float, default=0.02
        Standard deviation of the log of a random per-video, per-channel gain
        on the illumination (recordings differ in brightness and white
        balance), in ``[0, 1]``.  ``0`` disables it.
    alpha : float, default=0.5
        Weight of the blur term of the difficulty (paper Eq. 2).
    beta : float, default=None
        Weight of the count term of the difficulty; ``1 - alpha`` when None.
    distance_rule : {"auto", "boundary", "literal"}, default="auto"
        Which counts the count term of the difficulty calls hard.
        ``"boundary"``: a count close to the mean (the class boundary);
        ``"literal"``: the paper's literal reading, a count far from the mean
        (a rare count, the hard one for a regressor).  ``"auto"``:
        ``"boundary"`` for the high/low targets, ``"literal"`` for the count
        targets.  See :func:`skcells.datasets.difficulty_score`.

    Attributes
    ----------
    metadata : pandas.DataFrame
        One row per video, computed without rendering: ``rbc_count``,
        ``wbc_count``, ``condition`` (categorical), ``blur``, ``noise``,
        ``distance`` (``|count - mean|`` of the target count),
        ``difficulty`` (paper Eq. 2, in ``[0, 1]``) and ``target``.
    targets : ndarray of shape (n_videos,)
        The labels, as in ``metadata["target"]``: int64 classes, or float64
        counts for the count targets.

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
        condition_proba=(0.13, 0.304, 0.217, 0.349),
        blur_range=(1, 10),
        blur_reference=128,
        noise_range=(0.05, 0.3),
        noise_law="gaussian",
        step=1.0,
        motion="pixels",
        rbc_radius=0.025,
        wbc_radius=0.035,
        nucleus_ratio=0.5,
        rbc_absorbance=(0.02, 0.09, 0.08),
        wbc_absorbance=(0.16, 0.13, 0.03),
        nucleus_absorbance=(0.9, 1.0, 0.35),
        background=(245.0, 240.0, 235.0),
        illumination_jitter=0.02,
        alpha=0.5,
        beta=None,
        distance_rule="auto",
    ):
        # every argument that is a field of GenerationParams, validated there
        self._config = _Config(params_from(locals()))
        for name, fn in (
            ("transform", transform),
            ("target_transform", target_transform),
        ):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name} must be callable or None, got {fn!r}.")
        params = self._config.params
        self._frame_index, self._single_frame = check_frames(frames, params.n_frames)
        self.n_videos = params.n_videos
        self.n_frames = params.n_frames
        self.size = params.size
        self.target = params.target
        self.frames = frames
        self.transform = transform
        self.target_transform = target_transform
        self.random_state = params.random_state

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
        target = self._config.labels(meta)["target"][0].item()  # int or float
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
        """The labels of all videos, an ndarray of shape (n_videos,)."""
        return self.metadata["target"].to_numpy()

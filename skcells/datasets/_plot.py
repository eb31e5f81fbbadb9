"""Figures of the synthetic dataset: sample frames per condition, video GIFs."""

from pathlib import Path

import numpy as np

from ..utils import check_int, check_real
from ._params import CONDITIONS

__all__ = ["plot_sample_frames", "save_video_gif"]


def plot_sample_frames(videos, condition, *, blur=None, noise=None, frame=0):
    """Plot one sample frame per imaging condition (paper Fig. 1 b-d).

    The first video of each condition present is shown, in the order clear,
    blurred, noisy, blurred+noisy.

    Parameters
    ----------
    videos : array-like of shape (n_samples, n_frames, 3, height, width)
        uint8 videos (e.g. the memmap of
        :func:`~skcells.datasets.fetch_synthetic_blood_videos`); images of
        shape ``(n_samples, 3, height, width)`` are accepted too.
    condition : array-like of shape (n_samples,)
        Condition name of each sample.
    blur : array-like of shape (n_samples,), default=None
        Blur radius of each sample, shown in the panel titles.
    noise : array-like of shape (n_samples,), default=None
        Noise level of each sample, shown in the panel titles.
    frame : int, default=0
        Frame of each video to show.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One panel per condition present.

    Examples
    --------
    >>> import numpy as np
    >>> from skcells.datasets import plot_sample_frames
    >>> videos = np.zeros((2, 1, 3, 8, 8), dtype=np.uint8)
    >>> fig = plot_sample_frames(videos, ["noisy", "clear"], blur=[0, 0],
    ...                          noise=[0.2, 0.0])
    >>> [ax.get_title() for ax in fig.axes]
    ['clear (b=0)', 'noisy (s=0.20)']
    """
    from matplotlib.figure import Figure

    condition = np.asarray(condition)
    shape = tuple(videos.shape) if hasattr(videos, "shape") else np.shape(videos)
    if len(shape) not in (4, 5) or shape[-3] != 3 or shape[0] != condition.shape[0]:
        raise ValueError(
            "videos must have shape (n_samples, n_frames, 3, H, W) or "
            f"(n_samples, 3, H, W) with one condition per sample, got videos of "
            f"shape {shape} and {condition.shape[0]} conditions."
        )
    if len(shape) == 5:
        check_int(frame, "frame", low=0, high=shape[1] - 1)
    present = [c for c in CONDITIONS if np.any(condition == c)]
    if not present:
        raise ValueError(
            f"condition must contain at least one of {CONDITIONS}, got "
            f"{np.unique(condition).tolist()}."
        )
    fig = Figure(figsize=(3 * len(present), 3.4), layout="constrained")
    for k, name in enumerate(present):
        i = int(np.flatnonzero(condition == name)[0])
        image = np.asarray(videos[i][frame] if len(shape) == 5 else videos[i])
        ax = fig.add_subplot(1, len(present), k + 1)
        ax.imshow(np.moveaxis(image, 0, -1), interpolation="nearest")
        ax.set_title(_panel_title(name, i, blur, noise))
        ax.set_axis_off()
    return fig


def _panel_title(name, i, blur, noise):
    """``"blurred+noisy (b=3, s=0.12)"``-style title of one panel."""
    parts = []
    if blur is not None and name != "noisy":
        parts.append(f"b={int(np.asarray(blur)[i])}")
    if noise is not None and "noisy" in name:
        parts.append(f"s={float(np.asarray(noise)[i]):.2f}")
    return f"{name} ({', '.join(parts)})" if parts else name


def save_video_gif(video, path, *, fps=10, scale=None):
    """Write a video as an animated GIF.

    Parameters
    ----------
    video : array-like of shape (n_frames, 3, height, width)
        uint8 frames.
    path : str or path-like
        The GIF file to write.
    fps : float, default=10
        Frames per second (``> 0``).
    scale : int, default=None
        Integer up-scaling factor (nearest neighbour); None picks the
        smallest factor that makes the frames at least 256 pixels wide.

    Returns
    -------
    path : pathlib.Path
        The file written.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from PIL import Image
    >>> from skcells.datasets import save_video_gif
    >>> video = np.random.default_rng(0).integers(0, 256, (4, 3, 16, 16), np.uint8)
    >>> path = save_video_gif(video, tempfile.mkdtemp() + "/v.gif", scale=2)
    >>> with Image.open(path) as gif:
    ...     gif.n_frames, gif.size
    (4, (32, 32))
    """
    from PIL import Image

    video = np.asarray(video)
    if video.ndim != 4 or video.shape[1] != 3 or video.dtype != np.uint8:
        raise ValueError(
            "video must be a uint8 array of shape (n_frames, 3, height, width), "
            f"got {video.dtype} of shape {video.shape}."
        )
    check_real(fps, "fps", low=0, low_open=True)
    if scale is None:
        scale = max(1, -(-256 // video.shape[-1]))
    scale = check_int(scale, "scale", low=1)
    frames = np.moveaxis(video, 1, -1)
    frames = frames.repeat(scale, axis=1).repeat(scale, axis=2)
    images = [Image.fromarray(f) for f in frames]
    path = Path(path)
    images[0].save(
        path,
        save_all=True,
        append_images=images[1:],
        duration=max(1, round(1000 / fps)),
        loop=0,
        disposal=1,
    )
    return path

"""Per-condition summaries of a video dataset (sharpness, noise, labels)."""

import numpy as np

from ..utils import check_int
from ._params import CONDITIONS

__all__ = ["high_frequency_energy", "summarize_conditions"]


def high_frequency_energy(videos, *, batch_size=16):
    """Mean squared difference between neighbouring pixels of each video.

    The average of the squared vertical and horizontal differences, on the
    ``[0, 1]`` intensity scale, over all frames, channels and pixels.  Blur
    lowers it and noise raises it.

    Parameters
    ----------
    videos : array-like of shape (n_samples, ..., height, width)
        Images ``(n, C, H, W)`` or videos ``(n, T, C, H, W)`` on the 0-255
        scale, e.g. a memory-mapped dataset.
    batch_size : int, default=16
        Samples read and processed at a time (bounds the memory).

    Returns
    -------
    energy : ndarray of shape (n_samples,)
        The high-frequency energy of each sample.

    Examples
    --------
    >>> import numpy as np
    >>> from skcells.datasets import high_frequency_energy
    >>> flat = np.full((1, 3, 8, 8), 100, dtype=np.uint8)
    >>> stripes = np.zeros((1, 3, 8, 8), dtype=np.uint8); stripes[..., ::2] = 255
    >>> high_frequency_energy(np.concatenate([flat, stripes]))
    array([0. , 0.5])
    """
    batch_size = check_int(batch_size, "batch_size", low=1)
    if not hasattr(videos, "shape"):
        videos = np.asarray(videos)
    if len(videos.shape) < 3:
        raise ValueError(
            "videos must have shape (n_samples, ..., height, width), got shape "
            f"{tuple(videos.shape)}."
        )
    n = videos.shape[0]
    energy = np.empty(n)
    for start in range(0, n, batch_size):
        x = np.asarray(videos[start : start + batch_size], dtype=np.float32) / 255
        dy = np.diff(x, axis=-2)
        dx = np.diff(x, axis=-1)
        axes = tuple(range(1, x.ndim))
        energy[start : start + batch_size] = 0.5 * (
            np.mean(dy * dy, axis=axes) + np.mean(dx * dx, axis=axes)
        )
    return energy


def summarize_conditions(dataset, *, batch_size=16):
    """Summarise a synthetic dataset per imaging condition.

    Parameters
    ----------
    dataset : Bunch or dict
        The output of :func:`skcells.datasets.fetch_synthetic_blood_videos`;
        the keys ``data``, ``target``, ``condition``, ``blur``, ``noise``,
        ``rbc_count``, ``wbc_count`` and ``difficulty`` are used.
    batch_size : int, default=16
        Videos read at a time to compute the high-frequency energy.

    Returns
    -------
    summary : pandas.DataFrame
        One row per condition present (in the order clear, blurred, noisy,
        blurred+noisy) and a last row ``"all"``, with the columns
        ``n``, ``fraction``, ``mean_blur``, ``mean_noise``,
        ``mean_rbc_count``, ``mean_wbc_count``, ``label_balance`` (fraction
        of label 1), ``mean_difficulty`` and ``hf_energy`` (mean
        :func:`high_frequency_energy`).

    Examples
    --------
    >>> import tempfile
    >>> from skcells.datasets import (fetch_synthetic_blood_videos,
    ...                               summarize_conditions)
    >>> bunch = fetch_synthetic_blood_videos(
    ...     n_videos=12, n_frames=2, size=16, data_home=tempfile.mkdtemp())
    >>> summary = summarize_conditions(bunch)
    >>> int(summary.loc["all", "n"])
    12
    """
    import pandas as pd

    required = (
        "data",
        "target",
        "condition",
        "blur",
        "noise",
        "rbc_count",
        "wbc_count",
        "difficulty",
    )
    missing = [k for k in required if k not in dataset]
    if missing:
        raise ValueError(
            f"dataset must hold the keys {required}; missing {missing} "
            "(pass the Bunch of fetch_synthetic_blood_videos)."
        )
    n = len(dataset["target"])
    frame = pd.DataFrame(
        {
            "condition": np.asarray(dataset["condition"]),
            "blur": np.asarray(dataset["blur"], dtype=float),
            "noise": np.asarray(dataset["noise"], dtype=float),
            "rbc_count": np.asarray(dataset["rbc_count"], dtype=float),
            "wbc_count": np.asarray(dataset["wbc_count"], dtype=float),
            "target": np.asarray(dataset["target"], dtype=float),
            "difficulty": np.asarray(dataset["difficulty"], dtype=float),
            "hf_energy": high_frequency_energy(dataset["data"], batch_size=batch_size),
        }
    )
    if len(frame) != n:
        raise ValueError("dataset arrays must all have the same length.")
    order = [c for c in CONDITIONS if c in set(frame["condition"])]
    groups = [(c, frame[frame["condition"] == c]) for c in order] + [("all", frame)]
    rows = {
        name: {
            "n": len(g),
            "fraction": len(g) / n,
            "mean_blur": g["blur"].mean(),
            "mean_noise": g["noise"].mean(),
            "mean_rbc_count": g["rbc_count"].mean(),
            "mean_wbc_count": g["wbc_count"].mean(),
            "label_balance": g["target"].mean(),
            "mean_difficulty": g["difficulty"].mean(),
            "hf_energy": g["hf_energy"].mean(),
        }
        for name, g in groups
    }
    summary = pd.DataFrame.from_dict(rows, orient="index")
    summary.index.name = "condition"
    return summary

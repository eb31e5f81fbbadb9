"""Data of the protocol: blood-cell videos, digits, CIFAR-10."""

import os

import numpy as np


def load_video_inputs(target, **fetch):
    """The protocol's inputs cut from the synthetic blood-cell videos.

    Parameters
    ----------
    target : {"wbc", "rbc"}
        Which cell count the high/low label describes.
    **fetch
        Further arguments of
        :func:`~skcells.datasets.fetch_synthetic_blood_videos`: the shape
        (``n_videos``, ``n_frames``, ``size``), ``random_state``,
        ``data_home``, ``n_jobs``, ``verbose``...

    Returns
    -------
    inputs : dict of str to tuple
        ``{"frame": (X, y, difficulty), "clip": (X, y, difficulty)}``: the
        first frame of every video, of shape ``(n_videos, 3, size, size)``,
        and the whole videos, ``(n_videos, n_frames, 3, size, size)``; both
        read from the cache (uint8), nothing is copied.
    videos : sklearn.utils.Bunch
        The set, as :func:`~skcells.datasets.fetch_synthetic_blood_videos`
        returns it.

    Examples
    --------
    >>> import tempfile
    >>> from skcells.experiments import load_video_inputs
    >>> inputs, videos = load_video_inputs(
    ...     "wbc", n_videos=4, n_frames=2, size=16, data_home=tempfile.mkdtemp(),
    ...     verbose=False)
    >>> inputs["frame"][0].shape, inputs["clip"][0].shape
    ((4, 3, 16, 16), (4, 2, 3, 16, 16))
    """
    from ..datasets import fetch_synthetic_blood_videos

    videos = fetch_synthetic_blood_videos(target=target, **fetch)
    labels = (videos.target, videos.difficulty)
    return {
        "frame": (videos.data[:, 0], *labels),
        "clip": (videos.data, *labels),
    }, videos


def load_digit_images(*, size=32):
    """Load scikit-learn's digits as 3-channel uint8 images (offline Table 2 data).

    The 1797 8x8 grey images (values 0-16) are scaled to 0-255, enlarged to
    ``size`` x ``size`` by bilinear interpolation and repeated over three
    channels, so that the 9-layer CNN of CIFAR-10 runs on them unchanged.

    Parameters
    ----------
    size : int, default=32
        Side of the output images (``>= 8``).

    Returns
    -------
    X : ndarray of shape (1797, 3, size, size), dtype uint8
        The images.
    y : ndarray of shape (1797,)
        The digit of each image.

    Examples
    --------
    >>> from skcells.experiments import load_digit_images
    >>> X, y = load_digit_images()
    >>> X.shape, X.dtype, y[:5].tolist()
    ((1797, 3, 32, 32), dtype('uint8'), [0, 1, 2, 3, 4])
    """
    import torch
    from sklearn.datasets import load_digits

    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an int >= 8, got {size!r}.")
    digits = load_digits()
    grey = torch.from_numpy(digits.images.astype(np.float32) * (255.0 / 16.0))
    big = torch.nn.functional.interpolate(
        grey[:, None], size=(size, size), mode="bilinear", align_corners=False
    )
    X = big.clamp(0, 255).round().to(torch.uint8).expand(-1, 3, -1, -1).numpy()
    return np.ascontiguousarray(X), digits.target.astype(np.int64)


def load_cifar10(root):
    """CIFAR-10 (train and test parts together) from a local torchvision copy.

    Parameters
    ----------
    root : str or os.PathLike
        Folder holding torchvision's ``cifar-10-batches-py``; nothing is
        downloaded.

    Returns
    -------
    X : ndarray of shape (60000, 3, 32, 32), dtype uint8
        The images.
    y : ndarray of shape (60000,)
        Class indices (0 airplane ... 9 truck).
    """
    import torchvision

    if not isinstance(root, str | os.PathLike):
        raise TypeError(f"cifar_root must be a folder path, got {root!r}.")
    parts = []
    for train in (True, False):
        try:
            ds = torchvision.datasets.CIFAR10(
                os.fspath(root), train=train, download=False
            )
        except RuntimeError as exc:
            raise FileNotFoundError(
                f"cifar_root {os.fspath(root)!r} holds no CIFAR-10 "
                "(torchvision's cifar-10-batches-py); download it there first or "
                "leave cifar_root unset to use scikit-learn's digits."
            ) from exc
        parts.append((ds.data.transpose(0, 3, 1, 2), np.asarray(ds.targets)))
    X = np.ascontiguousarray(np.concatenate([p[0] for p in parts]))
    y = np.concatenate([p[1] for p in parts]).astype(np.int64)
    return X, y


def _stratified_subset(y, n, seed):
    """Indices of ``n`` samples of ``y`` drawn with the class proportions."""
    from sklearn.model_selection import train_test_split

    if n is None or n >= y.shape[0]:
        return np.arange(y.shape[0])
    keep, _ = train_test_split(
        np.arange(y.shape[0]), train_size=n, random_state=seed, stratify=y
    )
    return np.sort(keep)


def _load_inputs(runs, scale, *, cifar_root=None, **video):
    """Arrays of every (dataset, input) the runs need, with descriptions.

    ``inputs[(dataset, input)]`` is ``(X, y, difficulty, params)``, where
    ``params`` is the GenerationParams of the synthetic set (None for
    images).  The videos returned are the RBC set when both targets ran (for
    the figures).
    """
    from ..datasets import GenerationParams

    needed = {(r.dataset, r.input) for r in runs}
    inputs, datasets, videos = {}, {}, None
    side = f"{scale.size} x {scale.size}"
    shape = f"{scale.n_videos} videos x {scale.n_frames} frames x 3 x {side}"
    for target in ("wbc", "rbc"):
        kinds = {kind for dataset, kind in needed if dataset == target}
        if not kinds:
            continue
        # The target is not part of the cache key: both targets read the same
        # videos, rendered once and checked (sha256) by the first fetch only.
        arrays, bunch = load_video_inputs(
            target,
            n_videos=scale.n_videos,
            n_frames=scale.n_frames,
            size=scale.size,
            random_state=0,
            **scale.generation,
            **({"check_hash": False} if videos is not None else {}),
            **video,
        )
        videos = bunch if videos is None or target == "rbc" else videos
        datasets[target] = (
            f"synthetic blood-cell videos, {target.upper()} target, {shape}"
        )
        params = GenerationParams.of(bunch)
        inputs.update({(target, kind): (*arrays[kind], params) for kind in kinds})
    for name in sorted({dataset for dataset, kind in needed if kind == "image"}):
        if name == "cifar10":
            X, y = load_cifar10(cifar_root)
            text = "CIFAR-10"
        else:
            X, y = load_digit_images()
            text = "scikit-learn digits (8x8 grey, resized to 3x32x32)"
        keep = _stratified_subset(y, scale.series3_samples, seed=0)
        datasets[name] = f"{text}, {keep.size} images"
        inputs[(name, "image")] = (X[keep], y[keep], None, None)
    return inputs, datasets, videos

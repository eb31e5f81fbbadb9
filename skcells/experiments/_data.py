"""Data of the three series: blood-cell videos, digits, CIFAR-10."""

import logging
import os

import numpy as np

logger = logging.getLogger(__name__)

#: Side of the images of the third series (CIFAR-10's size).
IMAGE_SIZE = 32


def load_digit_images(*, size=IMAGE_SIZE):
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

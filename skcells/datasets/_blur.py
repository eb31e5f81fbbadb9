"""No-reference blur estimate for real images whose blur radius is unknown.

The synthetic videos carry their box-blur radius ``b``; real in-vitro or
in-vivo images do not.  :func:`estimate_blur` measures how slowly the grey
image decorrelates with distance: blurring spreads every structure over more
pixels, so the spatial autocovariance decays more slowly and the fitted
correlation length grows with the blur.

Only lags of one pixel and more are used.  White sensor noise is
uncorrelated between distinct pixels, so it adds to the autocovariance at lag
0 alone and leaves the estimate unbiased; the variance of the Laplacian, the
classic focus measure, is instead dominated by such noise as soon as the
image is blurred.
"""

import logging

import numpy as np

from ..utils import check_int

logger = logging.getLogger(__name__)

# ITU-R BT.601 luma weights, used to turn RGB into grey.
_LUMA = np.array([0.299, 0.587, 0.114])

# Pixels converted to float64 at a time (64 MiB); bounds the memory use on
# large batches such as the 364 full-size BCCD images.
_CHUNK_PIXELS = 1 << 23

# Autocovariance (relative to lag 1) below which a lag is no longer fitted.
_FLOOR = 0.05


def estimate_blur(images, *, max_lag=8):
    """Estimate how blurred each image is, as a correlation length in pixels.

    The image is converted to grey (BT.601 weights for RGB), its mean is
    removed and its autocovariance ``C(tau)`` is computed along rows and
    columns for the lags ``tau = 1, ..., max_lag``.  The decay is fitted by
    least squares to a Gaussian model
    ``C(tau) / C(1) = exp(-(tau**2 - 1) / (2 * ell**2))`` and the
    correlation length ``ell`` is returned: **larger means blurrier**.  Lags
    beyond the first one where ``C(tau) / C(1)`` has dropped below 0.05 are
    left out of the fit (that one is kept, clipped at 0.05), since past it
    the autocovariance holds only estimation noise.

    The estimate ranks blur reliably among images of similar content (the
    same field of view, or images of the same kind such as BCCD smears at
    one magnification): a box blur of radius ``b`` widens the
    autocovariance, so ``ell`` increases with ``b``.  It is a no-reference
    measure, so its level also depends on the content (large cells decorrelate
    more slowly than small ones) and it is not calibrated in units of the box
    radius.  It does not change under affine changes of intensity
    (``a * x + c``), and additive white noise, which is uncorrelated between
    distinct pixels, does not bias it.

    Parameters
    ----------
    images : array-like of shape (n_samples, height, width), \
(n_samples, n_channels, height, width) or \
(n_samples, n_frames, n_channels, height, width)
        Grey images, channel-first images with 1 or 3 channels (RGB), or
        clips of such images.  For clips, the autocovariances of the frames
        are averaged before the fit, giving one value per clip.  Any real
        dtype (uint8 on the 0-255 scale, or float).
    max_lag : int, default=8
        Largest lag in pixels used in the fit, at least 2 and smaller than
        the height and the width.  Larger values are more robust to strong
        noise, smaller ones depend less on the size of the imaged objects.

    Returns
    -------
    blur : ndarray of shape (n_samples,), dtype float64
        The correlation length in pixels; larger is blurrier.  It is 0 when
        neighbouring pixels are practically uncorrelated (``C(1)`` below 5 %
        of the variance, e.g. pure white noise or noise far stronger than
        the image), ``inf`` when the autocovariance does not decay over the
        fitted lags, and NaN for a constant image, whose blur is undefined
        (a warning is logged).

    See Also
    --------
    skcells.datasets.degrade : Blur and noise with a known radius.
    skcells.datasets.difficulty_score : Turns a blur value into the
        curriculum difficulty of Eq. 2; pass ``max_blur=blur.max()``.

    Examples
    --------
    >>> import numpy as np
    >>> from skcells.datasets import degrade, estimate_blur
    >>> rng = np.random.default_rng(0)
    >>> sharp = rng.integers(0, 256, size=(1, 1, 64, 64), dtype=np.uint8)
    >>> sharp = degrade(sharp, blur=1, noise=0.0)
    >>> blurred = degrade(np.repeat(sharp, 4, axis=0), blur=[0, 1, 2, 4], noise=0.0)
    >>> ell = estimate_blur(blurred)
    >>> bool(np.all(np.diff(ell) > 0))
    True
    """
    x = _check_images(images)
    max_lag = check_int(max_lag, "max_lag", low=2, high=min(x.shape[-2:]) - 1)
    n, n_frames, _, height, width = x.shape
    lags = np.arange(1, max_lag + 1)
    cov = np.empty((n, max_lag + 1))
    step = max(1, _CHUNK_PIXELS // (n_frames * height * width))
    for start in range(0, n, step):
        grey = _to_grey(x[start : start + step])
        grey -= grey.mean(axis=(-2, -1), keepdims=True)
        cov[start : start + step] = _autocovariance(grey, lags)
    return _correlation_length(cov, lags)


def _check_images(images):
    """Validate ``images`` and return a view of shape (n, T, C, H, W)."""
    x = images if isinstance(images, np.ndarray) else np.asarray(images)
    if x.dtype == bool or not (
        np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)
    ):
        raise TypeError(
            f"images must hold real numbers (integer or float), got dtype {x.dtype}."
        )
    if x.ndim == 3:
        x = x[:, None, None]
    elif x.ndim == 4:
        x = x[:, None]
    elif x.ndim != 5:
        raise ValueError(
            "images must have shape (n_samples, height, width), (n_samples, "
            "n_channels, height, width) or (n_samples, n_frames, n_channels, "
            f"height, width), got shape {np.shape(images)}."
        )
    if x.shape[2] not in (1, 3):
        raise ValueError(
            f"images must have 1 (grey) or 3 (RGB) channels, got {x.shape[2]} "
            f"channels in shape {np.shape(images)}."
        )
    if 0 in x.shape:
        raise ValueError(f"images must not be empty, got shape {np.shape(images)}.")
    if np.issubdtype(x.dtype, np.floating) and not np.all(np.isfinite(x)):
        raise ValueError("images must be finite, got NaN or infinite values.")
    return x


def _to_grey(x):
    """(k, T, C, H, W) -> float64 grey (k, T, H, W)."""
    if x.shape[2] == 1:
        return np.array(x[:, :, 0], dtype=np.float64)
    return np.einsum("c,ktchw->kthw", _LUMA, np.asarray(x, dtype=np.float64))


def _autocovariance(grey, lags):
    """Autocovariance at lag 0 and ``lags``, rows and columns averaged.

    Parameters
    ----------
    grey : ndarray of shape (k, T, H, W)
        Zero-mean grey images.
    lags : ndarray of int
        Positive lags.

    Returns
    -------
    cov : ndarray of shape (k, len(lags) + 1)
        Column 0 is the variance; frames are averaged.
    """
    height, width = grey.shape[-2:]
    cols = [np.einsum("kthw,kthw->kt", grey, grey) / (height * width)]
    for t in lags:
        along_x = np.einsum("kthw,kthw->kt", grey[..., :, t:], grey[..., :, :-t])
        along_y = np.einsum("kthw,kthw->kt", grey[..., t:, :], grey[..., :-t, :])
        cols.append(
            0.5 * (along_x / (height * (width - t)) + along_y / ((height - t) * width))
        )
    return np.stack(cols, axis=-1).mean(axis=1)


def _correlation_length(cov, lags):
    """Fit ``log(C(tau) / C(1)) = -(tau**2 - 1) / (2 ell**2)``; return ell."""
    variance, c1 = cov[:, 0], cov[:, 1]
    out = np.full(cov.shape[0], np.nan)
    # Neighbouring pixels must be correlated for a decay to be measured.
    structured = c1 > _FLOOR * variance
    out[(variance > 0) & ~structured] = 0.0
    if np.any(variance <= 0):
        logger.warning(
            "%d constant image(s): their blur is undefined (NaN)",
            int(np.sum(variance <= 0)),
        )
    if np.any(structured):
        ratio = cov[structured, 1:] / c1[structured, None]
        # Fit lag tau only while every shorter lag is still above the floor:
        # once the correlation is gone, the remaining lags carry only noise.
        # The first lag below the floor stays in, clipped, as a bound.
        use = np.ones(ratio.shape, dtype=bool)
        use[:, 1:] = np.cumprod(ratio[:, :-1] > _FLOOR, axis=1).astype(bool)
        log_ratio = np.log(np.maximum(ratio, _FLOOR))
        t2 = lags.astype(np.float64) ** 2 - 1.0
        weights = use * t2
        slope = (weights * log_ratio).sum(axis=1) / (weights * t2).sum(axis=1)
        ell = np.full(slope.shape, np.inf)
        decays = slope < 0
        ell[decays] = np.sqrt(-0.5 / slope[decays])
        out[structured] = ell
    return out

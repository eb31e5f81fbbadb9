"""Box blur and noise: the in-vivo degradation shared by every dataset.

The synthetic renderer and :func:`degrade` (for real, sharp in-vitro images)
call the same two primitives, so a blur radius ``b`` or a noise level means
the same thing on synthetic and on real data.
"""

import numbers

import numpy as np
from scipy.ndimage import correlate1d, uniform_filter1d

from ..utils import check_int, check_option, check_real

MAX_BLUR = 10
#: Side of the paper's frames, in which the synthetic videos' blur radii are
#: measured (see ``blur_reference``).
BLUR_REFERENCE = 128
NOISE_LAWS = ("gaussian", "poisson")


def box_blur(x, radius):
    """Blur the last two axes with a ``(2 radius + 1)``-wide box filter.

    The filter is separable and computed as two running means with a
    double-precision accumulator, rounded once to float32 per axis, so the
    cost does not depend on the radius.  Borders are handled by edge
    replication.

    Parameters
    ----------
    x : ndarray of shape (..., height, width)
        Float or integer images; any leading axes (frames, channels) are
        blurred independently.
    radius : int
        Box radius ``b`` in pixels, in ``[0, 10]``; 0 returns a float copy.

    Returns
    -------
    blurred : ndarray of shape (..., height, width), dtype float32
        The blurred images.

    Examples
    --------
    >>> import numpy as np
    >>> from skcells.datasets import box_blur
    >>> img = np.zeros((5, 5)); img[2, 2] = 9.0
    >>> box_blur(img, 1)[1:4, 1:4]
    array([[1., 1., 1.],
           [1., 1., 1.],
           [1., 1., 1.]], dtype=float32)
    """
    radius = check_blur(radius, "radius")
    x = _as_finite_float32(x, "x")
    if x.ndim < 2 or 0 in x.shape[-2:]:
        raise ValueError(
            f"x must have at least 2 dimensions and a non-empty height and width, "
            f"got shape {x.shape}."
        )
    if radius == 0:
        return x.copy()
    return _box_blur(x, radius)


def _box_blur(x, radius):
    """:func:`box_blur` of a float32 array with ``radius > 0`` (a new array).

    A whole radius is a box of ``2 radius + 1`` pixels: scipy's running mean
    keeps its sum in double precision and rounds once to float32, as the
    cumulative sums in float64 used before it did (the same bytes on the
    synthetic videos, 2 to 4 times faster, in one pass per axis).  A
    fractional radius (:func:`scaled_blur_radius`) is a box ``2 radius + 1``
    pixels wide whose two end pixels are partly inside it: the odd number of
    whole pixels within the width get weight 1 and the two next ones share
    what is left of it, all divided by the width.
    """
    width = 2 * radius + 1
    whole = 2 * int((width - 1) // 2) + 1
    if whole == width:
        out = uniform_filter1d(x, whole, axis=-2, mode="nearest")
        return uniform_filter1d(out, whole, axis=-1, mode="nearest")
    kernel = np.ones(whole + 2)
    kernel[[0, -1]] = (width - whole) / 2
    kernel /= width
    out = correlate1d(x, kernel, axis=-2, mode="nearest")
    return correlate1d(out, kernel, axis=-1, mode="nearest")


def scaled_blur_radius(b, size, reference=BLUR_REFERENCE):
    """The box radius in pixels of a blur ``b`` measured in another frame size.

    A blur of radius ``b`` on a frame of ``reference`` pixels averages over
    ``2 b + 1`` pixels, ``(2 b + 1) / reference`` of the frame side.  On a
    frame of ``size`` pixels the same fraction is ``(2 b + 1) * size /
    reference`` pixels, a box of radius ``((2 b + 1) * size / reference -
    1) / 2``.  ``b = 0`` (no blur) stays 0, and a box narrower than one
    pixel is no blur.

    Parameters
    ----------
    b : int
        Blur radius in pixels of the ``reference`` frame, in ``[0, 10]``.
    size : int
        Side of the frame that is blurred (``>= 1``).
    reference : int, default=128
        Side of the frame in which ``b`` is measured (``>= 1``); the
        default is the paper's frame.

    Returns
    -------
    radius : float
        The radius in pixels of the ``size`` frame (``>= 0``, whole when
        ``size == reference``).

    Examples
    --------
    >>> from skcells.datasets import scaled_blur_radius
    >>> scaled_blur_radius(10, 128), scaled_blur_radius(10, 64)
    (10.0, 4.75)
    >>> scaled_blur_radius(1, 32)
    0.0
    """
    b = check_blur(b, "b")
    size = check_int(size, "size", low=1)
    reference = check_int(reference, "reference", low=1)
    if b == 0:
        return 0.0
    if size == reference:
        return float(b)
    return max(0.0, ((2 * b + 1) * size / reference - 1) / 2)


def add_noise(x, level, *, law="gaussian", random_state=None):
    """Add sensor noise to images on the 0-255 scale.

    Parameters
    ----------
    x : ndarray
        Images on the 0-255 scale (any shape).
    level : float
        Noise strength in ``[0, 1]``: the standard deviation as a fraction
        of 255 for ``"gaussian"``; for ``"poisson"``, shot noise whose
        standard deviation at mid-grey (128) is ``level * 255``.
    law : {"gaussian", "poisson"}, default="gaussian"
        The noise model.
    random_state : int, numpy.random.Generator, RandomState instance or None, \
default=None
        Seed or generator for the noise.

    Returns
    -------
    noisy : ndarray, dtype float32
        ``x`` plus noise, not clipped.
    """
    level = check_real(level, "level", low=0, high=1)
    check_option(law, "law", NOISE_LAWS)
    x = _as_finite_float32(x, "x")
    if level == 0:
        return x.copy()
    rng = _as_generator(random_state)
    if law == "gaussian":
        return x + _standard_normal(rng, x.shape) * np.float32(255.0 * level)
    # Photon counts: variance proportional to intensity, scaled so that the
    # standard deviation at intensity 128 is level * 255.
    photons_per_unit = 128.0 / (255.0 * level) ** 2
    counts = rng.poisson(np.clip(x, 0, None) * photons_per_unit)
    return (counts / photons_per_unit).astype(np.float32)


def degrade(images, *, blur, noise, law="gaussian", random_state=None):
    """Blur then add noise to sharp images, as the synthetic renderer does.

    Parameters
    ----------
    images : array-like of shape (n_samples, ..., height, width)
        uint8 images, e.g. ``(n_samples, 3, H, W)`` or clips
        ``(n_samples, n_frames, 3, H, W)``.
    blur : int or array-like of shape (n_samples,)
        Box-blur radius per image, integers in ``[0, 10]``.
    noise : float or array-like of shape (n_samples,)
        Noise level per image in ``[0, 1]``.
    law : {"gaussian", "poisson"}, default="gaussian"
        The noise model of :func:`add_noise`.
    random_state : int, numpy.random.Generator, RandomState instance or None, \
default=None
        Seed or generator of the noise of all the images.

    Returns
    -------
    degraded : ndarray of the shape of ``images``, dtype uint8
        The blurred, noisy images, rounded and clipped to ``[0, 255]``.

    Examples
    --------
    >>> import numpy as np
    >>> from skcells.datasets import degrade
    >>> imgs = np.full((2, 3, 8, 8), 100, dtype=np.uint8)
    >>> out = degrade(imgs, blur=[0, 3], noise=0.0, random_state=0)
    >>> out.dtype, out.shape, int(out.max())
    (dtype('uint8'), (2, 3, 8, 8), 100)
    """
    check_option(law, "law", NOISE_LAWS)
    images = np.asarray(images)
    if images.dtype.kind not in "biuf" or (
        images.dtype.kind == "f" and not np.all(np.isfinite(images))
    ):
        raise ValueError(
            "images must hold finite real numbers (uint8 images on the 0-255 "
            f"scale), got dtype {images.dtype}"
            + (" with NaN or infinite values." if images.dtype.kind == "f" else ".")
        )
    if images.ndim < 3:
        raise ValueError(
            "images must have shape (n_samples, ..., height, width), "
            f"got shape {images.shape}."
        )
    n = images.shape[0]
    try:
        noise = np.asarray(noise, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(
            f"noise must be a real number or an array of real numbers in [0, 1], "
            f"got {noise!r}."
        ) from None
    blur = np.asarray(blur)
    for name, value in (("blur", blur), ("noise", noise)):
        if value.ndim and value.shape != (n,):
            raise ValueError(
                f"{name} must be a scalar or have shape ({n},), got {value.shape}."
            )
    blur, noise = np.broadcast_to(blur, (n,)), np.broadcast_to(noise, (n,))
    for b in np.unique(blur):
        check_blur(b, "blur")
    for v in np.unique(noise):
        check_real(v, "noise", low=0, high=1)
    return _degrade(images, blur, noise, law, _as_generator(random_state))


def _degrade(images, blur, noise, law, rng, *, overwrite=False):
    """:func:`degrade` of validated inputs, with few passes over the pixels.

    ``blur`` and ``noise`` are arrays of shape ``(n_samples,)``; a blur
    radius may be fractional (:func:`scaled_blur_radius`).  The images
    are blurred (radius 0: kept), rounded and clipped to the 0-255 grid, then
    the noisy ones get their noise (one draw of shape ``(n_noisy, ...)`` from
    ``rng``) and are rounded and clipped again; everything happens in place
    in one float32 buffer.  With ``overwrite``, a float32 ``images`` may be
    that buffer.
    """
    n = images.shape[0]
    radii = np.unique(blur)
    if radii.size == 1:
        x = _blurred(images, float(radii[0]), overwrite)
    else:
        x = np.empty(images.shape, dtype=np.float32)
        for b in radii:
            idx = np.flatnonzero(blur == b)
            x[idx] = _blurred(images[idx], float(b), True)
    _round_clip(x)
    noisy = np.flatnonzero(noise > 0)
    if noisy.size:
        part = x if noisy.size == n else x[noisy]
        if law == "gaussian":
            eps = _standard_normal(rng, part.shape)
            shape = (-1,) + (1,) * (images.ndim - 1)
            eps *= (255.0 * noise[noisy].reshape(shape)).astype(np.float32)
            part += eps
        else:
            for k, i in enumerate(noisy):
                part[k] = add_noise(part[k], noise[i], law=law, random_state=rng)
        _round_clip(part)
        if part is not x:
            x[noisy] = part
    return x.astype(np.uint8)


def _blurred(images, radius, overwrite):
    """Box blur of ``images`` as a float32 array that may be written to."""
    if radius:
        return _box_blur(np.asarray(images, dtype=np.float32), radius)
    if overwrite and images.dtype == np.float32 and images.flags.writeable:
        return images
    return np.array(images, dtype=np.float32)


def _round_clip(x):
    """Round float32 pixels to the nearest integer in [0, 255], in place."""
    np.rint(x, out=x)
    np.clip(x, 0, 255, out=x)


def check_blur(b, name):
    """A box-blur radius: a whole number (``2`` or ``2.0``) in [0, MAX_BLUR]."""
    if check_real(b, name, low=0, high=MAX_BLUR) != int(b):
        raise ValueError(
            f"{name} must be a whole number in [0, {MAX_BLUR}], got {b!r}."
        )
    return int(b)


def _as_finite_float32(x, name):
    """``x`` as a float32 array, or raise naming ``name`` if not finite real."""
    try:
        arr = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be an array of real numbers, got "
            f"{getattr(x, 'dtype', type(x).__name__)}."
        ) from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must not contain NaN or infinite values.")
    return arr


def _as_generator(random_state):
    """Return a NumPy random generator for ``random_state``.

    A :class:`numpy.random.Generator` or a legacy
    :class:`numpy.random.RandomState` is used as is; an int or None seeds a
    new :class:`~numpy.random.Generator` (PCG64), whose float32 normal draws
    are several times faster than the legacy ones.
    """
    if isinstance(random_state, np.random.Generator | np.random.RandomState):
        return random_state
    if random_state is None or (
        isinstance(random_state, numbers.Integral)
        and not isinstance(random_state, bool)
    ):
        return np.random.default_rng(random_state)
    raise TypeError(
        "random_state must be None, an int, a numpy Generator or RandomState, "
        f"got {random_state!r}."
    )


def _standard_normal(rng, shape):
    """float32 standard normal draws from either kind of NumPy generator."""
    if isinstance(rng, np.random.Generator):
        return rng.standard_normal(shape, dtype=np.float32)
    return rng.standard_normal(shape).astype(np.float32)

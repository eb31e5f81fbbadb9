"""Random resized crops of images, clips and feature vectors, cut in batches.

:class:`RandomResizedCropViews` cuts ``n_views`` random resized crops out of
every input (paper Appendix B and C: crops of 10-20 % of the frame area).
The boxes are drawn vectorised and all crops of a chunk are cut by a single
call to :func:`torchvision.ops.roi_align` (``aligned=True``): one box per
view, pixel-accurate sub-pixel coordinates, adaptive sampling that averages
when a crop is shrunk.

Randomness is keyed on the content of each sample: the views of a sample are
a pure function of ``(random_state, sample values, view index)``.  They are
therefore independent of the other samples of the batch and of their order,
so ``predict(X[:k])`` equals ``predict(X)[:k]`` and chunking by
``batch_size`` never changes a result.
"""

import math
import numbers
from collections import namedtuple
from functools import lru_cache

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_array
from torchvision.ops import roi_align

__all__ = ["RandomResizedCropViews"]

# Number of uniforms drawn per view: area, log aspect ratio, x, y, first frame.
_N_DRAWS = 5
# At most this many 8-byte words of a sample enter its content key.
_HASH_WORDS = 4096
# Bytes of input hashed per chunk of samples.
_HASH_CHUNK_BYTES = 1 << 24
# Stream tags that separate the training views from the prediction views.
TRAIN_STREAM = 0x7261696E5F766965
PREDICT_STREAM = 0

_KINDS = {2: "flat", 4: "image", 5: "clip"}

_Layout = namedtuple("_Layout", "kind out_size clip_length view_shape")
_Layout.__doc__ = """Resolved geometry of the views of one input shape.

kind : {"flat", "image", "clip"}
out_size : int (flat) or (height, width)
clip_length : int or None (clips only)
view_shape : shape of one view
"""


# --------------------------------------------------------------------- checks
def check_crop_scale(crop_scale):
    """Return ``crop_scale`` as a float pair ``0 < low <= high <= 1``."""
    pair = _as_pair(crop_scale, "crop_scale", "(min, max) with 0 < min <= max <= 1")
    low, high = pair
    if not (0 < low <= high <= 1):
        raise ValueError(
            f"crop_scale must be a pair (min, max) of area fractions with "
            f"0 < min <= max <= 1, got {crop_scale!r}."
        )
    return pair


def check_crop_ratio(crop_ratio):
    """Return ``crop_ratio`` as a float pair ``0 < low <= high < inf``."""
    pair = _as_pair(crop_ratio, "crop_ratio", "(min, max) with 0 < min <= max")
    low, high = pair
    if not (0 < low <= high < np.inf):
        raise ValueError(
            f"crop_ratio must be a pair (min, max) of width/height aspect ratios "
            f"with 0 < min <= max < inf, got {crop_ratio!r}."
        )
    return pair


def _as_pair(value, name, accepted):
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a pair {accepted}, got {value!r}.")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair {accepted}, got {value!r}.") from None
    if arr.shape != (2,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be a pair {accepted}, got {value!r}.")
    return float(arr[0]), float(arr[1])


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_output_size(output_size, kind):
    """``output_size`` as an int (flat) or an (h, w) pair (images, clips)."""
    if output_size is None:
        return None
    if kind == "flat":
        if _is_int(output_size) and output_size >= 1:
            return int(output_size)
        raise ValueError(
            "output_size must be None or an int >= 1 (the window length) for 2-D "
            f"X, got {output_size!r}."
        )
    if _is_int(output_size) and output_size >= 1:
        return (int(output_size), int(output_size))
    if (
        isinstance(output_size, (tuple, list, np.ndarray))
        and len(output_size) == 2
        and all(_is_int(s) and s >= 1 for s in output_size)
    ):
        return (int(output_size[0]), int(output_size[1]))
    raise ValueError(
        "output_size must be None, an int >= 1 or a pair (height, width) of ints "
        f">= 1, got {output_size!r}."
    )


def check_views_input(X, *, input_name="X"):
    """Validate ``X`` for cropping: 2-D, 4-D or 5-D, numeric and finite.

    The dtype is kept (uint8 images stay uint8 until they are cut), object
    arrays become float64.
    """
    shape = getattr(X, "shape", None)
    ndim = len(shape) if shape is not None else np.asarray(X).ndim
    if ndim not in _KINDS:
        raise ValueError(
            f"{input_name} must be 2-D (n_samples, n_features), 4-D images "
            "(n_samples, n_channels, height, width) or 5-D clips (n_samples, "
            f"n_frames, n_channels, height, width); got a {ndim}-D input"
            + (f" of shape {tuple(shape)}." if shape is not None else ".")
        )
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    X = check_array(
        X, allow_nd=True, dtype="numeric", ensure_all_finite=True, input_name=input_name
    )
    if X.dtype.kind == "c":  # pragma: no cover - check_array rejects complex
        raise ValueError(f"Complex data not supported in {input_name}.")
    if ndim > 2 and min(X.shape[1:]) < 1:
        raise ValueError(f"{input_name} has an empty axis: shape {X.shape}.")
    return X


# ------------------------------------------------------------- randomness
def _splitmix64(z):
    """SplitMix64 finaliser on a uint64 array (wrap-around arithmetic)."""
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@lru_cache(maxsize=32)
def _hash_multipliers(n_words):
    rng = np.random.Generator(np.random.PCG64(0x5C3E11))
    mult = rng.integers(0, np.iinfo(np.uint64).max, size=n_words, dtype=np.uint64)
    mult |= np.uint64(1)
    mult.setflags(write=False)
    return mult


def _row_keys(X):
    """A 64-bit content key per sample (vectorised multilinear hash).

    Samples with more than ``_HASH_WORDS`` words are keyed on evenly spaced
    words; two samples that agree there share their views, which is harmless
    (the views are still cut from each sample's own values).
    """
    n = X.shape[0]
    row_bytes = int(X.itemsize * math.prod(X.shape[1:]))
    keys = np.empty(n, dtype=np.uint64)
    if n == 0:
        return keys
    n_words_row = -(-row_bytes // 8)
    if n_words_row <= _HASH_WORDS:
        byte_idx = None
        n_words = n_words_row
    else:
        words = np.linspace(0, n_words_row - 1, _HASH_WORDS).astype(np.intp)
        byte_idx = (words[:, None] * 8 + np.arange(8)).ravel()
        byte_idx = byte_idx[byte_idx < row_bytes]
        n_words = _HASH_WORDS
    mult = _hash_multipliers(n_words)
    step = max(1, _HASH_CHUNK_BYTES // max(row_bytes, 1))
    with np.errstate(over="ignore"):
        for start in range(0, n, step):
            chunk = np.ascontiguousarray(X[start : start + step])
            raw = chunk.reshape(chunk.shape[0], -1).view(np.uint8)
            if byte_idx is not None:
                raw = raw[:, byte_idx]
            pad = n_words * 8 - raw.shape[1]
            if pad:
                raw = np.concatenate(
                    [raw, np.zeros((raw.shape[0], pad), dtype=np.uint8)], axis=1
                )
            words_ = np.ascontiguousarray(raw).view(np.uint64)
            h = (words_ * mult).sum(axis=1, dtype=np.uint64)
            keys[start : start + step] = _splitmix64(h + np.uint64(row_bytes))
    return keys


def draw_salt(random_state):
    """A 64-bit salt for one call, from a seed, a RandomState or None."""
    rs = check_random_state(random_state)
    return int(rs.randint(0, np.iinfo(np.int64).max, dtype=np.int64))


def _uniforms(keys, salt, n_views):
    """Uniforms in [0, 1) of shape (n_samples, n_views, _N_DRAWS)."""
    n = keys.shape[0]
    with np.errstate(over="ignore"):
        base = _splitmix64(keys ^ np.uint64(salt % (1 << 64)))
        counter = np.arange(1, n_views * _N_DRAWS + 1, dtype=np.uint64)
        counter = counter * np.uint64(0x9E3779B97F4A7C15)
        z = _splitmix64(base[:, None] + counter[None, :])
    u = (z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
    return u.reshape(n, n_views, _N_DRAWS)


# ---------------------------------------------------------------- geometry
def _sample_boxes(u, height, width, crop_scale, crop_ratio):
    """Boxes ``(x1, y1, x2, y2)`` in continuous pixel coordinates.

    The area fraction is uniform in ``crop_scale`` and the aspect ratio
    (width / height) log-uniform in ``crop_ratio``; a box wider (taller) than
    the image is clipped to the image width (height) with its area kept.
    """
    low, high = crop_scale
    area = (low + u[..., 0] * (high - low)) * (height * width)
    log_low, log_high = math.log(crop_ratio[0]), math.log(crop_ratio[1])
    ratio = np.exp(log_low + u[..., 1] * (log_high - log_low))
    w = np.sqrt(area * ratio)
    h = np.sqrt(area / ratio)
    wide = w > width
    w = np.where(wide, width, w)
    h = np.where(wide, area / width, h)
    tall = h > height
    h = np.where(tall, height, h)
    w = np.where(tall, area / height, w)
    w = np.minimum(w, width)
    h = np.minimum(h, height)
    x1 = u[..., 2] * (width - w)
    y1 = u[..., 3] * (height - h)
    return np.stack([x1, y1, x1 + w, y1 + h], axis=-1)


def _sample_windows(u, n_features, crop_scale):
    """Feature windows ``(start, stop)``: length fraction uniform in crop_scale."""
    low, high = crop_scale
    length = (low + u[..., 0] * (high - low)) * n_features
    start = u[..., 2] * (n_features - length)
    return np.stack([start, start + length], axis=-1)


def _sample_starts(u, n_frames, clip_length):
    n_starts = n_frames - clip_length + 1
    return np.minimum((u[..., 4] * n_starts).astype(np.intp), n_starts - 1)


# ------------------------------------------------------------------ cutting
def _to_float_tensor(arr):
    """float32 tensor of ``arr``; uint8 pixels are scaled to [0, 1]."""
    arr = np.asarray(arr)
    if arr.dtype == np.uint8:
        # one pass (cast and scale together) instead of a cast then a division
        out = np.multiply(arr, np.float32(1.0 / 255.0), dtype=np.float32)
    else:
        out = arr.astype(np.float32, copy=False)
    if not out.flags.writeable or not out.flags.c_contiguous:
        out = np.array(out, dtype=np.float32, order="C")
    return torch.from_numpy(out)


def _rows(X, index):
    """``X[index]``, a cheap slice when ``index`` is a contiguous range."""
    if index.size and index[-1] - index[0] + 1 == index.size:
        if np.all(np.diff(index) == 1):
            return X[index[0] : index[-1] + 1]
    return X[index]


def _cut_images(X, sample_index, boxes, out_size):
    uniq, local = np.unique(sample_index, return_inverse=True)
    src = _to_float_tensor(_rows(X, uniq))
    rois = np.concatenate([local[:, None].astype(np.float64), boxes], axis=1)
    return roi_align(
        src,
        torch.from_numpy(rois.astype(np.float32)),
        output_size=out_size,
        spatial_scale=1.0,
        sampling_ratio=-1,
        aligned=True,
    )


def _cut_clips(X, sample_index, boxes, starts, clip_length, out_size):
    k = sample_index.shape[0]
    _, _, n_channels, height, width = X.shape
    frames = X[sample_index[:, None], starts[:, None] + np.arange(clip_length)]
    src = _to_float_tensor(frames).reshape(k, clip_length * n_channels, height, width)
    rois = np.concatenate([np.arange(k, dtype=np.float64)[:, None], boxes], axis=1)
    out = roi_align(
        src,
        torch.from_numpy(rois.astype(np.float32)),
        output_size=out_size,
        spatial_scale=1.0,
        sampling_ratio=-1,
        aligned=True,
    )
    return out.reshape(k, clip_length, n_channels, *out_size)


def _cut_flat(X, sample_index, windows, out_len):
    n_features = X.shape[1]
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    start = windows[:, 0]
    step = (windows[:, 1] - start) / out_len
    pos = start[:, None] + (np.arange(out_len) + 0.5) * step[:, None] - 0.5
    pos = np.clip(pos, 0, n_features - 1)
    i0 = np.floor(pos).astype(np.intp)
    i1 = np.minimum(i0 + 1, n_features - 1)
    frac = (pos - i0).astype(dtype)
    rows = sample_index[:, None]
    left = X[rows, i0].astype(dtype, copy=False)
    right = X[rows, i1].astype(dtype, copy=False)
    return left + frac * (right - left)


class RandomResizedCropViews(BaseEstimator):
    """Cut ``n_views`` random resized crops of every input, in batches.

    Works on images ``(n_samples, n_channels, height, width)``, clips
    ``(n_samples, n_frames, n_channels, height, width)`` and flat 2-D
    feature matrices ``(n_samples, n_features)``:

    - images: a box covering a fraction of the image area drawn uniformly in
      ``crop_scale``, with a width/height aspect ratio drawn log-uniformly in
      ``crop_ratio`` (as :class:`torchvision.transforms.v2.RandomResizedCrop`
      does), placed uniformly inside the image and resized to
      ``output_size``.  A box wider or taller than the image is clipped to
      it with its area kept, so the area fraction is exact.  All crops of a
      chunk are cut by one :func:`torchvision.ops.roi_align` call
      (``aligned=True``, adaptive sampling: bilinear when enlarging, averaged
      over the covered pixels when shrinking).
    - clips: one box per view, used on every frame, and a random window of
      ``clip_length`` consecutive frames.
    - flat 2-D: a contiguous window of the feature vector whose length is a
      fraction of ``n_features`` drawn in ``crop_scale`` (``crop_ratio`` is
      not used), resampled to ``output_size`` values by linear interpolation.

    The views of a sample depend only on ``random_state``, the sample's values
    and the view index (a content-keyed counter-based generator), never on
    the other samples of the batch or their order.

    Parameters
    ----------
    n_views : int, default=10
        Number of views ``m`` per input.
    crop_scale : tuple of float, default=(0.1, 0.2)
        Range ``(min, max)`` of the fraction of the image area (of the feature
        vector length for 2-D input) covered by a crop, ``0 < min <= max <=
        1``.  The paper uses 10-20 %.
    crop_ratio : tuple of float, default=(3/4, 4/3)
        Range ``(min, max)`` of the width/height aspect ratio of a crop,
        sampled log-uniformly.
    output_size : int, tuple of int or None, default=None
        Size of every view: ``(height, width)`` or an int for a square, for
        images and clips; the number of values for 2-D input.  It must not
        exceed the input size.  None: the size of a square crop at the mean
        scale, ``round(sqrt(mean(crop_scale)) * height)`` by
        ``round(sqrt(mean(crop_scale)) * width)`` (``round(mean(crop_scale)
        * n_features)`` for 2-D input), at least 1.
    clip_length : int or None, default=None
        Number of consecutive frames of a clip view (the paper takes 9 of 100).
        None takes every frame.  Ignored for images and 2-D input.
    random_state : int, RandomState instance or None, default=None
        Seed of the views.  An int gives the same views on every call; None
        gives fresh views on every call.

    See Also
    --------
    MultiViewClassifier : Classifier that predicts from these views.

    Notes
    -----
    Images and clips come out as float32; uint8 input is scaled to
    ``[0, 1]`` (divided by 255), other dtypes keep their values.  2-D views
    are float64 (float32 for float32 input).

    Examples
    --------
    >>> import numpy as np
    >>> from skcells.multiview import RandomResizedCropViews
    >>> X = np.random.default_rng(0).integers(0, 256, (2, 3, 32, 32), dtype=np.uint8)
    >>> views = RandomResizedCropViews(n_views=4, output_size=8, random_state=0)
    >>> V = views.transform(X)
    >>> V.shape, V.dtype
    ((2, 4, 3, 8, 8), dtype('float32'))
    >>> boxes = views.sample_windows(X).boxes
    >>> area = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
    >>> bool(np.all((area >= 0.1 * 32 * 32 - 1e-9) & (area <= 0.2 * 32 * 32 + 1e-9)))
    True
    """

    _parameter_constraints = {
        "n_views": [Interval(numbers.Integral, 1, None, closed="left")],
        "crop_scale": ["array-like"],
        "crop_ratio": ["array-like"],
        "output_size": [
            None,
            Interval(numbers.Integral, 1, None, closed="left"),
            "array-like",
        ],
        "clip_length": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_views=10,
        *,
        crop_scale=(0.1, 0.2),
        crop_ratio=(3 / 4, 4 / 3),
        output_size=None,
        clip_length=None,
        random_state=None,
    ):
        self.n_views = n_views
        self.crop_scale = crop_scale
        self.crop_ratio = crop_ratio
        self.output_size = output_size
        self.clip_length = clip_length
        self.random_state = random_state

    # ------------------------------------------------------------ helpers
    def _check_params(self):
        self._validate_params()
        return check_crop_scale(self.crop_scale), check_crop_ratio(self.crop_ratio)

    def _layout(self, shape, crop_scale):
        """Resolve output size, clip length and view shape for ``shape``."""
        kind = _KINDS[len(shape)]
        out = _check_output_size(self.output_size, kind)
        mean_scale = 0.5 * (crop_scale[0] + crop_scale[1])
        if kind == "flat":
            n_features = shape[1]
            if out is None:
                out = max(1, round(mean_scale * n_features))
            elif out > n_features:
                raise ValueError(
                    f"output_size={self.output_size!r} is larger than the input "
                    f"(n_features={n_features}); views are resampled to "
                    "output_size values, which must not exceed the input length."
                )
            return _Layout(kind, out, None, (out,))
        height, width = shape[-2:]
        side = math.sqrt(mean_scale)
        if out is None:
            out = (max(1, round(side * height)), max(1, round(side * width)))
        elif out[0] > height or out[1] > width:
            raise ValueError(
                f"output_size={self.output_size!r} is larger than the input "
                f"({height}x{width}); crops are resized to output_size, which "
                "must not exceed the input height and width."
            )
        if kind == "image":
            return _Layout(kind, out, None, (shape[1], *out))
        n_frames, n_channels = shape[1], shape[2]
        length = n_frames if self.clip_length is None else int(self.clip_length)
        if length > n_frames:
            raise ValueError(
                f"clip_length={self.clip_length!r} is longer than the clips "
                f"(n_frames={n_frames}); it must be <= n_frames."
            )
        return _Layout(kind, out, length, (length, n_channels, *out))

    def _geometry(self, layout, shape, u, crop_scale, crop_ratio):
        """Boxes (or windows) and first frames from uniforms ``u`` (..., 5)."""
        if layout.kind == "flat":
            return _sample_windows(u, shape[1], crop_scale), None
        height, width = shape[-2:]
        boxes = _sample_boxes(u, height, width, crop_scale, crop_ratio)
        starts = None
        if layout.kind == "clip":
            starts = _sample_starts(u, shape[1], layout.clip_length)
        return boxes, starts

    def _cut(self, X, layout, sample_index, boxes, starts):
        """Cut the views ``(k, *view_shape)``: a tensor, or numpy for flat X."""
        if layout.kind == "flat":
            return _cut_flat(X, sample_index, boxes, layout.out_size)
        if layout.kind == "image":
            return _cut_images(X, sample_index, boxes, layout.out_size)
        return _cut_clips(
            X, sample_index, boxes, starts, layout.clip_length, layout.out_size
        )

    def _iter_chunks(self, X, layout, *, salt, batch_size, crop_scale, crop_ratio):
        """Yield the ``n_samples * n_views`` views in sample-major order.

        Each chunk holds at most ``batch_size`` views (all of them when None)
        and is cut by one batched call.
        """
        n_views = int(self.n_views)
        u = _uniforms(_row_keys(X), salt, n_views).reshape(-1, _N_DRAWS)
        boxes, starts = self._geometry(layout, X.shape, u, crop_scale, crop_ratio)
        total = u.shape[0]
        step = total if batch_size is None else int(batch_size)
        sample_index = np.arange(total, dtype=np.intp) // n_views
        for lo in range(0, total, max(step, 1)):
            hi = min(lo + step, total)
            yield self._cut(
                X,
                layout,
                sample_index[lo:hi],
                boxes[lo:hi],
                None if starts is None else starts[lo:hi],
            )

    # ------------------------------------------------------------- public
    def sample_windows(self, X):
        """Draw the crop geometry of every view without cutting.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, \
n_channels, height, width) or (n_samples, n_frames, n_channels, height, width)
            Inputs.

        Returns
        -------
        windows : Bunch
            ``boxes``: array of shape (n_samples, n_views, 4) with the
            ``(x1, y1, x2, y2)`` corners in continuous pixel coordinates (the
            image spans ``[0, width] x [0, height]``), or of shape
            (n_samples, n_views, 2) with ``(start, stop)`` feature positions
            for 2-D input; ``starts``: array of shape (n_samples, n_views)
            with the first frame of each clip view (None otherwise);
            ``view_shape``: the shape of one view.

        Examples
        --------
        >>> import numpy as np
        >>> from skcells.multiview import RandomResizedCropViews
        >>> w = RandomResizedCropViews(n_views=3, random_state=0).sample_windows(
        ...     np.zeros((2, 5, 3, 16, 16)))
        >>> w.boxes.shape, w.starts.shape, w.view_shape
        ((2, 3, 4), (2, 3), (5, 3, 6, 6))
        """
        crop_scale, crop_ratio = self._check_params()
        X = check_views_input(X)
        layout = self._layout(X.shape, crop_scale)
        u = _uniforms(_row_keys(X), draw_salt(self.random_state), int(self.n_views))
        boxes, starts = self._geometry(layout, X.shape, u, crop_scale, crop_ratio)
        return Bunch(boxes=boxes, starts=starts, view_shape=layout.view_shape)

    def transform(self, X):
        """Cut the views of every input.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, \
n_channels, height, width) or (n_samples, n_frames, n_channels, height, width)
            Inputs; uint8 images and clips are scaled to ``[0, 1]``.

        Returns
        -------
        views : ndarray of shape (n_samples, n_views) + view_shape
            ``view_shape`` is ``(n_channels, out_height, out_width)`` for
            images, ``(clip_length, n_channels, out_height, out_width)`` for
            clips and ``(output_size,)`` for 2-D input.

        Examples
        --------
        >>> import numpy as np
        >>> from skcells.multiview import RandomResizedCropViews
        >>> X = np.arange(20.0).reshape(2, 10)
        >>> full = RandomResizedCropViews(n_views=2, crop_scale=(1, 1), output_size=5)
        >>> full.transform(X)[0]
        array([[0.5, 2.5, 4.5, 6.5, 8.5],
               [0.5, 2.5, 4.5, 6.5, 8.5]])
        """
        crop_scale, crop_ratio = self._check_params()
        X = check_views_input(X)
        layout = self._layout(X.shape, crop_scale)
        chunks = list(
            self._iter_chunks(
                X,
                layout,
                salt=draw_salt(self.random_state),
                batch_size=None,
                crop_scale=crop_scale,
                crop_ratio=crop_ratio,
            )
        )
        views = chunks[0]
        if isinstance(views, torch.Tensor):
            views = views.numpy()
        return views.reshape(X.shape[0], int(self.n_views), *layout.view_shape)


class RandomViewDataset(torch.utils.data.Dataset):
    """Torch dataset that returns a fresh random view of a sample on access.

    Used to train skorch nets on random resized crops: every epoch (and the
    internal validation split alike) sees new views.  ``__getitems__`` cuts a
    whole batch with one batched call.

    Parameters
    ----------
    X : ndarray
        Validated inputs (2-D, 4-D or 5-D).
    y : ndarray of shape (n_samples,)
        Targets returned alongside the views.
    views : RandomResizedCropViews
        Crop parameters.
    layout : _Layout
        Resolved view geometry for ``X``.
    seed : int
        Seed of the view stream (folded with the worker seed in DataLoader
        worker processes).
    """

    def __init__(self, X, y, views, layout, seed):
        self.X = X
        self.y = np.asarray(y)
        self.views = views
        self.layout = layout
        self.seed = int(seed)
        self._crop_scale = check_crop_scale(views.crop_scale)
        self._crop_ratio = check_crop_ratio(views.crop_ratio)
        self._generator = np.random.default_rng(self.seed)
        self._worker_seed = None

    def __len__(self):
        return self.X.shape[0]

    def _rng(self):
        info = torch.utils.data.get_worker_info()
        if info is not None and info.seed != self._worker_seed:
            self._worker_seed = info.seed
            self._generator = np.random.default_rng([self.seed, info.seed])
        return self._generator

    def __getitems__(self, indices):
        index = np.asarray(indices, dtype=np.intp)
        u = self._rng().random((index.shape[0], _N_DRAWS))
        boxes, starts = self.views._geometry(
            self.layout, self.X.shape, u, self._crop_scale, self._crop_ratio
        )
        Xv = self.views._cut(self.X, self.layout, index, boxes, starts)
        if not isinstance(Xv, torch.Tensor):
            Xv = torch.from_numpy(np.ascontiguousarray(Xv, dtype=np.float32))
        yv = torch.as_tensor(self.y[index])
        return list(zip(Xv.unbind(0), yv.unbind(0), strict=True))

    def __getitem__(self, i):
        return self.__getitems__([i])[0]

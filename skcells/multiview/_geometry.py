"""Crop geometry of one input shape, and the batched cutting of views.

A view is placed by ``_Geometry.n_draws`` uniforms (area, log aspect ratio,
x, y, first frame).  :meth:`_Geometry.windows` turns them into boxes (or
feature windows) and first frames; :meth:`_Geometry.cut` cuts the views of a
chunk with a single :func:`torchvision.ops.roi_align` call (``aligned=True``:
pixel-accurate sub-pixel boxes, adaptive sampling that averages when a crop
is shrunk).
"""

import math
import numbers
from dataclasses import dataclass

import numpy as np
import torch
from torchvision.ops import roi_align

from ..utils import check_int

_KINDS = {2: "flat", 4: "image", 5: "clip"}


def _resolve_output_size(output_size, kind):
    """``output_size`` as an int (flat) or an (h, w) pair (images, clips)."""
    if output_size is None:
        return None
    if isinstance(output_size, numbers.Integral):
        return int(output_size) if kind == "flat" else (int(output_size),) * 2
    if kind == "flat":
        raise ValueError(
            "output_size must be None or an int >= 1 (the window length) for 2-D "
            f"X, got {output_size!r}."
        )
    if np.shape(output_size) != (2,):
        raise ValueError(
            "output_size must be None, an int >= 1 or a pair (height, width) of "
            f"ints >= 1, got {output_size!r}."
        )
    return tuple(check_int(s, "output_size", low=1) for s in output_size)


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


def _cut_flat(X, sample_index, windows, out_len):
    """Resample each window of a feature vector to ``out_len`` values (linear)."""
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


@dataclass(frozen=True)
class _Geometry:
    """Resolved geometry of the views of one input shape.

    Build it with :meth:`resolve`, which checks ``output_size`` and
    ``clip_length`` against the input.  ``kind`` is "flat", "image" or
    "clip"; ``output_size`` an int (flat) or (height, width); ``clip_length``
    None except for clips; ``view_shape`` the shape of one view.
    """

    n_draws = 5  # uniforms per view: area, log aspect ratio, x, y, first frame

    kind: str
    shape: tuple
    crop_scale: tuple
    crop_ratio: tuple
    output_size: object
    clip_length: object
    view_shape: tuple

    @classmethod
    def resolve(cls, shape, *, crop_scale, crop_ratio, output_size, clip_length):
        """The geometry of the views of inputs of ``shape`` (2-D, 4-D or 5-D)."""
        kind = _KINDS[len(shape)]
        out = _resolve_output_size(output_size, kind)
        mean_scale = 0.5 * (crop_scale[0] + crop_scale[1])
        length = None
        if kind == "flat":
            n_features = shape[1]
            if out is None:
                out = max(1, round(mean_scale * n_features))
            elif out > n_features:
                raise ValueError(
                    f"output_size={output_size!r} is larger than the input "
                    f"(n_features={n_features}); views are resampled to "
                    "output_size values, which must not exceed the input length."
                )
            view_shape = (out,)
        else:
            height, width = shape[-2:]
            side = math.sqrt(mean_scale)
            if out is None:
                out = (max(1, round(side * height)), max(1, round(side * width)))
            elif out[0] > height or out[1] > width:
                raise ValueError(
                    f"output_size={output_size!r} is larger than the input "
                    f"({height}x{width}); crops are resized to output_size, which "
                    "must not exceed the input height and width."
                )
            view_shape = (*shape[-3:-2], *out)  # (n_channels, *out)
        if kind == "clip":
            n_frames = shape[1]
            length = n_frames if clip_length is None else int(clip_length)
            if length > n_frames:
                raise ValueError(
                    f"clip_length={clip_length!r} is longer than the clips "
                    f"(n_frames={n_frames}); it must be <= n_frames."
                )
            view_shape = (length, *view_shape)
        return cls(kind, tuple(shape), crop_scale, crop_ratio, out, length, view_shape)

    def windows(self, u):
        """Boxes (or feature windows) and first frames from uniforms ``u``.

        ``u`` has shape ``(..., n_draws)``.  Images and clips: boxes ``(x1, y1,
        x2, y2)`` in continuous pixel coordinates whose area fraction is
        uniform in ``crop_scale`` and aspect ratio (width / height)
        log-uniform in ``crop_ratio``; a box wider (taller) than the image is
        clipped to the image width (height) with its area kept.  Flat inputs:
        windows ``(start, stop)`` whose length fraction is uniform in
        ``crop_scale``.  First frames (clips only, else None) are uniform.
        """
        low, high = self.crop_scale
        if self.kind == "flat":
            length = (low + u[..., 0] * (high - low)) * self.shape[1]
            start = u[..., 2] * (self.shape[1] - length)
            return np.stack([start, start + length], axis=-1), None
        height, width = self.shape[-2:]
        area = (low + u[..., 0] * (high - low)) * (height * width)
        log_low, log_high = math.log(self.crop_ratio[0]), math.log(self.crop_ratio[1])
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
        boxes = np.stack([x1, y1, x1 + w, y1 + h], axis=-1)
        if self.kind == "image":
            return boxes, None
        n_starts = self.shape[1] - self.clip_length + 1
        starts = np.minimum((u[..., 4] * n_starts).astype(np.intp), n_starts - 1)
        return boxes, starts

    def cut(self, X, sample_index, boxes, starts):
        """Cut the views ``(k, *view_shape)`` of the samples ``sample_index``."""
        if self.kind == "flat":
            return _cut_flat(X, sample_index, boxes, self.output_size)
        k = sample_index.shape[0]
        if self.kind == "image":
            uniq, batch_index = np.unique(sample_index, return_inverse=True)
            src = _to_float_tensor(_rows(X, uniq))
        else:  # the frames of every view, channels of all frames stacked
            _, _, n_channels, height, width = X.shape
            frames = X[
                sample_index[:, None], starts[:, None] + np.arange(self.clip_length)
            ]
            src = _to_float_tensor(frames).reshape(
                k, self.clip_length * n_channels, height, width
            )
            batch_index = np.arange(k)
        rois = np.concatenate([batch_index[:, None].astype(np.float64), boxes], axis=1)
        out = roi_align(
            src,
            torch.from_numpy(rois.astype(np.float32)),
            output_size=self.output_size,
            spatial_scale=1.0,
            sampling_ratio=-1,
            aligned=True,
        )
        return out.numpy().reshape(k, *self.view_shape)

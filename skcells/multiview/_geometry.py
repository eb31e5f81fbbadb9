"""Crop geometry of one input shape, and the batched cutting of views.

A view is placed by ``_Geometry.n_draws`` uniforms (area, log aspect ratio,
x, y, first frame).  :meth:`_Geometry.windows` turns them into boxes (or
feature windows) and first frames; :meth:`_Geometry.cut` cuts the views of a
chunk with :func:`torchvision.ops.roi_align` (``aligned=True``:
pixel-accurate sub-pixel boxes, adaptive sampling that averages when a crop
is shrunk).

Cut, then convert: only the pixels a view's bilinear sampling reads (its box
and a margin, on the frames of its clip window) are gathered from the input
in its own dtype (uint8 frames stay uint8), a block of views at a time, and
only those patches are converted to float32 before ``roi_align``.  Memory
therefore scales with the views, never with whole float frames.
"""

import math
import numbers
from dataclasses import dataclass

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
from torchvision.ops import roi_align

from ..utils import check_int

_KINDS = {2: "flat", 4: "image", 5: "clip"}

# Float32 bytes of source patches converted at once when cutting views: the
# working memory of a cut beyond its output.
_CUT_BLOCK_BYTES = 1 << 25


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


def _patch_rows(low, high, size, extent):
    """First pixel of the ``extent`` pixels that sampling ``[low, high]`` reads.

    ``roi_align(aligned=True)`` samples at positions strictly inside ``(low -
    0.5, high - 0.5)`` and interpolates between ``floor(p)`` and ``floor(p) +
    1``: the patch starts a pixel before ``floor(low - 0.5)`` (a margin for
    float32 rounding of the box), and is moved inwards where it would leave
    the image.  It depends on the box alone, and no sampling position reaches
    the last row of a patch unless that row is the image's, so ``roi_align``
    clamps at the image edge exactly as on the whole frame.
    """
    first = np.clip(np.floor(low - 0.5).astype(np.intp) - 1, 0, size)
    return np.minimum(first, size - extent)


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

    @property
    def patch_size(self):
        """Rows and columns of the patch gathered for every image or clip view.

        The largest box of the crop parameters is ``sqrt(max_area *
        max_ratio)`` wide (at most the image width) and ``sqrt(max_area /
        min_ratio)`` tall; the patch adds the pixels bilinear sampling reads
        beyond it and a margin (see :func:`_patch_rows`).
        """
        height, width = self.shape[-2:]
        area = self.crop_scale[1] * height * width
        box_w = min(width, math.sqrt(area * self.crop_ratio[1]))
        box_h = min(height, math.sqrt(area / self.crop_ratio[0]))
        return (
            min(height, math.ceil(box_h) + 5),
            min(width, math.ceil(box_w) + 5),
        )

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
        """Cut the views ``(k, *view_shape)`` of the samples ``sample_index``.

        Images and clips: the patch of every view (its box plus a margin, on
        the frames of its window) is gathered in the input's dtype, converted
        to float32 (uint8 scaled to [0, 1]) and resized by ``roi_align``, in
        blocks of at most ``_CUT_BLOCK_BYTES`` of float patches.  Every patch
        has the size :attr:`patch_size` (that of the largest box the crop
        parameters allow), so a block takes one ``roi_align`` call, and its
        place depends only on its own box (:func:`_patch_rows`): a view never
        depends on the other views of its chunk, and the views equal those
        cut from whole float frames up to float32 rounding of the shifted box
        coordinates.
        """
        if self.kind == "flat":
            return _cut_flat(X, sample_index, boxes, self.output_size)
        k = sample_index.shape[0]
        clips = X if self.kind == "clip" else X[:, None]
        length = self.clip_length or 1
        n_channels, height, width = clips.shape[2:]
        out_h, out_w = self.output_size
        out = np.empty((k, length, n_channels, out_h, out_w), dtype=np.float32)
        if k == 0:
            return out.reshape(k, *self.view_shape)
        boxes = np.asarray(boxes, dtype=np.float64)
        patch_h, patch_w = self.patch_size
        top = _patch_rows(boxes[:, 1], boxes[:, 3], height, patch_h)
        left = _patch_rows(boxes[:, 0], boxes[:, 2], width, patch_w)
        first_frames = np.zeros(k, np.intp) if starts is None else np.asarray(starts)
        frames = first_frames[:, None] + np.arange(length)
        windows = sliding_window_view(clips, (patch_h, patch_w), axis=(3, 4))
        step = max(1, _CUT_BLOCK_BYTES // (4 * length * n_channels * patch_h * patch_w))
        for lo in range(0, k, step):
            block = slice(lo, lo + step)
            patches = windows[
                sample_index[block, None],
                frames[block],
                :,
                top[block, None],
                left[block, None],
            ]  # (kb, length, n_channels, patch_h, patch_w) in the input's dtype
            kb = patches.shape[0]
            src = _to_float_tensor(
                patches.reshape(kb, length * n_channels, patch_h, patch_w)
            )
            # shifted in float32, where subtracting an integer is exact
            rois = np.empty((kb, 5), dtype=np.float32)
            rois[:, 0] = np.arange(kb)
            offsets = np.stack([left[block], top[block]] * 2, axis=1)
            np.subtract(
                boxes[block].astype(np.float32),
                offsets.astype(np.float32),
                out=rois[:, 1:],
            )
            views = roi_align(
                src,
                torch.from_numpy(rois),
                output_size=(out_h, out_w),
                spatial_scale=1.0,
                sampling_ratio=-1,
                aligned=True,
            )
            out[block] = views.numpy().reshape(kb, length, n_channels, out_h, out_w)
            del patches, src, views  # before the next block's are made
        return out.reshape(k, *self.view_shape)

    def to_input(self, boxes, view_boxes):
        """Map boxes in view coordinates to the input, for views cut at ``boxes``.

        A view of size ``output_size`` stretches its box linearly, so a box
        ``view_boxes`` inside the view (``[0, out_w] x [0, out_h]``, or
        ``[0, output_size]`` for 2-D input) covers this part of the input.
        """
        if self.kind == "flat":
            scale = (boxes[:, 1] - boxes[:, 0]) / self.output_size
            return boxes[:, :1] + view_boxes * scale[:, None]
        out_h, out_w = self.output_size
        sx = (boxes[:, 2] - boxes[:, 0]) / out_w
        sy = (boxes[:, 3] - boxes[:, 1]) / out_h
        scale = np.stack([sx, sy, sx, sy], axis=1)
        return np.tile(boxes[:, :2], 2) + view_boxes * scale

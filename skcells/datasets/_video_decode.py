"""Decoding a source into ``n_frames`` RGB uint8 frames of one size.

Videos go through PyAV (FFmpeg), image stacks and frames through Pillow;
every frame becomes RGB (grey repeated, alpha dropped, 16-bit mapped by
``round(value / 257)``, 32-bit refused) and is resized with Pillow's
antialiased bilinear filter.  A truncated video (fewer frames than its
container declares, or than could be decoded) is an error, never a shorter
clip.
"""

import dataclasses
import os

import numpy as np

from ..utils import params_hash
from ._video_files import BadFile, file_signature, open_regular

__all__ = []

# Bump when the decoding changes the bytes of an item; part of every key.
_LOADER_VERSION = 1
# The largest decoded frame area (about 8192 x 8192 pixels).
MAX_FRAME_PIXELS = 2**26


@dataclasses.dataclass(frozen=True)
class Layout:
    """The loading parameters that decide the bytes of an item."""

    n_frames: int
    height: int
    width: int
    frame_selection: str

    @property
    def shape(self):
        return (self.n_frames, 3, self.height, self.width)

    @property
    def item_bytes(self):
        return int(np.prod(self.shape))

    def params(self):
        return {
            "version": _LOADER_VERSION,
            "n_frames": self.n_frames,
            "size": [self.height, self.width],
            "frame_selection": self.frame_selection,
        }

    def key(self):
        return params_hash(self.params())


def _frame_indices(total, layout):
    """The source frames kept (see ``frame_selection``)."""
    n = layout.n_frames
    if total < n:
        hint = ""
        if total == 1:
            hint = (
                " (a folder of single images is one video only as a subfolder, "
                "or as one item of a list of paths)"
            )
        raise BadFile(f"has {total} frame(s), fewer than n_frames={n}{hint}")
    if layout.frame_selection == "first" or n == 1:
        return np.arange(n, dtype=np.int64)
    k = np.arange(n, dtype=np.int64)
    # round(k (N - 1) / (n - 1)), halves up, in exact integer arithmetic
    return (2 * k * (total - 1) + (n - 1)) // (2 * (n - 1))


def _check_pixels(height, width):
    if height * width > MAX_FRAME_PIXELS:
        raise BadFile(
            f"has frames of {height} x {width} pixels, more than the "
            f"{MAX_FRAME_PIXELS} that are decoded"
        )


def _to_chw(image, layout, is_png=False):
    """A Pillow image as a (3, height, width) uint8 array at the output size."""
    from PIL import Image

    mode = image.mode
    if mode.startswith("I;16") or (mode == "I" and is_png):
        values = np.asarray(image).astype(np.uint32)
        # 16 bits to 8: round(value / 257), so 0 -> 0 and 65535 -> 255
        image = Image.fromarray(((values + 128) // 257).astype(np.uint8), mode="L")
    elif mode in ("I", "F"):
        raise BadFile(
            f"has 32-bit {'float' if mode == 'F' else 'integer'} pixels, whose "
            "range is unknown; convert the file to 8 or 16 bits"
        )
    if image.mode != "RGB":
        image = image.convert("RGB")
    if image.size != (layout.width, layout.height):
        image = image.resize((layout.width, layout.height), Image.Resampling.BILINEAR)
    return np.asarray(image).transpose(2, 0, 1)


def read_source(source, layout, digest, max_file_size):
    """Decode one source into (video, info); ``digest`` = (sha256, signature)."""
    video = np.empty(layout.shape, dtype=np.uint8)
    if source.kind == "video":
        info = _read_video(source.path, layout, video, digest[1], max_file_size)
    elif source.kind == "stack":
        info = _read_stack(source.path, layout, video, digest[1], max_file_size)
    else:
        info = _read_frames(source, layout, video, digest[1], max_file_size)
    return video, info


def _opened_unchanged(path, signature, max_file_size):
    f = open_regular(path, max_file_size)
    if file_signature(f) != list(signature):
        f.close()
        raise BadFile("changed while it was being loaded; load it again")
    return f


def _read_video(path, layout, out, signature, max_file_size):
    import av

    with _opened_unchanged(path, signature, max_file_size) as f:
        with av.open(f, mode="r") as container:
            if not container.streams.video:
                raise BadFile("has no video stream")
            stream = container.streams.video[0]
            ctx = stream.codec_context
            _check_pixels(ctx.height or 0, ctx.width or 0)
            declared = stream.frames
            rate = stream.average_rate
            # count the frames without decoding them (one packet per frame)
            total = sum(1 for packet in container.demux(stream) if packet.size)
        if declared and total < declared:
            raise BadFile(
                f"is truncated or damaged: it declares {declared} frames but "
                f"holds {total}"
            )
        indices = _frame_indices(total, layout)
        slot = {int(i): j for j, i in enumerate(indices)}
        last, k, original = int(indices[-1]), -1, None
        f.seek(0)
        with av.open(f, mode="r") as container:
            stream = container.streams.video[0]
            for k, frame in enumerate(container.decode(stream)):
                if original is None:
                    original = (frame.height, frame.width)
                    _check_pixels(*original)
                if k in slot:
                    out[slot[k]] = _to_chw(frame.to_image(), layout)
                if k >= last:
                    break
        if k < last:
            raise BadFile(
                f"is truncated or damaged: only {k + 1} of its {total} frames "
                "could be decoded"
            )
    return item_info(float(rate) if rate else np.nan, original, total, indices)


def _read_stack(path, layout, out, signature, max_file_size):
    from PIL import Image, UnidentifiedImageError

    with _opened_unchanged(path, signature, max_file_size) as f:
        try:
            image = Image.open(f)
        except UnidentifiedImageError:
            raise BadFile("is not an image Pillow can read") from None
        with image:
            is_png = image.format == "PNG"
            original = (image.height, image.width)
            _check_pixels(*original)
            total = getattr(image, "n_frames", 1)
            indices = _frame_indices(total, layout)
            for j, i in enumerate(indices):
                image.seek(int(i))
                if (image.height, image.width) != original:
                    raise BadFile(
                        f"has pages of different sizes ({original[0]} x "
                        f"{original[1]}, then {image.height} x {image.width} on "
                        f"page {i})"
                    )
                out[j] = _to_chw(image, layout, is_png)
    return item_info(np.nan, original, total, indices)


def _read_frames(source, layout, out, signatures, max_file_size):
    from PIL import Image, UnidentifiedImageError

    total = len(source.frames)
    indices = _frame_indices(total, layout)
    original = None
    for j, i in enumerate(indices):
        frame = source.frames[int(i)]
        name = os.path.basename(frame)
        try:
            with _opened_unchanged(frame, signatures[int(i)], max_file_size) as f:
                try:
                    image = Image.open(f)
                except UnidentifiedImageError:
                    raise BadFile("is not an image Pillow can read") from None
                with image:
                    size = (image.height, image.width)
                    _check_pixels(*size)
                    if getattr(image, "n_frames", 1) != 1:
                        raise BadFile("has several pages; a frame is one image")
                    if original is None:
                        original = size
                    elif size != original:
                        raise BadFile(
                            f"is {size[0]} x {size[1]} pixels, the first frame "
                            f"{original[0]} x {original[1]}"
                        )
                    out[j] = _to_chw(image, layout, image.format == "PNG")
        except BadFile as exc:
            raise BadFile(f"frame {name!r} {exc}") from None
    return item_info(np.nan, original, total, indices)


def item_info(frame_rate, original_size, frame_count, frame_indices):
    return {
        "frame_rate": float(frame_rate),
        "original_size": [int(s) for s in original_size],
        "frame_count": int(frame_count),
        "frame_indices": [int(i) for i in frame_indices],
    }

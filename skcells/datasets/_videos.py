"""Your own videos: video files and image stacks as one cached uint8 array.

:func:`load_videos` reads video files (through PyAV), multi-page TIFFs and
other image stacks (through Pillow) and folders of frames, picks and resizes
``n_frames`` frames of each, and streams them into a memory-mapped
``(n_videos, n_frames, 3, height, width)`` uint8 array under the data home,
as :func:`~skcells.datasets.fetch_synthetic_blood_videos` does for the
synthetic set.

The work is cached at two levels.  Each decoded video is an *item* keyed by
the sha256 of its source and the loading parameters, written atomically as
soon as it is decoded, so one bad file never loses the others' work and a
retry decodes only what is missing.  The *set* (the array of every video, in
order, with its metadata) is keyed by the names and digests of its videos and
the parameters, written under a temporary name and renamed when complete,
under a file lock, and checked against its manifest before reuse.

Only regular files are read: symbolic links are not followed, devices, FIFOs
and sockets are refused before they are opened for reading, and sizes are
checked before anything is decoded.
"""

import dataclasses
import errno
import hashlib
import json
import logging
import os
import re
import shutil
import stat
import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ..utils import (
    atomic_directory,
    atomic_file,
    cache_lock,
    check_bool,
    check_int,
    check_n_jobs,
    check_option,
    params_hash,
    verify_manifest,
    write_manifest,
)
from ._base import get_data_home
from ._params import parameter_errors

logger = logging.getLogger(__name__)

__all__ = ["load_videos"]

#: File name suffixes read as videos (through PyAV, i.e. FFmpeg).
VIDEO_SUFFIXES = (
    ".mp4",
    ".m4v",
    ".mov",
    ".avi",
    ".mkv",
    ".webm",
    ".mpg",
    ".mpeg",
    ".wmv",
    ".ogv",
)
#: File name suffixes read as image stacks (through Pillow): every page or
#: animation frame is a frame; a single image is a one-frame stack.
STACK_SUFFIXES = (".tif", ".tiff", ".png", ".gif", ".jpg", ".jpeg", ".bmp")
#: Suffixes of the frames inside a folder of frames (one image each).
FRAME_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")
# Files a data folder commonly holds beside its videos; not worth a warning.
_SIDECAR_SUFFIXES = (".csv", ".tsv", ".txt", ".md", ".json", ".yaml", ".yml", ".xml")

FRAME_SELECTIONS = ("even", "first")
ON_ERROR = ("raise", "skip")

# Bump when the decoding changes the bytes of an item; part of every key.
_LOADER_VERSION = 1
_CACHE_DIR = "videos"
_DATA_FILE = "data.npy"
_META_FILE = "metadata.json"
_MANIFEST = "manifest.json"
_ITEM_KEYS = {
    "video",
    "frame_rate",
    "original_size",
    "frame_count",
    "frame_indices",
    "check",
}
# Bounds: decoded frame area (about 8192 x 8192), frames and side of the
# output, and the size of the small files read whole (labels, metadata).
MAX_FRAME_PIXELS = 2**26
_MAX_FRAMES = 100_000
_MAX_SIDE = 8192
_MAX_TEXT_BYTES = 256 * 2**20
_DEFAULT_MAX_FILE_SIZE = 16 * 2**30


class _BadFile(Exception):
    """A source that cannot be read; the message says why (without the path)."""


@dataclasses.dataclass(frozen=True)
class _Source:
    """One video: a video file, an image stack or a folder of frames."""

    name: str
    path: str
    kind: str  # "video", "stack" or "frames"
    frames: tuple = ()  # the frame files of a folder of frames


@dataclasses.dataclass(frozen=True)
class _Layout:
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


def load_videos(
    paths,
    *,
    n_frames=16,
    size=128,
    frame_selection="even",
    labels=None,
    target=None,
    data_home=None,
    on_error="raise",
    n_jobs=None,
    max_file_size=_DEFAULT_MAX_FILE_SIZE,
    check_hash=True,
    verbose=None,
    return_X_y=False,
):
    """Load your own videos and image stacks as a cached uint8 array.

    Reads common video files (``.mp4``, ``.avi``, ``.mov``, ``.mkv``, ...,
    decoded by PyAV/FFmpeg), image stacks (multi-page ``.tif``, animated
    ``.gif``/``.png``; a single image is a one-frame stack) and folders of
    frames (one image per frame, ``.png``, ``.tif``, ``.jpg``, ``.bmp``, in
    natural order of their names: ``f2.png`` before ``f10.png``), and
    returns them as one ``(n_videos, n_frames, 3, height, width)`` uint8
    array, the layout of
    :func:`~skcells.datasets.fetch_synthetic_blood_videos`, so that the same
    networks, views and curriculum apply.

    **Frames.**  ``frame_selection="even"`` takes ``n_frames`` frames evenly
    spaced over the whole video, frame ``round(k * (N - 1) / (n_frames -
    1))`` for ``k = 0, ..., n_frames - 1`` of a video of ``N`` frames (the
    first and the last included); ``"first"`` takes the first ``n_frames``
    consecutive frames (the original frame rate, for models of motion).  A
    video with fewer than ``n_frames`` frames is an error (frames are never
    repeated).  Each frame is converted to RGB (grey images are repeated on
    the three channels, an alpha channel is dropped, 16-bit images are
    mapped to 8 bits by ``round(value / 257)``, so 65535 becomes 255 for
    every video alike) and resized to ``size`` with Pillow's antialiased
    bilinear filter.  The aspect ratio follows ``size``: a frame of another
    aspect is stretched, never cropped, so every cell of the field stays in
    the frame (``original_size`` records the source sizes).

    **Cache.**  Everything is written under ``get_data_home(data_home) /
    "videos"``: each decoded video as soon as it is decoded (keyed by the
    sha256 of its source and the parameters), then the array of all of them
    (keyed by their names, digests and the parameters), memory-mapped when
    loaded, so a large folder never sits in memory and is decoded once.
    Loading the same files again only hashes them; adding a video to a
    folder decodes only the new one.

    **Errors.**  A file that cannot be read (not a video, truncated,
    damaged, too short, too large, a symbolic link, not a regular file)
    gives an error that names it.  With ``on_error="raise"`` every other
    file is still decoded and cached first, then one :class:`ValueError`
    names every bad file with its reason, so a retry after fixing or
    removing them decodes nothing again.  With ``on_error="skip"`` the bad
    files are left out, listed in a warning and in the ``skipped`` entry of
    the result.

    Parameters
    ----------
    paths : str, path-like or sequence of them
        A folder, a video or stack file, or a sequence of files and folders
        of frames.  In a folder, every video file and stack file is a video
        and every subfolder holding images is a video of frames (the folder
        is not searched further down); hidden entries are ignored, and
        others are ignored with a warning.  A video's name, matched against
        ``labels``, is its file or subfolder name (for a sequence: the last
        part of each path, which must be unique).  Only regular files are
        read: symbolic links inside the folder, or given in the sequence, are
        not followed (the folder named by ``paths`` may itself be a link),
        and devices, FIFOs and sockets are refused.
    n_frames : int, default=16
        Frames per video, in ``[1, 100000]``.
    size : int or tuple of 2 int, default=128
        Side of the square output frames, or their ``(height, width)``, in
        ``[1, 8192]``.
    frame_selection : {"even", "first"}, default="even"
        Frames evenly spaced over the video, or the first ones (see above).
    labels : str, path-like, pandas.DataFrame or None, default=None
        A CSV file (or a DataFrame) with a ``filename`` column naming each
        video and one column per label (a class, a count, ...).  Every video
        that is loaded needs a row; rows of other files are ignored with a
        warning.  None loads the videos without labels.
    target : str or list of str, default=None
        The column(s) of ``labels`` returned as ``target``.  None: the only
        column besides ``filename`` (an error when there are several).
    data_home : str or path-like, default=None
        Folder of the caches; see :func:`skcells.datasets.get_data_home`.
    on_error : {"raise", "skip"}, default="raise"
        What to do with files that cannot be read (see above).
    n_jobs : int, default=None
        Worker processes decoding videos (joblib); None means 1, -1 all
        cores.  The result does not depend on it.
    max_file_size : int, default=17179869184
        Largest source file read, in bytes (16 GiB); larger files are
        errors, found before reading them.  Decoded frames are limited to
        ``2**26`` pixels (about 8192 x 8192).
    check_hash : bool, default=True
        Verify the sha256 of a cached array before reusing it (about 1 s per
        GB); with False only its size is checked.  A cache that fails the
        check is rebuilt, never returned.
    verbose : bool, default=None
        Show a progress bar while decoding; None shows it when standard error
        is a terminal.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : numpy.memmap of shape (n_videos, n_frames, 3, height, width)
            The videos, uint8, read-only, memory-mapped from the cache, in
            the order of ``paths`` (a folder: natural order of the names).
        target : ndarray of shape (n_videos,) or (n_videos, n_targets) or None
            The ``target`` column(s) of ``labels``, with their dtype.
        labels : pandas.DataFrame or None
            Every column of ``labels``, one row per video, in order.
        filenames : ndarray of shape (n_videos,)
            The path of each video.
        names : ndarray of shape (n_videos,)
            The name of each video, as matched against ``labels``.
        frame_rate : ndarray of shape (n_videos,)
            Frames per second of each video file (NaN for image stacks and
            folders of frames).
        original_size : ndarray of shape (n_videos, 2)
            ``(height, width)`` of the source frames.
        frame_count : ndarray of shape (n_videos,)
            Number of frames of each source.
        frame_indices : ndarray of shape (n_videos, n_frames)
            The source frames that were kept.
        sha256 : ndarray of shape (n_videos,)
            The digest of each source file (of a folder of frames: of the
            names and digests of its frames).
        skipped : dict
            ``{path: reason}`` of the files left out with
            ``on_error="skip"`` (empty otherwise).
        cache_path : str
            The folder of the cached array.
        params : dict
            The loading parameters.

    (data, target) : tuple if ``return_X_y`` is True
        The memmap of videos and the target (None without labels).

    See Also
    --------
    fetch_synthetic_blood_videos : The synthetic videos, in the same layout.
    estimate_difficulty : The difficulty of Eq. 2 for such videos.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from PIL import Image
    >>> from skcells.datasets import load_videos
    >>> folder = Path(tempfile.mkdtemp())
    >>> rng = np.random.default_rng(0)
    >>> for name in ("a", "b"):
    ...     pages = [Image.fromarray(rng.integers(0, 256, (48, 64), np.uint8))
    ...              for _ in range(10)]
    ...     pages[0].save(folder / f"{name}.tif", save_all=True,
    ...                   append_images=pages[1:])
    >>> csv = "filename,count\\na.tif,12\\nb.tif,30\\n"
    >>> _ = (folder / "labels.csv").write_text(csv)
    >>> videos = load_videos(folder, n_frames=4, size=32,
    ...                      labels=folder / "labels.csv",
    ...                      data_home=tempfile.mkdtemp())
    >>> videos.data.shape, videos.data.dtype
    ((2, 4, 3, 32, 32), dtype('uint8'))
    >>> videos.target, videos.frame_indices[0]
    (array([12, 30]), array([0, 3, 6, 9]))
    >>> videos.original_size[0], videos.names
    (array([48, 64]), array(['a.tif', 'b.tif'], dtype='<U5'))
    """
    with parameter_errors():
        layout = _Layout(
            check_int(n_frames, "n_frames", low=1, high=_MAX_FRAMES),
            *_check_size(size),
            check_option(frame_selection, "frame_selection", FRAME_SELECTIONS),
        )
        check_option(on_error, "on_error", ON_ERROR)
        max_file_size = check_int(max_file_size, "max_file_size", low=1)
        for name, flag in (("check_hash", check_hash), ("return_X_y", return_X_y)):
            check_bool(flag, name)
        if verbose is not None:
            check_bool(verbose, "verbose")
        n_jobs = check_n_jobs(n_jobs)
        target = _check_target(target, labels)
    label_table, target_columns = _read_labels(labels, target)

    sources, problems, ignored = _collect(paths, labels)
    if ignored:
        shown = ", ".join(ignored[:5]) + (", ..." if len(ignored) > 5 else "")
        warnings.warn(
            f"load_videos ignored {len(ignored)} folder entries that are "
            f"neither videos, image stacks nor folders of frames: {shown}",
            UserWarning,
            stacklevel=2,
        )
    if label_table is not None:
        _check_labels_cover(label_table, sources)

    # Hash every source (cheap next to decoding); a bad one is a problem.
    digests = {}
    for source in sources:
        try:
            digests[source.name] = _source_digest(source, max_file_size)
        except _BadFile as exc:
            problems[source.path] = str(exc)
    good = [s for s in sources if s.name in digests]

    home = get_data_home(data_home)
    root = home / _CACHE_DIR
    items = root / "items" / layout.key()[:20]

    def set_key(selected):
        videos = [[s.name, digests[s.name][0]] for s in selected]
        return params_hash({**layout.params(), "videos": videos})

    def finish(selected, folder, loaded):
        data, meta = loaded
        return _bunch(
            data, meta, selected, label_table, target_columns, problems, folder, layout
        )

    # Fast path: the whole set is cached and every file is fine.
    if good and not problems:
        key = set_key(good)
        folder = root / "sets" / key[:20]
        loaded = _load_set(folder, key, good, digests, layout, check_hash)
        if loaded is not None:
            logger.info("reusing the %d videos cached in %s", len(good), folder)
            return _maybe_X_y(finish(good, folder, loaded), return_X_y)

    # Decode what is not cached yet; each video is cached as soon as it is.
    items.mkdir(parents=True, exist_ok=True)
    todo = [s for s in good if not _is_regular(items / _item_name(digests, s))]
    _check_free_space(home, layout, n_items=len(todo), n_set=len(good))
    decoded = _decode_all(
        todo, digests, layout, items, max_file_size, n_jobs=n_jobs, verbose=verbose
    )
    for source, error in decoded:
        if error is not None:
            problems[source.path] = error
    if problems:
        lines = "\n".join(f"  {path}: {why}" for path, why in problems.items())
        if on_error == "raise":
            n_ok = sum(s.path not in problems for s in good)
            raise ValueError(
                f"{len(problems)} file(s) could not be read:\n{lines}\nThe other "
                f"{n_ok} video(s) are decoded and cached, so a retry "
                "without these files decodes nothing again; pass "
                "on_error='skip' to load the others now."
            )
        warnings.warn(
            f"load_videos skipped {len(problems)} file(s) that could not be "
            f"read:\n{lines}",
            UserWarning,
            stacklevel=2,
        )
    good = [s for s in good if s.path not in problems]
    if not good:
        raise ValueError(
            "paths holds no video that could be read (see the warning above)."
        )

    key = set_key(good)
    folder = root / "sets" / key[:20]
    loaded = _load_set(folder, key, good, digests, layout, check_hash)
    if loaded is None:
        with cache_lock(folder):
            # another process may have finished the set while we waited
            loaded = _load_set(folder, key, good, digests, layout, check_hash)
            if loaded is None:
                _build_set(folder, key, good, digests, layout, items, max_file_size)
                loaded = _load_set(folder, key, good, digests, layout, False)
                if loaded is None:
                    raise OSError(
                        f"the videos just written to {folder} cannot be read back "
                        "(see the log); check the data home's file system."
                    )
    return _maybe_X_y(finish(good, folder, loaded), return_X_y)


# ------------------------------------------------------------------ checks


def _check_size(size):
    """``(height, width)`` from an int or a pair of ints."""
    if isinstance(size, tuple | list):
        if len(size) != 2:
            raise ValueError(
                f"size must be an int or a pair (height, width), got {size!r}."
            )
        return tuple(check_int(s, "size", low=1, high=_MAX_SIDE) for s in size)
    side = check_int(size, "size", low=1, high=_MAX_SIDE)
    return side, side


def _check_target(target, labels):
    if target is None:
        return None
    if labels is None:
        raise ValueError("target names a column of labels, but labels is None.")
    columns = [target] if isinstance(target, str) else target
    if not isinstance(columns, list | tuple) or not columns:
        raise TypeError(
            f"target must be a column name or a list of them, got {target!r}."
        )
    if not all(isinstance(c, str) for c in columns):
        raise TypeError(f"target must hold column names (str), got {target!r}.")
    return target


def _maybe_X_y(bunch, return_X_y):
    return (bunch.data, bunch.target) if return_X_y else bunch


# ------------------------------------------------------------ safe reading


def _open_regular(path, max_size):
    """Open ``path`` for reading if it is a regular file of at most ``max_size``.

    The last component is opened without following a symbolic link and
    without blocking (so a FIFO does not hang), then checked with ``fstat``
    on the open descriptor: what is read is what was checked.
    """
    flags = (
        os.O_RDONLY
        | getattr(os, "O_NOFOLLOW", 0)
        | getattr(os, "O_NONBLOCK", 0)
        | getattr(os, "O_BINARY", 0)
    )
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise _BadFile("does not exist") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP or os.path.islink(path):
            raise _BadFile("is a symbolic link, which is not followed") from None
        raise _BadFile(f"cannot be opened ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _BadFile("is not a regular file (a folder, device, FIFO or socket)")
        if st.st_size > max_size:
            raise _BadFile(
                f"has {st.st_size} bytes, more than max_file_size={max_size}"
            )
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def _signature(f):
    """What changes when a file is rewritten: size, mtime, inode, device."""
    st = os.fstat(f.fileno())
    return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev]


def _is_regular(path):
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _natural_key(name):
    """Sort key that puts ``f2`` before ``f10``."""
    return [
        (0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", name)
    ]


# ------------------------------------------------------------ the sources


def _collect(paths, labels):
    """The sources named by ``paths``, the problems found, the ignored entries."""
    if isinstance(paths, str | os.PathLike):
        root = Path(paths)
        if not os.fspath(root):
            raise ValueError("paths must name a folder or files, got ''.")
        try:
            st = os.stat(root)  # the folder the user names may be a link
        except OSError:
            raise ValueError(
                f"paths must be an existing folder or file, got {str(root)!r}."
            ) from None
        if stat.S_ISDIR(st.st_mode):
            return _scan(root, labels)
        items = [root]
    else:
        try:
            items = [Path(p) for p in paths]
        except TypeError:
            raise TypeError(
                "paths must be a folder, a file or a sequence of paths, got "
                f"{type(paths).__name__}."
            ) from None
        if not items:
            raise ValueError("paths must name at least one video, got none.")
    sources, problems, names = [], {}, {}
    for path in items:
        name = path.name
        if name in names:
            raise ValueError(
                f"paths holds two videos named {name!r} ({names[name]} and "
                f"{path}): videos are matched with labels by name, so names "
                "must be unique."
            )
        names[name] = path
        try:
            sources.append(_source(path, name))
        except _BadFile as exc:
            problems[str(path)] = str(exc)
    return sources, problems, []


def _source(path, name):
    """The source at an explicitly given path (not followed if a link)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise _BadFile("does not exist") from None
    if stat.S_ISLNK(st.st_mode):
        raise _BadFile(
            "is a symbolic link, which is not followed; pass the file it points to"
        )
    if stat.S_ISDIR(st.st_mode):
        frames = _frame_files(path)
        if not frames:
            raise _BadFile(
                f"is a folder without frames ({', '.join(FRAME_SUFFIXES)} files)"
            )
        return _Source(name, str(path), "frames", frames)
    if not stat.S_ISREG(st.st_mode):
        raise _BadFile("is not a regular file (a device, FIFO or socket)")
    kind = _kind(path)
    if kind is None:
        raise _BadFile(
            f"has an unknown extension {path.suffix!r}: expected a video "
            f"({', '.join(VIDEO_SUFFIXES)}) or an image stack "
            f"({', '.join(STACK_SUFFIXES)})"
        )
    return _Source(name, str(path), kind)


def _kind(path):
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in STACK_SUFFIXES:
        return "stack"
    return None


def _scan(root, labels):
    """Sources of a folder (not recursive), problems and ignored entries."""
    labels_path = None
    if isinstance(labels, str | os.PathLike):
        labels_path = os.path.abspath(labels)
    sources, problems, ignored = [], {}, []
    with os.scandir(root) as it:
        entries = sorted(it, key=lambda e: _natural_key(e.name))
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        known = _kind(path) is not None
        try:
            if entry.is_symlink():
                if known:
                    raise _BadFile("is a symbolic link, which is not followed")
                ignored.append(entry.name)
            elif entry.is_dir(follow_symlinks=False):
                frames = _frame_files(path)
                if frames:
                    sources.append(_Source(entry.name, str(path), "frames", frames))
                else:
                    ignored.append(entry.name + "/")
            elif entry.is_file(follow_symlinks=False):
                if known:
                    sources.append(_Source(entry.name, str(path), _kind(path)))
                elif not (
                    path.suffix.lower() in _SIDECAR_SUFFIXES
                    or os.path.abspath(path) == labels_path
                ):
                    ignored.append(entry.name)
            elif known:
                raise _BadFile("is not a regular file (a device, FIFO or socket)")
            else:
                ignored.append(entry.name)
        except _BadFile as exc:
            problems[str(path)] = str(exc)
    if not sources and not problems:
        raise ValueError(
            f"paths: the folder {str(root)!r} holds no video "
            f"({', '.join(VIDEO_SUFFIXES)}), image stack "
            f"({', '.join(STACK_SUFFIXES)}) or subfolder of frames."
        )
    return sources, problems, ignored


def _frame_files(folder):
    """The image files of a folder of frames, in natural order.

    A symbolic link, or an entry with an image suffix that is not a regular
    file, makes the whole video bad.
    """
    frames = []
    with os.scandir(folder) as it:
        entries = sorted(it, key=lambda e: _natural_key(e.name))
    for entry in entries:
        if entry.name.startswith(".") or not entry.name.lower().endswith(
            FRAME_SUFFIXES
        ):
            continue
        if entry.is_symlink():
            raise _BadFile(
                f"holds a symbolic link {entry.name!r}, which is not followed"
            )
        if not entry.is_file(follow_symlinks=False):
            raise _BadFile(f"holds {entry.name!r}, which is not a regular file")
        frames.append(entry.path)
    return tuple(frames)


def _source_digest(source, max_file_size):
    """(sha256, signature) of a source; a folder hashes its frames' digests."""
    if source.kind != "frames":
        with _open_regular(source.path, max_file_size) as f:
            return _sha256(f), _signature(f)
    h = hashlib.sha256()
    signatures = []
    for frame in source.frames:
        try:
            with _open_regular(frame, max_file_size) as f:
                h.update(f"{os.path.basename(frame)}\0{_sha256(f)}\n".encode())
                signatures.append(_signature(f))
        except _BadFile as exc:
            raise _BadFile(f"frame {os.path.basename(frame)!r} {exc}") from None
    return h.hexdigest(), signatures


def _sha256(f, chunk_size=1 << 20):
    h = hashlib.sha256()
    while chunk := f.read(chunk_size):
        h.update(chunk)
    return h.hexdigest()


def _item_name(digests, source):
    return f"{digests[source.name][0]}.npz"


# ---------------------------------------------------------------- decoding


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
        raise _BadFile(f"has {total} frame(s), fewer than n_frames={n}{hint}")
    if layout.frame_selection == "first" or n == 1:
        return np.arange(n, dtype=np.int64)
    k = np.arange(n, dtype=np.int64)
    # round(k (N - 1) / (n - 1)), halves up, in exact integer arithmetic
    return (2 * k * (total - 1) + (n - 1)) // (2 * (n - 1))


def _check_pixels(height, width):
    if height * width > MAX_FRAME_PIXELS:
        raise _BadFile(
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
        raise _BadFile(
            f"has 32-bit {'float' if mode == 'F' else 'integer'} pixels, whose "
            "range is unknown; convert the file to 8 or 16 bits"
        )
    if image.mode != "RGB":
        image = image.convert("RGB")
    if image.size != (layout.width, layout.height):
        image = image.resize((layout.width, layout.height), Image.Resampling.BILINEAR)
    return np.asarray(image).transpose(2, 0, 1)


def _read_source(source, layout, digest, max_file_size):
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
    f = _open_regular(path, max_file_size)
    if _signature(f) != list(signature):
        f.close()
        raise _BadFile("changed while it was being loaded; load it again")
    return f


def _read_video(path, layout, out, signature, max_file_size):
    import av

    with _opened_unchanged(path, signature, max_file_size) as f:
        with av.open(f, mode="r") as container:
            if not container.streams.video:
                raise _BadFile("has no video stream")
            stream = container.streams.video[0]
            ctx = stream.codec_context
            _check_pixels(ctx.height or 0, ctx.width or 0)
            declared = stream.frames
            rate = stream.average_rate
            # count the frames without decoding them (one packet per frame)
            total = sum(1 for packet in container.demux(stream) if packet.size)
        if declared and total < declared:
            raise _BadFile(
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
            raise _BadFile(
                f"is truncated or damaged: only {k + 1} of its {total} frames "
                "could be decoded"
            )
    return _info(float(rate) if rate else np.nan, original, total, indices)


def _read_stack(path, layout, out, signature, max_file_size):
    from PIL import Image, UnidentifiedImageError

    with _opened_unchanged(path, signature, max_file_size) as f:
        try:
            image = Image.open(f)
        except UnidentifiedImageError:
            raise _BadFile("is not an image Pillow can read") from None
        with image:
            is_png = image.format == "PNG"
            original = (image.height, image.width)
            _check_pixels(*original)
            total = getattr(image, "n_frames", 1)
            indices = _frame_indices(total, layout)
            for j, i in enumerate(indices):
                image.seek(int(i))
                if (image.height, image.width) != original:
                    raise _BadFile(
                        f"has pages of different sizes ({original[0]} x "
                        f"{original[1]}, then {image.height} x {image.width} on "
                        f"page {i})"
                    )
                out[j] = _to_chw(image, layout, is_png)
    return _info(np.nan, original, total, indices)


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
                    raise _BadFile("is not an image Pillow can read") from None
                with image:
                    size = (image.height, image.width)
                    _check_pixels(*size)
                    if getattr(image, "n_frames", 1) != 1:
                        raise _BadFile("has several pages; a frame is one image")
                    if original is None:
                        original = size
                    elif size != original:
                        raise _BadFile(
                            f"is {size[0]} x {size[1]} pixels, the first frame "
                            f"{original[0]} x {original[1]}"
                        )
                    out[j] = _to_chw(image, layout, image.format == "PNG")
        except _BadFile as exc:
            raise _BadFile(f"frame {name!r} {exc}") from None
    return _info(np.nan, original, total, indices)


def _info(frame_rate, original_size, frame_count, frame_indices):
    return {
        "frame_rate": float(frame_rate),
        "original_size": [int(s) for s in original_size],
        "frame_count": int(frame_count),
        "frame_indices": [int(i) for i in frame_indices],
    }


def _decode_to_item(source, digest, layout, item_path, max_file_size):
    """Decode one source and cache it as an item (a worker task).

    Returns
    -------
    error : str or None
        Why the source could not be read, or None.
    """
    try:
        with warnings.catch_warnings():
            # a damaged file is reported as an error, not as a decoder warning
            warnings.simplefilter("ignore")
            video, info = _read_source(source, layout, digest, max_file_size)
        _write_item(item_path, video, info, digest[0], layout)
    except _BadFile as exc:
        return str(exc)
    except Exception as exc:  # any decoder failure belongs to this file alone
        return f"could not be decoded ({type(exc).__name__}: {exc})"
    return None


def _decode_all(todo, digests, layout, items, max_file_size, *, n_jobs, verbose):
    """Decode ``todo`` into items; yield ``(source, error or None)``."""
    if not todo:
        return
    from joblib import Parallel, delayed, effective_n_jobs
    from tqdm.auto import tqdm

    n_jobs = max(1, min(effective_n_jobs(n_jobs), len(todo), os.cpu_count() or 1))
    show = sys.stderr.isatty() if verbose is None else bool(verbose)
    logger.info("decoding %d video(s) into %s", len(todo), items)
    tasks = (
        delayed(_decode_to_item)(
            s, digests[s.name], layout, items / _item_name(digests, s), max_file_size
        )
        for s in todo
    )
    parallel = Parallel(n_jobs=n_jobs, return_as="generator", pre_dispatch="2*n_jobs")
    with tqdm(total=len(todo), unit="video", desc="decoding", disable=not show) as bar:
        for source, error in zip(todo, parallel(tasks), strict=True):
            bar.update(1)
            yield source, error


# ------------------------------------------------------------------- items


def _item_check(digest, layout, video, info):
    """Digest binding an item's bytes to its source and parameters."""
    h = hashlib.sha256()
    h.update(f"{digest}\0{layout.key()}\0".encode())
    h.update(np.ascontiguousarray(video).data)
    h.update(json.dumps(info, sort_keys=True).encode())
    return h.hexdigest()


def _write_item(path, video, info, digest, layout):
    check = _item_check(digest, layout, video, info)
    with atomic_file(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(
                f,
                video=video,
                frame_rate=np.float64(info["frame_rate"]),
                original_size=np.asarray(info["original_size"], dtype=np.int64),
                frame_count=np.int64(info["frame_count"]),
                frame_indices=np.asarray(info["frame_indices"], dtype=np.int64),
                check=np.str_(check),
            )


def _read_item(path, digest, layout):
    """(video, info) of a cached item, or None if missing or not valid."""
    try:
        f = _open_regular(path, layout.item_bytes + 2**20)
    except _BadFile as exc:
        if os.path.lexists(path):
            logger.warning("the cached video %s %s: decoding it again", path, exc)
        return None
    try:
        with f, np.load(f, allow_pickle=False) as npz:
            if set(npz.files) != _ITEM_KEYS:
                raise ValueError(f"unexpected entries {sorted(npz.files)}")
            video = npz["video"]
            indices = npz["frame_indices"]
            if video.dtype != np.uint8 or video.shape != layout.shape:
                raise ValueError(f"a {video.dtype} array of shape {video.shape}")
            if indices.shape != (layout.n_frames,):
                raise ValueError("frame indices of the wrong length")
            info = _info(
                npz["frame_rate"][()],
                npz["original_size"].tolist(),
                npz["frame_count"][()],
                indices,
            )
            if str(npz["check"][()]) != _item_check(digest, layout, video, info):
                raise ValueError("its content does not match its checksum")
    except Exception as exc:  # any damage (bad zip, bad header...): decode again
        logger.warning(
            "the cached video %s is not valid (%s): decoding it again", path, exc
        )
        return None
    return video, info


# --------------------------------------------------------------------- sets


def _read_json(path):
    with _open_regular(path, _MAX_TEXT_BYTES) as f:
        return json.loads(f.read().decode("utf-8"))


def _load_set(folder, key, sources, digests, layout, check_hash):
    """(data, metadata) of a valid cached set, or None (rebuild it).

    The manifest must list exactly the set's two files, both regular files
    (not links), before any of them is hashed or opened.
    """
    if not os.path.lexists(folder / _MANIFEST):
        return None
    try:
        manifest = _read_json(folder / _MANIFEST)
        files = manifest.get("files") if isinstance(manifest, dict) else None
        if not isinstance(files, dict) or set(files) != {_DATA_FILE, _META_FILE}:
            raise ValueError("the manifest does not list the set's files")
        if manifest.get("key") != key:
            raise ValueError("the manifest belongs to other videos or parameters")
        for name in files:
            if not _is_regular(folder / name):
                raise ValueError(f"{name} is not a regular file")
        if verify_manifest(folder, check_hash=check_hash) is None:
            raise ValueError("a file does not match the manifest")
        meta = _read_json(folder / _META_FILE)
        data = np.load(folder / _DATA_FILE, mmap_mode="r", allow_pickle=False)
        n = len(sources)
        if data.dtype != np.uint8 or data.shape != (n, *layout.shape):
            raise ValueError(f"the data is {data.dtype} of shape {data.shape}")
        if meta.get("names") != [s.name for s in sources] or meta.get("sha256") != [
            digests[s.name][0] for s in sources
        ]:
            raise ValueError("the metadata names other videos")
        columns = ("frame_rate", "original_size", "frame_count", "frame_indices")
        if any(len(meta.get(c) or ()) != n for c in columns):
            raise ValueError("the metadata has the wrong length")
        meta = {
            "frame_rate": np.array(
                [np.nan if r is None else r for r in meta["frame_rate"]], dtype=float
            ),
            "original_size": np.array(meta["original_size"], dtype=np.int64).reshape(
                n, 2
            ),
            "frame_count": np.array(meta["frame_count"], dtype=np.int64),
            "frame_indices": np.array(meta["frame_indices"], dtype=np.int64).reshape(
                n, layout.n_frames
            ),
            "sha256": np.array(meta["sha256"]),
        }
    except (_BadFile, OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        logger.warning(
            "the video cache %s is not valid (%s): rebuilding it", folder, exc
        )
        return None
    return data, meta


def _build_set(folder, key, sources, digests, layout, items, max_file_size):
    """Copy the items of ``sources`` into a new set folder, in order."""
    n = len(sources)
    meta = {k: [] for k in ("frame_rate", "original_size", "frame_count")}
    meta["frame_indices"] = []
    logger.info("writing %d videos into %s", n, folder)
    with atomic_directory(folder) as tmp:
        data = np.lib.format.open_memmap(
            tmp / _DATA_FILE, mode="w+", dtype=np.uint8, shape=(n, *layout.shape)
        )
        for row, source in enumerate(sources):
            path = items / _item_name(digests, source)
            item = _read_item(path, digests[source.name][0], layout)
            if item is None:  # removed or damaged since it was decoded
                error = _decode_to_item(
                    source, digests[source.name], layout, path, max_file_size
                )
                item = (
                    None if error else _read_item(path, digests[source.name][0], layout)
                )
                if item is None:
                    raise ValueError(
                        f"{source.path} could not be read back from the cache: "
                        f"{error or 'the cached copy is damaged'}"
                    )
            video, info = item
            data[row] = video
            for k in meta:
                meta[k].append(info[k])
        data.flush()
        del data
        meta["frame_rate"] = [None if np.isnan(r) else r for r in meta["frame_rate"]]
        meta["names"] = [s.name for s in sources]
        meta["sha256"] = [digests[s.name][0] for s in sources]
        with open(tmp / _META_FILE, "w", encoding="utf-8") as f:
            json.dump(meta, f)
        write_manifest(tmp, [_DATA_FILE, _META_FILE], key=key, params=layout.params())


def _check_free_space(home, layout, *, n_items, n_set):
    """Refuse to start when the data home cannot hold what will be written."""
    needed = (n_items + n_set) * layout.item_bytes
    free = shutil.disk_usage(home).free
    if needed > free:
        raise OSError(
            errno.ENOSPC,
            f"load_videos needs about {needed / 1e9:.2f} GB in the data home "
            f"{home} ({n_items} video(s) to decode and the array of {n_set}), "
            f"but only {free / 1e9:.2f} GB are free; free some space, choose "
            "another data_home, or a smaller n_frames or size",
        )


# ------------------------------------------------------------------- labels


def _read_labels(labels, target):
    """The labels table indexed by file name, and the target column(s)."""
    if labels is None:
        return None, None
    import pandas as pd

    if isinstance(labels, pd.DataFrame):
        table = labels.copy()
    elif isinstance(labels, str | os.PathLike):
        try:
            with _open_regular(labels, _MAX_TEXT_BYTES) as f:
                table = pd.read_csv(f)
        except _BadFile as exc:
            raise ValueError(f"labels: {os.fspath(labels)} {exc}.") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(
                f"labels: {os.fspath(labels)} is not a readable CSV file ({exc})."
            ) from None
    else:
        raise TypeError(
            "labels must be a CSV file path, a pandas DataFrame or None, got "
            f"{type(labels).__name__}."
        )
    if "filename" not in table.columns:
        raise ValueError(
            "labels must have a 'filename' column naming each video, got "
            f"columns {list(table.columns)}."
        )
    table["filename"] = table["filename"].astype(str)
    duplicated = table["filename"][table["filename"].duplicated()].unique()
    if duplicated.size:
        raise ValueError(
            f"labels has several rows for {list(duplicated[:5])}: one row per video."
        )
    table = table.set_index("filename")
    values = list(table.columns)
    if target is None:
        if len(values) != 1:
            raise ValueError(
                "labels must have exactly one column besides 'filename', or "
                f"target must name the column(s) to use; got columns {values}."
            )
        target = values[0]
    missing = [
        c for c in ([target] if isinstance(target, str) else target) if c not in values
    ]
    if missing:
        raise ValueError(f"target names columns {missing} that labels lacks: {values}.")
    return table, target


def _check_labels_cover(table, sources):
    names = [s.name for s in sources]
    missing = [n for n in names if n not in table.index]
    if missing:
        shown = ", ".join(map(repr, missing[:5])) + (
            ", ..." if len(missing) > 5 else ""
        )
        raise ValueError(
            f"labels has no row for {len(missing)} video(s): {shown}; the "
            "'filename' column must hold each video's file (or folder) name, "
            f"e.g. {names[0]!r}."
        )
    extra = sorted(set(table.index) - set(names))
    if extra:
        warnings.warn(
            f"labels has {len(extra)} row(s) for files that are not loaded: "
            f"{', '.join(map(repr, extra[:5]))}{', ...' if len(extra) > 5 else ''}",
            UserWarning,
            stacklevel=3,
        )


def _bunch(data, meta, sources, table, target, problems, folder, layout):
    names = [s.name for s in sources]
    rows = None if table is None else table.loc[names].reset_index()
    y = None if rows is None else rows[target].to_numpy()
    return Bunch(
        data=data,
        target=y,
        labels=rows,
        filenames=np.array([s.path for s in sources]),
        names=np.array(names),
        frame_rate=meta["frame_rate"],
        original_size=meta["original_size"],
        frame_count=meta["frame_count"],
        frame_indices=meta["frame_indices"],
        sha256=meta["sha256"],
        skipped=dict(problems),
        cache_path=str(folder),
        params=layout.params(),
    )

"""Finding and safely reading the source files of :func:`load_videos`.

A source is a video file, an image stack or a folder of frames.  Only
regular files are read: the last component of a path is opened without
following a symbolic link and without blocking (a FIFO does not hang), and
the open descriptor is checked with ``fstat`` (type and size) before a byte
is read, so what is read is what was checked.  Entries inside a folder that
are links, devices, FIFOs or sockets are refused without being opened.
"""

import dataclasses
import errno
import hashlib
import os
import re
import stat
from pathlib import Path

__all__ = []

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
# The largest small file read whole (labels, a cache's metadata), in bytes.
MAX_TEXT_BYTES = 256 * 2**20


class BadFile(Exception):
    """A source that cannot be read; the message says why (without the path)."""


@dataclasses.dataclass(frozen=True)
class Source:
    """One video: a video file, an image stack or a folder of frames."""

    name: str
    path: str
    kind: str  # "video", "stack" or "frames"
    frames: tuple = ()  # the frame files of a folder of frames


def open_regular(path, max_size):
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
        raise BadFile("does not exist") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP or os.path.islink(path):
            raise BadFile("is a symbolic link, which is not followed") from None
        raise BadFile(f"cannot be opened ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise BadFile("is not a regular file (a folder, device, FIFO or socket)")
        if st.st_size > max_size:
            raise BadFile(f"has {st.st_size} bytes, more than max_file_size={max_size}")
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def file_signature(f):
    """What changes when a file is rewritten: size, mtime, inode, device."""
    st = os.fstat(f.fileno())
    return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev]


def is_regular(path):
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _natural_key(name):
    """Sort key that puts ``f2`` before ``f10``."""
    return [
        (0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", name)
    ]


def collect_sources(paths, labels):
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
        except BadFile as exc:
            problems[str(path)] = str(exc)
    return sources, problems, []


def _source(path, name):
    """The source at an explicitly given path (not followed if a link)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise BadFile("does not exist") from None
    if stat.S_ISLNK(st.st_mode):
        raise BadFile(
            "is a symbolic link, which is not followed; pass the file it points to"
        )
    if stat.S_ISDIR(st.st_mode):
        frames = _frame_files(path)
        if not frames:
            raise BadFile(
                f"is a folder without frames ({', '.join(FRAME_SUFFIXES)} files)"
            )
        return Source(name, str(path), "frames", frames)
    if not stat.S_ISREG(st.st_mode):
        raise BadFile("is not a regular file (a device, FIFO or socket)")
    kind = _kind(path)
    if kind is None:
        raise BadFile(
            f"has an unknown extension {path.suffix!r}: expected a video "
            f"({', '.join(VIDEO_SUFFIXES)}) or an image stack "
            f"({', '.join(STACK_SUFFIXES)})"
        )
    return Source(name, str(path), kind)


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
                    raise BadFile("is a symbolic link, which is not followed")
                ignored.append(entry.name)
            elif entry.is_dir(follow_symlinks=False):
                frames = _frame_files(path)
                if frames:
                    sources.append(Source(entry.name, str(path), "frames", frames))
                else:
                    ignored.append(entry.name + "/")
            elif entry.is_file(follow_symlinks=False):
                if known:
                    sources.append(Source(entry.name, str(path), _kind(path)))
                elif not (
                    path.suffix.lower() in _SIDECAR_SUFFIXES
                    or os.path.abspath(path) == labels_path
                ):
                    ignored.append(entry.name)
            elif known:
                raise BadFile("is not a regular file (a device, FIFO or socket)")
            else:
                ignored.append(entry.name)
        except BadFile as exc:
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
            raise BadFile(
                f"holds a symbolic link {entry.name!r}, which is not followed"
            )
        if not entry.is_file(follow_symlinks=False):
            raise BadFile(f"holds {entry.name!r}, which is not a regular file")
        frames.append(entry.path)
    return tuple(frames)


def source_digest(source, max_file_size):
    """(sha256, signature) of a source; a folder hashes its frames' digests."""
    if source.kind != "frames":
        with open_regular(source.path, max_file_size) as f:
            return _sha256(f), file_signature(f)
    h = hashlib.sha256()
    signatures = []
    for frame in source.frames:
        try:
            with open_regular(frame, max_file_size) as f:
                h.update(f"{os.path.basename(frame)}\0{_sha256(f)}\n".encode())
                signatures.append(file_signature(f))
        except BadFile as exc:
            raise BadFile(f"frame {os.path.basename(frame)!r} {exc}") from None
    return h.hexdigest(), signatures


def _sha256(f, chunk_size=1 << 20):
    h = hashlib.sha256()
    while chunk := f.read(chunk_size):
        h.update(chunk)
    return h.hexdigest()

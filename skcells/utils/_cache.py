"""Checksums, manifests and crash-safe cache folders and files.

Every cache is written under a temporary name beside its final place and
moved there with one atomic :func:`os.replace`, under an inter-process file
lock.  A reader therefore sees either no cache or a complete one, never a
half-written one, even if the writer is killed.
"""

import contextlib
import ctypes
import errno
import functools
import hashlib
import json
import logging
import math
import os
import re
import shutil
import stat
import sys
import tempfile
import tokenize
from pathlib import Path

from filelock import FileLock

logger = logging.getLogger(__name__)

__all__ = [
    "atomic_directory",
    "atomic_file",
    "cache_lock",
    "check_free_space",
    "load_npy",
    "open_regular_file",
    "params_hash",
    "sha256_file",
    "verify_manifest",
    "write_manifest",
]

#: Largest ``manifest.json`` read (a cache lists a few files, BCCD's raw
#: copy about 730: some 100 kB).
MAX_MANIFEST_BYTES = 16 * 2**20
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20


def sha256_file(path, chunk_size=1 << 20):
    """Return the hex sha256 digest of a file, read in chunks.

    Parameters
    ----------
    path : str or path-like
        The file.
    chunk_size : int, default=1048576
        Bytes read at a time.

    Returns
    -------
    digest : str
        64 hexadecimal characters.
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            h.update(chunk)
    return h.hexdigest()


def params_hash(params):
    """Return a stable sha256 digest of a JSON-serialisable parameter dict.

    Parameters
    ----------
    params : dict
        Parameters; keys are sorted so the order does not matter.

    Returns
    -------
    digest : str
        64 hexadecimal characters.
    """
    blob = json.dumps(params, sort_keys=True, default=_json_default)
    return hashlib.sha256(blob.encode()).hexdigest()


def _json_default(obj):
    """Serialise numpy scalars and tuples deterministically for hashing."""
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot hash parameter of type {type(obj).__name__}")


@contextlib.contextmanager
def cache_lock(path, timeout=-1):
    """Hold an inter-process lock named after a cache folder.

    Only writers need it: a complete cache is read without the lock (and
    without write access to the data home).

    Parameters
    ----------
    path : str or path-like
        The cache folder the lock protects (it need not exist).
    timeout : float, default=-1
        Seconds to wait; negative waits forever.

    Yields
    ------
    lock : filelock.FileLock
        The held lock.

    Raises
    ------
    OSError
        If the lock file cannot be created (a read-only data home): the
        message names the folder.
    """
    path = Path(path)
    lock = FileLock(str(path) + ".lock", timeout=timeout)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except TimeoutError:
        raise
    except OSError as exc:
        error = OSError(
            f"cannot lock the cache {str(path)!r} to build or repair it "
            f"({exc.strerror or exc}): its folder must be writable; a complete "
            "cache is read without writing."
        )
        error.errno = exc.errno
        raise error from exc
    try:
        yield lock
    finally:
        lock.release()


@contextlib.contextmanager
def atomic_directory(final_path):
    """Write a folder under a temporary name and move it into place at the end.

    The body of the ``with`` block fills the yielded temporary folder, which
    lives beside ``final_path`` on the same file system.  On normal exit it
    replaces ``final_path`` in one :func:`os.replace`; on any exception the
    temporary folder is deleted and ``final_path`` is left as it was.  A
    writer killed with SIGKILL leaves only a ``.tmp-*`` folder, which readers
    never look at and the next writer removes.

    Parameters
    ----------
    final_path : str or path-like
        Where the finished folder should appear.

    Yields
    ------
    tmp_path : pathlib.Path
        The temporary folder to write into.
    """
    final_path = Path(final_path)
    final_path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(final_path)
    tmp = Path(
        tempfile.mkdtemp(prefix=f".tmp-{final_path.name}-", dir=final_path.parent)
    )
    # mkdtemp makes the folder private (0700); give the finished cache the
    # permissions of an ordinary folder under the user's umask instead.
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        if not os.path.lexists(final_path):
            os.replace(tmp, final_path)
        elif _exchange(tmp, final_path):
            # One atomic swap: readers always find a complete folder at
            # final_path, the old one or the new one.  tmp is now the old one.
            _remove(tmp)
        else:  # no renameat2: a short window without final_path
            old = final_path.with_name(f".old-{final_path.name}-{os.getpid()}")
            os.replace(final_path, old)
            os.replace(tmp, final_path)
            _remove(old)
    except BaseException:
        _remove(tmp)
        raise


_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


@functools.cache
def _renameat2():
    """glibc's ``renameat2``, or None where it does not exist."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    function.restype = ctypes.c_int
    return function


def _exchange(a, b):
    """Swap two existing paths atomically; False where the system cannot."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    a, b = os.fsencode(a), os.fsencode(b)
    if renameat2(_AT_FDCWD, a, _AT_FDCWD, b, _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), os.fsdecode(b))


def _remove(path):
    """Delete a folder tree, or a link or file standing where one was expected."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _remove_stale_temporaries(final_path):
    """Delete leftovers of writers that were killed before their rename."""
    for prefix in (f".tmp-{final_path.name}-", f".old-{final_path.name}-"):
        for stale in final_path.parent.glob(prefix + "*"):
            logger.info("removing stale partial cache %s", stale)
            _remove(stale)


def write_manifest(folder, names, **extra):
    """Record the sha256 of files in ``folder/manifest.json``.

    Parameters
    ----------
    folder : path-like
        The folder holding the files.
    names : iterable of str
        File names relative to ``folder``.
    **extra
        JSON-serialisable entries stored beside the checksums.

    Returns
    -------
    manifest : dict
        What was written.
    """
    folder = Path(folder)
    manifest = {
        "files": {
            n: {"sha256": sha256_file(folder / n), "size": (folder / n).stat().st_size}
            for n in names
        },
        **extra,
    }
    with open(folder / "manifest.json", "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True, default=_json_default)
        f.flush()
        os.fsync(f.fileno())
    return manifest


def verify_manifest(folder, *, check_hash=True, expected=None):
    """Check the files of a cache folder against its manifest.

    Nothing outside ``folder`` is ever opened (and ``folder`` itself must not
    be a symbolic link).  The manifest itself must be
    a regular file of at most 16 MiB listing, for every file, a plain
    relative name (no ``..``, no absolute path), its size and its sha256.
    When ``expected`` is given, the names must be exactly those, checked
    before any file is touched.  Every listed file must then be a regular
    file inside ``folder`` (no symbolic link, device, FIFO or socket, on the
    way or at the end, checked with :func:`os.lstat` before opening) of the
    recorded size, and at most that many bytes of it are read for the
    digest.

    Parameters
    ----------
    folder : path-like
        The cache folder.
    check_hash : bool, default=True
        Recompute sha256 digests; when False only sizes are compared.
    expected : iterable of str, default=None
        The exact set of names the manifest must list.

    Returns
    -------
    manifest : dict or None
        The manifest when every file is present with the recorded size (and
        digest), else None (the reason is logged as a warning).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skcells.utils import verify_manifest, write_manifest
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.bin").write_bytes(b"abc")
    >>> _ = write_manifest(folder, ["a.bin"], version=1)
    >>> verify_manifest(folder, expected={"a.bin"})["version"]
    1
    >>> verify_manifest(folder, expected={"b.bin"}) is None
    True
    """
    folder = Path(folder)
    try:
        if os.path.islink(folder):
            raise ValueError(f"{folder} is a symbolic link, not a cache folder")
        manifest = _read_manifest(folder)
        files = manifest["files"]
        if expected is not None and set(files) != set(expected):
            logger.warning(
                "cache %s lists %s, expected %s; not reading it",
                folder,
                sorted(files)[:5],
                sorted(expected)[:5],
            )
            return None
        for name, meta in files.items():
            _, st = _lstat_inside(folder, name)
            if st.st_size != meta["size"]:
                logger.warning("cache file %s has the wrong size", folder / name)
                return None
        for name, meta in files.items() if check_hash else ():
            with open_regular_file(name, root=folder, max_size=meta["size"]) as f:
                digest = _sha256_stream(f, meta["size"] + 1)
            if digest != meta["sha256"]:
                logger.warning(
                    "cache file %s does not match its checksum", folder / name
                )
                return None
    except (OSError, ValueError, RecursionError) as exc:
        logger.warning("cache %s is unreadable (%s)", folder, exc)
        return None
    return manifest


def _read_manifest(folder):
    """Parse ``folder/manifest.json`` and check its shape (not the files)."""
    with open_regular_file(
        "manifest.json", root=folder, max_size=MAX_MANIFEST_BYTES
    ) as f:
        manifest = json.loads(f.read(MAX_MANIFEST_BYTES + 1))
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        raise ValueError("the manifest has no 'files' mapping")
    for name, meta in files.items():
        reason = _unsafe_name(name)
        if reason:
            raise ValueError(f"the manifest lists {name!r}, which {reason}")
        size = meta.get("size") if isinstance(meta, dict) else None
        digest = meta.get("sha256") if isinstance(meta, dict) else None
        if (
            isinstance(size, bool)
            or not isinstance(size, int)
            or size < 0
            or not isinstance(digest, str)
            or not _SHA256.fullmatch(digest)
        ):
            raise ValueError(f"the manifest entry of {name!r} is malformed")
    return manifest


def _sha256_stream(f, limit):
    """sha256 of at most ``limit`` bytes of an open binary file."""
    h = hashlib.sha256()
    while limit > 0 and (chunk := f.read(min(_CHUNK, limit))):
        h.update(chunk)
        limit -= len(chunk)
    return h.hexdigest()


def _unsafe_name(name):
    """Why ``name`` is not a plain relative POSIX path inside a folder, or None."""
    if not isinstance(name, str) or not name:
        return "is not a non-empty string"
    if "\\" in name or "\x00" in name:
        return "contains a backslash or NUL"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "is an absolute path"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "is not a plain relative path (it has an empty, '.' or '..' part)"
    return None


def _kind(mode):
    """What a file of this mode is, for messages."""
    for test, word in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return word
    return "not a regular file"


def _lstat_inside(root, name):
    """``(path, lstat)`` of the regular file ``root/name``, links refused.

    Every folder between ``root`` and the file must be a real folder and the
    file a regular file; nothing is opened.
    """
    reason = _unsafe_name(name)
    if reason:
        raise ValueError(f"{name!r} {reason}")
    path = Path(root)
    parts = name.split("/")
    for part in parts[:-1]:
        path = path / part
        mode = os.lstat(path).st_mode
        if not stat.S_ISDIR(mode):
            raise ValueError(f"{path} is {_kind(mode)}, expected a folder")
    path = path / parts[-1]
    st = os.lstat(path)
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"{path} is {_kind(st.st_mode)}, expected a regular file")
    return path, st


def open_regular_file(path, *, root=None, max_size=None):
    """Open a regular file for reading, refusing links, devices and FIFOs.

    With ``root``, ``path`` is a plain relative name inside the folder
    ``root``: every folder on the way and the file itself are checked with
    :func:`os.lstat` (no symbolic link anywhere, no ``..``) before it is
    opened with ``O_NOFOLLOW``.  Without ``root``, ``path`` may be a link,
    but what it points to must be a regular file.  Either way the file is
    opened without blocking (a FIFO swapped in cannot hang the call) and
    checked again on the open descriptor, so nothing else is ever read.

    Parameters
    ----------
    path : str or path-like
        The file, or its relative name inside ``root``.
    root : str or path-like, default=None
        The folder the file must lie in.
    max_size : int, default=None
        Refuse a larger file before reading it.

    Returns
    -------
    file : io.BufferedReader
        The open file, positioned at its start.

    Raises
    ------
    FileNotFoundError
        If the file or a folder on the way does not exist.
    ValueError
        If it is not a regular file, a link lies on the way, the name leaves
        ``root`` or the file is larger than ``max_size``.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skcells.utils import open_regular_file
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.txt").write_text("hello")
    >>> with open_regular_file("a.txt", root=folder) as f:
    ...     f.read()
    b'hello'
    >>> open_regular_file("../a.txt", root=folder)
    Traceback (most recent call last):
    ...
    ValueError: '../a.txt' is not a plain relative path ...
    """
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_NONBLOCK", 0)
    if root is not None:
        path, before = _lstat_inside(root, os.fspath(path))
        flags |= getattr(os, "O_NOFOLLOW", 0)
    else:
        path = Path(path)
        before = os.stat(path)
        if not stat.S_ISREG(before.st_mode):
            raise ValueError(
                f"{str(path)!r} is {_kind(before.st_mode)}, expected a regular file"
            )
    f = open(path, "rb", opener=lambda p, _: os.open(p, flags))
    try:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (
            before.st_dev,
            before.st_ino,
        ):
            raise ValueError(f"{str(path)!r} changed while it was being opened")
        if max_size is not None and st.st_size > max_size:
            raise ValueError(
                f"{str(path)!r} has {st.st_size} bytes, more than the "
                f"{max_size} expected"
            )
    except BaseException:
        f.close()
        raise
    return f


def load_npy(file, *, dtype, shape, root=None, mmap=False, size=None):
    """Read a ``.npy`` file whose header must announce ``dtype`` and ``shape``.

    A path is opened with :func:`open_regular_file`.  The header is checked
    before any data is read: the dtype (never an object dtype), the shape,
    C order and a length of exactly header plus data.  Nothing is unpickled
    and at most the expected number of bytes is read.

    Parameters
    ----------
    file : str, path-like or binary file object
        The file, its relative name inside ``root``, or an open stream (for
        example a member of a ``.npz`` archive), read from its position.
    dtype : numpy dtype-like or str
        The exact dtype, or a one-character kind (``"U"``: any unicode
        string length).
    shape : tuple of int or None
        The shape; None entries accept any length.
    root : str or path-like, default=None
        See :func:`open_regular_file`.
    mmap : bool, default=False
        Return a read-only :class:`numpy.memmap` of the file instead of
        reading it (a path or a plain file object only).
    size : int, default=None
        The stream's length in bytes, needed for a stream without a file
        descriptor (a ``.npz`` member: its ``ZipInfo.file_size``).

    Returns
    -------
    array : ndarray or numpy.memmap
        The array.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is not a regular file or its header or length is not the
        expected one.

    Examples
    --------
    >>> import tempfile, os
    >>> import numpy as np
    >>> from skcells.utils import load_npy
    >>> path = os.path.join(tempfile.mkdtemp(), "a.npy")
    >>> np.save(path, np.arange(3))
    >>> load_npy(path, dtype=np.int64, shape=(None,))
    array([0, 1, 2])
    """
    if not hasattr(file, "read"):
        with open_regular_file(file, root=root) as f:
            return load_npy(f, dtype=dtype, shape=shape, mmap=mmap)
    import numpy as np

    source = getattr(file, "name", "the array")
    fmt = np.lib.format
    try:
        version = fmt.read_magic(file)
        if version == (1, 0):
            found, fortran, found_dtype = fmt.read_array_header_1_0(file)
        elif version == (2, 0):
            found, fortran, found_dtype = fmt.read_array_header_2_0(file)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except (
        ValueError,
        SyntaxError,
        TypeError,
        OverflowError,
        RecursionError,
        tokenize.TokenError,
    ) as exc:
        # numpy tokenizes the header and parses it with ast.literal_eval: a
        # damaged header can raise any of these, which all mean "not a valid
        # .npy file".
        raise ValueError(f"{source} has a damaged .npy header ({exc})") from None
    if isinstance(dtype, str) and len(dtype) == 1:
        dtype_ok = found_dtype.kind == dtype
        wanted = f"kind {dtype!r}"
    else:
        dtype_ok = found_dtype == np.dtype(dtype)
        wanted = str(np.dtype(dtype))
    shape_ok = len(found) == len(shape) and all(
        e is None or e == n for e, n in zip(shape, found)
    )
    if found_dtype.hasobject or not dtype_ok or not shape_ok or fortran:
        raise ValueError(
            f"{source} holds an array of dtype {found_dtype} and shape {found}"
            f"{' (Fortran order)' if fortran else ''}, expected dtype "
            f"{wanted} and shape {shape}"
        )
    offset = file.tell()
    nbytes = math.prod(found) * found_dtype.itemsize
    if size is None:
        size = os.fstat(file.fileno()).st_size
    if size != offset + nbytes:
        raise ValueError(
            f"{source} has {size} bytes, expected {offset + nbytes} for its header"
        )
    if mmap:
        return np.memmap(file, dtype=found_dtype, mode="r", offset=offset, shape=found)
    data = file.read(nbytes)
    if len(data) != nbytes:
        raise ValueError(f"{source} is truncated")
    return np.frombuffer(bytearray(data), dtype=found_dtype).reshape(found)


def check_free_space(
    folder,
    n_bytes,
    *,
    what="the cache",
    advice="free some space or choose another folder",
):
    """Refuse to start writing ``n_bytes`` into a file system without room.

    Parameters
    ----------
    folder : str or path-like
        Where the data will be written (the nearest existing parent is
        measured).
    n_bytes : int
        The size that will be written.
    what : str, default="the cache"
        What is being written, for the message.
    advice : str, default="free some space or choose another folder"
        What to do about it, for the message.

    Raises
    ------
    OSError
        With ``errno.ENOSPC``, naming the need, the free space, the folder
        and ``advice``, when ``n_bytes`` exceeds the free space.

    Examples
    --------
    >>> import tempfile
    >>> from skcells.utils import check_free_space
    >>> check_free_space(tempfile.gettempdir(), 1)
    >>> check_free_space(tempfile.gettempdir(), 10**30)
    Traceback (most recent call last):
    ...
    OSError: the cache needs 1e+21 GB but ... free; free some space or ...
    """
    probe = Path(folder)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if n_bytes > free:
        error = OSError(
            f"{what} needs {_gigabytes(n_bytes)} but {probe} has only "
            f"{_gigabytes(free)} free; {advice}."
        )
        error.errno = errno.ENOSPC
        raise error


def _gigabytes(n):
    return f"{n / 1e9:.3g} GB"


@contextlib.contextmanager
def atomic_file(path):
    """Write a file under a temporary name and move it into place at the end.

    The temporary file lives beside ``path``, ends with the same suffix
    (``.png``, ``.csv``) and gets the permissions of an ordinary file under
    the user's umask (``mkstemp`` would make it private).  Every file skcells
    writes for a user goes through it, so all share those permissions.
    On an exception it is deleted and ``path`` is left as it was.

    Parameters
    ----------
    path : str or path-like
        Where the finished file should appear; its folder must exist.

    Yields
    ------
    tmp_path : pathlib.Path
        The temporary file to write to.
    """
    path = Path(path)
    # the suffix is kept, for writers that choose a format from it (savefig)
    fd, tmp = tempfile.mkstemp(
        prefix=f".tmp-{path.name}-", suffix=path.suffix, dir=path.parent
    )
    os.close(fd)
    tmp = Path(tmp)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _umask():
    """The process umask (reading it requires setting it; put it back)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask

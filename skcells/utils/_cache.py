"""Checksums, manifests and crash-safe cache folders and files.

Every cache is written under a temporary name beside its final place and
moved there with one atomic :func:`os.replace`, under an inter-process file
lock.  A reader therefore sees either no cache or a complete one, never a
half-written one, even if the writer is killed.
"""

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from filelock import FileLock

logger = logging.getLogger(__name__)

__all__ = [
    "atomic_directory",
    "atomic_file",
    "cache_lock",
    "params_hash",
    "sha256_file",
    "verify_manifest",
    "write_manifest",
]


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
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path) + ".lock", timeout=timeout)
    with lock:
        yield lock


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
        if final_path.exists():
            old = final_path.with_name(f".old-{final_path.name}-{os.getpid()}")
            os.replace(final_path, old)
            os.replace(tmp, final_path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final_path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _remove_stale_temporaries(final_path):
    """Delete leftovers of writers that were killed before their rename."""
    for prefix in (f".tmp-{final_path.name}-", f".old-{final_path.name}-"):
        for stale in final_path.parent.glob(prefix + "*"):
            logger.info("removing stale partial cache %s", stale)
            shutil.rmtree(stale, ignore_errors=True)


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


def verify_manifest(folder, *, check_hash=True):
    """Check the files of a cache folder against its manifest.

    Parameters
    ----------
    folder : path-like
        The cache folder.
    check_hash : bool, default=True
        Recompute sha256 digests; when False only sizes are compared.

    Returns
    -------
    manifest : dict or None
        The manifest when every file is present with the recorded size (and
        digest), else None.
    """
    folder = Path(folder)
    try:
        with open(folder / "manifest.json") as f:
            manifest = json.load(f)
        for name, meta in manifest["files"].items():
            p = folder / name
            if p.stat().st_size != meta["size"]:
                logger.warning("cache file %s has the wrong size", p)
                return None
            if check_hash and sha256_file(p) != meta["sha256"]:
                logger.warning("cache file %s does not match its checksum", p)
                return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("cache %s is unreadable (%s)", folder, exc)
        return None
    return manifest


@contextlib.contextmanager
def atomic_file(path):
    """Write a file under a temporary name and move it into place at the end.

    The temporary file lives beside ``path`` and gets the permissions of an
    ordinary file under the user's umask (``mkstemp`` would make it private).
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
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.name}-", dir=path.parent)
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

"""Data home, checksums and crash-safe cache directories.

Every dataset cache is written into a temporary sibling directory and moved
into place with one atomic :func:`os.replace`, under an inter-process file
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

_ENV_DATA_HOME = "SKCELLS_DATA"


def get_data_home(data_home=None):
    """Return the folder where skcells keeps its dataset caches.

    The folder is, in order of precedence: ``data_home`` when given, the
    ``SKCELLS_DATA`` environment variable when set and not empty, else
    ``sklearn.datasets.get_data_home() / "skcells"`` (by default
    ``~/scikit_learn_data/skcells``).  It is created if missing.

    Parameters
    ----------
    data_home : str or path-like, default=None
        An explicit folder.

    Returns
    -------
    data_home : pathlib.Path
        The existing data folder.

    Examples
    --------
    >>> import tempfile
    >>> from skcells.datasets import get_data_home
    >>> home = get_data_home(tempfile.mkdtemp())
    >>> home.is_dir()
    True
    """
    if data_home is None:
        # An empty variable means unset, not the current folder.
        data_home = os.environ.get(_ENV_DATA_HOME) or None
    if data_home is None:
        from sklearn.datasets import get_data_home as sk_data_home

        data_home = Path(sk_data_home()) / "skcells"
    if not isinstance(data_home, str | os.PathLike):
        raise TypeError(
            f"data_home must be a str or path-like, got {type(data_home).__name__}."
        )
    if not os.fspath(data_home):
        raise ValueError("data_home must be a folder path, got an empty string.")
    path = Path(data_home).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ValueError(
            f"data_home must be a folder, got {str(path)!r}, which is or lies "
            "under an existing file."
        ) from None
    return path


def clear_data_home(data_home=None):
    """Delete every skcells cache in the data home.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder, resolved as in :func:`get_data_home`.
    """
    shutil.rmtree(get_data_home(data_home))


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
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
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

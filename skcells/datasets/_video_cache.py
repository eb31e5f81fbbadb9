"""The two cache levels of :func:`load_videos`: decoded videos and sets.

An *item* is one decoded video, keyed by the sha256 of its source and the
loading parameters, written atomically as soon as it is decoded, with a
checksum that binds its bytes to both.  A *set* is the array of every video
of a call, in order, with its metadata and a manifest, written under a
temporary name and renamed when complete (under a file lock, by the
caller), and validated before reuse: the manifest must list exactly the
set's files, regular files and not links, before anything is hashed.
"""

import errno
import hashlib
import json
import logging
import os
import shutil
import sys
import warnings

import numpy as np

from ..utils import atomic_directory, atomic_file, verify_manifest, write_manifest
from ._video_decode import item_info, read_source
from ._video_files import MAX_TEXT_BYTES, BadFile, is_regular, open_regular

logger = logging.getLogger(__name__)

__all__ = []

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


def item_name(digests, source):
    return f"{digests[source.name][0]}.npz"


def decode_to_item(source, digest, layout, item_path, max_file_size):
    """Decode one source and cache it as an item (a worker task).

    A failure to read the source is returned, as it belongs to this file
    alone; a failure to write the item (a full disk, say) is raised.

    Returns
    -------
    error : str or None
        Why the source could not be read, or None.
    """
    try:
        with warnings.catch_warnings():
            # a damaged file is reported as an error, not as a decoder warning
            warnings.simplefilter("ignore")
            video, info = read_source(source, layout, digest, max_file_size)
    except BadFile as exc:
        return str(exc)
    except Exception as exc:  # any decoder failure belongs to this file alone
        return f"could not be decoded ({type(exc).__name__}: {exc})"
    _write_item(item_path, video, info, digest[0], layout)
    return None


def decode_all(todo, digests, layout, items, max_file_size, *, n_jobs, verbose):
    """Decode ``todo`` into items; yield ``(source, error or None)``."""
    if not todo:
        return
    from joblib import Parallel, delayed, effective_n_jobs
    from tqdm.auto import tqdm

    n_jobs = max(1, min(effective_n_jobs(n_jobs), len(todo), os.cpu_count() or 1))
    show = sys.stderr.isatty() if verbose is None else bool(verbose)
    logger.info("decoding %d video(s) into %s", len(todo), items)
    tasks = (
        delayed(decode_to_item)(
            s, digests[s.name], layout, items / item_name(digests, s), max_file_size
        )
        for s in todo
    )
    parallel = Parallel(n_jobs=n_jobs, return_as="generator", pre_dispatch="2*n_jobs")
    with tqdm(total=len(todo), unit="video", desc="decoding", disable=not show) as bar:
        for source, error in zip(todo, parallel(tasks), strict=True):
            bar.update(1)
            yield source, error


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
        f = open_regular(path, layout.item_bytes + 2**20)
    except BadFile as exc:
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
            info = item_info(
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


def _read_json(path):
    with open_regular(path, MAX_TEXT_BYTES) as f:
        return json.loads(f.read().decode("utf-8"))


def load_set(folder, key, sources, digests, layout, check_hash):
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
            if not is_regular(folder / name):
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
    except (BadFile, OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        logger.warning(
            "the video cache %s is not valid (%s): rebuilding it", folder, exc
        )
        return None
    return data, meta


def build_set(folder, key, sources, digests, layout, items, max_file_size):
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
            path = items / item_name(digests, source)
            item = _read_item(path, digests[source.name][0], layout)
            if item is None:  # removed or damaged since it was decoded
                error = decode_to_item(
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


def check_free_space(home, layout, *, n_items, n_set):
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

"""BCCD: real in-vitro blood smears with Pascal VOC cell boxes.

The fetcher obtains the upstream repository at a pinned commit, either from
a local copy (folder or archive) or by downloading the GitHub archive, and
checks every file it keeps against the sha256 manifest shipped in
``skcells/datasets/data/bccd_manifest.json``.  The verified files go to
``<data_home>/bccd/raw``; the decoded images and parsed annotations go to
``<data_home>/bccd/processed`` as ``.npy`` files that are memory-mapped on
reuse.  Both folders are written with :func:`~skcells.utils.
atomic_directory` under :func:`~skcells.utils.cache_lock`, so an
interrupted or failed fetch leaves nothing half-written behind.  A partial
local copy (``partial=True``) is cached apart, in ``bccd/partial-<key>``.
"""

import json
import logging
import os
import re
import shutil
import stat
import tempfile
import urllib.error
from importlib import resources
from pathlib import Path, PurePosixPath

import numpy as np
from sklearn.datasets import fetch_file
from sklearn.utils import Bunch

from ..utils import (
    atomic_directory,
    cache_lock,
    check_bool,
    check_free_space,
    check_option,
    download_error,
    load_npy,
    network_timeout,
    params_hash,
    sha256_file,
    verify_manifest,
    write_manifest,
)
from ._archive import copy_verified, extract_verified
from ._base import get_data_home, load_descr
from ._voc import parse_annotation

logger = logging.getLogger(__name__)

BCCD_COMMIT = "d272fb14cdff6e473fafeeeba32aba5f560e9e43"
BCCD_URL = f"https://github.com/Shenggan/BCCD_Dataset/archive/{BCCD_COMMIT}.zip"
ENV_BCCD_PATH = "SKCELLS_BCCD_PATH"

CLASSES = ("RBC", "WBC", "Platelets")
SPLITS = ("train", "val", "test")
SUBSETS = ("all", "train", "val", "test", "trainval")
TARGETS = {"rbc": "rbc_count", "wbc": "wbc_count", "platelets": "platelet_count"}
IMAGE_SHAPE = (3, 480, 640)

_CACHE_FORMAT = 1
_PER_IMAGE = ("BCCD/JPEGImages/", "BCCD/Annotations/")
_IMAGE_ID = re.compile(r"BloodImage_\d{5}")
_ARRAYS = "images counts boxes box_labels box_offsets split image_id".split()
# Download policy: one retry, a second apart, and no socket silent for longer
# than _TIMEOUT seconds (scikit-learn's fetch_file retries 3 times by default).
_N_RETRIES = 1
_RETRY_DELAY = 1.0
_TIMEOUT = 20.0


def fetch_bccd(
    *,
    data_home=None,
    subset="all",
    target="rbc",
    download_if_missing=True,
    return_X_y=False,
    local_path=None,
    partial=False,
):
    """Load the BCCD blood smear images (in vitro), downloading if needed.

    364 annotated 640x480 RGB microscope images of stained blood smears with
    a box around every red blood cell (RBC), white blood cell (WBC) and
    platelet, from the repository ``Shenggan/BCCD_Dataset`` at a pinned
    commit.  The binary target says whether the image holds more cells of
    the chosen kind than the mean over all 364 images (``1 = "high"``), the
    in-vitro counterpart of the paper's high/low blood count task.

    The source is, in order: the processed cache in the data home; the
    verified raw files in the data home; ``local_path`` or the
    ``SKCELLS_BCCD_PATH`` environment variable; the GitHub archive of the
    pinned commit (when ``download_if_missing``).  Every file taken from a
    local copy or an archive is checked against the sha256 manifest shipped
    with skcells before it is used (also with ``partial=True``).

    Parameters
    ----------
    data_home : str or path-like, default=None
        Where the cache lives (see :func:`~skcells.datasets.get_data_home`);
        the dataset uses its ``bccd`` subfolder.
    subset : {"all", "train", "val", "test", "trainval"}, default="all"
        Which images to return, after the upstream split
        (``ImageSets/Main``: 205 train, 87 val, 72 test).
    target : {"rbc", "wbc", "platelets"}, default="rbc"
        The count that defines the binary target.
    download_if_missing : bool, default=True
        Download the archive when neither the cache nor a local copy has the
        data; if False, raise ``FileNotFoundError`` instead.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    local_path : str or path-like, default=None
        An existing copy: the repository folder (holding ``BCCD/`` and
        ``LICENSE``) or its ``.zip`` / ``.tar.gz`` archive.  Defaults to the
        ``SKCELLS_BCCD_PATH`` environment variable.  It is verified and
        copied into the cache, then no longer needed.
    partial : bool, default=False
        Accept a local folder that holds only some of the images: ``LICENSE``
        and ``BCCD/ImageSets/Main/*.txt`` are required, and each image is used
        when its JPEG and its annotation are both present (one without the
        other is an error).  Needs ``local_path`` or ``SKCELLS_BCCD_PATH`` to
        name such a folder; it is cached apart from the full dataset.

    Returns
    -------
    data : sklearn.utils.Bunch
        Dictionary-like object with the attributes below (one entry per
        image, in ``image_id`` order).

        data : ndarray of shape (n_samples, 3, 480, 640), dtype uint8
            RGB images, channel first; a read-only memory map when
            ``subset="all"``.
        images : ndarray of shape (n_samples, 3, 480, 640), dtype uint8
            The same array as ``data`` (the same object), under the name
            earlier versions used.
        target : ndarray of shape (n_samples,), dtype int64
            1 if the chosen count is above ``threshold``, else 0.
        target_names : ndarray of shape (2,)
            ``["low", "high"]``.
        threshold : float
            Mean of the chosen count over all 364 images (whatever
            ``subset``), so labels agree between subsets; over the images
            present when ``partial=True``.
        rbc_count, wbc_count, platelet_count : ndarray of shape \
(n_samples,), dtype int64
            Number of ``<object>`` elements of each class in the annotation.
        boxes : list of ndarray of shape (n_objects, 4), dtype int32
            ``(xmin, ymin, xmax, ymax)`` pixel boxes of every object.
        box_labels : list of ndarray of shape (n_objects,), dtype str
            The class of each box: ``"RBC"``, ``"WBC"`` or ``"Platelets"``.
        split : ndarray of shape (n_samples,), dtype str
            ``"train"``, ``"val"`` or ``"test"``.
        image_id : ndarray of shape (n_samples,), dtype str
            File stem, e.g. ``"BloodImage_00000"``.
        DESCR : str
            Description of the dataset.

    (data, target) : tuple if ``return_X_y`` is True
        The two arrays above.

    Raises
    ------
    FileNotFoundError
        If the data is neither cached nor available locally and
        ``download_if_missing`` is False, or a local copy lacks a file.
    ValueError
        If a file does not match its checksum, an archive member would land
        outside the target folder (``..``, absolute path, escaping link), an
        annotation is malformed, or ``partial=True`` without a local folder.

    See Also
    --------
    skcells.datasets.degrade : Blur and noise that turn these sharp images
        into in-vivo-like ones.
    skcells.datasets.estimate_blur : Blur estimate for images of unknown blur.

    Examples
    --------
    >>> from skcells.datasets import fetch_bccd
    >>> data = fetch_bccd(target="wbc")  # doctest: +SKIP
    >>> data.data.shape, data.target.mean().round(2)  # doctest: +SKIP
    ((364, 3, 480, 640), 0.06)
    """
    check_option(subset, "subset", SUBSETS)
    check_option(target, "target", tuple(TARGETS))
    download_if_missing = check_bool(download_if_missing, "download_if_missing")
    return_X_y = check_bool(return_X_y, "return_X_y")
    partial = check_bool(partial, "partial")
    if local_path is not None:  # SKCELLS_BCCD_PATH is read only when needed
        local_path = _local_copy(local_path)

    root = get_data_home(data_home) / "bccd"
    files = _package_manifest()["files"]
    if partial:
        local_path = _local_copy(local_path)
        kept = _partial_files(local_path, files)
        if len(kept) < len(files):
            root = root / f"partial-{params_hash({'files': sorted(kept)})[:16]}"
            files = kept
    # A valid cache is read without the lock, so without write access.
    arrays = _load_processed(root / "processed")
    if arrays is None:
        with cache_lock(root):
            arrays = _load_processed(root / "processed")
            if arrays is None:
                _ensure_raw(root, files, local_path, download_if_missing)
                n_images = sum(name.startswith(_PER_IMAGE[0]) for name in files)
                check_free_space(
                    root,
                    n_images * int(np.prod(IMAGE_SHAPE)) + 2**20,
                    what="the decoded BCCD images",
                    advice="free some space or pass another data_home",
                )
                with atomic_directory(root / "processed") as tmp:
                    _build_processed(root / "raw", tmp)
                arrays = _load_processed(root / "processed")
    if arrays is None:  # pragma: no cover - the cache was just written
        raise RuntimeError(f"the BCCD cache in {root} could not be read back")
    return _make_bunch(arrays, subset=subset, target=target, return_X_y=return_X_y)


def _package_manifest():
    """Return the shipped manifest: ``{"commit", "url", "files": {...}}``."""
    text = (
        resources.files("skcells.datasets")
        .joinpath("data/bccd_manifest.json")
        .read_text(encoding="utf-8")
    )
    return json.loads(text)


def _compute_manifest(repo_root):
    """Build the manifest of a trusted copy of the repository (a folder).

    Maintainers regenerate ``data/bccd_manifest.json`` with it (``json.dump``
    with ``indent=1, sort_keys=True``) after moving ``BCCD_COMMIT``: only the
    licence, annotations, images and split lists are recorded and used.
    """
    root = Path(repo_root)
    globs = ("Annotations/*.xml", "JPEGImages/*.jpg", "ImageSets/Main/*.txt")
    paths = [root / "LICENSE", *(p for g in globs for p in (root / "BCCD").glob(g))]
    files = {p: {"sha256": sha256_file(p), "size": p.stat().st_size} for p in paths}
    files = {p.relative_to(root).as_posix(): m for p, m in sorted(files.items())}
    return {"commit": BCCD_COMMIT, "url": BCCD_URL, "files": files}


def _local_copy(value, name="local_path"):
    """Return ``value`` (else ``SKCELLS_BCCD_PATH``, else None) as an existing path."""
    if value is None:
        value, name = os.environ.get(ENV_BCCD_PATH) or None, ENV_BCCD_PATH
    if value is None:
        return None
    if not isinstance(value, str | os.PathLike):
        raise TypeError(
            f"{name} must be a str or path-like pointing to the BCCD repository "
            f"folder or its archive, got {type(value).__name__}."
        )
    path = Path(value).expanduser()
    expected = (
        "expected the BCCD repository folder (holding BCCD/ and LICENSE) or its "
        ".zip/.tar.gz archive"
    )
    try:
        mode = path.stat().st_mode  # the path given may be a link; not inside
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{name}={str(value)!r} does not exist; {expected}."
        ) from None
    if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
        raise ValueError(
            f"{name}={str(value)!r} is neither a folder nor a regular file (a "
            f"device, FIFO or socket); {expected}."
        )
    return path


def _partial_files(folder, files):
    """Select the manifest entries of the images a partial local folder holds.

    Every other file (licence, split lists) stays required; an image is kept
    when its JPEG or its annotation is there (the copy then checks both).
    """
    if folder is None or not folder.is_dir():
        raise ValueError(
            f"partial=True needs local_path (or {ENV_BCCD_PATH}) to be a folder "
            f"holding part of the BCCD repository, got {folder}."
        )
    ids = {
        PurePosixPath(name).stem
        for name in files
        if name.startswith(_PER_IMAGE) and os.path.lexists(folder / name)
    }
    if not ids:
        raise FileNotFoundError(f"the local copy {folder} holds no BCCD image.")
    return {
        name: meta
        for name, meta in files.items()
        if not name.startswith(_PER_IMAGE) or PurePosixPath(name).stem in ids
    }


def _ensure_raw(root, files, local_path, download_if_missing):
    """Make ``root/raw`` hold the verified upstream ``files``."""
    raw = root / "raw"
    if os.path.lexists(raw):
        recorded = verify_manifest(raw, expected=files)
        if recorded is not None and recorded["files"] == files:
            return
        logger.warning("BCCD raw cache %s is damaged; fetching it again", raw)
    local_path = _local_copy(local_path)
    if local_path is None and not download_if_missing:
        raise FileNotFoundError(
            f"BCCD is not in the cache {root} and download_if_missing=False; pass "
            f"local_path= or set {ENV_BCCD_PATH} to a copy of the repository at "
            f"commit {BCCD_COMMIT}, or allow the download."
        )
    # the raw files, and the archive beside them while downloading
    check_free_space(
        root,
        2 * sum(meta["size"] for meta in files.values()) + 2**20,
        what="the BCCD files",
        advice="free some space or pass another data_home",
    )
    try:
        with atomic_directory(raw) as tmp:
            if local_path is not None and local_path.is_dir():
                logger.info("copying BCCD from %s", local_path)
                copy_verified(local_path, tmp, files)
            elif local_path is not None:
                logger.info("extracting BCCD from %s", local_path)
                extract_verified(local_path, tmp, files)
            else:
                _download(BCCD_URL, root, tmp, files)
            write_manifest(tmp, files)
    except (OSError, ValueError) as exc:
        exc.add_note(f"skcells expects BCCD_Dataset at commit {BCCD_COMMIT}.")
        raise


def _download(url, root, dest, files):
    """Download ``url`` with :func:`sklearn.datasets.fetch_file`, then extract it.

    GitHub builds archives on the fly and does not promise stable bytes, so
    each member is checked against the manifest instead of the archive.
    """
    for stale in root.glob(".download-*"):
        shutil.rmtree(stale, ignore_errors=True)
    folder = tempfile.mkdtemp(prefix=".download-", dir=root)
    try:
        logger.info("downloading BCCD from %s", url)
        try:
            with network_timeout(_TIMEOUT):
                archive = fetch_file(
                    url,
                    folder=folder,
                    local_filename="BCCD_Dataset.zip",
                    n_retries=_N_RETRIES,
                    delay=_RETRY_DELAY,
                )
        except (urllib.error.URLError, OSError) as exc:
            raise download_error(
                f"the BCCD dataset (commit {BCCD_COMMIT[:12]})",
                url,
                exc,
                f"pass local_path= or set {ENV_BCCD_PATH} to a copy of the "
                "repository (its folder or .zip/.tar.gz archive)",
            ) from exc
        extract_verified(archive, dest, files)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _decode_image(path):
    """Decode one JPEG to a (3, 480, 640) uint8 array."""
    from PIL import Image

    with Image.open(path) as im:
        if im.size != IMAGE_SHAPE[:0:-1]:
            raise ValueError(
                f"BCCD image {path} is {im.size[0]}x{im.size[1]}, expected "
                f"{IMAGE_SHAPE[2]}x{IMAGE_SHAPE[1]}."
            )
        rgb = np.asarray(im.convert("RGB"))
    return rgb.transpose(2, 0, 1)


def _build_processed(raw, out):
    """Decode the images and annotations of ``raw`` into ``.npy`` files.

    The images are those of the split lists whose JPEG is in ``raw`` (all of
    them, unless the copy is partial).
    """
    base = raw / "BCCD"
    split_of = {}
    for split in SPLITS:
        listed = (base / "ImageSets/Main" / f"{split}.txt").read_text().split()
        for image_id in listed:
            if not _IMAGE_ID.fullmatch(image_id):
                raise ValueError(f"unexpected image id {image_id!r} in {split}.txt.")
            if image_id in split_of:
                raise ValueError(
                    f"image {image_id} is listed in both {split_of[image_id]} and "
                    f"{split} in {base / 'ImageSets' / 'Main'}."
                )
            split_of[image_id] = split
    ids = sorted(i for i in split_of if (base / f"JPEGImages/{i}.jpg").is_file())
    logger.info("decoding %d BCCD images", len(ids))
    images = np.lib.format.open_memmap(
        out / "images.npy", mode="w+", dtype=np.uint8, shape=(len(ids), *IMAGE_SHAPE)
    )
    all_boxes, all_labels = [], []
    for i, image_id in enumerate(ids):
        images[i] = _decode_image(base / "JPEGImages" / f"{image_id}.jpg")
        boxes, labels = parse_annotation(
            base / "Annotations" / f"{image_id}.xml", CLASSES
        )
        all_boxes.append(boxes)
        all_labels.append(labels)
    images.flush()
    del images
    labels = np.concatenate(all_labels)
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in all_boxes])])
    image_index = np.repeat(np.arange(len(ids)), np.diff(offsets))
    counts = np.zeros((len(ids), len(CLASSES)), dtype=np.int64)
    np.add.at(counts, (image_index, labels), 1)
    np.save(out / "counts.npy", counts)
    np.save(out / "boxes.npy", np.concatenate(all_boxes))
    np.save(out / "box_labels.npy", labels)
    np.save(out / "box_offsets.npy", offsets.astype(np.int64))
    np.save(out / "split.npy", np.array([split_of[i] for i in ids]))
    np.save(out / "image_id.npy", np.array(ids))
    names = [f"{a}.npy" for a in _ARRAYS]
    write_manifest(
        out, names, format=_CACHE_FORMAT, commit=BCCD_COMMIT, n_images=len(ids)
    )


def _load_processed(folder):
    """Return the cached arrays, or None if the cache is absent or damaged.

    Only the expected files are opened, each a regular file inside the
    folder whose header announces the expected dtype and shape, and the
    arrays must agree with each other (one row per image, box offsets that
    partition the boxes, counts that match the box labels, known splits and
    image ids); a cache that fails any check is rebuilt.  No write access is
    needed.
    """
    if not os.path.lexists(folder / "manifest.json"):
        return None
    manifest = verify_manifest(folder, expected={f"{a}.npy" for a in _ARRAYS})
    n = manifest.get("n_images") if manifest is not None else None
    if (
        manifest is None
        or manifest.get("format") != _CACHE_FORMAT
        or manifest.get("commit") != BCCD_COMMIT
        or isinstance(n, bool)
        or not isinstance(n, int)
        or n < 1
    ):
        logger.warning("BCCD cache %s is damaged or outdated; rebuilding it", folder)
        return None
    try:
        arrays = _read_arrays(folder, n)
    except (OSError, ValueError) as exc:
        logger.warning("BCCD cache %s is invalid (%s); rebuilding it", folder, exc)
        return None
    return arrays


def _read_arrays(folder, n):
    """Read the processed arrays of ``n`` images and check their consistency."""

    def load(name, dtype, shape, mmap=False):
        return load_npy(f"{name}.npy", root=folder, dtype=dtype, shape=shape, mmap=mmap)

    arrays = {
        "images": load("images", np.uint8, (n, *IMAGE_SHAPE), mmap=True),
        "counts": load("counts", np.int64, (n, len(CLASSES))),
        "box_offsets": load("box_offsets", np.int64, (n + 1,)),
        "split": load("split", "U", (n,)),
        "image_id": load("image_id", "U", (n,)),
    }
    offsets = arrays["box_offsets"]
    if offsets[0] != 0 or np.any(np.diff(offsets) < 0):
        raise ValueError("box_offsets.npy does not partition the boxes")
    m = int(offsets[-1])
    arrays["boxes"] = load("boxes", np.int32, (m, 4))
    arrays["box_labels"] = load("box_labels", np.int8, (m,))
    labels = arrays["box_labels"]
    if m and (labels.min() < 0 or labels.max() >= len(CLASSES)):
        raise ValueError("box_labels.npy holds unknown classes")
    image_index = np.repeat(np.arange(n), np.diff(offsets))
    counts = np.zeros((n, len(CLASSES)), dtype=np.int64)
    np.add.at(counts, (image_index, labels), 1)
    if not np.array_equal(counts, arrays["counts"]):
        raise ValueError("counts.npy does not match the box labels")
    if not np.isin(arrays["split"], SPLITS).all():
        raise ValueError("split.npy holds unknown splits")
    ids = arrays["image_id"].tolist()
    if ids != sorted(set(ids)) or not all(_IMAGE_ID.fullmatch(i) for i in ids):
        raise ValueError("image_id.npy holds unknown, unsorted or repeated ids")
    return arrays


def _make_bunch(arrays, *, subset, target, return_X_y):
    """Assemble the Bunch (or ``(X, y)``) of the requested subset."""
    counts = arrays["counts"]
    column = counts[:, list(TARGETS).index(target)]
    threshold = float(column.mean())
    y = (column > threshold).astype(np.int64)
    split = arrays["split"]
    if subset == "all":
        index = slice(None)
        images = arrays["images"]
    else:
        members = ("train", "val") if subset == "trainval" else (subset,)
        index = np.flatnonzero(np.isin(split, members))
        images = np.ascontiguousarray(arrays["images"][index])
    if return_X_y:
        return images, y[index]
    offsets = arrays["box_offsets"]
    boxes = np.split(arrays["boxes"], offsets[1:-1])
    names = np.array(CLASSES)
    box_labels = [names[c] for c in np.split(arrays["box_labels"], offsets[1:-1])]
    keep = range(len(boxes))[index] if isinstance(index, slice) else index
    return Bunch(
        data=images,
        images=images,
        target=y[index],
        target_names=np.array(["low", "high"]),
        threshold=threshold,
        rbc_count=counts[index, 0],
        wbc_count=counts[index, 1],
        platelet_count=counts[index, 2],
        boxes=[boxes[i] for i in keep],
        box_labels=[box_labels[i] for i in keep],
        split=split[index],
        image_id=arrays["image_id"][index],
        DESCR=load_descr("bccd.rst"),
    )

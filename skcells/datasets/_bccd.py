"""BCCD: real in-vitro blood smears with Pascal VOC cell boxes.

The fetcher obtains the upstream repository at a pinned commit, either from
a local copy (folder or archive) or by downloading the GitHub archive, and
checks every file it keeps against the sha256 manifest shipped in
``skcells/datasets/data/bccd_manifest.json``.  The verified files go to
``<data_home>/bccd/raw``; the decoded images and parsed annotations go to
``<data_home>/bccd/processed`` as ``.npy`` files that are memory-mapped on
reuse.  Both folders are written with :func:`~skcells.utils.
atomic_directory` under :func:`~skcells.utils.cache_lock`, so an
interrupted or failed fetch leaves nothing half-written behind.
"""

import hashlib
import json
import logging
import os
import re
import stat
import tarfile
import tempfile
import urllib.request
import xml.etree.ElementTree as ET
import zipfile
import zlib
from importlib import resources
from pathlib import Path, PurePosixPath

import numpy as np
from sklearn.utils import Bunch

from .._version import __version__
from ..utils import (
    atomic_directory,
    cache_lock,
    sha256_file,
    verify_manifest,
    write_manifest,
)
from ._base import get_data_home, load_descr

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
_CHUNK = 1 << 20
_IMAGE_ID = re.compile(r"BloodImage_\d{5}")
_PROCESSED_FILES = (
    "images.npy",
    "counts.npy",
    "boxes.npy",
    "box_labels.npy",
    "box_offsets.npy",
    "split.npy",
    "image_id.npy",
)


def fetch_bccd(
    *,
    data_home=None,
    subset="all",
    target="rbc",
    download_if_missing=True,
    return_X_y=False,
    local_path=None,
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
    with skcells before it is used.

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
        Return ``(images, target)`` instead of a Bunch.
    local_path : str or path-like, default=None
        An existing copy: the repository folder (holding ``BCCD/`` and
        ``LICENSE``) or its ``.zip`` / ``.tar.gz`` archive.  Defaults to the
        ``SKCELLS_BCCD_PATH`` environment variable.  It is verified and
        copied into the cache, then no longer needed.

    Returns
    -------
    data : sklearn.utils.Bunch
        Dictionary-like object with the attributes below (one entry per
        image, in ``image_id`` order).

        images : ndarray of shape (n_samples, 3, 480, 640), dtype uint8
            RGB images, channel first; a read-only memory map when
            ``subset="all"``.
        target : ndarray of shape (n_samples,), dtype int64
            1 if the chosen count is above ``threshold``, else 0.
        target_names : ndarray of shape (2,)
            ``["low", "high"]``.
        threshold : float
            Mean of the chosen count over all 364 images (whatever
            ``subset``), so labels agree between subsets.
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

    (images, target) : tuple if ``return_X_y`` is True
        The two arrays above.

    Raises
    ------
    FileNotFoundError
        If the data is neither cached nor available locally and
        ``download_if_missing`` is False, or a local copy lacks a file.
    ValueError
        If a file does not match its checksum, an archive member would land
        outside the target folder (``..``, absolute path, escaping link) or
        an annotation is malformed.

    See Also
    --------
    skcells.datasets.degrade : Blur and noise that turn these sharp images
        into in-vivo-like ones.
    skcells.datasets.estimate_blur : Blur estimate for images of unknown blur.

    Examples
    --------
    >>> from skcells.datasets import fetch_bccd
    >>> data = fetch_bccd(target="wbc")  # doctest: +SKIP
    >>> data.images.shape, data.target.mean().round(2)  # doctest: +SKIP
    ((364, 3, 480, 640), 0.06)
    """
    _check_choice(subset, "subset", SUBSETS)
    _check_choice(target, "target", tuple(TARGETS))
    _check_bool(download_if_missing, "download_if_missing")
    _check_bool(return_X_y, "return_X_y")
    if local_path is not None:
        local_path = _check_local_path(local_path, "local_path")

    root = get_data_home(data_home) / "bccd"
    with cache_lock(root):
        arrays = _load_processed(root / "processed")
        if arrays is None:
            _ensure_raw(root, local_path, download_if_missing)
            with atomic_directory(root / "processed") as tmp:
                _build_processed(root / "raw", tmp)
            arrays = _load_processed(root / "processed")
        if arrays is None:  # pragma: no cover - the cache was just written
            raise RuntimeError(f"the BCCD cache in {root} could not be read back")
    return _make_bunch(arrays, subset=subset, target=target, return_X_y=return_X_y)


# --------------------------------------------------------------------------
# Parameter validation


def _check_choice(value, name, options):
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}.")


def _check_bool(value, name):
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be a bool, got {value!r}.")


def _check_local_path(value, name):
    if not isinstance(value, str | os.PathLike):
        raise TypeError(
            f"{name} must be a str or path-like pointing to the BCCD repository "
            f"folder or its archive, got {type(value).__name__}."
        )
    path = Path(value).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"{name}={str(value)!r} does not exist; expected the BCCD repository "
            "folder (holding BCCD/ and LICENSE) or its .zip/.tar.gz archive."
        )
    return path


# --------------------------------------------------------------------------
# Manifest of the upstream files


def _package_manifest():
    """Return the shipped manifest: ``{"commit", "url", "files": {...}}``."""
    text = (
        resources.files("skcells.datasets")
        .joinpath("data/bccd_manifest.json")
        .read_text(encoding="utf-8")
    )
    return json.loads(text)


def _compute_manifest(repo_root):
    """Build the manifest dict of a trusted copy of the upstream repository.

    Maintainers regenerate ``data/bccd_manifest.json`` with it after moving
    ``BCCD_COMMIT``: the annotations, the images, the split files and the
    licence are recorded; other upstream files are not used.

    Parameters
    ----------
    repo_root : path-like
        Folder holding ``BCCD/`` and ``LICENSE``.

    Returns
    -------
    manifest : dict
        JSON-serialisable manifest.
    """
    repo_root = Path(repo_root)
    names = ["LICENSE"]
    for sub, pattern in (
        ("BCCD/Annotations", "*.xml"),
        ("BCCD/JPEGImages", "*.jpg"),
        ("BCCD/ImageSets/Main", "*.txt"),
    ):
        found = (repo_root / sub).glob(pattern)
        names += [p.relative_to(repo_root).as_posix() for p in found]
    files = {}
    for name in sorted(names):
        path = repo_root / name
        files[name] = {"sha256": sha256_file(path), "size": path.stat().st_size}
    return {"commit": BCCD_COMMIT, "url": BCCD_URL, "files": files}


def _verify_tree(folder, manifest):
    """Check that ``folder`` holds every manifest file with its digest.

    Raises
    ------
    FileNotFoundError
        If a file is missing.
    ValueError
        If a file has the wrong size or sha256.
    """
    folder = Path(folder)
    for name, meta in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(
                f"BCCD file {name} is missing from {folder} "
                f"({len(manifest['files'])} files expected at commit {BCCD_COMMIT})."
            )
        size = path.stat().st_size
        if size != meta["size"]:
            raise ValueError(
                f"BCCD file {path} has {size} bytes, expected {meta['size']}: "
                "the copy is corrupted or from another commit."
            )
        digest = sha256_file(path)
        if digest != meta["sha256"]:
            raise ValueError(
                f"BCCD file {path} has sha256 {digest}, expected {meta['sha256']}: "
                "the copy is corrupted or from another commit."
            )


def _write_verified(src, dest, name, meta, origin):
    """Stream ``src`` into ``dest`` while checking size and sha256.

    At most ``size + 1`` bytes are read, so an oversized member (e.g. a
    decompression bomb) is refused without being written out.
    """
    h = hashlib.sha256()
    remaining = meta["size"] + 1
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "wb") as out:
        while remaining > 0 and (chunk := src.read(min(_CHUNK, remaining))):
            h.update(chunk)
            out.write(chunk)
            remaining -= len(chunk)
    written = meta["size"] + 1 - remaining
    if written != meta["size"]:
        raise ValueError(
            f"BCCD file {name} in {origin} has "
            f"{'more than ' if remaining == 0 else ''}{written} bytes, "
            f"expected {meta['size']}: the copy is corrupted or from another commit."
        )
    if h.hexdigest() != meta["sha256"]:
        raise ValueError(
            f"BCCD file {name} in {origin} has sha256 {h.hexdigest()}, expected "
            f"{meta['sha256']}: the copy is corrupted or from another commit."
        )


# --------------------------------------------------------------------------
# Raw files: local copy, archive, download


def _ensure_raw(root, local_path, download_if_missing):
    """Make ``root/raw`` hold the verified upstream files."""
    manifest = _package_manifest()
    raw = root / "raw"
    if raw.is_dir():
        try:
            _verify_tree(raw, manifest)
            return
        except (OSError, ValueError) as exc:
            logger.warning("BCCD raw cache is damaged (%s); fetching it again", exc)
    if local_path is None and os.environ.get(ENV_BCCD_PATH):
        local_path = _check_local_path(os.environ[ENV_BCCD_PATH], ENV_BCCD_PATH)
    if local_path is None and not download_if_missing:
        raise FileNotFoundError(
            f"BCCD is not in the cache {root} and download_if_missing=False; pass "
            f"local_path= or set {ENV_BCCD_PATH} to a copy of the repository at "
            f"commit {BCCD_COMMIT}, or allow the download."
        )
    with atomic_directory(raw) as tmp:
        if local_path is not None and local_path.is_dir():
            logger.info("copying BCCD from %s", local_path)
            _copy_verified(local_path, tmp, manifest)
        elif local_path is not None:
            logger.info("extracting BCCD from %s", local_path)
            _extract_archive(local_path, tmp, manifest)
        else:
            _download_and_extract(BCCD_URL, root, tmp, manifest)


def _copy_verified(src_root, dest_root, manifest):
    """Copy the manifest files of a local folder, verifying each."""
    for name, meta in manifest["files"].items():
        src = src_root / name
        if not src.is_file():
            raise FileNotFoundError(
                f"BCCD file {name} is missing from the local copy {src_root}; "
                "expected the repository folder holding BCCD/ and LICENSE, at "
                f"commit {BCCD_COMMIT}."
            )
        with open(src, "rb") as f:
            _write_verified(f, dest_root / name, name, meta, src_root)


def _download_and_extract(url, root, dest, manifest):
    """Download ``url`` to a temporary file in ``root`` and extract it."""
    for stale in root.glob(".download-*"):
        stale.unlink(missing_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".download-", suffix=".archive", dir=root)
    archive = Path(tmp_name)
    try:
        logger.info("downloading BCCD from %s", url)
        request = urllib.request.Request(
            url, headers={"User-Agent": f"skcells/{__version__}"}
        )
        n_bytes = 0
        with (
            os.fdopen(fd, "wb") as out,
            urllib.request.urlopen(request, timeout=60) as response,
        ):
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                n_bytes += len(chunk)
        logger.info("downloaded %.1f MB", n_bytes / 1e6)
        _extract_archive(archive, dest, manifest)
    finally:
        archive.unlink(missing_ok=True)


def _archive_members(archive):
    """List ``(name, kind, link_target, opener)`` for a zip or tar archive.

    ``kind`` is one of ``"file"``, ``"dir"``, ``"symlink"``, ``"hardlink"``
    or ``"other"``; ``opener()`` returns a binary file object for files.
    The archive stays open for as long as the returned context is used.
    """
    if zipfile.is_zipfile(archive):
        zf = zipfile.ZipFile(archive)
        members = []
        for info in zf.infolist():
            mode = info.external_attr >> 16
            if info.is_dir():
                kind, link = "dir", None
            elif stat.S_ISLNK(mode):
                kind, link = "symlink", zf.read(info).decode("utf-8", "replace")
            elif stat.S_IFMT(mode) not in (0, stat.S_IFREG):
                kind, link = "other", None
            else:
                kind, link = "file", None
            members.append((info.filename, kind, link, lambda i=info: zf.open(i)))
        return zf, members
    if tarfile.is_tarfile(archive):
        tf = tarfile.open(archive)
        members = []
        for info in tf.getmembers():
            if info.isfile():
                kind = "file"
            elif info.isdir():
                kind = "dir"
            elif info.issym():
                kind = "symlink"
            elif info.islnk():
                kind = "hardlink"
            else:
                kind = "other"
            link = info.linkname if kind in ("symlink", "hardlink") else None
            members.append((info.name, kind, link, lambda i=info: tf.extractfile(i)))
        return tf, members
    raise ValueError(
        f"{archive} is neither a zip nor a tar archive; expected the GitHub "
        f"archive of BCCD_Dataset at commit {BCCD_COMMIT}."
    )


def _unsafe_reason(name, kind, link):
    """Return why an archive member could escape the target, or None."""
    reason = _unsafe_path(name)
    if reason:
        return f"its name {reason}"
    if kind == "other":
        return "it is neither a regular file, a folder nor a link"
    if kind in ("symlink", "hardlink"):
        if not link or _unsafe_path(link) not in (None, "contains '..'"):
            return f"it is a {kind} to {link!r}"
        # Symlinks resolve from the member's folder, hard links from the root.
        base = PurePosixPath(name).parent if kind == "symlink" else PurePosixPath()
        target = os.path.normpath((base / link).as_posix())
        if target == ".." or target.startswith("../"):
            return f"it is a {kind} to {link!r}, outside the archive"
    return None


def _unsafe_path(path):
    """Return why a member path is unsafe on any platform, or None."""
    if "\\" in path or "\x00" in path:
        return "contains a backslash or NUL"
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        return "is an absolute path"
    if ".." in PurePosixPath(path).parts:
        return "contains '..'"
    return None


def _extract_archive(archive, dest, manifest):
    """Safely extract the manifest files of an archive into ``dest``.

    Every member is checked before anything is written: a name with ``..``,
    an absolute name, a link resolving outside the archive or a special file
    rejects the whole archive.  Only regular files listed in the manifest
    are written, each verified against its size and sha256; members outside
    the manifest (other upstream files) are skipped.
    """
    try:
        _extract_members(archive, dest, manifest)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as exc:
        raise ValueError(f"archive {archive} is damaged or truncated: {exc}.") from exc


def _extract_members(archive, dest, manifest):
    """Body of :func:`_extract_archive`, without the error translation."""
    handle, members = _archive_members(archive)
    with handle:
        for name, kind, link, _ in members:
            reason = _unsafe_reason(name, kind, link)
            if reason:
                raise ValueError(
                    f"unsafe member {name!r} in archive {archive}: {reason}; "
                    "refusing to extract it."
                )
        # GitHub archives wrap everything in one "<repo>-<commit>/" folder.
        names = [PurePosixPath(m[0]).parts for m in members]
        tops = {parts[0] for parts in names if parts}
        strip = len(tops) == 1 and all(
            len(parts) > 1 or kind == "dir"
            for parts, (_, kind, _, _) in zip(names, members)
        )
        expected = manifest["files"]
        seen = set()
        for parts, (name, kind, _link, opener) in zip(names, members):
            rel = "/".join(parts[1:] if strip else parts)
            if rel not in expected:
                continue
            if kind != "file":
                raise ValueError(
                    f"member {name!r} in archive {archive} is a {kind}, expected "
                    "a regular file."
                )
            if rel in seen:
                raise ValueError(f"member {name!r} occurs twice in archive {archive}.")
            seen.add(rel)
            with opener() as src:
                _write_verified(src, dest / rel, rel, expected[rel], archive)
    missing = sorted(set(expected) - seen)
    if missing:
        raise ValueError(
            f"archive {archive} lacks {len(missing)} BCCD file(s) of commit "
            f"{BCCD_COMMIT}, e.g. {missing[0]}."
        )


# --------------------------------------------------------------------------
# Processed cache


def _read_split(path):
    """Read an ImageSets list, one image id a line."""
    ids = path.read_text(encoding="utf-8").split()
    for image_id in ids:
        if not _IMAGE_ID.fullmatch(image_id):
            raise ValueError(f"unexpected image id {image_id!r} in {path}.")
    return ids


def _parse_annotation(path):
    """Parse one Pascal VOC annotation file.

    DOCTYPE and ENTITY declarations are refused (no entity expansion), and
    any XML error is reported with the file name.

    Parameters
    ----------
    path : path-like
        The ``.xml`` file.

    Returns
    -------
    boxes : ndarray of shape (n_objects, 4), dtype int32
        ``(xmin, ymin, xmax, ymax)`` per ``<object>``.
    labels : ndarray of shape (n_objects,), dtype int8
        Index of each object's class in :data:`CLASSES`.
    """
    path = Path(path)
    blob = path.read_bytes()
    if re.search(rb"<!\s*(DOCTYPE|ENTITY)", blob, flags=re.IGNORECASE):
        raise ValueError(
            f"malformed annotation {path}: DOCTYPE/ENTITY declarations are not "
            "accepted in BCCD annotations."
        )
    try:
        root = ET.fromstring(blob)
    except ET.ParseError as exc:
        raise ValueError(f"malformed annotation {path}: {exc}.") from None
    if root.tag != "annotation":
        raise ValueError(
            f"malformed annotation {path}: root element is <{root.tag}>, "
            "expected <annotation>."
        )
    boxes, labels = [], []
    for k, obj in enumerate(root.findall("object")):
        name = (obj.findtext("name") or "").strip()
        if name not in CLASSES:
            raise ValueError(
                f"malformed annotation {path}: object {k} has class {name!r}, "
                f"expected one of {CLASSES}."
            )
        coords = []
        for tag in ("xmin", "ymin", "xmax", "ymax"):
            text = obj.findtext(f"bndbox/{tag}")
            try:
                coords.append(int(round(float(text))))
            except (TypeError, ValueError):
                raise ValueError(
                    f"malformed annotation {path}: object {k} has "
                    f"bndbox/{tag}={text!r}, expected a number."
                ) from None
        boxes.append(coords)
        labels.append(CLASSES.index(name))
    return (
        np.array(boxes, dtype=np.int32).reshape(-1, 4),
        np.array(labels, dtype=np.int8),
    )


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
    """Decode the images and annotations of ``raw`` into ``.npy`` files."""
    base = raw / "BCCD"
    split_of = {}
    for split in SPLITS:
        for image_id in _read_split(base / "ImageSets" / "Main" / f"{split}.txt"):
            if image_id in split_of:
                raise ValueError(
                    f"image {image_id} is listed in both {split_of[image_id]} and "
                    f"{split} in {base / 'ImageSets' / 'Main'}."
                )
            split_of[image_id] = split
    ids = sorted(split_of)
    logger.info("decoding %d BCCD images", len(ids))
    images = np.lib.format.open_memmap(
        out / "images.npy", mode="w+", dtype=np.uint8, shape=(len(ids), *IMAGE_SHAPE)
    )
    all_boxes, all_labels = [], []
    for i, image_id in enumerate(ids):
        images[i] = _decode_image(base / "JPEGImages" / f"{image_id}.jpg")
        boxes, labels = _parse_annotation(base / "Annotations" / f"{image_id}.xml")
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
    write_manifest(
        out,
        _PROCESSED_FILES,
        format=_CACHE_FORMAT,
        commit=BCCD_COMMIT,
        n_images=len(ids),
    )


def _load_processed(folder):
    """Return the cached arrays, or None if the cache is absent or damaged."""
    if not (folder / "manifest.json").is_file():
        return None
    manifest = verify_manifest(folder)
    if (
        manifest is None
        or manifest.get("format") != _CACHE_FORMAT
        or manifest.get("commit") != BCCD_COMMIT
        or set(manifest["files"]) != set(_PROCESSED_FILES)
    ):
        logger.warning("BCCD cache %s is damaged or outdated; rebuilding it", folder)
        return None
    arrays = {"images": np.load(folder / "images.npy", mmap_mode="r")}
    for name in _PROCESSED_FILES[1:]:
        arrays[name[:-4]] = np.load(folder / name, allow_pickle=False)
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

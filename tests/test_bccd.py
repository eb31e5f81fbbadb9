"""Tests for fetch_bccd (real in-vitro smears) and estimate_blur.

Most tests run twice: on the six-image subset shipped in tests/data/bccd
(loaded with ``partial=True``, so they run on any clone) and on the full copy
of the repository where this machine has one (see ``bccd_full`` in
conftest.py); the full-set numbers (364 images, 4155 red cells, ...) are
checked on the latter.
"""

import functools
import hashlib
import http.server
import io
import json
import logging
import os
import re
import shutil
import tarfile
import threading
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from skcells.curriculum import difficulty_score
from skcells.datasets import _archive, _bccd, _voc, degrade, estimate_blur, fetch_bccd
from skcells.utils import sha256_file, verify_manifest

PREFIX = f"BCCD_Dataset-{_bccd.BCCD_COMMIT}"
# Two images of the shipped subset, also in the full set.
JPG = "BCCD/JPEGImages/BloodImage_00087.jpg"
XML = "BCCD/Annotations/BloodImage_00065.xml"


@dataclass
class Source:
    """A local copy of BCCD and what the tests expect from it."""

    name: str
    root: Path
    partial: bool
    n_images: int
    splits: dict  # images per subset
    objects: list  # RBC, WBC, platelets over all images

    def fetch(self, **kwargs):
        """fetch_bccd from this copy (``local_path=None`` to leave it out)."""
        kwargs = {"local_path": self.root, **kwargs}
        return fetch_bccd(partial=self.partial, **kwargs)

    @property
    def ids(self):
        return sorted(p.stem for p in self.root.glob("BCCD/JPEGImages/*.jpg"))


@pytest.fixture(scope="module", params=["subset", "full"])
def source(request):
    if request.param == "subset":
        splits = {"train": 2, "val": 2, "test": 2, "trainval": 4}
        return Source("subset", request.getfixturevalue("bccd_subset"), True, 6,
                      splits, [23, 7, 5])  # fmt: skip
    splits = {"train": 205, "val": 87, "test": 72, "trainval": 292}
    return Source("full", request.getfixturevalue("bccd_full"), False, 364,
                  splits, [4155, 372, 361])  # fmt: skip


@pytest.fixture(autouse=True)
def _no_bccd_env(monkeypatch):
    """Keep a user's SKCELLS_BCCD_PATH out of the tests."""
    monkeypatch.delenv(_bccd.ENV_BCCD_PATH, raising=False)


@pytest.fixture(scope="module")
def bccd_home(tmp_path_factory, source):
    """A data home holding the BCCD cache, built once from the source."""
    home = tmp_path_factory.mktemp(f"bccd_home_{source.name}")
    source.fetch(data_home=home)
    return home


@pytest.fixture(scope="module")
def bunch(bccd_home, source):
    return source.fetch(data_home=bccd_home, download_if_missing=False)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def serve(tmp_path, monkeypatch):
    """Serve ``tmp_path`` over HTTP on 127.0.0.1 from a thread.

    ``serve(path)`` points the download URL at the file ``path``, so the
    download goes through ``sklearn.datasets.fetch_file`` as it would from
    GitHub.  The server is shut down at teardown.
    """
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "127.0.0.1")

    def point(path):
        rel = Path(path).relative_to(tmp_path).as_posix()
        url = f"http://127.0.0.1:{server.server_port}/{rel}"
        monkeypatch.setattr(_bccd, "BCCD_URL", url)
        return url

    yield point
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def _xml_counts(path):
    """Count <object> classes with a regex, independently of the fetcher."""
    text = path.read_text()
    names = re.findall(r"<object>\s*<name>\s*([^<]*?)\s*</name>", text)
    assert len(names) == text.count("<object>")
    return [names.count(c) for c in ("RBC", "WBC", "Platelets")]


def _leftovers(home):
    """Every path under the data home's bccd folder except the lock files.

    A partial copy's cache folder ``bccd/partial-<key>`` and its lock sit in
    that folder: the lock and the (empty) folder do not count.
    """
    root = Path(home) / "bccd"
    return sorted(
        str(p.relative_to(home))
        for p in (root.rglob("*") if root.exists() else [])
        if not (
            p.name.startswith("partial-")
            and (p.suffix == ".lock" or not any(p.iterdir()))
        )
    )


def _shadow_copy(source, dst, tamper=None):
    """Mirror a copy with hard links; copy and alter the ``tamper`` files.

    (Symbolic links would be refused: only regular files are read.)

    ``tamper`` maps a relative path to a function ``bytes -> bytes | None``
    (None deletes the file).
    """
    tamper = tamper or {}
    for src in source.rglob("*"):
        if not src.is_file():
            continue
        rel = src.relative_to(source).as_posix()
        out = dst / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        if rel in tamper:
            blob = tamper[rel](src.read_bytes())
            if blob is not None:
                out.write_bytes(blob)
        else:
            try:
                os.link(src, out)
            except OSError:  # another file system
                shutil.copyfile(src, out)
    return dst


def _github_zip(source, path, tamper=None, extra=()):
    """Zip a copy the way GitHub archives a commit.

    ``extra`` is a sequence of ``(member_name, bytes)`` added verbatim.
    """
    tamper = tamper or {}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(PREFIX + "/", b"")
        for src in sorted(source.rglob("*")):
            if src.is_file() and src.name not in ("SOURCE.md", ".gitattributes"):
                rel = src.relative_to(source).as_posix()
                blob = src.read_bytes()
                zf.writestr(f"{PREFIX}/{rel}", tamper.get(rel, lambda b: b)(blob))
        zf.writestr(f"{PREFIX}/scripts/split.py", b"print('upstream helper')\n")
        for name, blob in extra:
            zf.writestr(name, blob)
    return path


def _flip_byte(blob):
    i = len(blob) // 2
    return blob[:i] + bytes([blob[i] ^ 0xFF]) + blob[i + 1 :]


def _manifest():
    """The sha256 manifest shipped with skcells, read as package data."""
    text = resources.files("skcells.datasets").joinpath("data/bccd_manifest.json")
    return json.loads(text.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------
# Content of the dataset


def test_fetch_bccd_images_and_metadata(source, bunch):
    n = source.n_images
    assert bunch.images.shape == (n, 3, 480, 640)
    assert bunch.data is bunch.images  # the sklearn name and the historic one
    assert bunch.images.dtype == np.uint8
    assert isinstance(bunch.images, np.memmap)
    assert not bunch.images.flags.writeable
    for key in ("rbc_count", "wbc_count", "platelet_count", "target", "split"):
        assert bunch[key].shape == (n,)
    assert len(bunch.boxes) == len(bunch.box_labels) == n
    assert list(bunch.image_id) == sorted(bunch.image_id) == source.ids
    assert len(set(bunch.image_id)) == n
    assert "BCCD" in bunch.DESCR and _bccd.BCCD_COMMIT in bunch.DESCR
    # The decoded pixels are the JPEG's, channel first.
    from PIL import Image

    for k in (0, min(200, n - 1)):
        path = source.root / "BCCD/JPEGImages" / f"{bunch.image_id[k]}.jpg"
        with Image.open(path) as im:
            np.testing.assert_array_equal(
                bunch.images[k], np.asarray(im).transpose(2, 0, 1)
            )


def test_counts_equal_objects_in_xml(source, bunch):
    n = source.n_images
    expected = np.array(
        [
            _xml_counts(source.root / "BCCD/Annotations" / f"{image_id}.xml")
            for image_id in bunch.image_id
        ]
    )
    np.testing.assert_array_equal(bunch.rbc_count, expected[:, 0])
    np.testing.assert_array_equal(bunch.wbc_count, expected[:, 1])
    np.testing.assert_array_equal(bunch.platelet_count, expected[:, 2])
    assert expected.sum(axis=0).tolist() == source.objects
    for i in range(n):
        labels = bunch.box_labels[i]
        assert bunch.boxes[i].shape == (labels.size, 4)
        assert [np.sum(labels == c) for c in ("RBC", "WBC", "Platelets")] == list(
            expected[i]
        )
    # Boxes are the XML's coordinates, in file order.
    xml = source.root / "BCCD/Annotations" / f"{bunch.image_id[0]}.xml"
    coords = re.findall(
        r"<xmin>(\d+)</xmin>\s*<ymin>(\d+)</ymin>\s*<xmax>(\d+)</xmax>\s*"
        r"<ymax>(\d+)</ymax>",
        xml.read_text(),
    )
    np.testing.assert_array_equal(bunch.boxes[0], np.array(coords, dtype=int))


def test_splits_match_imagesets(source, bunch):
    for split, n in (("train", 205), ("val", 87), ("test", 72)):
        path = source.root / f"BCCD/ImageSets/Main/{split}.txt"
        listed = path.read_text().split()
        assert len(listed) == n  # the upstream lists, also in the subset
        held = set(listed) & set(source.ids)
        assert set(bunch.image_id[bunch.split == split]) == held
        assert len(held) == source.splits[split]
    assert set(bunch.split) == {"train", "val", "test"}


@pytest.mark.parametrize(
    "target, key",
    [("rbc", "rbc_count"), ("wbc", "wbc_count"), ("platelets", "platelet_count")],
)
def test_target_is_count_above_mean(source, bccd_home, bunch, target, key):
    data = source.fetch(data_home=bccd_home, target=target, download_if_missing=False)
    assert data.threshold == pytest.approx(bunch[key].mean())
    np.testing.assert_array_equal(data.target, (bunch[key] > bunch[key].mean()))
    assert list(data.target_names) == ["low", "high"]


@pytest.mark.parametrize("subset", ["train", "val", "test", "trainval"])
def test_subsets_and_return_X_y(source, bccd_home, bunch, subset):
    n = source.splits[subset]
    data = source.fetch(data_home=bccd_home, subset=subset, download_if_missing=False)
    keep = np.isin(bunch.split, ["train", "val"] if subset == "trainval" else [subset])
    assert data.images.shape == (n, 3, 480, 640)
    assert data.data is data.images
    assert len(data.boxes) == n
    np.testing.assert_array_equal(data.image_id, bunch.image_id[keep])
    np.testing.assert_array_equal(data.rbc_count, bunch.rbc_count[keep])
    # Labels keep the threshold of the full set, so subsets agree.
    np.testing.assert_array_equal(data.target, bunch.target[keep])
    np.testing.assert_array_equal(
        data.images[-1], bunch.images[np.flatnonzero(keep)[-1]]
    )
    j = np.flatnonzero(keep)[0]
    np.testing.assert_array_equal(data.boxes[0], bunch.boxes[j])
    if subset == "test":  # return_X_y once: each call copies the images
        X, y = source.fetch(
            data_home=bccd_home,
            subset=subset,
            return_X_y=True,
            download_if_missing=False,
        )
        assert X.shape == (n, 3, 480, 640)
        np.testing.assert_array_equal(X[:2], data.images[:2])
        np.testing.assert_array_equal(y, data.target)


# --------------------------------------------------------------------------
# Cache behaviour


def test_cache_reuse_needs_no_source(source, bccd_home, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the network must not be used")

    monkeypatch.setattr(_bccd, "fetch_file", no_network)
    # A partial copy's cache is found through the copy's file names, so the
    # copy is named (but not read again); the full set needs nothing.
    local = source.root if source.partial else None
    data = source.fetch(
        data_home=bccd_home, local_path=local, download_if_missing=False
    )
    assert isinstance(data.images, np.memmap)
    assert data.rbc_count.sum() == source.objects[0]
    assert not any(
        p.name.startswith((".tmp-", ".old-")) for p in (bccd_home / "bccd").rglob("*")
    )


def test_env_var_points_to_local_copy(source, data_home, tmp_path, monkeypatch):
    # The variable is consulted (here pointing at a tampered copy, so the
    # test stops at verification and does not decode the images).
    copy = _shadow_copy(
        source.root, tmp_path / "copy", {XML: lambda b: b.replace(b"RBC", b"WBC")}
    )
    monkeypatch.setenv(_bccd.ENV_BCCD_PATH, str(copy))
    with pytest.raises(ValueError, match=r"BloodImage_00065\.xml.*sha256"):
        source.fetch(local_path=None)
    assert _leftovers(data_home) == []


@pytest.mark.parametrize(
    "name, change, error, pattern",
    [
        (JPG, _flip_byte, ValueError, "sha256"),
        (XML, lambda b: b + b"\n", ValueError, "bytes, expected"),
        ("BCCD/ImageSets/Main/test.txt", lambda b: None, FileNotFoundError, "missing"),
        ("LICENSE", lambda b: b.replace(b"MIT", b"GPL"), ValueError, "sha256"),
    ],
)
def test_tampered_local_copy_is_rejected(
    source, tmp_path, name, change, error, pattern
):
    copy = _shadow_copy(source.root, tmp_path / "copy", {name: change})
    home = tmp_path / "home"
    with pytest.raises(error, match=pattern) as info:
        source.fetch(data_home=home, local_path=copy)
    assert Path(name).name in str(info.value)
    assert _leftovers(home) == []


def test_missing_data_without_download(data_home):
    with pytest.raises(FileNotFoundError, match="download_if_missing=False") as info:
        fetch_bccd(download_if_missing=False)
    assert _bccd.ENV_BCCD_PATH in str(info.value)
    assert _leftovers(data_home) == []


def test_partial_copy_never_stands_in_for_the_full_set(bccd_subset, data_home):
    data = fetch_bccd(local_path=bccd_subset, partial=True)
    assert data.data.shape[0] == 6
    assert fetch_bccd(local_path=bccd_subset, partial=True).threshold == (
        data.threshold
    )
    with pytest.raises(FileNotFoundError, match="download_if_missing=False"):
        fetch_bccd(download_if_missing=False)
    # The folder is needed, and so is partial=True to accept it.
    with pytest.raises(ValueError, match="partial=True needs local_path"):
        fetch_bccd(partial=True)
    with pytest.raises(FileNotFoundError, match="is missing from the local copy"):
        fetch_bccd(local_path=bccd_subset, download_if_missing=False)


@pytest.mark.parametrize("drop", [JPG, XML.replace("00065", "00087")])
def test_partial_copy_needs_image_and_annotation(bccd_subset, tmp_path, drop):
    copy = _shadow_copy(bccd_subset, tmp_path / "copy", {drop: lambda b: None})
    home = tmp_path / "home"
    with pytest.raises(FileNotFoundError, match=f"{re.escape(drop)} is missing"):
        fetch_bccd(data_home=home, local_path=copy, partial=True)
    assert _leftovers(home) == []


def test_partial_copy_without_images(bccd_subset, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(bccd_subset, copy, ignore=shutil.ignore_patterns("*.jpg", "*.xml"))
    with pytest.raises(FileNotFoundError, match="holds no BCCD image"):
        fetch_bccd(data_home=tmp_path / "home", local_path=copy, partial=True)


def test_download_verifies_and_caches(bccd_full, tmp_path, serve):
    """The download path, served over HTTP from a GitHub-style archive."""
    archive = _github_zip(bccd_full, tmp_path / "bccd.zip")
    serve(archive)
    home = tmp_path / "home"
    data = fetch_bccd(data_home=home)
    assert data.images.shape == (364, 3, 480, 640)
    assert data.rbc_count.sum() == 4155
    raw = home / "bccd" / "raw"
    assert not (raw / "scripts").exists()  # files outside the manifest skipped
    assert sha256_file(raw / "LICENSE") == sha256_file(bccd_full / "LICENSE")
    assert not list((home / "bccd").glob(".download-*"))

    # A damaged processed cache is detected and rebuilt from the raw files,
    # without the network or a local copy.
    serve(tmp_path / "absent.zip")
    counts = home / "bccd" / "processed" / "counts.npy"
    counts.write_bytes(_flip_byte(counts.read_bytes()))
    rebuilt = fetch_bccd(data_home=home, download_if_missing=False)
    np.testing.assert_array_equal(rebuilt.rbc_count, data.rbc_count)
    manifest = json.loads((home / "bccd" / "processed" / "manifest.json").read_text())
    assert manifest["files"]["counts.npy"]["sha256"] == sha256_file(counts)


def test_download_of_an_incomplete_archive_is_rejected(bccd_subset, tmp_path, serve):
    """The download path on any clone: the subset's archive lacks 716 files."""
    serve(_github_zip(bccd_subset, tmp_path / "subset.zip"))
    home = tmp_path / "home"
    with pytest.raises(ValueError, match="lacks 716 of the 733 expected files"):
        fetch_bccd(data_home=home)
    assert _leftovers(home) == []
    assert not list((home / "bccd").glob(".download-*"))


def test_tampered_download_leaves_nothing(source, tmp_path, serve):
    name = "BCCD/Annotations/BloodImage_00087.xml"
    archive = _github_zip(
        source.root,
        tmp_path / "bad.zip",
        tamper={name: lambda b: b.replace(b"<name>RBC", b"<name>WBC")},
    )
    serve(archive)
    home = tmp_path / "home"
    with pytest.raises(ValueError, match=r"BloodImage_00087\.xml.*sha256"):
        fetch_bccd(data_home=home)
    assert _leftovers(home) == []


def test_zip_slip_download_is_rejected(source, tmp_path, serve):
    archive = _github_zip(
        source.root, tmp_path / "evil.zip", extra=[(f"{PREFIX}/../evil", b"pwned")]
    )
    serve(archive)
    home = tmp_path / "home"
    with pytest.raises(ValueError, match=r"unsafe member '.*\.\./evil'.*'\.\.'"):
        fetch_bccd(data_home=home)
    assert not (tmp_path / "evil").exists() and not (home / "evil").exists()
    assert _leftovers(home) == []


def test_local_tar_archive(source, tmp_path):
    archive = tmp_path / "bccd.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=1) as tf:
        tf.add(source.root / "BCCD", arcname=f"{PREFIX}/BCCD")
        tf.add(source.root / "LICENSE", arcname=f"{PREFIX}/LICENSE")
    home = tmp_path / "home"
    if source.partial:  # every member verified, then the rest found missing
        with pytest.raises(ValueError, match="lacks 716 of the 733"):
            fetch_bccd(data_home=home, local_path=archive)
        assert _leftovers(home) == []
        with pytest.raises(ValueError, match="partial=True needs .* a folder"):
            fetch_bccd(data_home=home, local_path=archive, partial=True)
        return
    data = fetch_bccd(data_home=home, local_path=archive)
    assert data.data.shape == (364, 3, 480, 640)
    # The raw cache holds every manifest file, with its digest rechecked.
    assert verify_manifest(home / "bccd" / "raw")["files"] == _manifest()["files"]


# --------------------------------------------------------------------------
# Safe extraction (tiny archives and a tiny manifest)


def _meta(blob):
    return {"sha256": hashlib.sha256(blob).hexdigest(), "size": len(blob)}


TINY = {"a.txt": b"alpha\n", "sub/b.txt": b"bravo\n"}
TINY_FILES = {k: _meta(v) for k, v in TINY.items()}


def _tar(path, members):
    """members: list of (name, type, payload_or_linkname)."""
    with tarfile.open(path, "w") as tf:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
                continue
            info.type = {
                "symlink": tarfile.SYMTYPE,
                "hardlink": tarfile.LNKTYPE,
                "fifo": tarfile.FIFOTYPE,
                "dir": tarfile.DIRTYPE,
            }[kind]
            if kind in ("symlink", "hardlink"):
                info.linkname = data
            tf.addfile(info)
    return path


def _tiny_members(prefix="repo-1/"):
    return [(prefix + k, "file", v) for k, v in TINY.items()]


def test_extract_tar_happy_path(tmp_path):
    members = [("repo-1", "dir", None), *_tiny_members()]
    members += [("repo-1/link", "symlink", "a.txt"), ("repo-1/extra.md", "file", b"x")]
    archive = _tar(tmp_path / "ok.tar", members)
    dest = tmp_path / "out"
    dest.mkdir()
    _archive.extract_verified(archive, dest, TINY_FILES)
    assert sorted(
        p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()
    ) == [
        "a.txt",
        "sub/b.txt",
    ]
    assert (dest / "sub/b.txt").read_bytes() == TINY["sub/b.txt"]
    assert not (dest / "link").exists() and not (dest / "extra.md").exists()


@pytest.mark.parametrize(
    "member, reason",
    [
        (("repo-1/../../evil", "file", b"x"), "'..'"),
        (("/tmp/evil", "file", b"x"), "absolute"),
        (("repo-1/sub/..\\..\\evil", "file", b"x"), "backslash"),
        (("repo-1/link", "symlink", "../../etc/passwd"), "outside the archive"),
        (("repo-1/link", "symlink", "/etc/passwd"), "symlink to '/etc/passwd'"),
        (("repo-1/hard", "hardlink", "../outside"), "outside the archive"),
        (("repo-1/fifo", "fifo", None), "neither a regular file"),
    ],
)
def test_extract_tar_rejects_escaping_members(tmp_path, member, reason):
    archive = _tar(tmp_path / "evil.tar", [*_tiny_members(), member])
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(ValueError, match="unsafe member") as info:
        _archive.extract_verified(archive, dest, TINY_FILES)
    assert reason in str(info.value) and repr(member[0]) in str(info.value)
    assert list(dest.iterdir()) == []  # checked before anything is written


@pytest.mark.parametrize("name", ["../evil", "/abs/evil", "C:/evil"])
def test_extract_zip_rejects_escaping_names(tmp_path, name):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for k, v in TINY.items():
            zf.writestr(k, v)
        zf.writestr(zipfile.ZipInfo(name), b"pwned")
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(ValueError, match="unsafe member"):
        _archive.extract_verified(archive, dest, TINY_FILES)
    assert list(dest.iterdir()) == []


def test_extract_zip_rejects_escaping_symlink(tmp_path):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for k, v in TINY.items():
            zf.writestr(k, v)
        info = zipfile.ZipInfo("sub/link")
        info.external_attr = (0o120777 << 16) | 0x20
        zf.writestr(info, "../../etc/passwd")
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(ValueError, match="symlink.*outside the archive"):
        _archive.extract_verified(archive, dest, TINY_FILES)


@pytest.mark.parametrize(
    "members, pattern",
    [
        (
            [("a.txt", "file", TINY["a.txt"])],
            r"lacks 1 of the 2 expected files.*sub/b\.txt",
        ),
        (
            [("a.txt", "file", TINY["a.txt"]), ("sub/b.txt", "file", b"brave\n")],
            "sha256",
        ),
        (
            [("a.txt", "file", TINY["a.txt"] * 1000), ("sub/b.txt", "file", b"b")],
            "more than",
        ),
        (
            [("a.txt", "file", TINY["a.txt"]), ("sub/b.txt", "symlink", "../a.txt")],
            "expected a regular file",
        ),
    ],
)
def test_extract_verifies_every_file(tmp_path, members, pattern):
    archive = _tar(tmp_path / "bad.tar", members)
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(ValueError, match=pattern):
        _archive.extract_verified(archive, dest, TINY_FILES)


def test_extract_rejects_damaged_zip(tmp_path):
    archive = tmp_path / "damaged.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for k, v in TINY.items():
            zf.writestr(k, v)
    blob = archive.read_bytes()
    archive.write_bytes(blob.replace(b"alpha", b"alphA", 1))  # CRC now wrong
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(ValueError, match="damaged or truncated"):
        _archive.extract_verified(archive, dest, TINY_FILES)


def test_extract_rejects_non_archive(tmp_path):
    bogus = tmp_path / "bogus.zip"
    bogus.write_bytes(b"not an archive at all")
    with pytest.raises(ValueError, match="neither a zip nor a tar"):
        _archive.extract_verified(bogus, tmp_path, TINY_FILES)


def test_manifest_is_shipped_and_complete():
    manifest = _manifest()
    assert manifest["commit"] == _bccd.BCCD_COMMIT
    files = manifest["files"]
    assert len(files) == 733
    assert sum(n.startswith("BCCD/JPEGImages/") for n in files) == 364
    assert sum(n.startswith("BCCD/Annotations/") for n in files) == 364
    assert all(re.fullmatch("[0-9a-f]{64}", m["sha256"]) for m in files.values())


def test_manifest_matches_full_copy(bccd_full):
    assert _bccd._compute_manifest(bccd_full) == _manifest()


def test_subset_is_upstream_byte_for_byte(bccd_subset):
    files = _manifest()["files"]
    shipped = [p for p in bccd_subset.rglob("*") if p.is_file()]
    names = {p.relative_to(bccd_subset).as_posix() for p in shipped} - {"SOURCE.md"}
    assert len(names) == 17 and names <= set(files)
    for name in names:
        assert sha256_file(bccd_subset / name) == files[name]["sha256"], name
    assert sum(p.stat().st_size for p in shipped) < 200_000


# --------------------------------------------------------------------------
# Annotation parsing


GOOD_XML = b"""<annotation><filename>x.jpg</filename>
<object><name>RBC</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>30</xmax>
<ymax>40</ymax></bndbox></object>
<object><name>Platelets</name><bndbox><xmin>5</xmin><ymin>6</ymin><xmax>7</xmax>
<ymax>8</ymax></bndbox></object></annotation>"""


def test_parse_annotation(tmp_path):
    path = tmp_path / "ok.xml"
    path.write_bytes(GOOD_XML)
    boxes, labels = _voc.parse_annotation(path, _bccd.CLASSES)
    np.testing.assert_array_equal(boxes, [[1, 2, 30, 40], [5, 6, 7, 8]])
    np.testing.assert_array_equal(labels, [0, 2])
    path.write_bytes(b"<annotation><filename>x.jpg</filename></annotation>")
    boxes, labels = _voc.parse_annotation(path, _bccd.CLASSES)
    assert boxes.shape == (0, 4) and labels.shape == (0,)


@pytest.mark.parametrize(
    "blob, pattern",
    [
        (GOOD_XML[:-20], "malformed annotation"),
        (
            b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "RBC">]>' + GOOD_XML,
            "DOCTYPE/ENTITY",
        ),
        (GOOD_XML.replace(b"Platelets", b"Neutrophil"), "class 'Neutrophil'"),
        (GOOD_XML.replace(b"<xmax>30</xmax>", b""), "bndbox/xmax=None"),
        (GOOD_XML.replace(b"<ymin>2</ymin>", b"<ymin>two</ymin>"), "bndbox/ymin='two'"),
        (b"<voc></voc>", "root element is <voc>"),
    ],
)
def test_parse_annotation_rejects_malformed(tmp_path, blob, pattern):
    path = tmp_path / "BloodImage_99999.xml"
    path.write_bytes(blob)
    with pytest.raises(ValueError, match=pattern) as info:
        _voc.parse_annotation(path, _bccd.CLASSES)
    assert "BloodImage_99999.xml" in str(info.value)


# --------------------------------------------------------------------------
# Parameter validation


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (
            {"target": "neutrophils"},
            ValueError,
            "target must be one of .*'neutrophils'",
        ),
        ({"target": None}, ValueError, "target must be one of"),
        ({"subset": "training"}, ValueError, "subset must be one of .*'training'"),
        ({"return_X_y": "yes"}, TypeError, "return_X_y must be a bool, got 'yes'"),
        ({"download_if_missing": 1}, TypeError, "download_if_missing must be a bool"),
        ({"partial": "yes"}, TypeError, "partial must be a bool, got 'yes'"),
        ({"partial": True}, ValueError, "partial=True needs local_path"),
        ({"local_path": 3}, TypeError, "local_path must be a str or path-like"),
        (
            {"local_path": "/no/such/bccd"},
            FileNotFoundError,
            "local_path='/no/such/bccd'",
        ),
    ],
)
def test_bad_parameters(data_home, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        fetch_bccd(**kwargs)
    assert _leftovers(data_home) == []


def test_env_var_must_exist(data_home, monkeypatch):
    monkeypatch.setenv(_bccd.ENV_BCCD_PATH, "/no/such/bccd")
    with pytest.raises(FileNotFoundError, match=_bccd.ENV_BCCD_PATH):
        fetch_bccd()
    assert _leftovers(data_home) == []


# --------------------------------------------------------------------------
# estimate_blur


def _texture(n, size=96, seed=0):
    """Random grey textures with structure a few pixels wide."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, 1, size, size), dtype=np.uint8)
    return degrade(x, blur=1, noise=0.0)


def test_estimate_blur_ranks_known_blur_on_textures():
    sharp = _texture(3)
    blurs = np.arange(11)
    for img in sharp:
        est = estimate_blur(degrade(np.repeat(img[None], 11, 0), blur=blurs, noise=0.0))
        assert np.all(np.diff(est) > 0), est


@pytest.mark.parametrize("noise", [0.0, 0.05, 0.1])
def test_estimate_blur_ranks_degraded_bccd(source, bunch, noise):
    blurs = np.arange(11)
    for k in (0, 150, 300) if source.n_images == 364 else (0, 2, 4):
        series = degrade(
            np.repeat(bunch.images[k : k + 1], 11, axis=0),
            blur=blurs,
            noise=noise,
            random_state=k,
        )
        est = estimate_blur(series)
        if noise == 0:
            assert np.all(np.diff(est) > 0), est
        else:
            assert spearmanr(blurs, est)[0] >= 0.95, est


def test_estimate_blur_is_not_biased_by_white_noise():
    blurred = degrade(_texture(4, size=128), blur=3, noise=0.0)
    clean = estimate_blur(blurred)
    noisy = estimate_blur(degrade(blurred, blur=0, noise=0.05, random_state=0))
    np.testing.assert_allclose(noisy, clean, rtol=0.05)


def test_estimate_blur_layouts_and_invariances():
    grey = degrade(_texture(4), blur=[0, 2, 4, 6], noise=0.0)
    ref = estimate_blur(grey[:, 0])
    # Grey (n, H, W), one channel, equal RGB channels and affine intensity
    # changes all give the same value.
    np.testing.assert_allclose(estimate_blur(grey), ref)
    np.testing.assert_allclose(estimate_blur(np.repeat(grey, 3, axis=1)), ref)
    np.testing.assert_allclose(estimate_blur(0.5 * grey.astype(float) + 20.0), ref)
    # A clip of identical frames equals its frame; the frame average is used.
    clip = np.repeat(grey[:, None], 5, axis=1)
    np.testing.assert_allclose(estimate_blur(clip), ref)
    # Float input is not modified in place.
    floats = grey.astype(np.float64)
    before = floats.copy()
    estimate_blur(floats)
    np.testing.assert_array_equal(floats, before)


def test_estimate_blur_edge_cases(caplog):
    flat = np.full((1, 32, 32), 7, dtype=np.uint8)
    with caplog.at_level(logging.WARNING, logger="skcells.datasets._blur"):
        assert np.isnan(estimate_blur(flat, max_lag=4))[0]
    assert "constant" in caplog.text
    rng = np.random.default_rng(0)
    white = rng.normal(size=(4, 128, 128))
    np.testing.assert_array_equal(estimate_blur(white), 0.0)


def test_estimate_blur_feeds_difficulty_score():
    imgs = degrade(np.repeat(_texture(1), 4, 0), blur=[0, 3, 6, 9], noise=0.0)
    est = estimate_blur(imgs)
    d = difficulty_score(est, np.zeros(4), alpha=1.0, max_blur=est.max())
    assert np.all(np.diff(d) > 0) and d.max() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "images, kwargs, error, pattern",
    [
        (np.zeros((4, 4)), {}, ValueError, "images must have shape"),
        (
            np.zeros((1, 2, 16, 16)),
            {},
            ValueError,
            "1 \\(grey\\) or 3 \\(RGB\\) channels",
        ),
        (np.zeros((0, 16, 16)), {}, ValueError, "must not be empty"),
        (np.full((1, 16, 16), np.nan), {}, ValueError, "finite"),
        (np.zeros((1, 16, 16), dtype=bool), {}, TypeError, "dtype bool"),
        (np.array([[["a"]]]), {}, TypeError, "real numbers"),
        (np.zeros((1, 16, 16)), {"max_lag": 1}, ValueError, "max_lag must be .*got 1"),
        (np.zeros((1, 16, 16)), {"max_lag": 16}, ValueError, r"\[2, 15\].*got 16"),
        (
            np.zeros((1, 16, 16)),
            {"max_lag": 2.5},
            TypeError,
            "max_lag must be an int",
        ),
    ],
)
def test_estimate_blur_bad_input(images, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        estimate_blur(images, **kwargs)

"""Tests for fetch_bccd (real in-vitro smears) and estimate_blur."""

import io
import json
import logging
import re
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from skcells.curriculum import difficulty_score
from skcells.datasets import _bccd, degrade, estimate_blur, fetch_bccd
from skcells.utils import sha256_file

BCCD_ROOT = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "BCCD_Dataset"
).resolve()
needs_bccd = pytest.mark.skipif(
    not (BCCD_ROOT / "BCCD" / "JPEGImages").is_dir(),
    reason=f"the shared BCCD copy is not at {BCCD_ROOT} (checkout without ../shared)",
)
PREFIX = f"BCCD_Dataset-{_bccd.BCCD_COMMIT}"


@pytest.fixture(autouse=True)
def _no_bccd_env(monkeypatch):
    """Keep a user's SKCELLS_BCCD_PATH out of the tests."""
    monkeypatch.delenv(_bccd.ENV_BCCD_PATH, raising=False)


@pytest.fixture(scope="module")
def bccd_home(tmp_path_factory):
    """A data home holding the BCCD cache, built once from the shared copy."""
    if not (BCCD_ROOT / "BCCD" / "JPEGImages").is_dir():
        pytest.skip(f"the shared BCCD copy is not at {BCCD_ROOT}")
    home = tmp_path_factory.mktemp("bccd_home")
    fetch_bccd(data_home=home, local_path=BCCD_ROOT)
    return home


@pytest.fixture(scope="module")
def bunch(bccd_home):
    return fetch_bccd(data_home=bccd_home, download_if_missing=False)


def _xml_counts(path):
    """Count <object> classes with a regex, independently of the fetcher."""
    text = path.read_text()
    names = re.findall(r"<object>\s*<name>\s*([^<]*?)\s*</name>", text)
    assert len(names) == text.count("<object>")
    return [names.count(c) for c in ("RBC", "WBC", "Platelets")]


def _leftovers(home):
    """Every path under the data home's bccd folder except the lock file."""
    root = Path(home) / "bccd"
    return (
        sorted(str(p.relative_to(home)) for p in root.rglob("*"))
        if root.exists()
        else []
    )


def _shadow_copy(dst, tamper=None):
    """Mirror the shared copy with symlinks; copy and alter the ``tamper`` files.

    ``tamper`` maps a relative path to a function ``bytes -> bytes | None``
    (None deletes the file).
    """
    tamper = tamper or {}
    for src in BCCD_ROOT.rglob("*"):
        if not src.is_file():
            continue
        rel = src.relative_to(BCCD_ROOT).as_posix()
        out = dst / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        if rel in tamper:
            blob = tamper[rel](src.read_bytes())
            if blob is not None:
                out.write_bytes(blob)
        else:
            out.symlink_to(src)
    return dst


def _github_zip(path, tamper=None, extra=()):
    """Zip the shared copy the way GitHub archives a commit.

    ``extra`` is a sequence of ``(member_name, bytes)`` added verbatim.
    """
    tamper = tamper or {}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(PREFIX + "/", b"")
        for src in sorted(BCCD_ROOT.rglob("*")):
            if src.is_file() and src.name != "SOURCE.md":
                rel = src.relative_to(BCCD_ROOT).as_posix()
                blob = src.read_bytes()
                zf.writestr(f"{PREFIX}/{rel}", tamper.get(rel, lambda b: b)(blob))
        zf.writestr(f"{PREFIX}/scripts/split.py", b"print('upstream helper')\n")
        for name, blob in extra:
            zf.writestr(name, blob)
    return path


def _flip_byte(blob):
    i = len(blob) // 2
    return blob[:i] + bytes([blob[i] ^ 0xFF]) + blob[i + 1 :]


# --------------------------------------------------------------------------
# Content of the dataset


@needs_bccd
def test_fetch_bccd_images_and_metadata(bunch):
    assert bunch.images.shape == (364, 3, 480, 640)
    assert bunch.images.dtype == np.uint8
    assert isinstance(bunch.images, np.memmap)
    assert not bunch.images.flags.writeable
    for key in ("rbc_count", "wbc_count", "platelet_count", "target", "split"):
        assert bunch[key].shape == (364,)
    assert len(bunch.boxes) == len(bunch.box_labels) == 364
    assert list(bunch.image_id) == sorted(bunch.image_id)
    assert len(set(bunch.image_id)) == 364
    assert "BCCD" in bunch.DESCR and _bccd.BCCD_COMMIT in bunch.DESCR
    # The decoded pixels are the JPEG's, channel first.
    from PIL import Image

    for k in (0, 200):
        with Image.open(
            BCCD_ROOT / "BCCD/JPEGImages" / f"{bunch.image_id[k]}.jpg"
        ) as im:
            np.testing.assert_array_equal(
                bunch.images[k], np.asarray(im).transpose(2, 0, 1)
            )


@needs_bccd
def test_counts_equal_objects_in_xml(bunch):
    expected = np.array(
        [
            _xml_counts(BCCD_ROOT / "BCCD/Annotations" / f"{image_id}.xml")
            for image_id in bunch.image_id
        ]
    )
    np.testing.assert_array_equal(bunch.rbc_count, expected[:, 0])
    np.testing.assert_array_equal(bunch.wbc_count, expected[:, 1])
    np.testing.assert_array_equal(bunch.platelet_count, expected[:, 2])
    assert expected.sum(axis=0).tolist() == [4155, 372, 361]
    for i in range(364):
        labels = bunch.box_labels[i]
        assert bunch.boxes[i].shape == (labels.size, 4)
        assert [np.sum(labels == c) for c in ("RBC", "WBC", "Platelets")] == list(
            expected[i]
        )
    # Boxes are the XML's coordinates, in file order.
    text = (BCCD_ROOT / "BCCD/Annotations" / f"{bunch.image_id[0]}.xml").read_text()
    coords = re.findall(
        r"<xmin>(\d+)</xmin>\s*<ymin>(\d+)</ymin>\s*<xmax>(\d+)</xmax>\s*"
        r"<ymax>(\d+)</ymax>",
        text,
    )
    np.testing.assert_array_equal(bunch.boxes[0], np.array(coords, dtype=int))


@needs_bccd
def test_splits_match_imagesets(bunch):
    for split, n in (("train", 205), ("val", 87), ("test", 72)):
        listed = (BCCD_ROOT / f"BCCD/ImageSets/Main/{split}.txt").read_text().split()
        assert len(listed) == n
        assert set(bunch.image_id[bunch.split == split]) == set(listed)
    assert set(bunch.split) == {"train", "val", "test"}


@needs_bccd
@pytest.mark.parametrize(
    "target, key",
    [("rbc", "rbc_count"), ("wbc", "wbc_count"), ("platelets", "platelet_count")],
)
def test_target_is_count_above_mean(bccd_home, bunch, target, key):
    data = fetch_bccd(data_home=bccd_home, target=target, download_if_missing=False)
    assert data.threshold == pytest.approx(bunch[key].mean())
    np.testing.assert_array_equal(data.target, (bunch[key] > bunch[key].mean()))
    assert list(data.target_names) == ["low", "high"]


@needs_bccd
@pytest.mark.parametrize(
    "subset, n", [("train", 205), ("val", 87), ("test", 72), ("trainval", 292)]
)
def test_subsets_and_return_X_y(bccd_home, bunch, subset, n):
    data = fetch_bccd(data_home=bccd_home, subset=subset, download_if_missing=False)
    keep = np.isin(bunch.split, ["train", "val"] if subset == "trainval" else [subset])
    assert data.images.shape == (n, 3, 480, 640)
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
        X, y = fetch_bccd(
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


@needs_bccd
def test_cache_reuse_needs_no_source(bccd_home, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the network must not be used")

    monkeypatch.setattr(_bccd.urllib.request, "urlopen", no_network)
    data = fetch_bccd(data_home=bccd_home, download_if_missing=False)
    assert isinstance(data.images, np.memmap)
    assert data.rbc_count.sum() == 4155
    assert not any(
        p.name.startswith((".tmp-", ".old-")) for p in (bccd_home / "bccd").iterdir()
    )


@needs_bccd
def test_env_var_points_to_local_copy(data_home, tmp_path, monkeypatch):
    # The variable is consulted (here pointing at a tampered copy, so the
    # test stops at verification and does not decode 364 images).
    name = "BCCD/Annotations/BloodImage_00010.xml"
    copy = _shadow_copy(tmp_path / "copy", {name: lambda b: b.replace(b"RBC", b"WBC")})
    monkeypatch.setenv(_bccd.ENV_BCCD_PATH, str(copy))
    with pytest.raises(ValueError, match=r"BloodImage_00010\.xml.*sha256"):
        fetch_bccd()
    assert _leftovers(data_home) == []


@needs_bccd
@pytest.mark.parametrize(
    "name, change, error, pattern",
    [
        ("BCCD/JPEGImages/BloodImage_00042.jpg", _flip_byte, ValueError, "sha256"),
        (
            "BCCD/Annotations/BloodImage_00005.xml",
            lambda b: b + b"\n",
            ValueError,
            "bytes, expected",
        ),
        ("BCCD/ImageSets/Main/test.txt", lambda b: None, FileNotFoundError, "missing"),
        ("LICENSE", lambda b: b.replace(b"MIT", b"GPL"), ValueError, "sha256"),
    ],
)
def test_tampered_local_copy_is_rejected(tmp_path, name, change, error, pattern):
    copy = _shadow_copy(tmp_path / "copy", {name: change})
    home = tmp_path / "home"
    with pytest.raises(error, match=pattern) as info:
        fetch_bccd(data_home=home, local_path=copy)
    assert Path(name).name in str(info.value)
    assert _leftovers(home) == []


def test_missing_data_without_download(data_home):
    with pytest.raises(FileNotFoundError, match="download_if_missing=False") as info:
        fetch_bccd(download_if_missing=False)
    assert _bccd.ENV_BCCD_PATH in str(info.value)
    assert _leftovers(data_home) == []


@needs_bccd
def test_download_verifies_and_caches(tmp_path, monkeypatch):
    """The download path, fed a file:// URL to a GitHub-style archive."""
    archive = _github_zip(tmp_path / "bccd.zip")
    monkeypatch.setattr(_bccd, "BCCD_URL", archive.as_uri())
    home = tmp_path / "home"
    data = fetch_bccd(data_home=home)
    assert data.images.shape == (364, 3, 480, 640)
    assert data.rbc_count.sum() == 4155
    raw = home / "bccd" / "raw"
    assert not (raw / "scripts").exists()  # files outside the manifest skipped
    assert sha256_file(raw / "LICENSE") == sha256_file(BCCD_ROOT / "LICENSE")
    assert not list((home / "bccd").glob(".download-*"))

    # A damaged processed cache is detected and rebuilt from the raw files,
    # without the network or a local copy.
    monkeypatch.setattr(_bccd, "BCCD_URL", (tmp_path / "absent.zip").as_uri())
    counts = home / "bccd" / "processed" / "counts.npy"
    counts.write_bytes(_flip_byte(counts.read_bytes()))
    rebuilt = fetch_bccd(data_home=home, download_if_missing=False)
    np.testing.assert_array_equal(rebuilt.rbc_count, data.rbc_count)
    manifest = json.loads((home / "bccd" / "processed" / "manifest.json").read_text())
    assert manifest["files"]["counts.npy"]["sha256"] == sha256_file(counts)


@needs_bccd
def test_tampered_download_leaves_nothing(tmp_path, monkeypatch):
    name = "BCCD/Annotations/BloodImage_00100.xml"
    archive = _github_zip(
        tmp_path / "bad.zip",
        tamper={name: lambda b: b.replace(b"<name>RBC", b"<name>WBC")},
    )
    monkeypatch.setattr(_bccd, "BCCD_URL", archive.as_uri())
    home = tmp_path / "home"
    with pytest.raises(ValueError, match=r"BloodImage_00100\.xml.*sha256"):
        fetch_bccd(data_home=home)
    assert _leftovers(home) == []


@needs_bccd
def test_zip_slip_download_is_rejected(tmp_path, monkeypatch):
    archive = _github_zip(
        tmp_path / "evil.zip", extra=[(f"{PREFIX}/../evil", b"pwned")]
    )
    monkeypatch.setattr(_bccd, "BCCD_URL", archive.as_uri())
    home = tmp_path / "home"
    with pytest.raises(ValueError, match=r"unsafe member '.*\.\./evil'.*'\.\.'"):
        fetch_bccd(data_home=home)
    assert not (tmp_path / "evil").exists() and not (home / "evil").exists()
    assert _leftovers(home) == []


@needs_bccd
def test_local_tar_archive(tmp_path):
    archive = tmp_path / "bccd.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=1) as tf:
        tf.add(BCCD_ROOT / "BCCD", arcname=f"{PREFIX}/BCCD")
        tf.add(BCCD_ROOT / "LICENSE", arcname=f"{PREFIX}/LICENSE")
    root = tmp_path / "home" / "bccd"
    _bccd._ensure_raw(root, archive, download_if_missing=False)
    _bccd._verify_tree(root / "raw", _bccd._package_manifest())


# --------------------------------------------------------------------------
# Safe extraction (tiny archives and a tiny manifest)


def _meta(blob):
    import hashlib

    return {"sha256": hashlib.sha256(blob).hexdigest(), "size": len(blob)}


TINY = {"a.txt": b"alpha\n", "sub/b.txt": b"bravo\n"}
TINY_MANIFEST = {"files": {k: _meta(v) for k, v in TINY.items()}}


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
    _bccd._extract_archive(archive, dest, TINY_MANIFEST)
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
        _bccd._extract_archive(archive, dest, TINY_MANIFEST)
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
        _bccd._extract_archive(archive, dest, TINY_MANIFEST)
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
        _bccd._extract_archive(archive, dest, TINY_MANIFEST)


@pytest.mark.parametrize(
    "members, pattern",
    [
        ([("a.txt", "file", TINY["a.txt"])], r"lacks 1 BCCD file.*sub/b\.txt"),
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
        _bccd._extract_archive(archive, dest, TINY_MANIFEST)


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
        _bccd._extract_archive(archive, dest, TINY_MANIFEST)


def test_extract_rejects_non_archive(tmp_path):
    bogus = tmp_path / "bogus.zip"
    bogus.write_bytes(b"not an archive at all")
    with pytest.raises(ValueError, match="neither a zip nor a tar"):
        _bccd._extract_archive(bogus, tmp_path, TINY_MANIFEST)


def test_manifest_is_shipped_and_complete():
    manifest = _bccd._package_manifest()
    assert manifest["commit"] == _bccd.BCCD_COMMIT
    files = manifest["files"]
    assert len(files) == 733
    assert sum(n.startswith("BCCD/JPEGImages/") for n in files) == 364
    assert sum(n.startswith("BCCD/Annotations/") for n in files) == 364
    assert all(re.fullmatch("[0-9a-f]{64}", m["sha256"]) for m in files.values())


@needs_bccd
def test_manifest_matches_shared_copy():
    assert _bccd._compute_manifest(BCCD_ROOT) == _bccd._package_manifest()


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
    boxes, labels = _bccd._parse_annotation(path)
    np.testing.assert_array_equal(boxes, [[1, 2, 30, 40], [5, 6, 7, 8]])
    np.testing.assert_array_equal(labels, [0, 2])
    path.write_bytes(b"<annotation><filename>x.jpg</filename></annotation>")
    boxes, labels = _bccd._parse_annotation(path)
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
        _bccd._parse_annotation(path)
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


@needs_bccd
@pytest.mark.parametrize("noise", [0.0, 0.05, 0.1])
def test_estimate_blur_ranks_degraded_bccd(bunch, noise):
    blurs = np.arange(11)
    for k in (0, 150, 300):
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

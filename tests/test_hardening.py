"""Hardening (issue 16): hostile files, tampered caches, huge numbers, resources,
offline downloads, CLI failures, races, numeric traps and consistency.

Each section is one class of the issue.  The hostile-file tests run the
fetchers in a child process with a timeout (a FIFO must never hang them) and
a Python audit hook that records every file the child opens, so that they
can assert that nothing outside the cache (or the local copy) was opened
and nothing was written before the data was verified.  Network tests only
ever use a closed port on 127.0.0.1.
"""

import contextlib
import errno
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import textwrap
import tracemalloc
import warnings
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from skcells import cli
from skcells.curriculum import scale_difficulty
from skcells.datasets import (
    GenerationParams,
    _bccd,
    _synthetic,
    difficulty_score,
    fetch_bccd,
    fetch_synthetic_blood_videos,
)
from skcells.noise import asymmetric_label_noise
from skcells.utils import (
    cap_n_jobs,
    check_free_space,
    load_npy,
    open_regular_file,
    sha256_file,
    verify_manifest,
    write_manifest,
)

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[1]
BCCD_SUBSET = Path(__file__).parent / "data" / "bccd"
TINY = {"n_videos": 3, "n_frames": 2, "size": 8, "random_state": 1}
CACHE_FILES = ("data.npy", "metadata.npz")
_TINY_ARGV = ["--n-videos", "2", "--n-frames", "2", "--size", "8"]

# The child of the audited tests: installs an audit hook that records every
# open (path, its real path at that moment, whether for writing), runs the
# code given, and prints one JSON line.
AUDITED = textwrap.dedent(
    """
    import json, os, stat, sys

    opened = []
    WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def hook(event, args):
        if event != "open" or not isinstance(args[0], (str, bytes, os.PathLike)):
            return
        path, mode, flags = args
        path = os.fsdecode(path)
        writes = bool(flags & WRITE) or (
            isinstance(mode, str) and any(c in mode for c in "wax+")
        )
        try:
            st_mode = os.lstat(path).st_mode
            special = not (stat.S_ISREG(st_mode) or stat.S_ISDIR(st_mode))
        except OSError:
            special = False
        opened.append([os.path.abspath(path), os.path.realpath(path), writes, special])

    namespace = {"result": None}
    code = sys.argv[1]
    sys.addaudithook(hook)
    try:
        exec(code, namespace)
        out = {"ok": True, "result": namespace["result"]}
    except BaseException as exc:
        out = {"ok": False, "error": type(exc).__name__, "message": str(exc)}
    out["opened"] = opened
    print(json.dumps(out, default=str))
    """
)


def _audited(code, *, env=None, timeout=120):
    """Run ``code`` in a child under the audit hook; return its JSON report.

    A child that hangs (a FIFO opened for reading) fails the test through
    the timeout instead of blocking the suite.
    """
    extra = env or {}
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop(_bccd.ENV_BCCD_PATH, None)
    env.update(extra)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    proc = subprocess.run(
        [sys.executable, "-c", AUDITED, textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _under(path, folder):
    return os.path.commonpath([os.path.abspath(path), os.path.abspath(folder)]) == (
        os.path.abspath(folder)
    )


def _closed_port():
    """A port on 127.0.0.1 that nothing listens on (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _digests(folder):
    return {
        p.name: sha256_file(p)
        for p in sorted(Path(folder).iterdir())
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An untouched tiny synthetic cache: folder name and file digests."""
    home = tmp_path_factory.mktemp("reference")
    bunch = fetch_synthetic_blood_videos(data_home=home, verbose=False, **TINY)
    return Path(bunch.cache_path).name, _digests(bunch.cache_path)


@pytest.fixture
def tiny_cache(tmp_path, reference):
    """A fresh copy of the tiny cache, a secret file outside it, and a counter."""
    home = tmp_path / "home"
    bunch = fetch_synthetic_blood_videos(data_home=home, verbose=False, **TINY)
    folder = Path(bunch.cache_path)
    del bunch
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret"
    secret.write_bytes(b"secret" * 100)
    return home, folder, secret


@pytest.fixture
def count_builds(monkeypatch):
    calls = []
    original = _synthetic._build_cache

    def wrapper(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(_synthetic, "_build_cache", wrapper)
    return calls


def _edit_manifest(folder, change):
    path = Path(folder) / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def _rewrite_manifest(folder, names=CACHE_FILES):
    """Record the (tampered) files in a manifest that matches them."""
    old = json.loads((Path(folder) / "manifest.json").read_text())
    extra = {k: v for k, v in old.items() if k != "files"}
    (Path(folder) / "manifest.json").unlink()
    write_manifest(folder, names, **extra)


# ============================================================================
# 1. Hostile files: only expected names, regular files inside, sizes capped
# ============================================================================
def _list(name, size=10, sha="0" * 64):
    def change(manifest):
        manifest["files"][name] = {"sha256": sha, "size": size}

    return change


def _attack_dev_zero(folder, secret):
    _edit_manifest(folder, _list("/dev/zero", size=10**9))


def _attack_dotdot(folder, secret):
    rel = os.path.relpath(secret, folder)
    _edit_manifest(
        folder, _list(rel, size=secret.stat().st_size, sha=sha256_file(secret))
    )


def _attack_fifo_listed(folder, secret):
    os.mkfifo(folder / "pipe")
    _edit_manifest(folder, _list("pipe", size=0))


def _attack_fifo_data(folder, secret):
    (folder / "data.npy").unlink()
    os.mkfifo(folder / "data.npy")
    _edit_manifest(folder, lambda m: m["files"]["data.npy"].update(size=0))


def _attack_symlink_data(folder, secret):
    copy = secret.parent / "data.npy"
    shutil.move(folder / "data.npy", copy)
    (folder / "data.npy").symlink_to(copy)


def _attack_symlink_dev_zero(folder, secret):
    (folder / "data.npy").unlink()
    (folder / "data.npy").symlink_to("/dev/zero")


def _attack_fifo_manifest(folder, secret):
    (folder / "manifest.json").unlink()
    os.mkfifo(folder / "manifest.json")


def _attack_symlink_manifest(folder, secret):
    copy = secret.parent / "manifest.json"
    shutil.move(folder / "manifest.json", copy)
    (folder / "manifest.json").symlink_to(copy)


def _attack_huge_manifest(folder, secret):
    text = (folder / "manifest.json").read_text()
    (folder / "manifest.json").write_text(text[:-1] + " " * (17 * 2**20) + "}")


def _attack_deep_manifest(folder, secret):
    (folder / "manifest.json").write_text("[" * 200_000 + "]" * 200_000)


HOSTILE = {
    "dev-zero-listed": _attack_dev_zero,
    "dotdot-listed": _attack_dotdot,
    "fifo-listed": _attack_fifo_listed,
    "fifo-as-data": _attack_fifo_data,
    "symlink-data-outside": _attack_symlink_data,
    "symlink-data-dev-zero": _attack_symlink_dev_zero,
    "fifo-manifest": _attack_fifo_manifest,
    "symlink-manifest-outside": _attack_symlink_manifest,
    "huge-manifest": _attack_huge_manifest,
    "deeply-nested-manifest": _attack_deep_manifest,
}


def _assert_confined(report, home, secret, forbidden=()):
    """Nothing outside ``home`` under the test folder, nor a forbidden path."""
    test_dir = secret.parent.parent
    for path, real, _, special in report["opened"]:
        if _under(path, test_dir) or path.startswith("/dev/zero"):
            assert not special, path  # no FIFO, device or link was opened
        for p in (path, real):
            assert p != "/dev/zero", report["opened"]
            assert p not in map(str, forbidden), p
            assert not _under(p, secret.parent), p
            if _under(p, test_dir):
                assert _under(p, home), p


@pytest.mark.parametrize("attack", list(HOSTILE), ids=list(HOSTILE))
def test_hostile_synthetic_cache_is_never_followed(attack, tiny_cache, reference):
    """The fetch finishes (no hang), reads nothing outside, rebuilds the cache."""
    home, folder, secret = tiny_cache
    HOSTILE[attack](folder, secret)
    outside_before = {p.name: p.read_bytes() for p in secret.parent.iterdir()}
    report = _audited(
        f"""
        from skcells.datasets import fetch_synthetic_blood_videos
        b = fetch_synthetic_blood_videos(
            data_home={str(home)!r}, verbose=False, n_jobs=1, **{TINY!r})
        result = b.cache_path
        """
    )
    assert report["ok"], report
    assert report["result"] == str(folder)
    _assert_confined(report, home, secret)
    # nothing outside the cache was written or removed
    assert {p.name: p.read_bytes() for p in secret.parent.iterdir()} == outside_before
    assert _digests(folder) == reference[1]
    assert not any(p.is_symlink() for p in folder.iterdir())


def test_cache_folder_symlinked_elsewhere_is_replaced_not_read(tiny_cache, reference):
    home, folder, secret = tiny_cache
    elsewhere = secret.parent / "cache-copy"
    shutil.move(folder, elsewhere)
    folder.symlink_to(elsewhere, target_is_directory=True)
    report = _audited(
        f"""
        from skcells.datasets import fetch_synthetic_blood_videos
        b = fetch_synthetic_blood_videos(
            data_home={str(home)!r}, verbose=False, n_jobs=1, **{TINY!r})
        result = b.cache_path
        """
    )
    assert report["ok"], report
    _assert_confined(report, home, secret)
    assert not folder.is_symlink() and _digests(folder) == reference[1]
    assert _digests(elsewhere) == reference[1]  # left alone


def test_hostile_manifests_never_make_verify_manifest_leave_the_folder(tmp_path):
    """The generic check used by every cache (``skcells tune``'s model cache too)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret"
    secret.write_bytes(b"x" * 64)
    folders = {}
    for name, attack in HOSTILE.items():
        folder = tmp_path / "caches" / name
        folder.mkdir(parents=True)
        for f in CACHE_FILES:
            (folder / f).write_bytes(f.encode() * 10)
        write_manifest(folder, CACHE_FILES, key="k")
        attack(folder, secret)
        folders[name] = str(folder)
    report = _audited(
        f"""
        from skcells.utils import verify_manifest
        result = {{
            name: [verify_manifest(f) is None,
                   verify_manifest(f, expected={list(CACHE_FILES)!r}) is None]
            for name, f in {folders!r}.items()
        }}
        """
    )
    assert report["ok"], report
    assert all(all(v) for v in report["result"].values()), report["result"]
    _assert_confined(report, tmp_path / "caches", secret)


def test_unexpected_names_are_refused_before_any_file_is_opened(tmp_path):
    for f in CACHE_FILES:
        (tmp_path / f).write_bytes(b"x")
    write_manifest(tmp_path, CACHE_FILES)
    _edit_manifest(tmp_path, _list("other.bin"))
    report = _audited(
        f"""
        from skcells.utils import verify_manifest
        result = verify_manifest({str(tmp_path)!r}, expected={list(CACHE_FILES)!r})
        """
    )
    assert report["result"] is None
    opened = {Path(p).name for p, *_ in report["opened"] if _under(p, tmp_path)}
    assert opened == {"manifest.json"}


def _symlinked_copy(source, dst, only=None):
    """Copy a folder as regular files, or as symlinks for the names in ``only``."""
    for src in source.rglob("*"):
        if not src.is_file():
            continue
        rel = src.relative_to(source).as_posix()
        out = dst / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        if only is None or rel in only:
            out.symlink_to(src)
        else:
            shutil.copyfile(src, out)
    return dst


@pytest.mark.parametrize("which", ["all", "one-image", "licence"])
def test_bccd_local_folder_of_symlinks_is_refused_before_copying(tmp_path, which):
    only = {
        "all": None,
        "one-image": {"BCCD/JPEGImages/BloodImage_00087.jpg"},
        "licence": {"LICENSE"},
    }[which]
    copy = _symlinked_copy(BCCD_SUBSET, tmp_path / "copy", only)
    home = tmp_path / "home"
    report = _audited(
        f"""
        from skcells.datasets import fetch_bccd
        fetch_bccd(data_home={str(home)!r}, local_path={str(copy)!r}, partial=True)
        """
    )
    assert not report["ok"]
    assert report["error"] == "ValueError"
    assert "symbolic link" in report["message"]
    assert "nothing was copied" in report["message"]
    for path, real, writes, _ in report["opened"]:
        assert not _under(real, BCCD_SUBSET), real  # no link was followed
        if writes:
            # only the lock (filelock probes the folder with O_TMPFILE)
            assert path.endswith(".lock") or os.path.isdir(path), path
    assert not list(home.rglob("*.jpg")) and not list(home.rglob("raw"))


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "socket"])
def test_bccd_path_pointing_at_a_special_file_fails_at_once(tmp_path, kind):
    if kind == "fifo":
        special = tmp_path / "bccd.zip"
        os.mkfifo(special)
    elif kind == "socket":
        special = tmp_path / "bccd.sock"
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(special))
    else:
        special = Path("/dev/zero")
    home = tmp_path / "home"
    report = _audited(
        f"""
        from skcells.datasets import fetch_bccd
        fetch_bccd(data_home={str(home)!r})
        """,
        env={_bccd.ENV_BCCD_PATH: str(special)},
    )
    if kind == "socket":
        sock.close()
    assert report["error"] == "ValueError", report
    assert _bccd.ENV_BCCD_PATH in report["message"]
    assert "neither a folder nor a regular file" in report["message"]
    assert all(str(special) not in (p, r) for p, r, *_ in report["opened"])


def _zip_with_link(path, link_size):
    """A GitHub-like zip whose symlink member stores ``link_size`` bytes."""
    info = zipfile.ZipInfo("BCCD_Dataset-x/evil-link")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("BCCD_Dataset-x/LICENSE", b"MIT")
        with zf.open(info, "w") as member:
            chunk = b"a" * 2**20
            for _ in range(link_size // len(chunk)):
                member.write(chunk)
    return path


def test_bccd_zip_symlink_member_is_not_read_into_memory(
    tmp_path, monkeypatch, data_home
):
    """A 1 MB zip whose link 'target' inflates to 256 MB: refused, not read."""
    archive = _zip_with_link(tmp_path / "bccd.zip", 256 * 2**20)
    assert archive.stat().st_size < 2 * 2**20
    monkeypatch.setenv(_bccd.ENV_BCCD_PATH, str(archive))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="longer than 4096 bytes"):
            fetch_bccd()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * 2**20
    assert not (data_home / "bccd" / "raw").exists()


def test_bccd_processed_cache_manifest_attacks_rebuild_from_raw(tmp_path):
    home = tmp_path / "home"
    first = fetch_bccd(data_home=home, local_path=BCCD_SUBSET, partial=True)
    counts = first.rbc_count.copy()
    del first
    (processed,) = (home / "bccd").glob("partial-*/processed")
    secret = tmp_path / "outside" / "secret"
    secret.parent.mkdir()
    secret.write_bytes(b"x" * 10)
    _attack_dotdot(processed, secret)
    (processed / "counts.npy").unlink()
    os.mkfifo(processed / "counts.npy")
    report = _audited(
        f"""
        from skcells.datasets import fetch_bccd
        b = fetch_bccd(data_home={str(home)!r}, local_path={str(BCCD_SUBSET)!r},
                       partial=True, download_if_missing=False)
        result = b.rbc_count.tolist()
        """
    )
    assert report["ok"], report
    assert report["result"] == counts.tolist()
    _assert_confined(report, home, secret)


# ============================================================================
# 2. Tampered caches whose manifest matches: validated against the parameters
# ============================================================================
def _tamper_float64(folder):
    data = np.load(folder / "data.npy")
    (folder / "data.npy").unlink()
    np.save(folder / "data.npy", data.astype(np.float64))


def _tamper_fortran(folder):
    data = np.load(folder / "data.npy")
    (folder / "data.npy").unlink()
    np.save(folder / "data.npy", np.asfortranarray(data))


def _tamper_short_data(folder):
    data = np.load(folder / "data.npy")
    (folder / "data.npy").unlink()
    np.save(folder / "data.npy", data[:-1])


def _tamper_metadata(change):
    def tamper(folder):
        with np.load(folder / "metadata.npz") as npz:
            meta = {k: npz[k] for k in npz.files}
        change(meta)
        (folder / "metadata.npz").unlink()
        np.savez(folder / "metadata.npz", **meta)

    return tamper


def _shorten(meta):
    for k in meta:
        meta[k] = meta[k][:-1]


def _object_array(meta):
    meta["noise"] = np.array([{"a": 1}] * len(meta["noise"]), dtype=object)


TAMPERED = {
    "videos-as-float64": _tamper_float64,
    "videos-fortran-order": _tamper_fortran,
    "fewer-videos": _tamper_short_data,
    "fewer-targets-than-videos": _tamper_metadata(_shorten),
    "counts-edited": _tamper_metadata(lambda m: m.update(rbc_count=m["rbc_count"] + 1)),
    "condition-out-of-range": _tamper_metadata(
        lambda m: m.update(condition=m["condition"] + 9)
    ),
    "counts-as-float": _tamper_metadata(
        lambda m: m.update(wbc_count=m["wbc_count"].astype(float))
    ),
    "extra-metadata-array": _tamper_metadata(lambda m: m.update(extra=np.zeros(3))),
    "pickled-object-array": _tamper_metadata(_object_array),
    "metadata-not-a-zip": lambda f: (f / "metadata.npz").write_bytes(b"not a zip"),
}


@pytest.mark.parametrize("tamper", list(TAMPERED), ids=list(TAMPERED))
def test_tampered_cache_with_matching_manifest_is_rebuilt(
    tamper, tiny_cache, reference, count_builds, caplog
):
    home, folder, _ = tiny_cache
    TAMPERED[tamper](folder)
    _rewrite_manifest(folder)
    assert verify_manifest(folder) is not None  # the manifest alone is satisfied
    bunch = fetch_synthetic_blood_videos(data_home=home, verbose=False, **TINY)
    assert len(count_builds) == 1
    assert bunch.data.dtype == np.uint8 and bunch.data.shape == (3, 2, 3, 8, 8)
    assert len(bunch.target) == 3
    assert _digests(bunch.cache_path) == reference[1]
    assert "rebuilding" in caplog.text


def test_data_file_symlinked_out_of_the_cache_is_rebuilt(tiny_cache, reference):
    home, folder, secret = tiny_cache
    _attack_symlink_data(folder, secret)
    bunch = fetch_synthetic_blood_videos(data_home=home, verbose=False, **TINY)
    assert not (folder / "data.npy").is_symlink()
    assert _digests(bunch.cache_path) == reference[1]
    assert (secret.parent / "data.npy").exists()  # the outside file is untouched


@settings(max_examples=12, deadline=None)
@given(
    target=st.sampled_from(["metadata.npz", "data.npy"]),
    edits=st.lists(
        st.tuples(st.integers(0, 4000), st.integers(0, 255)), min_size=1, max_size=4
    ),
    truncate=st.none() | st.integers(0, 4000),
)
def test_any_metadata_or_header_damage_is_rebuilt_never_raised(
    tmp_path_factory, reference, target, edits, truncate
):
    """Property: corrupt the metadata or the video header, record it in the
    manifest; the fetch never raises and returns the reference cache."""
    home = tmp_path_factory.mktemp("fuzz")
    bunch = fetch_synthetic_blood_videos(data_home=home, verbose=False, **TINY)
    folder = Path(bunch.cache_path)
    del bunch
    path = folder / target
    blob = bytearray(path.read_bytes())
    limit = len(blob) if target == "metadata.npz" else 128  # header of data.npy
    for offset, value in edits:
        blob[offset % limit] = value
    if truncate is not None:
        blob = blob[: truncate % len(blob)]
    path.unlink()
    path.write_bytes(bytes(blob))
    _rewrite_manifest(folder)
    bunch = fetch_synthetic_blood_videos(data_home=home, verbose=False, **TINY)
    # the videos are the reference bytes, the metadata the generator's own
    # (a damaged zip whose content still reads back whole may be kept)
    assert _digests(bunch.cache_path)["data.npy"] == reference[1]["data.npy"]
    truth = _synthetic._Config(GenerationParams(**TINY)).item_metadata(np.arange(3))
    for key in ("rbc_count", "wbc_count", "blur", "noise"):
        np.testing.assert_array_equal(bunch[key], truth[key])


@settings(max_examples=60, deadline=None)
@given(blob=st.binary(max_size=300), shape=st.sampled_from([(3,), (2, 2), (None,)]))
def test_load_npy_raises_only_value_errors(tmp_path_factory, blob, shape):
    path = tmp_path_factory.mktemp("npy") / "a.npy"
    path.write_bytes(blob)
    try:
        arr = load_npy(path, dtype=np.int64, shape=shape)
    except ValueError:
        return
    assert arr.dtype == np.int64 and len(arr.shape) == len(shape)


def test_load_npy_refuses_pickles_and_wrong_headers(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([object()] * 2), allow_pickle=True)
    with pytest.raises(ValueError, match="dtype object"):
        load_npy(tmp_path / "obj.npy", dtype="O", shape=(2,))
    np.save(tmp_path / "a.npy", np.arange(4))
    with pytest.raises(ValueError, match=r"expected dtype float64 and shape \(4,\)"):
        load_npy(tmp_path / "a.npy", dtype=np.float64, shape=(4,))
    with pytest.raises(ValueError, match="shape"):
        load_npy(tmp_path / "a.npy", dtype=np.int64, shape=(5,))
    with open(tmp_path / "a.npy", "ab") as f:
        f.write(b"trailing")
    with pytest.raises(ValueError, match="bytes, expected"):
        load_npy(tmp_path / "a.npy", dtype=np.int64, shape=(4,))


def _resave(path, change):
    np.save(path, change(np.load(path)))


BCCD_TAMPERED = {
    "counts-float": lambda f: np.save(
        f / "counts.npy", np.load(f / "counts.npy") * 1.0
    ),
    "counts-off-by-one": lambda f: np.save(
        f / "counts.npy", np.load(f / "counts.npy") + 1
    ),
    "offsets-decreasing": lambda f: np.save(
        f / "box_offsets.npy", np.load(f / "box_offsets.npy")[::-1].copy()
    ),
    "unknown-split": lambda f: np.save(
        f / "split.npy", np.array(["bogus"] * len(np.load(f / "split.npy")))
    ),
    "repeated-ids": lambda f: np.save(
        f / "image_id.npy", np.array([np.load(f / "image_id.npy")[0]] * 6)
    ),
    "unknown-class": lambda f: np.save(
        f / "box_labels.npy", np.load(f / "box_labels.npy") + 5
    ),
    "small-images": lambda f: np.save(
        f / "images.npy", np.zeros((6, 3, 4, 4), dtype=np.uint8)
    ),
}
BCCD_BAD_N = {"n-images-string": "6", "n-images-negative": -1, "n-images-huge": 10**9}


@pytest.fixture(scope="module")
def bccd_reference(tmp_path_factory):
    home = tmp_path_factory.mktemp("bccd-ref")
    data = fetch_bccd(data_home=home, local_path=BCCD_SUBSET, partial=True)
    return data.rbc_count.tolist(), data.image_id.tolist()


@pytest.mark.parametrize("tamper", [*BCCD_TAMPERED, *BCCD_BAD_N])
def test_tampered_bccd_cache_is_rebuilt(tamper, tmp_path, bccd_reference, monkeypatch):
    home = tmp_path / "home"
    fetch_bccd(data_home=home, local_path=BCCD_SUBSET, partial=True)
    (processed,) = (home / "bccd").glob("partial-*/processed")
    if tamper in BCCD_TAMPERED:
        BCCD_TAMPERED[tamper](processed)
        _rewrite_manifest(processed, [f"{a}.npy" for a in _bccd._ARRAYS])
    else:
        _edit_manifest(processed, lambda m: m.update(n_images=BCCD_BAD_N[tamper]))
    builds = []
    original = _bccd._build_processed
    monkeypatch.setattr(
        _bccd, "_build_processed", lambda *a: builds.append(1) or original(*a)
    )
    data = fetch_bccd(
        data_home=home,
        local_path=BCCD_SUBSET,
        partial=True,
        download_if_missing=False,
    )
    assert builds == [1]
    assert (data.rbc_count.tolist(), data.image_id.tolist()) == bccd_reference


# ============================================================================
# 3. Numbers beyond float32 / int64: bounded, named parameters
# ============================================================================
BOUNDED = {
    "rbc_mean": 1e5,
    "rbc_std": 1e5,
    "wbc_mean": 1e5,
    "wbc_std": 1e5,
    "step": 100.0,
    "n_videos": 10**7,
    "n_frames": 10**5,
    "size": 4096,
}


@settings(max_examples=80, deadline=None)
@given(
    name=st.sampled_from(sorted(BOUNDED)),
    factor=st.floats(min_value=1.0001, max_value=1e300),
)
def test_values_beyond_the_bounds_are_refused_by_name(name, factor):
    bound = BOUNDED[name]
    value = bound * factor
    if isinstance(bound, int):
        value = int(min(value, 2**80))
        assume(value > bound)
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        GenerationParams(**{name: value})


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(["rbc_absorbance", "wbc_absorbance", "nucleus_absorbance"]),
    value=st.floats(min_value=50.001, max_value=1.7e308),
)
def test_huge_absorbances_are_refused_by_name(name, value):
    with pytest.raises(ValueError, match=name):
        GenerationParams(**{name: (value, 0.1, 0.1)})


@settings(max_examples=60, deadline=None)
@given(
    mean=st.floats(min_value=0, max_value=1e5),
    std=st.floats(min_value=0, max_value=1e5),
)
def test_counts_within_bounds_never_overflow(mean, std):
    params = GenerationParams(
        n_videos=20, rbc_mean=mean, rbc_std=std, wbc_mean=mean, wbc_std=std
    )
    meta = _synthetic._Config(params).item_metadata(np.arange(20))
    for key in ("rbc_count", "wbc_count"):
        assert meta[key].min() >= 0
        assert meta[key].max() <= mean + 10 * std + 1


NUMBERS = (
    st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats()
    | st.fractions()
    | st.decimals(allow_nan=True)
    | st.booleans()
)


@settings(max_examples=300, deadline=None)
@given(value=NUMBERS, other=NUMBERS)
def test_checks_name_the_parameter_for_any_number(value, other):
    """Property: every check answers any number with its value or a named error
    (never numpy's 'ufunc isfinite not supported', an OverflowError or a
    warning)."""
    from skcells.utils import check_int, check_range, check_real, check_vector

    calls = (
        lambda: check_real(value, "p", low=0, high=1e5),
        lambda: check_int(value, "p", low=1, high=10**7),
        lambda: check_range((value, other), "p", low=0, high=10),
        lambda: check_range((value, other), "p", integer=True, low=0, high=10),
        lambda: check_vector((value, other), "p", length=2, low=0, total=1),
    )
    for call in calls:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                call()
            except (TypeError, ValueError) as exc:
                assert str(exc).startswith("p must be"), exc


def test_a_video_too_large_for_memory_is_refused_naming_both_sizes():
    with pytest.raises(ValueError, match=r"n_frames=1000 and size=4096.*GiB"):
        GenerationParams(n_frames=1000, size=4096)


def test_extreme_values_within_the_bounds_render_finite_frames():
    from skcells.datasets import SyntheticBloodVideos

    videos = SyntheticBloodVideos(
        **{**TINY, "n_videos": 1},
        step=100.0,
        rbc_absorbance=(50.0, 50.0, 50.0),
        background=(255.0, 255.0, 255.0),
        illumination_jitter=1.0,
    )
    frames = videos[0][0]
    assert frames.dtype == np.uint8 and frames.shape == (2, 3, 8, 8)


@pytest.mark.parametrize("width", [np.inf, 1e300, 17.0])
def test_network_widths_are_bounded(width):
    from skcells.models import X3D, make_model

    with pytest.raises(ValueError, match="width"):
        make_model("cnn9", 2, width=width)
    with pytest.raises(ValueError, match="width_factor"):
        X3D(2, width_factor=width)


# ============================================================================
# 4. Resource limits: free space first, workers capped
# ============================================================================
def test_generation_too_large_for_the_disk_fails_before_any_work(
    data_home, monkeypatch
):
    calls = []
    monkeypatch.setattr(
        _synthetic._Config, "item_metadata", lambda *a: calls.append(a) or 1 / 0
    )
    with pytest.raises(OSError, match="n_videos, n_frames or size") as info:
        fetch_synthetic_blood_videos(n_videos=10**7, n_frames=40, size=4096)
    assert info.value.errno == errno.ENOSPC
    assert "GB" in str(info.value)
    assert calls == []  # not even the metadata was computed
    parent = data_home / "synthetic_blood_videos"
    assert not [p for p in parent.iterdir() if not p.name.endswith(".lock")]


def test_bccd_checks_free_space_before_copying(tmp_path, monkeypatch):
    monkeypatch.setattr(
        shutil, "disk_usage", lambda p: SimpleNamespace(total=10**12, free=0)
    )
    home = tmp_path / "home"
    with pytest.raises(OSError, match="BCCD files needs .* 0 GB free") as info:
        fetch_bccd(data_home=home, local_path=BCCD_SUBSET, partial=True)
    assert info.value.errno == errno.ENOSPC
    assert not list(home.rglob("*.jpg"))


def test_check_free_space_names_the_folder(tmp_path):
    check_free_space(tmp_path, 0)
    with pytest.raises(OSError, match=str(tmp_path)):
        check_free_space(tmp_path / "not" / "yet", 10**30, what="x", advice="y")


@settings(max_examples=50, deadline=None)
@given(
    n_jobs=st.one_of(st.none(), st.integers(1, 10**6), st.integers(-8, -1)),
    n_tasks=st.integers(1, 10**6),
)
def test_workers_are_capped_by_tasks_and_cpus(n_jobs, n_tasks):
    n = cap_n_jobs(n_jobs, n_tasks)
    assert 1 <= n <= min(n_tasks, os.cpu_count() or 1)


def test_generate_with_100000_jobs_starts_at_most_one_per_video(data_home, monkeypatch):
    seen = []
    original = _synthetic._build_cache

    def spy(folder, config, key, *, n_jobs, verbose):
        seen.append(n_jobs)
        return original(folder, config, key, n_jobs=1, verbose=verbose)

    monkeypatch.setattr(_synthetic, "_build_cache", spy)
    status = cli.main(["generate", *_TINY_ARGV, "--n-jobs", "100000", "--no-progress"])
    assert status == 0
    assert seen and 1 <= seen[0] <= min(2, os.cpu_count() or 1)


# ============================================================================
# 5. Offline: fail fast, name what was fetched and the offline way
# ============================================================================
def test_bccd_download_from_an_unreachable_server_fails_fast(data_home, monkeypatch):
    port = _closed_port()
    monkeypatch.setattr(_bccd, "BCCD_URL", f"http://127.0.0.1:{port}/bccd.zip")
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "127.0.0.1")
    sleeps = []
    monkeypatch.setattr("time.sleep", sleeps.append)
    with pytest.raises(ConnectionError) as info:
        fetch_bccd()
    message = str(info.value)
    for fragment in ("BCCD", f"127.0.0.1:{port}", "local_path=", "SKCELLS_BCCD_PATH"):
        assert fragment in message
    assert sum(sleeps) <= 2  # one retry, a second apart
    assert not list((data_home / "bccd").glob(".download-*"))
    assert not (data_home / "bccd" / "raw").exists()


def test_x3d_weights_from_an_unreachable_server(tmp_path, monkeypatch):
    from skcells.models import X3D, _video

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(
        _video, "X3D_XS_URL", f"http://127.0.0.1:{_closed_port()}/X3D_XS.pyth"
    )
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "127.0.0.1")
    with pytest.raises(ConnectionError, match="X3D-XS weights.*pretrained=PATH"):
        X3D(2, width_factor=0.5, depth_factor=0.5, pretrained=True)


def test_resnet18_weights_through_an_unreachable_proxy(tmp_path, monkeypatch):
    """The real torchvision URL, through a proxy on a closed loopback port."""
    from skcells.models import resnet18

    proxy = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    for name in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(name, proxy)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConnectionError, match="ResNet.*offline: pass a local"):
        resnet18(2, pretrained=True)


VIT = "vit_tiny_patch16_224"


def test_vit_weights_fail_fast_or_load_from_the_local_hub_cache(tmp_path):
    """timm's hub client would retry for about 50 s; we probe once or twice."""
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    env = {
        "HF_ENDPOINT": endpoint,
        "HF_HUB_CACHE": str(tmp_path / "hub"),
        "HF_HOME": str(tmp_path / "hf"),
    }
    report = _audited(
        f"""
        import time
        from skcells.models import vit_l16
        try:
            vit_l16(2, pretrained=True, arch={VIT!r})
        except ConnectionError as exc:
            result = str(exc)
        """,
        env=env,
    )
    assert report["ok"], report
    assert VIT in report["result"] and endpoint in report["result"]
    assert "pretrained=PATH" in report["result"]

    # The same weights in the local hub cache load without the network.
    import timm
    from safetensors.torch import save_file

    hub_id = timm.models.get_pretrained_cfg(VIT).hf_hub_id
    snapshot = Path(env["HF_HUB_CACHE"]) / f"models--{hub_id.replace('/', '--')}"
    (snapshot / "refs").mkdir(parents=True)
    (snapshot / "refs" / "main").write_text("0" * 40)
    (snapshot / "snapshots" / ("0" * 40)).mkdir(parents=True)
    state = timm.create_model(VIT, pretrained=False).state_dict()
    save_file(
        {k: v.contiguous() for k, v in state.items()},
        str(snapshot / "snapshots" / ("0" * 40) / "model.safetensors"),
    )
    expected = state["blocks.0.attn.qkv.weight"].numpy().tobytes().hex()[:4000]
    report = _audited(
        f"""
        from skcells.models import vit_l16
        net = vit_l16(2, pretrained=True, arch={VIT!r})
        weight = net.state_dict()["blocks.0.attn.qkv.weight"]
        result = weight.numpy().tobytes().hex()[:4000]
        """,
        env=env,
    )
    assert report["ok"], report
    assert report["result"] == expected


# ============================================================================
# 6. CLI: one line, exit 2, nothing written before validation
# ============================================================================
def _main(argv, capsys):
    try:
        status = cli.main(argv)
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def _one_line_error(status, err, command):
    assert status == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"skcells {command}: error: ")
    return lines[0]


@pytest.fixture
def sandbox(tmp_path, monkeypatch, data_home):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_reproduce_refuses_a_checkpoint_with_non_string_keys_before_training(
    sandbox, capsys, monkeypatch
):
    import torch

    import skcells.experiments

    torch.save({0: torch.zeros(2), "bias": torch.zeros(2)}, sandbox / "bad.pt")
    monkeypatch.setattr(
        skcells.experiments, "run_experiments", lambda **k: pytest.fail("trained")
    )
    argv = ["reproduce", "--scale", "smoke", "--out", str(sandbox / "out")]
    status, _, err = _main([*argv, "--weights", f"cnn9={sandbox / 'bad.pt'}"], capsys)
    line = _one_line_error(status, err, "reproduce")
    assert "--weights cnn9=" in line and "keys" in line
    assert not (sandbox / "out").exists()


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--connect-timeout", "1e300"], "connect_timeout"),
        (["--storage", "sqlite:///s.db", "--heartbeat-interval", "100000"], "heart"),
        (
            [
                "--storage",
                "sqlite:///s.db",
                "--heartbeat-interval",
                "5",
                "--grace-period",
                "99999999999999999",
            ],
            "grace_period",
        ),  # fmt: skip
        (["--timeout", "inf"], "--timeout"),
    ],
)
def test_tune_timings_are_checked_before_anything_is_written(
    argv, fragment, sandbox, capsys
):
    out = sandbox / "out"
    status, _, err = _main(["tune", "--create", "--out", str(out), *argv], capsys)
    assert fragment in _one_line_error(status, err, "tune")
    assert not out.exists() and not (sandbox / "s.db").exists()


@pytest.mark.parametrize(
    "line",
    [
        '{"op_code": 99}',
        "[1, 2]",
        '{"op_code": 0}',
        '{"op_code": 1, "study_id": 5}',
        '"text"',
    ],
)
def test_tune_on_a_malformed_journal_is_one_line(line, sandbox, capsys):
    out = sandbox / "out"
    out.mkdir()
    (out / "optuna-journal.log").write_text(line + "\n")
    status, _, err = _main(["tune", "--report", "--out", str(out)], capsys)
    assert "is malformed" in _one_line_error(status, err, "tune")
    assert sorted(p.name for p in out.iterdir()) == ["optuna-journal.log"]


@pytest.mark.parametrize("fps", ["1e-300", "1e9", "0.001"])
def test_show_checks_fps_before_writing_anything(fps, sandbox, capsys):
    out = sandbox / "show"
    status, _, err = _main(
        ["show", *_TINY_ARGV, "--fps", fps, "--out", str(out)], capsys
    )
    assert "fps" in _one_line_error(status, err, "show")
    assert not out.exists()


def test_show_writes_nothing_when_the_gif_fails(sandbox, capsys, monkeypatch):
    import skcells.datasets

    def fail(*args, **kwargs):
        raise OSError("disk full while writing the GIF")

    monkeypatch.setattr(skcells.datasets, "save_video_gif", fail)
    out = sandbox / "show"
    status, _, err = _main(["show", *_TINY_ARGV, "--out", str(out)], capsys)
    assert "disk full" in _one_line_error(status, err, "show")
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--rbc-mean", "1e300"], "rbc_mean"),
        (["--step", "1e39"], "step"),
        (["--size", "4096", "--n-frames", "1000"], "n_frames=1000 and size=4096"),
        (["--n-videos", "10000000", "--n-frames", "40", "--size", "4096"], "GB"),
    ],
)
def test_generate_huge_numbers_are_one_line(argv, fragment, sandbox, capsys):
    status, _, err = _main(["generate", "--no-progress", *argv], capsys)
    assert fragment in _one_line_error(status, err, "generate")


@pytest.mark.parametrize("error", [MemoryError(), OverflowError("int too big")])
def test_resource_errors_are_one_line_and_verbose_shows_the_traceback(
    error, capsys, monkeypatch
):
    from skcells._commands import generate

    def run(args):
        raise error

    monkeypatch.setattr(generate, "run", run)
    status, _, err = _main(["generate"], capsys)
    line = _one_line_error(status, err, "generate")
    assert "memory" in line or "int too big" in line
    status, _, err = _main(["-v", "generate"], capsys)
    assert status == 2 and "Traceback" in err


def test_a_programming_error_keeps_its_traceback(monkeypatch):
    from skcells._commands import generate

    monkeypatch.setattr(generate, "run", lambda args: {}["missing"])
    with pytest.raises(KeyError):
        cli.main(["generate"])


# ============================================================================
# 7. Races: readers during a forced rebuild; a read-only data home
# ============================================================================
RACE_WRITER = """
import json, sys
from skcells.datasets import fetch_synthetic_blood_videos
from skcells.utils import _cache
if sys.argv[3] == "two-renames":
    _cache._exchange = lambda a, b: False
for _ in range(int(sys.argv[2])):
    fetch_synthetic_blood_videos(data_home=sys.argv[1], force=True, n_jobs=1,
                                 verbose=False, **json.loads(sys.argv[4]))
"""

RACE_READER = """
import json, os, sys
from skcells.datasets import fetch_synthetic_blood_videos
reads = errors = 0
messages = []
while not os.path.exists(sys.argv[2]) or reads < 20:
    try:
        b = fetch_synthetic_blood_videos(data_home=sys.argv[1], n_jobs=1,
                                         verbose=False, **json.loads(sys.argv[4]))
        assert int(b.data.sum()) == int(sys.argv[3])
        reads += 1
    except Exception as exc:
        errors += 1
        messages.append(repr(exc))
print(json.dumps({"reads": reads, "errors": errors, "messages": messages[:5]}))
"""


@pytest.mark.parametrize("swap", ["exchange", "two-renames"])
def test_readers_never_fail_during_forced_rebuilds(swap, tmp_path):
    home = tmp_path / "home"
    total = int(
        fetch_synthetic_blood_videos(data_home=home, verbose=False, **TINY).data.sum()
    )
    done = tmp_path / "done"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    readers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                RACE_READER,
                str(home),
                str(done),
                str(total),
                json.dumps(TINY),
            ],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    writer = subprocess.run(
        [sys.executable, "-c", RACE_WRITER, str(home), "25", swap, json.dumps(TINY)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    done.touch()
    assert writer.returncode == 0, writer.stderr[-2000:]
    for reader in readers:
        out, _ = reader.communicate(timeout=240)
        report = json.loads(out.strip().splitlines()[-1])
        assert report["reads"] >= 20
        assert report["errors"] == 0, report["messages"]


@contextlib.contextmanager
def _read_only(folder):
    """Make a folder tree unwritable, even for root (immutable attribute)."""
    folders = [folder, *(p for p in folder.rglob("*") if p.is_dir())]
    if os.geteuid() != 0:
        for p in folders:
            p.chmod(0o555)
        try:
            yield
        finally:
            for p in folders:
                p.chmod(0o755)
        return
    if shutil.which("chattr") is None:
        pytest.skip("needs chattr to make a folder read-only for root")
    done = []
    try:
        for p in folders:
            if subprocess.run(["chattr", "+i", str(p)], capture_output=True).returncode:
                pytest.skip("cannot make a folder immutable here")
            done.append(p)
        yield
    finally:
        for p in done:
            subprocess.run(["chattr", "-i", str(p)], capture_output=True)


def test_valid_caches_are_read_from_a_read_only_data_home(tmp_path):
    home = tmp_path / "home"
    fetch_bccd(data_home=home, local_path=BCCD_SUBSET, partial=True)
    fetch_synthetic_blood_videos(data_home=home, verbose=False, **TINY)
    before = sorted(str(p) for p in home.rglob("*"))
    with _read_only(home):
        bccd = fetch_bccd(
            data_home=home,
            local_path=BCCD_SUBSET,
            partial=True,
            download_if_missing=False,
        )
        videos = fetch_synthetic_blood_videos(data_home=home, verbose=False, **TINY)
        assert bccd.images.shape == (6, 3, 480, 640)
        assert videos.data.shape == (3, 2, 3, 8, 8)
        # a cache that must be built says why it cannot be
        with pytest.raises(OSError, match="must be writable"):
            fetch_synthetic_blood_videos(
                data_home=home, verbose=False, **{**TINY, "random_state": 2}
            )
    assert sorted(str(p) for p in home.rglob("*")) == before


# ============================================================================
# 8. Silent numeric traps
# ============================================================================
@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.floats(allow_nan=False, allow_infinity=False, width=64)
        | st.sampled_from([1.7976931348623157e308, -1.7976931348623157e308]),
        min_size=1,
        max_size=20,
    )
)
def test_minmax_scaling_is_finite_ordered_and_spans_0_to_1(values):
    d = np.array(values)
    scaled = scale_difficulty(d, method="minmax")
    assert np.all(np.isfinite(scaled))
    assert np.all((scaled >= 0) & (scaled <= 1))
    order = np.argsort(d, kind="stable")
    assert np.all(np.diff(scaled[order]) >= 0)
    if d.max() > d.min():
        assert scaled[d.argmin()] == 0 and scaled[d.argmax()] == 1


def test_extreme_difficulties_train_every_sample():
    import torch

    from skcells.curriculum import CurriculumNeuralNetClassifier

    X = np.random.default_rng(0).random((8, 4)).astype(np.float32)
    y = np.tile([0, 1], 4)
    difficulty = np.array([-1e308, 1e308, 0, 1, -1, 1e307, -1e307, 5])
    net = CurriculumNeuralNetClassifier(
        torch.nn.Linear,
        module__in_features=4,
        module__out_features=2,
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=3,
        curriculum_epochs=2,
        difficulty_scaling="minmax",
        train_split=None,
        verbose=0,
    ).fit(X, y, difficulty=difficulty)
    assert net.history[-1, "n_curriculum_samples"] == 8


LABELS = st.lists(
    st.text(st.characters(blacklist_characters="\x00"), min_size=1, max_size=3),
    min_size=2,
    max_size=5,
    unique=True,
)


@settings(max_examples=60, deadline=None)
@given(classes=LABELS, rate=st.sampled_from([0.0, 0.5, 1.0]), as_object=st.booleans())
def test_pairflip_on_string_labels(classes, rate, as_object):
    y = np.array(
        [c for c in classes for _ in range(4)], dtype=object if as_object else None
    )
    noisy = asymmetric_label_noise(y, rate, mapping="pairflip", random_state=0)
    order = sorted(classes)
    following = {a: order[(i + 1) % len(order)] for i, a in enumerate(order)}
    flipped = noisy != y
    assert all(following[a] == b for a, b in zip(y[flipped], noisy[flipped]))
    for c in classes:
        assert flipped[y == c].sum() == round(rate * 4)


def test_pairflip_on_unorderable_labels_is_refused():
    y = np.array([1, "a", 1, "a"], dtype=object)
    with pytest.raises(TypeError, match="pairflip.*one comparable kind"):
        asymmetric_label_noise(y, 0.5, mapping="pairflip")


# ============================================================================
# 9. Consistency: file modes, bool flags, difficulty types, freeze_backbone
# ============================================================================
def _modes(folder):
    return {
        p.relative_to(folder).as_posix(): stat.S_IMODE(p.stat().st_mode)
        for p in Path(folder).rglob("*")
        if p.is_file() and not p.name.endswith(".lock")
    }


def test_every_written_file_gets_the_same_umask_mode(sandbox, capsys):
    old = os.umask(0o027)
    try:
        assert cli.main(["show", *_TINY_ARGV, "--out", "show"]) == 0
        assert cli.main(["generate", *_TINY_ARGV, "--no-progress"]) == 0
        assert cli.main(["tune", "--create", "--n-trials", "1", "--scale", "smoke",
                         "--out", "tune"]) == 0  # fmt: skip
    finally:
        os.umask(old)
    capsys.readouterr()
    modes = {**_modes(sandbox / "show"), **_modes(sandbox / "tune")}
    modes.update(_modes(sandbox / "skcells_data" / "synthetic_blood_videos"))
    assert {"conditions.png", "run.json", "trials.csv"} <= set(modes)
    assert set(modes.values()) == {0o640}, modes


FLAGS = [
    ("fetch_synthetic_blood_videos", "force"),
    ("fetch_synthetic_blood_videos", "check_hash"),
    ("fetch_synthetic_blood_videos", "return_X_y"),
    ("fetch_synthetic_blood_videos", "verbose"),
    ("fetch_bccd", "return_X_y"),
    ("fetch_bccd", "partial"),
    ("make_model", "freeze_backbone"),
    ("count_parameters", "trainable"),
    ("load_or_create_study", "create"),
]


def _call_flag(function, flag, value, tmp_path):
    from skcells.models import count_parameters, make_model
    from skcells.tuning import load_or_create_study

    if function == "fetch_synthetic_blood_videos":
        kwargs = {"verbose": False, flag: value}
        return fetch_synthetic_blood_videos(data_home=tmp_path, **TINY, **kwargs)
    if function == "fetch_bccd":
        return fetch_bccd(
            data_home=tmp_path,
            local_path=BCCD_SUBSET,
            **{"partial": True, flag: value},
        )
    if function == "make_model":
        return make_model("cnn9", 2, width=0.125, freeze_backbone=value)
    if function == "count_parameters":
        return count_parameters(make_model("cnn9", 2, width=0.125), trainable=value)
    return load_or_create_study("s", out_dir=tmp_path / "study", create=value)


@pytest.mark.parametrize(
    ("function", "flag"), FLAGS, ids=[f"{f}-{g}" for f, g in FLAGS]
)
def test_numpy_bools_are_accepted_and_strings_refused_everywhere(
    function, flag, tmp_path
):
    _call_flag(function, flag, np.True_, tmp_path)
    with pytest.raises(TypeError, match=flag):
        _call_flag(function, flag, "no", tmp_path)


@pytest.mark.parametrize(
    "difficulty",
    [["0.5", "0.1"], [0.5 + 1j, 0.1], np.array([True, False]), [None, 0.1]],
    ids=["strings", "complex", "bools", "objects"],
)
def test_difficulty_must_be_real_numbers(difficulty):
    with pytest.raises(TypeError, match="difficulty must be a 1-D array of real"):
        scale_difficulty(difficulty)
    with pytest.raises(TypeError, match="blur must be a 1-D array of real"):
        difficulty_score(difficulty, [1, 2])


@pytest.mark.parametrize("name", ["cnn9", "resnet18", "x3d_xs", "vit_l16"])
def test_freeze_backbone_no_is_refused(name):
    import torch

    from skcells.models import make_model

    kwargs = {
        "cnn9": {"width": 0.125},
        "resnet18": {},
        "x3d_xs": {"width_factor": 0.5, "depth_factor": 0.5},
        "vit_l16": {"arch": VIT},
    }[name]
    with torch.device("meta"), pytest.raises(TypeError, match="freeze_backbone"):
        make_model(name, 2, freeze_backbone="no", **kwargs)


def test_open_regular_file_refuses_links_and_special_files(tmp_path):
    (tmp_path / "a").write_bytes(b"abc")
    (tmp_path / "link").symlink_to(tmp_path / "a")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "sub").mkdir()
    (tmp_path / "linkdir").symlink_to(tmp_path / "sub")
    (tmp_path / "sub" / "b").write_bytes(b"b")
    with open_regular_file("a", root=tmp_path) as f:
        assert f.read() == b"abc"
    with open_regular_file(tmp_path / "link") as f:  # a top-level path may link
        assert f.read() == b"abc"
    for name, pattern in [
        ("link", "symbolic link"),
        ("fifo", "FIFO"),
        ("sub", "folder"),
        ("linkdir/b", "symbolic link.*expected a folder"),
        ("../a", "not a plain relative path"),
        ("/etc/passwd", "absolute path"),
    ]:
        with pytest.raises(ValueError, match=pattern):
            open_regular_file(name, root=tmp_path)
    with pytest.raises(ValueError, match="character device"):
        open_regular_file("/dev/zero")
    with pytest.raises(ValueError, match="more than the 2 expected"):
        open_regular_file("a", root=tmp_path, max_size=2)


def test_a_null_byte_in_an_npy_header_is_a_value_error(tmp_path):
    # numpy parses the header with ast.literal_eval, which raises SyntaxError
    # on a null byte (found by hypothesis); load_npy reports a damaged file.
    from skcells.utils import load_npy

    path = tmp_path / "a.npy"
    np.save(path, np.zeros(4, dtype=np.uint8))
    raw = bytearray(path.read_bytes())
    raw[raw.index(b"descr") + 2] = 0
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="damaged .npy header"):
        load_npy(path, dtype=np.uint8, shape=(4,))

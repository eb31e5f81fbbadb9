"""Crash-safe dataset caches: kills, concurrent writers and tampering.

Faults injected into real ``fetch_synthetic_blood_videos`` and ``fetch_bccd``
runs in child processes:

- **kill**: the child is SIGKILLed while it renders, while it writes the
  metadata/manifest, at the final rename, at a random moment, and while it
  rebuilds (``force=True``) over an existing cache.  Afterwards no cache
  that a later fetch would return exists (or the previous, intact one is
  kept), and a later fetch returns exactly the bytes of an undisturbed
  single-process run;
- **concurrency**: several children fetch the same dataset into one data
  home at the same moment; exactly one renders, all return the same folder,
  whose files are byte-identical to a single-process run;
- **tampering**: a flipped byte, a truncated or deleted file, a corrupt or
  foreign manifest; the next fetch detects it and rebuilds the cache.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from skcells.datasets import _bccd, _synthetic, fetch_bccd, fetch_synthetic_blood_videos
from skcells.utils import sha256_file

# A cache that takes about a second to render on two busy cores.
SMALL = {"n_videos": 48, "n_frames": 4, "size": 32, "random_state": 3}
# Long enough (a few seconds) for an asynchronous kill to land mid-write.
LARGE = {"n_videos": 120, "n_frames": 16, "size": 32, "random_state": 5}
# The six-image BCCD subset shipped with the tests (see conftest.py).
BCCD = {"local_path": Path(__file__).parent / "data" / "bccd", "partial": True}
pytestmark = pytest.mark.timeout(300)

# The child: optionally arm a fault (SIGKILL itself at a chosen point), wait
# for a start signal, fetch, and report what it did as one JSON line.
CHILD = textwrap.dedent(
    """
    import json, os, signal, sys, time
    from pathlib import Path

    spec = json.loads(sys.argv[1])
    from skcells.datasets import _base, _bccd, _synthetic

    def die():
        release = spec.get("release")
        while release and not os.path.exists(release):
            time.sleep(0.005)  # hold the lock until the test says so
        os.kill(os.getpid(), signal.SIGKILL)

    fault = spec.get("fault")
    built = []
    if spec["dataset"] == "synthetic":
        build_name, module = "_build_cache", _synthetic
    else:
        build_name, module = "_build_processed", _bccd
    original_build = getattr(module, build_name)

    def counting_build(*args, **kwargs):
        built.append(True)
        return original_build(*args, **kwargs)

    setattr(module, build_name, counting_build)

    if fault == "render":  # after a few videos / images have been written
        name = "render_item" if spec["dataset"] == "synthetic" else None
        calls = [0]
        if name:
            original = _synthetic._Config.render_item

            def render_item(self, *a, **k):
                calls[0] += 1
                if calls[0] > spec["after"]:
                    die()
                return original(self, *a, **k)

            _synthetic._Config.render_item = render_item
        else:
            original = _bccd._decode_image

            def decode(*a, **k):
                calls[0] += 1
                if calls[0] > spec["after"]:
                    die()
                return original(*a, **k)

            _bccd._decode_image = decode
    elif fault == "manifest":  # data written, manifest not yet
        target = _synthetic if spec["dataset"] == "synthetic" else _bccd
        target.write_manifest = lambda *a, **k: die()
    elif fault in ("rename", "rename-no-exchange"):  # killed at the final rename
        from skcells.utils import _cache

        real_replace = os.replace

        def replace(src, dst, *a, **k):
            if Path(src).name.startswith((".tmp-", ".old-")):
                die()
            return real_replace(src, dst, *a, **k)

        _base.os.replace = replace
        if fault == "rename":  # the atomic swap over an existing cache
            _cache._exchange = lambda a, b: die()
        else:  # a system without renameat2: two renames
            _cache._exchange = lambda a, b: False

    go = spec.get("go")
    while go and not os.path.exists(go):
        time.sleep(0.005)
    if spec.get("ready"):
        Path(spec["ready"]).touch()
    if spec["dataset"] == "synthetic":
        from skcells.datasets import fetch_synthetic_blood_videos as fetch
    else:
        from skcells.datasets import fetch_bccd as fetch
    bunch = fetch(**spec["kwargs"])
    path = bunch.cache_path if spec["dataset"] == "synthetic" else None
    print(json.dumps({"cache_path": path, "built": len(built)}), flush=True)
    """
)


_CHILDREN = []


def _spawn(dataset, kwargs, *, fault=None, after=0, go=None, ready=None, release=None):
    """Start a child fetch in its own process group; output goes to files.

    Files rather than pipes: rendering workers that outlive a killed child
    would keep pipes open.  The group is killed at teardown (``_reap``).
    """
    spec = {
        "dataset": dataset,
        "kwargs": {k: str(v) if isinstance(v, Path) else v for k, v in kwargs.items()},
        "fault": fault,
        "after": after,
        "go": None if go is None else str(go),
        "ready": None if ready is None else str(ready),
        "release": None if release is None else str(release),
    }
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop(_bccd.ENV_BCCD_PATH, None)
    out = tempfile.TemporaryFile(mode="w+")
    err = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(spec)],
        stdout=out,
        stderr=err,
        text=True,
        env=env,
        start_new_session=True,
    )
    proc.out_file, proc.err_file = out, err
    _CHILDREN.append(proc)
    return proc


def _finish(proc, timeout=240):
    """Wait for the child; return its status, stdout and stderr."""
    proc.wait(timeout=timeout)
    texts = []
    for f in (proc.out_file, proc.err_file):
        f.seek(0)
        texts.append(f.read())
    return proc.returncode, *texts


@pytest.fixture(autouse=True)
def _reap():
    """Kill what is left of the children's process groups (worker pools)."""
    yield
    while _CHILDREN:
        proc = _CHILDREN.pop()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.out_file.close()
        proc.err_file.close()


def _digests(folder):
    """sha256 of every file of a cache folder, by name."""
    return {
        p.name: sha256_file(p) for p in sorted(Path(folder).iterdir()) if p.is_file()
    }


def _leftovers(parent):
    return sorted(p.name for p in Path(parent).glob(".*") if p.is_dir())


def _cache_dirs(parent):
    """Complete-looking cache folders (not temporaries) under ``parent``."""
    if not Path(parent).is_dir():
        return []
    return sorted(
        p.name
        for p in Path(parent).iterdir()
        if p.is_dir() and not p.name.startswith(".")
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Undisturbed single-process caches: folder name and file digests."""
    out = {}
    for name, params in (("small", SMALL), ("large", LARGE)):
        home = tmp_path_factory.mktemp(f"reference-{name}")
        bunch = fetch_synthetic_blood_videos(data_home=home, verbose=False, **params)
        out[name] = (Path(bunch.cache_path).name, _digests(bunch.cache_path))
    return out


@pytest.fixture
def count_builds(monkeypatch):
    """Count the cache builds of fetches made in this process."""
    calls = []
    original = _synthetic._build_cache

    def wrapper(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(_synthetic, "_build_cache", wrapper)
    return calls


def _synthetic_parent(home):
    return Path(home) / "synthetic_blood_videos"


# ------------------------------------------------------------------- kills
@pytest.mark.parametrize(
    ("fault", "after"),
    [
        pytest.param("render", 5, id="while-rendering"),
        pytest.param("manifest", 0, id="before-manifest"),
        pytest.param("rename", 0, id="at-final-rename"),
    ],
)
def test_killed_generation_leaves_no_cache(
    fault, after, tmp_path, reference, count_builds
):
    home = tmp_path / "home"
    proc = _spawn("synthetic", {**SMALL, "data_home": home}, fault=fault, after=after)
    status, out, err = _finish(proc)
    assert status == -signal.SIGKILL, err
    parent = _synthetic_parent(home)
    # only a temporary folder is left: nothing a fetch would look at
    assert _cache_dirs(parent) == []
    assert any(name.startswith(".tmp-") for name in _leftovers(parent))

    bunch = fetch_synthetic_blood_videos(data_home=home, verbose=False, **SMALL)
    assert len(count_builds) == 1  # the partial cache was not returned
    name, digests = reference["small"]
    assert Path(bunch.cache_path).name == name
    assert _digests(bunch.cache_path) == digests
    assert _leftovers(parent) == []  # the next writer cleaned up
    assert _cache_dirs(parent) == [name]


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_asynchronous_kill_at_a_random_moment(
    n_jobs, tmp_path, reference, count_builds
):
    """SIGKILL from outside, a random delay after the writer started.

    With ``n_jobs=2`` the rendering workers outlive their killed parent for
    a moment; the next fetch must still produce the reference bytes.
    """
    home = tmp_path / "home"
    parent = _synthetic_parent(home)
    proc = _spawn("synthetic", {**LARGE, "data_home": home, "n_jobs": n_jobs})
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".tmp-") for p in parent.glob(".*")):
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "the writer never started"
        time.sleep(0.01)
    time.sleep(np.random.default_rng().uniform(0.05, 0.5))
    proc.send_signal(signal.SIGKILL)
    status, _, err = _finish(proc)
    if status != -signal.SIGKILL:  # pragma: no cover - machine far too fast
        pytest.skip("the writer finished before it could be killed")
    assert _cache_dirs(parent) == []

    bunch = fetch_synthetic_blood_videos(data_home=home, verbose=False, **LARGE)
    assert len(count_builds) == 1
    name, digests = reference["large"]
    assert _digests(bunch.cache_path) == digests
    assert _leftovers(parent) == []


@pytest.mark.parametrize(
    ("fault", "after"),
    [
        pytest.param("render", 5, id="while-rendering"),
        pytest.param("rename", 0, id="at-final-rename"),
        pytest.param("rename-no-exchange", 0, id="at-final-rename-two-renames"),
    ],
)
def test_killed_forced_rebuild_keeps_or_restores_the_cache(
    fault, after, tmp_path, reference, count_builds
):
    """Killing a ``force=True`` rebuild never leaves a wrong cache behind."""
    home = tmp_path / "home"
    name, digests = reference["small"]
    fetch_synthetic_blood_videos(data_home=home, verbose=False, **SMALL)
    proc = _spawn(
        "synthetic",
        {**SMALL, "data_home": home, "force": True},
        fault=fault,
        after=after,
    )
    status, _, err = _finish(proc)
    assert status == -signal.SIGKILL, err
    parent = _synthetic_parent(home)
    if fault in ("render", "rename"):
        # the old cache was never touched (the new one replaces it in one
        # atomic swap): it is still complete and reused
        assert _cache_dirs(parent) == [name]
        assert _digests(parent / name) == digests
    else:
        # killed between moving the old cache aside and the new one in
        assert _cache_dirs(parent) in ([], [name])

    bunch = fetch_synthetic_blood_videos(data_home=home, verbose=False, **SMALL)
    # one build before the child ran; a second one only when the kill left no
    # complete cache in place (the child's own builds are not counted here)
    assert len(count_builds) == (2 if fault == "rename-no-exchange" else 1)
    assert _digests(bunch.cache_path) == digests
    assert _cache_dirs(parent) == [name]


# ------------------------------------------------------------- concurrency
def test_a_fetch_waiting_on_a_writer_that_is_killed_takes_over(tmp_path, reference):
    """B waits for A's lock; A is killed mid-write; B rebuilds correctly."""
    home = tmp_path / "home"
    release = tmp_path / "release"
    ready = tmp_path / "ready"
    writer = _spawn(
        "synthetic",
        {**SMALL, "data_home": home},
        fault="render",
        after=10,
        release=release,
    )
    parent = _synthetic_parent(home)
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".tmp-") for p in parent.glob(".*")):
        assert writer.poll() is None, _finish(writer)[2]
        assert time.monotonic() < deadline, "the writer never started"
        time.sleep(0.01)
    waiter = _spawn("synthetic", {**SMALL, "data_home": home}, ready=ready)
    while not ready.exists():
        assert waiter.poll() is None, _finish(waiter)[2]
        assert time.monotonic() < deadline, "the waiter never started"
        time.sleep(0.01)
    time.sleep(0.5)  # the waiter is now blocked on the writer's lock
    assert waiter.poll() is None
    release.touch()  # the writer kills itself, holding the lock, mid-write
    status, _, err = _finish(writer)
    assert status == -signal.SIGKILL, err
    status, out, err = _finish(waiter)
    assert status == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["built"] == 1
    name, digests = reference["small"]
    assert _digests(result["cache_path"]) == digests
    assert _leftovers(parent) == []


def test_concurrent_fetches_build_one_cache_identical_to_a_single_run(
    tmp_path, reference
):
    home = tmp_path / "home"
    go = tmp_path / "go"
    procs = [_spawn("synthetic", {**SMALL, "data_home": home}, go=go) for _ in range(3)]
    time.sleep(0.5)
    go.touch()  # all three start fetching at the same moment
    results = []
    for proc in procs:
        status, out, err = _finish(proc)
        assert status == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert sum(r["built"] for r in results) == 1
    assert len({r["cache_path"] for r in results}) == 1
    name, digests = reference["small"]
    assert Path(results[0]["cache_path"]).name == name
    assert _digests(results[0]["cache_path"]) == digests
    parent = _synthetic_parent(home)
    assert _leftovers(parent) == []
    assert _cache_dirs(parent) == [name]


# --------------------------------------------------------------- tampering
def _flip_byte(path, offset=-1):
    with open(path, "r+b") as f:
        f.seek(offset, os.SEEK_END if offset < 0 else os.SEEK_SET)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))


def _truncate(path):
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 7)


def _foreign_key(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["key"] = "0" * 64
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda f: _flip_byte(f / "data.npy"), id="flipped-video-byte"),
        pytest.param(
            lambda f: _flip_byte(f / "metadata.npz", 40), id="flipped-metadata"
        ),
        pytest.param(lambda f: _truncate(f / "data.npy"), id="truncated-videos"),
        pytest.param(lambda f: (f / "metadata.npz").unlink(), id="deleted-metadata"),
        pytest.param(
            lambda f: (f / "manifest.json").write_text("{not json"),
            id="corrupt-manifest",
        ),
        pytest.param(_foreign_key, id="foreign-manifest-key"),
    ],
)
def test_tampered_cache_is_detected_and_rebuilt(
    tamper, tmp_path, reference, count_builds
):
    home = tmp_path / "home"
    name, digests = reference["small"]
    first = fetch_synthetic_blood_videos(data_home=home, verbose=False, **SMALL)
    folder = Path(first.cache_path)
    del first  # release the memory map before changing the files
    tamper(folder)
    bunch = fetch_synthetic_blood_videos(data_home=home, verbose=False, **SMALL)
    assert len(count_builds) == 2
    assert _digests(bunch.cache_path) == digests


def test_returned_arrays_cannot_write_into_the_cache(tmp_path, reference):
    """The videos are a read-only memory map: user code cannot alter the cache."""
    bunch = fetch_synthetic_blood_videos(data_home=tmp_path, verbose=False, **SMALL)
    X, _ = fetch_synthetic_blood_videos(
        data_home=tmp_path, verbose=False, return_X_y=True, **SMALL
    )
    for videos in (bunch.data, X):
        with pytest.raises(ValueError, match="read-only"):
            videos[0, 0, 0, 0, 0] = 255
    del bunch, X, videos
    name, digests = reference["small"]
    assert _digests(_synthetic_parent(tmp_path) / name) == digests


# -------------------------------------------------------------------- BCCD
@pytest.fixture(scope="module")
def bccd_single(tmp_path_factory):
    """Kill a BCCD build while it decodes, then refetch in this process.

    Returns the data home and the digests of the processed cache that the
    undisturbed single-process refetch wrote.
    """
    home = tmp_path_factory.mktemp("bccd")
    proc = _spawn("bccd", {"data_home": home, **BCCD}, fault="render", after=3)
    status, _, err = _finish(proc)
    root = _bccd_root(home)
    killed = {
        "status": status,
        "err": err,
        "processed": (root / "processed").exists(),
        "leftovers": _leftovers(root),
    }
    data = fetch_bccd(data_home=home, download_if_missing=False, **BCCD)
    shape = data.images.shape
    killed["writeable"] = data.images.flags.writeable
    del data
    return killed, shape, _digests(root / "processed"), _leftovers(root)


def _bccd_root(home):
    """The cache folder of the BCCD subset (``bccd/partial-<key>``)."""
    (root,) = [p for p in (Path(home) / "bccd").glob("partial-*") if p.is_dir()]
    return root


def test_bccd_killed_mid_build_leaves_no_cache(bccd_single):
    killed, shape, _, leftovers = bccd_single
    assert killed["status"] == -signal.SIGKILL, killed["err"]
    assert not killed["processed"]
    assert any(name.startswith(".tmp-processed-") for name in killed["leftovers"])
    # the later fetch rebuilt it from the verified raw files and cleaned up
    assert shape == (6, 3, 480, 640)
    assert leftovers == []
    assert not killed["writeable"]  # a read-only memory map of the cache


@pytest.mark.slow
def test_bccd_concurrent_fetches_match_a_single_run(bccd_single, tmp_path):
    """Two processes fetch BCCD at once: one build, the single-run bytes."""
    _, _, single, _ = bccd_single
    home = tmp_path / "home"
    go = tmp_path / "go"
    procs = [_spawn("bccd", {"data_home": home, **BCCD}, go=go) for _ in range(2)]
    time.sleep(0.5)
    go.touch()
    built = 0
    for p in procs:
        status, out, err = _finish(p)
        assert status == 0, err
        built += json.loads(out.strip().splitlines()[-1])["built"]
    assert built == 1
    assert _digests(_bccd_root(home) / "processed") == single
    assert _leftovers(_bccd_root(home)) == []

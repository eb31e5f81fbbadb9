import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from skcells import utils
from skcells.datasets import get_data_home


def test_get_data_home_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("SKCELLS_DATA", str(tmp_path / "env"))
    assert get_data_home() == tmp_path / "env"
    assert get_data_home(tmp_path / "explicit") == tmp_path / "explicit"
    assert (tmp_path / "explicit").is_dir()
    monkeypatch.delenv("SKCELLS_DATA")
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sk"))
    assert get_data_home() == tmp_path / "sk" / "skcells"


def test_get_data_home_rejects_non_path():
    with pytest.raises(TypeError, match="data_home"):
        get_data_home(3)


def test_params_hash_is_order_independent_and_sensitive():
    a = utils.params_hash({"x": 1, "y": (1, 2), "z": np.float64(0.5)})
    b = utils.params_hash({"z": 0.5, "y": [1, 2], "x": 1})
    assert a == b
    assert a != utils.params_hash({"x": 2, "y": (1, 2), "z": 0.5})


def test_atomic_directory_success_and_failure(tmp_path):
    final = tmp_path / "cache"
    with utils.atomic_directory(final) as tmp:
        (tmp / "a.txt").write_text("one")
        assert not final.exists()
    assert (final / "a.txt").read_text() == "one"

    with pytest.raises(RuntimeError), utils.atomic_directory(final) as tmp:
        (tmp / "a.txt").write_text("two")
        raise RuntimeError("boom")
    # the failed rewrite left the old content and no temporary folder behind
    assert (final / "a.txt").read_text() == "one"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]

    with utils.atomic_directory(final) as tmp:
        (tmp / "b.txt").write_text("three")
    assert sorted(p.name for p in final.iterdir()) == ["b.txt"]


def test_manifest_detects_truncation_and_tampering(tmp_path):
    (tmp_path / "data.bin").write_bytes(b"\x00" * 1000)
    utils.write_manifest(tmp_path, ["data.bin"], version=1)
    assert utils.verify_manifest(tmp_path)["version"] == 1

    with open(tmp_path / "data.bin", "r+b") as f:
        f.write(b"\x01")
    assert utils.verify_manifest(tmp_path) is None
    assert utils.verify_manifest(tmp_path, check_hash=False) is not None

    with open(tmp_path / "data.bin", "r+b") as f:
        f.truncate(10)
    assert utils.verify_manifest(tmp_path, check_hash=False) is None

    (tmp_path / "manifest.json").write_text("{not json")
    assert utils.verify_manifest(tmp_path) is None


def test_killed_writer_leaves_no_visible_cache(tmp_path):
    final = tmp_path / "cache"
    script = textwrap.dedent(
        f"""
        import time
        from skcells.utils import atomic_directory
        with atomic_directory({str(final)!r}) as tmp:
            (tmp / "part.bin").write_bytes(b"x" * 100)
            print("writing", flush=True)
            time.sleep(60)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert not final.exists()
    leftovers = list(tmp_path.glob(".tmp-cache-*"))
    assert len(leftovers) == 1
    # the next writer cleans the stale temporary folder up
    with utils.atomic_directory(final) as tmp:
        (tmp / "ok").write_text(json.dumps(1))
    assert not list(tmp_path.glob(".tmp-cache-*"))
    assert (final / "ok").exists()


def test_atomic_directory_respects_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with utils.atomic_directory(tmp_path / "cache") as tmp:
            (tmp / "a").write_text("x")
    finally:
        os.umask(old)
    assert (tmp_path / "cache").stat().st_mode & 0o777 == 0o755

import os
import random
from pathlib import Path

import numpy as np
import pytest

# Keep the test-suite on the two cores it is budgeted for and off the network.
os.environ.setdefault("OMP_NUM_THREADS", "2")

# BCCD: the six-image subset shipped with the tests, and the full copy when
# this machine has one (SKCELLS_BCCD_PATH, else ../shared/data/BCCD_Dataset
# beside the checkout).  The variable is then removed, so that no test
# fetches from it unless it asks to.
BCCD_SUBSET = Path(__file__).parent / "data" / "bccd"
_BCCD_FULL = [
    Path(p).expanduser()
    for p in (
        os.environ.pop("SKCELLS_BCCD_PATH", ""),
        Path(__file__).parents[2] / "shared" / "data" / "BCCD_Dataset",
    )
    if p and len(list(Path(p).expanduser().glob("BCCD/JPEGImages/*.jpg"))) == 364
]


def pytest_addoption(parser):
    parser.addoption(
        "--runslow", action="store_true", default=False, help="run slow tests"
    )


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:  # pragma: no cover
        has_cuda = False
    skip_slow = pytest.mark.skip(reason="slow test: pass --runslow to run it")
    skip_cuda = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "slow" in item.keywords and not config.getoption("--runslow"):
            item.add_marker(skip_slow)
        if "cuda" in item.keywords and not has_cuda:
            item.add_marker(skip_cuda)


@pytest.fixture(autouse=True)
def _seed():
    """Seed every random number generator before each test."""
    random.seed(0)
    np.random.seed(0)  # noqa: NPY002 (seeds code that uses the legacy global RNG)
    try:
        import torch

        torch.manual_seed(0)
    except ImportError:  # pragma: no cover
        pass
    yield


@pytest.fixture
def data_home(tmp_path, monkeypatch):
    """A private, empty data home for tests that write caches."""
    home = tmp_path / "skcells_data"
    monkeypatch.setenv("SKCELLS_DATA", str(home))
    return home


@pytest.fixture(scope="session")
def bccd_subset():
    """The BCCD fixture of tests/data/bccd: load it with ``partial=True``."""
    return BCCD_SUBSET


@pytest.fixture(scope="session")
def bccd_full():
    """The full BCCD repository folder (364 images), or skip the test."""
    if not _BCCD_FULL:
        pytest.skip(
            "needs the full BCCD copy: set SKCELLS_BCCD_PATH to it or keep it at "
            "../shared/data/BCCD_Dataset beside the checkout"
        )
    return _BCCD_FULL[0]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print how many bad-input cases (tests/test_bad_inputs.py) ran."""
    reports = [
        r
        for key in ("passed", "failed", "skipped")
        for r in terminalreporter.stats.get(key, [])
        if getattr(r, "when", None) in ("call", "setup")
        and "test_bad_inputs.py" in getattr(r, "nodeid", "")
        and (r.when == "call" or r.skipped)
    ]
    if reports:
        passed = sum(r.passed for r in reports)
        skipped = sum(r.skipped for r in reports)
        terminalreporter.write_line(
            f"bad-input cases: {len(reports)} ({passed} passed, "
            f"{len(reports) - passed - skipped} failed, {skipped} skipped)"
        )

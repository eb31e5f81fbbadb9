import os
import random

import numpy as np
import pytest

# Keep the test-suite on the two cores it is budgeted for and off the network.
os.environ.setdefault("OMP_NUM_THREADS", "2")


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

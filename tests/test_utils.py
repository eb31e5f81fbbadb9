"""The shared parameter checks of skcells.utils."""

import os
import stat

import numpy as np
import pytest

from skcells.utils import (
    atomic_file,
    check_bool,
    check_int,
    check_n_jobs,
    check_option,
    check_range,
    check_real,
    check_vector,
)


@pytest.mark.parametrize("value", [True, np.True_, 1.0, "1", None])
def test_check_int_refuses_non_integers(value):
    with pytest.raises(TypeError, match=r"n_views must be an int >= 1, got"):
        check_int(value, "n_views", low=1)


def test_check_int_bounds_and_type():
    assert check_int(np.int64(3), "k", low=1, high=3) == 3
    assert type(check_int(np.int64(3), "k")) is int
    with pytest.raises(ValueError, match=r"k must be an int in \[1, 3\], got 4"):
        check_int(4, "k", low=1, high=3)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_check_real_refuses_non_finite(value):
    with pytest.raises(ValueError, match="alpha must be a finite real number"):
        check_real(value, "alpha")


def test_check_real_open_bounds():
    assert check_real(1, "p", low=0, low_open=True) == 1.0
    with pytest.raises(ValueError, match=r"p must be .*> 0, got 0"):
        check_real(0, "p", low=0, low_open=True)
    with pytest.raises(ValueError, match=r"p must be .*in \[0, 1\), got 1"):
        check_real(1, "p", low=0, high=1, high_open=True)
    with pytest.raises(TypeError, match="p must be"):
        check_real(False, "p")


@pytest.mark.parametrize("value", ["no", 0, 1, None])
def test_check_bool_refuses_truthy_stand_ins(value):
    with pytest.raises(TypeError, match="force must be a bool"):
        check_bool(value, "force")
    assert check_bool(np.False_, "force") is False


def test_check_option_compares_exactly():
    assert check_option("mode", "aggregation", ("mode", "weighted")) == "mode"
    for bad in ("MODE", 1, np.array(["mode"]), None):
        with pytest.raises(ValueError, match="aggregation must be one of"):
            check_option(bad, "aggregation", ("mode", "weighted"))


def test_check_range():
    assert check_range((1, 10), "blur_range", integer=True, low=0, high=10) == (1, 10)
    with pytest.raises(ValueError, match="blur_range must be a pair"):
        check_range((3, 2), "blur_range", integer=True)
    with pytest.raises(TypeError, match="blur_range must be a pair of integers"):
        check_range((1.5, 2), "blur_range", integer=True)
    with pytest.raises(ValueError, match="crop_scale"):
        check_range((0, 0.2), "crop_scale", low=0, low_open=True)
    with pytest.raises(ValueError, match="crop_scale"):
        check_range((0.1, np.nan), "crop_scale")
    with pytest.raises(TypeError, match="crop_scale"):
        check_range("ab", "crop_scale")


def test_check_vector():
    assert check_vector([0.5, 0.5], "p", length=2, low=0, total=1) == (0.5, 0.5)
    with pytest.raises(ValueError, match="p must be 2 real numbers >= 0 summing"):
        check_vector([0.5, 0.6], "p", length=2, low=0, total=1)
    with pytest.raises(ValueError, match="background"):
        check_vector([1, 2], "background", length=3)
    with pytest.raises(TypeError, match="background"):
        check_vector(["a", "b", "c"], "background", length=3)


def test_check_n_jobs():
    assert check_n_jobs(None) is None
    assert check_n_jobs(-1) == (os.cpu_count() or 1)
    assert check_n_jobs(3) == 3
    with pytest.raises(ValueError, match="n_jobs must be"):
        check_n_jobs(0)
    with pytest.raises(TypeError, match="n_jobs must be"):
        check_n_jobs(2.0)


def test_atomic_file_is_all_or_nothing_with_umask_permissions(tmp_path):
    target = tmp_path / "report.csv"
    with atomic_file(target) as tmp:
        tmp.write_text("a,b\n")
    assert target.read_text() == "a,b\n"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    with pytest.raises(RuntimeError), atomic_file(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError
    assert target.read_text() == "a,b\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.csv"]

"""Tests of the competence schedule, difficulty score and scaling (Eq. 2)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from skcells.curriculum import competence, difficulty_score, scale_difficulty

# ------------------------------------------------------------- competence


def test_competence_closed_forms():
    t = np.arange(0, 11)
    # p = 1: linear from c0 to 1.
    np.testing.assert_allclose(
        competence(t, T=10, c0=0.2, p=1), 0.2 + 0.8 * np.minimum(t, 10) / 10
    )
    # p = 2: square root of the linear schedule of c**2.
    np.testing.assert_allclose(
        competence(t, T=10, c0=0.2, p=2), np.sqrt(0.04 + 0.96 * t / 10)
    )
    # Beyond T the competence stays 1.
    np.testing.assert_array_equal(competence([10, 11, 1e6], T=10, c0=0.2, p=3), 1.0)


def test_competence_paper_figure_2_values():
    c = competence([0, 250, 500, 1000], T=1000, c0=0.05, p=2)
    np.testing.assert_allclose(
        c, np.sqrt([0.0025, 0.0025 + 0.9975 / 4, 0.0025 + 0.9975 / 2, 1.0])
    )


def test_competence_scalar_and_shape():
    c = competence(3, T=10, c0=0.1, p=2)
    assert isinstance(c, float)
    assert competence(np.zeros((2, 3)), T=5).shape == (2, 3)


@given(
    T=st.integers(1, 2000),
    c0=st.floats(1e-4, 1.0),
    p=st.floats(1.0, 5.0),
)
def test_competence_properties(T, c0, p):
    t = np.arange(T + 3)
    c = competence(t, T=T, c0=c0, p=p)
    assert c[0] == pytest.approx(c0)
    assert np.all(np.diff(c) >= -1e-12)
    assert np.all((c >= c0 - 1e-12) & (c <= 1.0))
    # Exactly 1 from T on, despite rounding.
    np.testing.assert_array_equal(c[T:], 1.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"T": 0}, ValueError, "T must be a finite real number > 0"),
        ({"T": -1}, ValueError, "T must be a finite real number > 0"),
        ({"T": np.inf}, ValueError, "T must be a finite real number"),
        ({"T": "5"}, TypeError, "T must be a finite real number"),
        ({"T": 5, "c0": 0}, ValueError, r"c0 must be a finite real number in \(0, 1\]"),
        (
            {"T": 5, "c0": 1.01},
            ValueError,
            r"c0 must be a finite real number in \(0, 1\]",
        ),
        ({"T": 5, "p": 0.9}, ValueError, "p must be a finite real number >= 1"),
        ({"T": 5, "p": True}, TypeError, "p must be a finite real number"),
    ],
)
def test_competence_bad_parameters(kwargs, error, name):
    with pytest.raises(error, match=name):
        competence(1, **kwargs)


@pytest.mark.parametrize("t", [-1, np.nan, [0, np.inf]])
def test_competence_bad_t(t):
    with pytest.raises(ValueError, match="t must be finite and >= 0"):
        competence(t, T=5)


# ------------------------------------------------------- difficulty_score


def test_difficulty_boundary_and_literal_rules():
    blur = np.array([0.0, 5.0, 10.0, 10.0])
    distance = np.array([0.0, 50.0, 100.0, 200.0])
    boundary = difficulty_score(blur, distance, distance_scale=100)
    literal = difficulty_score(
        blur, distance, distance_scale=100, distance_rule="literal"
    )
    # b = blur / 10, l_literal = min(distance / 100, 1).
    l_literal = np.array([0.0, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(boundary, 0.5 * blur / 10 + 0.5 * (1 - l_literal))
    np.testing.assert_allclose(literal, 0.5 * blur / 10 + 0.5 * l_literal)


def test_difficulty_weights_and_default_scale():
    blur = np.array([2.0, 8.0])
    distance = np.array([10.0, 40.0])
    np.testing.assert_allclose(difficulty_score(blur, distance, alpha=1.0), [0.2, 0.8])
    # beta only, scale = largest distance, boundary rule.
    np.testing.assert_allclose(
        difficulty_score(blur, distance, alpha=0.0), [1 - 10 / 40, 0.0]
    )
    np.testing.assert_allclose(
        difficulty_score(blur, distance, alpha=0.3, beta=0.7, max_blur=8),
        0.3 * blur / 8 + 0.7 * (1 - distance / 40),
    )
    # All distances zero: the scale falls back to 1 instead of dividing by 0.
    np.testing.assert_allclose(difficulty_score([0, 10], [0, 0]), [0.5, 1.0])


@given(
    st.lists(st.tuples(st.floats(0, 10), st.floats(0, 1e4)), min_size=1, max_size=50),
    st.floats(0, 1),
)
def test_difficulty_in_unit_interval(pairs, alpha):
    blur, distance = map(np.array, zip(*pairs, strict=True))
    for rule in ("boundary", "literal"):
        d = difficulty_score(blur, distance, alpha=alpha, distance_rule=rule)
        assert np.all((d >= -1e-12) & (d <= 1 + 1e-12))


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"alpha": 1.5}, ValueError, r"alpha must be a finite real number in \[0, 1\]"),
        (
            {"alpha": -0.1},
            ValueError,
            r"alpha must be a finite real number in \[0, 1\]",
        ),
        (
            {"alpha": 0.5, "beta": 1.2},
            ValueError,
            r"beta must be a finite real number in \[0, 1\]",
        ),
        ({"alpha": 0.5, "beta": 0.4}, ValueError, "alpha \\+ beta must equal 1"),
        ({"distance_rule": "inverse"}, ValueError, "distance_rule"),
        ({"max_blur": 0}, ValueError, "max_blur must be a finite real number > 0"),
        (
            {"distance_scale": 0},
            ValueError,
            "distance_scale must be a finite real number > 0",
        ),
    ],
)
def test_difficulty_bad_parameters(kwargs, error, name):
    with pytest.raises(error, match=name):
        difficulty_score([1.0, 2.0], [3.0, 4.0], **kwargs)


@pytest.mark.parametrize(
    ("blur", "distance", "name"),
    [
        ([1.0, 2.0], [3.0], "same length"),
        ([1.0, 11.0], [3.0, 4.0], "blur must lie in"),
        ([-1.0, 2.0], [3.0, 4.0], "blur must lie in"),
        ([1.0, 2.0], [-3.0, 4.0], "distance must be >= 0"),
        ([1.0, np.nan], [3.0, 4.0], "blur must not contain NaN"),
        ([1.0, 2.0], [[3.0, 4.0]], "distance must be 1-D"),
    ],
)
def test_difficulty_bad_arrays(blur, distance, name):
    with pytest.raises(ValueError, match=name):
        difficulty_score(blur, distance)


# ------------------------------------------------------- scale_difficulty


def test_cdf_scaling_ranks_and_ties():
    np.testing.assert_allclose(
        scale_difficulty([3.0, 1.0, 2.0, 4.0]), [0.75, 0.25, 0.5, 1]
    )
    # Ties share the larger value, so they enter the curriculum together.
    np.testing.assert_allclose(
        scale_difficulty([0.3, 0.1, 0.2, 0.2]), [1, 0.25, 0.75, 0.75]
    )
    assert scale_difficulty([]).shape == (0,)


@given(
    st.lists(
        st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=200, unique=True
    ),
    st.floats(0.0, 1.0),
)
def test_cdf_scaling_admits_floor_c_n(values, c):
    """With distinct difficulties, competence c admits floor(c * n) samples."""
    n = len(values)
    scaled = scale_difficulty(values)
    # On the grid c = k / n the count is exactly k.
    for k in range(n + 1):
        assert int(np.sum(scaled <= k / n)) == k
    # Away from the grid it is floor(c * n).
    if abs(c * n - round(c * n)) > 1e-9:
        assert int(np.sum(scaled <= c)) == math.floor(c * n)
    # The admitted samples are the easiest ones.
    order = np.argsort(values)
    k = int(np.sum(scaled <= c))
    assert set(np.flatnonzero(scaled <= c)) == set(order[:k])


def test_minmax_and_none_scaling():
    np.testing.assert_allclose(scale_difficulty([2.0, 4.0, 3.0], "minmax"), [0, 1, 0.5])
    np.testing.assert_allclose(scale_difficulty([5.0, 5.0], "minmax"), [0.0, 0.0])
    np.testing.assert_allclose(scale_difficulty([0.2, 0.7], "none"), [0.2, 0.7])


@pytest.mark.parametrize(
    ("values", "method", "error", "name"),
    [
        ([0.2, 1.7], "none", ValueError, "lie in \\[0, 1\\]"),
        ([0.2, 0.7], "rank", ValueError, "method must be one of"),
        ([0.2, np.inf], "cdf", ValueError, "NaN or infinity"),
        ([[0.2, 0.7]], "cdf", ValueError, "1-D"),
        (["a", "b"], "cdf", TypeError, "difficulty must be a 1-D array"),
    ],
)
def test_scaling_bad_input(values, method, error, name):
    with pytest.raises(error, match=name):
        scale_difficulty(values, method)


def test_difficulty_score_is_the_datasets_one():
    # The difficulty is a property of the data: one implementation, in
    # skcells.datasets, re-exported here.
    from skcells import datasets

    assert difficulty_score is datasets.difficulty_score

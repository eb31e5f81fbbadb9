"""Property-based tests (hypothesis) of the aggregation rules and competence.

Aggregation (paper Eq. 3-5): scores are distributions (rows sum to 1),
predictions are the argmax of the scores, the result does not depend on the
order of the views, MVWCo-S equals MVM when every confidence is equal, and
the classifier's ``predict``/``predict_proba``/``predict_views`` agree with
the functions.  Competence (Eq. 2): monotone in ``t``, ``c(0) = c0``,
``c(t) = 1`` from ``T`` on.
"""

import functools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.linear_model import LogisticRegression

from skcells.curriculum import competence, difficulty_score, scale_difficulty
from skcells.multiview import (
    MultiViewClassifier,
    aggregate_mean,
    aggregate_mode,
    aggregate_weighted,
    view_agreement,
    view_predictions,
    vote_entropy,
)

FAST = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@st.composite
def votes(draw, max_samples=6, max_views=9, max_classes=5):
    """Per-view labels (n, m), confidences (n, m) in (0, 1] and n_classes."""
    n = draw(st.integers(1, max_samples))
    m = draw(st.integers(1, max_views))
    k = draw(st.integers(1, max_classes))
    labels = draw(hnp.arrays(np.int64, (n, m), elements=st.integers(0, k - 1)))
    conf = draw(
        hnp.arrays(
            np.float64,
            (n, m),
            elements=st.floats(0.01, 1.0, allow_nan=False, allow_infinity=False),
        )
    )
    perm = draw(st.permutations(range(m)))
    return labels, conf, k, np.asarray(perm)


@st.composite
def view_probas(draw, max_samples=5, max_views=8, max_classes=4):
    """Per-view probability vectors (n, m, k) with rows summing to 1."""
    n = draw(st.integers(1, max_samples))
    m = draw(st.integers(1, max_views))
    k = draw(st.integers(1, max_classes))
    raw = draw(
        hnp.arrays(
            np.float64,
            (n, m, k),
            elements=st.floats(0.0, 1.0, allow_nan=False, allow_infinity=False),
        )
    )
    raw = raw + 1e-3  # no all-zero rows
    perm = draw(st.permutations(range(m)))
    return raw / raw.sum(axis=2, keepdims=True), np.asarray(perm)


def _mode_reference(labels, k):
    """Eq. 4 by a plain loop: most frequent label, smallest code on ties."""
    out = []
    for row in labels:
        counts = np.bincount(row, minlength=k)
        out.append(int(np.flatnonzero(counts == counts.max())[0]))
    return np.array(out)


# --------------------------------------------------------------- functions
@FAST
@given(votes())
def test_mode_is_a_distribution_whose_argmax_is_the_mode(data):
    labels, _, k, _ = data
    scores = aggregate_mode(labels, k)
    assert scores.shape == (labels.shape[0], k)
    assert np.all(scores >= 0)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0)
    np.testing.assert_array_equal(scores.argmax(axis=1), _mode_reference(labels, k))


@FAST
@given(votes())
def test_weighted_is_a_distribution_of_cumulative_confidence(data):
    labels, conf, k, _ = data
    scores = aggregate_weighted(labels, conf, k)
    assert np.all(scores >= 0)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0)
    # Eq. 5 by a plain loop: z_k = sum of the confidences of the views voting k
    z = np.zeros((labels.shape[0], k))
    for i, j in np.ndindex(labels.shape):
        z[i, labels[i, j]] += conf[i, j]
    np.testing.assert_allclose(scores, z / z.sum(axis=1, keepdims=True))


@FAST
@given(votes())
def test_aggregation_does_not_depend_on_the_order_of_views(data):
    labels, conf, k, perm = data
    np.testing.assert_array_equal(
        aggregate_mode(labels[:, perm], k), aggregate_mode(labels, k)
    )
    np.testing.assert_allclose(
        aggregate_weighted(labels[:, perm], conf[:, perm], k),
        aggregate_weighted(labels, conf, k),
    )
    np.testing.assert_allclose(
        vote_entropy(labels[:, perm], k), vote_entropy(labels, k)
    )


@FAST
@given(votes(), st.floats(0.01, 1.0))
def test_weighted_equals_mode_when_all_confidences_are_equal(data, c):
    labels, _, k, _ = data
    equal = np.full(labels.shape, c)
    np.testing.assert_allclose(
        aggregate_weighted(labels, equal, k), aggregate_mode(labels, k)
    )


@FAST
@given(votes(), st.floats(0.1, 10.0))
def test_weighted_is_invariant_to_scaling_the_confidences(data, factor):
    labels, conf, k, _ = data
    np.testing.assert_allclose(
        aggregate_weighted(labels, conf * factor, k),
        aggregate_weighted(labels, conf, k),
    )


@FAST
@given(view_probas())
def test_view_predictions_and_mean(data):
    proba, perm = data
    labels, conf = view_predictions(proba)
    np.testing.assert_array_equal(labels, proba.argmax(axis=2))
    np.testing.assert_array_equal(conf, proba.max(axis=2))
    # the top probability of k classes is at least 1/k
    assert np.all(conf >= 1.0 / proba.shape[2] - 1e-12)
    mean = aggregate_mean(proba)
    np.testing.assert_allclose(mean.sum(axis=1), 1.0)
    np.testing.assert_allclose(aggregate_mean(proba[:, perm]), mean)


@FAST
@given(votes())
def test_agreement_and_entropy_bounds(data):
    labels, _, k, _ = data
    m = labels.shape[1]
    scores = aggregate_mode(labels, k)
    pred = scores.argmax(axis=1)
    agreement = view_agreement(labels, pred)
    # the agreement with the mode is the mode's vote fraction, >= 1/k
    np.testing.assert_allclose(agreement, scores[np.arange(len(pred)), pred])
    assert np.all(agreement >= 1.0 / min(k, m) - 1e-12)
    entropy = vote_entropy(labels, k)
    assert np.all(entropy >= 0)
    assert np.all(entropy <= np.log(min(k, m)) + 1e-12)
    unanimous = np.all(labels == labels[:, :1], axis=1)
    np.testing.assert_array_equal(entropy == 0, unanimous)
    normalized = vote_entropy(labels, k, normalize=True)
    assert np.all((normalized >= 0) & (normalized <= 1 + 1e-12))


# -------------------------------------------------------------- classifier
_RNG = np.random.default_rng(0)
_Y = np.repeat(["low", "high", "mid"], 8)
_X = (
    _RNG.normal(size=(24, 1, 10, 10))
    + (np.unique(_Y, return_inverse=True)[1])[:, None, None, None]
)


@functools.cache
def _fitted():
    return MultiViewClassifier(
        LogisticRegression(max_iter=200),
        n_views=4,
        output_size=4,
        n_train_views=2,
        random_state=0,
    ).fit(_X, _Y)


@FAST
@given(
    n_views=st.integers(1, 7),
    aggregation=st.sampled_from(["mode", "weighted", "mean"]),
    low=st.floats(0.1, 1.0),
    seed=st.integers(0, 2**31 - 1),
    rows=st.lists(st.integers(0, 23), min_size=1, max_size=6),
)
def test_classifier_predict_is_the_argmax_of_predict_proba(
    n_views, aggregation, low, seed, rows
):
    clf = _fitted()
    clf.set_params(
        n_views=n_views,
        aggregation=aggregation,
        crop_scale=(low, 1.0),
        random_state=seed,
    )
    X = _X[rows]
    proba = clf.predict_proba(X)
    # views are float32, so the estimator's probabilities are float32 too
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    labels, conf = clf.predict_views(X)
    assert labels.shape == conf.shape == (len(rows), n_views)
    codes = np.searchsorted(clf.classes_, labels)
    if aggregation == "mode":
        np.testing.assert_allclose(proba, aggregate_mode(codes, len(clf.classes_)))
    elif aggregation == "weighted":
        np.testing.assert_allclose(
            proba, aggregate_weighted(codes, conf, len(clf.classes_))
        )
    # a view's confidence is a probability no smaller than 1 / n_classes
    assert np.all((conf >= 1 / 3 - 1e-12) & (conf <= 1))


@pytest.fixture(autouse=True)
def _reset_classifier():
    yield
    _fitted().set_params(n_views=4, aggregation="mode", crop_scale=(0.1, 0.2))


# -------------------------------------------------------------- competence
@FAST
@given(
    T=st.floats(0.5, 2000),
    c0=st.floats(1e-4, 1.0),
    p=st.floats(1.0, 5.0),
    t=st.lists(st.floats(0, 4000), min_size=1, max_size=30),
)
def test_competence_is_monotone_and_reaches_one_at_T(T, c0, p, t):
    t = np.sort(np.asarray(t))
    c = competence(t, T=T, c0=c0, p=p)
    assert np.all(np.diff(c) >= -1e-12)
    assert np.all((c >= c0 - 1e-12) & (c <= 1.0))
    assert float(competence(0, T=T, c0=c0, p=p)) == pytest.approx(c0)
    assert float(competence(T, T=T, c0=c0, p=p)) == 1.0
    np.testing.assert_array_equal(c[t >= T], 1.0)
    if c0 < 1 - 1e-9:
        # (c0 within a few ulps of 1 rounds c(t) to exactly 1.0 before T)
        assert np.all(c[t < T] < 1.0)


@FAST
@given(T=st.floats(1, 1000), c0=st.floats(1e-3, 0.9), frac=st.floats(0, 1))
def test_linear_competence_interpolates(T, c0, frac):
    """p = 1 is the straight line from c0 at t = 0 to 1 at t = T."""
    c = float(competence(frac * T, T=T, c0=c0, p=1))
    assert c == pytest.approx(c0 + frac * (1 - c0), abs=1e-9)


@FAST
@given(
    d=hnp.arrays(
        np.float64,
        st.integers(1, 40),
        elements=st.floats(-1e3, 1e3, allow_nan=False),
        unique=True,
    ),
    c=st.floats(0, 1),
)
def test_cdf_scaling_admits_a_fraction_c_of_distinct_samples(d, c):
    scaled = scale_difficulty(d, "cdf")
    assert np.all((scaled > 0) & (scaled <= 1))
    order = np.argsort(d)
    assert np.all(np.diff(scaled[order]) > 0)  # same order as the raw scores
    n = d.size
    # the scaled values are the ranks k / n, so c admits the k with k / n <= c
    np.testing.assert_allclose(np.sort(scaled) * n, np.arange(1, n + 1))
    assert int(np.sum(scaled <= c)) == int(np.sum(np.arange(1, n + 1) / n <= c))
    if c * n == int(c * n):
        assert int(np.sum(scaled <= c)) == int(c * n)


@FAST
@given(
    blur=hnp.arrays(np.float64, 8, elements=st.floats(0, 10)),
    distance=hnp.arrays(np.float64, 8, elements=st.floats(0, 500)),
    alpha=st.floats(0, 1),
    rule=st.sampled_from(["boundary", "literal"]),
)
def test_difficulty_lies_in_unit_interval_and_grows_with_blur(
    blur, distance, alpha, rule
):
    d = difficulty_score(
        blur, distance, alpha=alpha, distance_scale=300.0, distance_rule=rule
    )
    assert np.all((d >= -1e-12) & (d <= 1 + 1e-12))
    more_blur = difficulty_score(
        np.minimum(blur + 1, 10),
        distance,
        alpha=alpha,
        distance_scale=300.0,
        distance_rule=rule,
    )
    assert np.all(more_blur >= d - 1e-12)

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from skcells.noise import (
    CIFAR10_ASYMMETRIC_MAPPING,
    CIFAR10_CLASSES,
    SmoothedCrossEntropyLoss,
    asymmetric_label_noise,
    label_smoothing_loss,
    pairflip_mapping,
)


@pytest.fixture(scope="module")
def cifar_like_labels():
    # unequal class sizes, shuffled, so exact per-class counts are meaningful
    rng = np.random.default_rng(1)
    counts = np.arange(10) * 7 + 31
    return rng.permutation(np.repeat(np.arange(10), counts))


def test_cifar10_mapping_is_the_one_of_ma_et_al():
    names = {
        CIFAR10_CLASSES[s]: CIFAR10_CLASSES[t]
        for s, t in CIFAR10_ASYMMETRIC_MAPPING.items()
    }
    assert names == {
        "truck": "automobile",
        "bird": "airplane",
        "deer": "horse",
        "cat": "dog",
        "dog": "cat",
    }


@pytest.mark.parametrize("rate", [0.0, 0.2, 0.45, 1.0])
def test_cifar10_noise_flips_exactly_rate_per_source_class(cifar_like_labels, rate):
    y = cifar_like_labels
    y_noisy = asymmetric_label_noise(y, rate, random_state=0)
    assert y_noisy.shape == y.shape and y_noisy.dtype == y.dtype
    flipped = y_noisy != y
    for c in range(10):
        members = y == c
        if c in CIFAR10_ASYMMETRIC_MAPPING:
            assert flipped[members].sum() == round(rate * members.sum())
            # every flip of class c goes to its mapped class
            assert set(y_noisy[members & flipped]) <= {CIFAR10_ASYMMETRIC_MAPPING[c]}
        else:
            assert not flipped[members].any()


def test_cat_dog_swap_flips_each_sample_at_most_once(cifar_like_labels):
    y = cifar_like_labels
    y_noisy = asymmetric_label_noise(y, 0.5, random_state=3)
    cats, dogs = y == 3, y == 5
    assert (y_noisy[cats] == 5).sum() == round(0.5 * cats.sum())
    assert (y_noisy[dogs] == 3).sum() == round(0.5 * dogs.sum())
    assert np.isin(y_noisy[cats], [3, 5]).all()


def test_noise_is_seeded(cifar_like_labels):
    y = cifar_like_labels
    original = y.copy()
    a = asymmetric_label_noise(y, 0.2, random_state=42)
    b = asymmetric_label_noise(y, 0.2, random_state=42)
    c = asymmetric_label_noise(y, 0.2, random_state=0)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # same number of flips whatever the seed
    assert (a != y).sum() == (c != y).sum()
    # the input is not modified
    np.testing.assert_array_equal(y, original)


def test_pairflip_on_digits():
    from sklearn.datasets import load_digits

    y = load_digits().target
    y_noisy = asymmetric_label_noise(y, 0.2, mapping="pairflip", random_state=0)
    flipped = y_noisy != y
    for c in range(10):
        members = y == c
        assert flipped[members].sum() == round(0.2 * members.sum())
    np.testing.assert_array_equal(y_noisy[flipped], (y[flipped] + 1) % 10)
    assert pairflip_mapping(range(10)) == {i: (i + 1) % 10 for i in range(10)}


def test_custom_mapping_on_string_labels():
    y = np.array(["rbc"] * 10 + ["wbc"] * 6 + ["platelet"] * 4)
    y_noisy = asymmetric_label_noise(
        y, 0.5, mapping={"wbc": "lymphocyte", "platelet": "rbc"}, random_state=0
    )
    # the noisy label is longer than every clean one: no truncation
    assert (y_noisy == "lymphocyte").sum() == 3
    assert ((y == "platelet") & (y_noisy == "rbc")).sum() == 2
    assert (y_noisy[y == "rbc"] == "rbc").all()


@settings(max_examples=30, deadline=None)
@given(
    counts=st.lists(st.integers(0, 40), min_size=2, max_size=6),
    rate=st.floats(0, 1),
    seed=st.integers(0, 2**31 - 1),
)
def test_exact_counts_property(counts, rate, seed):
    y = np.repeat(np.arange(len(counts)), counts)
    if np.unique(y).size < 2:
        return
    y_noisy = asymmetric_label_noise(y, rate, mapping="pairflip", random_state=seed)
    for c, n in enumerate(counts):
        assert (y_noisy[y == c] != c).sum() == round(rate * n)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            {"rate": 1.5},
            ValueError,
            r"'rate' parameter of asymmetric_label_noise must be a float in the "
            r"range \[0.0, 1.0\]. Got 1.5",
        ),
        ({"rate": "0.2"}, ValueError, "'rate' parameter of asymmetric_label_noise"),
        ({"rate": 0.2, "mapping": "sym"}, ValueError, "'mapping' parameter .* among"),
        ({"rate": 0.2, "mapping": [1, 2]}, TypeError, "'mapping' parameter .* among"),
        ({"rate": 0.2, "mapping": {}}, ValueError, "mapping must not be empty"),
        ({"rate": 0.2, "mapping": {1: 1}}, ValueError, "another label, got 1 -> 1"),
        ({"rate": 0.2, "mapping": {1: "cat"}}, ValueError, "same kind as y"),
    ],
)
def test_noise_validates_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        asymmetric_label_noise(np.arange(10), **kwargs)


def test_cifar10_mapping_needs_cifar10_indices():
    with pytest.raises(ValueError, match="mapping='cifar10' needs CIFAR-10"):
        asymmetric_label_noise(np.array([0, 3, 12]), 0.2)
    with pytest.raises(ValueError, match="y must be 1-D"):
        asymmetric_label_noise(np.zeros((2, 2), dtype=int), 0.2)
    with pytest.raises(ValueError, match="at least 2 labels"):
        asymmetric_label_noise(np.zeros(5, dtype=int), 0.2, mapping="pairflip")


# ------------------------------------------------------------ label smoothing


def test_smoothed_loss_matches_the_smoothed_target_formula():
    torch.manual_seed(0)
    logits = torch.randn(6, 4)
    target = torch.tensor([0, 1, 2, 3, 0, 1])
    eps = 0.4
    q = torch.full((6, 4), eps / 4)
    q[torch.arange(6), target] += 1 - eps
    expected = -(q * logits.log_softmax(dim=1)).sum(dim=1).mean()
    torch_loss = torch.nn.CrossEntropyLoss(label_smoothing=eps)
    torch.testing.assert_close(torch_loss(logits, target), expected)
    with pytest.warns(FutureWarning, match="SmoothedCrossEntropyLoss is deprecated"):
        alias = SmoothedCrossEntropyLoss(eps)
    torch.testing.assert_close(alias(logits, target), expected)
    plain = torch.nn.functional.cross_entropy(logits, target)
    with pytest.warns(FutureWarning, match="label_smoothing_loss is deprecated"):
        torch.testing.assert_close(label_smoothing_loss(0.0)(logits, target), plain)
        assert label_smoothing_loss(0.4).smoothing == 0.4


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_deprecated_alias_is_torch_cross_entropy(reduction, weighted):
    torch.manual_seed(0)
    logits, target = torch.randn(7, 3), torch.tensor([0, 1, 2, 2, 1, 0, 1])
    weight = torch.tensor([0.5, 1.0, 2.0]) if weighted else None
    with pytest.warns(
        FutureWarning, match=r"torch\.nn\.CrossEntropyLoss\(label_smoothing="
    ):
        alias = SmoothedCrossEntropyLoss(0.3, weight=weight, reduction=reduction)
    assert isinstance(alias, torch.nn.CrossEntropyLoss)
    assert (alias.smoothing, alias.label_smoothing) == (0.3, 0.3)
    torch_loss = torch.nn.CrossEntropyLoss(
        weight=weight, reduction=reduction, label_smoothing=0.3
    )
    torch.testing.assert_close(
        alias(logits, target), torch_loss(logits, target), rtol=0, atol=0
    )


@pytest.mark.parametrize("smoothing", [-0.1, 1.2, "0.4", True])
def test_smoothed_loss_validates(smoothing):
    with pytest.raises(ValueError, match="smoothing must be a finite real number in"):
        with pytest.warns(FutureWarning):
            SmoothedCrossEntropyLoss(smoothing)


def _fit_linear(X, y, smoothing, *, alias=True):
    from skorch import NeuralNetClassifier

    if alias:
        criterion = {"criterion": SmoothedCrossEntropyLoss}
        criterion["criterion__smoothing"] = smoothing
    else:
        criterion = {"criterion": torch.nn.CrossEntropyLoss}
        criterion["criterion__label_smoothing"] = smoothing
    torch.manual_seed(0)
    return NeuralNetClassifier(
        torch.nn.Linear,
        module__in_features=X.shape[1],
        module__out_features=2,
        optimizer=torch.optim.Adam,
        lr=0.1,
        max_epochs=30,
        train_split=None,
        verbose=0,
        **criterion,
    ).fit(X, y)


def test_smoothed_loss_is_a_skorch_criterion():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 5)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    with pytest.warns(FutureWarning):
        smooth, plain = _fit_linear(X, y, 0.4), _fit_linear(X, y, 0.0)
    # torch's own loss trains exactly the same net
    torch_smooth = _fit_linear(X, y, 0.4, alias=False)
    assert torch_smooth.history[:, "train_loss"] == smooth.history[:, "train_loss"]
    assert smooth.criterion_.label_smoothing == pytest.approx(0.4)
    proba = smooth.predict_proba(X)
    # skorch recognises the loss as a cross-entropy and applies a softmax
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert (smooth.predict(X) == y).mean() > 0.8
    # smoothing makes the model less confident than the plain loss
    confidence = proba.max(axis=1).mean()
    assert confidence < plain.predict_proba(X).max(axis=1).mean()
    assert confidence < 0.9

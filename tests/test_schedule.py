"""The learning-rate schedules of the protocol: constant, cosine and Xia et al."""

import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import LRScheduler

from skcells.experiments import SCALE_NAMES, XiaSchedule, get_scale, make_net
from skcells.persistence import load_model, save_model

RNG = np.random.default_rng(0)
X_IMG = RNG.normal(size=(16, 3, 28, 28)).astype(np.float32)
Y_IMG = np.repeat([0, 1], 8)
X_VEC = RNG.normal(size=(16, 3)).astype(np.float32)
Y_VEC = (X_VEC[:, 0] > 0).astype(np.int64)


def _linear_net(**params):
    """A tiny skorch net with Adam and the Xia schedule."""
    params = {
        "optimizer": torch.optim.Adam,
        "lr": 0.01,
        "max_epochs": 10,
        "callbacks": [("lr_scheduler", XiaSchedule())],
        **params,
    }
    return NeuralNetClassifier(
        torch.nn.Linear,
        module__in_features=3,
        module__out_features=2,
        criterion=torch.nn.CrossEntropyLoss,
        train_split=None,
        verbose=0,
        **params,
    )


@pytest.fixture(scope="module")
def xia_cnn():
    """The protocol's 9-layer CNN trained 10 epochs with the Xia schedule."""
    torch.manual_seed(0)
    net = make_net(
        model="cnn9",
        n_classes=2,
        model_params={"width": 0.0625},
        epochs=10,
        batch_size=8,
        seed=0,
        lr_schedule="xia",
    )
    return net.fit(X_IMG, Y_IMG)


def test_xia_schedule_of_the_protocol_cnn(xia_cnn):
    net = xia_cnn
    callback = dict(net.callbacks)["lr_scheduler"]
    assert isinstance(callback, XiaSchedule)
    assert (callback.decay_start, callback.final_beta1) == (0.4, 0.1)
    assert callback.start_epoch_ == 4  # floor(0.4 * 10)
    lrs = np.array(net.history[:, "lr"])
    # lr0 * min(1, (T - e) / (T - s)) with T = 10, s = 4, e = 0..9
    expected = 1e-3 * np.array([1, 1, 1, 1, 1, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6])
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)
    assert np.all(lrs[:4] == 1e-3)  # constant over the first 40 % of the epochs
    np.testing.assert_allclose(np.diff(lrs[4:]), -1e-3 / 6, rtol=1e-9)  # linear
    assert net.history[:, "beta1"] == [0.9] * 4 + [0.1] * 6
    # the optimizer keeps the values of the last epoch
    for group in net.optimizer_.param_groups:
        assert group["lr"] == pytest.approx(1e-3 / 6, rel=1e-12)
        assert group["betas"] == (0.1, 0.999)


def test_xia_schedule_follows_co_teaching_over_200_epochs():
    net = _linear_net(lr=1e-3, max_epochs=200).fit(X_VEC, Y_VEC)
    lrs = net.history[:, "lr"]
    beta1 = net.history[:, "beta1"]
    assert lrs[:81] == [1e-3] * 81  # epochs 0..80 (0-based)
    assert beta1[:80] == [0.9] * 80 and beta1[80:] == [0.1] * 120
    plan = [1e-3 * (200 - e) / 120 for e in range(80, 200)]
    np.testing.assert_allclose(lrs[80:], plan, rtol=1e-12)
    assert lrs[-1] == pytest.approx(1e-3 / 120, rel=1e-12)


def test_xia_schedule_keeps_beta2_and_the_optimizer_beta1():
    net = _linear_net(optimizer__betas=(0.8, 0.95), max_epochs=5).fit(X_VEC, Y_VEC)
    assert net.history[:, "beta1"] == [0.8, 0.8, 0.1, 0.1, 0.1]
    assert net.optimizer_.param_groups[0]["betas"] == (0.1, 0.95)


def test_xia_schedule_restarts_with_every_training_call():
    net = _linear_net(max_epochs=4).fit(X_VEC, Y_VEC)
    first = net.history[:, "lr"]
    net.partial_fit(X_VEC, Y_VEC)
    assert len(net.history) == 8
    assert net.history[:, "lr"] == first + first
    assert net.history[:, "beta1"] == [0.9, 0.1, 0.1, 0.1] * 2
    net.partial_fit(X_VEC, Y_VEC, epochs=6)  # past max_epochs: lr 0
    np.testing.assert_allclose(net.history[-6:, "lr"], [*first, 0.0, 0.0])


def test_xia_schedule_with_a_custom_decay_start():
    callback = XiaSchedule(decay_start=0.0, final_beta1=0.2)
    net = _linear_net(max_epochs=4, callbacks=[callback]).fit(X_VEC, Y_VEC)
    np.testing.assert_allclose(net.history[:, "lr"], [0.01, 0.0075, 0.005, 0.0025])
    assert net.history[:, "beta1"] == [0.2] * 4


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"decay_start": 1.0}, ValueError, r"decay_start must be .*\[0, 1\)"),
        ({"decay_start": -0.1}, ValueError, "decay_start must be"),
        ({"decay_start": float("nan")}, ValueError, "decay_start must be"),
        ({"decay_start": "0.4"}, TypeError, "decay_start must be"),
        ({"final_beta1": 1.0}, ValueError, r"final_beta1 must be .*\[0, 1\)"),
        ({"final_beta1": -0.5}, ValueError, "final_beta1 must be"),
        ({"final_beta1": None}, TypeError, "final_beta1 must be"),
    ],
)
def test_xia_schedule_validates_its_parameters(params, error, match):
    with pytest.raises(error, match=match):
        XiaSchedule(**params).initialize()
    with pytest.raises(error, match=match):
        _linear_net(callbacks=[XiaSchedule(**params)]).fit(X_VEC, Y_VEC)


def test_xia_schedule_needs_adam_betas():
    net = _linear_net(optimizer=torch.optim.SGD)
    with pytest.raises(TypeError, match="optimizer must have betas .*got SGD"):
        net.fit(X_VEC, Y_VEC)


def test_make_net_lr_schedules():
    common = dict(model="cnn9", n_classes=2, epochs=6, batch_size=8, seed=0)
    constant = make_net(**common)
    assert [name for name, _ in constant.callbacks] == ["best_valid_loss"]
    cosine = dict(make_net(**common, lr_schedule="cosine").callbacks)["lr_scheduler"]
    assert isinstance(cosine, LRScheduler)
    assert (cosine.policy, cosine.T_max) == ("CosineAnnealingLR", 6)
    xia = dict(make_net(**common, lr_schedule="xia").callbacks)["lr_scheduler"]
    assert isinstance(xia, XiaSchedule)
    for bad in ("linear", "Xia", True, None):
        with pytest.raises(ValueError, match="lr_schedule must be one of"):
            make_net(**common, lr_schedule=bad)


@pytest.mark.parametrize("name", SCALE_NAMES)
def test_scales_use_each_series_schedule(name):
    specs = get_scale(name).specs
    schedules = {s.series: set() for s in specs}
    for spec in specs:
        schedules[spec.series].add(spec.lr_schedule)
    assert schedules == {1: {"constant"}, 2: {"cosine"}, 3: {"xia"}}


def test_xia_schedule_is_saved_and_loaded(xia_cnn, tmp_path):
    loaded = load_model(save_model(xia_cnn, tmp_path / "net.skcells"))
    callback = dict(loaded.callbacks)["lr_scheduler"]
    assert isinstance(callback, XiaSchedule)
    assert loaded.optimizer_.param_groups[0]["betas"] == (0.1, 0.999)
    assert loaded.history[:, "lr"] == xia_cnn.history[:, "lr"]

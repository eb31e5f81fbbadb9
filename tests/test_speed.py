"""The fast paths give the results of the straightforward ones.

The box blur (scipy's running means), the in-place degradation behind the
renderer and the channels-last training of the experiments replace simpler
code; these tests keep that code as the reference: the same bytes for the
data, the same predictions up to float rounding for the networks.
"""

import numpy as np
import pytest
import torch

from skcells.datasets import _render as render_module
from skcells.datasets import box_blur, degrade, render_video
from skcells.experiments import make_net


def _reference_box_blur(x, radius):
    """The box blur of the first generator: cumulative sums in float64."""
    x = np.asarray(x, dtype=np.float32)
    for axis in (-2, -1):
        x = np.moveaxis(x, axis, -1)
        pad = [(0, 0)] * (x.ndim - 1) + [(radius + 1, radius)]
        c = np.cumsum(np.pad(x, pad, mode="edge"), axis=-1, dtype=np.float64)
        width = 2 * radius + 1
        out = (c[..., width:] - c[..., :-width]) / width
        x = np.moveaxis(out.astype(np.float32), -1, axis)
    return x


def _reference_degrade(images, blur, noise, law, rng, overwrite=False):
    """The degradation of the first generator: blur, round, then noise."""
    out = np.empty(images.shape, dtype=np.uint8)
    for b in np.unique(blur):
        idx = np.flatnonzero(blur == b)
        blurred = np.asarray(images[idx], dtype=np.float32).copy()
        if b:
            blurred = _reference_box_blur(blurred, int(b))
        out[idx] = np.clip(np.rint(blurred), 0, 255)
    noisy = np.flatnonzero(noise > 0)
    if noisy.size:
        shape = (-1,) + (1,) * (images.ndim - 1)
        x = out[noisy].astype(np.float32)
        if law == "gaussian":
            eps = rng.standard_normal(x.shape, dtype=np.float32)
            x += eps * (255.0 * noise[noisy].reshape(shape)).astype(np.float32)
        else:
            from skcells.datasets import add_noise

            for k, i in enumerate(noisy):
                x[k] = add_noise(x[k], noise[i], law=law, random_state=rng)
        out[noisy] = np.clip(np.rint(x), 0, 255)
    return out


@pytest.mark.parametrize("radius", [1, 2, 5, 10])
@pytest.mark.parametrize("dtype", [np.float32, np.uint8, np.float64])
def test_box_blur_equals_the_float64_cumulative_sums(radius, dtype):
    rng = np.random.default_rng(radius)
    x = (rng.random((2, 3, 37, 29)) * 255).astype(dtype)
    blurred = box_blur(x, radius)
    assert blurred.dtype == np.float32
    np.testing.assert_array_equal(blurred, _reference_box_blur(x, radius))


@pytest.mark.parametrize("law", ["gaussian", "poisson"])
def test_degrade_gives_the_reference_bytes_and_keeps_its_input(law):
    rng = np.random.default_rng(0)
    images = (rng.random((5, 2, 3, 20, 24)) * 300 - 20).astype(np.float32)
    before = images.copy()
    blur = np.array([0, 3, 3, 10, 0])
    noise = np.array([0.0, 0.1, 0.0, 0.3, 0.2])
    fast = degrade(images, blur=blur, noise=noise, law=law, random_state=1)
    reference = _reference_degrade(images, blur, noise, law, np.random.default_rng(1))
    np.testing.assert_array_equal(fast, reference)
    np.testing.assert_array_equal(images, before)
    # uint8 input, one radius and level for all
    sharp = (rng.random((3, 3, 16, 16)) * 255).astype(np.uint8)
    fast = degrade(sharp, blur=2, noise=0.1, law=law, random_state=5)
    reference = _reference_degrade(
        sharp, np.full(3, 2), np.full(3, 0.1), law, np.random.default_rng(5)
    )
    np.testing.assert_array_equal(fast, reference)


@pytest.mark.parametrize(
    "condition",
    [
        {"blur": 0, "noise": 0.0},
        {"blur": 4, "noise": 0.0},
        {"blur": 0, "noise": 0.2},
        {"blur": 10, "noise": 0.05},
        {"blur": 2, "noise": 0.3, "noise_law": "poisson"},
    ],
)
def test_render_video_gives_the_bytes_of_the_reference_degradation(
    condition, monkeypatch
):
    # whole-pixel radii (blur_reference=size): the reference takes those only
    args = dict(n_frames=23, size=32, blur_reference=32, random_state=7, **condition)
    fast = render_video(400, 15, **args)
    monkeypatch.setattr(render_module, "_degrade", _reference_degrade)
    np.testing.assert_array_equal(fast, render_video(400, 15, **args))


def _tiny_fit(channels_last):
    rng = np.random.default_rng(0)
    X = rng.random((48, 3, 28, 28), dtype=np.float32)
    y = np.repeat([0, 1], 24)
    X[y == 1, 0] += 0.5
    net = make_net(
        model="cnn9",
        n_classes=2,
        model_params={"width": 0.0625},
        epochs=2,
        batch_size=16,
        seed=0,
        channels_last=channels_last,
    )
    torch.manual_seed(0)
    return net.fit(X, y), X


def test_channels_last_training_changes_the_layout_not_the_results():
    plain, X = _tiny_fit(False)
    fast, _ = _tiny_fit(True)
    assert [name for name, _ in fast.callbacks][:2] == [
        "best_valid_loss",
        "channels_last",
    ]
    convs = [p for p in fast.module_.parameters() if p.dim() == 4]
    assert convs and all(
        p.is_contiguous(memory_format=torch.channels_last) for p in convs
    )
    assert all(p.is_contiguous() for p in plain.module_.parameters())
    # The same training up to float rounding.  The biases of the
    # convolutions, each followed by batch normalisation, get gradients that
    # are zero but for rounding, which Adam scales up to steps of size lr:
    # they drift apart (harmlessly, batch normalisation removes them).
    for (name, p), q in zip(
        plain.module_.named_parameters(), fast.module_.parameters()
    ):
        conv_bias = name.endswith("bias") and name.replace("bias", "weight") in {
            n for n, w in plain.module_.named_parameters() if w.dim() == 4
        }
        np.testing.assert_allclose(
            p.detach().numpy(),
            q.detach().numpy(),
            atol=1e-2 if conv_bias else 1e-5,
            err_msg=name,
        )
    proba = plain.predict_proba(X)
    np.testing.assert_allclose(fast.predict_proba(X), proba, atol=5e-3)
    with pytest.raises(TypeError, match="channels_last"):
        make_net(
            model="cnn9", n_classes=2, epochs=1, batch_size=8, seed=0, channels_last=1
        )

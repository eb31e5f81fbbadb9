import numpy as np
import pytest

from skcells.datasets import add_noise, box_blur, degrade


def _naive_box(img, r):
    padded = np.pad(img, r, mode="edge")
    out = np.empty_like(img, dtype=float)
    for i in range(img.shape[0]):
        for j in range(img.shape[1]):
            out[i, j] = padded[i : i + 2 * r + 1, j : j + 2 * r + 1].mean()
    return out


@pytest.mark.parametrize("radius", [0, 1, 3, 10])
def test_box_blur_matches_naive_filter(radius):
    rng = np.random.default_rng(0)
    img = rng.uniform(0, 255, size=(13, 17))
    np.testing.assert_allclose(
        box_blur(img, radius), _naive_box(img, radius), atol=1e-3
    )


def test_box_blur_leading_axes_and_mean():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 255, size=(2, 3, 20, 20)).astype(np.float32)
    out = box_blur(x, 2)
    assert out.shape == x.shape and out.dtype == np.float32
    np.testing.assert_allclose(out[1, 2], box_blur(x[1, 2], 2))
    # blurring lowers the high-frequency energy
    assert np.abs(np.diff(out, axis=-1)).mean() < np.abs(np.diff(x, axis=-1)).mean()


@pytest.mark.parametrize("radius", [-1, 11, 1.5])
def test_box_blur_rejects_bad_radius(radius):
    with pytest.raises(ValueError, match="radius"):
        box_blur(np.zeros((4, 4)), radius)


@pytest.mark.parametrize("law", ["gaussian", "poisson"])
def test_add_noise_level(law):
    x = np.full((200, 200), 128.0)
    noisy = add_noise(x, 0.1, law=law, random_state=0)
    assert abs(noisy.std() - 25.5) < 1.5
    assert abs(noisy.mean() - 128) < 1.0


def test_add_noise_rejects_bad_input():
    with pytest.raises(ValueError, match="level"):
        add_noise(np.zeros(3), 1.5)
    with pytest.raises(ValueError, match="law"):
        add_noise(np.zeros(3), 0.1, law="laplace")


def test_degrade_per_sample_parameters_and_determinism():
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(3, 2, 3, 24, 24), dtype=np.uint8)
    a = degrade(imgs, blur=[0, 4, 8], noise=[0.0, 0.0, 0.2], random_state=3)
    b = degrade(imgs, blur=[0, 4, 8], noise=[0.0, 0.0, 0.2], random_state=3)
    assert a.dtype == np.uint8 and a.shape == imgs.shape
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[0], imgs[0])  # b=0 and no noise: unchanged
    expected = np.clip(np.rint(box_blur(imgs[1], 4)), 0, 255)
    np.testing.assert_array_equal(a[1], expected)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"blur": 11, "noise": 0.0}, "blur"),
        ({"blur": [0, 1], "noise": 0.0}, "blur"),
        ({"blur": 0, "noise": -0.1}, "noise"),
        ({"blur": 0, "noise": np.nan}, "noise"),
    ],
)
def test_degrade_rejects_bad_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        degrade(np.zeros((3, 3, 8, 8), dtype=np.uint8), **kwargs)

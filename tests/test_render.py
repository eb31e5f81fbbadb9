import numpy as np
import pytest

from skcells.datasets import (
    cell_positions,
    high_frequency_energy,
    render_video,
    splat_cells,
    sprite_profiles,
)

# blur radii in pixels of these small frames (at 32 px the default 128-px
# units turn b = 1 into no blur at all)
SMALL = dict(n_frames=16, size=32, blur_reference=32)
# Frames are rendered in blocks of 10, each with its own noise stream.
FRAME_BLOCK = 10


def _render(rbc=5000, wbc=200, **kw):
    return render_video(rbc, wbc, **{**SMALL, "random_state": 7, **kw})


def test_shape_dtype_and_range():
    video = _render(blur=2, noise=0.1)
    assert video.shape == (16, 3, 32, 32)
    assert video.dtype == np.uint8
    assert video.flags.c_contiguous
    assert 0 < video.mean() < 255


def test_same_seed_same_bytes_other_seed_other_bytes():
    a = _render(blur=3, noise=0.2)
    b = _render(blur=3, noise=0.2)
    c = _render(blur=3, noise=0.2, random_state=8)
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()


def test_seed_sequence_is_not_consumed():
    seed = np.random.SeedSequence(3)
    a = render_video(100, 10, random_state=seed, **SMALL)
    b = render_video(100, 10, random_state=seed, **SMALL)
    np.testing.assert_array_equal(a, b)


def test_cells_move_between_frames_and_freeze_without_step():
    moving = _render()
    frozen = _render(step=0.0)
    # every consecutive pair of frames differs when cells move
    diffs = np.abs(np.diff(moving.astype(int), axis=0)).mean(axis=(1, 2, 3))
    assert np.all(diffs > 1)
    # without motion (and without noise) all frames are identical
    assert np.all(frozen == frozen[0])


def test_trajectories_follow_eq1():
    pos = cell_positions(50, 30, 32, 1.5, np.random.SeedSequence(0))
    assert pos.shape == (30, 50, 2) and pos.dtype == np.float32
    steps = np.diff(pos, axis=0)
    np.testing.assert_allclose(np.abs(steps), 1.5, rtol=1e-5)
    # +1 and -1 are about equally likely
    assert abs(np.mean(steps > 0) - 0.5) < 0.05
    assert np.all((pos[0] >= 0) & (pos[0] < 32))


def test_splat_conserves_every_cell():
    rng = np.random.default_rng(0)
    pos = rng.uniform(-40, 80, size=(3, 20, 2)).astype(np.float32)
    cell_type = np.repeat([0, 1], [15, 5])
    grid = splat_cells(pos, cell_type, 16)
    assert grid.shape == (2, 3, 16, 16)
    np.testing.assert_allclose(grid.sum(axis=(2, 3)), [[15] * 3, [5] * 3], rtol=1e-5)


def test_sprites_scale_with_size_and_wbc_is_larger():
    small = sprite_profiles(32, 0.025, 0.035, 0.5)
    large = sprite_profiles(128, 0.025, 0.035, 0.5)
    # the area covered by a cell, as a fraction of the frame, does not
    # depend on the resolution
    np.testing.assert_allclose(
        small.sum(axis=(1, 2)) / 32**2, large.sum(axis=(1, 2)) / 128**2, rtol=0.05
    )
    rbc, cyto, nucleus = large.sum(axis=(1, 2))
    assert cyto > 1.5 * rbc and 0 < nucleus < cyto


def test_more_cells_darken_the_frame():
    # same seed: identical RBC layout, extra cells added on top
    few = _render(rbc=4800, wbc=0, illumination_jitter=0.0).astype(float)
    many = _render(rbc=5200, wbc=0, illumination_jitter=0.0).astype(float)
    assert many[:, 1].mean() < few[:, 1].mean() - 1
    no_wbc = _render(wbc=0, illumination_jitter=0.0).astype(float)
    some_wbc = _render(wbc=300, illumination_jitter=0.0).astype(float)
    assert some_wbc[:, 0].mean() < no_wbc[:, 0].mean() - 5


def test_wbc_have_a_distinct_colour_and_a_dark_nucleus():
    kw = dict(step=0.0, illumination_jitter=0.0, n_frames=1, size=128)
    empty = render_video(0, 0, **kw)[0].astype(float)
    rbc = render_video(300, 0, **kw)[0].astype(float)
    wbc = render_video(0, 30, **kw)[0].astype(float)
    od_rbc = -np.log(rbc.mean(axis=(1, 2)) / empty.mean(axis=(1, 2)))
    od_wbc = -np.log(wbc.mean(axis=(1, 2)) / empty.mean(axis=(1, 2)))
    # RBCs absorb green more than red; WBCs absorb red at least as much as
    # green: the colours differ
    assert od_rbc[1] > 2 * od_rbc[0]
    assert od_wbc[0] >= od_wbc[1]
    # the nucleus is much darker than the pale RBCs
    assert wbc[0].min() < 0.4 * empty[0].max()
    assert rbc[0].min() > 0.6 * empty[0].max()


def test_blur_lowers_and_noise_raises_high_frequency_energy():
    clear = _render()
    blurred = _render(blur=2)
    noisy = _render(noise=0.1)
    hf = high_frequency_energy(np.stack([clear, blurred, noisy]))
    assert hf[1] < 0.5 * hf[0]
    assert hf[2] > 1.2 * hf[0]


def test_frame_subset_equals_slice_of_full_video():
    full = _render(n_frames=2 * FRAME_BLOCK + 3, blur=1, noise=0.2)
    frames = [22, 0, 11, 11]
    part = _render(n_frames=2 * FRAME_BLOCK + 3, blur=1, noise=0.2, frames=frames)
    np.testing.assert_array_equal(part, full[frames])


def test_poisson_noise_law():
    video = _render(noise=0.2, noise_law="poisson")
    assert video.std() > _render().std()


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(rbc_count=-1), "rbc_count"),
        (dict(wbc_count=2.5), "wbc_count"),
        (dict(n_frames=0), "n_frames"),
        (dict(size=31.5), "size"),
        (dict(size=-8), "size"),
        (dict(blur=11), "blur"),
        (dict(blur=-1), "blur"),
        (dict(noise=1.5), "noise"),
        (dict(noise_law="speckle"), "noise_law"),
        (dict(step=-1.0), "step"),
        (dict(rbc_radius=0.0), "rbc_radius"),
        (dict(wbc_radius=0.7), "wbc_radius"),
        (dict(nucleus_ratio=1.2), "nucleus_ratio"),
        (dict(rbc_absorbance=(0.1, 0.2)), "rbc_absorbance"),
        (dict(nucleus_absorbance=(0.1, -0.2, 0.1)), "nucleus_absorbance"),
        (dict(background=(300, 0, 0)), "background"),
        (dict(illumination_jitter=float("nan")), "illumination_jitter"),
        (dict(frames=[0, 16]), "frames"),
        (dict(random_state=-3), "random_state"),
    ],
)
def test_bad_input_raises_value_error_naming_the_parameter(kwargs, name):
    args = {"rbc_count": 10, "wbc_count": 2, **SMALL, **kwargs}
    with pytest.raises(ValueError, match=name):
        render_video(args.pop("rbc_count"), args.pop("wbc_count"), **args)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(size="32"), "size"),
        (dict(rbc_count=None), "rbc_count"),
        (dict(random_state="seed"), "random_state"),
        (dict(step=True), "step"),
    ],
)
def test_bad_type_raises_type_error_naming_the_parameter(kwargs, name):
    args = {"rbc_count": 10, "wbc_count": 2, **SMALL, **kwargs}
    with pytest.raises(TypeError, match=name):
        render_video(args.pop("rbc_count"), args.pop("wbc_count"), **args)

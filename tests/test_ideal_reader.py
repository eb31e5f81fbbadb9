"""The ideal reader, the blur measured in 128-px units and Eq. 1 motion."""

import hashlib

import numpy as np
import pytest
from sklearn.utils import Bunch

from skcells.datasets import (
    GenerationParams,
    SyntheticBloodVideos,
    box_blur,
    count_cells_in_windows,
    fetch_synthetic_blood_videos,
    ideal_reader,
    render_video,
    scaled_blur_radius,
    true_cell_centres,
)
from skcells.multiview import RandomResizedCropViews

# --- counting cells in boxes, by hand ----------------------------------------


def test_count_cells_in_hand_placed_boxes():
    # two frames of three cells; the second cell leaves the first box
    centres = np.array(
        [
            [[1.0, 1.0], [3.5, 3.5], [6.0, 2.0]],
            [[1.0, 1.0], [4.5, 3.5], [6.0, 2.0]],
        ]
    )
    boxes = np.array(
        [
            [0, 0, 4, 4],  # cells 0 and 1 in frame 0, cell 0 in frame 1
            [4, 0, 8, 4],  # cell 2, then cells 1 and 2
            [0, 0, 8, 8],  # all three
            [1, 1, 2, 2],  # cell 0 on its corner: x1 <= x and y1 <= y
            [0, 0, 1, 1],  # cell 0 on the far edges: x < x2 fails
        ]
    )
    assert count_cells_in_windows(centres, boxes).tolist() == [1.5, 1.5, 3, 1, 0]
    frames = np.array([[0, 1], [1, 2], [0, 2], [0, 2], [0, 2]])
    assert count_cells_in_windows(centres, boxes, frames).tolist() == [2, 2, 3, 1, 0]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"centres": np.zeros((1, 2, 3))}, "centres"),
        ({"boxes": np.zeros((2, 3))}, "boxes"),
        ({"boxes": np.full((2, 4), np.nan)}, "boxes"),
        ({"frames": np.array([[0, 1]])}, "frames"),
        ({"frames": np.array([[0, 3], [0, 1]])}, "frames"),
        ({"frames": np.array([[1, 1], [0, 1]])}, "frames"),
    ],
)
def test_count_cells_rejects_bad_input(kwargs, match):
    args = {"centres": np.zeros((2, 2, 2)), "boxes": np.zeros((2, 4)), **kwargs}
    with pytest.raises(ValueError, match=match):
        count_cells_in_windows(**args)


def test_ideal_reader_is_exact_on_hand_counted_boxes(monkeypatch):
    # hand-placed cells: video 0 has 3 WBCs in its left half, video 1 has 1
    from skcells.datasets import _ideal

    placed = {
        0: np.array([[[1.0, 1.0], [2.0, 5.0], [3.0, 7.0], [12.0, 3.0]]]),
        1: np.array([[[1.0, 1.0], [12.0, 3.0], [13.0, 9.0], [14.0, 14.0]]]),
    }
    monkeypatch.setattr(
        _ideal, "_centres", lambda config, i, meta, k, cell: placed[int(i)]
    )
    params = GenerationParams(n_videos=2, n_frames=1, size=16, wbc_mean=4.0)
    left, right = [0, 0, 8, 16], [8, 0, 16, 16]
    windows = Bunch(boxes=np.array([[left, right]] * 2, float), frames=None)
    reader = ideal_reader(params, windows)
    assert reader.counts.tolist() == [[3, 1], [1, 3]]
    # a half frame expects half the mean count: 2 cells
    assert reader.expected.tolist() == [[2, 2], [2, 2]]
    assert reader.labels.tolist() == [[1, 0], [0, 1]]


def test_ideal_reader_counts_the_cells_that_are_rendered():
    # every WBC absorbs in the red channel: in a clear frame without RBCs, the
    # red darkness inside a box grows with the number of WBC centres in it
    params = GenerationParams(
        n_videos=3, n_frames=2, size=64, rbc_mean=0, rbc_std=0, wbc_mean=30,
        condition_proba=(1, 0, 0, 0), illumination_jitter=0,
    )  # fmt: skip
    data = SyntheticBloodVideos(**{**vars(params)})
    centres = true_cell_centres(params, 1, cell="wbc")
    frame = data[1][0][0].astype(float)
    darkness = 245.0 - frame[0]  # red channel
    # each centre sits on a dark pixel (the nucleus)
    for x, y in centres[0]:
        assert darkness[int(y), int(x)] > 20
    assert centres.shape == (2, data.metadata.wbc_count[1], 2)


def test_the_whole_frame_reads_the_label():
    params = GenerationParams(n_videos=8, n_frames=3, size=32, target="rbc")
    X = np.zeros((8, 3, 3, 32, 32), np.uint8)
    whole = Bunch(boxes=np.tile([[[0.0, 0.0, 32.0, 32.0]]], (8, 1, 1)), frames=None)
    reader = ideal_reader(params, whole)
    np.testing.assert_array_equal(reader.labels[:, 0], reader.target)
    meta = SyntheticBloodVideos(**vars(params)).metadata
    np.testing.assert_array_equal(reader.counts[:, 0], meta.rbc_count)
    # the windows of real views work too (shape only)
    views = RandomResizedCropViews(n_views=4, clip_length=2, random_state=0)
    reader = ideal_reader(params, views.sample_windows(X))
    assert reader.labels.shape == (8, 4)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"videos": object()}, TypeError, "videos"),
        ({"videos": GenerationParams(target="wbc_count")}, ValueError, "target"),
        ({"indices": np.array([0, 99])}, ValueError, "indices"),
        ({"frame": 5}, ValueError, "frame"),
        ({"windows": Bunch(boxes=np.zeros((2, 4)), frames=None)}, ValueError, "boxes"),
    ],
)
def test_ideal_reader_rejects_bad_input(kwargs, error, match):
    args = {
        "videos": GenerationParams(n_videos=3, n_frames=2, size=16),
        "windows": Bunch(boxes=np.zeros((2, 1, 4)), frames=None),
        **kwargs,
    }
    with pytest.raises(error, match=match):
        ideal_reader(**args)


def test_ideal_reader_reads_a_fetched_bunch(tmp_path):
    bunch = fetch_synthetic_blood_videos(
        n_videos=4, n_frames=2, size=16, data_home=tmp_path, verbose=False
    )
    whole = Bunch(boxes=np.tile([[[0.0, 0.0, 16.0, 16.0]]], (4, 1, 1)), frames=None)
    reader = ideal_reader(bunch, whole)
    np.testing.assert_array_equal(reader.counts[:, 0], bunch.wbc_count)
    with pytest.raises(ValueError, match="version"):
        ideal_reader({**bunch, "params": {**bunch.params, "version": 0}}, whole)


# --- blur in the units of the paper's 128-px frame ---------------------------

# sha256 of videos rendered before the blur was measured in 128-px units
_BEFORE = {
    0: "b71084aea9864a11b1581a297ba483cf35fd32bed6d3c66b7ff70adc717e493e",
    3: "aeb9f32fde753a36f294f70230d0ffb0edc7d6254d9d20a37b91523f92389e8c",
    10: "13874d39b35995d6db38414030057ca9b8c0fc2c8cecbd26651021264f012105",
}


@pytest.mark.parametrize("blur", sorted(_BEFORE))
def test_blur_scaling_leaves_128_px_videos_byte_identical(blur):
    video = render_video(
        5000, 202, n_frames=12, size=128, blur=blur, noise=0.1, random_state=5
    )
    assert hashlib.sha256(video.tobytes()).hexdigest() == _BEFORE[blur]


def test_blur_scaling_leaves_the_128_px_set_byte_identical():
    data = SyntheticBloodVideos(6, n_frames=3, size=128, random_state=1)
    digest = hashlib.sha256()
    for video, _ in data:
        digest.update(video.tobytes())
    assert data.metadata.blur.tolist() == [4, 4, 10, 9, 0, 7]
    assert digest.hexdigest() == (
        "8017b902f9e645d8011beb0d535383011b7142046db99a57185f5ace85dddfeb"
    )


def test_scaled_blur_radius():
    assert scaled_blur_radius(10, 128) == 10.0
    assert scaled_blur_radius(10, 64) == 4.75  # a 10.5-px box
    assert scaled_blur_radius(3, 256) == 6.5
    assert scaled_blur_radius(0, 64) == 0.0
    assert scaled_blur_radius(1, 16) == 0.0  # narrower than a pixel
    assert scaled_blur_radius(2, 64, reference=64) == 2.0
    with pytest.raises(ValueError, match="b"):
        scaled_blur_radius(11, 64)
    with pytest.raises(ValueError, match="reference"):
        scaled_blur_radius(2, 64, reference=0)


def test_a_fractional_box_averages_over_its_width():
    from skcells.datasets._degrade import _box_blur

    row = np.zeros((1, 31), np.float32)
    row[0, 15] = 10.5
    line = np.repeat(row, 31, axis=0)  # constant down the columns
    out = _box_blur(line, 4.75)[15]
    # a 10.5-px box: 9 whole pixels and three quarters of the next each side
    np.testing.assert_allclose(out[10:21], [0.75] + [1.0] * 9 + [0.75], rtol=1e-6)
    np.testing.assert_allclose(out.sum(), 10.5, rtol=1e-6)
    # a whole radius gives the running mean of box_blur
    img = np.random.default_rng(0).random((2, 16, 16)).astype(np.float32) * 255
    np.testing.assert_array_equal(_box_blur(img, 3.0), box_blur(img, 3))


def test_a_64_px_blur_hides_as_much_of_a_cell_as_at_128_px():
    from skcells.datasets import estimate_blur

    def blurred(size, reference):
        return render_video(
            0, 60, n_frames=1, size=size, blur=8, blur_reference=reference,
            illumination_jitter=0, random_state=0,
        )  # fmt: skip

    # estimated blur radii scale with the frame: about half the 128-px one
    at_128 = float(estimate_blur(blurred(128, 128))[0])
    at_64 = float(estimate_blur(blurred(64, 128))[0])
    in_pixels = float(estimate_blur(blurred(64, 64))[0])
    assert at_64 < in_pixels
    assert abs(at_64 - at_128 / 2) < abs(in_pixels - at_128 / 2)


# --- Eq. 1 motion -------------------------------------------------------------


def test_eq1_motion_steps_a_tenth_of_the_frame():
    for size in (32, 64, 128):
        params = GenerationParams(n_frames=5, size=size, motion="eq1")
        assert params.step_pixels == size / 10
        centres = true_cell_centres(
            GenerationParams(n_videos=1, n_frames=5, size=size, motion="eq1"), 0
        )
        moved = np.abs(np.diff(centres, axis=0))
        moved = np.minimum(moved, size - moved)  # periodic field
        np.testing.assert_allclose(moved, size / 10, rtol=1e-4)
    assert GenerationParams(step=2.5).step_pixels == 2.5
    with pytest.raises(ValueError, match="motion"):
        GenerationParams(motion="frames")
    with pytest.raises(ValueError, match="step"):
        GenerationParams(size=4096, step=50, motion="eq1")


def test_motion_and_blur_reference_are_part_of_the_cache_key(tmp_path):
    small = {"n_videos": 2, "n_frames": 2, "size": 16, "data_home": tmp_path}
    paths = {
        fetch_synthetic_blood_videos(**small, **kw, verbose=False).cache_path
        for kw in ({}, {"motion": "eq1"}, {"blur_reference": 16})
    }
    assert len(paths) == 3


def test_ideal_reader_names_each_videos_condition():
    params = GenerationParams(n_videos=6, n_frames=1, size=16)
    whole = Bunch(boxes=np.tile([[[0.0, 0.0, 16.0, 16.0]]], (3, 1, 1)), frames=None)
    reader = ideal_reader(params, whole, np.array([5, 0, 2]))
    meta = SyntheticBloodVideos(**vars(params)).metadata
    assert reader.condition.tolist() == meta.condition.astype(str)[[5, 0, 2]].tolist()

"""Tests of the batched random resized crops (RandomResizedCropViews)."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skcells.multiview import (
    ComposedViews,
    DihedralViews,
    MultiViewClassifier,
    RandomResizedCropViews,
    TransformViews,
)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, (6, 3, 24, 32), dtype=np.uint8)


@pytest.fixture(scope="module")
def clips():
    rng = np.random.default_rng(2)
    return rng.normal(size=(4, 7, 2, 16, 16)).astype(np.float32)


def _areas(boxes):
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def _reference_crop(image, box, out_h, out_w):
    """Bilinear sampling at bin centres (roi_align semantics when enlarging)."""
    x1, y1, x2, y2 = box
    height, width = image.shape[-2:]
    ys = y1 - 0.5 + (np.arange(out_h) + 0.5) * (y2 - y1) / out_h
    xs = x1 - 0.5 + (np.arange(out_w) + 0.5) * (x2 - x1) / out_w
    ys, xs = np.clip(ys, 0, height - 1), np.clip(xs, 0, width - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1_, x1_ = np.minimum(y0 + 1, height - 1), np.minimum(x0 + 1, width - 1)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = image[:, y0][:, :, x0] * (1 - fx) + image[:, y0][:, :, x1_] * fx
    bottom = image[:, y1_][:, :, x0] * (1 - fx) + image[:, y1_][:, :, x1_] * fx
    return top * (1 - fy) + bottom * fy


# ----------------------------------------------------------------- shapes
def test_image_views_shape_dtype_and_scaling(images):
    views = RandomResizedCropViews(n_views=5, output_size=(6, 8), random_state=0)
    V = views.transform(images)
    assert V.shape == (6, 5, 3, 6, 8)
    assert V.dtype == np.float32
    # uint8 pixels are scaled to [0, 1]
    assert 0.0 <= V.min() and V.max() <= 1.0
    assert V.max() > 0.5


def test_default_output_size_is_a_crop_at_the_mean_scale(images):
    windows = RandomResizedCropViews(n_views=2, random_state=0).sample_windows(images)
    side = np.sqrt(0.15)
    assert windows.view_shape == (3, round(side * 24), round(side * 32))
    flat = RandomResizedCropViews(n_views=2).sample_windows(np.zeros((3, 40)))
    assert flat.view_shape == (6,)


def test_identity_crop_returns_the_image(images):
    views = RandomResizedCropViews(
        n_views=2, crop_scale=(1, 1), crop_ratio=(1, 1), output_size=24
    )
    square = images[:, :, :24, :24]
    V = views.transform(square)
    expected = square.astype(np.float32) / 255
    np.testing.assert_allclose(V[:, 0], expected, atol=1e-6)
    np.testing.assert_allclose(V[:, 1], expected, atol=1e-6)


def test_crop_matches_bilinear_reference_of_its_box():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3, 2, 32, 32))
    views = RandomResizedCropViews(n_views=4, output_size=(16, 16), random_state=5)
    V = views.transform(X)
    boxes = views.sample_windows(X).boxes
    # boxes of 10-20 % of 32x32 are at most ~15 px wide: 16 bins sample once each
    for i in range(3):
        for j in range(4):
            ref = _reference_crop(X[i], boxes[i, j], 16, 16)
            np.testing.assert_allclose(V[i, j], ref, atol=1e-4)


# ------------------------------------------------------------- geometry
def test_boxes_have_the_requested_area_fraction_and_ratio():
    # distinct samples: views are keyed on the content, equal inputs share views
    X = np.random.default_rng(0).random((200, 1, 48, 64), dtype=np.float32)
    views = RandomResizedCropViews(n_views=10, crop_scale=(0.1, 0.2), random_state=0)
    boxes = views.sample_windows(X).boxes
    frac = _areas(boxes) / (48 * 64)
    assert frac.min() >= 0.1 - 1e-12 and frac.max() <= 0.2 + 1e-12
    # uniform on [0.1, 0.2]: mean 0.15, std 0.1 / sqrt(12)
    assert abs(frac.mean() - 0.15) < 0.005
    assert abs(frac.std() - 0.1 / np.sqrt(12)) < 0.005
    ratio = (boxes[..., 2] - boxes[..., 0]) / (boxes[..., 3] - boxes[..., 1])
    assert ratio.min() >= 3 / 4 - 1e-9 and ratio.max() <= 4 / 3 + 1e-9
    # log-uniform aspect ratio: log ratio has mean ~0 for (3/4, 4/3)
    assert abs(np.log(ratio).mean()) < 0.02
    assert boxes[..., :2].min() >= 0
    assert boxes[..., 2].max() <= 64 and boxes[..., 3].max() <= 48


def test_boxes_clipped_to_the_image_keep_their_area():
    X = np.random.default_rng(0).random((50, 1, 20, 30))
    views = RandomResizedCropViews(
        n_views=8, crop_scale=(0.8, 1.0), crop_ratio=(3, 5), random_state=0
    )
    boxes = views.sample_windows(X).boxes
    frac = _areas(boxes) / 600
    assert frac.min() >= 0.8 - 1e-9 and frac.max() <= 1.0 + 1e-9
    np.testing.assert_array_less(boxes[..., 2], 30 + 1e-9)
    assert np.allclose(boxes[..., 2] - boxes[..., 0], 30)  # all clipped in width


def test_flat_windows_and_linear_interpolation():
    X = np.arange(50.0) + np.arange(30.0)[:, None] * 100  # distinct ramps
    views = RandomResizedCropViews(n_views=4, crop_scale=(0.2, 0.4), output_size=5)
    windows = views.set_params(random_state=1).sample_windows(X).boxes
    length = (windows[..., 1] - windows[..., 0]) / 50
    assert length.min() >= 0.2 - 1e-12 and length.max() <= 0.4 + 1e-12
    assert windows[..., 0].min() >= 0 and windows[..., 1].max() <= 50
    V = views.transform(X)
    assert V.shape == (30, 4, 5) and V.dtype == np.float64
    # on a ramp, linear interpolation returns the (clipped) sample positions
    step = (windows[..., 1] - windows[..., 0]) / 5
    pos = windows[..., :1] + (np.arange(5) + 0.5) * step[..., None] - 0.5
    offset = np.arange(30.0)[:, None, None] * 100
    np.testing.assert_allclose(V, np.clip(pos, 0, 49) + offset)
    assert RandomResizedCropViews(output_size=3).transform(
        X.astype(np.float32)
    ).dtype == np.dtype(np.float32)


def test_clip_views_share_the_box_and_take_consecutive_frames():
    rng = np.random.default_rng(4)
    base = rng.normal(size=(5, 1, 2, 16, 16))
    X = base + np.arange(9.0)[None, :, None, None, None]  # frame t = base + t
    views = RandomResizedCropViews(
        n_views=6, output_size=8, clip_length=3, random_state=0
    )
    V = views.transform(X)
    assert V.shape == (5, 6, 3, 2, 8, 8)
    # crops are linear in the input: same box on every frame => steps of 1
    np.testing.assert_allclose(np.diff(V, axis=2), 1.0, atol=1e-4)
    windows = views.sample_windows(X)
    starts, boxes = windows.starts, windows.boxes
    assert starts.min() >= 0 and starts.max() <= 9 - 3
    assert len(np.unique(starts)) > 1
    # the first frame of a view is the crop of base in its box, shifted by start
    for i in range(5):
        for j in range(6):
            ref = _reference_crop(base[i, 0], boxes[i, j], 8, 8) + starts[i, j]
            np.testing.assert_allclose(V[i, j, 0], ref, atol=1e-4)


def test_clip_length_none_takes_every_frame(clips):
    V = RandomResizedCropViews(n_views=2, output_size=4, random_state=0).transform(
        clips
    )
    assert V.shape == (4, 2, 7, 2, 4, 4)


# ---------------------------------------------------------- determinism
def test_views_are_deterministic_given_random_state(images):
    a = RandomResizedCropViews(n_views=3, random_state=7).transform(images)
    b = RandomResizedCropViews(n_views=3, random_state=7).transform(images)
    c = RandomResizedCropViews(n_views=3, random_state=8).transform(images)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    fresh = RandomResizedCropViews(n_views=3)
    assert not np.allclose(fresh.transform(images), fresh.transform(images))


def test_views_of_a_sample_do_not_depend_on_the_batch(images):
    views = RandomResizedCropViews(n_views=4, random_state=0)
    full = views.transform(images)
    np.testing.assert_array_equal(views.transform(images[2:4]), full[2:4])
    np.testing.assert_array_equal(views.transform(images[::-1]), full[::-1])
    # different samples get different boxes
    boxes = views.sample_windows(images).boxes
    assert not np.allclose(boxes[0], boxes[1])


def test_content_keys_separate_samples_and_large_rows():
    # the windows of a sample are a function of its content key
    views = RandomResizedCropViews(n_views=3, random_state=0)
    X = np.zeros((3, 50_000), dtype=np.float32)
    X[1, -1] = 1.0  # large rows are keyed on evenly spaced words ...
    X[2, 0] = 1.0  # ... the first of which is one of them
    keys = views.sample_windows(X).boxes
    assert not np.array_equal(keys[0], keys[2])
    small = np.arange(12.0).reshape(4, 3)
    keys = views.sample_windows(small).boxes
    assert len({k.tobytes() for k in keys}) == 4
    np.testing.assert_array_equal(views.sample_windows(small[::-1]).boxes, keys[::-1])


def test_training_views_are_a_separate_stream(images):
    views = RandomResizedCropViews(n_views=3, output_size=6, random_state=0)
    train = views.sample_windows(images, training=True)
    assert not np.allclose(train.boxes, views.sample_windows(images).boxes)
    chunks = list(views.iter_views(images, batch_size=4, training=True))
    assert [len(c) for c in chunks] == [4, 4, 4, 4, 2]
    again = RandomResizedCropViews(n_views=3, output_size=6, random_state=0)
    np.testing.assert_array_equal(
        np.concatenate(chunks),
        np.concatenate(list(again.iter_views(images, training=True))),
    )


def test_iter_views_chunks_are_the_views_of_transform(clips):
    views = RandomResizedCropViews(
        n_views=3, output_size=4, clip_length=2, random_state=1
    )
    full = views.transform(clips)
    chunks = list(views.iter_views(clips, batch_size=5))
    assert [len(c) for c in chunks] == [5, 5, 2]
    np.testing.assert_array_equal(np.concatenate(chunks), full.reshape(12, 2, 2, 4, 4))
    windows = views.sample_windows(clips)
    np.testing.assert_array_equal(windows.frames[..., 0], windows.starts)
    np.testing.assert_array_equal(windows.frames[..., 1], windows.starts + 2)
    assert (
        RandomResizedCropViews(output_size=4).sample_windows(clips[:, 0]).frames is None
    )


def test_classifier_predicts_from_the_views_of_the_transformer():
    # the views a fitted classifier predicts from are those of transform()
    rng = np.random.default_rng(0)
    X = rng.random((20, 1, 12, 12))
    y = np.arange(20) % 2
    clf = MultiViewClassifier(
        LogisticRegression(), n_views=4, output_size=5, random_state=3
    ).fit(X, y)
    views = RandomResizedCropViews(4, output_size=clf.output_size_, random_state=3)
    V = views.transform(X).reshape(80, -1)
    proba = clf.estimator_.predict_proba(V).reshape(20, 4, 2)
    np.testing.assert_array_equal(clf.predict_views(X)[1], proba.max(axis=2))


def test_fit_records_the_input_and_the_transformer_fits_in_a_pipeline(images):
    views = RandomResizedCropViews(n_views=2, output_size=(6, 8), clip_length=3)
    assert views.fit(images) is views
    assert views.view_shape_ == (3, 6, 8) and views.output_size_ == (6, 8)
    assert views.clip_length_ is None and not hasattr(views, "n_features_in_")
    flat = images.reshape(6, -1).astype(float)
    assert views.set_params(output_size=5).fit(flat).n_features_in_ == flat.shape[1]
    with pytest.raises(ValueError, match="features"):
        views.transform(flat[:, :10])
    pipe = make_pipeline(
        RandomResizedCropViews(n_views=3, output_size=8, random_state=0),
        FunctionTransformer(lambda V: V.mean(axis=1).reshape(len(V), -1)),
        LogisticRegression(),
    )
    y = np.arange(6) % 2
    assert pipe.fit(images, y).predict(images).shape == (6,)


# ------------------------------------------------------------- dataset
def test_view_dataset_draws_fresh_views_on_every_access(images):
    views = RandomResizedCropViews(n_views=1, output_size=6, random_state=0)
    y = np.arange(6)
    ds = views.training_dataset(images, y)
    first = ds.__getitems__([0, 1, 2])
    second = ds.__getitems__([0, 1, 2])
    assert len(ds) == 6
    assert first[0][0].shape == (3, 6, 6) and first[0][0].dtype == torch.float32
    assert [int(t) for _, t in first] == [0, 1, 2]
    assert not torch.allclose(first[0][0], second[0][0])
    again = views.training_dataset(images, y).__getitems__([0, 1, 2])
    torch.testing.assert_close(again[1][0], first[1][0])
    x, target = ds[4]
    assert x.shape == (3, 6, 6) and int(target) == 4


# ------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_views": 0}, "n_views"),
        ({"crop_scale": (0.0, 0.5)}, "crop_scale"),
        ({"crop_scale": (0.3, 0.2)}, "crop_scale"),
        ({"crop_scale": (0.5, 1.5)}, "crop_scale"),
        ({"crop_scale": (0.1, 0.2, 0.3)}, "crop_scale"),
        ({"crop_ratio": (0.0, 1.0)}, "crop_ratio"),
        ({"crop_ratio": (2.0, 1.0)}, "crop_ratio"),
        ({"output_size": 33}, "output_size"),
        ({"output_size": (8, 40)}, "output_size"),
        ({"output_size": (8, 8, 8)}, "output_size"),
    ],
)
def test_bad_parameters_raise_naming_the_parameter(images, params, match):
    with pytest.raises(ValueError, match=match):
        RandomResizedCropViews(**params).transform(images)


def test_bad_inputs_raise(clips):
    with pytest.raises(ValueError, match="clip_length"):
        RandomResizedCropViews(clip_length=8).transform(clips)
    with pytest.raises(ValueError, match="output_size"):
        RandomResizedCropViews(output_size=(2, 2)).transform(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="X must be 2-D .* 4-D .* 5-D"):
        RandomResizedCropViews().transform(np.zeros((2, 8, 8)))
    X = np.zeros((2, 1, 8, 8))
    X[0, 0, 1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        RandomResizedCropViews().transform(X)


# ----------------------------------------------------- cut, then convert
def _whole_frame_views(views, X):
    """The views as the previous implementation cut them (reference).

    Every view's frames are taken whole, converted to float32 (uint8 scaled
    by 1/255) and cropped by one ``roi_align`` call with the boxes in image
    coordinates.
    """
    from torchvision.ops import roi_align

    w = views.sample_windows(X)
    n, m = w.boxes.shape[:2]
    boxes = w.boxes.reshape(n * m, 4)
    sample_index = np.repeat(np.arange(n), m)
    if X.ndim == 4:
        frames = X[sample_index]
    else:
        length = w.view_shape[0]
        starts = w.starts.reshape(n * m)
        frames = X[sample_index[:, None], starts[:, None] + np.arange(length)]
        frames = frames.reshape(n * m, -1, *X.shape[-2:])
    if frames.dtype == np.uint8:
        src = np.multiply(frames, np.float32(1 / 255), dtype=np.float32)
    else:
        src = frames.astype(np.float32)
    rois = np.c_[np.arange(n * m), boxes].astype(np.float32)
    out = roi_align(
        torch.from_numpy(src),
        torch.from_numpy(rois),
        output_size=w.view_shape[-2:],
        spatial_scale=1.0,
        sampling_ratio=-1,
        aligned=True,
    )
    return out.numpy().reshape(n, m, *w.view_shape)


@pytest.mark.parametrize(
    ("shape", "dtype", "params"),
    [
        ((5, 3, 24, 32), np.uint8, {"output_size": (6, 8)}),
        ((5, 2, 17, 23), np.float64, {}),
        ((4, 6, 3, 16, 18), np.uint8, {"output_size": 7, "clip_length": 3}),
        ((3, 4, 1, 20, 20), np.float32, {"crop_scale": (0.6, 1.0)}),
        ((6, 1, 12, 12), np.uint8, {"crop_scale": (0.5, 1.0), "crop_ratio": (0.2, 5)}),
        ((4, 1, 40, 40), np.uint16, {"crop_scale": (0.01, 0.02), "output_size": 3}),
    ],
)
def test_views_cut_from_patches_equal_the_whole_frame_cut(shape, dtype, params):
    rng = np.random.default_rng(7)
    if dtype in (np.uint8, np.uint16):
        X = rng.integers(0, np.iinfo(dtype).max, shape, dtype=dtype)
    else:
        X = rng.normal(size=shape).astype(dtype)
    views = RandomResizedCropViews(n_views=9, random_state=2, **params)
    reference = _whole_frame_views(views, X)
    V = views.transform(X)
    # only the float32 rounding of the shifted box coordinates differs
    scale = float(np.abs(reference).max())
    np.testing.assert_allclose(V, reference, rtol=0, atol=1e-5 * max(scale, 1.0))
    # the training path cuts the same way
    chunks = np.concatenate(list(views.iter_views(X, batch_size=4)))
    np.testing.assert_array_equal(chunks, V.reshape(chunks.shape))


def test_patches_hold_every_pixel_sampling_reads():
    # extreme boxes (thin, wide, at the edges): the fixed patch size bounds them
    from skcells.multiview._geometry import _Geometry

    X = np.random.default_rng(0).random((50, 1, 30, 41))
    for scale, ratio in [
        ((0.01, 0.05), (0.1, 10)),
        ((0.9, 1.0), (0.5, 2)),
        ((1, 1), (1, 1)),
    ]:
        views = RandomResizedCropViews(
            n_views=40, crop_scale=scale, crop_ratio=ratio, random_state=0
        )
        boxes = views.sample_windows(X).boxes.reshape(-1, 4)
        geometry = _Geometry.resolve(
            X.shape, crop_scale=scale, crop_ratio=ratio, output_size=4, clip_length=None
        )
        patch_h, patch_w = geometry.patch_size
        first = np.floor(boxes[:, :2] - 0.5) - 1
        last = np.floor(boxes[:, 2:] - 0.5) + 3
        assert np.all(
            np.clip(last[:, 1], 0, 30) - np.clip(first[:, 1], 0, 30) <= patch_h
        )
        assert np.all(
            np.clip(last[:, 0], 0, 41) - np.clip(first[:, 0], 0, 41) <= patch_w
        )


def test_clip_views_never_convert_whole_frames():
    """Memory of cutting scales with the views, not with float frame windows."""
    import tracemalloc

    X = np.random.default_rng(0).integers(0, 256, (80, 9, 3, 64, 64), dtype=np.uint8)
    views = RandomResizedCropViews(n_views=10, output_size=8, clip_length=9)
    views.set_params(random_state=0).transform(X[:1])  # warm-up
    tracemalloc.start()
    try:
        V = views.transform(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    whole_float_windows = 80 * 10 * 9 * 3 * 64 * 64 * 4  # the previous path
    assert V.shape == (80, 10, 9, 3, 8, 8)
    assert peak < whole_float_windows / 4


# ------------------------------------------------- geometry per chunk
def test_huge_n_views_draw_their_geometry_chunk_by_chunk():
    import tracemalloc

    X = np.random.default_rng(0).random((1, 1, 8, 8))
    n_views = 200_000
    views = RandomResizedCropViews(n_views=n_views, output_size=2, random_state=0)
    chunks = views.iter_views(X, batch_size=1000)
    tracemalloc.start()
    try:
        total = 0
        for chunk in chunks:
            total += chunk.shape[0]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    all_boxes = n_views * 4 * 8  # float64 boxes of every view: 6.4 MB
    assert total == n_views
    assert peak < all_boxes / 4
    # and the chunks are the views of the whole call
    small = RandomResizedCropViews(n_views=50, output_size=2, random_state=0)
    np.testing.assert_array_equal(
        np.concatenate(list(small.iter_views(X, batch_size=7))),
        small.transform(X)[0],
    )


# ------------------------------------------------------------ dihedral
def test_dihedral_views_of_an_image_are_its_8_flips_and_rotations():
    X = np.arange(2 * 3 * 5 * 5, dtype=np.float64).reshape(2, 3, 5, 5)
    V = DihedralViews().transform(X)
    assert V.shape == (2, 8, 3, 5, 5) and V.dtype == np.float32
    expected = []
    for image in X:
        flipped = image[:, :, ::-1]
        expected.append(
            [np.rot90(image, r, axes=(1, 2)) for r in range(4)]
            + [np.rot90(flipped, r, axes=(1, 2)) for r in range(4)]
        )
    np.testing.assert_array_equal(V, np.asarray(expected, dtype=np.float32))
    # 8 distinct views of an asymmetric image: exactly the dihedral group
    assert len({v.tobytes() for v in V[0]}) == 8
    # the 4 with rotations=False keep the shape: identity, 180, left-right, up-down
    flips = DihedralViews(rotations=False).transform(X)
    np.testing.assert_array_equal(flips, V[:, [0, 2, 4, 6]])
    np.testing.assert_array_equal(flips[0, 3], X[0, :, ::-1, :])
    # uint8 pixels are scaled like the crops
    U = np.random.default_rng(0).integers(0, 256, (2, 1, 4, 4), dtype=np.uint8)
    np.testing.assert_allclose(DihedralViews().transform(U)[:, 0], U / 255, atol=1e-7)


def test_dihedral_views_of_clips_non_square_inputs_and_geometry():
    rng = np.random.default_rng(0)
    clips = rng.random((2, 3, 1, 6, 6)).astype(np.float32)
    V = DihedralViews().transform(clips)
    assert V.shape == (2, 8, 3, 1, 6, 6)
    for t in range(3):  # the same transform on every frame
        np.testing.assert_array_equal(
            V[:, 1, t, 0], np.rot90(clips[:, t, 0], 1, (1, 2))
        )
    w = DihedralViews().sample_windows(clips)
    np.testing.assert_array_equal(w.elements, np.tile(np.arange(8), (2, 1)))
    np.testing.assert_array_equal(w.boxes[0, 0], [0, 0, 6, 6])
    np.testing.assert_array_equal(w.frames[0, 0], [0, 3])
    wide = rng.random((2, 1, 4, 6))
    with pytest.raises(ValueError, match="square.*rotations=False"):
        DihedralViews().transform(wide)
    assert DihedralViews(rotations=False).transform(wide).shape == (2, 4, 1, 4, 6)
    with pytest.raises(ValueError, match="images .* or clips"):
        DihedralViews().transform(rng.random((3, 5)))


def test_dihedral_training_dataset_draws_random_elements():
    X = np.arange(16.0).reshape(1, 1, 4, 4).repeat(3, axis=0)
    ds = DihedralViews(random_state=0).training_dataset(X, [0, 1, 2])
    group = {v.tobytes() for v in DihedralViews().transform(X[:1])[0]}
    seen = set()
    for _ in range(40):
        view, _ = ds[0]
        seen.add(view.numpy().tobytes())
    assert seen <= group and len(seen) > 4


# ---------------------------------------------------------- transforms
def _noisy(x):
    """A user transform with torch randomness, returning a numpy array."""
    return (x + torch.randn(x.shape)).numpy()


def test_transform_views_are_deterministic_and_independent_of_batching(images):
    from torchvision.transforms import v2

    views = TransformViews(v2.RandomCrop(8), n_views=5, random_state=0)
    V = views.transform(images)
    assert V.shape == (6, 5, 3, 8, 8) and V.dtype == np.float32
    np.testing.assert_array_equal(views.transform(images[2:4]), V[2:4])
    np.testing.assert_array_equal(
        np.concatenate(list(views.iter_views(images, batch_size=4))),
        V.reshape(30, 3, 8, 8),
    )
    assert not np.array_equal(V[0, 0], V[0, 1])  # views differ
    # every view is a crop of the scaled image: replaying its seed reproduces it
    seeds = views.sample_windows(images).seeds
    torch.manual_seed(int(seeds[1, 2]))
    replay = v2.RandomCrop(8)(torch.from_numpy(images[1] * np.float32(1 / 255)))
    np.testing.assert_array_equal(V[1, 2], replay.numpy())
    # the global torch generator is left as it was
    state = torch.random.get_rng_state()
    TransformViews(_noisy, n_views=2, random_state=0).transform(images)
    assert torch.equal(torch.random.get_rng_state(), state)
    other = TransformViews(_noisy, n_views=2, random_state=1).transform(images)
    assert not np.allclose(other, TransformViews(_noisy, n_views=2).transform(images))


def test_transform_views_of_clips_and_bad_transforms(clips):
    from torchvision.transforms import v2

    V = TransformViews(v2.RandomHorizontalFlip(), n_views=6, random_state=0).transform(
        clips
    )
    assert V.shape == (4, 6, 7, 2, 16, 16)
    flipped = (V == clips[:, None, :, :, :, ::-1]).all(axis=(2, 3, 4, 5))
    same = (V == clips[:, None]).all(axis=(2, 3, 4, 5))
    assert np.all(flipped | same) and flipped.any() and same.any()  # every frame alike
    calls = iter(range(100))
    ragged = TransformViews(lambda x: x[..., : 4 + next(calls) % 2], n_views=3)
    with pytest.raises(ValueError, match="same shape"):
        ragged.transform(clips)
    with pytest.raises(ValueError, match="scalar"):
        TransformViews(lambda x: x.sum(), n_views=2).transform(clips)


# --------------------------------------------------------- composition
def test_composed_views_are_the_product_of_their_components(images):
    square = images[:, :, :24, :24]
    crops = RandomResizedCropViews(n_views=3, output_size=6, random_state=0)
    views = ComposedViews(crops, DihedralViews())
    assert views.n_views == 24
    V = views.transform(square)
    C = crops.transform(square)
    assert V.shape == (6, 24, 3, 6, 6)
    # view j is element j % 8 of crop j // 8 (the crops drawn alone)
    for j in range(24):
        ref = C[:, j // 8]
        if j % 8 >= 4:
            ref = ref[..., ::-1]
        np.testing.assert_array_equal(V[:, j], np.rot90(ref, j % 4, axes=(-2, -1)))
    w = views.sample_windows(square)
    np.testing.assert_allclose(w.boxes[:, ::8], crops.sample_windows(square).boxes)
    np.testing.assert_array_equal(w.elements[0], np.tile(np.arange(8), 3))
    assert len(w.components) == 2
    np.testing.assert_array_equal(
        np.concatenate(list(views.iter_views(square, batch_size=10))),
        V.reshape(-1, 3, 6, 6),
    )


def _crop(X, boxes, size):
    """The crop of every image of ``X`` in its box, by roi_align (reference)."""
    from torchvision.ops import roi_align

    rois = np.c_[np.arange(len(X)), boxes].astype(np.float32)
    out = roi_align(
        torch.from_numpy(X.astype(np.float32)),
        torch.from_numpy(rois),
        output_size=size,
        spatial_scale=1.0,
        sampling_ratio=-1,
        aligned=True,
    )
    return out.numpy()


def test_composed_geometry_maps_boxes_back_to_the_input():
    # a crop of a flipped or rotated image is the flip or rotation of the
    # crop of the image in the box that sample_windows maps back
    X = np.random.default_rng(0).random((4, 1, 12, 12)).astype(np.float32)
    crops = RandomResizedCropViews(n_views=2, output_size=4, random_state=1)
    views = ComposedViews(DihedralViews(), crops)
    V = views.transform(X)
    w = views.sample_windows(X)
    assert w.boxes.shape == (4, 16, 4)
    inner = w.components[1].boxes  # in the frame of the element
    for j in range(16):
        element = j // 2
        box = w.boxes[:, j]
        np.testing.assert_allclose(
            (box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1]),
            (inner[:, j, 2] - inner[:, j, 0]) * (inner[:, j, 3] - inner[:, j, 1]),
        )
        expected = _crop(X, box, (4, 4))
        if element >= 4:
            expected = expected[..., ::-1]
        expected = np.rot90(expected, element % 4, axes=(-2, -1))
        np.testing.assert_allclose(V[:, j], expected, atol=1e-5)


def test_composed_training_and_bad_components(images):
    square = images[:, :, :24, :24]
    views = ComposedViews(
        RandomResizedCropViews(n_views=2, output_size=6, random_state=0),
        DihedralViews(random_state=0),
    )
    ds = views.training_dataset(square, np.arange(6))
    view, target = ds[3]
    assert tuple(view.shape) == (3, 6, 6) and int(target) == 3
    with pytest.raises(ValueError, match="'second' parameter of ComposedViews"):
        ComposedViews(RandomResizedCropViews(), np.flip).transform(square)
    with pytest.raises(ValueError, match="square"):
        ComposedViews(
            RandomResizedCropViews(output_size=(4, 6)), DihedralViews()
        ).transform(square)

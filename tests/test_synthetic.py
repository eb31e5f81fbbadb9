import dataclasses
import inspect
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image

from skcells.cli import build_parser
from skcells.datasets import (
    GenerationParams,
    SyntheticBloodVideos,
    _synthetic,
    difficulty_score,
    fetch_synthetic_blood_videos,
    high_frequency_energy,
    plot_sample_frames,
    render_video,
    save_video_gif,
    summarize_conditions,
)

# blur radii in pixels of these small frames (at 32 px the default 128-px
# units turn b = 1 into no blur at all)
SMALL = dict(n_frames=16, size=32, blur_reference=32)
CONDITIONS = ["clear", "blurred", "noisy", "blurred+noisy"]


@pytest.fixture(scope="module")
def fetched(tmp_path_factory):
    """96 small videos rendered once for the whole module."""
    home = tmp_path_factory.mktemp("synthetic_home")
    return fetch_synthetic_blood_videos(n_videos=96, data_home=home, **SMALL)


# --- metadata: distributions, conditions, difficulty ----------------------


def test_count_statistics_and_label_balance():
    meta = SyntheticBloodVideos(600, **SMALL).metadata
    tol = 4 / np.sqrt(600)
    assert abs(meta.rbc_count.mean() - 5000) < tol * 97.9
    assert abs(meta.rbc_count.std() / 97.9 - 1) < 0.15
    assert abs(meta.wbc_count.mean() - 202) < tol * 95.5 + 2  # clipped at 0
    assert abs(meta.wbc_count.std() / 95.5 - 1) < 0.15
    assert meta.wbc_count.min() >= 0
    assert (meta.rbc_count == meta.rbc_count.round()).all()
    assert abs(meta.target.mean() - 0.5) < 0.08
    np.testing.assert_array_equal(meta.target, meta.wbc_count > 202)
    rbc = SyntheticBloodVideos(600, target="rbc", **SMALL).metadata
    np.testing.assert_array_equal(rbc.target, rbc.rbc_count > 5000)
    assert abs(rbc.target.mean() - 0.5) < 0.08


def test_condition_proportions():
    meta = SyntheticBloodVideos(3000, **SMALL).metadata
    freq = meta.condition.value_counts(normalize=True)
    for name, p in zip(CONDITIONS, (0.130, 0.304, 0.217, 0.349)):
        assert abs(freq[name] - p) < 0.03, name
    custom = SyntheticBloodVideos(500, condition_proba=(0, 0, 0.5, 0.5)).metadata
    assert set(custom.condition) == {"noisy", "blurred+noisy"}


def test_blur_and_noise_follow_the_condition():
    meta = SyntheticBloodVideos(
        800, blur_range=(2, 4), noise_range=(0.1, 0.2), **SMALL
    ).metadata
    blurred = meta.condition.isin(["blurred", "blurred+noisy"])
    noisy = meta.condition.isin(["noisy", "blurred+noisy"])
    assert (meta.blur[~blurred] == 0).all() and (meta.noise[~noisy] == 0).all()
    assert set(meta.blur[blurred]) == {2, 3, 4}
    assert meta.noise[noisy].between(0.1, 0.2).all()


def test_difficulty_is_eq2_with_fixed_scale():
    meta = SyntheticBloodVideos(300, **SMALL).metadata
    expected = difficulty_score(
        meta.blur, meta.distance, distance_scale=3 * 95.5, distance_rule="boundary"
    )
    np.testing.assert_allclose(meta.difficulty, expected)
    np.testing.assert_allclose(meta.distance, np.abs(meta.wbc_count - 202))
    literal = SyntheticBloodVideos(300, distance_rule="literal", **SMALL).metadata
    # the two readings of l add up to 1 where the distance is within 3 std
    inside = meta.distance < 3 * 95.5
    l_boundary = 2 * (meta.difficulty - meta.blur / 20)
    l_literal = 2 * (literal.difficulty - literal.blur / 20)
    np.testing.assert_allclose((l_boundary + l_literal)[inside], 1.0)
    blur_only = SyntheticBloodVideos(300, alpha=1.0, **SMALL).metadata
    np.testing.assert_allclose(blur_only.difficulty, blur_only.blur / 10)
    # per-sample purity: the difficulty of an item does not depend on n_videos
    np.testing.assert_allclose(
        SyntheticBloodVideos(7, **SMALL).metadata.difficulty, meta.difficulty[:7]
    )


@pytest.mark.parametrize("cell", ["wbc", "rbc"])
def test_count_targets_are_the_counts_with_a_literal_difficulty(cell):
    std = {"wbc": 95.5, "rbc": 97.9}[cell]
    mean = {"wbc": 202, "rbc": 5000}[cell]
    ds = SyntheticBloodVideos(300, target=f"{cell}_count", **SMALL)
    meta = ds.metadata
    assert ds.targets.dtype == np.float64
    np.testing.assert_array_equal(ds.targets, meta[f"{cell}_count"])
    np.testing.assert_allclose(meta.distance, np.abs(meta[f"{cell}_count"] - mean))
    # "auto": far from the mean is hard for a count target
    expected = difficulty_score(
        meta.blur, meta.distance, distance_scale=3 * std, distance_rule="literal"
    )
    np.testing.assert_allclose(meta.difficulty, expected)
    # an explicit rule is honoured, and "auto" leaves the high/low labels as
    # they were ("boundary")
    boundary = SyntheticBloodVideos(
        300, target=f"{cell}_count", distance_rule="boundary", **SMALL
    ).metadata
    classes = SyntheticBloodVideos(300, target=cell, **SMALL).metadata
    np.testing.assert_allclose(boundary.difficulty, classes.difficulty)
    np.testing.assert_array_equal(classes.target, meta[f"{cell}_count"] > mean)
    # blur only
    blur_only = SyntheticBloodVideos(
        300, target=f"{cell}_count", alpha=1.0, **SMALL
    ).metadata
    np.testing.assert_allclose(blur_only.difficulty, blur_only.blur / 10)


def test_count_target_items_and_transform():
    ds = SyntheticBloodVideos(
        4,
        target="wbc_count",
        target_transform=lambda count: np.float32([count]),
        **SMALL,
    )
    video, target = ds[2]
    assert target.dtype == np.float32 and target.shape == (1,)
    assert target[0] == ds.metadata.wbc_count[2]
    assert isinstance(SyntheticBloodVideos(4, target="rbc_count", **SMALL)[0][1], float)
    assert isinstance(SyntheticBloodVideos(4, **SMALL)[0][1], int)
    # the pixels do not depend on the target
    np.testing.assert_array_equal(video, SyntheticBloodVideos(4, **SMALL)[2][0])


def test_generation_params_list_the_targets():
    with pytest.raises(ValueError, match="wbc_count"):
        GenerationParams(target="count")
    assert GenerationParams(target="rbc_count").distance_rule == "auto"
    # the command line derives its options from the same declaration
    args = build_parser().parse_args(
        ["generate", "--target", "wbc_count", "--distance-rule", "literal"]
    )
    assert (args.target, args.distance_rule) == ("wbc_count", "literal")


# --- the Dataset ----------------------------------------------------------


def test_item_is_a_pure_function_of_seed_index_and_params():
    small = SyntheticBloodVideos(10, **SMALL)
    large = SyntheticBloodVideos(50, **SMALL)
    other = SyntheticBloodVideos(10, random_state=1, **SMALL)
    v3, t3 = small[3]
    _ = small[5]  # access order does not matter
    np.testing.assert_array_equal(small[3][0], v3)
    assert v3.tobytes() == large[3][0].tobytes() and t3 == large[3][1]
    assert v3.tobytes() != other[3][0].tobytes()
    assert v3.tobytes() != small[4][0].tobytes()


def test_dataset_protocol():
    ds = SyntheticBloodVideos(5, n_frames=3, size=16)
    assert isinstance(ds, torch.utils.data.Dataset) and isinstance(ds, Sequence)
    assert len(ds) == 5
    np.testing.assert_array_equal(ds[-1][0], ds[4][0])
    assert [t for _, t in ds] == list(ds.targets)
    sliced = ds[1:4:2]
    assert len(sliced) == 2 and np.array_equal(sliced[1][0], ds[3][0])
    assert ds[np.int64(2)][1] == ds.targets[2]
    with pytest.raises(IndexError):
        ds[5]
    with pytest.raises(TypeError, match="index"):
        ds["0"]
    assert "n_videos=5" in repr(ds)


def test_transforms_and_frame_selection():
    ds = SyntheticBloodVideos(4, **SMALL)
    full, target = ds[1]
    one = SyntheticBloodVideos(4, frames=-1, **SMALL)[1][0]
    assert one.shape == (3, 32, 32)
    np.testing.assert_array_equal(one, full[-1])
    some = SyntheticBloodVideos(4, frames=[12, 3], **SMALL)[1][0]
    np.testing.assert_array_equal(some, full[[12, 3]])
    every_other = SyntheticBloodVideos(4, frames=slice(None, None, 2), **SMALL)
    np.testing.assert_array_equal(every_other[1][0], full[::2])
    tr = SyntheticBloodVideos(
        4,
        transform=lambda v: torch.from_numpy(v).float() / 255,
        target_transform=lambda t: t + 10,
        **SMALL,
    )
    video, t = tr[1]
    assert video.dtype == torch.float32 and t == target + 10
    torch.testing.assert_close(video, torch.from_numpy(full).float() / 255)


def test_works_with_a_dataloader():
    ds = SyntheticBloodVideos(5, n_frames=2, size=16)
    x, y = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert x.shape == (4, 2, 3, 16, 16) and x.dtype == torch.uint8
    assert y.tolist() == list(ds.targets[:4])


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(n_videos=0), "n_videos"),
        (dict(n_videos=2.5), "n_videos"),
        (dict(n_frames=-1), "n_frames"),
        (dict(size=3.5), "size"),
        (dict(size=2), "size"),
        (dict(target="platelets"), "target"),
        (dict(condition_proba=(0.2, 0.2, 0.2, 0.2)), "condition_proba"),
        (dict(condition_proba=(0.5, 0.5)), "condition_proba"),
        (dict(condition_proba=(1.5, -0.5, 0, 0)), "condition_proba"),
        (dict(blur_range=(0, 11)), "blur_range"),
        (dict(blur_range=(5, 2)), "blur_range"),
        (dict(blur_range=(1.5, 2)), "blur_range"),
        (dict(noise_range=(0.3, 0.1)), "noise_range"),
        (dict(noise_range=(0, 2)), "noise_range"),
        (dict(rbc_mean=-5.0), "rbc_mean"),
        (dict(wbc_std=-1.0), "wbc_std"),
        (dict(alpha=2.0), "alpha"),
        (dict(alpha=0.5, beta=0.2), "alpha \\+ beta"),
        (dict(distance_rule="far"), "distance_rule"),
        (dict(frames=16), "frames"),
        (dict(frames=[]), "frames"),
        (dict(frames=slice(20, None)), "frames"),
        (dict(random_state=-1), "random_state"),
        (dict(noise_law="salt"), "noise_law"),
    ],
)
def test_bad_parameters_raise_value_error(kwargs, name):
    args = {"n_videos": 4, **SMALL, **kwargs}
    with pytest.raises(ValueError, match=name):
        SyntheticBloodVideos(args.pop("n_videos"), **args)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(random_state=None), "random_state"),
        (dict(size="32"), "size"),
        (dict(transform=3), "transform"),
        (dict(condition_proba="even"), "condition_proba"),
    ],
)
def test_bad_parameter_types_raise_type_error(kwargs, name):
    with pytest.raises(TypeError, match=name):
        SyntheticBloodVideos(4, **{**SMALL, **kwargs})


# --- the fetcher and its cache --------------------------------------------


def test_fetch_bunch_matches_on_demand_rendering(fetched):
    n = 96
    assert fetched.data.shape == (n, 16, 3, 32, 32)
    assert fetched.data.dtype == np.uint8
    assert isinstance(fetched.data, np.memmap) and not fetched.data.flags.writeable
    for key in ("target", "rbc_count", "wbc_count", "blur", "noise", "condition"):
        assert fetched[key].shape == (n,), key
    assert list(fetched.target_names) == ["low", "high"]
    assert "Synthetic blood-cell videos" in fetched.DESCR
    ds = SyntheticBloodVideos(n, **SMALL)
    meta = ds.metadata
    np.testing.assert_array_equal(fetched.target, ds.targets)
    np.testing.assert_array_equal(fetched.condition, meta.condition.astype(str))
    np.testing.assert_allclose(fetched.difficulty, meta.difficulty)
    np.testing.assert_allclose(fetched.distance, meta.distance)
    for i in (0, 17, 95):
        np.testing.assert_array_equal(fetched.data[i], ds[i][0])


def test_fetch_count_target_shares_the_cache(fetched):
    counts = fetch_synthetic_blood_videos(
        n_videos=96,
        data_home=Path(fetched.cache_path).parents[1],
        target="wbc_count",
        **SMALL,
    )
    assert counts.cache_path == fetched.cache_path  # labels only: one cache
    assert counts.target.dtype == np.float64
    np.testing.assert_array_equal(counts.target, fetched.wbc_count)
    assert list(counts.target_names) == ["wbc_count"]
    assert counts.params["target"] == "wbc_count"
    np.testing.assert_array_equal(counts.data[:3], fetched.data[:3])
    assert "Count targets" in counts.DESCR


def test_blurred_videos_are_blurrier_and_noisy_ones_noisier(fetched):
    hf = high_frequency_energy(fetched.data)
    by = {c: hf[fetched.condition == c] for c in CONDITIONS}
    assert by["blurred"].max() < by["clear"].min()
    assert by["noisy"].min() > by["clear"].max()
    assert by["blurred+noisy"].mean() > by["blurred"].mean()


def test_cells_move_in_the_fetched_videos(fetched):
    clear = fetched.data[np.flatnonzero(fetched.condition == "clear")].astype(int)
    assert (np.abs(np.diff(clear, axis=1)).mean(axis=(2, 3, 4)) > 1).all()


def test_summarize_conditions(fetched):
    summary = summarize_conditions(fetched)
    assert list(summary.index) == [*CONDITIONS, "all"]
    assert summary.loc[CONDITIONS, "n"].sum() == summary.loc["all", "n"] == 96
    np.testing.assert_allclose(summary.loc[CONDITIONS, "fraction"].sum(), 1.0)
    assert summary.loc["clear", ["mean_blur", "mean_noise"]].eq(0).all()
    assert summary.loc["blurred", "hf_energy"] < summary.loc["clear", "hf_energy"]
    assert summary.loc["noisy", "hf_energy"] > summary.loc["clear", "hf_energy"]
    assert summary.loc["all", "label_balance"] == fetched.target.mean()
    with pytest.raises(ValueError, match="difficulty"):
        summarize_conditions({k: fetched[k] for k in ("data", "target")})


def test_sample_frame_figure_and_gif(fetched, tmp_path):
    fig = plot_sample_frames(
        fetched.data, fetched.condition, blur=fetched.blur, noise=fetched.noise
    )
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    assert fig.axes[1].get_title().startswith("blurred (b=")
    path = save_video_gif(fetched.data[0], tmp_path / "v.gif", fps=5)
    with Image.open(path) as gif:
        assert gif.n_frames == 16 and gif.size == (256, 256)
    with pytest.raises(ValueError, match="video"):
        save_video_gif(fetched.data[0, 0], tmp_path / "bad.gif")
    with pytest.raises(ValueError, match="frame"):
        plot_sample_frames(fetched.data, fetched.condition, frame=16)


def test_return_X_y_and_target_switch_share_the_cache(data_home):
    kw = dict(n_videos=6, n_frames=2, size=16)
    X, y = fetch_synthetic_blood_videos(return_X_y=True, **kw)
    rbc = fetch_synthetic_blood_videos(target="rbc", **kw)
    assert X.shape == (6, 2, 3, 16, 16)
    np.testing.assert_array_equal(y, rbc.wbc_count > 202)
    np.testing.assert_array_equal(rbc.target, rbc.rbc_count > 5000)
    np.testing.assert_array_equal(X, rbc.data)
    folders = list((data_home / "synthetic_blood_videos").iterdir())
    assert [f.name for f in folders if not f.name.endswith(".lock")] == [
        os.path.basename(rbc.cache_path)
    ]


def _forbid_build(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the cache was rebuilt")

    monkeypatch.setattr(_synthetic, "_build_cache", fail)


def test_cache_is_reused(data_home, monkeypatch):
    kw = dict(n_videos=5, n_frames=3, size=16)
    first = fetch_synthetic_blood_videos(**kw)
    _forbid_build(monkeypatch)
    second = fetch_synthetic_blood_videos(**kw)
    assert second.cache_path == first.cache_path
    np.testing.assert_array_equal(second.data, first.data)
    # a different parameter is a different cache
    monkeypatch.undo()
    other = fetch_synthetic_blood_videos(**{**kw, "step": 2.0})
    assert other.cache_path != first.cache_path


def test_truncated_cache_is_rebuilt(data_home):
    kw = dict(n_videos=5, n_frames=3, size=16)
    first = fetch_synthetic_blood_videos(**kw)
    expected = np.array(first.data)
    data_file = os.path.join(first.cache_path, "data.npy")
    del first
    with open(data_file, "r+b") as f:
        f.truncate(os.path.getsize(data_file) - 100)
    again = fetch_synthetic_blood_videos(**kw)
    np.testing.assert_array_equal(again.data, expected)
    assert os.path.getsize(data_file) > 0


def test_tampered_cache_is_detected_and_rebuilt(data_home):
    kw = dict(n_videos=5, n_frames=3, size=16)
    first = fetch_synthetic_blood_videos(**kw)
    expected = np.array(first.data)
    data_file = os.path.join(first.cache_path, "data.npy")
    with open(data_file, "r+b") as f:  # same size, one byte changed
        f.seek(-10, os.SEEK_END)
        byte = f.read(1)
        f.seek(-10, os.SEEK_END)
        f.write(bytes([byte[0] ^ 0xFF]))
    # sizes only: the change goes unnoticed, as documented
    unchecked = fetch_synthetic_blood_videos(check_hash=False, **kw)
    assert not np.array_equal(unchecked.data, expected)
    again = fetch_synthetic_blood_videos(**kw)
    np.testing.assert_array_equal(again.data, expected)


def test_metadata_tampering_is_detected(data_home):
    kw = dict(n_videos=5, n_frames=3, size=16)
    first = fetch_synthetic_blood_videos(**kw)
    meta_file = os.path.join(first.cache_path, "metadata.npz")
    os.remove(meta_file)
    again = fetch_synthetic_blood_videos(**kw)
    np.testing.assert_array_equal(again.target, first.target)
    assert os.path.exists(meta_file)


def test_force_rebuilds(data_home, monkeypatch):
    kw = dict(n_videos=3, n_frames=2, size=16)
    fetch_synthetic_blood_videos(**kw)
    calls = []
    real = _synthetic._build_cache
    monkeypatch.setattr(
        _synthetic, "_build_cache", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    fetch_synthetic_blood_videos(**kw)
    fetch_synthetic_blood_videos(force=True, **kw)
    assert calls == [1]


def test_interrupted_build_leaves_no_cache(data_home, monkeypatch):
    kw = dict(n_videos=4, n_frames=2, size=16)
    real = _synthetic._render_chunk

    def crash(config, start, *args):
        if start > 0:
            raise RuntimeError("killed")
        return real(config, start, *args)

    monkeypatch.setattr(_synthetic, "_CHUNK_BYTES", 2 * 3 * 16 * 16)  # 1 per chunk
    monkeypatch.setattr(_synthetic, "_render_chunk", crash)
    with pytest.raises(RuntimeError, match="killed"):
        fetch_synthetic_blood_videos(**kw)
    root = data_home / "synthetic_blood_videos"
    assert [p.name for p in root.iterdir() if not p.name.endswith(".lock")] == []
    monkeypatch.setattr(_synthetic, "_render_chunk", real)
    assert fetch_synthetic_blood_videos(**kw).data.shape == (4, 2, 3, 16, 16)


def test_parallel_rendering_gives_the_same_bytes(data_home):
    kw = dict(n_videos=6, n_frames=4, size=16)
    serial = np.array(fetch_synthetic_blood_videos(**kw).data)
    parallel = fetch_synthetic_blood_videos(n_jobs=2, force=True, **kw)
    np.testing.assert_array_equal(parallel.data, serial)


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        (dict(target="plt"), ValueError, "target"),
        (dict(n_videos=-3), ValueError, "n_videos"),
        (dict(size=8.5), ValueError, "size"),
        (dict(condition_proba=(0.3, 0.3, 0.3, 0.3)), ValueError, "condition_proba"),
        (dict(blur_range=(1, 12)), ValueError, "blur_range"),
        (dict(n_jobs=0), ValueError, "n_jobs"),
        (dict(check_hash="yes"), TypeError, "check_hash"),
        (dict(random_state=None), TypeError, "random_state"),
        (dict(data_home=3), TypeError, "data_home"),
    ],
)
def test_fetch_rejects_bad_input(data_home, kwargs, error, name):
    with pytest.raises(error, match=name):
        fetch_synthetic_blood_videos(**{"n_videos": 2, **SMALL, **kwargs})


# --- the generation parameters are declared once --------------------------

FIELDS = dataclasses.fields(GenerationParams)
# The arguments of each entry point that are not generation parameters.
OTHER_ARGUMENTS = {
    fetch_synthetic_blood_videos: {
        "data_home",
        "return_X_y",
        "n_jobs",
        "check_hash",
        "force",
        "verbose",
    },
    SyntheticBloodVideos: {"frames", "transform", "target_transform"},
    # one video: its counts and degradation, and a seed of its own
    render_video: {"rbc_count", "wbc_count", "blur", "noise", "frames"},
}


def _doc_entries(obj, section):
    """``{name: (type, description)}`` of a numpydoc section of ``obj``."""
    docscrape = pytest.importorskip("numpydoc.docscrape")
    doc = (docscrape.ClassDoc if inspect.isclass(obj) else docscrape.FunctionDoc)(obj)
    return {p.name: (p.type, " ".join(p.desc)) for p in doc[section]}


def test_generation_params_document_their_defaults():
    declared = _doc_entries(GenerationParams, "Attributes")
    assert list(declared) == [f.name for f in FIELDS]
    for field in FIELDS:
        default = field.default
        shown = f'"{default}"' if isinstance(default, str) else repr(default)
        assert declared[field.name][0].endswith(f"default={shown}"), field.name
        # the declared default passes the declared check unchanged
        assert getattr(GenerationParams(), field.name) == default


@pytest.mark.parametrize("entry", list(OTHER_ARGUMENTS), ids=lambda e: e.__name__)
def test_signatures_and_docstrings_agree_with_generation_params(entry):
    declared = _doc_entries(GenerationParams, "Attributes")
    documented = _doc_entries(entry, "Parameters")
    signature = inspect.signature(entry).parameters
    names = set(signature) - OTHER_ARGUMENTS[entry]
    if entry is render_video:
        names -= {"random_state"}  # an int, a SeedSequence or None
        assert len(names) == 14  # the appearance of a video
    else:
        assert names == {f.name for f in FIELDS}
    for field in FIELDS:
        if field.name in names:
            assert signature[field.name].default == field.default, field.name
            assert documented[field.name] == declared[field.name], field.name


@pytest.mark.parametrize("command", ["generate", "show"])
def test_cli_options_agree_with_generation_params(command):
    parser = build_parser()
    defaults = parser.parse_args([command])
    for field in FIELDS:
        assert getattr(defaults, field.name) == field.default, field.name
    given = parser.parse_args(
        [command, "--background", "1", "2", "3", "--beta", "0.5", "--target", "rbc"]
    )
    assert given.background == [1.0, 2.0, 3.0]
    assert (given.beta, given.target) == (0.5, "rbc")

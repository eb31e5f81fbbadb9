"""Tests of load_videos and estimate_difficulty on files the tests write."""

import errno
import hashlib
import json
import os
import shutil
from collections import namedtuple
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from skcells.datasets import (
    degrade,
    estimate_blur,
    estimate_difficulty,
    load_videos,
)

RNG = np.random.default_rng(0)
T, H, W = 12, 24, 32


def _frames(seed, n=T, height=H, width=W):
    """Smooth random RGB frames (compress well, survive a lossy codec)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (n, height // 4, width // 4, 3), dtype=np.uint8)
    return np.stack(
        [
            np.asarray(Image.fromarray(f).resize((width, height), Image.BILINEAR))
            for f in small
        ]
    )


def write_video(path, frames, *, codec="ffv1", pix_fmt="bgr0", fps=10, options=None):
    with av.open(str(path), "w", options=options or {}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = pix_fmt
        stream.bit_rate = 4_000_000
        for frame in frames:
            image = av.VideoFrame.from_ndarray(frame, format="rgb24")
            container.mux(stream.encode(image))
        container.mux(stream.encode())
    return path


def write_mp4(path, frames, **kwargs):
    return write_video(path, frames, codec="mpeg4", pix_fmt="yuv420p", **kwargs)


def write_tiff(path, frames):
    pages = [Image.fromarray(f) for f in frames]
    pages[0].save(path, save_all=True, append_images=pages[1:])
    return path


def write_png_folder(path, frames):
    path.mkdir()
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(path / f"frame_{i}.png")  # natural order
    return path


def chw(frames):
    return frames.transpose(0, 3, 1, 2)


def even(total, n):
    return np.floor(np.linspace(0, total - 1, n) + 0.5).astype(int)


class CountAvOpen:
    """Count PyAV's container openings (two per decoded video file)."""

    def __init__(self, monkeypatch):
        self.calls = 0
        real = av.open

        def counting(*args, **kwargs):
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(av, "open", counting)


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


Clips = namedtuple("Clips", "folder frames")


@pytest.fixture
def clips(tmp_path):
    """A folder with a lossless AVI, a TIFF stack and a folder of PNG frames."""
    folder = tmp_path / "clips"
    folder.mkdir()
    frames = {name: _frames(i) for i, name in enumerate(["a.avi", "b.tif", "c"])}
    write_video(folder / "a.avi", frames["a.avi"])
    write_tiff(folder / "b.tif", frames["b.tif"])
    write_png_folder(folder / "c", frames["c"])
    return Clips(folder, frames)


# ------------------------------------------------------------- decoding


def test_formats_load_exactly_in_the_project_layout(clips, home):
    bunch = load_videos(clips.folder, n_frames=5, size=(H, W), data_home=home)
    assert bunch.data.shape == (3, 5, 3, H, W) and bunch.data.dtype == np.uint8
    assert isinstance(bunch.data, np.memmap) and not bunch.data.flags.writeable
    assert list(bunch.names) == ["a.avi", "b.tif", "c"]
    idx = even(T, 5)
    assert idx.tolist() == [0, 3, 6, 8, 11]
    for k, name in enumerate(bunch.names):
        # lossless codec, same size: the very pixels that were written
        np.testing.assert_array_equal(bunch.data[k], chw(clips.frames[name][idx]))
        np.testing.assert_array_equal(bunch.frame_indices[k], idx)
    assert bunch.frame_count.tolist() == [T, T, T]
    assert bunch.original_size.tolist() == [[H, W]] * 3
    assert bunch.frame_rate[0] == 10 and np.isnan(bunch.frame_rate[1:]).all()
    digest = hashlib.sha256((clips.folder / "a.avi").read_bytes()).hexdigest()
    assert bunch.sha256[0] == digest
    assert bunch.filenames[2] == str(clips.folder / "c")
    assert bunch.target is None and bunch.labels is None and bunch.skipped == {}
    assert bunch.params == {
        "version": 1,
        "n_frames": 5,
        "size": [H, W],
        "frame_selection": "even",
    }


def test_first_frames_and_a_list_of_paths(clips, home):
    paths = [clips.folder / "c", clips.folder / "a.avi"]
    bunch = load_videos(
        paths, n_frames=4, size=(H, W), frame_selection="first", data_home=home
    )
    assert list(bunch.names) == ["c", "a.avi"]  # the order of the list
    np.testing.assert_array_equal(bunch.data[1], chw(clips.frames["a.avi"][:4]))
    assert bunch.frame_indices.tolist() == [[0, 1, 2, 3]] * 2
    single = load_videos(clips.folder / "b.tif", n_frames=1, size=8, data_home=home)
    assert single.data.shape == (1, 1, 3, 8, 8)
    assert single.frame_indices.tolist() == [[0]]


def test_lossy_mp4(tmp_path, home):
    frames = _frames(5)
    path = write_mp4(tmp_path / "clip.mp4", frames, fps=25)
    bunch = load_videos([path], n_frames=T, size=(H, W), data_home=home)
    assert bunch.frame_rate[0] == 25 and bunch.frame_count[0] == T
    error = np.abs(bunch.data[0].astype(int) - chw(frames).astype(int)).mean()
    assert error < 12  # lossy, but the same pictures


def test_resize_is_antialiased_and_follows_size(tmp_path, home):
    # a one-pixel checkerboard: averaged to grey by an antialiased filter,
    # kept black and white by a nearest-neighbour one
    board = (np.indices((64, 96)).sum(axis=0) % 2 * 255).astype(np.uint8)
    frames = np.repeat(np.stack([board] * 3, axis=-1)[None], 2, axis=0)
    path = write_tiff(tmp_path / "board.tif", frames)
    bunch = load_videos([path], n_frames=2, size=(16, 24), data_home=home)
    out = bunch.data[0]
    assert out.shape == (2, 3, 16, 24)  # (height, width), aspect from size
    assert abs(out.mean() - 127.5) < 3 and out.std() < 8
    expected = Image.fromarray(frames[0]).resize((24, 16), Image.Resampling.BILINEAR)
    np.testing.assert_array_equal(out[0], np.asarray(expected).transpose(2, 0, 1))
    assert bunch.original_size.tolist() == [[64, 96]]


def test_grey_and_16_bit_images(tmp_path, home):
    grey = np.tile(np.arange(0, 256, 16, dtype=np.uint8), (8, 1))
    write_tiff(tmp_path / "grey.tif", [grey, grey[::-1]])
    wide = np.array([[0, 128, 129, 257 * 100, 65535, 65535]], dtype=np.uint16)
    wide = np.repeat(wide, 4, axis=0)
    Image.fromarray(wide).save(tmp_path / "deep.png")
    Image.fromarray(wide).save(tmp_path / "deep.tif")
    paths = [tmp_path / n for n in ("grey.tif", "deep.png", "deep.tif")]
    bunch = load_videos(paths, n_frames=1, size=(8, 16), data_home=home)
    grey_out = bunch.data[0, 0]
    assert (grey_out[0] == grey_out[1]).all() and (grey_out[1] == grey_out[2]).all()
    np.testing.assert_array_equal(grey_out[0], grey)
    sixteen = load_videos(paths[1:], n_frames=1, size=(4, 6), data_home=home).data
    # round(value / 257) for every video alike
    np.testing.assert_array_equal(
        sixteen[:, 0, :, 0], [[[0, 0, 1, 100, 255, 255]] * 3] * 2
    )


def test_float_images_are_refused_with_the_file_name(tmp_path, home):
    Image.fromarray(np.zeros((8, 8), np.float32)).save(tmp_path / "float.tif")
    with pytest.raises(ValueError, match=r"float\.tif: has 32-bit float pixels"):
        load_videos([tmp_path / "float.tif"], n_frames=1, size=8, data_home=home)


# ------------------------------------------------------------------ labels


def test_labels_csv(clips, home, tmp_path):
    csv = tmp_path / "labels.csv"
    pd.DataFrame(
        {"filename": ["c", "b.tif", "a.avi", "old.mp4"], "count": [3, 2, 1, 9]}
    ).to_csv(csv, index=False)
    with pytest.warns(UserWarning, match="not loaded: 'old.mp4'"):
        bunch = load_videos(
            clips.folder, n_frames=2, size=8, labels=csv, data_home=home
        )
    assert bunch.target.tolist() == [1, 2, 3]  # in the order of the videos
    assert bunch.labels["filename"].tolist() == ["a.avi", "b.tif", "c"]
    X, y = load_videos(
        clips.folder,
        n_frames=2,
        size=8,
        labels=pd.read_csv(csv).iloc[:3],  # a DataFrame works too
        data_home=home,
        return_X_y=True,
    )
    assert X.shape == (3, 2, 3, 8, 8) and y.tolist() == [1, 2, 3]


def test_labels_with_several_columns(clips, home):
    table = pd.DataFrame(
        {"filename": ["a.avi", "b.tif", "c"], "wbc": [1.5, 2, 3], "kind": list("xyz")}
    )
    with pytest.raises(ValueError, match="exactly one column besides 'filename'"):
        load_videos(clips.folder, n_frames=2, size=8, labels=table, data_home=home)
    bunch = load_videos(
        clips.folder, n_frames=2, size=8, labels=table, target="kind", data_home=home
    )
    assert bunch.target.tolist() == ["x", "y", "z"]
    assert bunch.labels["wbc"].tolist() == [1.5, 2, 3]
    both = load_videos(
        clips.folder,
        n_frames=2,
        size=8,
        labels=table,
        target=["wbc", "kind"],
        data_home=home,
    )
    assert both.target.shape == (3, 2)


@pytest.mark.parametrize(
    ("table", "match"),
    [
        (pd.DataFrame({"file": ["a.avi"], "y": [1]}), "'filename' column"),
        (pd.DataFrame({"filename": ["a.avi", "b.tif"], "y": [1, 2]}), "no row for 1"),
        (
            pd.DataFrame({"filename": ["a.avi", "a.avi", "b.tif", "c"], "y": 1}),
            "several rows for",
        ),
    ],
)
def test_bad_labels_raise_before_decoding(clips, home, table, match, monkeypatch):
    opened = CountAvOpen(monkeypatch)
    with pytest.raises(ValueError, match=match):
        load_videos(clips.folder, n_frames=2, size=8, labels=table, data_home=home)
    assert opened.calls == 0


# ------------------------------------------------- bad files and the cache


@pytest.fixture
def damaged(tmp_path):
    """Two good videos, a truncated mp4, a garbage mp4 and a short video."""
    folder = tmp_path / "damaged"
    folder.mkdir()
    write_video(folder / "good1.avi", _frames(1))
    write_tiff(folder / "good2.tif", _frames(2))
    # moov atom first, then cut: the container still declares all frames
    whole = write_mp4(
        tmp_path / "whole.mp4", _frames(3), options={"movflags": "faststart"}
    ).read_bytes()
    (folder / "truncated.mp4").write_bytes(whole[: len(whole) // 2])
    # moov atom last, then cut: not even a container any more
    tail = write_mp4(tmp_path / "tail.mp4", _frames(3)).read_bytes()
    (folder / "cut.mp4").write_bytes(tail[: len(tail) // 2])
    (folder / "garbage.mp4").write_bytes(b"not a video at all " * 50)
    write_video(folder / "short.avi", _frames(4, n=3))
    return folder


BAD = {
    "truncated.mp4": "truncated or damaged: it declares 12 frames but holds",
    "cut.mp4": "could not be decoded",
    "garbage.mp4": "could not be decoded",
    "short.avi": "has 3 frame.s., fewer than n_frames=4",
}


def test_bad_files_are_named_and_the_good_ones_kept(damaged, home, monkeypatch):
    opened = CountAvOpen(monkeypatch)
    with pytest.raises(ValueError) as info:
        load_videos(damaged, n_frames=4, size=8, data_home=home)
    message = str(info.value)
    assert "4 file(s) could not be read" in message
    for name, reason in BAD.items():
        assert any(
            line.strip().startswith(str(damaged / name)) and _search(reason, line)
            for line in message.splitlines()
        ), (name, message)
    assert "The other 2 video(s) are decoded and cached" in message
    assert opened.calls > 0
    # retry without the bad files: nothing is decoded again
    for name in BAD:
        (damaged / name).unlink()
    opened.calls = 0
    bunch = load_videos(damaged, n_frames=4, size=8, data_home=home)
    assert opened.calls == 0
    assert list(bunch.names) == ["good1.avi", "good2.tif"]


def _search(pattern, text):
    import re

    return re.search(pattern, text) is not None


def test_skip_leaves_out_bad_files_and_reports_them(damaged, home):
    with pytest.warns(UserWarning, match="skipped 4 file"):
        bunch = load_videos(
            damaged, n_frames=4, size=8, on_error="skip", data_home=home
        )
    assert list(bunch.names) == ["good1.avi", "good2.tif"]
    assert set(bunch.skipped) == {str(damaged / n) for n in BAD}
    for name, reason in BAD.items():
        assert _search(reason, bunch.skipped[str(damaged / name)])
    # the same call with "raise" now fails fast on decoding the bad ones only
    with pytest.raises(ValueError, match="4 file"):
        load_videos(damaged, n_frames=4, size=8, data_home=home)


def test_only_the_new_video_is_decoded(clips, home, monkeypatch):
    first = load_videos(clips.folder, n_frames=3, size=8, data_home=home)
    opened = CountAvOpen(monkeypatch)
    again = load_videos(clips.folder, n_frames=3, size=8, data_home=home)
    assert opened.calls == 0 and again.cache_path == first.cache_path
    write_video(clips.folder / "d.avi", _frames(9))
    opened.calls = 0
    more = load_videos(clips.folder, n_frames=3, size=8, data_home=home)
    assert opened.calls == 2  # one video: count its frames, then decode
    assert more.cache_path != first.cache_path
    np.testing.assert_array_equal(more.data[:3], first.data)
    # other parameters are other items
    load_videos(clips.folder, n_frames=2, size=8, data_home=home)
    assert opened.calls == 6


def test_parallel_decoding_gives_the_same_bytes(clips, home, tmp_path):
    one = load_videos(clips.folder, n_frames=3, size=8, data_home=home)
    two = load_videos(clips.folder, n_frames=3, size=8, n_jobs=2, data_home=tmp_path)
    np.testing.assert_array_equal(one.data, two.data)
    assert one.sha256.tolist() == two.sha256.tolist()


def test_a_changed_file_is_decoded_again(clips, home):
    first = load_videos(clips.folder, n_frames=3, size=8, data_home=home)
    write_tiff(clips.folder / "b.tif", _frames(42))
    second = load_videos(clips.folder, n_frames=3, size=8, data_home=home)
    assert second.sha256[1] != first.sha256[1]
    assert not np.array_equal(second.data[1], first.data[1])
    np.testing.assert_array_equal(second.data[0], first.data[0])


# ---------------------------------------------------- hostile files, limits


@pytest.mark.timeout(60)
def test_links_fifos_and_devices_are_not_read(tmp_path, home):
    folder = tmp_path / "hostile"
    folder.mkdir()
    write_tiff(folder / "ok.tif", _frames(1))
    outside = write_tiff(tmp_path / "outside.tif", _frames(2))
    os.symlink(outside, folder / "link.tif")
    os.symlink("/dev/zero", folder / "zero.mp4")
    os.mkfifo(folder / "pipe.mp4")
    frames = write_png_folder(folder / "frames", _frames(3, n=2))
    os.symlink(outside, frames / "frame_9.png")
    with pytest.warns(UserWarning, match="skipped 4 file"):
        bunch = load_videos(folder, n_frames=2, size=8, on_error="skip", data_home=home)
    assert list(bunch.names) == ["ok.tif"]
    reasons = {Path(p).name: r for p, r in bunch.skipped.items()}
    assert "symbolic link" in reasons["link.tif"]
    assert "symbolic link" in reasons["zero.mp4"]
    assert "not a regular file" in reasons["pipe.mp4"]
    assert "symbolic link 'frame_9.png'" in reasons["frames"]
    # named explicitly, a device is refused too
    with pytest.raises(ValueError, match="null.*not a regular file"):
        load_videos(["/dev/null"], n_frames=1, size=8, data_home=home)


def test_size_limit_is_checked_before_reading(tmp_path, home):
    path = write_tiff(tmp_path / "big.tif", _frames(1))
    size = path.stat().st_size
    with pytest.raises(ValueError, match=f"big.tif: has {size} bytes, more than"):
        load_videos([path], n_frames=2, size=8, max_file_size=size - 1, data_home=home)
    assert load_videos([path], n_frames=2, size=8, max_file_size=size, data_home=home)


def test_frame_folders_must_be_consistent(tmp_path, home):
    frames = write_png_folder(tmp_path / "clip", _frames(1, n=3))
    Image.fromarray(_frames(2, n=1, height=8)[0]).save(frames / "frame_3.png")
    with pytest.raises(ValueError, match=r"clip: frame 'frame_3.png' is 8 x 32"):
        load_videos([frames], n_frames=4, size=8, data_home=home)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="empty: is a folder without frames"):
        load_videos([empty], n_frames=1, size=8, data_home=home)


def test_free_space_is_checked_before_decoding(clips, home, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10, 10, 100))
    with pytest.raises(OSError, match="needs about .* GB") as info:
        load_videos(clips.folder, n_frames=3, size=64, data_home=home)
    assert info.value.errno == errno.ENOSPC
    assert not any((home / "videos" / "items").rglob("*.npz"))


def _set_folder(bunch):
    return Path(bunch.cache_path)


@pytest.mark.timeout(120)  # a read of a FIFO below would hang
def test_tampered_caches_are_rebuilt(clips, home, monkeypatch):
    bunch = load_videos(clips.folder, n_frames=3, size=8, data_home=home)
    expected = np.array(bunch.data)
    folder = _set_folder(bunch)
    # data changed together with a matching manifest: the shape check fails
    fake = np.zeros((3, 3, 3, 8, 8), dtype=np.float64)
    np.save(folder / "data.npy", fake)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["data.npy"] = {
        "sha256": hashlib.sha256((folder / "data.npy").read_bytes()).hexdigest(),
        "size": (folder / "data.npy").stat().st_size,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    opened = CountAvOpen(monkeypatch)
    again = load_videos(clips.folder, n_frames=3, size=8, data_home=home)
    np.testing.assert_array_equal(again.data, expected)
    assert opened.calls == 0  # rebuilt from the cached items
    # a manifest that lists a device and a FIFO outside the cache: neither is
    # opened (reading the FIFO would hang), the set is rebuilt
    os.mkfifo(folder.parent / "outside")
    manifest["files"] = {
        "/dev/zero": {"sha256": "0", "size": 1},
        "../outside": {"sha256": "0", "size": 1},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    again = load_videos(clips.folder, n_frames=3, size=8, data_home=home)
    np.testing.assert_array_equal(again.data, expected)
    # the set's own metadata replaced by a FIFO (with a matching key)
    (folder / "metadata.json").unlink()
    os.mkfifo(folder / "metadata.json")
    again = load_videos(clips.folder, n_frames=3, size=8, data_home=home)
    np.testing.assert_array_equal(again.data, expected)
    assert (folder / "metadata.json").is_file()
    # a damaged item is decoded again
    for item in (home / "videos" / "items").rglob("*.npz"):
        raw = bytearray(item.read_bytes())
        raw[-200] ^= 0xFF
        item.write_bytes(bytes(raw))
    shutil.rmtree(folder)
    again = load_videos(clips.folder, n_frames=3, size=8, data_home=home)
    np.testing.assert_array_equal(again.data, expected)
    assert opened.calls == 2  # the AVI; the other two are read by Pillow


def test_a_cache_file_that_is_a_link_is_not_followed(clips, home, tmp_path):
    bunch = load_videos(clips.folder, n_frames=3, size=8, data_home=home)
    folder = _set_folder(bunch)
    elsewhere = tmp_path / "elsewhere.npy"
    shutil.move(folder / "data.npy", elsewhere)
    os.symlink(elsewhere, folder / "data.npy")
    again = load_videos(clips.folder, n_frames=3, size=8, data_home=home)
    assert not (folder / "data.npy").is_symlink()
    np.testing.assert_array_equal(again.data, np.load(elsewhere))


def test_a_valid_cache_reads_in_a_read_only_home(clips, home, monkeypatch):
    first = load_videos(clips.folder, n_frames=3, size=8, data_home=home)
    # from now on nothing may be created: no folder, no lock, no file
    real_mkdir = Path.mkdir

    def mkdir(self, *args, **kwargs):
        if self.is_dir():
            return real_mkdir(self, *args, **kwargs)
        raise PermissionError(errno.EACCES, "read-only", str(self))

    def no_lock(*args, **kwargs):
        raise PermissionError(errno.EACCES, "read-only: no lock file")

    import filelock

    monkeypatch.setattr(Path, "mkdir", mkdir)
    monkeypatch.setattr(filelock.FileLock, "acquire", no_lock)
    monkeypatch.setattr(os, "replace", no_lock)
    bunch = load_videos(clips.folder, n_frames=3, size=8, data_home=home)
    np.testing.assert_array_equal(bunch.data, first.data)


# ---------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_frames": 0}, ValueError, "n_frames"),
        ({"n_frames": 2.5}, TypeError, "n_frames"),
        ({"size": (8, 8, 8)}, ValueError, "size"),
        ({"size": 0}, ValueError, "size"),
        ({"size": 10_000}, ValueError, "size"),
        ({"frame_selection": "random"}, ValueError, "frame_selection"),
        ({"on_error": "ignore"}, ValueError, "on_error"),
        ({"max_file_size": 0}, ValueError, "max_file_size"),
        ({"labels": 3}, TypeError, "labels"),
        ({"target": "y"}, ValueError, "target"),
        ({"check_hash": "yes"}, TypeError, "check_hash"),
    ],
)
def test_bad_arguments(clips, home, kwargs, error, match):
    with pytest.raises(error, match=match):
        load_videos(
            clips.folder, **{"n_frames": 2, "size": 8, **kwargs}, data_home=home
        )


def test_bad_paths(clips, tmp_path, home):
    with pytest.raises(ValueError, match="existing folder or file"):
        load_videos(tmp_path / "nowhere", data_home=home)
    with pytest.raises(ValueError, match="at least one video"):
        load_videos([], data_home=home)
    with pytest.raises(TypeError, match="paths"):
        load_videos(3, data_home=home)
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(clips.folder / "b.tif", other / "b.tif")
    with pytest.raises(ValueError, match="two videos named 'b.tif'"):
        load_videos([clips.folder / "b.tif", other / "b.tif"], data_home=home)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.doc").write_text("x")
    with pytest.raises(ValueError, match="holds no video"):
        load_videos(tmp_path / "notes", data_home=home)
    with pytest.raises(ValueError, match="unknown extension '.doc'"):
        load_videos([tmp_path / "notes" / "readme.doc"], data_home=home)


def test_ignored_entries_are_reported(clips, home):
    (clips.folder / "notes.doc").write_text("x")
    (clips.folder / "labels.csv").write_text("filename,y\n")
    (clips.folder / ".hidden.mp4").write_text("x")
    with pytest.warns(UserWarning, match=r"ignored 1 folder entries .*: notes\.doc$"):
        load_videos(clips.folder, n_frames=2, size=8, data_home=home)


# ------------------------------------------------------------- difficulty


def test_estimate_difficulty_ranks_blur_and_counts():
    sharp = RNG.integers(0, 256, size=(1, 2, 3, 32, 32), dtype=np.uint8)
    sharp = degrade(sharp, blur=1, noise=0.0)
    videos = degrade(np.repeat(sharp, 4, axis=0), blur=[0, 1, 2, 4], noise=0.0)
    blur = estimate_blur(videos)
    d = estimate_difficulty(videos)
    np.testing.assert_allclose(d, blur / blur.max())
    assert np.all(np.diff(d) > 0)
    # a fixed scale scores new videos on the training set's scale
    assert (
        estimate_difficulty(videos[:2], max_blur=blur.max()).tolist() == d[:2].tolist()
    )
    counts = np.array([100.0, 200, 300, 400])
    both = estimate_difficulty(videos, counts)
    scale = 3 * counts.std()
    literal = np.minimum(np.abs(counts - 250) / scale, 1)
    np.testing.assert_allclose(both, 0.5 * blur / blur.max() + 0.5 * literal)
    boundary = estimate_difficulty(
        videos,
        counts,
        alpha=0.0,
        center=150,
        distance_scale=100,
        distance_rule="boundary",
    )
    np.testing.assert_allclose(boundary, [0.5, 0.5, 0.0, 0.0])


def test_estimate_difficulty_bad_input():
    videos = RNG.integers(0, 256, size=(3, 2, 1, 16, 16), dtype=np.uint8)
    with pytest.raises(ValueError, match="one value per video"):
        estimate_difficulty(videos, counts=[1, 2])
    with pytest.raises(ValueError, match="alpha and beta"):
        estimate_difficulty(videos, alpha=0.3)
    constant = videos.copy()
    constant[1] = 7
    with pytest.raises(ValueError, match=r"videos \[1\] are constant"):
        estimate_difficulty(constant)
    with pytest.raises(ValueError, match="max_blur"):
        estimate_difficulty(videos, max_blur=0)


# ----------------------------------------------------------- the docs page

PAGE = Path(__file__).resolve().parents[1] / "docs" / "user_guide" / "own_data.rst"


def _code_blocks(text):
    """The ``.. code-block:: python`` blocks of an rst page, dedented."""
    import textwrap

    blocks, current = [], None
    for line in text.splitlines():
        if line.strip() == ".. code-block:: python":
            current = []
            blocks.append(current)
        elif current is not None:
            if line and not line.startswith("    "):
                current = None
            else:
                current.append(line)
    return [textwrap.dedent("\n".join(b)) for b in blocks]


def test_the_own_data_page_runs_end_to_end(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SKCELLS_DATA", str(tmp_path / "data_home"))
    blocks = _code_blocks(PAGE.read_text(encoding="utf-8"))
    assert len(blocks) == 6
    namespace = {}
    for block in blocks:
        exec(compile(block, str(PAGE), "exec"), namespace)
    videos = namespace["videos"]
    assert videos.data.shape == (12, 8, 3, 64, 64)
    assert videos.frame_rate.tolist() == [10.0] * 12
    assert list(videos.labels.columns) == ["filename", "wbc_count"]
    assert namespace["difficulty"].shape == (12,)
    clf = namespace["clf"]
    assert set(clf.predict(namespace["frames"][8:])) <= {"high", "low"}
    assert clf.estimator_.history[0, "n_curriculum_samples"] < 8
    assert namespace["reg"].predict(namespace["frames"][8:]).shape == (4, 1)
    # the saving section's file loads back to the same predictions
    from skcells.persistence import load_model

    loaded = load_model(tmp_path / "wbc-clips.skcells")
    frames = namespace["frames"][8:]
    np.testing.assert_array_equal(loaded.predict(frames), clf.predict(frames))


def test_importing_the_datasets_loads_neither_torch_nor_pyav():
    # the renderer's worker processes import skcells.datasets: keep it light
    import subprocess
    import sys

    code = (
        "import sys, skcells.datasets; "
        "from skcells.datasets import load_videos, estimate_difficulty; "
        "print(sorted({'torch', 'av'} & set(sys.modules)))"
    )
    root = str(Path(__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert out.stdout.strip() == "[]"

import os

import pandas as pd
import pytest
from PIL import Image

from skcells.cli import main
from skcells.datasets import fetch_synthetic_blood_videos

TINY = ["--n-videos", "6", "--n-frames", "3", "--size", "16"]


def test_generate_writes_and_reuses_the_cache(data_home, capsys):
    argv = ["generate", *TINY, "--n-jobs", "1", "--no-progress"]
    assert main(argv) == 0
    path = capsys.readouterr().out.strip()
    assert os.path.isfile(os.path.join(path, "data.npy"))
    assert os.path.isfile(os.path.join(path, "manifest.json"))
    assert path.startswith(str(data_home))
    # the Python API finds the same cache
    bunch = fetch_synthetic_blood_videos(n_videos=6, n_frames=3, size=16)
    assert bunch.cache_path == path
    assert main(argv) == 0
    assert capsys.readouterr().out.strip() == path


def test_generate_passes_generation_options(data_home, capsys):
    argv = [
        "generate",
        *TINY,
        "--n-jobs",
        "1",
        "--blur-range",
        "2",
        "3",
        "--condition-proba",
        "0",
        "1",
        "0",
        "0",
        "--noise-law",
        "poisson",
    ]
    assert main(argv) == 0
    path = capsys.readouterr().out.strip()
    bunch = fetch_synthetic_blood_videos(
        n_videos=6,
        n_frames=3,
        size=16,
        blur_range=(2, 3),
        condition_proba=(0, 1, 0, 0),
        noise_law="poisson",
    )
    assert bunch.cache_path == path
    assert set(bunch.condition) == {"blurred"} and set(bunch.blur) <= {2, 3}


@pytest.mark.parametrize(
    "extra, name",
    [
        (["--size", "-3"], "size"),
        (["--blur-range", "0", "11"], "blur_range"),
        (["--condition-proba", "0.5", "0.5", "0.5", "0.5"], "condition_proba"),
    ],
)
def test_generate_reports_bad_input_in_one_line(data_home, capsys, extra, name):
    assert main(["generate", *TINY, *extra, "--n-jobs", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("skcells generate: error:") and name in err
    assert "\n" not in err


def test_show_writes_a_png_grid_and_a_gif(tmp_path, capsys):
    out = tmp_path / "show"
    argv = ["show", "--out", str(out), "--n-frames", "5", "--size", "32"]
    assert main(argv) == 0
    printed = capsys.readouterr().out.split()
    png, gif = out / "conditions.png", printed[1]
    assert printed[0] == str(png)
    with Image.open(png) as im:
        assert im.size[0] > 2 * im.size[1]  # four panels side by side
    with Image.open(gif) as im:
        assert im.n_frames == 5


def test_show_rejects_a_bad_index(tmp_path, capsys):
    argv = ["show", "--out", str(tmp_path), "--n-videos", "4", "--index", "9"]
    assert main([*argv, "--n-frames", "2", "--size", "16"]) == 2
    assert "index" in capsys.readouterr().err


def test_reproduce_smoke_writes_tables_and_figure(data_home, tmp_path, capsys):
    out = tmp_path / "results"
    assert main(["reproduce", "--scale", "smoke", "--out", str(out)]) == 0
    printed = {os.path.basename(p) for p in capsys.readouterr().out.split()}
    assert {"results.csv", "results.md", "fig1_sample_frames.png"} <= printed
    assert len(pd.read_csv(out / "results.csv")) > 0
    # the per-condition summary of the synthetic data is part of the report
    md = (out / "results.md").read_text()
    assert "| clear |" in md and "| blurred+noisy |" in md
    with Image.open(out / "fig1_sample_frames.png") as im:
        assert im.size[0] > im.size[1]  # one panel per condition, side by side


def test_show_rejects_bad_fps_before_writing_anything(tmp_path, capsys):
    from skcells.cli import main

    out = tmp_path / "show"
    status = main(
        ["show", "--out", str(out), "--n-videos", "8", "--n-frames", "2",
         "--size", "16", "--fps", "0"]
    )  # fmt: skip
    assert status == 2
    assert "fps" in capsys.readouterr().err
    assert not out.exists()

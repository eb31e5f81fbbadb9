import numpy as np
import pandas as pd
import pytest
from PIL import Image

from skcells.cli import main
from skcells.experiments import PAPER_TABLE1, PAPER_TABLE2

FILES = [
    "fig1_sample_frames.png",
    "fig2_competence.png",
    "fig4_validation_curves.png",
    "fig_conditions.png",
    "results.csv",
    "results.md",
]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """``skcells reproduce --scale smoke`` once for the whole module."""
    out = tmp_path_factory.mktemp("reproduce") / "results"
    data = tmp_path_factory.mktemp("data")
    argv = ["reproduce", "--scale", "smoke", "--out", str(out)]
    return main([*argv, "--data-home", str(data)]), out


def test_reproduce_smoke_writes_every_file(smoke_run, capsys):
    status, out = smoke_run
    assert status == 0
    assert sorted(p.name for p in out.iterdir()) == FILES
    for name in FILES:
        if name.endswith(".png"):
            with Image.open(out / name) as im:
                assert im.size[0] > 100 and im.size[1] > 100


def test_reproduce_smoke_results_table(smoke_run):
    _, out = smoke_run
    table = pd.read_csv(out / "results.csv")
    assert set(table["series"]) == {1, 2, 3}
    assert set(table["variant"]) == {"baseline", "MVM", "MVWCo-S"}
    assert set(table["scale"]) == {"smoke"} and set(table["seed"]) == {42}
    # 1 WBC network, 4 RBC configurations, 2 label-noise settings; 3 variants
    assert len(table) == (1 + 4 + 2) * 3
    assert table["accuracy"].between(0, 100).all()
    rbc = table[table["dataset"] == "rbc"]
    assert set(rbc["curriculum"]) == {False, True}
    assert set(rbc["input"]) == {"frame", "clip"}
    noisy = table[table["label_noise"] > 0]
    assert set(noisy["label_smoothing"]) == {0.4}
    assert (table["n_trainable"] <= table["n_params"]).all()
    assert set(table["dataset"]) == {"wbc", "rbc", "digits"}


def test_reproduce_smoke_markdown_has_the_papers_rows(smoke_run):
    _, out = smoke_run
    md = (out / "results.md").read_text(encoding="utf-8")
    assert md.index("## Claims checklist") < md.index("## Table 1")
    assert "| RBC high/low is hard but learnable | 62.0–65.6 % |" in md
    assert "## Where does multi-view help?" in md
    assert "## Headline: multi-view predictions on WBC" in md
    assert "9-layer CNN: MVM" in md and "paper: +7.82" in md
    assert "## Table 1" in md and "## Table 2" in md
    for paper in PAPER_TABLE1:
        assert f"{paper['baseline'][0]:g} ± {paper['baseline'][1]:g}" in md
    for paper in PAPER_TABLE2:
        assert f"| {paper['label']} |" in md
    assert "not run at this scale" in md  # ResNet18 and ViT-L/16 at smoke
    assert "scikit-learn digits" in md
    assert "| clear |" in md or "| blurred |" in md  # the data summary


def test_reproduce_one_series_and_chosen_seeds(data_home, tmp_path, capsys):
    out = tmp_path / "s3"
    argv = ["reproduce", "--scale", "smoke", "--series", "3", "--seeds", "1", "2"]
    assert main([*argv, "--out", str(out)]) == 0
    printed = capsys.readouterr().out.split()
    assert sorted(p.rsplit("/", 1)[-1] for p in printed) == [
        "fig4_validation_curves.png",
        "results.csv",
        "results.md",
    ]
    table = pd.read_csv(out / "results.csv")
    assert set(table["seed"]) == {1, 2} and set(table["series"]) == {3}
    md = (out / "results.md").read_text(encoding="utf-8")
    assert "## Table 2" in md and "## Table 1" not in md
    # the checklist says which claims series 3 alone cannot check
    assert md.index("## Claims checklist") < md.index("## Table 2")
    assert md.count("| not run at this scale |") == 4
    assert np.isfinite(table["accuracy"]).all()


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--n-jobs", "0"], "n_jobs"),
        (["--weights", "resnet18"], "--weights must be MODEL=PATH"),
        (["--weights", "vgg=x.pt"], "'vgg'"),
        (["--cifar-root", "{tmp}/none"], "cifar_root"),
        (["--out", "{file}"], "--out"),
    ],
)
def test_reproduce_reports_bad_input_in_one_line(
    extra, fragment, data_home, tmp_path, capsys
):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    extra = [e.format(tmp=tmp_path, file=a_file) for e in extra]
    argv = ["reproduce", "--scale", "smoke", "--series", "3", "--out", str(tmp_path)]
    assert main([*argv, *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("skcells reproduce: error: ")
    assert fragment in err[0]


@pytest.mark.cuda
def test_reproduce_on_cuda(data_home, tmp_path):
    out = tmp_path / "cuda"
    argv = ["reproduce", "--scale", "smoke", "--device", "cuda", "--out", str(out)]
    assert main(argv) == 0
    assert set(pd.read_csv(out / "results.csv")["device"]) == {"cuda"}

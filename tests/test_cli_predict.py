"""``skcells predict``: a saved model applied to .npy inputs, written as a CSV."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from skorch import NeuralNetClassifier

from skcells.cli import main
from skcells.multiview import MultiViewClassifier
from skcells.persistence import save_model

RNG = np.random.default_rng(0)
Y = np.tile(["high", "low"], 15)
X = RNG.normal(size=(30, 1, 8, 8))
X[Y == "high", :, 2:6, 2:6] += 1.0


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """A multi-view logistic regression, saved, and its inputs as .npy files."""
    folder = tmp_path_factory.mktemp("predict")
    clf = MultiViewClassifier(
        LogisticRegression(max_iter=300),
        n_views=7,
        output_size=4,
        aggregation="weighted",
        random_state=0,
    ).fit(X, Y)
    path = save_model(clf, folder / "model.skcells")
    np.save(folder / "a.npy", X[:20])
    np.save(folder / "b.npy", X[20:])
    return clf, path, folder


def test_predict_writes_one_row_per_sample(model_file, tmp_path, capsys):
    clf, path, folder = model_file
    out = tmp_path / "predictions.csv"
    argv = ["predict", str(path), str(folder / "a.npy"), str(folder / "b.npy")]
    status = main(
        [*argv, "--out", str(out), "--min-agreement", "0.8", "--chunk-size", "7"]
    )
    assert status == 0
    printed = capsys.readouterr().out
    table = pd.read_csv(out)
    assert list(table.columns) == [
        "source",
        "index",
        "prediction",
        "proba_high",
        "proba_low",
        "agreement",
        "entropy",
        "abstain",
    ]
    assert (
        list(table["source"])
        == [str(folder / "a.npy")] * 20 + [str(folder / "b.npy")] * 10
    )
    assert list(table["index"]) == list(range(20)) + list(range(10))
    # The same numbers as the library's, chunking notwithstanding.
    assert list(table["prediction"]) == list(clf.predict(X))
    np.testing.assert_allclose(
        table[["proba_high", "proba_low"]].to_numpy(), clf.predict_proba(X), atol=1e-12
    )
    result = clf.predict_uncertainty(X)
    np.testing.assert_allclose(table["agreement"], result.agreement)
    np.testing.assert_allclose(table["entropy"], result.entropy)
    assert list(table["abstain"]) == list(result.agreement < 0.8)
    assert (
        f"wrote 30 prediction(s) to {out} ({int(table['abstain'].sum())} abstained)"
        in printed
    )


def test_a_model_without_a_seed_gets_one(tmp_path):
    clf = MultiViewClassifier(LogisticRegression(), n_views=3, output_size=4).fit(X, Y)
    path = save_model(clf, tmp_path / "m.skcells")
    np.save(tmp_path / "x.npy", X)
    outs = []
    for i in range(2):
        outs.append(tmp_path / f"p{i}.csv")
        argv = ["predict", str(path), str(tmp_path / "x.npy"), "--out", str(outs[i])]
        assert main(argv) == 0
    # Repeatable, and every column from the same views.
    assert outs[0].read_text() == outs[1].read_text()
    table = pd.read_csv(outs[0])
    proba = table[["proba_high", "proba_low"]].to_numpy()
    labels = np.array(["high", "low"])[proba.argmax(axis=1)]
    assert list(table["prediction"]) == list(labels)


class TinyModule(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(16, 2)

    def forward(self, x):
        return self.linear(x.flatten(1))


def test_untrusted_models_need_trust(tmp_path, capsys):
    net = NeuralNetClassifier(
        TinyModule,
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=1,
        train_split=None,
        verbose=0,
    )
    clf = MultiViewClassifier(net, n_views=3, output_size=4, random_state=0).fit(
        X.astype(np.float32), Y
    )
    with pytest.warns(UserWarning, match="will need trusted"):
        path = save_model(clf, tmp_path / "m.skcells")
    np.save(tmp_path / "x.npy", X.astype(np.float32))
    out = tmp_path / "p.csv"
    argv = ["predict", str(path), str(tmp_path / "x.npy"), "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not trusted" in err[0] and "--trust NAME" in err[0]
    assert not out.exists()
    name = f"{TinyModule.__module__}.TinyModule"
    assert main([*argv, "--trust", name]) == 0
    table = pd.read_csv(out)
    assert list(table["prediction"]) == list(clf.predict(X.astype(np.float32)))


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing-model", "model file"),
        ("not-a-model", "is not a skcells model file"),
        ("missing-input", "does not exist"),
        ("not-npy", "x.txt"),
        ("object-npy", "cannot be read as a .npy array"),
        ("wrong-shape", "x.npy: X must be 4-D like the training input"),
        ("one-d", "expected (n_samples, ...)"),
        ("min-agreement", "--min-agreement must be"),
        ("coverage", "--coverage must be"),
        ("out-folder", "is a folder"),
        ("out-missing-folder", "does not exist"),
    ],
)
def test_predict_errors_are_one_line(model_file, tmp_path, capsys, case, message):
    _, path, folder = model_file
    model, inputs, extra = str(path), [str(folder / "a.npy")], []
    out = tmp_path / "p.csv"
    if case == "missing-model":
        model = str(tmp_path / "nope.skcells")
    elif case == "not-a-model":
        model = str(folder / "a.npy")
    elif case == "missing-input":
        inputs = [str(tmp_path / "nope.npy")]
    elif case == "not-npy":
        (tmp_path / "x.txt").write_text("1 2 3")
        inputs = [str(tmp_path / "x.txt")]
    elif case == "object-npy":
        np.save(tmp_path / "x.npy", np.array([{"a": 1}] * 3), allow_pickle=True)
        inputs = [str(tmp_path / "x.npy")]
    elif case == "wrong-shape":
        np.save(tmp_path / "x.npy", X[:, 0])
        inputs = [str(tmp_path / "x.npy")]
    elif case == "one-d":
        np.save(tmp_path / "x.npy", np.zeros(5))
        inputs = [str(tmp_path / "x.npy")]
    elif case == "min-agreement":
        extra = ["--min-agreement", "1.5"]
    elif case == "coverage":
        extra = ["--coverage", "0"]
    elif case == "out-folder":
        out = tmp_path
    elif case == "out-missing-folder":
        out = tmp_path / "no" / "p.csv"
    status = main(["predict", model, *inputs, "--out", str(out), *extra])
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("skcells predict: error: "), err
    assert message in err[0]
    if out != tmp_path:
        assert not out.exists()


# ------------------------------------------------------------- video inputs
def _has_load_videos():
    import skcells.datasets

    return hasattr(skcells.datasets, "load_videos")


needs_load_videos = pytest.mark.skipif(
    not _has_load_videos(), reason="skcells.datasets.load_videos is not here yet"
)


def _write_stacks(folder, n_files=3, n_frames=4, size=16):
    """Multi-page TIFF files of random RGB frames; their paths."""
    from PIL import Image

    rng = np.random.default_rng(1)
    paths = []
    for i in range(n_files):
        frames = [
            Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
            for _ in range(n_frames)
        ]
        path = folder / f"clip{i}.tif"
        frames[0].save(path, save_all=True, append_images=frames[1:])
        paths.append(path)
    return paths


@needs_load_videos
@pytest.mark.parametrize("layout", ["images", "clips"])
def test_predict_reads_videos_in_the_models_layout(tmp_path, layout, capsys):
    from skcells.datasets import load_videos

    rng = np.random.default_rng(0)
    shape = (3, 16, 16) if layout == "images" else (2, 3, 16, 16)
    X_train = rng.integers(0, 256, size=(20, *shape), dtype=np.uint8)
    y_train = np.tile(["a", "b"], 10)
    clf = MultiViewClassifier(
        LogisticRegression(max_iter=200), n_views=3, output_size=6, random_state=0
    ).fit(X_train, y_train)
    model = save_model(clf, tmp_path / "m.skcells")
    (tmp_path / "clips").mkdir()
    paths = _write_stacks(tmp_path / "clips")
    out, home = tmp_path / "p.csv", tmp_path / "home"
    argv = ["predict", str(model), *map(str, paths), "--out", str(out)]
    extra = ["--n-frames", "2", "--size", "16"]
    assert main([*argv, *extra, "--data-home", str(home), "--no-progress"]) == 0
    table = pd.read_csv(out)
    if hasattr(clf, "input_shape_"):
        # The training input's frames and size are the defaults (one frame,
        # the first, for a model of images).
        defaults = extra[:2] if layout == "images" else []
        assert main([*argv, *defaults, "--data-home", str(home)]) == 0
        assert pd.read_csv(out).equals(table)
    data = load_videos(paths, n_frames=2, size=16, data_home=home)
    if layout == "images":
        X = data.data.reshape(-1, 3, 16, 16)
        assert list(table["source"]) == [str(p) for p in paths for _ in range(2)]
        assert list(table["index"]) == [0, 3] * 3  # the frames that were read
    else:
        X = data.data
        assert list(table["source"]) == [str(p) for p in paths]
        assert list(table["index"]) == [0, 0, 0]
    assert list(table["prediction"]) == list(clf.predict(X))
    # One folder is a folder of videos, read in the natural order of names.
    argv = ["predict", str(model), str(paths[0].parent), "--out", str(out), *extra]
    assert main([*argv, "--data-home", str(home), "--no-progress"]) == 0
    assert list(pd.read_csv(out)["prediction"]) == list(clf.predict(X))
    # A broken file is named in one line.
    (tmp_path / "broken.tif").write_bytes(b"II*\x00 truncated")
    broken = ["predict", str(model), *map(str, paths), str(tmp_path / "broken.tif")]
    status = main([*broken, "--out", str(out), "--data-home", str(home), *extra])
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "broken.tif" in err[0]


def _regressor_class():
    import skcells.multiview

    return getattr(skcells.multiview, "MultiViewRegressor", None)


@pytest.mark.skipif(_regressor_class() is None, reason="no MultiViewRegressor yet")
def test_predict_with_a_regressor_writes_intervals(tmp_path):
    from sklearn.linear_model import Ridge

    counts = np.linspace(0, 30, len(X))
    reg = _regressor_class()(Ridge(), n_views=9, output_size=4, random_state=0)
    reg.fit(X, counts)
    model = save_model(reg, tmp_path / "r.skcells")
    np.save(tmp_path / "x.npy", X)
    out = tmp_path / "p.csv"
    argv = ["predict", str(model), str(tmp_path / "x.npy"), "--out", str(out)]
    assert main([*argv, "--coverage", "0.5", "--max-width", "1.0"]) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == [
        "source",
        "index",
        "prediction",
        "lower",
        "upper",
        "std",
        "abstain",
    ]
    result = reg.predict_uncertainty(X, coverage=0.5)
    np.testing.assert_allclose(table["prediction"], reg.predict(X))
    np.testing.assert_allclose(table["lower"], result.lower)
    np.testing.assert_allclose(table["upper"], result.upper)
    np.testing.assert_allclose(table["std"], result.std)
    assert list(table["abstain"]) == list(result.upper - result.lower > 1.0)
    # Without --max-width nobody abstains: there is no column.
    assert main(argv) == 0
    assert "abstain" not in pd.read_csv(out).columns

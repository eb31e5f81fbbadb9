import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback

from skcells.curriculum import CurriculumNeuralNetClassifier
from skcells.experiments import (
    PAPER_SEEDS,
    PAPER_TABLE1,
    PAPER_TABLE2,
    RestoreBestValidLoss,
    RunSpec,
    evaluate_views,
    get_scale,
    load_cifar10,
    load_digit_images,
    make_net,
    multiview_gain,
    plot_validation_curves,
    run_experiments,
    run_one,
    split_test,
    summarize,
    table1_markdown,
    table2_markdown,
)
from skcells.multiview import MultiViewClassifier

# ------------------------------------------------------------------ scales


def test_scales_follow_the_paper_at_paper_scale():
    paper = get_scale("paper")
    assert paper.seeds == PAPER_SEEDS == (42, 0, 17, 9, 3)
    assert (paper.n_videos, paper.n_frames, paper.size) == (1150, 100, 128)
    by_model = {s.model: s for s in paper.specs if s.series == 1}
    assert by_model["cnn9"].epochs == 800 and by_model["cnn9"].input_shape == [
        3,
        32,
        32,
    ]
    assert by_model["x3d_xs"].input_shape == [9, 3, 64, 64]
    assert by_model["resnet18"].input_shape == [3, 256, 256]
    assert by_model["vit_l16"].input_shape == [3, 224, 224]
    assert all(
        s.n_views == 10 and s.crop_scale == (0.1, 0.2) for s in by_model.values()
    )
    series2 = [s for s in paper.specs if s.series == 2]
    assert {(s.input, s.epochs, s.curriculum) for s in series2} == {
        ("frame", 400, False),
        ("frame", 400, True),
        ("clip", 200, False),
        ("clip", 200, True),
    }
    assert all(s.lr_schedule == "cosine" for s in series2)
    series3 = [s for s in paper.specs if s.series == 3]
    assert {(s.label_noise, s.label_smoothing) for s in series3} == {
        (0.0, 0.0),
        (0.2, 0.4),
    }
    assert all(s.n_views == 50 and s.weight_decay == 0.01 for s in series3)


@pytest.mark.parametrize("name", ["smoke", "quick"])
def test_small_scales_cover_every_series(name):
    scale = get_scale(name)
    assert {s.series for s in scale.specs} == {1, 2, 3}
    runs = scale.runs(series=(1,), seeds=(5, 6))
    assert {r.seed for r in runs} == {5, 6}
    assert all(r.series == 1 for r in runs)
    costs = [r.cost for r in runs]
    assert costs == sorted(costs, reverse=True)  # expensive runs first


def test_quick_scale_runs_the_headline_on_the_papers_seeds():
    quick = get_scale("quick")
    assert quick.seeds_of(1) == PAPER_SEEDS
    assert quick.seeds_of(2) == quick.seeds == (42, 0, 17)
    runs = quick.runs()
    assert {r.seed for r in runs if r.series == 1} == set(PAPER_SEEDS)
    assert {r.seed for r in runs if r.series == 3} == {42, 0, 17}
    assert {r.seed for r in quick.runs(seeds=(1, 2))} == {1, 2}
    # the paper's crops and views in the video series
    video = [r for r in runs if r.series in (1, 2)]
    assert all(r.crop_scale == (0.1, 0.2) and r.n_views == 10 for r in video)


def test_get_scale_rejects_unknown_names():
    with pytest.raises(ValueError, match="scale must be one of .*got 'huge'"):
        get_scale("huge")


# ---------------------------------------------------------------- protocol


def test_split_test_is_stratified_and_seeded():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    train, test = split_test(y, random_state=3)
    assert len(test) == 20 and len(train) == 80
    assert np.intersect1d(train, test).size == 0
    assert np.bincount(y[test]).tolist() == [10, 6, 4]
    again = split_test(y, random_state=3)
    np.testing.assert_array_equal(again[1], test)
    assert not np.array_equal(split_test(y, random_state=4)[1], test)


def test_make_net_builds_the_protocol():
    net = make_net(
        model="cnn9",
        n_classes=2,
        model_params={"width": 0.125},
        epochs=3,
        batch_size=8,
        seed=0,
        lr_schedule="cosine",
        label_smoothing=0.4,
        weight_decay=0.01,
    )
    assert type(net) is NeuralNetClassifier
    assert net.lr == 1e-3 and net.optimizer is torch.optim.Adam
    assert net.optimizer__weight_decay == 0.01
    assert net.criterion__label_smoothing == 0.4
    assert net.train_split.cv == pytest.approx(0.25)  # 0.2 of the data
    names = [name for name, _ in net.callbacks]
    assert names == ["best_valid_loss", "lr_scheduler"]
    cl = make_net(
        model="cnn9",
        n_classes=2,
        epochs=3,
        batch_size=8,
        seed=0,
        curriculum={"initial_competence": 0.05},
    )
    assert isinstance(cl, CurriculumNeuralNetClassifier)
    assert cl.initial_competence == 0.05 and cl.min_curriculum_samples == 8
    with pytest.raises(ValueError, match="epochs must be an int >= 1, got 0"):
        make_net(model="cnn9", n_classes=2, epochs=0, batch_size=8, seed=0)


class _Snapshots(Callback):
    def initialize(self):
        self.states = []
        return self

    def on_epoch_end(self, net, **kwargs):
        self.states.append({k: v.clone() for k, v in net.module_.state_dict().items()})


def test_restore_best_valid_loss_keeps_the_best_epoch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    y = (X[:, 0] + 0.5 * rng.normal(size=60) > 0).astype(np.int64)
    snapshots = _Snapshots()
    net = NeuralNetClassifier(
        torch.nn.Linear,
        module__in_features=4,
        module__out_features=2,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.SGD,
        lr=3.0,  # large steps: the validation loss goes up and down
        max_epochs=12,
        callbacks=[("snap", snapshots), ("best", RestoreBestValidLoss())],
        verbose=0,
    ).fit(X, y)
    losses = net.history[:, "valid_loss"]
    best = int(np.argmin(losses))
    assert best < len(losses) - 1, "the test needs a last epoch that is not best"
    assert net.history[-1, "best_epoch"] == best + 1
    for key, value in net.module_.state_dict().items():
        torch.testing.assert_close(value, snapshots.states[best][key])


def test_evaluate_views_matches_the_classifier_aggregations():
    rng = np.random.default_rng(0)
    y = np.repeat(["a", "b"], 30)
    X = rng.normal(size=(60, 1, 10, 10)) + 0.4 * (y == "b")[:, None, None, None]
    clf = MultiViewClassifier(
        LogisticRegression(), output_size=4, n_train_views=3, random_state=0
    ).fit(X, y)
    acc = evaluate_views(clf, X, y, n_views=7)
    for aggregation, name in (("mode", "MVM"), ("weighted", "MVWCo-S")):
        clf.set_params(n_views=7, aggregation=aggregation)
        assert acc[name] == pytest.approx(np.mean(clf.predict(X) == y))
    labels, _ = clf.set_params(n_views=7).predict_views(X)
    assert acc["baseline"] == pytest.approx(np.mean(labels[:, 0] == y))
    with pytest.raises(ValueError, match="n_views must be an int >= 1"):
        evaluate_views(clf, X, y, n_views=0)


# -------------------------------------------------------------------- runs


@pytest.fixture(scope="module")
def digits():
    X, y = load_digit_images()
    keep = np.concatenate([np.flatnonzero(y == c)[:12] for c in range(10)])
    return X[keep], y[keep]


def test_load_digit_images():
    X, y = load_digit_images(size=28)
    assert X.shape == (1797, 3, 28, 28) and X.dtype == np.uint8
    assert X.max() == 255 and X.min() == 0
    np.testing.assert_array_equal(X[:, 0], X[:, 2])
    assert np.bincount(y).min() > 170
    with pytest.raises(ValueError, match="size must be an int >= 8, got 4"):
        load_digit_images(size=4)


def test_load_cifar10_needs_a_local_copy(tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no CIFAR-10"):
        load_cifar10(tmp_path)


def test_run_one_with_label_noise_and_smoothing(digits):
    X, y = digits
    spec = RunSpec(
        series=3,
        dataset="digits",
        model="cnn9",
        input="image",
        output_size=28,
        epochs=2,
        batch_size=16,
        n_views=4,
        crop_scale=(0.5, 1.0),
        model_params=(("width", 0.0625),),
        label_noise=0.2,
        label_smoothing=0.4,
        lr_schedule="xia",
        seed=7,
    )
    rows, history = run_one(spec, X, y, threads=1)
    assert [r["variant"] for r in rows] == ["baseline", "MVM", "MVWCo-S"]
    assert [r["views_used"] for r in rows] == [1, 4, 4]
    assert all(0 <= r["accuracy"] <= 100 for r in rows)
    assert rows[0]["n_test"] == 24 and rows[0]["n_train_pool"] == 96
    assert rows[0]["n_params"] == rows[0]["n_trainable"] > 0
    assert rows[0]["run"] == "s3-digits-cnn9-image-noise0.2-ls0.4-seed7"
    assert all(r["lr_schedule"] == "xia" for r in rows)
    assert len(history) == 2
    assert {"train_loss", "valid_loss", "valid_acc"} <= set(history[0])


def test_run_one_curriculum_needs_difficulty(digits):
    X, y = digits
    spec = get_scale("smoke").specs[0]
    spec = RunSpec(**{**spec.__dict__, "curriculum": True, "seed": 1})
    with pytest.raises(ValueError, match="needs a difficulty"):
        run_one(spec, X, y)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"series": [4]}, ValueError, r"series must be an int in \[1, 3\], got 4"),
        ({"series": "x"}, TypeError, "series must be a sequence"),
        ({"seeds": []}, ValueError, "seeds must be a non-empty sequence"),
        ({"seeds": [1, 1]}, ValueError, "seeds must be distinct"),
        ({"device": "tpu"}, ValueError, "device must be one of"),
        (
            {"n_jobs": 0},
            ValueError,
            r"n_jobs must be None, -1 \(all cores\) or an int >= 1, got 0",
        ),
        (
            {"weights": {"vgg": "x.pt"}},
            ValueError,
            "weights must be one of .*got 'vgg'",
        ),
        ({"weights": {"cnn9": "download"}}, ValueError, "not available for cnn9"),
        ({"weights": {"resnet18": "nowhere.pt"}}, FileNotFoundError, "nowhere.pt"),
        ({"progress": "yes"}, TypeError, "progress must be a bool"),
    ],
)
def test_run_experiments_validates(kwargs, error, match):
    with pytest.raises(error, match=match):
        run_experiments(scale="smoke", **kwargs)


# ------------------------------------------------------------------ tables


def _fake_results():
    rows = []
    for seed, shift in ((42, 0.0), (0, 2.0)):
        for model, base in (("cnn9", 70.0), ("x3d_xs", 72.0)):
            for variant, gain in (("baseline", 0), ("MVM", 8), ("MVWCo-S", 9)):
                rows.append(
                    dict(series=1, dataset="wbc", model=model, input="frame",
                         curriculum=False, label_noise=0.0, label_smoothing=0.0,
                         variant=variant, accuracy=base + gain + shift, seed=seed,
                         epochs=20, input_shape="[3,32,32]", n_params=17_898,
                         n_trainable=17_898, pretrained="none", best_epoch=9)
                )  # fmt: skip
        for cl, acc in ((False, 55.0), (True, 57.0)):
            rows.append(
                dict(series=2, dataset="rbc", model="x3d_xs", input="clip",
                     curriculum=cl, label_noise=0.0, label_smoothing=0.0,
                     variant="baseline", accuracy=acc + shift, seed=seed, epochs=10,
                     input_shape="[9,3,32,32]", n_params=66_704, n_trainable=66_704,
                     pretrained="none", best_epoch=5)
            )  # fmt: skip
        for noise, ls, acc in ((0.0, 0.0, 90.0), (0.2, 0.4, 80.0)):
            for variant, gain in (("baseline", 0), ("MVM", 3), ("MVWCo-S", 4)):
                rows.append(
                    dict(series=3, dataset="digits", model="cnn9", input="image",
                         curriculum=False, label_noise=noise, label_smoothing=ls,
                         variant=variant, accuracy=acc + gain + shift, seed=seed,
                         epochs=12, input_shape="[3,32,32]", n_params=17_970,
                         n_trainable=17_970, pretrained="none", best_epoch=10)
                )  # fmt: skip
    return pd.DataFrame(rows)


def test_summarize_and_gain():
    results = _fake_results()
    summary = summarize(results)
    row = summary[(summary.model == "cnn9") & (summary.variant == "MVM")]
    row = row[row.series == 1].iloc[0]
    assert row["mean"] == pytest.approx(79.0) and row["n_seeds"] == 2
    assert row["std"] == pytest.approx(np.std([78.0, 80.0], ddof=1))
    gain = multiview_gain(results)
    assert gain.loc["cnn9", "MVM"] == pytest.approx(8.0)
    assert gain.loc["x3d_xs", "MVWCo-S"] == pytest.approx(9.0)
    assert gain.loc["cnn9", "n_seeds"] == 2
    assert gain.loc["cnn9", "MVM_wins"] == 2


def test_table1_has_the_papers_rows_and_numbers():
    text = table1_markdown(summarize(_fake_results()))
    assert "*White blood cells (WBC)*" in text and "*Red blood cells (RBC)*" in text
    for paper in PAPER_TABLE1:
        assert f"{paper['baseline'][0]:g} ± {paper['baseline'][1]:g}" in text
    # networks not run at this scale are listed with the paper's numbers
    resnet = next(line for line in text.splitlines() if line.startswith("| ResNet18"))
    assert "not run at this scale / 11.2 M (all)" in resnet
    assert "87.83 ± 2.7" in resnet
    cnn = next(line for line in text.splitlines() if line.startswith("| 9-layer CNN"))
    assert "79.00 ± 1.41" in cnn and "80.00 ± 1.41" in cnn  # MVM, MVWCo-S
    assert "17.9 K (all) / 4.4 M (all)" in cnn and "20 / 800" in cnn
    rbc = [line for line in text.splitlines() if "[9,3,32,32] / [9,3,64,64]" in line]
    assert len(rbc) == 1 and "58.00 ± 1.41" in rbc[0]  # the CL column


def test_table2_has_the_papers_rows_and_numbers():
    text = table2_markdown(summarize(_fake_results()), dataset="digits")
    for paper in PAPER_TABLE2:
        assert f"| {paper['label']} |" in text
    line = next(s for s in text.splitlines() if s.startswith("| 9-layer CNN + MVM"))
    assert "94.00 ± 1.41" in line and "84.00 ± 1.41" in line
    assert "92.28 ± 0.65" in line and "87.55 ± 0.22" in line
    assert "| 0 / 0.4 |" in line


def test_validation_curves_figure():
    from types import SimpleNamespace

    rows = [{"epoch": e, "valid_loss": 1.0 / e, "valid_acc": 0.5} for e in (1, 2, 3)]
    exp = SimpleNamespace(
        histories={
            "s1-wbc-x3d_xs-clip-seed1": rows,
            "s1-wbc-cnn9-frame-seed1": rows,
            "s1-wbc-cnn9-frame-seed2": rows,
            "s2-rbc-x3d_xs-frame-cl-seed1": rows,
        }
    )
    fig = plot_validation_curves(exp)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["EffNet X3D (clip)", "9-layer CNN (frame)"]
    assert len(fig.axes[1].lines) == 2  # two seeds of the CNN (loss axis)
    with pytest.raises(ValueError, match="no histories of series 3"):
        plot_validation_curves(exp, series=3)


@pytest.mark.cuda
def test_run_experiments_on_cuda(tmp_path):
    res = run_experiments(
        series=[1], scale="smoke", device="cuda", data_home=tmp_path, progress=False
    )
    assert set(res.results["device"]) == {"cuda"}


# ------------------------------------------------- limits and conditions


def test_run_one_breaks_synthetic_rows_down_by_condition_and_limit(tmp_path):
    from skcells.datasets import GenerationParams
    from skcells.datasets._params import CONDITIONS
    from skcells.experiments import information_limit, load_video_inputs

    inputs, videos = load_video_inputs(
        "wbc", n_videos=40, n_frames=3, size=32, data_home=tmp_path, verbose=False
    )
    params = GenerationParams.of(videos)
    spec = RunSpec(
        series=2, dataset="wbc", model="x3d_xs", input="clip", clip_length=2,
        output_size=16, epochs=1, batch_size=8, n_views=5, seed=3,
        model_params=get_scale("smoke").runs(series=(2,))[0].model_params,
    )  # fmt: skip
    X, y, difficulty = inputs["clip"]
    rows, _ = run_one(spec, X, y, videos=params, threads=1)
    # the limits are those of the views the model was evaluated with
    _, test = split_test(y, random_state=3)
    clf_views = MultiViewClassifier(
        LogisticRegression(), n_views=5, crop_scale=spec.crop_scale,
        output_size=16, clip_length=2, random_state=3,
    ).fit(np.asarray(X[test]), y[test])  # fmt: skip
    limit = information_limit(params, clf_views.sample_windows(X[test]), test)
    assert rows[0]["limit"] == pytest.approx(100 * limit.single)
    assert rows[1]["limit"] == rows[2]["limit"] == pytest.approx(100 * limit.multi)
    condition = videos.condition[test]
    for row in rows:
        present = [c for c in CONDITIONS if (condition == c).any()]
        # the pooled accuracy is the mean of the conditions' weighted by size
        weights = [np.mean(condition == c) for c in present]
        pooled = sum(w * row[f"accuracy_{c}"] for w, c in zip(weights, present))
        assert row["accuracy"] == pytest.approx(pooled)
        pooled = sum(w * row[f"limit_{c}"] for w, c in zip(weights, present))
        assert row["limit"] == pytest.approx(pooled)


def test_image_rows_have_no_limit(digits):
    X, y = digits
    spec = get_scale("smoke").runs(series=(3,))[0]
    rows, _ = run_one(spec, X, y, threads=1)
    assert np.isnan(rows[0]["limit"]) and np.isnan(rows[0]["accuracy_clear"])


def test_the_quick_and_paper_scales_move_cells_as_eq1():
    for name in ("quick", "paper"):
        assert get_scale(name).generation == {"motion": "eq1"}
    assert get_scale("smoke").generation == {}


def test_rows_of_every_kind_have_one_column_order(digits, tmp_path):
    from skcells.datasets import GenerationParams
    from skcells.experiments import load_video_inputs

    X, y = digits
    image_rows, _ = run_one(get_scale("smoke").runs(series=(3,))[0], X, y, threads=1)
    inputs, videos = load_video_inputs(
        "wbc", n_videos=24, n_frames=2, size=32, data_home=tmp_path, verbose=False
    )
    spec = get_scale("smoke").runs(series=(1,))[0]
    video_rows, _ = run_one(
        spec, *inputs["frame"][:2], videos=GenerationParams.of(videos), threads=1
    )
    assert list(image_rows[0]) == list(video_rows[0])

"""The appearance study: generation presets and the chain of public calls.

``examples/plot_appearance_study.py`` trains a network at each value of a
generation parameter and sets its single-view and MVM accuracies beside the
ideal reader of the same views.  The docs build runs the example; here the
same chain of public calls runs on a tiny set, and the named presets are
checked against :class:`~skcells.datasets.GenerationParams`.
"""

import dataclasses

import numpy as np
import pytest

from skcells.datasets import (
    GENERATION_PRESETS,
    GenerationParams,
    fetch_synthetic_blood_videos,
)
from skcells.experiments import evaluate_views, information_limit, make_net, split_test
from skcells.multiview import MultiViewClassifier

DEFAULTS = GenerationParams()


@pytest.mark.parametrize("name", sorted(GENERATION_PRESETS))
def test_presets_are_valid_generation_params_that_change_defaults(name):
    preset = GENERATION_PRESETS[name]
    fields = {field.name for field in dataclasses.fields(GenerationParams)}
    assert preset and set(preset) <= fields
    params = GenerationParams(**preset)
    for key, value in preset.items():
        assert getattr(params, key) == value  # already canonical
        assert value != getattr(DEFAULTS, key), f"{name}: {key} is the default"


def test_presets_are_read_only():
    with pytest.raises(TypeError):
        GENERATION_PRESETS["mine"] = {"wbc_std": 1.0}
    with pytest.raises(TypeError):
        GENERATION_PRESETS["paper_regime"]["wbc_std"] = 1.0


def test_paper_regime_preset_narrows_the_wbc_spread_only():
    assert dict(GENERATION_PRESETS["paper_regime"]) == {"wbc_std": 60.0}


def test_fetch_with_the_paper_regime_preset(data_home):
    videos = fetch_synthetic_blood_videos(
        **GENERATION_PRESETS["paper_regime"], n_videos=300, n_frames=1, size=16
    )
    assert videos.params["wbc_std"] == 60.0
    assert GenerationParams.of(videos).wbc_std == 60.0
    default = fetch_synthetic_blood_videos(n_videos=300, n_frames=1, size=16)
    assert videos.wbc_count.std() < default.wbc_count.std()
    # the mean, hence the label's boundary, is the default one
    high = videos.wbc_count > DEFAULTS.wbc_mean
    np.testing.assert_array_equal(videos.target, high.astype(videos.target.dtype))


def test_the_study_chain_scores_the_network_and_the_ideal_reader(data_home):
    # the calls of the example's run_setting, on a tiny set and one epoch
    videos = fetch_synthetic_blood_videos(
        n_videos=40, n_frames=1, size=32, target="wbc", wbc_std=50.0
    )
    X, y = videos.data[:, 0], videos.target
    train, test = split_test(y, random_state=0, test_size=0.3)
    assert test.size == 12
    net = make_net(
        model="cnn9",
        n_classes=2,
        model_params={"width": 0.0625},
        epochs=1,
        batch_size=8,
        seed=0,
        channels_last=True,
    )
    clf = MultiViewClassifier(
        net, n_views=1, crop_scale=(0.1, 0.2), output_size=28, random_state=0
    )
    clf.fit(X[train], y[train])
    accuracy = evaluate_views(clf, X[test], y[test], n_views=10)
    assert set(accuracy) == {"baseline", "MVM", "MVWCo-S"}
    windows = clf.sample_windows(X[test])  # the ten views evaluate_views scored
    assert windows.boxes.shape == (test.size, 10, 4)
    limit = information_limit(videos, windows, test)
    assert limit.n_views == 10
    assert limit.correct_single.shape == limit.correct_multi.shape == (test.size,)
    assert 0 <= limit.single <= 1 and 0 <= limit.multi <= 1
    # the reader's labels are those of the test videos
    np.testing.assert_array_equal(limit.reader.target, y[test])

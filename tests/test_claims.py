"""The claims checklist, the per-condition breakdown and the information limits.

All on hand-made results tables: the verdicts flip where a number crosses
its threshold, missing series read "not run at this scale", and tables from
before the per-condition columns still lay out.
"""

from types import SimpleNamespace

import matplotlib
import numpy as np
import pandas as pd
import pytest

from skcells.datasets import CONDITIONS
from skcells.experiments import (
    CURRICULUM_MAX_EFFECT,
    MULTIVIEW_GAIN_MIN,
    NOISY_MULTIVIEW_GAIN_MIN,
    RBC_MIN_ACCURACY,
    VERDICTS,
    VIDEO_GAIN_MIN,
    claims_checklist,
    claims_markdown,
    condition_breakdown,
    get_scale,
    headline_markdown,
    plot_condition_breakdown,
    results_markdown,
    summarize,
    table1_markdown,
)

matplotlib.use("Agg")

SEEDS = (42, 0)
# per-seed offsets whose mean is 0: the means over seeds are the given values
SPREAD = (-0.5, 0.5)


def _rows(series, dataset, model, kind, accuracies, *, curriculum=False,
          label_noise=0.0, schedule="constant", limits=(None, None),
          per_condition=None):  # fmt: skip
    """Rows of one configuration: ``accuracies`` = (baseline, MVM, MVWCo-S)."""
    n_views = 20 if series == 3 else 10
    rows = []
    for seed, shift in zip(SEEDS, SPREAD):
        for i, variant in enumerate(("baseline", "MVM", "MVWCo-S")):
            limit = limits[0] if i == 0 else limits[1]
            row = dict(
                series=series, dataset=dataset, model=model, input=kind,
                input_shape="[3,32,32]", curriculum=curriculum,
                label_noise=label_noise,
                label_smoothing=0.4 if label_noise else 0.0,
                lr_schedule=schedule, pretrained="none", seed=seed, epochs=10,
                best_epoch=5, n_views=n_views, crop_scale="0.1-0.2",
                n_params=1000, n_trainable=1000, device="cpu", variant=variant,
                views_used=1 if i == 0 else n_views,
                accuracy=accuracies[i] + shift,
                limit=np.nan if limit is None else limit + shift,
            )  # fmt: skip
            for k, condition in enumerate(CONDITIONS):
                if per_condition is None:
                    row[f"accuracy_{condition}"] = np.nan
                    row[f"limit_{condition}"] = np.nan
                else:
                    row[f"accuracy_{condition}"] = per_condition[i] - k + shift
                    row[f"limit_{condition}"] = (
                        np.nan if limit is None else limit - k + shift
                    )
            rows.append(row)
    return rows


def _results(*, wbc=None, rbc=None, noisy=(80.0, 83.0), clean=(90.0, 92.0),
             schedule="xia", series=(1, 2, 3)):  # fmt: skip
    """A results table on which every claim holds, unless told otherwise.

    ``wbc``: model -> (baseline, MVM); ``rbc``: (input, curriculum) ->
    baseline accuracy; ``noisy`` / ``clean``: (baseline, MVM) of series 3.
    """
    wbc = {"cnn9": (80.0, 84.0), "x3d_xs": (82.0, 85.0)} if wbc is None else wbc
    if rbc is None:
        rbc = {
            ("frame", False): 61.0,
            ("frame", True): 60.5,
            ("clip", False): 63.0,
            ("clip", True): 64.0,
        }
    rows = []
    if 1 in series:
        for model, (base, mvm) in wbc.items():
            kind = "clip" if model == "x3d_xs" else "frame"
            rows += _rows(
                1, "wbc", model, kind, (base, mvm, mvm + 0.5),
                limits=(base + 3.0, base + 10.0),
                per_condition=(base + 2.0, mvm + 2.0, mvm + 2.5),
            )  # fmt: skip
    if 2 in series:
        for (kind, cl), base in rbc.items():
            rows += _rows(
                2, "rbc", "x3d_xs", kind, (base, base + 1.0, base + 1.0),
                curriculum=cl, schedule="cosine", limits=(70.0, 75.0),
                per_condition=(base + 1.0, base + 2.0, base + 2.0),
            )  # fmt: skip
    if 3 in series:
        for noise, (base, mvm) in ((0.0, clean), (0.2, noisy)):
            rows += _rows(
                3, "digits", "cnn9", "image", (base, mvm, mvm + 0.1),
                label_noise=noise, schedule=schedule,
            )  # fmt: skip
    return pd.DataFrame(rows)


def _verdict(results, key):
    checklist = claims_checklist(results).set_index("key")
    return checklist.loc[key, "verdict"], checklist.loc[key, "value"]


def _old(results):
    """The table as ``results.csv`` files from before the limits were recorded."""
    new = [c for c in results if c.startswith(("accuracy_", "limit"))]
    return results.drop(columns=new)


# ----------------------------------------------------------------- claims


def test_thresholds_are_the_documented_ones():
    assert RBC_MIN_ACCURACY == 60.0
    assert VIDEO_GAIN_MIN == 0.0
    assert MULTIVIEW_GAIN_MIN == NOISY_MULTIVIEW_GAIN_MIN == 1.0
    assert CURRICULUM_MAX_EFFECT == 2.0
    assert VERDICTS == ("reproduced", "not reproduced", "not run at this scale")


def test_every_claim_holds_on_the_default_table():
    checklist = claims_checklist(_results())
    assert list(checklist.columns[:6]) == [
        "key", "claim", "paper", "ours", "threshold", "verdict",
    ]  # fmt: skip
    assert checklist["key"].tolist() == [
        "rbc_learnable", "video_gain", "wbc_multiview", "curriculum",
        "noisy_multiview", "xia_schedule",
    ]  # fmt: skip
    assert set(checklist["verdict"]) == {"reproduced"}
    values = checklist.set_index("key")["value"]
    assert values["rbc_learnable"] == pytest.approx(64.0)  # clip with CL
    assert values["video_gain"] == pytest.approx(2.0)
    assert values["wbc_multiview"] == pytest.approx(3.0)  # the smaller gain
    assert values["curriculum"] == pytest.approx(1.0)
    assert values["noisy_multiview"] == pytest.approx(3.0)
    assert values["xia_schedule"] == 1.0


def test_claims_quote_the_papers_numbers_and_ours():
    checklist = claims_checklist(_results()).set_index("key")
    assert checklist.loc["rbc_learnable", "paper"] == "62.0–65.6 %"
    assert "64.00 % (EffNet X3D, clip, CL)" == checklist.loc["rbc_learnable", "ours"]
    assert "62.6 → clip 64.6 (+2.0)" in checklist.loc["video_gain", "paper"]
    assert "frame 61.00 → clip 63.00 (+2.00)" in checklist.loc["video_gain", "ours"]
    paper = checklist.loc["wbc_multiview", "paper"]
    assert "9-layer CNN 81.57 → 89.39 (+7.82)" in paper
    assert "EffNet X3D 83.56 → 90.26 (+6.70)" in paper
    ours = checklist.loc["wbc_multiview", "ours"]
    assert "9-layer CNN 80.00 → 84.00 (+4.00)" in ours
    assert "ceiling: limit (1 view) 83.00 %, limit (10 views) 90.00 %" in ours
    assert "frame 62.6 → 62.0 (-0.6)" in checklist.loc["curriculum", "paper"]
    assert "clip 63.00 → 64.00 (+1.00)" in checklist.loc["curriculum", "ours"]
    assert "80.67 → 87.55 (+6.88)" in checklist.loc["noisy_multiview", "paper"]
    assert "80.00 → 83.00 (+3.00), digits" == checklist.loc["noisy_multiview", "ours"]
    assert checklist.loc["xia_schedule", "ours"] == '"xia" (12 rows)'
    assert "≥ 60 %" in checklist.loc["rbc_learnable", "threshold"]


@pytest.mark.parametrize(
    "best, verdict",
    [(59.9, "not reproduced"), (60.0, "reproduced"), (60.1, "reproduced")],
)
def test_rbc_learnable_flips_at_sixty_percent(best, verdict):
    rbc = {
        ("frame", False): best - 1.0,
        ("frame", True): best - 1.5,
        ("clip", False): best - 0.5,
        ("clip", True): best,
    }
    assert _verdict(_results(rbc=rbc), "rbc_learnable") == (
        verdict,
        pytest.approx(best),
    )


@pytest.mark.parametrize(
    "diff, verdict", [(-0.1, "not reproduced"), (0.1, "reproduced")]
)
def test_video_gain_flips_at_zero(diff, verdict):
    rbc = {
        ("frame", False): 62.0,
        ("frame", True): 62.0,
        ("clip", False): 62.0 + diff,
        ("clip", True): 62.5,
    }
    got, value = _verdict(_results(rbc=rbc), "video_gain")
    assert got == verdict and value == pytest.approx(diff)


@pytest.mark.parametrize(
    "gain, verdict", [(0.9, "not reproduced"), (1.1, "reproduced")]
)
def test_wbc_multiview_flips_at_one_point_for_any_model(gain, verdict):
    wbc = {"cnn9": (80.0, 80.0 + gain), "x3d_xs": (82.0, 90.0)}
    got, value = _verdict(_results(wbc=wbc), "wbc_multiview")
    assert got == verdict and value == pytest.approx(gain)


@pytest.mark.parametrize(
    "effect, verdict",
    [(1.9, "reproduced"), (-1.9, "reproduced"), (2.1, "not reproduced"),
     (-2.1, "not reproduced")],
)  # fmt: skip
def test_curriculum_flips_at_two_points_either_way(effect, verdict):
    rbc = {
        ("frame", False): 61.0,
        ("frame", True): 61.0 + effect,
        ("clip", False): 63.0,
        ("clip", True): 63.5,
    }
    got, value = _verdict(_results(rbc=rbc), "curriculum")
    assert got == verdict and value == pytest.approx(abs(effect))


def test_curriculum_needs_both_inputs_unless_one_breaks_it():
    within = {("clip", False): 63.0, ("clip", True): 64.0, ("frame", False): 61.0}
    got, _ = _verdict(_results(rbc=within), "curriculum")
    assert got == "not run at this scale"
    ours = claims_checklist(_results(rbc=within)).set_index("key")
    assert "frame not run" in ours.loc["curriculum", "ours"]
    beyond = {("clip", False): 63.0, ("clip", True): 66.0}
    assert _verdict(_results(rbc=beyond), "curriculum")[0] == "not reproduced"


@pytest.mark.parametrize(
    "gain, verdict", [(0.9, "not reproduced"), (1.1, "reproduced")]
)
def test_noisy_multiview_flips_at_one_point(gain, verdict):
    got, value = _verdict(_results(noisy=(80.0, 80.0 + gain)), "noisy_multiview")
    assert got == verdict and value == pytest.approx(gain)
    # the clean-label runs do not count
    clean = _results(noisy=(80.0, 80.0 + gain), clean=(90.0, 80.0))
    assert _verdict(clean, "noisy_multiview")[0] == verdict


def test_xia_schedule_claim():
    assert _verdict(_results(schedule="cosine"), "xia_schedule") == (
        "not reproduced",
        0.0,
    )
    old = _results().drop(columns="lr_schedule")
    assert _verdict(old, "xia_schedule")[0] == "not run at this scale"


def test_missing_series_are_not_run_at_this_scale():
    only_wbc = claims_checklist(_results(series=(1,))).set_index("key")["verdict"]
    assert only_wbc["wbc_multiview"] == "reproduced"
    assert set(only_wbc.drop("wbc_multiview")) == {"not run at this scale"}
    only_table2 = claims_checklist(_results(series=(3,))).set_index("key")["verdict"]
    assert only_table2[["noisy_multiview", "xia_schedule"]].tolist() == [
        "reproduced",
        "reproduced",
    ]
    assert set(only_table2.iloc[:4]) == {"not run at this scale"}
    nothing = claims_checklist(_results().iloc[:0])
    assert set(nothing["verdict"]) == {"not run at this scale"}
    assert nothing["value"].isna().all()


def test_configurations_whose_seeds_gave_nan_are_not_run():
    results = _results()
    rbc = results["series"] == 2
    results.loc[rbc, "accuracy"] = np.nan
    verdicts = claims_checklist(results).set_index("key")["verdict"]
    for key in ("rbc_learnable", "video_gain", "curriculum"):
        assert verdicts[key] == "not run at this scale"
    assert verdicts["wbc_multiview"] == "reproduced"
    # one NaN seed: the mean of the others counts
    results = _results()
    first = results.index[(results["series"] == 1) & (results["seed"] == 42)]
    results.loc[first, "accuracy"] = np.nan
    assert _verdict(results, "wbc_multiview") == ("reproduced", pytest.approx(3.0))


def test_claims_checklist_rejects_bad_input():
    with pytest.raises(TypeError, match="results must be a pandas DataFrame"):
        claims_checklist([{"series": 1}])
    with pytest.raises(
        ValueError, match=r"results lacks the column\(s\) \['accuracy'\]"
    ):
        claims_checklist(_results().drop(columns="accuracy"))
    with pytest.raises(TypeError, match="results must be a pandas DataFrame"):
        condition_breakdown(None)


def test_claims_markdown():
    text = claims_markdown(_results(wbc={"cnn9": (80.0, 80.5)}, series=(1, 2)))
    lines = text.splitlines()
    assert lines[0] == (
        "Claims: 3 reproduced, 1 not reproduced, 2 not run at this scale."
    )
    assert lines[2] == "| Claim | Paper | Ours | Threshold | Verdict |"
    assert len([line for line in lines if line.startswith("| ")]) == 1 + 6
    curriculum = next(line for line in lines if "not obvious" in line)
    assert "\\|CL − no CL\\| ≤ 2 points" in curriculum  # pipes escaped
    assert curriculum.count(" | ") == 4


# ---------------------------------------------------------- results.md


def _experiment(results):
    return SimpleNamespace(
        results=results,
        scale=get_scale("quick"),
        seeds=SEEDS,
        wall_seconds=1.0,
        datasets={"wbc": "WBC", "rbc": "RBC", "digits": "scikit-learn digits"},
        videos=None,
    )


def test_results_markdown_opens_with_the_checklist():
    md = results_markdown(_experiment(_results()))
    order = [
        "## Claims checklist",
        "## Headline",
        "## Table 1",
        "## Where does multi-view help?",
        "## Table 2",
    ]
    positions = [md.index(title) for title in order]
    assert positions == sorted(positions)
    assert "Claims: 6 reproduced, 0 not reproduced, 0 not run at this scale." in md
    # only series 3: the checklist says what was not run
    md = results_markdown(_experiment(_results(series=(3,))))
    assert md.index("## Claims checklist") < md.index("## Table 2")
    assert "## Where does multi-view help?" not in md
    assert md.count("| not run at this scale |") == 4


def _line(text, start):
    return next(line for line in text.splitlines() if line.startswith(start))


def test_table1_shows_the_limits_and_the_distance_to_them():
    text = table1_markdown(summarize(_results()))
    assert "Limit: 1 view / m views | Limit − ours: baseline / MVM |" in text
    cnn = _line(text, "| 9-layer CNN")
    # baseline 80, MVM 84; limits 83 (1 view) and 90 (10 views)
    assert cnn.endswith("| 83.00 / 90.00 | 3.00 / 6.00 |")
    rbc = [line for line in text.splitlines() if "[3,64,64]" in line]
    assert rbc[0].endswith("| 70.00 / 75.00 | 9.00 / - |")  # RBC frame, 61 %
    assert _line(text, "| ResNet18").endswith("| - | - |")  # not run
    old = table1_markdown(summarize(_old(_results())))
    assert _line(old, "| 9-layer CNN").endswith("| - | - |")


def test_headline_compares_with_the_single_view_limit():
    text = headline_markdown(_results())
    line = _line(text, "- 9-layer CNN, information limit")
    assert "the baseline (80.00 %) sits 3.00 points below the limit of its " in line
    assert "with 10 views the limit is 90.00 % (+7.00)" in line
    assert "10.00 points of room over the baseline, of which MVM took +4.00" in line
    last = text.splitlines()[-1]
    assert last.startswith(
        "- The baselines of 9-layer CNN and EffNet X3D sit within 5 points"
    )
    assert "9-layer CNN +4.00 vs +7.82" in last and "EffNet X3D +3.00 vs +6.70" in last
    # far from the limit: no such conclusion
    results = _results()
    results.loc[results["series"] == 1, "limit"] += 10.0
    assert "within 5 points" not in headline_markdown(results)
    # not measured: the headline keeps its gains only
    old = headline_markdown(_old(_results()))
    assert "information limit" not in old and "9-layer CNN: MVM +4.00" in old


def test_results_markdown_without_the_new_columns():
    md = results_markdown(_experiment(_old(_results())))
    section = md.split("## Where does multi-view help?")[1].split("##")[0]
    assert "Not measured" in section
    assert "limit not measured" in md  # the WBC multi-view claim
    assert "Claims: 6 reproduced" in md  # the accuracies still decide


# ------------------------------------------------------- per condition


def test_condition_breakdown_is_the_mean_over_seeds():
    results = _results()
    breakdown = condition_breakdown(results)
    # WBC: 2 models; RBC: 2 inputs with and without CL; 4 conditions each
    assert len(breakdown) == (2 + 4) * 4
    assert breakdown["condition"].tolist()[:4] == list(CONDITIONS)
    assert set(breakdown["series"]) == {1, 2}  # series 3 has no conditions
    first = breakdown[["series", "model", "input", "curriculum"]].drop_duplicates()
    assert first.values.tolist()[:4] == [
        [1, "x3d_xs", "clip", False],
        [1, "cnn9", "frame", False],
        [2, "x3d_xs", "frame", False],
        [2, "x3d_xs", "frame", True],
    ]
    row = breakdown.query("model == 'cnn9' and condition == 'noisy'").iloc[0]
    # condition k=2: baseline 80+2-2, MVM 84+2-2, MVWCo-S 84.5+2-2; limits - 2
    assert row[["baseline", "MVM", "MVWCo-S"]].tolist() == [80.0, 84.0, 84.5]
    assert row[["limit_1", "limit_m"]].tolist() == [81.0, 88.0]
    assert row["n_seeds"] == 2 and row["n_views"] == 10
    # the means of the per-seed rows, computed directly
    rows = results[(results["model"] == "cnn9") & (results["series"] == 1)]
    for variant in ("baseline", "MVM", "MVWCo-S"):
        expected = rows.loc[rows["variant"] == variant, "accuracy_noisy"].mean()
        assert row[variant] == pytest.approx(expected)
    # a NaN seed (42, shifted by -0.5): the other seed (+0.5) alone
    results.loc[rows.index[0], "accuracy_noisy"] = np.nan
    again = condition_breakdown(results)
    again = again.query("model == 'cnn9' and condition == 'noisy'").iloc[0]
    assert again["baseline"] == pytest.approx(80.5) and again["n_seeds"] == 1


def test_condition_breakdown_without_the_new_columns():
    breakdown = condition_breakdown(_old(_results()))
    assert len(breakdown) == 24
    values = breakdown[["baseline", "MVM", "MVWCo-S", "limit_1", "limit_m"]]
    assert values.isna().all().all() and (breakdown["n_seeds"] == 0).all()
    assert condition_breakdown(_results(series=(3,))).empty


def test_conditions_markdown_section():
    md = results_markdown(_experiment(_results()))
    section = md.split("## Where does multi-view help?")[1].split("\n## ")[0]
    assert (
        "| WBC, 9-layer CNN (frame) | noisy | 80.00 | 84.00 | 84.50 | +4.00 " in section
    )
    assert "| 81.00 | 88.00 (10) | 2 |" in section
    assert "| RBC, EffNet X3D (clip) + CL | clear |" in section
    assert "MVM − baseline is" in section


def test_plot_condition_breakdown():
    results = _results()
    fig = plot_condition_breakdown(results)
    titles = [ax.get_title() for ax in fig.axes]
    # one panel per configuration without curriculum
    assert titles == [
        "WBC, EffNet X3D (clip)",
        "WBC, 9-layer CNN (frame)",
        "RBC, EffNet X3D (frame)",
        "RBC, EffNet X3D (clip)",
    ]
    ax = fig.axes[1]
    heights = [p.get_height() for p in ax.patches]
    assert len(heights) == 3 * 4
    assert heights[:4] == [82.0, 81.0, 80.0, 79.0]  # baseline per condition
    assert len(ax.collections) == 2  # the two limits
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == [
        "baseline",
        "MVM",
        "MVWCo-S",
        "limit (1 view)",
        "limit (10 views)",
    ]
    fig.canvas.draw()
    old = plot_condition_breakdown(_old(results))
    assert all("not measured" in [t.get_text() for t in ax.texts] for ax in old.axes)
    old.canvas.draw()
    with pytest.raises(ValueError, match="no run of series 1 or 2"):
        plot_condition_breakdown(_results(series=(3,)))

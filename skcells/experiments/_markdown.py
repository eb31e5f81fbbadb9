"""Markdown layout of the results beside the paper's Tables 1 and 2."""

import math

import numpy as np

from ._claims import claims_markdown
from ._paper import _MODEL_LABELS, _PAPER_WBC_GAIN, PAPER_TABLE1, PAPER_TABLE2
from ._summary import _numeric, condition_breakdown, multiview_gain, summarize

#: A baseline this close to its single-view information limit (points) has
#: little left to read in one view (the headline says so).
_NEAR_LIMIT = 5.0


def _format_count(n):
    """Parameter count as the paper writes it: ``4.4 M``, ``2 K``, ``303 M``."""
    n = int(n)
    for unit, size in (("M", 1e6), ("K", 1e3)):
        if n >= size:
            value = n / size
            text = f"{value:.0f}" if value >= 100 else f"{value:.1f}"
            return f"{text.removesuffix('.0')} {unit}"
    return str(n)


def _pm(mean, std):
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "-"
    if std is None or (isinstance(std, float) and math.isnan(std)):
        return f"{mean:.2f}"
    return f"{mean:.2f} ± {std:.2f}"


def _mean(row):
    """Mean ± std of a summary row, "-" for none."""
    return "-" if row is None else _pm(row["mean"], row["std"])


def _number(value, fmt=".2f"):
    """``value`` formatted, "-" for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, fmt)


def _limit(row):
    """The mean information limit of a summary row (NaN when not recorded)."""
    if row is None:
        return math.nan
    return float(row.get("limit", math.nan))


def _paper_pm(pair):
    return "-" if pair is None else f"{pair[0]:g} ± {pair[1]:g}"


def _params(n_params, n_trainable):
    trainable = "all" if n_trainable == n_params else _format_count(n_trainable)
    return f"{_format_count(n_params)} ({trainable})"


def _cell(summary, **where):
    rows = summary
    for key, value in where.items():
        rows = rows[rows[key] == value]
    return None if rows.empty else rows.iloc[0]


def _row(cells):
    return "| " + " | ".join(cells) + " |"


def _header(columns, align):
    return [_row(columns), "|" + "|".join(align) + "|"]


def table1_markdown(summary):
    """Table 1 of the paper with our numbers beside the paper's.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of :func:`summarize`.

    Returns
    -------
    text : str
        A Markdown table: WBC rows (baseline, MVM, MVWCo-S) and RBC rows
        (without and with curriculum learning, single view).  Configuration
        cells read "ours / paper"; models not run at this scale say so.
        The last two columns give the information limits of the baseline's
        single view and of the MVM views (mean over seeds of the ``limit``
        column) and the distance of ours to them (limit minus ours, in
        points; baseline / MVM, the baseline alone for RBC); "-" where the
        results do not record a limit.
    """
    columns = [
        "Model",
        "#Param. (train. par.) ours / paper",
        "#Ep. ours / paper",
        "Input ours / paper",
        "Baseline",
        "MVM",
        "MVWCo-S",
        "CL",
        "Paper: baseline",
        "Paper: MV / CL",
        "Limit: 1 view / m views",
        "Limit − ours: baseline / MVM",
    ]
    lines = _header(columns, ["---"] + ["---"] * 3 + ["---:"] * 8)
    blank = [""] * (len(columns) - 1)
    for dataset, title in (
        ("wbc", "White blood cells (WBC)"),
        ("rbc", "Red blood cells (RBC)"),
    ):
        lines.append(_row([f"*{title}*", *blank]))
        for paper in (p for p in PAPER_TABLE1 if p["dataset"] == dataset):
            where = {"dataset": dataset, "model": paper["model"]}
            if "input" in paper:
                where["input"] = paper["input"]
            plain = _cell(summary, **where, curriculum=False, variant="baseline")
            limits = ["-", "-"]
            if plain is None:
                label = paper["label"].replace(" pr.", "")
                ours, scores = ["not run at this scale", "-", "-"], ["-"] * 4
            else:
                label = _MODEL_LABELS[paper["model"]]
                label += "" if plain["pretrained"] == "none" else " pr."
                ours = [
                    _params(plain["n_params"], plain["n_trainable"]),
                    plain["epochs"],
                    plain["input_shape"],
                ]
                scores = [_mean(plain), "-", "-", "-"]
                if dataset == "wbc":
                    scores[1:3] = [
                        _mean(_cell(summary, **where, curriculum=False, variant=v))
                        for v in ("MVM", "MVWCo-S")
                    ]
                else:
                    cl = _cell(summary, **where, curriculum=True, variant="baseline")
                    scores[3] = _mean(cl)
                mvm = _cell(summary, **where, curriculum=False, variant="MVM")
                limits = _limit_cells(plain, mvm, with_mvm=dataset == "wbc")
            config = zip(ours, (paper["params"], paper["epochs"], paper["input_shape"]))
            lines.append(
                _row(
                    [
                        label,
                        *(f"{a} / {b}" for a, b in config),
                        *scores,
                        _paper_pm(paper["baseline"]),
                        f"{_paper_pm(paper['mv'])} / {_paper_pm(paper['cl'])}",
                        *limits,
                    ]
                )
            )
    return "\n".join(lines)


def _limit_cells(plain, mvm, *, with_mvm):
    """Table 1's limit cells: "l1 / lm" and "limit − ours" (baseline / MVM)."""
    l1, lm = _limit(plain), _limit(mvm)
    if math.isnan(l1) and math.isnan(lm):
        return ["-", "-"]
    gaps = [l1 - plain["mean"]]
    gaps.append(lm - mvm["mean"] if with_mvm and mvm is not None else math.nan)
    return [
        f"{_number(l1)} / {_number(lm)}",
        " / ".join(_number(g) for g in gaps),
    ]


def table2_markdown(summary, *, dataset="digits"):
    """Table 2 of the paper with our numbers beside the paper's.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of :func:`summarize`.
    dataset : {"digits", "cifar10"}, default="digits"
        Dataset of our third series (the paper's numbers are for CIFAR-10).

    Returns
    -------
    text : str
        A Markdown table: the 9-layer CNN without and with MVM / MVWCo-S,
        with clean labels (no smoothing) and with 20 % asymmetric noise
        (smoothing 0.4), and the literature rows of the paper.
    """
    columns = [
        "Model",
        "LS ratio",
        "#Param. (train. par.) ours / paper",
        "#Ep. ours / paper",
        "Clean labels",
        "20% asym. noise",
        "Paper: clean labels",
        "Paper: 20% asym. noise",
    ]
    lines = _header(columns, ["---"] * 4 + ["---:"] * 4)
    blank = [""] * (len(columns) - 1)
    group = None
    for paper in PAPER_TABLE2:
        if paper["group"] != group:
            group = paper["group"]
            lines.append(_row([f"*{group}*", *blank]))
        if paper["variant"] is None:  # a number of the literature
            ls, ours = paper["ls"], ["-", "-"]
            config = [f"- / {paper['params']}", f"- / {paper['epochs']}"]
        else:
            base = {"series": 3, "dataset": dataset, "variant": paper["variant"]}
            runs = [_cell(summary, **base, label_noise=n) for n in (0.0, 0.2)]
            ref = runs[0] if runs[0] is not None else runs[1]
            ls, config = "-", ["not run", "-"]
            if ref is not None:
                ls = " / ".join(
                    "-" if r is None else f"{r['label_smoothing']:g}" for r in runs
                )
                config = [
                    f"{_params(ref['n_params'], ref['n_trainable'])} / "
                    f"{paper['params']}",
                    f"{ref['epochs']} / {paper['epochs']}",
                ]
            ours = [_mean(r) for r in runs]
        paper_cells = [_paper_pm(paper["clean"]), _paper_pm(paper["noisy"])]
        lines.append(_row([paper["label"], ls, *config, *ours, *paper_cells]))
    return "\n".join(lines)


def headline_markdown(results):
    """The headline effect: multi-view beats the single view on WBC.

    Parameters
    ----------
    results : pandas.DataFrame
        :attr:`ExperimentResults.results`.

    Returns
    -------
    text : str
        One bullet per model with the mean gain of MVM and MVWCo-S over the
        baseline, the number of seeds and the paper's gain; where the
        results record the information limits, one bullet per model on how
        far the baseline sits from the limit of its single view and how much
        room the multi-view views leave, and a conclusion on the models
        whose baseline sits within 5 points of its single-view limit.  Empty
        when series 1 did not run.
    """
    gain = multiview_gain(results, dataset="wbc")
    lines = []
    for model, row in gain.iterrows():
        std = row["MVM_std"]
        spread = "" if np.isnan(std) else f" (std {std:.2f})"
        n = int(row["n_seeds"])
        lines.append(
            f"- {_MODEL_LABELS[model]}: MVM {row['MVM']:+.2f} points{spread}, "
            f"MVWCo-S {row['MVWCo-S']:+.2f} points over the single-view "
            f"baseline, mean of {n} seed(s); MVM / MVWCo-S beat the baseline in "
            f"{int(row['MVM_wins'])} / {int(row['MVWCo-S_wins'])} of the {n} "
            f"seeds; paper: {_PAPER_WBC_GAIN[model]:+.2f}."
        )
    if len(gain) > 1:
        lines.append(
            f"- All models: MVM {gain['MVM'].mean():+.2f} points, MVWCo-S "
            f"{gain['MVWCo-S'].mean():+.2f} points on average."
        )
    lines += _limit_lines(results)
    return "\n".join(lines)


def _wbc_means(results):
    """Per WBC model (no curriculum): means over seeds of accuracy and limit."""
    import pandas as pd

    rows = results[(results["dataset"] == "wbc") & ~results["curriculum"].astype(bool)]
    frame = pd.DataFrame(
        {
            "model": rows["model"],
            "variant": rows["variant"],
            "accuracy": _numeric(rows, "accuracy"),
            "limit": _numeric(rows, "limit"),
            "views": _numeric(rows, "views_used"),
        }
    )
    return frame.groupby(["model", "variant"], sort=False).mean()


def _limit_lines(results):
    """The headline's bullets on the information limits (none if not measured)."""
    means = _wbc_means(results)
    lines, near = [], []
    for model in dict.fromkeys(means.index.get_level_values("model")):
        if (model, "baseline") not in means.index or (model, "MVM") not in means.index:
            continue
        base, mvm = means.loc[(model, "baseline")], means.loc[(model, "MVM")]
        if math.isnan(base["limit"]) or math.isnan(base["accuracy"]):
            continue
        label = _MODEL_LABELS.get(model, model)
        gap = base["limit"] - base["accuracy"]
        where = "below" if gap >= 0 else "above"
        text = (
            f"- {label}, information limit: the baseline ({base['accuracy']:.2f} "
            f"%) sits {abs(gap):.2f} points {where} the limit of its single "
            f"view ({base['limit']:.2f} %)"
        )
        ours_gain = mvm["accuracy"] - base["accuracy"]
        if gap <= _NEAR_LIMIT:
            near.append((label, ours_gain, _PAPER_WBC_GAIN.get(model, math.nan)))
        if not math.isnan(mvm["limit"]):
            views = "m" if math.isnan(mvm["views"]) else f"{mvm['views']:.0f}"
            room = mvm["limit"] - base["accuracy"]
            text += (
                f"; with {views} views the limit is {mvm['limit']:.2f} % "
                f"({mvm['limit'] - base['limit']:+.2f}), which leaves multi-view "
                f"{room:.2f} points of room over the baseline"
            )
            if not math.isnan(ours_gain):
                text += f", of which MVM took {ours_gain:+.2f}"
        lines.append(text + ".")
    if near:
        names = " and ".join(label for label, _, _ in near)
        subject = "baseline of" if len(near) == 1 else "baselines of"
        verb = "sits" if len(near) == 1 else "sit"
        text = (
            f"- The {subject} {names} {verb} within {_NEAR_LIMIT:g} points of "
            "the single-view limit: one view has little left to read, and "
            "multi-view can add little more than what the extra views add to "
            "the limit"
        )
        smaller = [
            f"{label} {ours:+.2f} vs {paper:+.2f}"
            for label, ours, paper in near
            if ours < paper
        ]
        if smaller:
            text += (
                ", which explains a smaller multi-view gain than the paper's "
                f"({'; '.join(smaller)})"
            )
        lines.append(text + ".")
    return lines


def results_markdown(experiment, *, data_summary=None):
    """The whole ``results.md``: headline, Tables 1 and 2, notes.

    Parameters
    ----------
    experiment : ExperimentResults
        Output of :func:`run_experiments`.
    data_summary : pandas.DataFrame, default=None
        Per-condition summary of the videos
        (:func:`skcells.datasets.summarize_conditions`), added as a section.

    Returns
    -------
    text : str
        The Markdown document.
    """
    results = experiment.results
    scale = experiment.scale
    summary = summarize(results)
    order = list(experiment.seeds) + sorted(set(results["seed"]))
    per_series = {}
    for k in sorted(results["series"].unique().tolist()):
        present = set(results.loc[results["series"] == k, "seed"])
        per_series[k] = [s for s in dict.fromkeys(order) if s in present]
    if len({tuple(v) for v in per_series.values()}) == 1:
        seeds = ", ".join(map(str, next(iter(per_series.values()))))
    else:
        seeds = "; ".join(
            f"series {k}: {', '.join(map(str, v))}" for k, v in per_series.items()
        )
    devices = ", ".join(sorted(results["device"].unique()))
    series = sorted(results["series"].unique().tolist())
    lines = [
        f"# skcells reproduce: scale {scale.name!r}",
        "",
        f"Scale {scale.name!r} ({scale.description}); series "
        f"{', '.join(map(str, series))}; seeds {seeds}; "
        f"device {devices}; {experiment.wall_seconds:.0f} s. Accuracy in % on "
        "the held-out test set, mean ± sample standard deviation over seeds "
        "(the paper: 5 seeds). Our configuration is given first and the "
        "paper's second where they differ.",
        "",
    ]
    lines += [
        "## Claims checklist",
        "",
        "One line per claim of the paper: the paper's numbers, ours (means "
        "over seeds), the threshold the claim is held to and the verdict, all "
        "computed from `results.csv` (see "
        "`skcells.experiments.claims_checklist` for the thresholds and their "
        "reasons).",
        "",
        claims_markdown(results),
        "",
    ]
    if 1 in series:
        lines += [
            "## Headline: multi-view predictions on WBC",
            "",
            headline_markdown(results),
            "",
        ]
    if 1 in series or 2 in series:
        lines += [
            "## Table 1: synthetic blood-cell videos",
            "",
            *(
                f"Data: {text}."
                for k, text in experiment.datasets.items()
                if k in ("wbc", "rbc")
            ),
            "",
            table1_markdown(summary),
            "",
            "Baseline: one random resized crop (10-20 % of the frame area) per "
            f"test video; MVM / MVWCo-S: the same model on {_views(results, 1)} "
            "crops aggregated by mode (Eq. 4) / cumulative confidence (Eq. 5); "
            "CL: the same network trained with competence-based curriculum "
            'learning, one crop. "pr.": pretrained weights were loaded; '
            "without them our networks start from random weights. Every "
            "configuration of the CSV (e.g. multi-view on RBC) is in "
            "`results.csv`. Limit: the accuracy of the ideal reader, which "
            "counts the cells inside the same views and thresholds the count "
            "at the one expected for the view's area, with one view and with "
            "the MVM views aggregated by mode; limit − ours in points.",
            "",
            "## Where does multi-view help?",
            "",
            _conditions_markdown(results),
            "",
        ]
    if 3 in series:
        dataset = "cifar10" if "cifar10" in set(results["dataset"]) else "digits"
        lines += [
            "## Table 2: label noise and label smoothing",
            "",
            f"Data: {experiment.datasets.get(dataset, dataset)}."
            + (
                " The paper's numbers are for CIFAR-10: compare the effects "
                "(multi-view gain, cost of the noise), not the levels."
                if dataset == "digits"
                else ""
            ),
            "",
            table2_markdown(summary, dataset=dataset),
            "",
            "Clean labels are trained without label smoothing, noisy labels "
            "(20 % asymmetric noise on the training and validation part) with "
            "label smoothing 0.4; test labels are clean. MVM / MVWCo-S use "
            f"{_views(results, 3)} views (the paper: 50), crops of "
            f"{_crop(results, 3)} of the image area.",
            "",
        ]
    if data_summary is not None:
        lines += [
            "## Data: synthetic videos per imaging condition",
            "",
            "Label balance and difficulty for the "
            f"{_target(experiment).upper()} target.",
            "",
            _frame_markdown(data_summary),
            "",
        ]
    return "\n".join(lines)


def _conditions_markdown(results):
    """The per-condition section: table and the condition of largest gain."""
    breakdown = condition_breakdown(results)
    values = breakdown[["baseline", "MVM", "MVWCo-S", "limit_1", "limit_m"]]
    if breakdown.empty or values.isna().all().all():
        return (
            "Not measured: these results have no per-condition accuracies "
            "(`accuracy_<condition>` and `limit_<condition>` columns)."
        )
    breakdown = breakdown.assign(gain=breakdown["MVM"] - breakdown["baseline"])
    gains = breakdown.groupby("condition", sort=False)["gain"].mean().dropna()
    lines = [
        "Accuracy in % on the test videos of each imaging condition, mean over "
        "seeds; limit 1 / m: the information limit of the baseline's view and "
        "of the MVM views.",
        "",
    ]
    if len(gains):
        best, worst = gains.idxmax(), gains.idxmin()
        if round(gains[best], 2) == round(gains[worst], 2):
            text = f"is {gains[best]:+.2f} points on every condition measured."
        else:
            text = (
                f"is largest on {best} videos ({gains[best]:+.2f} points) and "
                f"smallest on {worst} videos ({gains[worst]:+.2f} points)."
            )
        lines += [f"Averaged over the configurations, MVM − baseline {text}", ""]
    columns = [
        "Configuration",
        "Condition",
        "Baseline",
        "MVM",
        "MVWCo-S",
        "MVM − baseline",
        "Limit 1 view",
        "Limit m views",
        "Seeds",
    ]
    lines += _header(columns, ["---", "---"] + ["---:"] * 7)
    for row in breakdown.itertuples(index=False):
        views = "m" if math.isnan(row.n_views) else f"{row.n_views:.0f}"
        cells = [
            _configuration(row),
            row.condition,
            *(_number(getattr(row, name)) for name in ("baseline", "MVM")),
            _number(row[breakdown.columns.get_loc("MVWCo-S")]),
            _number(row.gain, "+.2f"),
            _number(row.limit_1),
            f"{_number(row.limit_m)} ({views})",
            str(row.n_seeds),
        ]
        lines.append(_row(cells))
    return "\n".join(lines)


def _configuration(row):
    """A configuration's label: "WBC, 9-layer CNN (frame)", "+ CL" if any."""
    label = f"{str(row.dataset).upper()}, {_MODEL_LABELS.get(row.model, row.model)}"
    label += f" ({row.input})"
    return label + (" + CL" if bool(row.curriculum) else "")


def _target(experiment):
    params = getattr(experiment.videos, "params", None) or {}
    return str(params.get("target", "?"))


def _views(results, series):
    rows = results[(results["series"] == series) & (results["variant"] == "MVM")]
    values = sorted(set(rows["n_views"].tolist()))
    return " / ".join(map(str, values)) if values else "-"


def _crop(results, series):
    values = sorted(set(results.loc[results["series"] == series, "crop_scale"]))
    percents = []
    for value in values:
        low, high = (100 * float(v) for v in value.split("-"))
        percents.append(f"{low:g}-{high:g} %")
    return " / ".join(percents) if percents else "-"


def _frame_markdown(frame):
    columns = ["condition", *map(str, frame.columns)]
    lines = _header(columns, ["---"] + ["---:"] * len(frame.columns))
    for name, row in frame.iterrows():
        cells = [str(name)]
        for value in row:
            if isinstance(value, float) and not float(value).is_integer():
                cells.append(f"{value:.4g}")
            else:
                cells.append(
                    str(int(value)) if isinstance(value, float) else str(value)
                )
        lines.append(_row(cells))
    return "\n".join(lines)

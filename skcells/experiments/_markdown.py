"""Markdown layout of the results beside the paper's Tables 1 and 2."""

import math

import numpy as np

from ._paper import _MODEL_LABELS, _PAPER_WBC_GAIN, PAPER_TABLE1, PAPER_TABLE2
from ._summary import multiview_gain, summarize


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
    ]
    lines = _header(columns, ["---"] + ["---"] * 3 + ["---:"] * 6)
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
            config = zip(ours, (paper["params"], paper["epochs"], paper["input_shape"]))
            lines.append(
                _row(
                    [
                        label,
                        *(f"{a} / {b}" for a, b in config),
                        *scores,
                        _paper_pm(paper["baseline"]),
                        f"{_paper_pm(paper['mv'])} / {_paper_pm(paper['cl'])}",
                    ]
                )
            )
    return "\n".join(lines)


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
        baseline, the number of seeds and the paper's gain; empty when
        series 1 did not run.
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
    return "\n".join(lines)


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
            "`results.csv`.",
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

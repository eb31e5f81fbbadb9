"""``skcells reproduce``: the paper's pipeline, as far as it exists.

Interim version: it runs the data part of the paper (Section 2, Appendix A).
It renders the synthetic set at the chosen scale (cached in the data home),
and writes into ``--out``:

- ``results.csv`` and ``results.md``: per-condition summary of the set
  (number of videos, mean blur radius and noise level, mean counts, label
  balance, mean difficulty and high-frequency energy);
- ``fig1_sample_frames.png``: one frame per condition, like paper Fig. 1 b-d.

The experiments of Tables 1 and 2 are added to this command as they land.
"""

from pathlib import Path

# Dataset shape per scale; "paper" is the paper's full set (5.6 GB on disk).
SCALES = {
    "smoke": dict(n_videos=24, n_frames=4, size=32),
    "quick": dict(n_videos=200, n_frames=16, size=64),
    "paper": dict(n_videos=1150, n_frames=100, size=128),
}


def add_arguments(parser):
    """Add the ``reproduce`` options to ``parser``."""
    parser.add_argument(
        "--scale",
        choices=tuple(SCALES),
        default="quick",
        help="smoke: seconds, for tests; quick: a few seconds on 2 cores "
        "(default); paper: the full 1150 x 100 x 3 x 128 x 128 set",
    )
    parser.add_argument(
        "--out",
        default="skcells-results",
        help="output folder (default: skcells-results)",
    )
    parser.add_argument(
        "--target", choices=("wbc", "rbc"), default="wbc", help="default: wbc"
    )
    parser.add_argument("--random-state", type=int, default=0, help="default: 0")
    parser.add_argument("--data-home", default=None, help="cache folder")
    parser.add_argument(
        "--n-jobs",
        type=int,
        default=None,
        help="rendering processes (default: 1, or all cores at the paper scale)",
    )


def run(args):
    """Render the set, write the summary tables and the figure."""
    from ..datasets import (
        fetch_synthetic_blood_videos,
        plot_sample_frames,
        summarize_conditions,
    )

    shape = SCALES[args.scale]
    n_jobs = args.n_jobs
    if n_jobs is None:
        n_jobs = -1 if args.scale == "paper" else 1
    bunch = fetch_synthetic_blood_videos(
        **shape,
        target=args.target,
        random_state=args.random_state,
        data_home=args.data_home,
        n_jobs=n_jobs,
    )
    summary = summarize_conditions(bunch)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary.to_csv(out / "results.csv")
    title = (
        f"Synthetic blood-cell videos, scale {args.scale!r}: "
        f"{shape['n_videos']} videos x {shape['n_frames']} frames x 3 x "
        f"{shape['size']} x {shape['size']}, target {args.target!r}, "
        f"random_state {args.random_state}"
    )
    (out / "results.md").write_text(markdown_summary(summary, title), "utf-8")
    fig = plot_sample_frames(
        bunch.data, bunch.condition, blur=bunch.blur, noise=bunch.noise
    )
    fig.savefig(out / "fig1_sample_frames.png", dpi=120)
    for name in ("results.csv", "results.md", "fig1_sample_frames.png"):
        print(out / name)
    return 0


def markdown_summary(summary, title):
    """Render a per-condition summary as a Markdown document.

    Parameters
    ----------
    summary : pandas.DataFrame
        The output of :func:`skcells.datasets.summarize_conditions`.
    title : str
        One line describing the dataset.

    Returns
    -------
    text : str
        A heading, the table and a note on what the columns mean.
    """
    columns = ["condition", *summary.columns]
    lines = [
        "# skcells reproduce: data summary",
        "",
        title,
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "|".join(["---"] + ["---:"] * len(summary.columns)) + "|",
    ]
    for name, row in summary.iterrows():
        cells = [str(name)] + [_fmt(row[c]) for c in summary.columns]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "label_balance: fraction of videos with label 1 (count above the mean); "
        "hf_energy: mean squared difference of neighbouring pixels on the "
        "[0, 1] scale (lower when blurred, higher when noisy); difficulty: "
        "paper Eq. 2.",
        "",
        "This interim `skcells reproduce` covers the data part of the paper; "
        "the experiments of Tables 1 and 2 are not run yet.",
        "",
    ]
    return "\n".join(lines)


def _fmt(value):
    """Integers as such, other numbers with four significant digits."""
    if float(value).is_integer() and abs(value) >= 1:
        return str(int(value))
    return f"{value:.4g}"

"""``skcells reproduce``: run the paper's experiments, write tables and figures.

Runs the three series of :func:`skcells.experiments.run_experiments` at a
scale and writes into ``--out``:

- ``results.csv``: one row per run (network, configuration, seed) and
  evaluation (single-view baseline, MVM, MVWCo-S) with the test accuracy,
  timings and parameter counts;
- ``results.md``: the checklist of the paper's claims with a verdict each,
  the headline multi-view gain on WBC, the paper's Tables 1 and 2 with our
  numbers and the information limits beside the paper's, the accuracy per
  imaging condition ("Where does multi-view help?") and a per-condition
  summary of the synthetic videos;
- ``fig1_sample_frames.png`` (paper Fig. 1), ``fig2_competence.png``
  (Fig. 2) and ``fig4_validation_curves.png`` (Fig. 4);
- ``fig_conditions.png``: accuracy per imaging condition (baseline, MVM,
  MVWCo-S) beside the information limits, one panel per configuration of
  series 1 and 2 (with series 1 or 2).
"""

import os
from contextlib import ExitStack
from pathlib import Path

from ..experiments import SCALE_NAMES
from .generate import add_scheduler_argument, dask_client, scheduler_address

_SERIES_HELP = (
    "1: WBC, single view vs multi-view (Table 1 top); 2: RBC, with and "
    "without curriculum learning (Table 1 bottom); 3: label noise and "
    "smoothing (Table 2)"
)
#: Options passed to run_experiments unchanged.
_OPTIONS = ("series", "scale", "seeds", "device", "n_jobs", "data_home", "cifar_root")


def add_arguments(parser):
    """Add the ``reproduce`` options to ``parser``."""
    parser.add_argument(
        "--scale",
        choices=SCALE_NAMES,
        default="quick",
        help="smoke: seconds, for tests; quick: a few minutes on 2 CPU cores "
        "(default); paper: the paper's sizes, epochs and seeds (for a GPU)",
    )
    parser.add_argument(
        "--series",
        type=int,
        nargs="+",
        choices=(1, 2, 3),
        default=[1, 2, 3],
        metavar="N",
        help=f"series to run (default: all). {_SERIES_HELP}",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        metavar="SEED",
        help="seeds to run (default: the scale's; the paper: 42 0 17 9 3)",
    )
    parser.add_argument(
        "--device", choices=("cpu", "cuda"), default="cpu", help="default: cpu"
    )
    parser.add_argument(
        "--out",
        default="skcells-results",
        help="output folder (default: skcells-results)",
    )
    parser.add_argument(
        "--cifar-root",
        default=None,
        metavar="DIR",
        help="folder with torchvision's CIFAR-10 for series 3 (nothing is "
        "downloaded); default: scikit-learn's digits",
    )
    parser.add_argument(
        "--data-home", default=None, help="cache folder of the synthetic videos"
    )
    parser.add_argument(
        "--n-jobs",
        type=int,
        default=None,
        help="parallel training processes (default: one per CPU core; 1 at "
        "the smoke scale and on CUDA; -1: one per core)",
    )
    parser.add_argument(
        "--weights",
        action="append",
        default=[],
        metavar="MODEL=PATH",
        help="pretrained weights of a network (x3d_xs, resnet18, vit_l16, "
        "cnn9): a local checkpoint, or 'download' (needs the internet); "
        "repeatable. Without it the networks start from random weights",
    )
    add_scheduler_argument(
        parser,
        "run one training task per network, setting and seed",
        "start its workers with --nthreads 1 (and --resources GPU=1, one per "
        "GPU, for --device cuda)",
    )


def _parse_weights(items):
    weights = {}
    for item in items:
        model, sep, value = item.partition("=")
        if not sep or not model or not value:
            raise ValueError(
                f"--weights must be MODEL=PATH or MODEL=download, got {item!r}."
            )
        weights[model.strip()] = value.strip()
    return weights


def _check_checkpoints(weights):
    """Read every checkpoint file before any training, so a bad one fails first.

    A file that cannot be read as a state dict (not a checkpoint, keys that
    are not parameter names, pickled objects) is reported before hours of
    training rather than after.  Model names and missing files are checked
    by :func:`~skcells.experiments.run_experiments`.
    """
    from ..models import read_checkpoint

    for model, value in weights.items():
        if value != "download" and os.path.isfile(value):
            try:
                read_checkpoint(value)
            except ValueError as exc:
                raise ValueError(f"--weights {model}={value}: {exc}") from None


def run(args):
    """Run the experiments and write the results into ``args.out``."""
    from ..datasets import summarize_conditions
    from ..experiments import (
        plot_competence,
        plot_condition_breakdown,
        plot_sample_videos,
        plot_validation_curves,
        results_markdown,
        run_experiments,
    )
    from ..utils import atomic_file

    _check_checkpoints(_parse_weights(args.weights))
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {os.fspath(out)!r} exists and is not a folder.")
    address = scheduler_address(args)
    with ExitStack() as stack:
        client = None
        if address is not None:
            client = stack.enter_context(dask_client(address))
        experiment = run_experiments(
            **{name: getattr(args, name) for name in _OPTIONS},
            weights=_parse_weights(args.weights),
            scheduler=client,
        )
    out.mkdir(parents=True, exist_ok=True)
    written = []

    def save(name, write):
        # each file appears whole, with the permissions of any other output
        with atomic_file(out / name) as tmp:
            write(tmp)
        written.append(out / name)

    def save_figure(fig, name):
        save(name, lambda path: fig.savefig(path, dpi=120))

    save("results.csv", lambda path: experiment.results.to_csv(path, index=False))
    data_summary = None
    if experiment.videos is not None:
        data_summary = summarize_conditions(experiment.videos)
    text = results_markdown(experiment, data_summary=data_summary)
    save("results.md", lambda path: path.write_text(text, encoding="utf-8"))
    if experiment.videos is not None:
        save_figure(plot_sample_videos(experiment.videos), "fig1_sample_frames.png")
        save_figure(plot_competence(experiment), "fig2_competence.png")
        save_figure(plot_condition_breakdown(experiment.results), "fig_conditions.png")
    first_series = min(args.series)
    save_figure(
        plot_validation_curves(experiment, series=first_series),
        "fig4_validation_curves.png",
    )
    for path in written:
        print(path)
    return 0

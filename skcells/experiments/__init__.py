"""The paper's experiments: protocol, series, tables and figures.

:func:`run_experiments` runs the three series of the paper (Table 1 top:
WBC and multi-view; Table 1 bottom: RBC and curriculum learning; Table 2:
label noise and smoothing) at a scale (``smoke``, ``quick``, ``paper``) and
returns the results as data; :func:`results_markdown` lays them out like the
paper's tables beside the paper's numbers, and the ``plot_*`` functions draw
the paper's figures.  ``skcells reproduce`` writes all of it to files.  The
scales (:func:`get_scale`), the net builder (:func:`make_net`) and the data
loading (:func:`load_video_inputs`) serve :mod:`skcells.tuning` as well.
"""

from ._data import load_cifar10, load_digit_images, load_video_inputs
from ._figures import plot_competence, plot_sample_videos, plot_validation_curves
from ._limits import information_limit
from ._markdown import (
    headline_markdown,
    results_markdown,
    table1_markdown,
    table2_markdown,
)
from ._paper import PAPER_TABLE1, PAPER_TABLE2
from ._protocol import (
    PAPER_SEEDS,
    SPLIT,
    VARIANTS,
    RestoreBestValidLoss,
    XiaSchedule,
    evaluate_views,
    make_net,
    split_test,
)
from ._scales import SCALE_NAMES, RunSpec, Scale, get_scale
from ._series import ExperimentResults, run_experiments, run_one
from ._summary import multiview_gain, summarize

__all__ = [
    "PAPER_SEEDS",
    "PAPER_TABLE1",
    "PAPER_TABLE2",
    "SCALE_NAMES",
    "SPLIT",
    "VARIANTS",
    "ExperimentResults",
    "RestoreBestValidLoss",
    "RunSpec",
    "Scale",
    "XiaSchedule",
    "evaluate_views",
    "get_scale",
    "headline_markdown",
    "information_limit",
    "load_cifar10",
    "load_digit_images",
    "load_video_inputs",
    "make_net",
    "multiview_gain",
    "plot_competence",
    "plot_sample_videos",
    "plot_validation_curves",
    "results_markdown",
    "run_experiments",
    "run_one",
    "split_test",
    "summarize",
    "table1_markdown",
    "table2_markdown",
]

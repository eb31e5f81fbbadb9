"""The paper's experiments: protocol, series, tables and figures.

:func:`run_experiments` runs the three series of the paper (Table 1 top:
WBC and multi-view; Table 1 bottom: RBC and curriculum learning; Table 2:
label noise and smoothing) at a scale (``smoke``, ``quick``, ``paper``) and
returns the results as data; :func:`results_markdown` lays them out like the
paper's tables beside the paper's numbers, :func:`claims_checklist` holds
each of the paper's claims to a named threshold, :func:`condition_breakdown`
splits the accuracies by imaging condition beside the information limits,
and the ``plot_*`` functions draw the paper's figures and ours.
``skcells reproduce`` writes all of it to files.  The scales
(:func:`get_scale`), the net builder (:func:`make_net`) and the data loading
(:func:`load_video_inputs`) serve :mod:`skcells.tuning` as well.
"""

from ._claims import (
    CURRICULUM_MAX_EFFECT,
    MULTIVIEW_GAIN_MIN,
    NOISY_MULTIVIEW_GAIN_MIN,
    RBC_MIN_ACCURACY,
    VERDICTS,
    VIDEO_GAIN_MIN,
    claims_checklist,
    claims_markdown,
)
from ._data import load_cifar10, load_digit_images, load_video_inputs
from ._figures import (
    plot_competence,
    plot_condition_breakdown,
    plot_sample_videos,
    plot_validation_curves,
)
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
from ._summary import condition_breakdown, multiview_gain, summarize

__all__ = [
    "CURRICULUM_MAX_EFFECT",
    "MULTIVIEW_GAIN_MIN",
    "NOISY_MULTIVIEW_GAIN_MIN",
    "PAPER_SEEDS",
    "PAPER_TABLE1",
    "PAPER_TABLE2",
    "RBC_MIN_ACCURACY",
    "SCALE_NAMES",
    "SPLIT",
    "VARIANTS",
    "VERDICTS",
    "VIDEO_GAIN_MIN",
    "ExperimentResults",
    "RestoreBestValidLoss",
    "RunSpec",
    "Scale",
    "XiaSchedule",
    "claims_checklist",
    "claims_markdown",
    "condition_breakdown",
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
    "plot_condition_breakdown",
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

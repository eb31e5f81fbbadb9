"""Run specifications of the three series at the three scales.

A :class:`RunSpec` is one model trained on one seed: one row group of the
paper's tables.  A :class:`Scale` bundles the data size, the seeds and the
specs of every series, and the size of the model that ``skcells tune``
tunes.  ``smoke`` runs in seconds (tests), ``quick`` in a few minutes on two
CPU cores (the default of ``skcells reproduce``), and ``paper`` follows the
paper's sizes and epochs (meant for a GPU).
"""

import dataclasses
from dataclasses import dataclass, field

from ..utils import check_option
from ._protocol import PAPER_SEEDS

SCALE_NAMES = ("smoke", "quick", "paper")
_SERIES = (1, 2, 3)
#: Crop scale of the third series: the paper does not state it for CIFAR-10,
#: and a 10-20 % crop (Appendix C) of a 32x32 object image rarely shows it.
_IMAGE_CROP_SCALE = (0.5, 1.0)


@dataclass(frozen=True)
class RunSpec:
    """One training run of the protocol (a model, a configuration, a seed).

    Parameters
    ----------
    series : {1, 2, 3}
        1: WBC, multi-view (Table 1 top); 2: RBC, curriculum (Table 1
        bottom); 3: label noise and smoothing (Table 2).
    dataset : {"wbc", "rbc", "digits", "cifar10"}
        Data and target.
    model : {"cnn9", "x3d_xs", "resnet18", "vit_l16"}
        Network (see :func:`skcells.models.make_model`).
    input : {"frame", "clip", "image"}
        One frame per video, ``clip_length``-frame clips, or still images.
    output_size : int
        Side of a view (random resized crop) fed to the network.
    epochs : int
        Training epochs.
    batch_size : int
        Batch size.
    n_views : int
        Views of the multi-view predictions (paper: 10, 50 for Table 2).
    clip_length : int or None, default=None
        Frames per clip view (paper: 9).
    crop_scale : tuple of float, default=(0.1, 0.2)
        Area fraction of the random resized crops.
    model_params : tuple of (str, object) pairs, default=()
        Further network arguments (``width``, ``width_factor``...).
    curriculum : bool, default=False
        Train with competence-based curriculum learning.
    lr_schedule : {"constant", "cosine", "xia"}, default="constant"
        Learning-rate schedule (see :func:`make_net`): constant, cosine
        annealing (second series) or the schedule of Xia et al. (2021),
        :class:`XiaSchedule` (third series).
    weight_decay : float, default=0.0
        Adam weight decay.
    label_noise : float, default=0.0
        Rate of asymmetric label noise on the training pool.
    label_smoothing : float, default=0.0
        Label smoothing of the loss.
    seed : int or None, default=None
        Seed of the run (None in a scale's templates).
    """

    series: int
    dataset: str
    model: str
    input: str
    output_size: int
    epochs: int
    batch_size: int
    n_views: int
    clip_length: int | None = None
    crop_scale: tuple = (0.1, 0.2)  # the paper's (Appendix C)
    model_params: tuple = ()
    curriculum: bool = False
    lr_schedule: str = "constant"
    weight_decay: float = 0.0
    label_noise: float = 0.0
    label_smoothing: float = 0.0
    seed: int | None = None

    @property
    def key(self):
        """A readable identifier of the run."""
        parts = [f"s{self.series}", self.dataset, self.model, self.input]
        if self.curriculum:
            parts.append("cl")
        if self.label_noise or self.label_smoothing:
            parts.append(f"noise{self.label_noise:g}-ls{self.label_smoothing:g}")
        parts.append(f"seed{self.seed}")
        return "-".join(parts)

    @property
    def input_shape(self):
        """Shape of one view: ``[T, C, H, W]`` for clips, ``[C, H, W]`` else."""
        side = [3, self.output_size, self.output_size]
        if self.input == "clip":
            return [self.clip_length, *side]
        return side

    @property
    def cost(self):
        """Rough relative cost, to start the expensive runs first."""
        frames = self.clip_length if self.input == "clip" else 1
        return self.epochs * frames * self.output_size**2

    def with_seed(self, seed):
        """Return this spec with ``seed`` set.

        Parameters
        ----------
        seed : int
            Seed of the run.

        Returns
        -------
        spec : RunSpec
            A copy of this spec with ``seed`` set.
        """
        return dataclasses.replace(self, seed=int(seed))


@dataclass(frozen=True)
class Scale:
    """Sizes, seeds and run specifications of one scale.

    Parameters
    ----------
    name : str
        ``"smoke"``, ``"quick"`` or ``"paper"``.
    seeds : tuple of int
        Seeds of the parallel runs.
    n_videos, n_frames, size : int
        Shape of the synthetic set (paper: 1150 videos of 100 frames of
        128x128).
    series3_samples : int or None
        Images of the third series drawn (stratified) from digits or
        CIFAR-10; None takes them all.
    specs : tuple of RunSpec
        The runs of one seed.
    series_seeds : dict of int to tuple of int
        Seeds of particular series, instead of ``seeds``.
    curriculum : dict
        ``initial_competence``, ``competence_power`` and
        ``curriculum_epochs`` of the curriculum runs.
    description : str
        One line on what the scale is for.
    generation : dict
        Further :class:`~skcells.datasets.GenerationParams` of the
        synthetic set at this scale (e.g. ``motion``); the others are the
        defaults.
    tuning : dict
        The model that ``skcells tune`` tunes at this scale (see
        :func:`skcells.tuning.tuning_recipe`): ``n_videos``, ``size``,
        ``width``, ``max_epochs`` and ``batch_size``, and the command's
        defaults ``n_trials`` and ``n_views`` (the range searched); empty
        when the scale has none.
    """

    name: str
    seeds: tuple
    n_videos: int
    n_frames: int
    size: int
    series3_samples: int | None
    specs: tuple
    series_seeds: dict = field(default_factory=dict)
    curriculum: dict = field(default_factory=dict)
    description: str = ""
    generation: dict = field(default_factory=dict)
    tuning: dict = field(default_factory=dict)

    def seeds_of(self, series):
        """Return the seeds of one series.

        Parameters
        ----------
        series : int
            The series.

        Returns
        -------
        seeds : tuple of int
            ``series_seeds[series]`` when given, else ``seeds``.
        """
        return tuple(self.series_seeds.get(series, self.seeds))

    def runs(self, *, series=_SERIES, seeds=None):
        """Return the run specs of ``series`` for every seed, expensive first.

        Parameters
        ----------
        series : tuple of int, default=(1, 2, 3)
            The series whose runs are returned.
        seeds : tuple of int, default=None
            The seeds of every series; when None, each series' own
            (:meth:`seeds_of`).

        Returns
        -------
        runs : list of RunSpec
            One spec per seed and run of ``series``, by decreasing cost.
        """
        runs = []
        for spec in self.specs:
            if spec.series not in series:
                continue
            chosen = self.seeds_of(spec.series) if seeds is None else tuple(seeds)
            runs += [spec.with_seed(seed) for seed in chosen]
        return sorted(runs, key=lambda r: -r.cost)


def _series_specs(*, wbc, rbc_frame, rbc_clip, digits, n_views_video, n_views_image):
    """Expand the per-series settings into run specs."""
    specs = [
        RunSpec(series=1, dataset="wbc", model=model, n_views=n_views_video, **kwargs)
        for model, kwargs in wbc
    ]
    specs += [
        RunSpec(
            series=2,
            dataset="rbc",
            model="x3d_xs",
            n_views=n_views_video,
            lr_schedule="cosine",
            curriculum=curriculum,
            **kwargs,
        )
        for kwargs in (rbc_frame, rbc_clip)
        for curriculum in (False, True)
    ]
    specs += [
        RunSpec(
            series=3,
            dataset="digits",
            model="cnn9",
            input="image",
            n_views=n_views_image,
            crop_scale=_IMAGE_CROP_SCALE,
            weight_decay=0.01,  # Appendix D
            lr_schedule="xia",  # Table 2: Xia et al. (2021)
            label_noise=noise,
            label_smoothing=smoothing,
            **digits,
        )
        for noise, smoothing in ((0.0, 0.0), (0.2, 0.4))
    ]
    return tuple(specs)


_TINY_X3D = (("width_factor", 0.5), ("depth_factor", 0.5), ("head_dim", 128))
#: Curriculum of the series-2 runs at every scale.
_CURRICULUM = {"initial_competence": 0.05, "competence_power": 2}


#: The model of ``skcells tune`` (see skcells.tuning.tuning_recipe) and the
#: command's defaults: ``n_trials`` and the range of ``n_views`` searched.
_TUNING = {
    "smoke": dict(n_videos=48, size=32, width=0.0625, max_epochs=2, batch_size=16,
                  n_trials=5, n_views=(1, 8)),
    "quick": dict(n_videos=240, size=64, width=0.25, max_epochs=10, batch_size=32,
                  n_trials=30, n_views=(1, 20)),
}  # fmt: skip


def _cnn9(width, **kwargs):
    """Settings of a 9-layer CNN run; ``width=None`` is the paper's network."""
    return {"model_params": () if width is None else (("width", width),), **kwargs}


def _scale(
    name, *, seeds, videos, series3_samples, description, generation=None, **series
):
    """A :class:`Scale`: ``videos`` is ``(n_videos, n_frames, size)``.

    ``series`` holds ``series_seeds`` (optional) and the per-series settings
    of :func:`_series_specs`.
    """
    return Scale(
        name=name,
        seeds=seeds,
        n_videos=videos[0],
        n_frames=videos[1],
        size=videos[2],
        series3_samples=series3_samples,
        series_seeds=series.pop("series_seeds", {}),
        specs=_series_specs(**series),
        curriculum=dict(_CURRICULUM),
        tuning=dict(_TUNING.get(name, {})),
        description=description,
        generation=dict(generation or {}),
    )


def _smoke():
    x3d = {"model_params": _TINY_X3D, "output_size": 16, "epochs": 2, "batch_size": 8}
    cnn9 = {"output_size": 28, "epochs": 2}
    return _scale(
        "smoke",
        seeds=(42,),
        videos=(40, 4, 32),
        series3_samples=120,
        wbc=[("cnn9", _cnn9(0.0625, input="frame", batch_size=8, **cnn9))],
        rbc_frame=dict(input="frame", **x3d),
        rbc_clip=dict(input="clip", clip_length=3, **x3d),
        digits=_cnn9(0.0625, batch_size=16, **cnn9),
        n_views_video=3,
        n_views_image=3,
        description="seconds, for tests: tiny data and networks, every code path",
    )


def _quick():
    x3d = {"model_params": _TINY_X3D, "output_size": 32, "batch_size": 32}
    cnn9 = _cnn9(0.125, input="frame", output_size=32, epochs=20, batch_size=32)
    return _scale(
        "quick",
        seeds=(42, 0, 17),
        # the headline comparison (series 1) on the paper's five seeds
        series_seeds={1: PAPER_SEEDS},
        videos=(1150, 9, 64),
        # Eq. 1 in frame units: consecutive frames show partly new cells, so
        # a clip carries more of the count than a frame (see the dataset
        # description and docs/results.rst)
        generation={"motion": "eq1"},
        series3_samples=1000,
        wbc=[
            ("cnn9", cnn9),
            ("x3d_xs", dict(input="clip", clip_length=9, epochs=10, **x3d)),
        ],
        rbc_frame=dict(input="frame", epochs=60, **x3d),
        rbc_clip=dict(input="clip", clip_length=9, epochs=30, **x3d),
        digits=_cnn9(0.125, output_size=32, epochs=10, batch_size=64),
        n_views_video=10,
        n_views_image=20,
        description="about 7 minutes on 2 CPU cores: narrow networks, 9-frame clips",
    )


def _paper():
    x3d = {"output_size": 64, "batch_size": 32}
    frame = {"input": "frame", "epochs": 400, "batch_size": 32}
    return _scale(
        "paper",
        seeds=PAPER_SEEDS,
        videos=(1150, 100, 128),
        generation={"motion": "eq1"},
        series3_samples=None,
        wbc=[
            ("x3d_xs", dict(input="clip", clip_length=9, epochs=400, **x3d)),
            ("cnn9", _cnn9(None, **{**frame, "epochs": 800}, output_size=32)),
            ("resnet18", dict(output_size=256, **frame)),
            ("vit_l16", dict(output_size=224, **frame)),
        ],
        rbc_frame=dict(input="frame", epochs=400, **x3d),
        rbc_clip=dict(input="clip", clip_length=9, epochs=200, **x3d),
        digits=_cnn9(None, output_size=32, epochs=200, batch_size=128),
        n_views_video=10,
        n_views_image=50,
        description="the paper's sizes, epochs and seeds (meant for a GPU)",
    )


def get_scale(name):
    """The :class:`Scale` called ``name``.

    Parameters
    ----------
    name : {"smoke", "quick", "paper"}
        Scale name.

    Returns
    -------
    scale : Scale
        Its sizes, seeds and run specifications.

    Examples
    --------
    >>> from skcells.experiments import get_scale
    >>> scale = get_scale("paper")
    >>> scale.seeds, scale.n_videos, scale.n_frames, scale.size
    ((42, 0, 17, 9, 3), 1150, 100, 128)
    >>> sorted({spec.model for spec in scale.specs if spec.series == 1})
    ['cnn9', 'resnet18', 'vit_l16', 'x3d_xs']
    >>> get_scale("smoke").tuning["n_videos"]
    48
    """
    builders = {"smoke": _smoke, "quick": _quick, "paper": _paper}
    return builders[check_option(name, "scale", SCALE_NAMES)]()

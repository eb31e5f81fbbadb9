"""The parameters of the synthetic blood-cell videos, declared once.

:class:`GenerationParams` holds the name, default, check and command-line
help of every parameter; :func:`fetch_synthetic_blood_videos`,
:class:`SyntheticBloodVideos`, :func:`render_video` and the ``skcells
generate`` and ``skcells show`` options validate through it, and a test
checks that their signatures, options and docstrings agree with it.
"""

import contextlib
import dataclasses
from functools import partial
from types import MappingProxyType
from typing import Literal

from sklearn.utils._param_validation import InvalidParameterError

from ..utils import check_int, check_option, check_range, check_real, check_vector
from ._degrade import BLUR_REFERENCE, MAX_BLUR, NOISE_LAWS
from ._difficulty import DISTANCE_RULES, check_weights

__all__ = ["GENERATION_PRESETS", "GenerationParams"]

#: Named sets of generation parameters that differ from the defaults (which
#: stay the paper's), to pass as
#: ``fetch_synthetic_blood_videos(**GENERATION_PRESETS[name], ...)``; each
#: entry is a read-only mapping of :class:`GenerationParams` field names to
#: values.
#:
#: ``"paper_regime"``: the spread of the WBC count narrowed from the paper's
#: 95.5 to 60 cells (``wbc_std``), the mean unchanged.  More videos lie close
#: to the high/low boundary, where a random 10-20 % crop holds too few cells
#: to tell high from low, so single views get harder and the vote of ten
#: views corrects more.  On the paper's 1150 videos (single 64-px frames),
#: the protocol's 9-layer CNN at an eighth of its width, trained for 40
#: epochs, reads one crop at 81.1 % and ten at 87.1 % (+6.0 points, mean of
#: ten seeds), near the paper's WBC results (81.57 % and 89.39 % for its
#: 9-layer CNN); with the default spread it reads 87.0 % and 91.8 % (+4.8).
#: See the appearance study of the results page.
GENERATION_PRESETS = MappingProxyType(
    {"paper_regime": MappingProxyType({"wbc_std": 60.0})}
)

#: The imaging conditions of the synthetic videos, in the order of their
#: probabilities (``condition_proba``).
CONDITIONS = ("clear", "blurred", "noisy", "blurred+noisy")
#: Paper Appendix A: proportions of clear / blurred / noisy / blurred+noisy.
PAPER_CONDITION_PROBA = (0.13, 0.304, 0.217, 0.349)
#: The labels: high/low classes of a count, or the count itself.
TARGETS = ("wbc", "rbc", "wbc_count", "rbc_count")
COUNT_TARGETS = ("wbc_count", "rbc_count")
#: The units of ``step``: pixels, or the frame as in the paper's Eq. 1.
MOTIONS = ("pixels", "eq1")
#: Frames of the paper's videos: the ``n`` of Eq. 1 for ``motion="eq1"``.
EQ1_FRAMES = 100
#: The count term of the difficulty; "auto" picks by the kind of target.
DIFFICULTY_RULES = ("auto", *DISTANCE_RULES)

# Upper bounds of the generation parameters.  Beyond them numbers overflow
# float32 or int64 (counts of -9.2e18, NaN frames) or a single video no
# longer fits in memory; they are far above the paper's values.
MAX_VIDEOS = 10_000_000
MAX_FRAMES = 100_000
MAX_SIZE = 4096
#: Means and standard deviations of the cell counts.
MAX_COUNT = 100_000.0
#: Brownian step, in pixels per frame.
MAX_STEP = 100.0
#: Optical densities.
MAX_ABSORBANCE = 50.0
#: One video, ``n_frames * 3 * size**2`` bytes (rendering takes a few times more).
MAX_VIDEO_BYTES = 2**31


@contextlib.contextmanager
def parameter_errors():
    """Raise a bad argument as scikit-learn's ``InvalidParameterError``.

    It is both a ValueError and a TypeError, as scikit-learn raises for its
    own parameters: ``2.5`` where an int is expected is both a wrong type and
    a wrong value, so callers may catch either.
    """
    try:
        yield
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(str(exc)) from None


def _field(default, help, check, *, label=False, **bounds):
    """One parameter: its default, command-line help and check (with bounds).

    ``label=True`` marks the parameters that change the labels and the
    difficulties only, not the pixels (they are not part of the cache key).
    """
    meta = {"help": help, "check": partial(check, **bounds), "label": label}
    return dataclasses.field(default=default, metadata=meta)


def _real_or_none(value, name, **bounds):
    return None if value is None else check_real(value, name, **bounds)


@dataclasses.dataclass(frozen=True)
class GenerationParams:
    """The parameters that define a synthetic blood-cell dataset.

    The one declaration of the names, defaults and checks of the generation
    parameters of :func:`fetch_synthetic_blood_videos`,
    :class:`SyntheticBloodVideos`, :func:`render_video` (the appearance
    subset) and the ``skcells generate`` and ``skcells show`` options.  An
    instance is validated when it is created and holds canonical Python
    values (``int``, ``float``, ``str``, tuples); a bad value raises an
    error, both a ValueError and a TypeError, that names the parameter.
    Pass ``**dataclasses.asdict(params)`` to the functions above.

    Attributes
    ----------
    n_videos : int, default=1150
        Number of videos (``>= 1``).
    n_frames : int, default=100
        Frames per video (``>= 1``).
    size : int, default=128
        Height and width of the frames in pixels (``>= 4``).
    target : {"wbc", "rbc", "wbc_count", "rbc_count"}, default="wbc"
        The label.  ``"wbc"`` and ``"rbc"``: 1 when the video's count of that
        cell type is above the distribution mean, else 0 (classification).
        ``"wbc_count"`` and ``"rbc_count"``: the number of cells of that
        type per field of view, as float64 (regression; the unit is
        explained in the dataset description).
    random_state : int, default=0
        Seed of the whole dataset (non-negative).
    rbc_mean : float, default=5000.0
        Mean number of red blood cells per video (``>= 0``).
    rbc_std : float, default=97.9
        Standard deviation of the RBC count (``>= 0``).  Counts are drawn
        from a normal law, rounded and clipped at 0.
    wbc_mean : float, default=202.0
        Mean number of white blood cells per video (``>= 0``).
    wbc_std : float, default=95.5
        Standard deviation of the WBC count (``>= 0``).
    condition_proba : tuple of 4 float, default=(0.13, 0.304, 0.217, 0.349)
        Probabilities of the conditions ``"clear"``, ``"blurred"``,
        ``"noisy"`` and ``"blurred+noisy"``; non-negative, summing to 1.
    blur_range : tuple of 2 int, default=(1, 10)
        Inclusive range of the box-blur radius ``b`` of the blurred
        conditions (uniform integer); within ``[0, 10]``.  Other videos have
        ``b = 0``.
    blur_reference : int, default=128
        Side in pixels of the frame in which ``b`` is measured (``>= 1``):
        the box is ``2 b + 1`` pixels wide at ``size = blur_reference`` and
        ``(2 b + 1) * size / blur_reference`` pixels wide at other sizes (a
        box with fractional end weights), so that a blur hides the same
        fraction of a cell at every resolution.  The default is the paper's
        128-px frame, whose videos are blurred exactly as with whole-pixel
        radii; ``blur_reference=size`` measures ``b`` in pixels of the frame.
    noise_range : tuple of 2 float, default=(0.05, 0.3)
        Range of the noise level of the noisy conditions (uniform), within
        ``[0, 1]``; the level is the noise standard deviation as a fraction
        of 255.  Other videos have no noise.
    noise_law : {"gaussian", "poisson"}, default="gaussian"
        The noise model (see :func:`skcells.datasets.add_noise`).
    step : float, default=1.0
        Displacement in pixels of each coordinate of each cell per frame
        (``Y_i * step`` with ``Y_i = +-1``, paper Eq. 1).  After ``n`` frames
        a coordinate has moved by ``step * sqrt(n)`` pixels on average (rms).
        ``0`` freezes the cells.  Measured in pixels with
        ``motion="pixels"``, in the units of Eq. 1 with ``motion="eq1"``.
    motion : {"pixels", "eq1"}, default="pixels"
        The unit of ``step``.  ``"pixels"``: ``step`` pixels per frame.
        ``"eq1"``: the paper's Eq. 1 read literally, with the position
        ``W`` in units of the frame side and ``n = 100`` frames (the paper's
        video length): each coordinate moves by ``step * size / sqrt(100)``
        pixels per frame, 12.8 px at 128 px and 6.4 px at 64 px, so that the
        cells seen in consecutive frames are partly new ones (see the
        dataset description for what each choice gives a video model).
    rbc_radius : float, default=0.025
        RBC radius as a fraction of ``size`` (3.2 px at 128 px), in
        ``(0, 0.5]``.  Cell sizes scale with the frame so that small frames
        show the same scene at a lower resolution.
    wbc_radius : float, default=0.035
        WBC radius as a fraction of ``size`` (4.5 px at 128 px), in
        ``(0, 0.5]``.
    nucleus_ratio : float, default=0.5
        WBC nucleus radius as a fraction of the WBC radius, in ``[0, 1]``.
    rbc_absorbance : tuple of 3 float, default=(0.02, 0.09, 0.08)
        Optical density of one RBC at full thickness in the red, green and
        blue channels (``>= 0``).
    wbc_absorbance : tuple of 3 float, default=(0.16, 0.13, 0.03)
        Optical density of the WBC cytoplasm (pale lilac) per channel.
    nucleus_absorbance : tuple of 3 float, default=(0.9, 1.0, 0.35)
        Optical density added by the WBC nucleus (dark purple) per channel.
    background : tuple of 3 float, default=(245.0, 240.0, 235.0)
        Intensity of an empty field per channel, in ``[0, 255]``.
    illumination_jitter : float, default=0.02
        Standard deviation of the log of a random per-video, per-channel gain
        on the illumination (recordings differ in brightness and white
        balance), in ``[0, 1]``.  ``0`` disables it.
    alpha : float, default=0.5
        Weight of the blur term of the difficulty (paper Eq. 2).
    beta : float, default=None
        Weight of the count term of the difficulty; ``1 - alpha`` when None.
    distance_rule : {"auto", "boundary", "literal"}, default="auto"
        Which counts the count term of the difficulty calls hard.
        ``"boundary"``: a count close to the mean (the class boundary);
        ``"literal"``: the paper's literal reading, a count far from the mean
        (a rare count, the hard one for a regressor).  ``"auto"``:
        ``"boundary"`` for the high/low targets, ``"literal"`` for the count
        targets.  See :func:`skcells.datasets.difficulty_score`.

    See Also
    --------
    fetch_synthetic_blood_videos : The videos, cached on disk.
    SyntheticBloodVideos : The videos, rendered on demand.

    Notes
    -----
    Every number is bounded above, far beyond the paper's values, so that
    no count, position or intensity overflows int64 or float32 and a video
    fits in memory: ``n_videos <= 10**7``, ``n_frames <= 10**5``, ``size <=
    4096``, one video of ``n_frames * 3 * size**2 <= 2**31`` bytes, count
    means and standard deviations ``<= 1e5``, ``step <= 100`` pixels and
    optical densities ``<= 50``.  A value beyond its bound raises an error
    that names the parameter.

    Examples
    --------
    >>> import dataclasses
    >>> from skcells.datasets import GenerationParams, SyntheticBloodVideos
    >>> params = GenerationParams(n_videos=4, n_frames=2, size=16, rbc_mean=4000)
    >>> params.rbc_mean, params.noise_range
    (4000.0, (0.05, 0.3))
    >>> len(SyntheticBloodVideos(**dataclasses.asdict(params)))
    4
    """

    n_videos: int = _field(1150, "number of videos", check_int, low=1, high=MAX_VIDEOS)
    n_frames: int = _field(100, "frames per video", check_int, low=1, high=MAX_FRAMES)
    size: int = _field(128, "frame side in pixels", check_int, low=4, high=MAX_SIZE)
    target: Literal[TARGETS] = _field(
        "wbc", "the label", check_option, options=TARGETS, label=True
    )
    random_state: int = _field(0, "seed of the dataset", check_int, low=0)
    rbc_mean: float = _field(
        5000.0, "mean RBC count", check_real, low=0, high=MAX_COUNT
    )
    rbc_std: float = _field(
        97.9, "std of the RBC count", check_real, low=0, high=MAX_COUNT
    )
    wbc_mean: float = _field(202.0, "mean WBC count", check_real, low=0, high=MAX_COUNT)
    wbc_std: float = _field(
        95.5, "std of the WBC count", check_real, low=0, high=MAX_COUNT
    )
    condition_proba: tuple[float, float, float, float] = _field(
        PAPER_CONDITION_PROBA, "probabilities", check_vector, length=4, low=0, total=1
    )
    blur_range: tuple[int, int] = _field(
        (1, 10), "blur radius range", check_range, integer=True, low=0, high=MAX_BLUR
    )
    blur_reference: int = _field(
        BLUR_REFERENCE,
        "frame side in which the blur radius is measured",
        check_int,
        low=1,
        high=MAX_SIZE,
    )
    noise_range: tuple[float, float] = _field(
        (0.05, 0.3), "noise level range", check_range, low=0, high=1
    )
    noise_law: Literal[NOISE_LAWS] = _field(
        "gaussian", "the noise model", check_option, options=NOISE_LAWS
    )
    step: float = _field(
        1.0, "Brownian step (unit: motion)", check_real, low=0, high=MAX_STEP
    )
    motion: Literal[MOTIONS] = _field(
        "pixels", "unit of the step", check_option, options=MOTIONS
    )
    rbc_radius: float = _field(
        0.025, "RBC radius / size", check_real, low=0, low_open=True, high=0.5
    )
    wbc_radius: float = _field(
        0.035, "WBC radius / size", check_real, low=0, low_open=True, high=0.5
    )
    nucleus_ratio: float = _field(
        0.5, "nucleus radius / WBC radius", check_real, low=0, high=1
    )
    rbc_absorbance: tuple[float, float, float] = _field(
        (0.02, 0.09, 0.08),
        "RBC optical density",
        check_vector,
        length=3,
        low=0,
        high=MAX_ABSORBANCE,
    )
    wbc_absorbance: tuple[float, float, float] = _field(
        (0.16, 0.13, 0.03),
        "WBC optical density",
        check_vector,
        length=3,
        low=0,
        high=MAX_ABSORBANCE,
    )
    nucleus_absorbance: tuple[float, float, float] = _field(
        (0.9, 1.0, 0.35),
        "nucleus optical density",
        check_vector,
        length=3,
        low=0,
        high=MAX_ABSORBANCE,
    )
    background: tuple[float, float, float] = _field(
        (245.0, 240.0, 235.0), "RGB intensity", check_vector, length=3, low=0, high=255
    )
    illumination_jitter: float = _field(
        0.02, "std of the log illumination gain", check_real, low=0, high=1
    )
    alpha: float = _field(
        0.5, "blur weight of the difficulty", check_real, low=0, high=1, label=True
    )
    beta: float | None = _field(
        None, "count weight (None: 1 - alpha)", _real_or_none, low=0, high=1, label=True
    )
    distance_rule: Literal[DIFFICULTY_RULES] = _field(
        "auto", "hard counts", check_option, options=DIFFICULTY_RULES, label=True
    )

    def __post_init__(self):
        with parameter_errors():
            for field in dataclasses.fields(self):
                value = field.metadata["check"](getattr(self, field.name), field.name)
                object.__setattr__(self, field.name, value)
            check_weights(self.alpha, self.beta)
            if self.step_pixels > MAX_STEP:
                raise ValueError(
                    f"step={self.step} with motion={self.motion!r} moves the cells "
                    f"by {self.step_pixels:g} pixels per frame at size={self.size}, "
                    f"more than {MAX_STEP:g}; lower step."
                )
            video_bytes = self.n_frames * 3 * self.size**2
            if video_bytes > MAX_VIDEO_BYTES:
                raise ValueError(
                    f"n_frames={self.n_frames} and size={self.size} make videos "
                    f"of {video_bytes / 2**30:.3g} GiB (n_frames * 3 * size**2 "
                    f"bytes), more than the {MAX_VIDEO_BYTES / 2**30:g} GiB that "
                    "a video may take; lower n_frames or size."
                )

    @classmethod
    def of(cls, videos):
        """The parameters of a synthetic set.

        Parameters
        ----------
        videos : sklearn.utils.Bunch, SyntheticBloodVideos or GenerationParams
            What :func:`fetch_synthetic_blood_videos` returns (its
            ``params``), a :class:`SyntheticBloodVideos`, or parameters
            (returned as they are).

        Returns
        -------
        params : GenerationParams
            The parameters that generated ``videos``.

        Examples
        --------
        >>> from skcells.datasets import GenerationParams, SyntheticBloodVideos
        >>> GenerationParams.of(SyntheticBloodVideos(3, n_frames=2, size=16)).size
        16
        """
        if isinstance(videos, cls):
            return videos
        config = getattr(videos, "_config", None)
        if config is not None:
            return config.params
        params = videos.get("params") if isinstance(videos, dict) else None
        if not isinstance(params, dict):
            raise TypeError(
                "videos must be what fetch_synthetic_blood_videos returns, a "
                "SyntheticBloodVideos or a GenerationParams, got "
                f"{type(videos).__name__}."
            )
        from ._synthetic import _GENERATOR_VERSION

        if params.get("version") != _GENERATOR_VERSION:
            raise ValueError(
                "videos were generated by generator version "
                f"{params.get('version')!r}, this one is version "
                f"{_GENERATOR_VERSION}: fetch them again."
            )
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
        fields.pop("version")
        with parameter_errors():
            return cls(**fields)

    @property
    def step_pixels(self):
        """The Brownian step in pixels per frame (from ``step`` and ``motion``)."""
        return _step_pixels(self.step, self.motion, self.size)


def _step_pixels(step, motion, size):
    """Pixels per frame of a step in the unit of ``motion``."""
    return step * size / EQ1_FRAMES**0.5 if motion == "eq1" else step


def params_from(arguments):
    """The :class:`GenerationParams` among a function's ``locals()``."""
    names = (field.name for field in dataclasses.fields(GenerationParams))
    return GenerationParams(**{name: arguments[name] for name in names})

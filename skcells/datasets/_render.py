"""Vectorised rendering of synthetic blood-cell videos (paper Appendix A).

A video is drawn in four array operations, with no Python loop over cells
(frames are processed in blocks of :data:`FRAME_BLOCK`, see below):

1. **Motion.**  Every cell starts at a uniform random position and moves by
   the Wiener process of paper Eq. 1: at each frame each coordinate of each
   cell changes by ``Y * step`` pixels with ``Y = +-1`` drawn at random.  The
   positions of all cells in all frames are one cumulative sum.  The field of
   view is periodic (a cell that leaves on one side comes back on the other),
   so the number of cells in view is exactly the count of the label.
2. **Impulses.**  The sub-pixel positions are splatted bilinearly onto one
   grid per cell type and frame with a single :func:`numpy.bincount`.
3. **Sprites.**  The impulse grids are convolved with the cell sprites by FFT
   (:mod:`scipy.fft`, circular, matching the periodic field).  The sprites are
   absorbance profiles: red blood cells (RBCs) are small biconcave discs (paler
   centre) that absorb mostly green and blue; white blood cells (WBCs) are
   larger, pale lilac discs with a dark purple nucleus, so they absorb strongly
   in the red channel where RBCs hardly do.  Absorbances of overlapping cells
   add up, and the frame is ``background * gain * exp(-absorbance)``
   (Beer-Lambert), so 5000 overlapping RBCs form a dense textured layer whose
   mean darkness grows with their number.
4. **Degradation.**  Box blur of radius ``b`` and then noise are applied by
   :func:`skcells.datasets.degrade`, the same code used for real images.

Frames are processed in blocks of :data:`FRAME_BLOCK` frames to bound memory;
the noise of each block has its own random stream, so any subset of frames
can be rendered on its own and equals the same frames of the whole video.
"""

import dataclasses
import functools
import numbers
from collections import namedtuple

import numpy as np
import scipy.fft

from ..utils import check_int, check_real
from ._degrade import BLUR_REFERENCE, _degrade, check_blur, scaled_blur_radius
from ._params import GenerationParams, _step_pixels, parameter_errors

__all__ = ["cell_positions", "render_video", "splat_cells", "sprite_profiles"]

#: Frames rendered, blurred and noised together; each block has its own
#: noise stream (part of the definition of the data: changing it changes
#: the noise of every video).
FRAME_BLOCK = 10

#: Depth of the central dimple of a red blood cell (0: flat disc).
RBC_DIMPLE = 0.4

#: Sub-samples per pixel and axis used to integrate the sprites.
_SUPERSAMPLE = 8

# The appearance parameters that determine the sprite kernels (hashable, so
# the kernels are computed once per process and configuration).
_Appearance = namedtuple(
    "_Appearance",
    [
        "size",
        "rbc_radius",
        "wbc_radius",
        "nucleus_ratio",
        "rbc_absorbance",
        "wbc_absorbance",
        "nucleus_absorbance",
    ],
)


def render_video(
    rbc_count,
    wbc_count,
    *,
    n_frames=100,
    size=128,
    blur=0,
    noise=0.0,
    blur_reference=BLUR_REFERENCE,
    noise_law="gaussian",
    step=1.0,
    motion="pixels",
    rbc_radius=0.025,
    wbc_radius=0.035,
    nucleus_ratio=0.5,
    rbc_absorbance=(0.02, 0.09, 0.08),
    wbc_absorbance=(0.16, 0.13, 0.03),
    nucleus_absorbance=(0.9, 1.0, 0.35),
    background=(245.0, 240.0, 235.0),
    illumination_jitter=0.02,
    frames=None,
    random_state=None,
):
    """Render one video of moving red and white blood cells.

    The video is a pure function of its arguments: the same ``random_state``
    gives the same bytes.  See the module documentation for the model.

    Parameters
    ----------
    rbc_count : int
        Number of red blood cells in view (``>= 0``).
    wbc_count : int
        Number of white blood cells in view (``>= 0``).
    n_frames : int, default=100
        Frames per video (``>= 1``).
    size : int, default=128
        Height and width of the frames in pixels (``>= 4``).
    blur : int, default=0
        Box-blur radius ``b`` in ``[0, 10]``, in pixels of a frame of
        ``blur_reference`` pixels.
    noise : float, default=0.0
        Noise level in ``[0, 1]``: the standard deviation as a fraction of
        255 (see :func:`skcells.datasets.add_noise`).
    blur_reference : int, default=128
        Side in pixels of the frame in which ``b`` is measured (``>= 1``):
        the box is ``2 b + 1`` pixels wide at ``size = blur_reference`` and
        ``(2 b + 1) * size / blur_reference`` pixels wide at other sizes (a
        box with fractional end weights), so that a blur hides the same
        fraction of a cell at every resolution.  The default is the paper's
        128-px frame, whose videos are blurred exactly as with whole-pixel
        radii; ``blur_reference=size`` measures ``b`` in pixels of the frame.
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
    frames : int, slice or array-like of int, default=None
        Indices of the frames to return, in ``[0, n_frames)``; all frames
        when None, the single frame ``frames`` (of shape ``(3, size, size)``)
        for an int.  Rendering a subset is cheaper and gives exactly the same
        frames as slicing the whole video.
    random_state : int or numpy.random.SeedSequence, default=None
        Seed of the video (cell positions, motion, illumination and noise).
        None draws fresh entropy.

    Returns
    -------
    video : ndarray of shape (n_frames, 3, size, size), dtype uint8
        The frames (``len(frames)`` of them when ``frames`` is given).

    Examples
    --------
    >>> from skcells.datasets import render_video
    >>> video = render_video(5000, 200, n_frames=4, size=32, blur=2, noise=0.1,
    ...                      random_state=0)
    >>> video.shape, video.dtype
    ((4, 3, 32, 32), dtype('uint8'))
    >>> bool((video[0] != video[3]).any())  # the cells move
    True
    """
    with parameter_errors():
        rbc_count = check_int(rbc_count, "rbc_count", low=0)
        wbc_count = check_int(wbc_count, "wbc_count", low=0)
        blur = check_blur(blur, "blur")
        noise = check_real(noise, "noise", low=0, high=1)
        params = GenerationParams(
            n_frames=n_frames,
            size=size,
            blur_reference=blur_reference,
            noise_law=noise_law,
            step=step,
            motion=motion,
            rbc_radius=rbc_radius,
            wbc_radius=wbc_radius,
            nucleus_ratio=nucleus_ratio,
            rbc_absorbance=rbc_absorbance,
            wbc_absorbance=wbc_absorbance,
            nucleus_absorbance=nucleus_absorbance,
            background=background,
            illumination_jitter=illumination_jitter,
        )
        index, single = check_frames(frames, n_frames)
        seed = _as_seed_sequence(random_state)
    video = _render(
        rbc_count,
        wbc_count,
        blur,
        noise,
        params.n_frames,
        index,
        seed,
        dataclasses.asdict(params),
    )
    return video[0] if single else video


def _render(rbc_count, wbc_count, blur, noise, n_frames, frames, seed, params):
    """Render validated inputs; see :func:`render_video`."""
    size = params["size"]
    appearance = _Appearance(
        size,
        params["rbc_radius"],
        params["wbc_radius"],
        params["nucleus_ratio"],
        params["rbc_absorbance"],
        params["wbc_absorbance"],
        params["nucleus_absorbance"],
    )
    kernels = _sprite_kernels(appearance)
    positions, cell_type = _video_positions(
        rbc_count, wbc_count, n_frames, seed, params
    )
    radius = scaled_blur_radius(blur, size, params["blur_reference"])
    light = _illumination(params, _child(seed, 2))
    noise_seed = _child(seed, 3)
    wanted = np.arange(n_frames) if frames is None else frames
    out = np.empty((wanted.size, 3, size, size), dtype=np.uint8)
    # Blocks of frames bound the memory (a few MB per block whatever the
    # video length) and give every block its own noise stream.
    for block in np.unique(wanted // FRAME_BLOCK):
        t0 = int(block) * FRAME_BLOCK
        t1 = min(t0 + FRAME_BLOCK, n_frames)
        clean = _clean_frames(positions[t0:t1], cell_type, kernels, light, size)
        rs = None
        if noise > 0:
            rs = np.random.default_rng(_child(noise_seed, block))
        # degrade() without its checks (valid by construction), in place
        noisy = _degrade(
            clean[None],
            np.array([radius]),
            np.array([noise]),
            params["noise_law"],
            rs,
            overwrite=True,
        )[0]
        in_block = (wanted >= t0) & (wanted < t1)
        out[in_block] = noisy[wanted[in_block] - t0]
    return out


def _clean_frames(positions, cell_type, kernels, light, size):
    """Sharp float32 frames of shape (t, 3, size, size) before degradation."""
    impulses = _splat(positions, cell_type, size)
    spectrum = scipy.fft.rfft2(impulses, workers=1)
    # absorbance spectrum of every frame and channel: sum over the cell types
    mixed = spectrum[0][:, None] * kernels[0] + spectrum[1][:, None] * kernels[1]
    od = scipy.fft.irfft2(mixed, s=(size, size), workers=1)
    frames = np.negative(od, out=od)
    np.exp(frames, out=frames)
    frames *= light[None, :, None, None]
    return frames


def splat_cells(positions, cell_type, size):
    """Bilinear splat of cell positions onto one grid per cell type and frame.

    The second step of :func:`render_video`: each cell's weight of 1 is
    shared among the four pixels around its position.

    Parameters
    ----------
    positions : array-like of shape (t, n_cells, 2)
        Row and column of every cell in every frame (any real value; the
        grid is periodic).
    cell_type : array-like of shape (n_cells,)
        0 for RBCs, 1 for WBCs.
    size : int
        Grid side.

    Returns
    -------
    impulses : ndarray of shape (2, t, size, size), dtype float32
        The cells' weights; each cell contributes a total of exactly 1.

    Examples
    --------
    >>> from skcells.datasets import splat_cells
    >>> grid = splat_cells([[[0.5, 2.0], [7.0, 7.0]]], [0, 1], 8)
    >>> grid.shape, grid[0, 0, :2, 2].tolist(), float(grid[1].sum())
    ((2, 1, 8, 8), [0.5, 0.5], 1.0)
    """
    size = check_int(size, "size", low=1)
    positions, cell_type = np.asarray(positions), np.asarray(cell_type)
    if (
        positions.ndim != 3
        or positions.shape[2] != 2
        or positions.dtype.kind not in "iuf"
        or not np.isfinite(positions).all()
    ):
        raise ValueError(
            "positions must be finite real numbers of shape (t, n_cells, 2), got "
            f"{positions.dtype} of shape {positions.shape}."
        )
    if cell_type.shape != positions.shape[1:2] or not np.isin(cell_type, (0, 1)).all():
        raise ValueError(
            f"cell_type must be 0 (RBC) or 1 (WBC) for each of the "
            f"{positions.shape[1]} cells, got {cell_type!r}."
        )
    return _splat(positions, cell_type.astype(np.intp), size)


def _splat(positions, cell_type, size):
    """:func:`splat_cells` of validated inputs."""
    t = positions.shape[0]
    hw = size * size
    base = np.floor(positions)
    frac = positions - base
    corner = base.astype(np.intp) % size
    y0, x0 = corner[..., 0], corner[..., 1]
    y1, x1 = (y0 + 1) % size, (x0 + 1) % size
    fy, fx = frac[..., 0], frac[..., 1]
    offset = cell_type[None, :] * (t * hw) + (np.arange(t) * hw)[:, None]
    index = np.stack(
        [
            offset + y0 * size + x0,
            offset + y0 * size + x1,
            offset + y1 * size + x0,
            offset + y1 * size + x1,
        ]
    )
    weight = np.stack(
        [(1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx], dtype=np.float64
    )
    grid = np.bincount(index.ravel(), weights=weight.ravel(), minlength=2 * t * hw)
    return grid.astype(np.float32).reshape(2, t, size, size)


def _video_positions(rbc_count, wbc_count, n_frames, seed, params):
    """Positions of all cells of a video, RBCs first, and their type codes.

    ``seed`` is the video's pixel seed and ``params`` its generation
    parameters (a dict); the positions are those :func:`render_video` draws.
    """
    size = params["size"]
    step = _step_pixels(params["step"], params["motion"], size)
    rbc = cell_positions(rbc_count, n_frames, size, step, _child(seed, 0))
    wbc = cell_positions(wbc_count, n_frames, size, step, _child(seed, 1))
    cell_type = np.repeat(np.array([0, 1], dtype=np.intp), [rbc_count, wbc_count])
    return np.concatenate([rbc, wbc], axis=1), cell_type


def cell_positions(n_cells, n_frames, size, step, random_state=None):
    """Brownian trajectories of cells (paper Eq. 1) in a periodic field.

    The first step of :func:`render_video`: every cell starts at a uniform
    random position and each coordinate moves by ``+-step`` every frame.

    Parameters
    ----------
    n_cells : int
        Number of cells (``>= 0``).
    n_frames : int
        Number of frames (``>= 1``).
    size : int
        Side of the periodic field in pixels (``>= 1``).
    step : float
        Pixels moved per frame and coordinate (``>= 0``).
    random_state : int, numpy.random.SeedSequence or None, default=None
        Seed of the start positions and of the ``+-1`` steps.

    Returns
    -------
    positions : ndarray of shape (n_frames, n_cells, 2), dtype float32
        Row and column of each cell in each frame, unwrapped: the field is
        periodic, so a cell is drawn at its position modulo ``size``.

    Examples
    --------
    >>> import numpy as np
    >>> from skcells.datasets import cell_positions
    >>> pos = cell_positions(3, 4, 32, 1.5, random_state=0)
    >>> pos.shape, np.abs(np.diff(pos, axis=0)).max().item()
    ((4, 3, 2), 1.5)
    """
    n_cells = check_int(n_cells, "n_cells", low=0)
    n_frames = check_int(n_frames, "n_frames", low=1)
    size = check_int(size, "size", low=1)
    step = check_real(step, "step", low=0)
    rng = np.random.Generator(np.random.PCG64(_as_seed_sequence(random_state)))
    start = rng.random((n_cells, 2), dtype=np.float32) * np.float32(size)
    n_steps = (n_frames - 1) * n_cells * 2
    bits = np.unpackbits(np.frombuffer(rng.bytes(-(-n_steps // 8)), dtype=np.uint8))
    steps = bits[:n_steps].reshape(n_frames - 1, n_cells, 2).astype(np.int8) * 2 - 1
    walk = np.zeros((n_frames, n_cells, 2), dtype=np.float32)
    np.cumsum(steps, axis=0, dtype=np.float32, out=walk[1:])
    walk *= np.float32(step)
    walk += start
    return walk


def _illumination(params, seed):
    """Per-channel intensity of the empty field, with a random gain."""
    rng = np.random.Generator(np.random.PCG64(seed))
    gain = np.exp(params["illumination_jitter"] * rng.standard_normal(3))
    return (np.asarray(params["background"]) * gain).astype(np.float32)


def sprite_profiles(size, rbc_radius, wbc_radius, nucleus_ratio):
    """Pixel-integrated cell profiles centred on pixel (0, 0) of a periodic grid.

    The shapes of the third step of :func:`render_video`, before they are
    weighted by the absorbances of each RGB channel.

    Parameters
    ----------
    size : int
        Grid side in pixels (``>= 4``).
    rbc_radius, wbc_radius : float
        Radii as fractions of ``size``, in ``(0, 0.5]``.
    nucleus_ratio : float
        Nucleus radius as a fraction of the WBC radius, in ``[0, 1]``.

    Returns
    -------
    profiles : ndarray of shape (3, size, size), dtype float32
        RBC thickness (a biconcave disc with a central dimple of 0.4 times
        its thickness), WBC cytoplasm disc and WBC nucleus disc, each
        averaged over ``8 x 8`` sub-samples per pixel with a one-pixel soft
        edge, and scaled so that its sum is the area (thickness integral) of
        the exact shape.

    Examples
    --------
    >>> from skcells.datasets import sprite_profiles
    >>> rbc, cytoplasm, nucleus = sprite_profiles(64, 0.025, 0.035, 0.5)
    >>> bool(cytoplasm.sum() > rbc.sum() > nucleus.sum() > 0)
    True
    """
    # validated by the one declaration of these parameters
    GenerationParams(
        size=size,
        rbc_radius=rbc_radius,
        wbc_radius=wbc_radius,
        nucleus_ratio=nucleus_ratio,
    )
    sub = (np.arange(_SUPERSAMPLE) + 0.5) / _SUPERSAMPLE - 0.5
    coord = (np.arange(size)[None, :] + sub[:, None] + size / 2) % size - size / 2
    r = np.hypot(coord[:, None, :, None], coord[None, :, None, :])
    r_rbc = rbc_radius * size
    r_wbc = wbc_radius * size
    r_nuc = nucleus_ratio * r_wbc
    rbc = _soft_disc(r, r_rbc) * (1 - RBC_DIMPLE * np.exp(-((r / (0.5 * r_rbc)) ** 2)))
    profiles = np.stack([rbc, _soft_disc(r, r_wbc), _soft_disc(r, r_nuc)])
    profiles = profiles.mean(axis=(1, 2))
    # The soft edge adds about pi/12 px^2 to every disc, which matters for
    # sub-pixel cells: rescale each profile to the integral of its exact,
    # hard-edged shape so that a cell covers the same fraction of the frame
    # at every resolution.
    exact = np.pi * np.array(
        [
            r_rbc**2 - RBC_DIMPLE * (0.5 * r_rbc) ** 2 * (1 - np.exp(-4.0)),
            r_wbc**2,
            r_nuc**2,
        ]
    )
    total = profiles.sum(axis=(1, 2))
    scale = np.divide(exact, total, out=np.zeros(3), where=total > 0)
    return (profiles * scale[:, None, None]).astype(np.float32)


def _soft_disc(r, radius):
    """Indicator of ``r < radius`` with a linear one-pixel edge."""
    return np.clip(radius - r + 0.5, 0.0, 1.0) if radius > 0 else np.zeros_like(r)


@functools.lru_cache(maxsize=8)
def _sprite_kernels(appearance):
    """FFT of the absorbance sprites, shape (2 cell types, 3 channels, H, W//2+1)."""
    rbc, cyto, nucleus = sprite_profiles(
        appearance.size,
        appearance.rbc_radius,
        appearance.wbc_radius,
        appearance.nucleus_ratio,
    )
    a_rbc = np.asarray(appearance.rbc_absorbance, dtype=np.float32)[:, None, None]
    a_wbc = np.asarray(appearance.wbc_absorbance, dtype=np.float32)[:, None, None]
    a_nuc = np.asarray(appearance.nucleus_absorbance, dtype=np.float32)[:, None, None]
    sprites = np.stack([a_rbc * rbc, a_wbc * cyto + a_nuc * nucleus])
    kernels = scipy.fft.rfft2(sprites, workers=1)
    kernels.flags.writeable = False  # shared by every call through the cache
    return kernels


def _child(seed, key):
    """The ``key``-th independent child of a SeedSequence, without mutating it."""
    return np.random.SeedSequence(
        entropy=seed.entropy,
        spawn_key=(*seed.spawn_key, int(key)),
        pool_size=seed.pool_size,
    )


def _as_seed_sequence(random_state):
    """Turn an int, a SeedSequence or None into a SeedSequence."""
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    if random_state is None:
        return np.random.SeedSequence()
    return np.random.SeedSequence(check_int(random_state, "random_state", low=0))


def check_frames(frames, n_frames):
    """The frame indices to render (None: all) and whether one frame was asked.

    ``frames`` is None, an int (negative counts from the end), a slice, or a
    non-empty 1-D sequence of frame indices in ``[0, n_frames)``.
    """
    if frames is None:
        return None, False
    if isinstance(frames, numbers.Integral) and not isinstance(frames, bool):
        if not -n_frames <= frames < n_frames:
            raise ValueError(
                f"frames must be a frame index in [0, {n_frames}), got {frames!r}."
            )
        return np.array([frames % n_frames]), True
    index = np.arange(n_frames)[frames] if isinstance(frames, slice) else frames
    index = np.asarray(index)
    if (
        index.ndim != 1
        or index.size == 0
        or not np.issubdtype(index.dtype, np.integer)
        or index.min() < 0
        or index.max() >= n_frames
    ):
        raise ValueError(
            "frames must be None, an int, a slice or a non-empty sequence of "
            f"frame indices in [0, {n_frames}), got {frames!r}."
        )
    return index.astype(np.intp), False

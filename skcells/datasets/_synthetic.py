"""The paper's synthetic dataset of moving blood cells (Section 2, Appendix A).

Every video is a pure function of ``(random_state, index, parameters)``: its
metadata (cell counts, condition, blur radius, noise level) comes from the
random stream ``SeedSequence(random_state, spawn_key=(index, 0))`` and its
pixels from ``SeedSequence(random_state, spawn_key=(index, 1))``.  The
metadata of all videos is therefore cheap to compute without rendering any
of them, a :class:`SyntheticBloodVideos` dataset renders any item on demand,
and :func:`fetch_synthetic_blood_videos` streams the same videos into an
on-disk cache, byte for byte.

This module does not import torch (the dataset class lives in
``_synthetic_dataset``), so the worker processes that render the cache stay
light.
"""

import dataclasses
import logging
import math
import numbers
import os
import sys
import time
import zipfile

import numpy as np
from sklearn.utils import Bunch

from ..utils import (
    atomic_directory,
    cache_lock,
    cap_n_jobs,
    check_bool,
    check_free_space,
    load_npy,
    open_regular_file,
    params_hash,
    verify_manifest,
    write_manifest,
)
from ._base import get_data_home, load_descr
from ._degrade import MAX_BLUR
from ._difficulty import difficulty_score
from ._params import CONDITIONS, COUNT_TARGETS, parameter_errors, params_from
from ._render import _render

logger = logging.getLogger(__name__)

__all__ = ["fetch_synthetic_blood_videos"]

TARGET_NAMES = ("low", "high")

# Bump when the generator changes in a way that changes the bytes of a video;
# it is part of the cache key, so stale caches are never reused.
_GENERATOR_VERSION = 1
_CACHE_DIR = "synthetic_blood_videos"
_DATA_FILE = "data.npy"
_META_FILE = "metadata.npz"
_META_KEYS = ("rbc_count", "wbc_count", "condition", "blur", "noise")
_CACHE_FILES = frozenset({_DATA_FILE, _META_FILE})
# Aim for tasks of at most this many bytes of video (bounded memory).
_CHUNK_BYTES = 32 * 2**20

# Processes remember the files whose sha256 they have already checked, keyed
# by (size, mtime, inode), so that repeated fetches hash a cache only once.
_VERIFIED = {}
_RACY_SECONDS = 2


class _Config:
    """A dataset's :class:`GenerationParams` and how its items are made.

    Holds only plain Python values, so it pickles cheaply to worker
    processes.
    """

    def __init__(self, params):
        self.params = params
        self.render = dataclasses.asdict(params)

    def all_params(self):
        """Every parameter, tuples as lists, with the generator version."""
        listed = {
            k: list(v) if isinstance(v, tuple) else v for k, v in self.render.items()
        }
        return {"version": _GENERATOR_VERSION, **listed}

    def video_params(self):
        """Every parameter the bytes and the stored metadata depend on."""
        labels = {
            f.name for f in dataclasses.fields(self.params) if f.metadata["label"]
        }
        return {k: v for k, v in self.all_params().items() if k not in labels}

    @property
    def shape(self):
        """Shape of the whole dataset array."""
        p = self.params
        return (p.n_videos, p.n_frames, 3, p.size, p.size)

    def item_metadata(self, indices):
        """Counts, condition code, blur and noise of the given items.

        Each item draws 2 normal and 3 uniform numbers from its own stream;
        everything else is vectorised.
        """
        p = self.params
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        z = np.empty((indices.size, 2))
        u = np.empty((indices.size, 3))
        for k, i in enumerate(indices.tolist()):
            rng = np.random.Generator(np.random.PCG64(self._seed(i, 0)))
            z[k] = rng.standard_normal(2)
            u[k] = rng.random(3)
        rbc = np.maximum(0, np.rint(p.rbc_mean + p.rbc_std * z[:, 0]))
        wbc = np.maximum(0, np.rint(p.wbc_mean + p.wbc_std * z[:, 1]))
        cum = np.cumsum(p.condition_proba)
        condition = np.minimum(np.searchsorted(cum / cum[-1], u[:, 0], "right"), 3)
        lo, hi = p.blur_range
        blurred = (condition == 1) | (condition == 3)
        blur = np.where(
            blurred, np.minimum(lo + np.floor(u[:, 1] * (hi - lo + 1)), hi), 0
        )
        nlo, nhi = p.noise_range
        noisy = condition >= 2
        noise = np.where(noisy, nlo + u[:, 2] * (nhi - nlo), 0.0)
        return {
            "rbc_count": rbc.astype(np.int64),
            "wbc_count": wbc.astype(np.int64),
            "condition": condition.astype(np.int8),
            "blur": blur.astype(np.int64),
            "noise": noise,
        }

    def labels(self, meta):
        """Target, distance to the mean and difficulty from stored metadata.

        A high/low target is 1 above the mean count (int64); a count target
        is the count itself (float64, cells per field of view).  With
        ``distance_rule="auto"`` the count term of the difficulty calls
        counts near the mean hard for high/low targets (the class boundary)
        and counts far from it hard for count targets (the rare ones).
        """
        p = self.params
        cell = p.target.removesuffix("_count")
        count = meta[f"{cell}_count"]
        mean, std = getattr(p, f"{cell}_mean"), getattr(p, f"{cell}_std")
        is_count = p.target in COUNT_TARGETS
        rule = p.distance_rule
        if rule == "auto":
            rule = "literal" if is_count else "boundary"
        distance = np.abs(count - mean)
        difficulty = difficulty_score(
            meta["blur"],
            distance,
            alpha=p.alpha,
            beta=p.beta,
            max_blur=MAX_BLUR,
            distance_scale=max(3.0 * std, 1.0),
            distance_rule=rule,
        )
        if is_count:
            target = count.astype(np.float64)
        else:
            target = (count > mean).astype(np.int64)
        return {
            "target": target,
            "target_names": (p.target,) if is_count else TARGET_NAMES,
            "distance": distance.astype(float),
            "difficulty": difficulty,
        }

    def render_item(self, index, meta, k=0, frames=None):
        """Render item ``index`` whose metadata is row ``k`` of ``meta``."""
        return _render(
            int(meta["rbc_count"][k]),
            int(meta["wbc_count"][k]),
            int(meta["blur"][k]),
            float(meta["noise"][k]),
            self.params.n_frames,
            frames,
            self._seed(index, 1),
            self.render,
        )

    def _seed(self, index, stream):
        return np.random.SeedSequence(
            self.params.random_state, spawn_key=(int(index), stream)
        )


def _metadata_frame(meta, labels):
    """Build the metadata DataFrame from stored metadata and derived labels."""
    import pandas as pd

    return pd.DataFrame(
        {
            "rbc_count": meta["rbc_count"],
            "wbc_count": meta["wbc_count"],
            "condition": pd.Categorical.from_codes(
                meta["condition"].astype(np.int64), categories=list(CONDITIONS)
            ),
            "blur": meta["blur"],
            "noise": meta["noise"],
            "distance": labels["distance"],
            "difficulty": labels["difficulty"],
            "target": labels["target"],
        }
    )


def fetch_synthetic_blood_videos(
    *,
    n_videos=1150,
    n_frames=100,
    size=128,
    target="wbc",
    data_home=None,
    random_state=0,
    return_X_y=False,
    n_jobs=None,
    check_hash=True,
    force=False,
    verbose=None,
    rbc_mean=5000.0,
    rbc_std=97.9,
    wbc_mean=202.0,
    wbc_std=95.5,
    condition_proba=(0.13, 0.304, 0.217, 0.349),
    blur_range=(1, 10),
    blur_reference=128,
    noise_range=(0.05, 0.3),
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
    alpha=0.5,
    beta=None,
    distance_rule="auto",
):
    """Load the synthetic blood-cell videos, rendering them once into a cache.

    The first call renders the videos chunk by chunk (bounded memory, in
    parallel with ``n_jobs``) into
    ``get_data_home(data_home) / "synthetic_blood_videos" / <key>``, where
    the key is a hash of every parameter that changes the pixels; the folder
    is written under a temporary name and renamed when complete, under an
    inter-process lock.  Later calls reuse it after checking it against its
    manifest.  ``target``, ``alpha``, ``beta`` and ``distance_rule`` only
    change the labels and difficulties, which are recomputed from the stored
    counts, so they share one cache.

    Read more in the dataset description (``DESCR``).

    Parameters
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
    data_home : str or path-like, default=None
        Folder of the caches; see :func:`skcells.datasets.get_data_home`.
    random_state : int, default=0
        Seed of the whole dataset (non-negative).
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    n_jobs : int, default=None
        Worker processes rendering chunks of videos (joblib); None means 1,
        -1 all cores.  The bytes do not depend on it.
    check_hash : bool, default=True
        Verify the sha256 of the cached files before reusing them (about
        1 s per GB, 4 s for the paper-size set; a process re-hashes a cache
        it has verified only when a file's size or modification time
        changed).
        With False only the file sizes are checked.  A cache that fails the
        check is rebuilt, never returned.
    force : bool, default=False
        Rebuild the cache even if a valid one exists.
    verbose : bool, default=None
        Show a progress bar while rendering; None shows it when standard
        error is a terminal.
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

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : numpy.memmap of shape (n_videos, n_frames, 3, size, size)
            The videos, uint8, read-only, memory-mapped from the cache.
        target : ndarray of shape (n_videos,)
            For ``target="wbc"`` or ``"rbc"``: 1 when that count is above its
            mean, else 0 (int64).  For ``"wbc_count"`` or ``"rbc_count"``:
            the number of cells of that type per field of view (float64).
        target_names : ndarray of shape (2,) or (1,)
            ``["low", "high"]``, or the name of the count target.
        rbc_count, wbc_count : ndarray of shape (n_videos,)
            Number of red and white blood cells in each video.
        blur : ndarray of shape (n_videos,)
            Box-blur radius ``b`` of each video (0 when not blurred).
        noise : ndarray of shape (n_videos,)
            Noise level of each video (0 when not noisy).
        condition : ndarray of shape (n_videos,)
            ``"clear"``, ``"blurred"``, ``"noisy"`` or ``"blurred+noisy"``.
        distance : ndarray of shape (n_videos,)
            ``|count - mean|`` of the ``target`` count.
        difficulty : ndarray of shape (n_videos,)
            Paper Eq. 2, ``alpha * b / 10 + beta * l`` in ``[0, 1]``, where
            ``l`` is the normalised count term (see ``distance_rule``) with
            distances scaled by three standard deviations of the count.
        DESCR : str
            Description of the dataset.
        cache_path : str
            The cache folder.
        params : dict
            The generation parameters.

    (data, target) : tuple if ``return_X_y`` is True
        The memmap of videos and the labels.

    Examples
    --------
    >>> import tempfile
    >>> from skcells.datasets import fetch_synthetic_blood_videos
    >>> bunch = fetch_synthetic_blood_videos(
    ...     n_videos=6, n_frames=3, size=16, data_home=tempfile.mkdtemp())
    >>> bunch.data.shape, bunch.data.dtype
    ((6, 3, 3, 16, 16), dtype('uint8'))
    >>> bunch.target.shape, sorted(set(bunch.condition)) <= sorted(
    ...     ["clear", "blurred", "noisy", "blurred+noisy"])
    ((6,), True)
    """
    # every argument that is a field of GenerationParams, validated there
    config = _Config(params_from(locals()))
    with parameter_errors():
        for name, flag in zip(
            ("return_X_y", "check_hash", "force"), (return_X_y, check_hash, force)
        ):
            check_bool(flag, name)
        if verbose is not None and not isinstance(verbose, numbers.Integral | np.bool_):
            raise TypeError(f"verbose must be a bool or None, got {verbose!r}.")
        n_jobs = cap_n_jobs(n_jobs, config.params.n_videos)

    params = config.video_params()
    key = params_hash(params)
    folder = get_data_home(data_home) / _CACHE_DIR / key[:20]
    # A valid cache is read without the lock, so without write access.  The
    # lock is taken to build, repair or rebuild it, and to read it again when
    # a concurrent rebuild replaced it while it was being read.
    cached = None if force else _read_cache(folder, config, key, check_hash)
    if cached is None:
        with cache_lock(folder):
            # another process may have finished the cache while we waited
            cached = None if force else _read_cache(folder, config, key, check_hash)
            if cached is None:
                _check_free_space(folder, config)
                _build_cache(folder, config, key, n_jobs=n_jobs, verbose=verbose)
                cached = _read_cache(folder, config, key, check_hash=False)
        if cached is None:  # pragma: no cover - the cache was just written
            raise RuntimeError(f"the cache {folder} could not be read back.")
    else:
        logger.info("reusing the synthetic blood-cell videos in %s", folder)
    meta, data = cached
    labels = config.labels(meta)
    if return_X_y:
        return data, labels["target"]
    return Bunch(
        data=data,
        target=labels["target"],
        target_names=np.array(labels["target_names"]),
        rbc_count=meta["rbc_count"],
        wbc_count=meta["wbc_count"],
        blur=meta["blur"],
        noise=meta["noise"],
        condition=np.array(CONDITIONS)[meta["condition"].astype(np.intp)],
        distance=labels["distance"],
        difficulty=labels["difficulty"],
        DESCR=load_descr("synthetic_blood_videos.rst"),
        cache_path=str(folder),
        params=config.all_params(),
    )


def _read_cache(folder, config, key, check_hash):
    """The cache's ``(metadata, videos)``, or None when it must be (re)built.

    The checks come in this order, so that nothing but the two expected
    files inside ``folder`` is ever opened and no data is read before its
    header is known to be right: the manifest lists exactly the two files
    and the key of ``config``; both are regular files (no link, device or
    FIFO) of the recorded sizes; the videos' header announces uint8 data of
    ``config.shape`` and each metadata array one value of the generator's
    dtype per video; then (unless this process verified these very files
    already) the sha256 digests match and the metadata equals the one
    recomputed from the parameters.  The videos are memory-mapped from the
    file that was checked.
    """
    if not os.path.lexists(folder / "manifest.json"):
        return None
    stamps = _file_stamps(folder)
    memo = _VERIFIED.get(str(folder))
    memo_ok = stamps is not None and memo is not None and memo == stamps
    manifest = verify_manifest(folder, check_hash=False, expected=_CACHE_FILES)
    if manifest is None:
        logger.warning("the cache %s is incomplete or corrupted: rebuilding it", folder)
        return None
    if manifest.get("key") != key:
        logger.warning("the cache %s does not match its parameters: rebuilding", folder)
        return None
    try:
        meta = _load_metadata(folder, config)
        data = load_npy(
            _DATA_FILE, root=folder, dtype=np.uint8, shape=config.shape, mmap=True
        )
    except (
        OSError,
        ValueError,
        EOFError,
        zipfile.BadZipFile,  # and what zipfile raises for odd headers:
        NotImplementedError,  # an unknown compression method
        RuntimeError,  # an "encrypted" member
    ) as exc:
        logger.warning("the cache %s is invalid (%s): rebuilding it", folder, exc)
        return None
    if not memo_ok:
        if check_hash and verify_manifest(folder, expected=_CACHE_FILES) is None:
            logger.warning("the cache %s is corrupted: rebuilding it", folder)
            return None
        truth = config.item_metadata(np.arange(config.params.n_videos))
        if not all(np.array_equal(meta[k], truth[k]) for k in _META_KEYS):
            logger.warning(
                "the metadata of the cache %s does not match its parameters: "
                "rebuilding it",
                folder,
            )
            return None
        if check_hash:
            _remember_verified(folder, stamps)
    return meta, data


def _load_metadata(folder, config):
    """Read ``metadata.npz``: exactly the expected arrays, one value per video."""
    n = config.params.n_videos
    dtypes = {k: v.dtype for k, v in config.item_metadata([0]).items()}
    with (
        open_regular_file(_META_FILE, root=folder) as f,
        zipfile.ZipFile(f) as npz,
    ):
        infos = {info.filename: info for info in npz.infolist()}
        if set(infos) != {f"{k}.npy" for k in _META_KEYS}:
            raise ValueError(
                f"{_META_FILE} holds {sorted(infos)[:8]}, expected one .npy file "
                f"per key of {list(_META_KEYS)}"
            )
        meta = {}
        for k in _META_KEYS:
            info = infos[f"{k}.npy"]
            with npz.open(info) as member:
                meta[k] = load_npy(
                    member, dtype=dtypes[k], shape=(n,), size=info.file_size
                )
    return meta


def _check_free_space(folder, config):
    """Refuse to start a cache that the data home's file system cannot hold."""
    p = config.params
    check_free_space(
        folder.parent,
        math.prod(config.shape) + 64 * p.n_videos + 2**20,
        what=(
            f"the synthetic video cache ({p.n_videos} videos of {p.n_frames} "
            f"frames x 3 x {p.size} x {p.size} bytes)"
        ),
        advice="lower n_videos, n_frames or size, or use another data_home",
    )


def _remember_verified(folder, stamps):
    """Skip hashing these files again in this process while they are unchanged.

    File times have a coarse granularity, so a file modified right after it
    was hashed could keep its stamp; files younger than
    ``_RACY_SECONDS`` are therefore never remembered (and get hashed again).
    """
    if stamps is None:
        return
    newest = max(mtime for _, _, mtime, _ in stamps)
    if time.time_ns() - newest > _RACY_SECONDS * 1e9:
        _VERIFIED[str(folder)] = stamps
    else:
        _VERIFIED.pop(str(folder), None)


def _file_stamps(folder):
    """(name, size, mtime_ns, inode) of the cache files, or None if missing."""
    try:
        stats = {
            n: os.lstat(folder / n) for n in (_DATA_FILE, _META_FILE, "manifest.json")
        }
    except OSError:
        return None
    return tuple(
        (n, s.st_size, s.st_mtime_ns, s.st_ino) for n, s in sorted(stats.items())
    )


def _build_cache(folder, config, key, *, n_jobs, verbose):
    """Render every video into a new cache folder and move it into place."""
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    n = config.params.n_videos
    meta = config.item_metadata(np.arange(n))
    video_bytes = math.prod(config.shape[1:])
    chunk = max(1, min(-(-n // (4 * n_jobs)), _CHUNK_BYTES // video_bytes))
    starts = range(0, n, chunk)
    show = sys.stderr.isatty() if verbose is None else bool(verbose)
    logger.info("rendering %d synthetic videos into %s", n, folder)
    with atomic_directory(folder) as tmp:
        path = tmp / _DATA_FILE
        header = np.lib.format.open_memmap(
            path, mode="w+", dtype=np.uint8, shape=config.shape
        )
        offset = header.offset
        del header
        # Workers write their videos straight into the file (disjoint byte
        # ranges) and return only a count: no video travels between processes
        # and no process holds more than one video.
        tasks = (
            delayed(_render_chunk)(
                config, s, {k: v[s : s + chunk] for k, v in meta.items()}, path, offset
            )
            for s in starts
        )
        parallel = Parallel(
            n_jobs=n_jobs, return_as="generator_unordered", pre_dispatch="2*n_jobs"
        )
        with tqdm(total=n, unit="video", desc="rendering", disable=not show) as bar:
            for count in parallel(tasks):
                bar.update(count)
        np.savez(tmp / _META_FILE, **meta)
        write_manifest(
            tmp, [_DATA_FILE, _META_FILE], key=key, params=config.video_params()
        )
    _remember_verified(folder, _file_stamps(folder))


def _render_chunk(config, start, meta, path, offset):
    """Render videos ``start, start + 1, ...`` into the data file (a worker task).

    Returns
    -------
    count : int
        The number of videos written.
    """
    count = len(meta["blur"])
    video_bytes = int(np.prod(config.shape[1:]))
    with open(path, "r+b") as f:
        f.seek(offset + start * video_bytes)
        for k in range(count):
            f.write(config.render_item(start + k, meta, k).data)
    return count

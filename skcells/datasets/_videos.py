"""Your own videos: video files and image stacks as one cached uint8 array.

:func:`load_videos` reads video files (through PyAV), multi-page TIFFs and
other image stacks (through Pillow) and folders of frames, picks and resizes
``n_frames`` frames of each, and streams them into a memory-mapped
``(n_videos, n_frames, 3, height, width)`` uint8 array under the data home,
as :func:`~skcells.datasets.fetch_synthetic_blood_videos` does for the
synthetic set.

The work is cached at two levels.  Each decoded video is an *item* keyed by
the sha256 of its source and the loading parameters, written atomically as
soon as it is decoded, so one bad file never loses the others' work and a
retry decodes only what is missing.  The *set* (the array of every video, in
order, with its metadata) is keyed by the names and digests of its videos and
the parameters, written under a temporary name and renamed when complete,
under a file lock, and checked against its manifest before reuse.

Only regular files are read: symbolic links are not followed, devices, FIFOs
and sockets are refused before they are opened for reading, and sizes are
checked before anything is decoded.

This module orchestrates and handles the labels; finding and safely opening
the sources is ``_video_files``, decoding them ``_video_decode``, and the
two cache levels ``_video_cache``.
"""

import logging
import os
import warnings

import numpy as np
from sklearn.utils import Bunch

from ..utils import (
    cache_lock,
    check_bool,
    check_int,
    check_n_jobs,
    check_option,
    params_hash,
)
from ._base import get_data_home
from ._params import parameter_errors
from ._video_cache import build_set, check_free_space, decode_all, item_name, load_set
from ._video_decode import Layout
from ._video_files import (
    MAX_TEXT_BYTES,
    BadFile,
    collect_sources,
    is_regular,
    open_regular,
    source_digest,
)

logger = logging.getLogger(__name__)

__all__ = ["load_videos"]

FRAME_SELECTIONS = ("even", "first")
ON_ERROR = ("raise", "skip")
_CACHE_DIR = "videos"
_MAX_FRAMES = 100_000
_MAX_SIDE = 8192
_DEFAULT_MAX_FILE_SIZE = 16 * 2**30


def load_videos(
    paths,
    *,
    n_frames=16,
    size=128,
    frame_selection="even",
    labels=None,
    target=None,
    data_home=None,
    on_error="raise",
    n_jobs=None,
    max_file_size=_DEFAULT_MAX_FILE_SIZE,
    check_hash=True,
    verbose=None,
    return_X_y=False,
):
    """Load your own videos and image stacks as a cached uint8 array.

    Reads common video files (``.mp4``, ``.avi``, ``.mov``, ``.mkv``, ...,
    decoded by PyAV/FFmpeg), image stacks (multi-page ``.tif``, animated
    ``.gif``/``.png``; a single image is a one-frame stack) and folders of
    frames (one image per frame, ``.png``, ``.tif``, ``.jpg``, ``.bmp``, in
    natural order of their names: ``f2.png`` before ``f10.png``), and
    returns them as one ``(n_videos, n_frames, 3, height, width)`` uint8
    array, the layout of
    :func:`~skcells.datasets.fetch_synthetic_blood_videos`, so that the same
    networks, views and curriculum apply.

    **Frames.**  ``frame_selection="even"`` takes ``n_frames`` frames evenly
    spaced over the whole video, frame ``round(k * (N - 1) / (n_frames -
    1))`` for ``k = 0, ..., n_frames - 1`` of a video of ``N`` frames (the
    first and the last included); ``"first"`` takes the first ``n_frames``
    consecutive frames (the original frame rate, for models of motion).  A
    video with fewer than ``n_frames`` frames is an error (frames are never
    repeated).  Each frame is converted to RGB (grey images are repeated on
    the three channels, an alpha channel is dropped, 16-bit images are
    mapped to 8 bits by ``round(value / 257)``, so 65535 becomes 255 for
    every video alike) and resized to ``size`` with Pillow's antialiased
    bilinear filter.  The aspect ratio follows ``size``: a frame of another
    aspect is stretched, never cropped, so every cell of the field stays in
    the frame (``original_size`` records the source sizes).

    **Cache.**  Everything is written under ``get_data_home(data_home) /
    "videos"``: each decoded video as soon as it is decoded (keyed by the
    sha256 of its source and the parameters), then the array of all of them
    (keyed by their names, digests and the parameters), memory-mapped when
    loaded, so a large folder never sits in memory and is decoded once.
    Loading the same files again only hashes them; adding a video to a
    folder decodes only the new one.

    **Errors.**  A file that cannot be read (not a video, truncated,
    damaged, too short, too large, a symbolic link, not a regular file)
    gives an error that names it.  With ``on_error="raise"`` every other
    file is still decoded and cached first, then one :class:`ValueError`
    names every bad file with its reason, so a retry after fixing or
    removing them decodes nothing again.  With ``on_error="skip"`` the bad
    files are left out, listed in a warning and in the ``skipped`` entry of
    the result.

    Parameters
    ----------
    paths : str, path-like or sequence of them
        A folder, a video or stack file, or a sequence of files and folders
        of frames.  In a folder, every video file and stack file is a video
        and every subfolder holding images is a video of frames (the folder
        is not searched further down); hidden entries are ignored, and
        others are ignored with a warning.  A video's name, matched against
        ``labels``, is its file or subfolder name (for a sequence: the last
        part of each path, which must be unique).  Only regular files are
        read: symbolic links inside the folder, or given in the sequence, are
        not followed (the folder named by ``paths`` may itself be a link),
        and devices, FIFOs and sockets are refused.
    n_frames : int, default=16
        Frames per video, in ``[1, 100000]``.
    size : int or tuple of 2 int, default=128
        Side of the square output frames, or their ``(height, width)``, in
        ``[1, 8192]``.
    frame_selection : {"even", "first"}, default="even"
        Frames evenly spaced over the video, or the first ones (see above).
    labels : str, path-like, pandas.DataFrame or None, default=None
        A CSV file (or a DataFrame) with a ``filename`` column naming each
        video and one column per label (a class, a count, ...).  Every video
        that is loaded needs a row; rows of other files are ignored with a
        warning.  None loads the videos without labels.
    target : str or list of str, default=None
        The column(s) of ``labels`` returned as ``target``.  None: the only
        column besides ``filename`` (an error when there are several).
    data_home : str or path-like, default=None
        Folder of the caches; see :func:`skcells.datasets.get_data_home`.
    on_error : {"raise", "skip"}, default="raise"
        What to do with files that cannot be read (see above).
    n_jobs : int, default=None
        Worker processes decoding videos (joblib); None means 1, -1 all
        cores.  The result does not depend on it.
    max_file_size : int, default=17179869184
        Largest source file read, in bytes (16 GiB); larger files are
        errors, found before reading them.  Decoded frames are limited to
        ``2**26`` pixels (about 8192 x 8192).
    check_hash : bool, default=True
        Verify the sha256 of a cached array before reusing it (about 1 s per
        GB); with False only its size is checked.  A cache that fails the
        check is rebuilt, never returned.
    verbose : bool, default=None
        Show a progress bar while decoding; None shows it when standard error
        is a terminal.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : numpy.memmap of shape (n_videos, n_frames, 3, height, width)
            The videos, uint8, read-only, memory-mapped from the cache, in
            the order of ``paths`` (a folder: natural order of the names).
        target : ndarray of shape (n_videos,) or (n_videos, n_targets) or None
            The ``target`` column(s) of ``labels``, with their dtype.
        labels : pandas.DataFrame or None
            Every column of ``labels``, one row per video, in order.
        filenames : ndarray of shape (n_videos,)
            The path of each video.
        names : ndarray of shape (n_videos,)
            The name of each video, as matched against ``labels``.
        frame_rate : ndarray of shape (n_videos,)
            Frames per second of each video file (NaN for image stacks and
            folders of frames).
        original_size : ndarray of shape (n_videos, 2)
            ``(height, width)`` of the source frames.
        frame_count : ndarray of shape (n_videos,)
            Number of frames of each source.
        frame_indices : ndarray of shape (n_videos, n_frames)
            The source frames that were kept.
        sha256 : ndarray of shape (n_videos,)
            The digest of each source file (of a folder of frames: of the
            names and digests of its frames).
        skipped : dict
            ``{path: reason}`` of the files left out with
            ``on_error="skip"`` (empty otherwise).
        cache_path : str
            The folder of the cached array.
        params : dict
            The loading parameters.

    (data, target) : tuple if ``return_X_y`` is True
        The memmap of videos and the target (None without labels).

    See Also
    --------
    fetch_synthetic_blood_videos : The synthetic videos, in the same layout.
    estimate_difficulty : The difficulty of Eq. 2 for such videos.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from PIL import Image
    >>> from skcells.datasets import load_videos
    >>> folder = Path(tempfile.mkdtemp())
    >>> rng = np.random.default_rng(0)
    >>> for name in ("a", "b"):
    ...     pages = [Image.fromarray(rng.integers(0, 256, (48, 64), np.uint8))
    ...              for _ in range(10)]
    ...     pages[0].save(folder / f"{name}.tif", save_all=True,
    ...                   append_images=pages[1:])
    >>> csv = "filename,count\\na.tif,12\\nb.tif,30\\n"
    >>> _ = (folder / "labels.csv").write_text(csv)
    >>> videos = load_videos(folder, n_frames=4, size=32,
    ...                      labels=folder / "labels.csv",
    ...                      data_home=tempfile.mkdtemp())
    >>> videos.data.shape, videos.data.dtype
    ((2, 4, 3, 32, 32), dtype('uint8'))
    >>> videos.target, videos.frame_indices[0]
    (array([12, 30]), array([0, 3, 6, 9]))
    >>> videos.original_size[0], videos.names
    (array([48, 64]), array(['a.tif', 'b.tif'], dtype='<U5'))
    """
    with parameter_errors():
        layout = Layout(
            check_int(n_frames, "n_frames", low=1, high=_MAX_FRAMES),
            *_check_size(size),
            check_option(frame_selection, "frame_selection", FRAME_SELECTIONS),
        )
        check_option(on_error, "on_error", ON_ERROR)
        max_file_size = check_int(max_file_size, "max_file_size", low=1)
        for name, flag in (("check_hash", check_hash), ("return_X_y", return_X_y)):
            check_bool(flag, name)
        if verbose is not None:
            check_bool(verbose, "verbose")
        n_jobs = check_n_jobs(n_jobs)
        target = _check_target(target, labels)
    label_table, target_columns = _read_labels(labels, target)

    sources, problems, ignored = collect_sources(paths, labels)
    if ignored:
        shown = ", ".join(ignored[:5]) + (", ..." if len(ignored) > 5 else "")
        warnings.warn(
            f"load_videos ignored {len(ignored)} folder entries that are "
            f"neither videos, image stacks nor folders of frames: {shown}",
            UserWarning,
            stacklevel=2,
        )
    if label_table is not None:
        _check_labels_cover(label_table, sources)

    # Hash every source (cheap next to decoding); a bad one is a problem.
    digests = {}
    for source in sources:
        try:
            digests[source.name] = source_digest(source, max_file_size)
        except BadFile as exc:
            problems[source.path] = str(exc)
    good = [s for s in sources if s.name in digests]

    home = get_data_home(data_home)
    root = home / _CACHE_DIR
    items = root / "items" / layout.key()[:20]

    def set_key(selected):
        videos = [[s.name, digests[s.name][0]] for s in selected]
        return params_hash({**layout.params(), "videos": videos})

    def finish(selected, folder, loaded):
        data, meta = loaded
        return _bunch(
            data, meta, selected, label_table, target_columns, problems, folder, layout
        )

    # Fast path: the whole set is cached and every file is fine.
    if good and not problems:
        key = set_key(good)
        folder = root / "sets" / key[:20]
        loaded = load_set(folder, key, good, digests, layout, check_hash)
        if loaded is not None:
            logger.info("reusing the %d videos cached in %s", len(good), folder)
            return _maybe_X_y(finish(good, folder, loaded), return_X_y)

    # Decode what is not cached yet; each video is cached as soon as it is.
    items.mkdir(parents=True, exist_ok=True)
    todo = [s for s in good if not is_regular(items / item_name(digests, s))]
    check_free_space(home, layout, n_items=len(todo), n_set=len(good))
    decoded = decode_all(
        todo, digests, layout, items, max_file_size, n_jobs=n_jobs, verbose=verbose
    )
    for source, error in decoded:
        if error is not None:
            problems[source.path] = error
    if problems:
        lines = "\n".join(f"  {path}: {why}" for path, why in problems.items())
        if on_error == "raise":
            n_ok = sum(s.path not in problems for s in good)
            raise ValueError(
                f"{len(problems)} file(s) could not be read:\n{lines}\nThe other "
                f"{n_ok} video(s) are decoded and cached, so a retry "
                "without these files decodes nothing again; pass "
                "on_error='skip' to load the others now."
            )
        warnings.warn(
            f"load_videos skipped {len(problems)} file(s) that could not be "
            f"read:\n{lines}",
            UserWarning,
            stacklevel=2,
        )
    good = [s for s in good if s.path not in problems]
    if not good:
        raise ValueError(
            "paths holds no video that could be read (see the warning above)."
        )

    key = set_key(good)
    folder = root / "sets" / key[:20]
    loaded = load_set(folder, key, good, digests, layout, check_hash)
    if loaded is None:
        with cache_lock(folder):
            # another process may have finished the set while we waited
            loaded = load_set(folder, key, good, digests, layout, check_hash)
            if loaded is None:
                build_set(folder, key, good, digests, layout, items, max_file_size)
                loaded = load_set(folder, key, good, digests, layout, False)
                if loaded is None:
                    raise OSError(
                        f"the videos just written to {folder} cannot be read back "
                        "(see the log); check the data home's file system."
                    )
    return _maybe_X_y(finish(good, folder, loaded), return_X_y)


def _check_size(size):
    """``(height, width)`` from an int or a pair of ints."""
    if isinstance(size, tuple | list):
        if len(size) != 2:
            raise ValueError(
                f"size must be an int or a pair (height, width), got {size!r}."
            )
        return tuple(check_int(s, "size", low=1, high=_MAX_SIDE) for s in size)
    side = check_int(size, "size", low=1, high=_MAX_SIDE)
    return side, side


def _check_target(target, labels):
    if target is None:
        return None
    if labels is None:
        raise ValueError("target names a column of labels, but labels is None.")
    columns = [target] if isinstance(target, str) else target
    if not isinstance(columns, list | tuple) or not columns:
        raise TypeError(
            f"target must be a column name or a list of them, got {target!r}."
        )
    if not all(isinstance(c, str) for c in columns):
        raise TypeError(f"target must hold column names (str), got {target!r}.")
    return target


def _maybe_X_y(bunch, return_X_y):
    return (bunch.data, bunch.target) if return_X_y else bunch


def _read_labels(labels, target):
    """The labels table indexed by file name, and the target column(s)."""
    if labels is None:
        return None, None
    import pandas as pd

    if isinstance(labels, pd.DataFrame):
        table = labels.copy()
    elif isinstance(labels, str | os.PathLike):
        try:
            with open_regular(labels, MAX_TEXT_BYTES) as f:
                table = pd.read_csv(f)
        except BadFile as exc:
            raise ValueError(f"labels: {os.fspath(labels)} {exc}.") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(
                f"labels: {os.fspath(labels)} is not a readable CSV file ({exc})."
            ) from None
    else:
        raise TypeError(
            "labels must be a CSV file path, a pandas DataFrame or None, got "
            f"{type(labels).__name__}."
        )
    if "filename" not in table.columns:
        raise ValueError(
            "labels must have a 'filename' column naming each video, got "
            f"columns {list(table.columns)}."
        )
    table["filename"] = table["filename"].astype(str)
    duplicated = table["filename"][table["filename"].duplicated()].unique()
    if duplicated.size:
        raise ValueError(
            f"labels has several rows for {list(duplicated[:5])}: one row per video."
        )
    table = table.set_index("filename")
    values = list(table.columns)
    if target is None:
        if len(values) != 1:
            raise ValueError(
                "labels must have exactly one column besides 'filename', or "
                f"target must name the column(s) to use; got columns {values}."
            )
        target = values[0]
    missing = [
        c for c in ([target] if isinstance(target, str) else target) if c not in values
    ]
    if missing:
        raise ValueError(f"target names columns {missing} that labels lacks: {values}.")
    return table, target


def _check_labels_cover(table, sources):
    names = [s.name for s in sources]
    missing = [n for n in names if n not in table.index]
    if missing:
        shown = ", ".join(map(repr, missing[:5])) + (
            ", ..." if len(missing) > 5 else ""
        )
        raise ValueError(
            f"labels has no row for {len(missing)} video(s): {shown}; the "
            "'filename' column must hold each video's file (or folder) name, "
            f"e.g. {names[0]!r}."
        )
    extra = sorted(set(table.index) - set(names))
    if extra:
        warnings.warn(
            f"labels has {len(extra)} row(s) for files that are not loaded: "
            f"{', '.join(map(repr, extra[:5]))}{', ...' if len(extra) > 5 else ''}",
            UserWarning,
            stacklevel=3,
        )


def _bunch(data, meta, sources, table, target, problems, folder, layout):
    names = [s.name for s in sources]
    rows = None if table is None else table.loc[names].reset_index()
    y = None if rows is None else rows[target].to_numpy()
    return Bunch(
        data=data,
        target=y,
        labels=rows,
        filenames=np.array([s.path for s in sources]),
        names=np.array(names),
        frame_rate=meta["frame_rate"],
        original_size=meta["original_size"],
        frame_count=meta["frame_count"],
        frame_indices=meta["frame_indices"],
        sha256=meta["sha256"],
        skipped=dict(problems),
        cache_path=str(folder),
        params=layout.params(),
    )

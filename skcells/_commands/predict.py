"""``skcells predict``: apply a saved model to new inputs, write a CSV.

``MODEL`` is a file written by :func:`skcells.persistence.save_model`; it
is loaded without unpickling (``--trust`` allows further classes, e.g. your
own network's).  ``INPUTS`` are

- ``.npy`` arrays whose first axis is the sample axis and whose other axes
  are those of the training input (images ``(n, channels, height, width)``,
  clips ``(n, frames, channels, height, width)`` or features ``(n,
  n_features)``), memory-mapped;
- video files, image stacks and folders, read by
  :func:`skcells.datasets.load_videos` (a single folder is a folder of
  videos; several paths are one video each, a file or a folder of frames)
  into the model's layout: for a model
  of clips, ``--n-frames`` frames (default: the training clips') of
  ``--size`` (default: the training frames'); for a model of images, every
  one of ``--n-frames`` frames (default 1) is a sample.

Inputs are predicted in chunks, with a progress bar on a terminal.  One CSV
row per sample: ``source`` (the input file), ``index`` (the row of an array,
the frame of a video predicted frame by frame, else 0), ``prediction``; for a
classifier one ``proba_<class>`` column per class (the aggregated scores),
``agreement`` (fraction of the views that voted for the prediction),
``entropy`` (of the views' votes) and ``abstain`` (agreement below
``--min-agreement``); for a regressor ``lower`` and ``upper`` (the
``--coverage`` interval of the views' predictions), ``std`` (their spread)
and ``abstain`` (interval wider than ``--max-width``, when given).  The CSV
is written under a temporary name and moved into place; nothing is written
when the run fails.
"""

import logging
import sys
from pathlib import Path

from . import CommandError

logger = logging.getLogger(__name__)

_ARRAY_SUFFIXES = (".npy",)


def add_arguments(parser):
    """Add the ``predict`` options to its subparser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subparser.
    """
    parser.add_argument("model", metavar="MODEL", help="a saved model file")
    parser.add_argument(
        "inputs",
        metavar="INPUTS",
        nargs="+",
        help=".npy arrays of samples shaped like the training input, or video "
        "files, image stacks and folders of frames",
    )
    parser.add_argument(
        "--out",
        default="predictions.csv",
        metavar="CSV",
        help="output file (default: %(default)s)",
    )
    parser.add_argument(
        "--min-agreement",
        type=float,
        default=0.5,
        metavar="FRACTION",
        help="classifiers: abstain when fewer of the views agree with the "
        "prediction (default: %(default)s)",
    )
    parser.add_argument(
        "--coverage",
        type=float,
        default=0.8,
        metavar="FRACTION",
        help="regressors: fraction of the views' predictions inside the "
        "interval (default: %(default)s)",
    )
    parser.add_argument(
        "--max-width",
        type=float,
        metavar="WIDTH",
        help="regressors: abstain when the interval is wider (default: never)",
    )
    videos = parser.add_argument_group("video and image inputs")
    videos.add_argument(
        "--n-frames",
        type=int,
        metavar="N",
        help="frames read from each video (default: the training clips' length; "
        "1 for a model of images, which predicts every frame)",
    )
    videos.add_argument(
        "--size",
        type=int,
        nargs="+",
        metavar="PIXELS",
        help="frame size, one side or HEIGHT WIDTH (default: the training frames')",
    )
    videos.add_argument(
        "--data-home",
        metavar="DIR",
        help="cache of the decoded videos (default: $SKCELLS_DATA or "
        "~/scikit_learn_data/skcells)",
    )
    parser.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="NAME",
        help="also allow this class or function of the model file "
        "(package.module.Name); repeat for several. Only trust what you would run",
    )
    parser.add_argument(
        "--device", metavar="DEVICE", help="torch device (default: the model's)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        metavar="INT",
        help="seed of the views when the model has none (default: 0), so that "
        "every column comes from the same views",
    )
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=64,
        metavar="N",
        help="samples predicted at once (default: %(default)s)",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="do not show a progress bar"
    )


def run(args):
    """Run ``skcells predict``.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments.

    Returns
    -------
    status : int
        0 on success.
    """
    from ..utils import check_int, check_real

    min_agreement = check_real(args.min_agreement, "--min-agreement", low=0, high=1)
    coverage = check_real(args.coverage, "--coverage", low=0, high=1, low_open=True)
    max_width = None
    if args.max_width is not None:
        max_width = check_real(args.max_width, "--max-width", low=0)
    chunk_size = check_int(args.chunk_size, "--chunk-size", low=1)
    if args.seed is not None:
        check_int(args.seed, "--seed", low=0, high=2**32 - 1)
    out = Path(args.out)
    if out.is_dir():
        raise CommandError(f"--out {str(out)!r} is a folder; give a file name.")
    if not out.parent.is_dir():
        raise CommandError(f"the folder of --out {str(out)!r} does not exist.")
    arrays, others = [], []
    for path in args.inputs:  # fail before loading anything
        if not Path(path).exists():
            raise CommandError(f"input {path!r} does not exist.")
        if Path(path).suffix.lower() in _ARRAY_SUFFIXES:
            arrays.append(_open_input(path))
        else:
            others.append(path)
    if args.n_frames is not None:
        check_int(args.n_frames, "--n-frames", low=1)
    if args.size is not None and len(args.size) not in (1, 2):
        raise CommandError(
            f"--size takes one side or HEIGHT WIDTH, got {len(args.size)} values."
        )

    model = _load(args)
    kind = _kind(model)
    if getattr(model, "random_state", 0) is None:
        model.set_params(random_state=0 if args.seed is None else args.seed)
    elif args.seed is not None:
        model.set_params(random_state=args.seed)
    sources = list(arrays)
    if others:
        sources.append(_read_videos(others, model, args))

    n_total = sum(len(X) for X, _, _ in sources)
    progress = _progress(n_total, disable=args.no_progress)
    frames = []
    try:
        for X, names, index in sources:
            for lo in range(0, len(X), chunk_size):
                chunk = X[lo : lo + chunk_size]
                try:
                    table = _predict(model, kind, chunk, coverage=coverage)
                except (ValueError, TypeError) as exc:
                    raise CommandError(f"{names[lo]}: {_first_line(exc)}") from None
                table.insert(0, "index", index[lo : lo + len(chunk)])
                table.insert(0, "source", names[lo : lo + len(chunk)])
                frames.append(table)
                progress.update(len(chunk))
    finally:
        progress.close()
    import pandas as pd

    table = pd.concat(frames, ignore_index=True)
    if kind == "classifier" and "agreement" in table:
        table["abstain"] = table["agreement"] < min_agreement
    elif kind == "regressor" and max_width is not None:
        table["abstain"] = (table["upper"] - table["lower"]) > max_width
    from ..utils import atomic_file

    with atomic_file(out) as tmp:
        table.to_csv(tmp, index=False)
    summary = f"wrote {len(table)} prediction(s) to {out}"
    if "abstain" in table:
        summary += f" ({int(table['abstain'].sum())} abstained)"
    print(summary)
    return 0


def _open_input(path):
    """``(X, names, index)`` of one .npy input, memory-mapped."""
    import numpy as np

    try:
        X = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise CommandError(
            f"input {str(path)!r} cannot be read as a .npy array: {_first_line(exc)}"
        ) from None
    if X.ndim < 2:
        raise CommandError(
            f"input {str(path)!r} has shape {X.shape}; expected (n_samples, ...) "
            "with the samples on the first axis."
        )
    return X, np.full(len(X), str(path), dtype=object), np.arange(len(X))


def _read_videos(paths, model, args):
    """``(X, names, index)`` of the video inputs, in the model's layout."""
    import numpy as np

    try:
        from ..datasets import load_videos
    except ImportError:  # pragma: no cover (an older skcells)
        raise CommandError(
            f"{paths[0]!r} is not a .npy array, and this skcells reads no videos."
        ) from None
    ndim = getattr(model, "input_ndim_", None)
    if ndim not in (4, 5):
        raise CommandError(
            f"{paths[0]!r} is not a .npy array, and the model was not fitted on "
            "images or clips, which videos are read as."
        )
    clips = ndim == 5
    # (frames, channels, height, width) of clips, (channels, height, width) of
    # images, as fit saw them; None where the model does not record it.
    shape = getattr(model, "input_shape_", None)
    n_frames = args.n_frames
    if n_frames is None:
        n_frames = (shape[0] if shape is not None else None) if clips else 1
    size = tuple(args.size) if args.size else None
    if size is None and shape is not None:
        size = tuple(shape[-2:])
    if size is None or n_frames is None:
        raise CommandError(
            f"{paths[0]!r} is not a .npy array, and the model does not record the "
            "size of its inputs: give --size"
            + (" and --n-frames" if n_frames is None else "")
            + " to read videos."
        )
    try:
        # One folder is a folder of videos; several paths are one video each
        # (a file, or a folder of frames), as load_videos reads them.
        data = load_videos(
            paths[0] if len(paths) == 1 else paths,
            n_frames=n_frames,
            size=size if len(size) == 2 else size[0],
            data_home=args.data_home,
            verbose=False if args.no_progress else None,
        )
    except (ValueError, TypeError, OSError) as exc:
        raise CommandError(" ".join(str(exc).split())) from None
    X, names = data.data, np.asarray(data.filenames, dtype=object)
    if clips:
        return X, names, np.zeros(len(X), dtype=int)
    # A model of images: every frame is a sample (a view of the memmap).
    n, t = X.shape[:2]
    frames = X.reshape(n * t, *X.shape[2:])
    return frames, np.repeat(names, t), np.asarray(data.frame_indices).reshape(-1)


def _load(args):
    from ..persistence import load_model

    try:
        return load_model(args.model, trusted=args.trust, device=args.device)
    except FileNotFoundError:
        raise CommandError(f"model file {args.model!r} does not exist.") from None


def _kind(model):
    from sklearn.base import is_classifier, is_regressor

    if is_classifier(model):
        return "classifier"
    if is_regressor(model):
        return "regressor"
    if not hasattr(model, "predict"):
        raise CommandError(f"the model ({type(model).__name__}) has no predict method.")
    return "other"


def _predict(model, kind, X, *, coverage):
    """One chunk's columns as a DataFrame."""
    import numpy as np
    import pandas as pd

    columns = {}
    if kind == "classifier" and hasattr(model, "predict_uncertainty"):
        result = model.predict_uncertainty(X)
        columns["prediction"] = result.prediction
        if hasattr(model, "predict_proba"):
            proba = np.asarray(model.predict_proba(X))
            for j, label in enumerate(model.classes_):
                columns[f"proba_{label}"] = proba[:, j]
        columns["agreement"] = result.agreement
        columns["entropy"] = result.entropy
    elif kind == "classifier":
        columns["prediction"] = model.predict(X)
        if hasattr(model, "predict_proba"):
            proba = np.asarray(model.predict_proba(X))
            for j, label in enumerate(model.classes_):
                columns[f"proba_{label}"] = proba[:, j]
    elif kind == "regressor" and hasattr(model, "predict_uncertainty"):
        result = model.predict_uncertainty(X, coverage=coverage)
        columns["prediction"] = result.prediction
        columns["lower"] = result.lower
        columns["upper"] = result.upper
        columns["std"] = result.std
    else:
        columns["prediction"] = np.asarray(model.predict(X))
    return pd.DataFrame(columns)


def _progress(total, *, disable):
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        unit="sample",
        desc="predict",
        disable=disable or not sys.stderr.isatty(),
        file=sys.stderr,
    )


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

"""``skcells generate``: render the synthetic blood-cell videos into the cache.

The options mirror :func:`skcells.datasets.fetch_synthetic_blood_videos`; an
option left out keeps the library default.  The cache folder is printed on
standard output.
"""

# (option, fetch keyword, argparse keywords): generation parameters shared by
# ``generate``, ``show`` and ``reproduce``.  Defaults are None so that the
# library keeps the single source of default values.
_GENERATION_OPTIONS = (
    ("--rbc-mean", "rbc_mean", dict(type=float, metavar="M")),
    ("--rbc-std", "rbc_std", dict(type=float, metavar="S")),
    ("--wbc-mean", "wbc_mean", dict(type=float, metavar="M")),
    ("--wbc-std", "wbc_std", dict(type=float, metavar="S")),
    (
        "--condition-proba",
        "condition_proba",
        dict(
            type=float,
            nargs=4,
            metavar=("CLEAR", "BLURRED", "NOISY", "BOTH"),
            help="probabilities of the four conditions (default: the paper's "
            "0.130 0.304 0.217 0.349)",
        ),
    ),
    (
        "--blur-range",
        "blur_range",
        dict(
            type=int,
            nargs=2,
            metavar=("LO", "HI"),
            help="box-blur radius range of blurred videos (default: 1 10)",
        ),
    ),
    (
        "--noise-range",
        "noise_range",
        dict(
            type=float,
            nargs=2,
            metavar=("LO", "HI"),
            help="noise level range of noisy videos (default: 0.05 0.3)",
        ),
    ),
    ("--noise-law", "noise_law", dict(choices=("gaussian", "poisson"))),
    (
        "--step",
        "step",
        dict(type=float, help="Brownian step in pixels per frame (default: 1)"),
    ),
    ("--rbc-radius", "rbc_radius", dict(type=float, help="fraction of the size")),
    ("--wbc-radius", "wbc_radius", dict(type=float, help="fraction of the size")),
    ("--nucleus-ratio", "nucleus_ratio", dict(type=float)),
    ("--illumination-jitter", "illumination_jitter", dict(type=float)),
)


def add_generation_arguments(parser):
    """Add the dataset-shape and generation options to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand parser.
    """
    parser.add_argument("--n-videos", type=int, default=1150, help="default: 1150")
    parser.add_argument("--n-frames", type=int, default=100, help="default: 100")
    parser.add_argument("--size", type=int, default=128, help="frame side, 128")
    parser.add_argument("--random-state", type=int, default=0, help="seed, 0")
    group = parser.add_argument_group(
        "generation parameters (default: the library's, i.e. the paper's)"
    )
    for option, _, kwargs in _GENERATION_OPTIONS:
        group.add_argument(option, default=None, **kwargs)


def generation_kwargs(args):
    """Keyword arguments of the generation options the user gave.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments of a parser set up by
        :func:`add_generation_arguments`.

    Returns
    -------
    kwargs : dict
        ``n_videos``, ``n_frames``, ``size``, ``random_state`` and every
        generation option that was given.
    """
    kwargs = {
        "n_videos": args.n_videos,
        "n_frames": args.n_frames,
        "size": args.size,
        "random_state": args.random_state,
    }
    for _, name, _ in _GENERATION_OPTIONS:
        value = getattr(args, name)
        if value is not None:
            kwargs[name] = tuple(value) if isinstance(value, list) else value
    return kwargs


def add_arguments(parser):
    """Add the ``generate`` options to ``parser``."""
    add_generation_arguments(parser)
    parser.add_argument(
        "--data-home",
        default=None,
        help="cache folder (default: $SKCELLS_DATA or the scikit-learn data home)",
    )
    parser.add_argument(
        "--n-jobs",
        type=int,
        default=-1,
        help="rendering processes (default: -1, all cores)",
    )
    parser.add_argument(
        "--force", action="store_true", help="rebuild even if a valid cache exists"
    )
    parser.add_argument(
        "--no-check-hash",
        dest="check_hash",
        action="store_false",
        help="check only the file sizes of an existing cache, not their sha256",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="do not show a progress bar"
    )


def run(args):
    """Render (or verify) the cache and print its folder."""
    from ..datasets import fetch_synthetic_blood_videos

    bunch = fetch_synthetic_blood_videos(
        data_home=args.data_home,
        n_jobs=args.n_jobs,
        force=args.force,
        check_hash=args.check_hash,
        verbose=False if args.no_progress else None,
        **generation_kwargs(args),
    )
    print(bunch.cache_path)
    return 0

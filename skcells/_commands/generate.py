"""``skcells generate``: render the synthetic blood-cell videos into the cache.

The options mirror :func:`skcells.datasets.fetch_synthetic_blood_videos`;
the generation options are made from the fields of
:class:`skcells.datasets.GenerationParams` (names, defaults and help).  The
cache folder is printed on standard output.
"""

import dataclasses
import types
import typing

# Names of the values of the tuple options, by length.
_METAVARS = {
    2: ("LO", "HI"),
    3: ("R", "G", "B"),
    4: ("CLEAR", "BLURRED", "NOISY", "BOTH"),
}


def _option(field):
    """The argparse keywords of one GenerationParams field, from its type."""
    kind, args = typing.get_origin(field.type), typing.get_args(field.type)
    if kind is typing.Literal:
        kwargs = {"choices": args}
    elif kind is tuple:
        kwargs = {"type": args[0], "nargs": len(args), "metavar": _METAVARS[len(args)]}
    elif kind is types.UnionType:  # float | None
        kwargs = {"type": args[0]}
    else:
        kwargs = {"type": field.type}
    default = field.default
    shown = " ".join(map(str, default)) if isinstance(default, tuple) else default
    help_ = f"{field.metadata['help']} (default: {shown})"
    return {**kwargs, "default": default, "help": help_}


def add_generation_arguments(parser):
    """Add an option per field of GenerationParams to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand parser.
    """
    from ..datasets import GenerationParams

    group = parser.add_argument_group(
        "generation parameters (default: the paper's; see GenerationParams)"
    )
    for field in dataclasses.fields(GenerationParams):
        group.add_argument(f"--{field.name.replace('_', '-')}", **_option(field))


def generation_kwargs(args):
    """The generation parameters given by the options, as keyword arguments.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments of a parser set up by
        :func:`add_generation_arguments`.

    Returns
    -------
    kwargs : dict
        One entry per field of GenerationParams.
    """
    from ..datasets import GenerationParams

    names = {field.name for field in dataclasses.fields(GenerationParams)}
    return {
        name: tuple(value) if isinstance(value, list) else value
        for name, value in vars(args).items()
        if name in names
    }


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

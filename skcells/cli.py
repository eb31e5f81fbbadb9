"""The ``skcells`` command line.

The entry point only parses arguments and dispatches to the subcommand
modules in :mod:`skcells._commands`; each of those calls library functions
and writes files.  Errors a user can cause (bad arguments, unreachable
storage, missing data) are reported as one readable line on standard error
with a non-zero exit status, never as a traceback.
"""

import argparse
import logging
import sys
import traceback

from ._commands import CommandError, generate, predict, reproduce, show, tune
from ._version import __version__


def _available_commands():
    """Return the subcommands: name to (module, one-line help).

    Each module defines ``add_arguments(parser)`` and ``run(args) -> int``.
    """
    return {
        "generate": (generate, "render the synthetic blood-cell videos into the cache"),
        "show": (show, "write a PNG grid of sample frames and a GIF of one video"),
        "reproduce": (
            reproduce,
            "run the paper's experiments and write tables/figures",
        ),
        "tune": (tune, "tune the multi-view prediction parameters with Optuna"),
        "predict": (predict, "apply a saved model to new inputs and write a CSV"),
    }


def build_parser():
    """Build the ``skcells`` argument parser.

    Returns
    -------
    parser : argparse.ArgumentParser
        The parser with one subparser per available subcommand.
    """
    parser = argparse.ArgumentParser(
        prog="skcells",
        description="Curriculum learning and multi-view prediction for noisy "
        "microscopy (synthetic blood-cell videos).",
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (mod, help_) in _available_commands().items():
        p = sub.add_parser(name, help=help_, description=help_)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv=None):
    """Run the ``skcells`` command line.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments without the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    status : int
        The exit status: 0 on success, 2 on a usage or input error.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args._run(args) or 0)
    except (
        CommandError,
        ValueError,
        TypeError,
        OSError,
        MemoryError,
        OverflowError,
    ) as exc:
        # OSError: missing inputs, unwritable outputs, a full disk, no
        # network; MemoryError and OverflowError: sizes the machine cannot
        # hold -- all caused by the user's arguments or environment.  Any
        # other exception is a bug and keeps its traceback; with -v these
        # show theirs too.
        if args.verbose:
            traceback.print_exc()
        print(f"skcells {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"skcells {args.command}: interrupted", file=sys.stderr)
        return 130


def _one_line(exc):
    """The message of an exception on one line (its type when it has none)."""
    text = " ".join(str(exc).split())
    if isinstance(exc, MemoryError):
        return f"not enough memory ({text or 'MemoryError'}); use smaller sizes."
    if isinstance(exc, OverflowError):
        return f"a number is too large ({text or 'OverflowError'})."
    return text or type(exc).__name__


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""``skcells generate``: render the synthetic blood-cell videos into the cache.

The options mirror :func:`skcells.datasets.fetch_synthetic_blood_videos`;
the generation options are made from the fields of
:class:`skcells.datasets.GenerationParams` (names, defaults and help).  The
cache folder is printed on standard output.  With ``--scheduler`` (or
``DASK_SCHEDULER_ADDRESS``) the blocks of videos are rendered by the workers
of an existing Dask cluster, through joblib's Dask backend.
"""

import dataclasses
import importlib.util
import os
import types
import typing

from . import CommandError

#: The environment variable of Dask's scheduler address (dask's convention).
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"

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


def add_scheduler_argument(parser, units, note):
    """Add ``--scheduler ADDRESS`` to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand parser.
    units : str
        What the cluster's workers run, for the help text.
    note : str
        What the workers need, for the help text.
    """
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help=f"{units} on the Dask cluster whose scheduler is at ADDRESS (e.g. "
        f"tcp://10.0.0.1:8786): {note}; default: ${SCHEDULER_ENV} when set, "
        "else local processes. Needs pip install 'skcells[dask]'",
    )


def scheduler_address(args):
    """The Dask scheduler address of ``--scheduler`` or the environment, or None.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments of a parser set up by :func:`add_scheduler_argument`.

    Returns
    -------
    address : str or None
        ``--scheduler``, else ``$DASK_SCHEDULER_ADDRESS`` when set and not
        empty, else None (run locally).

    Raises
    ------
    CommandError
        When an address is given but ``distributed`` is not installed.
    """
    given = (args.scheduler or "").strip()
    address = given or os.environ.get(SCHEDULER_ENV, "").strip() or None
    if address is not None and importlib.util.find_spec("distributed") is None:
        source = "--scheduler" if given else f"${SCHEDULER_ENV}"
        raise CommandError(
            f"{source} {address!r} needs dask.distributed, which is not "
            "installed: pip install 'skcells[dask]'."
        )
    return address


#: Seconds a command waits for a first worker of the Dask cluster.
WORKER_TIMEOUT = 10


def dask_client(address):
    """A ``distributed.Client`` of ``address`` whose cluster has a worker.

    Parameters
    ----------
    address : str
        The scheduler's address.

    Returns
    -------
    client : distributed.Client
        The connected client; close it when done.

    Raises
    ------
    CommandError
        When no worker joins the cluster within :data:`WORKER_TIMEOUT`
        seconds.  An unreachable scheduler raises Dask's ``OSError``.
    """
    from distributed import Client

    client = Client(address, set_as_default=False)
    try:
        client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
    except TimeoutError:
        client.close()
        raise CommandError(
            f"the Dask cluster at {address} has no worker (none joined within "
            f"{WORKER_TIMEOUT} s): start some with `dask worker {address} "
            "--nthreads 1`."
        ) from None
    return client


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
    add_scheduler_argument(
        parser,
        "render the blocks of videos",
        "its workers write into --data-home, which they must share (--n-jobs "
        "-1: every worker thread)",
    )


def run(args):
    """Render (or verify) the cache and print its folder."""
    from contextlib import ExitStack

    from ..datasets import fetch_synthetic_blood_videos

    address = scheduler_address(args)
    with ExitStack() as stack:
        if address is not None:
            from joblib import parallel_config

            client = stack.enter_context(dask_client(address))
            stack.enter_context(parallel_config(backend="dask", client=client))
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

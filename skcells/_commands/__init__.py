"""Implementations of the ``skcells`` subcommands (one module each)."""


class CommandError(Exception):
    """A user-facing failure of a subcommand, printed as one line."""

"""Implementations of the ``skcells`` subcommands (one module each)."""

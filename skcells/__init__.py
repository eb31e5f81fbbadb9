"""Curriculum learning and multi-view prediction for noisy microscopy."""

from ._version import __version__

__all__ = ["__version__"]

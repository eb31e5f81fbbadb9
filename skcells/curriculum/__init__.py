"""Competence-based curriculum learning (paper Appendix B, Eq. 2)."""

from ..datasets import difficulty_score  # the data's property, used here
from ._competence import competence, scale_difficulty

__all__ = [
    "CurriculumMixin",
    "CurriculumNeuralNetClassifier",
    "CurriculumNeuralNetRegressor",
    "competence",
    "difficulty_score",
    "plot_curriculum",
    "scale_difficulty",
]

_NETS = (
    "CurriculumMixin",
    "CurriculumNeuralNetClassifier",
    "CurriculumNeuralNetRegressor",
)


def __getattr__(name):
    # The nets import torch and skorch, the plot helper matplotlib: load them
    # on first use, so that the pure Eq. 2 functions stay cheap to import.
    if name in _NETS:
        from . import _net

        return getattr(_net, name)
    if name == "plot_curriculum":
        from ._plot import plot_curriculum

        return plot_curriculum
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))

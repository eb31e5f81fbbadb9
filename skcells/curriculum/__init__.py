"""Competence-based curriculum learning (paper Appendix B, Eq. 2)."""

from ._competence import competence, difficulty_score, scale_difficulty

__all__ = [
    "CurriculumNeuralNetClassifier",
    "competence",
    "difficulty_score",
    "plot_curriculum",
    "scale_difficulty",
]


def __getattr__(name):
    # The classifier imports torch and skorch, the plot helper matplotlib:
    # load them on first use, so that the pure Eq. 2 functions (used by the
    # dataset code) stay cheap to import.
    if name == "CurriculumNeuralNetClassifier":
        from ._net import CurriculumNeuralNetClassifier

        return CurriculumNeuralNetClassifier
    if name == "plot_curriculum":
        from ._plot import plot_curriculum

        return plot_curriculum
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))

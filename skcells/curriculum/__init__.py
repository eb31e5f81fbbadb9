"""Competence-based curriculum learning (paper Appendix B, Eq. 2)."""

from ._competence import competence, difficulty_score, scale_difficulty
from ._net import CurriculumNeuralNetClassifier
from ._plot import plot_curriculum

__all__ = [
    "CurriculumNeuralNetClassifier",
    "competence",
    "difficulty_score",
    "plot_curriculum",
    "scale_difficulty",
]

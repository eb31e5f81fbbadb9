"""Competence-based curriculum learning (paper Appendix B, Eq. 2)."""

from ._competence import competence, difficulty_score, scale_difficulty

__all__ = ["competence", "difficulty_score", "scale_difficulty"]

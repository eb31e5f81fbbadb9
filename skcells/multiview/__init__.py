"""Multi-view predictions from random resized crops (paper Appendix B, Eq. 3-5)."""

from ._aggregate import (
    aggregate_mean,
    aggregate_mode,
    aggregate_weighted,
    view_agreement,
    view_predictions,
    vote_entropy,
)
from ._classifier import MultiViewClassifier
from ._views import RandomResizedCropViews

__all__ = [
    "MultiViewClassifier",
    "RandomResizedCropViews",
    "aggregate_mean",
    "aggregate_mode",
    "aggregate_weighted",
    "view_agreement",
    "view_predictions",
    "vote_entropy",
]

"""Multi-view predictions from random resized crops (paper Appendix B, Eq. 3-5)."""

from . import _aggregate
from ._aggregate import *  # noqa: F403 (the aggregation functions of its __all__)
from ._classifier import MultiViewClassifier
from ._views import RandomResizedCropViews

__all__ = ["MultiViewClassifier", "RandomResizedCropViews"]
__all__ += _aggregate.__all__

"""Multi-view prediction (paper Appendix B, Eq. 3-5): views, estimators, merges."""

from . import _aggregate
from ._aggregate import *  # noqa: F403 (the aggregation functions of its __all__)
from ._classifier import CLASSIFIER_AGGREGATIONS, MultiViewClassifier
from ._regressor import MultiViewRegressor
from ._transforms import ComposedViews, DihedralViews, TransformViews
from ._views import RandomResizedCropViews

__all__ = [
    "CLASSIFIER_AGGREGATIONS",
    "ComposedViews",
    "DihedralViews",
    "MultiViewClassifier",
    "MultiViewRegressor",
    "RandomResizedCropViews",
    "TransformViews",
]
__all__ += _aggregate.__all__

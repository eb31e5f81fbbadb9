"""scikit-learn's own estimator checks on the project's estimators."""

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.utils.estimator_checks import parametrize_with_checks

from skcells.multiview import (
    MultiViewClassifier,
    MultiViewRegressor,
    RandomResizedCropViews,
    TransformViews,
)


def _reverse(x):
    """A deterministic view of a feature vector (module level: it pickles)."""
    return np.asarray(x)[::-1]


# Estimators checked with 2-D data.  The multi-view estimators are checked
# twice: with the paper's crops (10-20 % of the features per view, so they
# declare the ``poor_score`` tag) and with whole views, where scikit-learn's
# training-score checks run as well; the classifier also with a views object.
# The views are stateless transformers that turn (n_samples, n_features) into
# (n_samples, n_views, ...).
ESTIMATORS = [
    MultiViewClassifier(LogisticRegression()),
    MultiViewClassifier(LogisticRegression(), crop_scale=(1.0, 1.0)),
    MultiViewClassifier(
        LogisticRegression(), views=RandomResizedCropViews(4, crop_scale=(1.0, 1.0))
    ),
    MultiViewRegressor(Ridge()),
    MultiViewRegressor(Ridge(), crop_scale=(1.0, 1.0), aggregation="mean"),
    RandomResizedCropViews(),
    TransformViews(_reverse, n_views=3),
]

# Expected failures per estimator class: {check name: reason}.  Aim for none.
EXPECTED_FAILED_CHECKS = {
    "MultiViewClassifier": {},
    "MultiViewRegressor": {},
    "RandomResizedCropViews": {},
    "TransformViews": {},
}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)

"""scikit-learn's own estimator checks on the project's estimators."""

from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from skcells.multiview import MultiViewClassifier, RandomResizedCropViews

# Estimators checked with 2-D data.  MultiViewClassifier is checked twice: with
# the paper's crops (10-20 % of the features per view, so it declares the
# ``poor_score`` tag) and with whole views, where scikit-learn's training-accuracy
# check runs as well.  RandomResizedCropViews is a stateless transformer that
# turns (n_samples, n_features) into (n_samples, n_views, output_size).
ESTIMATORS = [
    MultiViewClassifier(LogisticRegression()),
    MultiViewClassifier(LogisticRegression(), crop_scale=(1.0, 1.0)),
    RandomResizedCropViews(),
]

# Expected failures per estimator class: {check name: reason}.  Aim for none.
EXPECTED_FAILED_CHECKS = {
    "MultiViewClassifier": {},
    "RandomResizedCropViews": {},
}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)

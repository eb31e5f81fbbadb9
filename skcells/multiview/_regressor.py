"""Multi-view regressor: predict counts (and any continuous target) from many views."""

import numpy as np
from sklearn.base import RegressorMixin, _fit_context, clone, is_classifier
from sklearn.frozen import FrozenEstimator
from sklearn.utils import Bunch, get_tags
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_array

from ..utils import check_real
from ._base import _BaseMultiView, _is_torch_net, _unwrap

__all__ = ["MultiViewRegressor"]


class MultiViewRegressor(RegressorMixin, _BaseMultiView):
    """Regress from many views of each input; the views' spread is the uncertainty.

    The twin of :class:`MultiViewClassifier` for continuous targets such as
    cell counts: the same views (random resized crops by default,
    :class:`DihedralViews`, compositions, any transform), the same training
    of the estimator (a skorch net on fresh random views every epoch, any
    other regressor on ``n_train_views`` views per sample, a
    :class:`~sklearn.frozen.FrozenEstimator` as is), the same fit-parameter
    routing, input contract and rule for training and prediction views (see
    :class:`MultiViewClassifier`).  Prediction lets the estimator predict
    every view (:meth:`predict_views`) and aggregates them by their median
    (robust to a few views that miss the cells) or mean.

    The spread of the views' predictions is a per-sample uncertainty:
    :meth:`predict_interval` returns the quantiles of the views' predictions
    that enclose a ``coverage`` fraction of them.  It measures how much the
    prediction depends on which part of the input a view sees, not the
    error of the estimator: check how often it covers the true target on
    held-out data before reading it as a predictive interval.
    :meth:`predict_uncertainty` returns it with the standard deviation of the
    views, under the name the classifier uses for its agreement, so that code
    handling both estimators calls one method.

    Parameters
    ----------
    estimator : estimator object
        Regressor with ``fit`` and ``predict``, such as a skorch
        ``NeuralNetRegressor`` (its targets are passed as float32 of shape
        ``(n_samples, 1)``, it returns one value per view) or any
        scikit-learn regressor (fitted on flattened views).  Classifiers are
        refused: use :class:`MultiViewClassifier`.
    views : views object, callable or None, default=None
        The prediction views; see :class:`MultiViewClassifier`.
    train_views : views object, callable or None, default=None
        The training views; None: the prediction views' settings at fit
        time.
    n_views : int, default=10
        Number of random crops (``views=None``) or transform views (a
        callable ``views``) per input at predict time.
    crop_scale : tuple of float, default=(0.1, 0.2)
        Range of the area fraction of a crop (length fraction for 2-D X).
    crop_ratio : tuple of float, default=(3/4, 4/3)
        Range of the width/height aspect ratio of a crop (log-uniform).
    output_size : int, tuple of int or None, default=None
        Size of a crop, see :class:`RandomResizedCropViews`.
    clip_length : int or None, default=None
        Consecutive frames per clip view; None takes every frame.
    aggregation : {"median", "mean"}, default="median"
        How the views' predictions of a sample are merged.
    n_train_views : int, default=1
        Views per training sample drawn once for non-skorch estimators.
    batch_size : int or None, default=None
        Largest number of views cut and sent to the estimator at once.  One
        float per view is kept (the median and quantiles need them all).
    random_state : int, RandomState instance or None, default=None
        Seed of the training and prediction views.

    Attributes
    ----------
    estimator_ : estimator object
        The fitted (or frozen) estimator.
    train_views_ : views object
        The fitted training views.
    view_shape_ : tuple of int
        Shape of one view as cut.
    output_size_ : int or tuple of int
        Size of every view: ``(height, width)`` of image and clip views, the
        length of 2-D views.
    clip_length_ : int or None
        Frames of a clip view (None for images and 2-D input).
    input_ndim_ : int
        Number of dimensions of the training input (2, 4 or 5).
    input_shape_ : tuple of int
        Shape of one training input.
    input_dtype_ : numpy.dtype
        dtype of the training input.
    input_range_ : tuple of float
        Smallest and largest value of the training input.
    n_features_in_ : int
        Number of features seen during fit (2-D input only).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names seen during fit (2-D input with string column names).

    See Also
    --------
    MultiViewClassifier : The same for class labels.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from skcells.multiview import MultiViewRegressor
    >>> rng = np.random.default_rng(0)
    >>> density = rng.uniform(0.1, 0.5, 60)
    >>> X = (rng.random((60, 1, 16, 16)) < density[:, None, None, None]).astype(float)
    >>> reg = MultiViewRegressor(Ridge(), n_views=8, output_size=4,
    ...                          n_train_views=4, random_state=0).fit(X, density)
    >>> reg.predict_views(X[:2]).shape
    (2, 8)
    >>> lower, upper = reg.predict_interval(X[:2], coverage=0.8)
    >>> prediction = reg.predict(X[:2])
    >>> bool(np.all(lower <= prediction) and np.all(prediction <= upper))
    True
    """

    _parameter_constraints = {
        **_BaseMultiView._parameter_constraints,
        "aggregation": [StrOptions({"median", "mean"})],
    }

    def __init__(
        self,
        estimator,
        *,
        views=None,
        train_views=None,
        n_views=10,
        crop_scale=(0.1, 0.2),
        crop_ratio=(3 / 4, 4 / 3),
        output_size=None,
        clip_length=None,
        aggregation="median",
        n_train_views=1,
        batch_size=None,
        random_state=None,
    ):
        self.estimator = estimator
        self.views = views
        self.train_views = train_views
        self.n_views = n_views
        self.crop_scale = crop_scale
        self.crop_ratio = crop_ratio
        self.output_size = output_size
        self.clip_length = clip_length
        self.aggregation = aggregation
        self.n_train_views = n_train_views
        self.batch_size = batch_size
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, **fit_params):
        """Fit the estimator on random views of the training data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, \
n_channels, height, width) or (n_samples, n_frames, n_channels, height, width)
            Training inputs (flat features, images or clips).  uint8 images
            and clips are scaled to ``[0, 1]``.
        y : array-like of shape (n_samples,)
            Real targets (counts, densities, ...).
        **fit_params : dict
            Parameters for ``estimator.fit`` (e.g. ``difficulty``), routed
            as in :meth:`MultiViewClassifier.fit`.

        Returns
        -------
        self : MultiViewRegressor
            The fitted regressor.
        """
        params = self._routed_params(fit_params)
        if is_classifier(_unwrap(self.estimator)):
            raise ValueError(
                f"estimator={self.estimator!r} is a classifier; MultiViewRegressor "
                "needs a regressor. Use MultiViewClassifier for class labels."
            )
        X, y = self._validate_input(X, y, reset=True, y_numeric=True)
        y = check_array(
            y, ensure_2d=False, dtype="numeric", ensure_all_finite=True, input_name="y"
        )
        if y.dtype.kind not in "f":
            y = y.astype(np.float64)
        views = self._fit_views(X)
        estimator = clone(self.estimator)
        if not isinstance(estimator, FrozenEstimator):
            if _is_torch_net(estimator):
                # skorch regressors take 2-D float32 targets
                targets = y.astype(np.float32).reshape(-1, 1)
            else:
                targets = y
            estimator = self._fit_estimator(estimator, views, X, targets, params)
        self.estimator_ = estimator
        return self

    def _predict_view(self, Xc):
        pred = np.asarray(self.estimator_.predict(Xc), dtype=float)
        if pred.ndim == 2 and pred.shape[1] == 1:
            pred = pred[:, 0]
        if pred.shape != (Xc.shape[0],):
            raise ValueError(
                f"The estimator's predict returned shape {pred.shape} for "
                f"{Xc.shape[0]} views; MultiViewRegressor needs one value per view."
            )
        if not np.all(np.isfinite(pred)):
            raise ValueError("The estimator predicted NaN or infinity for a view.")
        return pred

    def predict_views(self, X):
        """The estimator's prediction for every view.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Inputs shaped like the training input; ``n_views`` views of each
            are predicted.

        Returns
        -------
        values : ndarray of shape (n_samples, n_views)
            Prediction of view ``j`` of sample ``i``.
        """
        n_samples, n_views, chunks = self._view_chunks(X, self._predict_view)
        values = np.empty(n_samples * n_views)
        start = 0
        for _, pred in chunks:
            values[start : start + pred.shape[0]] = pred
            start += pred.shape[0]
        return values.reshape(n_samples, n_views)

    def _aggregate(self, values, *, overwrite=False):
        if self.aggregation == "median":
            return np.median(values, axis=1, overwrite_input=overwrite)
        return values.mean(axis=1)

    def predict(self, X):
        """Aggregated prediction of every input.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Inputs shaped like the training input.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Median (or mean) of the views' predictions.
        """
        return self._aggregate(self.predict_views(X), overwrite=True)

    @staticmethod
    def _quantiles(values, coverage):
        coverage = check_real(coverage, "coverage", low=0, high=1, low_open=True)
        tail = (1.0 - coverage) / 2
        lower, upper = np.quantile(values, [tail, 1.0 - tail], axis=1)
        return lower, upper

    def predict_interval(self, X, coverage=0.8):
        """Bound the middle ``coverage`` fraction of the views' predictions.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Inputs shaped like the training input.
        coverage : float, default=0.8
            Fraction of the views' predictions between the bounds, in ``(0,
            1]``: the bounds are their ``(1 - coverage) / 2`` and ``(1 +
            coverage) / 2`` quantiles (linear interpolation between views; 1
            gives the smallest and largest).

        Returns
        -------
        lower : ndarray of shape (n_samples,)
            Lower bound of every input.
        upper : ndarray of shape (n_samples,)
            Upper bound of every input.
        """
        return self._quantiles(self.predict_views(X), coverage)

    def predict_uncertainty(self, X, coverage=0.8):
        """Prediction with the spread of its views.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Inputs shaped like the training input.
        coverage : float, default=0.8
            Coverage of the interval, as in :meth:`predict_interval`.

        Returns
        -------
        result : Bunch
            ``prediction`` (n_samples,): the value of :meth:`predict`;
            ``lower`` and ``upper`` (n_samples,): the bounds of
            :meth:`predict_interval`; ``std`` (n_samples,): the standard
            deviation of the views' predictions.
        """
        values = self.predict_views(X)
        lower, upper = self._quantiles(values, coverage)
        return Bunch(
            prediction=self._aggregate(values),
            lower=lower,
            upper=upper,
            std=values.std(axis=1),
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        try:
            estimator_poor = get_tags(self.estimator).regressor_tags.poor_score
        except (AttributeError, TypeError):
            estimator_poor = False
        tags.regressor_tags.poor_score = bool(self._partial_views() or estimator_poor)
        return tags

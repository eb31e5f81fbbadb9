"""Multi-view classifier: predict from many views of each input (paper Eq. 3-5)."""

import logging

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context, clone, is_regressor
from sklearn.frozen import FrozenEstimator
from sklearn.utils import Bunch, get_tags
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target

from ._aggregate import _entropy, _ViewStats, view_predictions
from ._base import _BaseMultiView, _is_torch_net, _unwrap

__all__ = ["CLASSIFIER_AGGREGATIONS", "MultiViewClassifier"]

logger = logging.getLogger(__name__)

# The per-view statistics each aggregation needs, and the method of
# _ViewStats that turns them into scores.
_AGGREGATIONS = {
    "mode": (("votes",), "votes"),
    "weighted": (("votes", "weighted"), "weighted"),
    "mean": (("sum",), "mean"),
    "geometric_mean": (("log",), "geometric_mean"),
    "max": (("max",), "max"),
}
#: The values of ``MultiViewClassifier(aggregation=...)``.
CLASSIFIER_AGGREGATIONS = tuple(_AGGREGATIONS)


def _can_predict_proba(self):
    """Votes need no probabilities; the other aggregations use the estimator's."""
    estimator = getattr(self, "estimator_", self.estimator)
    return self.aggregation == "mode" or hasattr(estimator, "predict_proba")


class MultiViewClassifier(ClassifierMixin, _BaseMultiView):
    """Classify from many views of each input (paper Eq. 3-5).

    ``fit`` clones ``estimator`` and trains it on random views of the
    training data; prediction cuts ``n_views`` views of every input (by
    default random resized crops, :class:`RandomResizedCropViews`), lets the
    estimator predict each view (paper Eq. 3: label ``y(i, j) = argmax_k
    h_k`` and confidence ``c(i, j) = max_k h_k``) and aggregates the views
    of a sample as ``aggregation`` says: ``"mode"`` is the paper's MVM
    (Eq. 4), ``"weighted"`` its MVWCo-S (Eq. 5), ``"mean"``,
    ``"geometric_mean"`` and ``"max"`` the merges of test-time augmentation.
    :meth:`sample_windows` gives the geometry of the prediction views.

    Training depends on the kind of estimator:

    - a skorch net (:class:`skorch.NeuralNet` and subclasses such as
      ``NeuralNetClassifier`` or
      :class:`~skcells.curriculum.CurriculumNeuralNetClassifier`) is fitted
      on a dataset that cuts a fresh random view of a sample every time it
      is accessed, so every epoch sees new views and skorch's internal
      validation split is cut too, as in the paper.  Its targets are the
      integer codes of ``classes_``; fit parameters such as ``difficulty``
      are passed unchanged (one entry per sample).  ``n_train_views`` is not
      used;
    - any other estimator is fitted once on ``n_train_views`` random views
      per sample, flattened to 2-D, with the targets and every
      sample-aligned fit parameter repeated alongside;
    - a :class:`sklearn.frozen.FrozenEstimator` is used as is (not refitted)
      and ``classes_`` is taken from it.

    **Training views are fixed at fit; prediction views are read at
    predict.**  ``fit`` trains on ``train_views`` if it is given, else on
    the views the classifier would predict with at that moment (``views``,
    or the crops of ``crop_scale``, ``crop_ratio``, ``output_size`` and
    ``clip_length``), and keeps them as ``train_views_``.  ``views``,
    ``n_views``, ``crop_scale``, ``crop_ratio``, ``aggregation``,
    ``batch_size`` and ``random_state`` are read at predict time: changing
    them with ``set_params`` after ``fit`` changes only the prediction
    views, without refitting.  A search that refits (``GridSearchCV`` over
    ``crop_scale``) changes the training views too unless ``train_views`` is
    set.  The single-view baseline of the paper is the same fitted model
    with ``n_views=1``.

    **Input contract.**  ``fit`` records the dtype, value range and layout
    of ``X`` (``input_dtype_``, ``input_range_``, ``input_shape_``).  uint8
    images and clips are scaled to ``[0, 1]`` when cut, other dtypes keep
    their values, so at predict time: images fitted on an integer dtype
    (uint8 pixels, say) accept another dtype only when every value is an
    integer the fitted dtype holds (float32 0-255 or uint16 0-255 become the
    same uint8 pixels), and raise otherwise (floats in [0, 1], uint16 above
    255); uint8 input to a classifier fitted on floats keeps its values
    (it is not scaled); any input whose values fall far outside the fitted
    range (by more than its width), or fractional values in [0, 1] where
    integer pixels up to 255 were fitted, raises.  Another number of
    channels or dimensions raises; the height, width and number of frames
    may differ if a view fits.

    Parameters
    ----------
    estimator : estimator object
        Classifier with ``fit`` and ``predict`` (and ``predict_proba`` for
        every aggregation but ``"mode"``).  Skorch nets receive float32
        tensors of shape ``(batch, *view_shape)``; other estimators receive
        float 2-D arrays ``(batch, prod(view_shape))``.  Regressors are
        refused: use :class:`MultiViewRegressor`.
    views : views object, callable or None, default=None
        The prediction views.  None: ``n_views`` random resized crops from
        ``crop_scale``, ``crop_ratio``, ``output_size`` and ``clip_length``.
        A views object (:class:`RandomResizedCropViews`,
        :class:`DihedralViews`, :class:`ComposedViews`,
        :class:`TransformViews`) defines them alone: the crop parameters must
        then keep their defaults (set them on the object, ``views__n_views``
        in a search).  A callable, such as a torchvision v2 transform, gives
        ``n_views`` views through :class:`TransformViews`.  A views object
        without a ``random_state`` takes the classifier's.
    train_views : views object, callable or None, default=None
        The training views.  None: the prediction views' settings at fit
        time (with ``n_views=n_train_views`` where the views have an
        ``n_views`` parameter).  Their views must have the shape of the
        prediction views.
    n_views : int, default=10
        Number of random crops (``views=None``) or transform views (a
        callable ``views``) per input at predict time.
    crop_scale : tuple of float, default=(0.1, 0.2)
        Range of the area fraction of a crop (length fraction for 2-D X),
        ``0 < min <= max <= 1``.
    crop_ratio : tuple of float, default=(3/4, 4/3)
        Range of the width/height aspect ratio of a crop (log-uniform).
    output_size : int, tuple of int or None, default=None
        Size of a crop, see :class:`RandomResizedCropViews`; None is the
        size of a square crop at the mean of ``crop_scale`` at fit time.
    clip_length : int or None, default=None
        Consecutive frames per clip view (paper: 9); None takes every frame.
    aggregation : {"mode", "weighted", "mean", "geometric_mean", "max"}, \
default="mode"
        ``"mode"``: most frequent view label (the paper's MVM, Eq. 4), ties
        go to the class that comes first in ``classes_``; ``"weighted"``:
        largest cumulative confidence (the paper's MVWCo-S, Eq. 5), same tie
        rule; ``"mean"``: largest mean probability; ``"geometric_mean"``:
        largest mean log-probability (renormalised); ``"max"``: largest
        probability of any view (renormalised).
    n_train_views : int, default=1
        Views per training sample drawn once for non-skorch estimators (the
        ``n_views`` of the default training views).
    batch_size : int or None, default=None
        Largest number of views cut and sent to the estimator at once; it
        bounds the memory of prediction (the geometry of the views is drawn
        chunk by chunk, and ``predict``, ``predict_proba`` and
        ``predict_uncertainty`` keep per-sample sums, not the views'
        outputs).  None sends all ``n_samples * n_views`` views in one call.
    random_state : int, RandomState instance or None, default=None
        Seed of the training and prediction views.  With an int, repeated
        predictions are identical; with None every call draws new views.
        Views are keyed on each sample's content, so a sample's prediction
        does not depend on the rest of the batch.

    Attributes
    ----------
    estimator_ : estimator object
        The fitted (or frozen) estimator.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    train_views_ : views object
        The fitted training views.
    view_shape_ : tuple of int
        Shape of one view as cut (before flattening for non-skorch estimators).
    output_size_ : int or tuple of int
        Size of every view: ``(height, width)`` of image and clip views, the
        length of 2-D views.
    clip_length_ : int or None
        Frames of a clip view (None for images and 2-D input).
    input_ndim_ : int
        Number of dimensions of the training input (2, 4 or 5).
    input_shape_ : tuple of int
        Shape of one training input: ``(n_channels, height, width)``,
        ``(n_frames, n_channels, height, width)`` or ``(n_features,)``.
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
    MultiViewRegressor : The same for continuous targets such as counts.
    RandomResizedCropViews, DihedralViews, ComposedViews, TransformViews :
        The views.
    aggregate_mode, aggregate_weighted, aggregate_mean : The aggregation rules.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skcells.multiview import MultiViewClassifier
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(["low", "high"], 20)
    >>> X = rng.normal(size=(40, 1, 12, 12)) + (y == "high")[:, None, None, None]
    >>> clf = MultiViewClassifier(LogisticRegression(), n_views=5, output_size=4,
    ...                           n_train_views=3, random_state=0).fit(X, y)
    >>> clf.predict(X[:2])
    array(['low', 'low'], dtype='<U4')
    >>> labels, confidences = clf.predict_views(X[:2])
    >>> labels.shape, confidences.shape
    ((2, 5), (2, 5))
    >>> clf.set_params(aggregation="weighted").predict_proba(X[:2]).shape
    (2, 2)
    """

    _parameter_constraints = {
        **_BaseMultiView._parameter_constraints,
        "aggregation": [StrOptions(set(_AGGREGATIONS))],
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
        aggregation="mode",
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

    # ------------------------------------------------------------------ fit
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
            Class labels of any type; a continuous target is refused.
        **fit_params : dict
            Parameters for ``estimator.fit``, e.g. ``difficulty`` for
            :class:`~skcells.curriculum.CurriculumNeuralNetClassifier`.  With
            ``sklearn.set_config(enable_metadata_routing=True)`` they are
            routed to the estimator as it requests them; without routing
            they are all passed to it.  Sample-aligned values are repeated
            ``n_train_views`` times for non-skorch estimators.

        Returns
        -------
        self : MultiViewClassifier
            The fitted classifier.
        """
        params = self._routed_params(fit_params)
        if is_regressor(_unwrap(self.estimator)):
            raise ValueError(
                f"estimator={self.estimator!r} is a regressor; MultiViewClassifier "
                "needs a classifier. Use MultiViewRegressor to aggregate the views' "
                "predictions of a continuous target."
            )
        X, y = self._validate_input(X, y, reset=True)
        views = self._fit_views(X)
        estimator = clone(self.estimator)
        if isinstance(estimator, FrozenEstimator):
            if not hasattr(estimator, "classes_"):
                raise ValueError(
                    f"The frozen estimator {estimator.estimator!r} has no "
                    "classes_; fit it before freezing it."
                )
            self.classes_ = np.asarray(estimator.classes_)
            logger.info("Using the frozen estimator as is; it is not refitted.")
        else:
            if type_of_target(y, input_name="y") == "continuous":
                raise ValueError(
                    "Unknown label type: y is continuous (for instance "
                    f"{y[:3].tolist()}), but MultiViewClassifier predicts classes. "
                    "Use MultiViewRegressor for counts and other continuous targets."
                )
            check_classification_targets(y)
            self.classes_, y_codes = np.unique(y, return_inverse=True)
            if self.classes_.shape[0] < 2:
                # A net fitted on one class still has an output per module
                # class, which would break every later predict.
                raise ValueError(
                    f"y must hold at least 2 classes to fit {type(self).__name__}, "
                    f"got 1 class: {self.classes_[0]!r}."
                )
            y_codes = y_codes.astype(np.int64)
            if _is_torch_net(estimator):
                estimator = self._fit_estimator(estimator, views, X, y_codes, params)
            else:
                estimator = self._fit_estimator(estimator, views, X, y, params)
        self.estimator_ = estimator
        return self

    # ------------------------------------------------------------- predict
    def _column_map(self, torch_net):
        """Column of ``classes_`` for each column of the estimator's output."""
        n_classes = len(self.classes_)
        est_classes = getattr(self.estimator_, "classes_", None)
        if torch_net or est_classes is None:
            return None
        est_classes = np.asarray(est_classes)
        if est_classes.shape == self.classes_.shape and np.array_equal(
            est_classes, self.classes_
        ):
            return None
        cols = np.searchsorted(self.classes_, est_classes)
        cols = np.clip(cols, 0, n_classes - 1)
        if not np.array_equal(self.classes_[cols], est_classes):
            raise ValueError(
                f"The classes of the estimator {est_classes!r} are not among "
                f"classes_ {self.classes_!r}."
            )
        return cols

    def _view_method(self):
        """The estimator's per-view output: ``(labels, confidences, proba)``."""
        n_classes = len(self.classes_)
        has_proba = hasattr(self.estimator_, "predict_proba")
        if not has_proba and self.aggregation != "mode":
            raise ValueError(
                f"aggregation={self.aggregation!r} needs an estimator with "
                f"predict_proba; {type(self.estimator_).__name__} has none. Use "
                "aggregation='mode'."
            )
        cols = self._column_map(_is_torch_net(self.estimator_))

        def method(Xc):
            if not has_proba:
                pred = np.asarray(self.estimator_.predict(Xc))
                codes = np.searchsorted(self.classes_, pred)
                codes = np.clip(codes, 0, n_classes - 1)
                if not np.array_equal(self.classes_[codes], pred):
                    raise ValueError(
                        f"The estimator predicted labels that are not in classes_ "
                        f"{self.classes_!r}."
                    )
                return codes, np.ones(codes.shape), None
            proba = np.asarray(self.estimator_.predict_proba(Xc), dtype=float)
            if cols is not None:
                full = np.zeros((proba.shape[0], n_classes))
                full[:, cols] = proba
                proba = full
            elif proba.ndim != 2 or proba.shape[1] != n_classes:
                raise ValueError(
                    f"The estimator's predict_proba returned shape {proba.shape}"
                    f", expected (n_views, {n_classes}) for classes_ "
                    f"{self.classes_!r}."
                )
            labels, confidences = view_predictions(proba[None])
            return labels[0], confidences[0], proba

        return method

    def _view_stats(self, X, *, votes=False):
        """Per-sample statistics of the views of ``X`` for the aggregation."""
        self._check_ready()
        needs, _ = _AGGREGATIONS[self.aggregation]
        needs = set(needs) | ({"votes"} if votes else set())
        n_samples, _, chunks = self._view_chunks(X, self._view_method())
        stats = _ViewStats(n_samples, len(self.classes_), needs)
        for rows, (labels, confidences, proba) in chunks:
            stats.add(rows, labels, confidences, proba)
        return stats

    def _scores(self, stats):
        return getattr(stats, _AGGREGATIONS[self.aggregation][1])()

    def predict_views(self, X):
        """Label and confidence of every view (paper Eq. 3).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Inputs shaped like the training input; ``n_views`` views of each
            are predicted.

        Returns
        -------
        labels : ndarray of shape (n_samples, n_views)
            Predicted label ``y(i, j)`` of view ``j`` of sample ``i``, taken
            from ``classes_``.
        confidences : ndarray of shape (n_samples, n_views)
            Largest class probability ``c(i, j)`` of each view (1 for an
            estimator without ``predict_proba``).
        """
        self._check_ready()
        n_samples, n_views, chunks = self._view_chunks(X, self._view_method())
        labels = np.empty(n_samples * n_views, dtype=np.intp)
        confidences = np.empty(n_samples * n_views)
        start = 0
        for _, (codes, conf, _) in chunks:
            labels[start : start + len(codes)] = codes
            confidences[start : start + len(codes)] = conf
            start += len(codes)
        shape = (n_samples, n_views)
        return self.classes_[labels.reshape(shape)], confidences.reshape(shape)

    @available_if(_can_predict_proba)
    def predict_proba(self, X):
        """Aggregated class scores of every input.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Inputs shaped like the training input; images and clips may have
            another height, width or number of frames if a view fits in them.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            The vote fractions (``aggregation="mode"``), the normalised
            cumulative confidences (``"weighted"``), the mean view
            probabilities (``"mean"``), their normalised geometric mean
            (``"geometric_mean"``) or normalised maximum (``"max"``), columns
            in the order of ``classes_``.
        """
        return self._scores(self._view_stats(X))

    def predict(self, X):
        """Aggregated label of every input.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Inputs shaped like the training input (same number of features for
            2-D input).

        Returns
        -------
        y : ndarray of shape (n_samples,)
            ``classes_[argmax(scores)]`` of the aggregated scores; ties go to
            the class that comes first in ``classes_``.
        """
        scores = self._scores(self._view_stats(X))
        return self.classes_[np.argmax(scores, axis=1)]

    def predict_uncertainty(self, X):
        """Prediction with the agreement and vote entropy of its views.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Inputs shaped like the training input.

        Returns
        -------
        result : Bunch
            ``prediction`` (n_samples,): the label of :meth:`predict`;
            ``agreement`` (n_samples,): fraction of the views whose label is
            the prediction, in ``[0, 1]``; ``entropy`` (n_samples,): entropy
            of the views' vote fractions in nats (0 when all views agree, at
            most ``log(min(n_classes, n_views))``).  Abstain, e.g., where
            ``agreement`` is low.
        """
        stats = self._view_stats(X, votes=True)
        codes = np.argmax(self._scores(stats), axis=1)
        votes = stats.votes()
        return Bunch(
            prediction=self.classes_[codes],
            agreement=votes[np.arange(len(codes)), codes],
            entropy=_entropy(votes),
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # A view sees only part of an input: on tabular data (such as the
        # two-feature blobs of scikit-learn's checks) crops of 10-20 % of the
        # features cannot reach a high training accuracy.  Whole views
        # (crop_scale=(1, 1)) predict as well as the estimator.
        try:
            estimator_poor = get_tags(self.estimator).classifier_tags.poor_score
        except (AttributeError, TypeError):
            estimator_poor = False
        tags.classifier_tags.poor_score = bool(self._partial_views() or estimator_poor)
        return tags

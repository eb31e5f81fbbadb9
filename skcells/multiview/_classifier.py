"""Multi-view classifier: predict from many random crops (paper Eq. 3-5)."""

import logging
from numbers import Integral

import numpy as np
import torch
from sklearn import get_config
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
)
from sklearn.frozen import FrozenEstimator
from sklearn.utils import Bunch, _safe_indexing, get_tags
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    process_routing,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)
from skorch import NeuralNet

from ._aggregate import (
    aggregate_mean,
    aggregate_mode,
    aggregate_weighted,
    view_agreement,
    view_predictions,
    vote_entropy,
)
from ._views import RandomResizedCropViews, _check_views_input

__all__ = ["MultiViewClassifier"]

logger = logging.getLogger(__name__)


def _is_torch_net(estimator):
    """Whether views go to ``estimator`` as float32 tensors (skorch nets)."""
    if isinstance(estimator, FrozenEstimator):
        estimator = estimator.estimator
    return isinstance(estimator, NeuralNet)


def _can_predict_proba(self):
    """Votes need no probabilities; the other aggregations use the estimator's."""
    estimator = getattr(self, "estimator_", self.estimator)
    return self.aggregation == "mode" or hasattr(estimator, "predict_proba")


def _index_sample_aligned(params, n_samples, index):
    """Index every sample-aligned fit parameter with ``index``, the rest as is.

    A parameter is sample-aligned when it is array-like with one entry per
    sample, the rule by which scikit-learn's cross-validation slices fit
    parameters (in its private ``_check_method_params``); such values are
    indexed with :func:`sklearn.utils._safe_indexing`.
    """
    return {
        key: _safe_indexing(value, index)
        if np.shape(value)[:1] == (n_samples,)
        else value
        for key, value in params.items()
    }


class MultiViewClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Classify from many random resized crops of each input (paper Eq. 3-5).

    ``fit`` clones ``estimator`` and trains it on random resized crops of the
    training data; prediction cuts ``n_views`` random views of every input
    (:class:`RandomResizedCropViews`), lets the estimator predict each view
    (paper Eq. 3: label ``y(i, j) = argmax_k h_k`` and confidence ``c(i, j)
    = max_k h_k``) and aggregates the views of a sample as ``aggregation``
    says: ``"mode"`` is the paper's MVM (Eq. 4), ``"weighted"`` its MVWCo-S
    (Eq. 5), ``"mean"`` the mean of the probabilities (classic test-time
    augmentation).  The views' geometry is that of
    ``RandomResizedCropViews(n_views, crop_scale=..., crop_ratio=...,
    output_size=output_size_, clip_length=clip_length_,
    random_state=random_state).sample_windows(X)``.

    Training depends on the kind of estimator:

    - a skorch net (:class:`skorch.NeuralNet` and subclasses such as
      ``NeuralNetClassifier`` or
      :class:`~skcells.curriculum.CurriculumNeuralNetClassifier`) is fitted
      on a dataset that cuts a fresh random view of a sample every time it
      is accessed, so every epoch sees new crops and skorch's internal
      validation split is cropped too, as in the paper.  Its targets are
      the integer codes of ``classes_``; fit parameters such as
      ``difficulty`` are passed unchanged (one entry per sample).
      ``n_train_views`` is not used;
    - any other estimator is fitted once on ``n_train_views`` random views
      per sample, flattened to 2-D, with the targets and every
      sample-aligned fit parameter repeated alongside;
    - a :class:`sklearn.frozen.FrozenEstimator` is used as is (not refitted)
      and ``classes_`` is taken from it.

    The single-view baseline of the paper is the same model with
    ``n_views=1``.  ``n_views``, ``crop_scale``, ``crop_ratio``,
    ``aggregation``, ``batch_size`` and ``random_state`` are read at predict
    time: changing them with ``set_params`` after ``fit`` takes effect
    without refitting.  ``output_size`` and ``clip_length`` fix the input of
    the fitted estimator and are resolved at fit time (``output_size_``,
    ``clip_length_``).

    Parameters
    ----------
    estimator : estimator object
        Classifier with ``fit`` and ``predict`` (and ``predict_proba`` for
        ``aggregation="weighted"`` or ``"mean"``).  Skorch nets receive
        float32 tensors of shape ``(batch, *view_shape)``; other estimators
        receive float 2-D arrays ``(batch, prod(view_shape))``.
    n_views : int, default=10
        Number of views ``m`` per input at predict time.
    crop_scale : tuple of float, default=(0.1, 0.2)
        Range of the area fraction of a crop (length fraction for 2-D X),
        ``0 < min <= max <= 1``.
    crop_ratio : tuple of float, default=(3/4, 4/3)
        Range of the width/height aspect ratio of a crop (log-uniform).
    output_size : int, tuple of int or None, default=None
        Size of a view, see :class:`RandomResizedCropViews`; None is the
        size of a square crop at the mean of ``crop_scale`` at fit time.
    clip_length : int or None, default=None
        Consecutive frames per clip view (paper: 9); None takes every frame.
    aggregation : {"mode", "weighted", "mean"}, default="mode"
        ``"mode"``: most frequent view label (the paper's MVM, Eq. 4), ties
        go to the class that comes first in ``classes_``; ``"weighted"``:
        largest cumulative confidence (the paper's MVWCo-S, Eq. 5), same tie
        rule; ``"mean"``: largest mean probability.
    n_train_views : int, default=1
        Views per training sample drawn once for non-skorch estimators.
    batch_size : int or None, default=None
        Largest number of views cut and sent to the estimator at once;
        bounds memory for clips.  None sends all ``n_samples * n_views``
        views in one call.
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
    output_size_ : int or tuple of int
        Resolved size of every view.
    clip_length_ : int or None
        Resolved clip length (None for images and 2-D input).
    view_shape_ : tuple of int
        Shape of one view as cut (before flattening for non-skorch estimators).
    input_ndim_ : int
        Number of dimensions of the training input (2, 4 or 5).
    n_features_in_ : int
        Number of features seen during fit (2-D input only).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names seen during fit (2-D input with string column names).

    See Also
    --------
    RandomResizedCropViews : The view generator.
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

    # The view parameters are those of RandomResizedCropViews, which checks
    # the crop ranges and output_size against the input.
    _parameter_constraints = {
        **RandomResizedCropViews._parameter_constraints,
        "estimator": [HasMethods(["fit", "predict"])],
        "aggregation": [StrOptions({"mode", "weighted", "mean"})],
        "n_train_views": RandomResizedCropViews._parameter_constraints["n_views"],
        "batch_size": [None, Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        estimator,
        *,
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
        self.n_views = n_views
        self.crop_scale = crop_scale
        self.crop_ratio = crop_ratio
        self.output_size = output_size
        self.clip_length = clip_length
        self.aggregation = aggregation
        self.n_train_views = n_train_views
        self.batch_size = batch_size
        self.random_state = random_state

    # ---------------------------------------------------------------- input
    def _validate_input(self, X, y=None, *, reset):
        """Validate X (and y at fit); 2-D input goes through validate_data."""
        if isinstance(X, torch.Tensor):
            X = X.detach().cpu().numpy()
        shape = getattr(X, "shape", None)
        ndim = len(shape) if shape is not None else np.asarray(X).ndim
        if reset:
            if y is None:
                raise ValueError(
                    f"{type(self).__name__} requires y to be passed, but the "
                    "target y is None."
                )
            if ndim == 2:
                X, y = validate_data(self, X, y, dtype="numeric")
            else:  # raises for inputs that are not 2-D, 4-D or 5-D
                X = _check_views_input(X)
                y = column_or_1d(y, warn=True)
                check_consistent_length(X, y)
                for attr in ("n_features_in_", "feature_names_in_"):
                    self.__dict__.pop(attr, None)
            self.input_ndim_ = X.ndim
            return X, y
        if self.input_ndim_ == 2:
            return validate_data(self, X, reset=False, dtype="numeric")
        if ndim != self.input_ndim_:
            raise ValueError(
                f"X must be {self.input_ndim_}-D like the training input (shape "
                f"(n_samples, {', '.join(map(str, self._input_shape))})); got a "
                f"{ndim}-D input"
                + (f" of shape {tuple(shape)}." if shape is not None else ".")
            )
        X = _check_views_input(X)
        channel_axis = 0 if self.input_ndim_ == 4 else 1
        if X.shape[1 + channel_axis] != self._input_shape[channel_axis]:
            raise ValueError(
                f"X has {X.shape[1 + channel_axis]} channels, but "
                f"{type(self).__name__} was fitted on inputs with "
                f"{self._input_shape[channel_axis]} channels."
            )
        return X

    def _views(self, n_views, output_size, clip_length):
        """The views of the classifier's crop parameters and random_state."""
        return RandomResizedCropViews(
            n_views,
            crop_scale=self.crop_scale,
            crop_ratio=self.crop_ratio,
            output_size=output_size,
            clip_length=clip_length,
            random_state=self.random_state,
        )

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
            Class labels of any type.
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
        if get_config().get("enable_metadata_routing", False):
            params = dict(process_routing(self, "fit", **fit_params).estimator.fit)
        else:
            params = dict(fit_params)
        X, y = self._validate_input(X, y, reset=True)
        self._input_shape = tuple(X.shape[1:])
        views = self._views(self.n_train_views, self.output_size, self.clip_length)
        views.fit(X)
        self.output_size_ = views.output_size_
        self.clip_length_ = views.clip_length_
        self.view_shape_ = views.view_shape_

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
                estimator.fit(views.training_dataset(X, y_codes), y_codes, **params)
            else:
                chunks = views.iter_views(X, batch_size=self.batch_size, training=True)
                Xv = np.concatenate([c.reshape(c.shape[0], -1) for c in chunks])
                index = np.repeat(np.arange(X.shape[0]), self.n_train_views)
                params = _index_sample_aligned(params, X.shape[0], index)
                estimator.fit(Xv, y[index], **params)
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

    def _view_outputs(self, X):
        """Per-view class codes, confidences and probabilities (or None)."""
        check_is_fitted(self)
        self._validate_params()
        X = self._validate_input(X, reset=False)
        n_samples, n_classes = X.shape[0], len(self.classes_)
        torch_net = _is_torch_net(self.estimator_)
        has_proba = hasattr(self.estimator_, "predict_proba")
        if not has_proba and self.aggregation != "mode":
            raise ValueError(
                f"aggregation={self.aggregation!r} needs an estimator with "
                f"predict_proba; {type(self.estimator_).__name__} has none. Use "
                "aggregation='mode'."
            )
        cols = self._column_map(torch_net)
        views = self._views(self.n_views, self.output_size_, self.clip_length_)
        chunks = views.iter_views(X, batch_size=self.batch_size)
        outputs = []
        for chunk in chunks:
            if torch_net:
                Xc = torch.as_tensor(chunk, dtype=torch.float32)
            else:
                Xc = chunk.reshape(chunk.shape[0], -1)
            if has_proba:
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
                outputs.append(proba)
            else:
                pred = np.asarray(self.estimator_.predict(Xc))
                outputs.append(np.searchsorted(self.classes_, pred))
        if has_proba:
            proba = np.concatenate(outputs).reshape(n_samples, -1, n_classes)
            labels, confidences = view_predictions(proba)
            return labels, confidences, proba
        labels = np.concatenate(outputs).reshape(n_samples, -1)
        return labels, np.ones(labels.shape), None

    def _aggregate(self, labels, confidences, proba):
        n_classes = len(self.classes_)
        if self.aggregation == "mode":
            return aggregate_mode(labels, n_classes)
        if self.aggregation == "weighted":
            return aggregate_weighted(labels, confidences, n_classes)
        return aggregate_mean(proba)

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
        labels, confidences, _ = self._view_outputs(X)
        return self.classes_[labels], confidences

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
            cumulative confidences (``"weighted"``) or the mean view
            probabilities (``"mean"``), columns in the order of ``classes_``.
        """
        return self._aggregate(*self._view_outputs(X))

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
        scores = self._aggregate(*self._view_outputs(X))
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
        labels, confidences, proba = self._view_outputs(X)
        codes = np.argmax(self._aggregate(labels, confidences, proba), axis=1)
        return Bunch(
            prediction=self.classes_[codes],
            agreement=view_agreement(labels, codes),
            entropy=vote_entropy(labels, len(self.classes_)),
        )

    # ------------------------------------------------------------- routing
    def get_metadata_routing(self):
        """Get the metadata routing of this object.

        ``fit`` routes metadata to ``estimator.fit``; the classifier's own
        requests (e.g. ``sample_weight`` for ``score``) are included, so it can
        be the last step of a :class:`~sklearn.pipeline.Pipeline` that is
        scored under metadata routing.

        Returns
        -------
        routing : MetadataRouter
            The routing information.
        """
        router = MetadataRouter(owner=self).add_self_request(self)
        return router.add(
            estimator=self.estimator,
            method_mapping=MethodMapping().add(caller="fit", callee="fit"),
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        # A view sees only part of an input: on tabular data (such as the
        # two-feature blobs of scikit-learn's checks) crops of 10-20 % of the
        # features cannot reach a high training accuracy.  Whole views
        # (crop_scale=(1, 1)) predict as well as the estimator.
        try:
            partial_views = bool(np.min(self.crop_scale) < 1)
        except (TypeError, ValueError):
            partial_views = True
        try:
            estimator_poor = get_tags(self.estimator).classifier_tags.poor_score
        except (AttributeError, TypeError):
            estimator_poor = False
        tags.classifier_tags.poor_score = bool(partial_views or estimator_poor)
        return tags

"""Shared machinery of the multi-view estimators (classifier and regressor).

:class:`_BaseMultiView` holds what does not depend on the kind of target:
the view parameters and their resolution into training and prediction views
objects, the input contract, the training of the inner estimator (a skorch
net on a dataset of fresh random views, any other estimator on views cut
once), the chunked prediction of every view, the geometry of the prediction
views and the metadata routing.  The subclasses add the targets and the
aggregation.
"""

import copy
import logging
from numbers import Integral

import numpy as np
import torch
from sklearn import get_config
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.frozen import FrozenEstimator
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    process_routing,
)
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)
from skorch import NeuralNet

from ._transforms import DihedralViews, TransformViews
from ._views import RandomResizedCropViews, _check_views_input

logger = logging.getLogger(__name__)

# The crop parameters of the estimators and their defaults; a views object
# given as ``views`` defines the prediction views instead.
_CROP_DEFAULTS = {
    "n_views": 10,
    "crop_scale": (0.1, 0.2),
    "crop_ratio": (3 / 4, 4 / 3),
    "output_size": None,
    "clip_length": None,
}
_VIEWS_METHODS = ["fit", "iter_views", "training_dataset", "sample_windows"]
# Rows of input scanned at once when checking the values of a prediction input.
_SCAN_BYTES = 1 << 24


def _is_views_object(views):
    return views is not None and all(hasattr(views, m) for m in _VIEWS_METHODS)


def _is_default(value, default):
    if default is None:
        return value is None
    try:
        return tuple(value) == tuple(default)
    except TypeError:
        return value == default


def _unwrap(estimator):
    return estimator.estimator if isinstance(estimator, FrozenEstimator) else estimator


def _is_torch_net(estimator):
    """Whether views go to ``estimator`` as float32 tensors (skorch nets)."""
    return isinstance(_unwrap(estimator), NeuralNet)


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


def _value_summary(X):
    """Minimum, maximum and whether every value is an integer, by blocks."""
    n = X.shape[0]
    row_bytes = max(1, X.itemsize * int(np.prod(X.shape[1:])))
    step = max(1, _SCAN_BYTES // row_bytes)
    low, high, integral = np.inf, -np.inf, True
    for lo in range(0, n, step):
        block = np.asarray(X[lo : lo + step])
        low = min(low, float(block.min()))
        high = max(high, float(block.max()))
        if integral and block.dtype.kind == "f":
            integral = bool(np.all(np.floor(block) == block))
    return low, high, integral


def _dtype_bounds(dtype):
    if dtype.kind == "b":
        return 0, 1
    info = np.iinfo(dtype)
    return info.min, info.max


class _BaseMultiView(MetaEstimatorMixin, BaseEstimator):
    """Views, input contract, training and chunked prediction of the views.

    Subclasses define ``__init__`` (with the parameters of
    ``_parameter_constraints`` and ``aggregation``), ``_fit_targets(y,
    estimator)`` (validated targets for the estimator, and the fitted
    attributes they give) and their predict methods on
    :meth:`_view_chunks`.
    """

    _parameter_constraints = {
        **RandomResizedCropViews._parameter_constraints,
        "estimator": [HasMethods(["fit", "predict"])],
        "views": [None, HasMethods(_VIEWS_METHODS), callable],
        "train_views": [None, HasMethods(_VIEWS_METHODS), callable],
        "n_train_views": RandomResizedCropViews._parameter_constraints["n_views"],
        "batch_size": [None, Interval(Integral, 1, None, closed="left")],
    }

    # ------------------------------------------------- callables as parameters
    def _callable_views(self):
        """``views`` and ``train_views`` given as plain callables (not views)."""
        return {
            name: getattr(self, name)
            for name in ("views", "train_views")
            if getattr(self, name) is not None
            and not _is_views_object(getattr(self, name))
        }

    def get_params(self, deep=True):
        """Get the parameters of this estimator.

        As :meth:`sklearn.base.BaseEstimator.get_params`, except that a
        callable given as ``views`` or ``train_views`` is a value, never an
        estimator whose parameters are listed, even when it has a
        ``get_params`` of its own (torchvision's transforms do, with another
        meaning).

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of the sub-estimators.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        params = super().get_params(deep=False)
        if deep:
            callables = self._callable_views()
            for name, value in list(params.items()):
                if name in callables or isinstance(value, type):
                    continue
                if hasattr(value, "get_params"):
                    params.update(
                        (f"{name}__{key}", val)
                        for key, val in value.get_params().items()
                    )
        return params

    def __sklearn_clone__(self):
        # A callable given as views is deep-copied, never cloned as an
        # estimator (sklearn's clone would call a torchvision transform's
        # get_params, which means something else).
        callables = self._callable_views()
        if not callables:
            return super().__sklearn_clone__()
        bare = copy.copy(self)
        for name in callables:
            setattr(bare, name, None)
        new = bare.__sklearn_clone__()
        return new.set_params(
            **{name: copy.deepcopy(value) for name, value in callables.items()}
        )

    # ----------------------------------------------------------------- views
    def _check_view_params(self):
        """Refuse crop parameters that a views object would silently override."""
        if self.views is None:
            ignored = ()
        elif _is_views_object(self.views):
            ignored = tuple(_CROP_DEFAULTS)
        else:  # a callable: n_views views of it
            ignored = tuple(name for name in _CROP_DEFAULTS if name != "n_views")
        changed = [
            f"{name}={getattr(self, name)!r}"
            for name in ignored
            if not _is_default(getattr(self, name), _CROP_DEFAULTS[name])
        ]
        if changed:
            first = changed[0].split("=")[0]
            raise ValueError(
                f"{', '.join(changed)} {'is' if len(changed) == 1 else 'are'} set "
                f"together with views={self.views!r}, which defines the "
                "prediction views: set them on the views object (e.g. "
                f"views__{first} in a search) and leave them at their defaults "
                f"here ({', '.join(f'{n}={_CROP_DEFAULTS[n]!r}' for n in ignored)}), "
                "or leave views=None to use the crop parameters."
            )
        if _is_views_object(self.train_views) and self.n_train_views != 1:
            raise ValueError(
                f"n_train_views={self.n_train_views!r} is set together with "
                f"train_views={self.train_views!r}, which defines the training "
                "views: set n_views on train_views instead."
            )

    def _with_random_state(self, views):
        """``views`` with the estimator's random_state where its own is None."""
        if hasattr(views, "_with_random_state"):
            return views._with_random_state(self.random_state)
        return views

    def _resolve_views(self, spec, n_views):
        """A views object for ``spec`` (a views object or a callable)."""
        if not _is_views_object(spec):
            spec = TransformViews(spec, n_views=n_views)
        return self._with_random_state(spec)

    def _training_views(self):
        """Unfitted training views: ``train_views``, else the prediction settings."""
        if self.train_views is not None:
            views = self._resolve_views(self.train_views, self.n_train_views)
        elif self.views is None:
            views = RandomResizedCropViews(
                self.n_train_views,
                crop_scale=self.crop_scale,
                crop_ratio=self.crop_ratio,
                output_size=self.output_size,
                clip_length=self.clip_length,
                random_state=self.random_state,
            )
        elif _is_views_object(self.views):
            views = clone(self.views)
            if "n_views" in views.get_params(deep=False):
                views.set_params(n_views=self.n_train_views)
            views = self._with_random_state(views)
        else:
            views = self._resolve_views(self.views, self.n_train_views)
        return clone(views)

    def _prediction_views(self):
        """The prediction views, from the parameters as they are now."""
        if self.views is None:
            # sizes left free (None) are those the estimator was trained on
            output_size, clip_length = self.output_size, self.clip_length
            return RandomResizedCropViews(
                self.n_views,
                crop_scale=self.crop_scale,
                crop_ratio=self.crop_ratio,
                output_size=self.output_size_ if output_size is None else output_size,
                clip_length=self.clip_length_ if clip_length is None else clip_length,
                random_state=self.random_state,
            )
        views = self._resolve_views(self.views, self.n_views)
        if hasattr(views, "_with_view_shape"):
            views = views._with_view_shape(self.view_shape_)
        return views

    def _record_views(self, train_views, X):
        """Record the fitted training views and check the prediction views."""
        self.train_views_ = train_views
        self.view_shape_ = tuple(train_views.view_shape_)
        if isinstance(train_views, RandomResizedCropViews):
            self.output_size_ = train_views.output_size_
            self.clip_length_ = train_views.clip_length_
        else:
            shape = self.view_shape_
            self.output_size_ = shape[0] if len(shape) == 1 else tuple(shape[-2:])
            self.clip_length_ = shape[0] if len(shape) == 4 else None
        if self.views is None and self.train_views is None:
            return  # the same crops: the same shape
        views = self._prediction_views()
        shape = tuple(clone(views).fit(X).view_shape_)
        if shape != self.view_shape_:
            raise ValueError(
                f"The prediction views (views={self.views!r}) have shape {shape} "
                f"on the training input, the training views {self.view_shape_}: "
                "the estimator takes one view shape; give both the same "
                "output size."
            )

    # ----------------------------------------------------------------- input
    def _validate_input(self, X, y=None, *, reset, y_numeric=False):
        """Validate X (and y at fit); at predict, apply the input contract."""
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
                X, y = validate_data(self, X, y, dtype="numeric", y_numeric=y_numeric)
            else:  # raises for inputs that are not 2-D, 4-D or 5-D
                X = _check_views_input(X)
                y = column_or_1d(y, warn=True)
                check_consistent_length(X, y)
                for attr in ("n_features_in_", "feature_names_in_"):
                    self.__dict__.pop(attr, None)
            self._record_input(X)
            return X, y
        if self.input_ndim_ == 2:
            X = validate_data(self, X, reset=False, dtype="numeric")
            return self._apply_contract(X)
        if ndim != self.input_ndim_:
            raise ValueError(
                f"X must be {self.input_ndim_}-D like the training input (shape "
                f"(n_samples, {', '.join(map(str, self.input_shape_))})); got a "
                f"{ndim}-D input"
                + (f" of shape {tuple(shape)}." if shape is not None else ".")
            )
        X = _check_views_input(X)
        channel_axis = 0 if self.input_ndim_ == 4 else 1
        expected = self.input_shape_[channel_axis]
        if X.shape[1 + channel_axis] != expected:
            hint = ""
            if X.shape[-1] == expected:
                order = "0, 3, 1, 2" if X.ndim == 4 else "0, 1, 4, 2, 3"
                hint = (
                    " X looks channels-last (its last axis has "
                    f"{expected}); the estimator takes channels first: pass "
                    f"X.transpose({order})."
                )
            raise ValueError(
                f"X has {X.shape[1 + channel_axis]} channels, but "
                f"{type(self).__name__} was fitted on inputs with {expected} "
                f"channels (shape (n_samples, "
                f"{', '.join(map(str, self.input_shape_))})).{hint}"
            )
        return self._apply_contract(X)

    def _record_input(self, X):
        """The input contract: dtype, value range and layout of the training X."""
        self.input_ndim_ = X.ndim
        self.input_shape_ = tuple(X.shape[1:])
        self.input_dtype_ = X.dtype
        low, high, integral = _value_summary(X)
        self.input_range_ = (low, high)
        self._integer_valued = integral

    def _apply_contract(self, X):
        """X in the training dtype where that keeps its values; else refuse."""
        fit_dtype = self.input_dtype_
        images = self.input_ndim_ > 2  # a dtype carries a pixel scale
        if images and fit_dtype.kind in "uib" and X.dtype != fit_dtype:
            low, high, integral = _value_summary(X)
            lo, hi = _dtype_bounds(fit_dtype)
            if not integral or low < lo or high > hi:
                raise ValueError(self._contract_message(X, low, high, integral))
            X = X.astype(fit_dtype)
        elif images and X.dtype == np.uint8 and fit_dtype != np.uint8:
            # uint8 pixels are scaled by 1/255 when cut; the estimator was fitted
            # on unscaled values, which a float copy keeps
            X = X.astype(fit_dtype)
        if fit_dtype == np.uint8 and images:
            return X  # every uint8 value is a pixel of the training scale
        self._check_range(X)
        return X

    def _contract_message(self, X, low, high, integral):
        fit_dtype = self.input_dtype_
        lo, hi = _dtype_bounds(fit_dtype)
        fit_lo, fit_hi = self.input_range_
        message = (
            f"X has dtype {X.dtype} with values in [{low:g}, {high:g}]"
            f"{'' if integral else ' (not all integers)'}, but "
            f"{type(self).__name__} was fitted on {fit_dtype} inputs (values in "
            f"[{fit_lo:g}, {fit_hi:g}]); another dtype is converted only when "
            f"every value is an integer in [{lo}, {hi}], so that the pixels stay "
            "the same."
        )
        if fit_dtype == np.uint8 and not integral and low >= 0 and high <= 1:
            message += (
                " Pixels scaled to [0, 1]? Pass (X * 255).round().astype(np.uint8),"
                " or fit on the scaled input."
            )
        elif integral and high > hi:
            message += (
                f" Rescale X to [{lo}, {hi}] first (e.g. X // 256 for 16-bit "
                f"pixels), or fit on {X.dtype} input."
            )
        return message

    def _check_range(self, X):
        """Refuse values far outside the training range (another scale)."""
        low, high, integral = _value_summary(X)
        fit_lo, fit_hi = self.input_range_
        span = fit_hi - fit_lo
        if span <= 0:
            span = max(abs(fit_lo), abs(fit_hi), 1.0)
        if low < fit_lo - span or high > fit_hi + span:
            raise ValueError(
                f"X has values in [{low:g}, {high:g}], far outside the range "
                f"[{fit_lo:g}, {fit_hi:g}] of the {self.input_dtype_} inputs "
                f"{type(self).__name__} was fitted on (by more than its width): "
                "is X on another scale, such as pixels in 0..255 against [0, 1]? "
                "Scale X as at fit."
            )
        if (
            self.input_ndim_ > 2
            and self._integer_valued
            and fit_lo >= 0
            and fit_hi >= 10
            and not integral
            and low >= 0
            and high <= 1
        ):
            raise ValueError(
                f"X has values in [{low:g}, {high:g}] with fractions, but "
                f"{type(self).__name__} was fitted on integer pixel values in "
                f"[{fit_lo:g}, {fit_hi:g}] ({self.input_dtype_}): pixels scaled to "
                "[0, 1]? Scale X as at fit (multiply by 255), or fit on the "
                "scaled input."
            )

    # ------------------------------------------------------------------- fit
    def _routed_params(self, fit_params):
        if get_config().get("enable_metadata_routing", False):
            return dict(process_routing(self, "fit", **fit_params).estimator.fit)
        return dict(fit_params)

    def _fit_views(self, X):
        """Resolve, fit and record the training views; return them."""
        self._check_view_params()
        views = self._training_views().fit(X)
        self._record_views(views, X)
        return views

    def _fit_estimator(self, estimator, views, X, y, params):
        """Fit ``estimator`` on the training views of ``X`` with targets ``y``."""
        if _is_torch_net(estimator):
            estimator.fit(views.training_dataset(X, y), y, **params)
            return estimator
        chunks = views.iter_views(X, batch_size=self.batch_size, training=True)
        Xv = np.concatenate([c.reshape(c.shape[0], -1) for c in chunks])
        index = np.repeat(np.arange(X.shape[0]), views.n_views)
        params = _index_sample_aligned(params, X.shape[0], index)
        return estimator.fit(Xv, _safe_indexing(y, index), **params)

    # --------------------------------------------------------------- predict
    def _check_ready(self):
        """Fitted, and the parameters read at predict time are valid."""
        check_is_fitted(self)
        self._validate_params()
        self._check_view_params()

    def _view_chunks(self, X, method):
        """Validated input and the estimator's outputs on its prediction views.

        Returns ``(n_samples, n_views, chunks)``; ``chunks`` yields ``(sample
        index of every view, method(views))`` chunk by chunk, in sample-major
        order, with at most ``batch_size`` views per chunk.
        """
        self._check_ready()
        X = self._validate_input(X, reset=False)
        views = self._prediction_views()
        n_views = views.n_views
        chunks = views.iter_views(X, batch_size=self.batch_size)
        torch_net = _is_torch_net(self.estimator_)

        def outputs():
            start = 0
            for chunk in chunks:
                if tuple(chunk.shape[1:]) != self.view_shape_:
                    raise ValueError(
                        f"The prediction views have shape {chunk.shape[1:]}, but "
                        f"the estimator was trained on views of shape "
                        f"{self.view_shape_}: give the views an output size."
                    )
                if torch_net:
                    Xc = torch.as_tensor(chunk, dtype=torch.float32)
                else:
                    Xc = chunk.reshape(chunk.shape[0], -1)
                flat = np.arange(start, start + chunk.shape[0])
                start += chunk.shape[0]
                yield flat // n_views, method(Xc)

        return X.shape[0], n_views, outputs()

    def sample_windows(self, X):
        """Geometry of the prediction views of ``X`` (what each view covers).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Inputs shaped like the training input.

        Returns
        -------
        windows : Bunch
            The :meth:`~RandomResizedCropViews.sample_windows` of the
            prediction views: ``boxes`` (n_samples, n_views, 4) in pixel
            coordinates of the input, the frame windows ``starts`` and
            ``frames`` of clip views, ``view_shape`` and the entries of the
            views type.
        """
        self._check_ready()
        X = self._validate_input(X, reset=False)
        return self._prediction_views().sample_windows(X)

    # --------------------------------------------------------------- routing
    def get_metadata_routing(self):
        """Get the metadata routing of this object.

        ``fit`` routes metadata to ``estimator.fit``; the estimator's own
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

    def _partial_views(self):
        """Whether a view may see only part of an input (for poor_score)."""
        views = self.views
        if views is None:
            scale = self.crop_scale
        elif isinstance(views, DihedralViews):
            return False
        else:
            scale = getattr(views, "crop_scale", None)
        try:
            return bool(np.min(scale) < 1)
        except (TypeError, ValueError):
            return True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        return tags

"""The views interface, and random resized crops of images, clips and vectors.

Every views object turns ``(n_samples, ...)`` inputs into ``n_views`` views
per sample through one interface: :meth:`~_BaseViews.iter_views` (the views
of every sample, in chunks), :meth:`~_BaseViews.transform`,
:meth:`~_BaseViews.sample_windows` (what each view covers) and
:meth:`~_BaseViews.training_dataset` (a torch dataset of fresh random
views).  A views object resolves, for one input shape, a *plan* (private)
with:

- ``view_shape`` and ``n_views``;
- ``salt``: the 64-bit seed of the call;
- ``params(keys, view_index)``: the parameters of the views ``view_index``
  of samples with content keys ``keys`` (a dict of arrays, one row per view),
  a pure function of the salt, the key and the view index, so that chunking
  never changes a view;
- ``random_params(rng, k)``: the parameters of ``k`` random views drawn from
  a NumPy generator (training);
- ``cut(X, sample_index, params)``: the float views ``(k, *view_shape)``;
- ``windows(params)``, ``to_input(params, boxes)``: the geometry.
"""

import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    validate_data,
)

from ..utils import check_bool, check_int, check_range
from ._dataset import _ViewDataset
from ._geometry import _KINDS, _Geometry
from ._streams import _component_salt, _draw_salt, _row_keys, _uniforms_at

__all__ = ["RandomResizedCropViews"]


def _check_views_input(X, *, input_name="X"):
    """Validate ``X`` for cropping: 2-D, 4-D or 5-D, numeric and finite.

    The dtype is kept (uint8 images stay uint8 until they are cut), object
    arrays become float64.
    """
    shape = getattr(X, "shape", None)
    ndim = len(shape) if shape is not None else np.asarray(X).ndim
    if ndim not in _KINDS:
        raise ValueError(
            f"{input_name} must be 2-D (n_samples, n_features), 4-D images "
            "(n_samples, n_channels, height, width) or 5-D clips (n_samples, "
            f"n_frames, n_channels, height, width); got a {ndim}-D input"
            + (f" of shape {tuple(shape)}." if shape is not None else ".")
            + (
                " Reshape your data: X.reshape(-1, 1) for a single feature, "
                "X.reshape(1, -1) for a single sample."
                if ndim == 1
                else ""
            )
        )
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    X = check_array(
        X, allow_nd=True, dtype="numeric", ensure_all_finite=True, input_name=input_name
    )
    if ndim > 2 and min(X.shape[1:]) < 1:
        raise ValueError(f"{input_name} has an empty axis: shape {X.shape}.")
    return X


def _full_boxes(shape, k):
    """The whole input as a box per view: ``(0, 0, width, height)`` or ``(0, n)``."""
    if len(shape) == 2:
        return np.tile([0.0, float(shape[1])], (k, 1))
    height, width = shape[-2:]
    return np.tile([0.0, 0.0, float(width), float(height)], (k, 1))


def _all_frames(shape, k):
    """The frame window ``(0, n_frames)`` per view of clips, None otherwise."""
    if len(shape) != 5:
        return None
    return np.tile([0, shape[1]], (k, 1))


def _per_sample(windows, n, m):
    """The per-view arrays of ``windows`` as (n_samples, n_views, ...)."""
    out = {}
    for name, value in windows.items():
        if isinstance(value, np.ndarray):
            value = value.reshape(n, m, *value.shape[1:])
        elif isinstance(value, tuple):  # the components of a composition
            value = tuple(Bunch(**_per_sample(part, n, m)) for part in value)
        out[name] = value
    return out


class _CropPlan:
    """The random resized crops of one input shape (see the module docstring)."""

    def __init__(self, geometry, n_views, salt):
        self.geometry = geometry
        self.n_views = n_views
        self.salt = salt
        self.view_shape = geometry.view_shape

    def _from_uniforms(self, u):
        boxes, starts = self.geometry.windows(u)
        return {"boxes": boxes, "starts": starts}

    def params(self, keys, view_index):
        u = _uniforms_at(keys, self.salt, view_index, self.geometry.n_draws)
        return self._from_uniforms(u)

    def random_params(self, rng, k):
        return self._from_uniforms(rng.random((k, self.geometry.n_draws)))

    def cut(self, X, sample_index, params):
        return self.geometry.cut(X, sample_index, params["boxes"], params["starts"])

    def windows(self, params):
        starts = params["starts"]
        frames = None
        if starts is not None:
            frames = np.stack([starts, starts + self.geometry.clip_length], axis=-1)
        return {"boxes": params["boxes"], "starts": starts, "frames": frames}

    def to_input(self, params, boxes):
        return self.geometry.to_input(params["boxes"], boxes)


class _BaseViews(TransformerMixin, BaseEstimator):
    """The views interface shared by every views object (see module docstring).

    Subclasses define ``_parameter_constraints``, ``n_views`` (a parameter
    or a property) and ``_plan(shape, *, training, position)``, which checks
    the parameters against an input shape and returns the plan of the call;
    ``position`` is the index of the views object among the leaves of a
    composition (0 alone), which separates the random streams of components
    that share a ``random_state``.
    """

    _n_leaves = 1

    def _salt(self, training, position):
        """The salt of one call of this views object."""
        salt = _draw_salt(self.random_state, training=training)
        return _component_salt(salt, position)

    def _prepare(self, X, *, reset=False, training=False):
        """Validate the parameters and ``X``; the plan of its views."""
        self._validate_params()
        X_in, X = X, _check_views_input(X)
        if X.ndim == 2 and (reset or hasattr(self, "n_features_in_")):
            validate_data(self, X_in, reset=reset, skip_check_array=True)
        elif reset:
            for attr in ("n_features_in_", "feature_names_in_"):
                self.__dict__.pop(attr, None)
        return X, self._plan(X.shape, training=training, position=0)

    def _record(self, plan):
        """Record the resolved geometry of the training input (in ``fit``)."""
        self.view_shape_ = plan.view_shape

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Validate the parameters and record the input; nothing is learned.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, \
n_channels, height, width) or (n_samples, n_frames, n_channels, height, width)
            Inputs.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted views.
        """
        _, plan = self._prepare(X, reset=True)
        self._record(plan)
        return self

    def sample_windows(self, X, *, training=False):
        """The geometry of every view, without cutting.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, \
n_channels, height, width) or (n_samples, n_frames, n_channels, height, width)
            Inputs.
        training : bool, default=False
            The training views (those :meth:`iter_views` cuts with
            ``training=True``), a stream independent of the prediction views
            of the same ``random_state``.

        Returns
        -------
        windows : Bunch
            ``boxes``: array of shape (n_samples, n_views, 4) with the
            ``(x1, y1, x2, y2)`` corners, in continuous pixel coordinates of
            the input (the image spans ``[0, width] x [0, height]``), of the
            region each view is computed from, or of shape (n_samples,
            n_views, 2) with ``(start, stop)`` feature positions for 2-D
            input; ``starts``: array of shape (n_samples, n_views) with the
            first frame of each clip view and ``frames``: array of shape
            (n_samples, n_views, 2) with its frame window ``(start, stop)``
            (both None for images and 2-D input); ``view_shape``: the shape
            of one view; and the entries a views type adds (e.g.
            ``elements`` for :class:`DihedralViews`).
        """
        training = check_bool(training, "training")
        X, plan = self._prepare(X, training=training)
        n, m = X.shape[0], plan.n_views
        keys = np.repeat(_row_keys(X), m)
        params = plan.params(keys, np.tile(np.arange(m), n))
        return Bunch(
            **_per_sample(plan.windows(params), n, m), view_shape=plan.view_shape
        )

    def iter_views(self, X, *, batch_size=None, training=False):
        """Cut the views of every input, in chunks of at most ``batch_size``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, \
n_channels, height, width) or (n_samples, n_frames, n_channels, height, width)
            Inputs; uint8 images and clips are scaled to ``[0, 1]``.
        batch_size : int or None, default=None
            Largest number of views per chunk; None cuts all ``n_samples *
            n_views`` views in one chunk.  Chunking never changes a view.
            The geometry of a chunk is computed with the chunk, so
            ``batch_size`` bounds the memory of the views of a call however
            large ``n_views`` is.
        training : bool, default=False
            Cut the training views, a stream independent of the prediction
            views of the same ``random_state``.

        Returns
        -------
        chunks : iterator of ndarray of shape (n_chunk_views,) + view_shape
            The views in sample-major order (the views of sample 0, then of
            sample 1, ...); each chunk is cut when it is reached.  Parameters
            and ``X`` are validated before the first.
        """
        if batch_size is not None:
            batch_size = check_int(batch_size, "batch_size", low=1)
        X, plan = self._prepare(X, training=check_bool(training, "training"))
        return self._chunks(X, plan, batch_size)

    @staticmethod
    def _chunks(X, plan, batch_size):
        keys = _row_keys(X)
        m = plan.n_views
        total = X.shape[0] * m
        step = batch_size or max(total, 1)
        for lo in range(0, total, step):
            flat = np.arange(lo, min(lo + step, total))
            sample_index, view_index = np.divmod(flat, m)
            params = plan.params(keys[sample_index], view_index)
            yield plan.cut(X, sample_index, params)

    def transform(self, X):
        """Cut the views of every input.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, \
n_channels, height, width) or (n_samples, n_frames, n_channels, height, width)
            Inputs; uint8 images and clips are scaled to ``[0, 1]``.

        Returns
        -------
        views : ndarray of shape (n_samples, n_views) + view_shape
            The views of every input.
        """
        X, plan = self._prepare(X)
        (views,) = self._chunks(X, plan, None)
        return views.reshape(X.shape[0], plan.n_views, *views.shape[1:])

    def training_dataset(self, X, y):
        """Torch dataset that cuts a fresh random view of a sample on access.

        Trains a skorch net on random views: every epoch (and the net's
        internal validation split alike) sees new views.  They are drawn from
        a generator seeded from ``random_state`` (folded with the worker seed
        in :class:`torch.utils.data.DataLoader` worker processes); a batch is
        cut by one batched call.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, \
n_channels, height, width) or (n_samples, n_frames, n_channels, height, width)
            Inputs; uint8 images and clips are scaled to ``[0, 1]``.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets returned alongside the views.

        Returns
        -------
        dataset : torch.utils.data.Dataset
            ``dataset[i]`` is ``(view, y[i])`` with a new float32 tensor
            ``view`` of shape ``view_shape`` on every access.
        """
        X, plan = self._prepare(X, training=True)
        check_consistent_length(X, y)
        return _ViewDataset(X, y, plan, plan.salt)

    def _with_random_state(self, random_state):
        """A copy whose ``random_state`` is ``random_state`` where it is None."""
        if self.random_state is not None:
            return self
        return self._copy(random_state=random_state)

    def _with_view_shape(self, view_shape):
        """A copy whose free sizes (None) are those giving ``view_shape``."""
        return self

    def _copy(self, **params):
        from sklearn.base import clone

        return clone(self).set_params(**params)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags


class RandomResizedCropViews(_BaseViews):
    """Cut ``n_views`` random resized crops of every input, in batches.

    Works on images ``(n_samples, n_channels, height, width)``, clips
    ``(n_samples, n_frames, n_channels, height, width)`` and flat 2-D
    feature matrices ``(n_samples, n_features)``, and turns ``(n_samples,
    ...)`` inputs into ``(n_samples, n_views, ...)`` views:

    - images: a box covering a fraction of the image area drawn uniformly in
      ``crop_scale``, with a width/height aspect ratio drawn log-uniformly in
      ``crop_ratio`` (as :class:`torchvision.transforms.v2.RandomResizedCrop`
      does), placed uniformly inside the image and resized to
      ``output_size``.  A box wider or taller than the image is clipped to
      it with its area kept, so the area fraction is exact.  The crops are
      cut by :func:`torchvision.ops.roi_align` (``aligned=True``, adaptive
      sampling: bilinear when enlarging, averaged over the covered pixels
      when shrinking) from patches gathered in the input's dtype: only the
      pixels of the boxes are converted to float, never whole frames.
    - clips: one box per view, used on every frame, and a random window of
      ``clip_length`` consecutive frames.
    - flat 2-D: a contiguous window of the feature vector whose length is a
      fraction of ``n_features`` drawn in ``crop_scale`` (``crop_ratio`` is
      not used), resampled to ``output_size`` values by linear interpolation.

    The views of a sample depend only on ``random_state``, the sample's values
    and the view index (a content-keyed counter-based generator), never on
    the other samples of the batch or their order.  :meth:`sample_windows`
    returns their geometry (the boxes and the frame windows), so that what a
    model saw can be measured on the input.  The transformer is stateless:
    :meth:`fit` only validates and records the input, and :meth:`transform`
    works without it.

    Parameters
    ----------
    n_views : int, default=10
        Number of views ``m`` per input.
    crop_scale : tuple of float, default=(0.1, 0.2)
        Range ``(min, max)`` of the fraction of the image area (of the feature
        vector length for 2-D input) covered by a crop, ``0 < min <= max <=
        1``.  The paper uses 10-20 %.
    crop_ratio : tuple of float, default=(3/4, 4/3)
        Range ``(min, max)`` of the width/height aspect ratio of a crop,
        sampled log-uniformly, ``0 < min <= max``.
    output_size : int, tuple of int or None, default=None
        Size of every view: ``(height, width)`` or an int for a square, for
        images and clips; the number of values for 2-D input.  It must not
        exceed the input size.  None: the size of a square crop at the mean
        scale, ``round(sqrt(mean(crop_scale)) * height)`` by
        ``round(sqrt(mean(crop_scale)) * width)`` (``round(mean(crop_scale)
        * n_features)`` for 2-D input), at least 1.
    clip_length : int or None, default=None
        Number of consecutive frames of a clip view (the paper takes 9 of 100).
        None takes every frame.  Ignored for images and 2-D input.
    random_state : int, RandomState instance or None, default=None
        Seed of the views.  An int gives the same views on every call; None
        gives fresh views on every call.

    Attributes
    ----------
    output_size_ : int or tuple of int
        Resolved size of every view of the training input.
    clip_length_ : int or None
        Resolved clip length (None for images and 2-D input).
    view_shape_ : tuple of int
        Shape of one view of the training input.
    n_features_in_ : int
        Number of features seen during fit (2-D input only).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names seen during fit (2-D input with string column names).

    See Also
    --------
    DihedralViews : The 8 flips and 90-degree rotations of every input.
    ComposedViews : Every view of one views object seen through another.
    TransformViews : Views from any callable or torchvision transform.
    MultiViewClassifier : Classifier that predicts from these views.

    Notes
    -----
    Images and clips come out as float32; uint8 input is scaled to
    ``[0, 1]`` (divided by 255), other dtypes keep their values.  2-D views
    are float64 (float32 for float32 input).

    Examples
    --------
    >>> import numpy as np
    >>> from skcells.multiview import RandomResizedCropViews
    >>> X = np.random.default_rng(0).integers(0, 256, (2, 3, 32, 32), dtype=np.uint8)
    >>> views = RandomResizedCropViews(n_views=4, output_size=8, random_state=0)
    >>> V = views.transform(X)
    >>> V.shape, V.dtype
    ((2, 4, 3, 8, 8), dtype('float32'))
    >>> boxes = views.sample_windows(X).boxes
    >>> area = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
    >>> bool(np.all((area >= 0.1 * 32 * 32 - 1e-9) & (area <= 0.2 * 32 * 32 + 1e-9)))
    True
    """

    _parameter_constraints = {
        "n_views": [Interval(numbers.Integral, 1, None, closed="left")],
        "crop_scale": ["array-like"],
        "crop_ratio": ["array-like"],
        "output_size": [
            None,
            Interval(numbers.Integral, 1, None, closed="left"),
            "array-like",
        ],
        "clip_length": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_views=10,
        *,
        crop_scale=(0.1, 0.2),
        crop_ratio=(3 / 4, 4 / 3),
        output_size=None,
        clip_length=None,
        random_state=None,
    ):
        self.n_views = n_views
        self.crop_scale = crop_scale
        self.crop_ratio = crop_ratio
        self.output_size = output_size
        self.clip_length = clip_length
        self.random_state = random_state

    def _plan(self, shape, *, training, position):
        crop_scale = check_range(
            self.crop_scale, "crop_scale", low=0, low_open=True, high=1
        )
        crop_ratio = check_range(self.crop_ratio, "crop_ratio", low=0, low_open=True)
        geometry = _Geometry.resolve(
            shape,
            crop_scale=crop_scale,
            crop_ratio=crop_ratio,
            output_size=self.output_size,
            clip_length=self.clip_length,
        )
        return _CropPlan(geometry, self.n_views, self._salt(training, position))

    def _record(self, plan):
        self.output_size_ = plan.geometry.output_size
        self.clip_length_ = plan.geometry.clip_length
        self.view_shape_ = plan.view_shape

    def _with_view_shape(self, view_shape):
        params = {}
        if self.output_size is None:
            params["output_size"] = (
                view_shape[0] if len(view_shape) == 1 else tuple(view_shape[-2:])
            )
        if self.clip_length is None and len(view_shape) == 4:
            params["clip_length"] = view_shape[0]
        return self._copy(**params) if params else self

    # The methods below only add examples to the shared implementation.
    def fit(self, X, y=None):
        """Validate the parameters and record the input; nothing is learned.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, \
n_channels, height, width) or (n_samples, n_frames, n_channels, height, width)
            Inputs.
        y : None
            Ignored.

        Returns
        -------
        self : RandomResizedCropViews
            The fitted transformer.
        """
        return super().fit(X, y)

    def sample_windows(self, X, *, training=False):
        """Draw the crop geometry of every view without cutting.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, \
n_channels, height, width) or (n_samples, n_frames, n_channels, height, width)
            Inputs.
        training : bool, default=False
            Draw the training views (those :meth:`iter_views` cuts with
            ``training=True``), a stream independent of the prediction views
            of the same ``random_state``.

        Returns
        -------
        windows : Bunch
            ``boxes``: array of shape (n_samples, n_views, 4) with the
            ``(x1, y1, x2, y2)`` corners in continuous pixel coordinates (the
            image spans ``[0, width] x [0, height]``), or of shape
            (n_samples, n_views, 2) with ``(start, stop)`` feature positions
            for 2-D input; ``starts``: array of shape (n_samples, n_views)
            with the first frame of each clip view and ``frames``: array of
            shape (n_samples, n_views, 2) with its frame window ``(start,
            stop)`` (both None for images and 2-D input); ``view_shape``: the
            shape of one view.

        Examples
        --------
        >>> import numpy as np
        >>> from skcells.multiview import RandomResizedCropViews
        >>> w = RandomResizedCropViews(n_views=3, random_state=0).sample_windows(
        ...     np.zeros((2, 5, 3, 16, 16)))
        >>> w.boxes.shape, w.frames.shape, w.view_shape
        ((2, 3, 4), (2, 3, 2), (5, 3, 6, 6))
        """
        return super().sample_windows(X, training=training)

    def iter_views(self, X, *, batch_size=None, training=False):
        """Cut the views of every input, in chunks of at most ``batch_size``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, \
n_channels, height, width) or (n_samples, n_frames, n_channels, height, width)
            Inputs; uint8 images and clips are scaled to ``[0, 1]``.
        batch_size : int or None, default=None
            Largest number of views per chunk; None cuts all ``n_samples *
            n_views`` views in one chunk.  Chunking never changes a view, and
            the boxes of a chunk are drawn with the chunk, so ``batch_size``
            bounds the memory however large ``n_views`` is.
        training : bool, default=False
            Cut the training views, a stream independent of the prediction
            views of the same ``random_state``.

        Returns
        -------
        chunks : iterator of ndarray of shape (n_chunk_views,) + view_shape
            The views in sample-major order (the views of sample 0, then of
            sample 1, ...); each chunk is cut when it is reached.  Parameters
            and ``X`` are validated before the first.

        Examples
        --------
        >>> import numpy as np
        >>> from skcells.multiview import RandomResizedCropViews
        >>> views = RandomResizedCropViews(n_views=3, output_size=4, random_state=0)
        >>> [c.shape for c in views.iter_views(np.zeros((2, 1, 8, 8)), batch_size=4)]
        [(4, 1, 4, 4), (2, 1, 4, 4)]
        """
        return super().iter_views(X, batch_size=batch_size, training=training)

    def transform(self, X):
        """Cut the views of every input.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, \
n_channels, height, width) or (n_samples, n_frames, n_channels, height, width)
            Inputs; uint8 images and clips are scaled to ``[0, 1]``.

        Returns
        -------
        views : ndarray of shape (n_samples, n_views) + view_shape
            ``view_shape`` is ``(n_channels, out_height, out_width)`` for
            images, ``(clip_length, n_channels, out_height, out_width)`` for
            clips and ``(output_size,)`` for 2-D input.

        Examples
        --------
        >>> import numpy as np
        >>> from skcells.multiview import RandomResizedCropViews
        >>> X = np.arange(20.0).reshape(2, 10)
        >>> full = RandomResizedCropViews(n_views=2, crop_scale=(1, 1), output_size=5)
        >>> full.transform(X)[0]
        array([[0.5, 2.5, 4.5, 6.5, 8.5],
               [0.5, 2.5, 4.5, 6.5, 8.5]])
        """
        return super().transform(X)

    def training_dataset(self, X, y):
        """Torch dataset that cuts a fresh random view of a sample on access.

        Trains a skorch net on random resized crops: every epoch (and the
        net's internal validation split alike) sees new views.  The views are
        drawn from a generator seeded from ``random_state`` (folded with the
        worker seed in :class:`torch.utils.data.DataLoader` worker processes);
        a batch is cut by one batched call.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, \
n_channels, height, width) or (n_samples, n_frames, n_channels, height, width)
            Inputs; uint8 images and clips are scaled to ``[0, 1]``.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets returned alongside the views.

        Returns
        -------
        dataset : torch.utils.data.Dataset
            ``dataset[i]`` is ``(view, y[i])`` with a new float32 tensor
            ``view`` of shape ``view_shape`` on every access.

        Examples
        --------
        >>> import numpy as np
        >>> from skcells.multiview import RandomResizedCropViews
        >>> views = RandomResizedCropViews(output_size=4, random_state=0)
        >>> dataset = views.training_dataset(np.zeros((3, 1, 8, 8)), [0, 1, 0])
        >>> view, target = dataset[1]
        >>> tuple(view.shape), int(target)
        ((1, 4, 4), 1)
        """
        return super().training_dataset(X, y)

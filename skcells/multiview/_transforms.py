"""Views beyond random crops: the dihedral group, user transforms, compositions."""

import copy
import numbers

import numpy as np
import torch
from sklearn.utils._param_validation import HasMethods, Interval

from ._streams import _uniforms_at
from ._views import _all_frames, _BaseViews, _full_boxes

__all__ = ["ComposedViews", "DihedralViews", "TransformViews"]

_VIEWS_METHODS = ["fit", "iter_views", "training_dataset", "sample_windows"]

# Element e of the dihedral group: a left-right flip when e >= 4, then e % 4
# rotations by 90 degrees (numpy.rot90 on the last two axes).
_ROTATIONS = np.arange(8) % 4
_FLIPS = np.arange(8) >= 4
# The elements that keep the height and width: identity, 180-degree rotation,
# left-right flip, up-down flip (= left-right flip then 180 degrees).
_FLIP_GROUP = np.array([0, 2, 4, 6])


def _to_float(arr):
    """float32 copy of ``arr``; uint8 pixels are scaled to [0, 1]."""
    if arr.dtype == np.uint8:
        return np.multiply(arr, np.float32(1.0 / 255.0), dtype=np.float32)
    return np.array(arr, dtype=np.float32)


def _apply_element(x, element):
    """Element ``element`` of the dihedral group on the last two axes of ``x``."""
    if _FLIPS[element]:
        x = x[..., ::-1]
    return np.rot90(x, _ROTATIONS[element], axes=(-2, -1))


def _inverse_points(x, y, element, height, width):
    """Input coordinates of the points ``(x, y)`` of a view of ``element``.

    ``height`` and ``width`` are those of the input.  One 90-degree rotation
    (numpy.rot90) maps a point ``(x, y)`` of an image of width ``w`` to
    ``(y, w - x)``, so its inverse maps ``(x', y')`` to ``(w - y', x')``; a
    left-right flip maps ``x`` to ``w - x``.
    """
    for r in range(_ROTATIONS[element], 0, -1):
        # undo the r-th rotation; before it the image had width w_r
        w_before = width if r % 2 == 1 else height
        x, y = w_before - y, x
    if _FLIPS[element]:
        x = width - x
    return x, y


class _DihedralPlan:
    def __init__(self, shape, elements, salt):
        self.shape = shape
        self.elements = elements
        self.n_views = len(elements)
        self.salt = salt
        self.view_shape = tuple(shape[1:])

    def params(self, keys, view_index):
        return {"elements": self.elements[np.asarray(view_index)]}

    def random_params(self, rng, k):
        pick = np.floor(rng.random(k) * self.n_views).astype(np.intp)
        return {"elements": self.elements[np.minimum(pick, self.n_views - 1)]}

    def cut(self, X, sample_index, params):
        elements = params["elements"]
        out = np.empty((len(sample_index), *self.view_shape), dtype=np.float32)
        for element in np.unique(elements):
            rows = np.flatnonzero(elements == element)
            out[rows] = _apply_element(_to_float(X[sample_index[rows]]), element)
        return out

    def windows(self, params):
        k = len(params["elements"])
        frames = _all_frames(self.shape, k)
        return {
            "boxes": _full_boxes(self.shape, k),
            "starts": None if frames is None else frames[:, 0],
            "frames": frames,
            "elements": params["elements"],
        }

    def to_input(self, params, boxes):
        height, width = self.shape[-2:]
        out = np.empty_like(boxes, dtype=np.float64)
        for element in np.unique(params["elements"]):
            rows = params["elements"] == element
            x1, y1 = _inverse_points(
                boxes[rows, 0], boxes[rows, 1], element, height, width
            )
            x2, y2 = _inverse_points(
                boxes[rows, 2], boxes[rows, 3], element, height, width
            )
            out[rows] = np.stack(
                [
                    np.minimum(x1, x2),
                    np.minimum(y1, y2),
                    np.maximum(x1, x2),
                    np.maximum(y1, y2),
                ],
                axis=1,
            )
        return out


class _Float32Views(_BaseViews):
    """Views objects whose views are float32 whatever the input dtype."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


class DihedralViews(_Float32Views):
    """The flips and 90-degree rotations of every input (the dihedral group).

    A microscope field has no preferred orientation: flipping or rotating it
    by 90 degrees shows the same cells.  The 8 elements of the dihedral group
    of the square are 8 deterministic views of every image or clip (the same
    transform on every frame).  View ``j`` applies a left-right flip when
    ``j >= 4`` (``x[..., ::-1]``), then ``j % 4`` rotations by 90 degrees
    (:func:`numpy.rot90` on the height and width axes): ``j = 0`` is the
    input itself, ``2`` the 180-degree rotation, ``4`` the left-right flip
    and ``6`` the up-down flip.  With ``rotations=False`` only these 4
    elements, which keep the height and width, are used.

    The views are whole inputs, as float32 (uint8 scaled to ``[0, 1]``)
    (compose with :class:`RandomResizedCropViews`
    through :class:`ComposedViews` for flipped crops).  Images and clips only;
    2-D input is refused.

    Parameters
    ----------
    rotations : bool, default=True
        Use the 8 elements (rotations need square inputs: height == width,
        else a ValueError) or, with False, the 4 that keep the shape, for
        inputs of any shape.
    random_state : int, RandomState instance or None, default=None
        Seed of the random group elements of :meth:`training_dataset` (the
        prediction views are the group itself and use no randomness).

    Attributes
    ----------
    view_shape_ : tuple of int
        Shape of one view of the training input.

    See Also
    --------
    RandomResizedCropViews : Random resized crops.
    ComposedViews : Every view of one views object seen through another.

    Examples
    --------
    >>> import numpy as np
    >>> from skcells.multiview import DihedralViews
    >>> X = np.arange(4.0).reshape(1, 1, 2, 2)
    >>> V = DihedralViews().transform(X)
    >>> V.shape
    (1, 8, 1, 2, 2)
    >>> V[0, 1, 0]  # one rotation by 90 degrees
    array([[1., 3.],
           [0., 2.]], dtype=float32)
    """

    _parameter_constraints = {
        "rotations": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(self, *, rotations=True, random_state=None):
        self.rotations = rotations
        self.random_state = random_state

    @property
    def n_views(self):
        """Number of views: 8, or 4 with ``rotations=False``."""
        return 8 if self.rotations else 4

    def _plan(self, shape, *, training, position):
        if len(shape) == 2:
            raise ValueError(
                "DihedralViews flips and rotates images (n_samples, n_channels, "
                "height, width) or clips (n_samples, n_frames, n_channels, "
                f"height, width); got 2-D input of shape {tuple(shape)}."
            )
        height, width = shape[-2:]
        if self.rotations and height != width:
            raise ValueError(
                f"DihedralViews(rotations=True) needs square inputs, got "
                f"{height}x{width}: a 90-degree rotation swaps height and width. "
                "Use rotations=False (the 4 flips and the 180-degree rotation, "
                "any shape), or crop squares first: ComposedViews("
                "RandomResizedCropViews(output_size=s), DihedralViews())."
            )
        elements = np.arange(8) if self.rotations else _FLIP_GROUP
        return _DihedralPlan(tuple(shape), elements, self._salt(training, position))


class _TransformPlan:
    def __init__(self, shape, func, n_views, salt, view_shape):
        self.shape = shape
        self.func = func
        self.n_views = n_views
        self.salt = salt
        self.view_shape = view_shape

    @staticmethod
    def run(func, x, seed):
        """``func`` on the float sample ``x`` with torch seeded by ``seed``."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            out = func(torch.from_numpy(x))
        if isinstance(out, torch.Tensor):
            out = out.detach().cpu().numpy()
        return np.asarray(out, dtype=np.float32)

    def params(self, keys, view_index):
        u = _uniforms_at(keys, self.salt, view_index, 1)[:, 0]
        return {"seeds": (u * (1 << 53)).astype(np.int64)}

    def random_params(self, rng, k):
        return {"seeds": rng.integers(0, 1 << 53, size=k, dtype=np.int64)}

    def cut(self, X, sample_index, params):
        out = np.empty((len(sample_index), *self.view_shape), dtype=np.float32)
        for row, (i, seed) in enumerate(zip(sample_index, params["seeds"])):
            view = self.run(self.func, _to_float(X[i]), seed)
            if view.shape != self.view_shape:
                raise ValueError(
                    f"func returned a view of shape {view.shape} after "
                    f"one of shape {self.view_shape}; every view must have the "
                    "same shape (end a random transform with a fixed-size "
                    "resize)."
                )
            out[row] = view
        return out

    def windows(self, params):
        k = len(params["seeds"])
        frames = _all_frames(self.shape, k)
        return {
            "boxes": _full_boxes(self.shape, k),
            "starts": None if frames is None else frames[:, 0],
            "frames": frames,
            "seeds": params["seeds"],
        }

    def to_input(self, params, boxes):
        # where a user transform takes a view from is unknown: the whole input
        return _full_boxes(self.shape, len(params["seeds"]))


class TransformViews(_Float32Views):
    """Views from any callable, such as a torchvision v2 transform.

    View ``j`` of a sample is ``func(x)``, where ``x`` is the sample as
    a float32 :class:`torch.Tensor` (uint8 scaled to ``[0, 1]``) of shape
    ``(n_channels, height, width)`` for images, ``(n_frames, n_channels,
    height, width)`` for clips (a torchvision v2 transform then draws its
    parameters once and applies them to every frame) or ``(n_features,)`` for
    2-D input, and torch's default generator is seeded, inside
    :func:`torch.random.fork_rng`, with a seed drawn for this sample and view.
    The views are therefore deterministic with an int ``random_state`` and do
    not depend on batching, provided ``func`` draws its randomness from
    torch (torchvision transforms do); NumPy's or Python's global generators
    are not seeded.  The callable may return a tensor or an array; every view
    must have the same shape; they are returned as float32.  The views are
    cut one at a time, in Python.

    Parameters
    ----------
    func : callable
        Maps one float32 sample tensor to one view, e.g. a torchvision v2
        transform.
    n_views : int, default=10
        Number of views per input.
    random_state : int, RandomState instance or None, default=None
        Seed of the per-view seeds.  An int gives the same views on every
        call; None gives fresh views on every call.

    Attributes
    ----------
    view_shape_ : tuple of int
        Shape of one view of the training input.

    See Also
    --------
    ComposedViews : Every view of one views object seen through another.

    Examples
    --------
    >>> import numpy as np
    >>> from torchvision.transforms import v2
    >>> from skcells.multiview import TransformViews
    >>> X = np.random.default_rng(0).integers(0, 256, (2, 3, 16, 16), dtype=np.uint8)
    >>> views = TransformViews(v2.RandomCrop(8), n_views=4, random_state=0)
    >>> V = views.transform(X)
    >>> V.shape
    (2, 4, 3, 8, 8)
    >>> bool(np.array_equal(views.transform(X[1:]), V[1:]))
    True
    """

    _parameter_constraints = {
        "func": [callable],
        "n_views": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, func, *, n_views=10, random_state=None):
        self.func = func
        self.n_views = n_views
        self.random_state = random_state

    def get_params(self, deep=True):
        """Get the parameters of these views.

        ``func`` is a value, never an estimator whose parameters are listed,
        even when it has a ``get_params`` of its own (torchvision's transforms
        do, with another meaning).

        Parameters
        ----------
        deep : bool, default=True
            Ignored: the views have no sub-estimators.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        return super().get_params(deep=False)

    def __sklearn_clone__(self):
        # func is deep-copied, never cloned as an estimator
        bare = copy.copy(self)
        bare.func = None
        new = super(TransformViews, bare).__sklearn_clone__()
        return new.set_params(func=copy.deepcopy(self.func))

    def _plan(self, shape, *, training, position):
        # the shape of a view: the transform on a zero sample
        probe = _TransformPlan.run(self.func, np.zeros(shape[1:], dtype=np.float32), 0)
        if probe.ndim == 0:
            raise ValueError(
                "func must return an array or tensor per sample, got a scalar."
            )
        return _TransformPlan(
            tuple(shape),
            self.func,
            self.n_views,
            self._salt(training, position),
            probe.shape,
        )


class _ComposedPlan:
    def __init__(self, first, second):
        self.first = first
        self.second = second
        self.n_views = first.n_views * second.n_views
        self.salt = first.salt
        self.view_shape = second.view_shape

    def params(self, keys, view_index):
        outer, inner = np.divmod(np.asarray(view_index), self.second.n_views)
        return {
            "first": self.first.params(keys, outer),
            "second": self.second.params(keys, inner),
        }

    def random_params(self, rng, k):
        return {
            "first": self.first.random_params(rng, k),
            "second": self.second.random_params(rng, k),
        }

    def cut(self, X, sample_index, params):
        views = self.first.cut(X, sample_index, params["first"])
        return self.second.cut(views, np.arange(len(views)), params["second"])

    def windows(self, params):
        first = self.first.windows(params["first"])
        second = self.second.windows(params["second"])
        windows = {
            "boxes": self.first.to_input(params["first"], second["boxes"]),
            "starts": first["starts"],
            "frames": first["frames"],
        }
        if first["frames"] is not None and second["frames"] is not None:
            windows["frames"] = first["frames"][:, :1] + second["frames"]
            windows["starts"] = windows["frames"][:, 0]
        for part in (first, second):
            for name, value in part.items():
                windows.setdefault(name, value)
        windows["components"] = (first, second)
        return windows

    def to_input(self, params, boxes):
        inner = self.second.to_input(params["second"], boxes)
        return self.first.to_input(params["first"], inner)


class ComposedViews(_BaseViews):
    """Every view of ``first`` seen through every view of ``second``.

    The product of two views objects: ``first`` cuts its views of the input,
    and ``second`` is applied to each of them, so there are
    ``first.n_views * second.n_views`` views per input; view ``j`` is view
    ``j % second.n_views`` (of ``second``) of view ``j // second.n_views``
    (of ``first``).  ``ComposedViews(RandomResizedCropViews(n_views=5),
    DihedralViews())`` gives 40 views: each crop in its 8 orientations.
    The first component draws exactly the views it draws alone; the second
    draws from a stream of its own even with the same ``random_state``.
    Training draws a random view of each component.  Nest compositions for
    more than two.

    Parameters
    ----------
    first : views object
        Cuts views of the input (e.g. :class:`RandomResizedCropViews`).
    second : views object
        Is applied to each view of ``first``.

    Attributes
    ----------
    view_shape_ : tuple of int
        Shape of one view of the training input.

    See Also
    --------
    RandomResizedCropViews, DihedralViews, TransformViews : The components.

    Notes
    -----
    :meth:`sample_windows` returns the ``boxes`` of the region of the input
    each view is computed from (the box of the second component mapped back
    through the first), the ``frames`` of clip views, each component's own
    entries (e.g. ``elements``) and ``components``, the geometry of each
    component in its own input's coordinates (those of the second are
    inside the views of the first).

    Examples
    --------
    >>> import numpy as np
    >>> from skcells.multiview import (ComposedViews, DihedralViews,
    ...                                RandomResizedCropViews)
    >>> X = np.random.default_rng(0).random((2, 1, 16, 16))
    >>> views = ComposedViews(
    ...     RandomResizedCropViews(n_views=3, output_size=6, random_state=0),
    ...     DihedralViews())
    >>> views.n_views, views.transform(X).shape
    (24, (2, 24, 1, 6, 6))
    >>> w = views.sample_windows(X)
    >>> w.boxes.shape, w.elements[0, :9].tolist()
    ((2, 24, 4), [0, 1, 2, 3, 4, 5, 6, 7, 0])
    """

    _parameter_constraints = {
        "first": [HasMethods(_VIEWS_METHODS)],
        "second": [HasMethods(_VIEWS_METHODS)],
    }

    def __init__(self, first, second):
        self.first = first
        self.second = second

    @property
    def n_views(self):
        """Number of views: ``first.n_views * second.n_views``."""
        return self.first.n_views * self.second.n_views

    @property
    def random_state(self):
        """None: each component has its own ``random_state``."""
        return None

    @property
    def _n_leaves(self):
        return self.first._n_leaves + self.second._n_leaves

    def _plan(self, shape, *, training, position):
        for name in ("first", "second"):
            if not isinstance(getattr(self, name), _BaseViews):
                raise TypeError(
                    f"{name} must be a views object of skcells.multiview "
                    "(RandomResizedCropViews, DihedralViews, TransformViews or "
                    f"ComposedViews), got {getattr(self, name)!r}; wrap a "
                    "callable in TransformViews."
                )
            getattr(self, name)._validate_params()
        first = self.first._plan(shape, training=training, position=position)
        second = self.second._plan(
            (1, *first.view_shape),
            training=training,
            position=position + self.first._n_leaves,
        )
        return _ComposedPlan(first, second)

    def _with_random_state(self, random_state):
        first = self.first._with_random_state(random_state)
        second = self.second._with_random_state(random_state)
        if first is self.first and second is self.second:
            return self
        return ComposedViews(first, second)

    def _with_view_shape(self, view_shape):
        # the first component sets the size when the second keeps it
        if isinstance(self.second, DihedralViews):
            first = self.first._with_view_shape(view_shape)
            if first is not self.first:
                return ComposedViews(first, self.second)
        return self

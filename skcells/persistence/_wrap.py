"""Wrap a network trained elsewhere in a fitted multi-view estimator."""

import numpy as np

__all__ = ["wrap_fitted_net"]


def wrap_fitted_net(net, X, *, f_params=None, classes=None, **params):
    """A fitted multi-view estimator around a trained skorch net, without training.

    The recipe for a network trained outside :class:`MultiViewClassifier`
    (for instance saved with skorch's ``save_params``): load its weights,
    freeze it (:class:`sklearn.frozen.FrozenEstimator`, so that ``fit`` never
    trains it), and fit the multi-view estimator on a few inputs ``X``, which
    only records the input's layout and resolves the view geometry.  The view
    parameters must describe the views the network was trained on: above
    all ``output_size`` (the size of a view, i.e. the network's input size)
    and ``clip_length`` for clips; ``n_views``, ``crop_scale`` and the other
    prediction parameters may be chosen freely.

    Parameters
    ----------
    net : skorch.NeuralNet
        A skorch classifier (for a :class:`~skcells.multiview.MultiViewClassifier`)
        or regressor (for a ``MultiViewRegressor``), trained, or with its
        trained weights in ``f_params``.
    X : array-like of shape (n_samples, ...)
        A few inputs shaped like those to predict (images or clips); they are
        not used for training.
    f_params : str or path-like, default=None
        A state dict written by ``net.save_params(f_params=...)``, loaded with
        ``torch.load(weights_only=True)`` into ``net`` (initialised first if
        needed).  None: ``net`` is already trained.
    classes : array-like of shape (n_classes,), default=None
        Class labels in the order of the network's outputs (classifiers
        only; set as the net's ``classes``); required unless the net was
        built with ``classes=`` or fitted on labels.  A net trained inside a
        multi-view classifier has the sorted labels (``np.unique(y)``).
    **params : dict
        Parameters of the multi-view estimator (``n_views``, ``crop_scale``,
        ``output_size``, ``aggregation``, ``random_state``...).

    Returns
    -------
    estimator : MultiViewClassifier or MultiViewRegressor
        The fitted estimator; its ``estimator_`` is the frozen ``net``.

    Raises
    ------
    ValueError
        When the net is neither trained nor given ``f_params``, the weights do
        not fit its module, or ``classes`` is missing or disagrees with the
        net's outputs.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> import torch
    >>> from skorch import NeuralNetClassifier
    >>> from skcells.persistence import wrap_fitted_net
    >>> def make_net():
    ...     return NeuralNetClassifier(
    ...         torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2)),
    ...         criterion=torch.nn.CrossEntropyLoss, max_epochs=1, verbose=0)
    >>> X = np.random.default_rng(0).uniform(size=(8, 1, 8, 8)).astype(np.float32)
    >>> f_params = Path(tempfile.mkdtemp()) / "weights.pt"
    >>> make_net().initialize().save_params(f_params=f_params)
    >>> clf = wrap_fitted_net(make_net(), X, f_params=f_params,
    ...                       classes=["high", "low"], n_views=4, output_size=4,
    ...                       random_state=0)
    >>> clf.classes_, clf.predict(X[:2]).shape
    (array(['high', 'low'], dtype='<U4'), (2,))
    """
    import torch
    from sklearn.base import is_classifier, is_regressor
    from sklearn.frozen import FrozenEstimator
    from skorch import NeuralNet

    from .. import multiview

    if not isinstance(net, NeuralNet):
        raise TypeError(
            f"net must be a skorch NeuralNet (classifier or regressor), got "
            f"{type(net).__name__}."
        )
    if f_params is not None:
        if not getattr(net, "initialized_", False):
            with torch.random.fork_rng(devices=[]):
                net.initialize()
        try:
            state = torch.load(
                f_params,
                map_location=torch.device(net.device or "cpu"),
                weights_only=True,
            )
            net.module_.load_state_dict(state)
        except FileNotFoundError:
            raise
        except Exception as exc:
            raise ValueError(
                f"f_params={str(f_params)!r} cannot be loaded into the net's "
                f"module {type(net.module_).__name__} ({exc})."
            ) from None
    elif not getattr(net, "initialized_", False):
        raise ValueError(
            "net is not trained: pass a fitted net, or its weights as f_params= "
            "(a file written by net.save_params(f_params=...))."
        )
    n = len(X)
    if n < 1:
        raise ValueError("X must hold at least one input.")
    if is_classifier(net):
        own = getattr(net, "classes", None)
        if classes is None:
            if own is None and not hasattr(net, "classes_inferred_"):
                raise ValueError(
                    "classes is required: the class labels in the order of the "
                    "net's outputs (or build the net with classes=...)."
                )
            classes = net.classes_
        classes = np.asarray(classes)
        if (
            classes.ndim != 1
            or len(np.unique(classes)) != len(classes)
            or (len(classes) < 2)
        ):
            raise ValueError(
                "classes must hold at least 2 distinct labels, got "
                f"{classes.tolist()!r}."
            )
        if own is not None and not np.array_equal(np.asarray(own), classes):
            raise ValueError(
                f"classes={classes.tolist()!r} differs from the net's own classes "
                f"{list(own)!r}."
            )
        set_classes = own is None
        if set_classes:
            net.set_params(classes=classes.tolist())
        estimator = multiview.MultiViewClassifier(FrozenEstimator(net), **params)
        y = np.resize(classes, n)
    elif is_regressor(net):
        regressor = getattr(multiview, "MultiViewRegressor", None)
        if regressor is None:  # pragma: no cover (until the regressor exists)
            raise TypeError("this skcells has no MultiViewRegressor.")
        estimator = regressor(FrozenEstimator(net), **params)
        y = np.zeros(n)
        set_classes = False
    else:
        raise TypeError(
            f"net must be a classifier or a regressor, got {type(net).__name__}."
        )
    try:
        estimator.fit(X, y)
        # Check the net's outputs against classes_ now rather than at the
        # first prediction.
        estimator.predict(X[:1])
    except BaseException:
        if set_classes:  # leave the net as it was given
            net.set_params(classes=None)
        raise
    return estimator

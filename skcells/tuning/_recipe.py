"""The model that ``skcells tune`` tunes: one recipe, fitted once, cached.

``skcells tune`` tunes predict-time parameters, so every worker of a study
must score its trials on the very same fitted model.  :func:`tuning_problem`
makes that cheap and safe: the model is a pure function of a small recipe
(scale, target, seed), fitted once under an inter-process lock and cached in
the data home under the recipe's hash.  The other workers of the machine
wait for the lock and load the cached model instead of training their own;
workers on other machines can share the cache through a common data home.
The sha256 of the cached model identifies it, so a study can check that all
its trials were scored on one model.
"""

import logging

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch

from ..datasets import get_data_home
from ..utils import (
    atomic_directory,
    cache_lock,
    check_array_1d,
    check_bool,
    check_int,
    check_option,
    params_hash,
    verify_manifest,
    write_manifest,
)

logger = logging.getLogger(__name__)

_CACHE_DIR = "tune_models"
_PARAMS_FILE = "params.pt"
#: The scales with a tuning model (``Scale.tuning`` of skcells.experiments).
_SCALES = ("smoke", "quick")


def _tuning_sizes(scale):
    """``Scale.tuning`` of an experiments scale: the tuning model's sizes."""
    from ..experiments import get_scale

    return get_scale(check_option(scale, "scale", _SCALES)).tuning


def tuning_recipe(scale="quick", *, target="wbc", random_state=0):
    """The full, JSON-serialisable description of the model to tune.

    Parameters
    ----------
    scale : {"smoke", "quick"}, default="quick"
        Size of the data and of the network (``Scale.tuning`` of
        :func:`skcells.experiments.get_scale`).
    target : {"wbc", "rbc"}, default="wbc"
        Which cell count the high/low label describes.
    random_state : int, default=0
        Seed of the data, the split, the network's weights and its views.

    Returns
    -------
    recipe : dict
        Every setting that changes the fitted model.

    Examples
    --------
    >>> from skcells.tuning import tuning_recipe
    >>> recipe = tuning_recipe("smoke", target="rbc", random_state=3)
    >>> recipe["data"]["n_videos"], recipe["data"]["target"], recipe["seed"]
    (48, 'rbc', 3)
    """
    s = _tuning_sizes(scale)
    target = check_option(target, "target", ("wbc", "rbc"))
    return {
        "scale": scale,
        "seed": check_int(random_state, "random_state", low=0),
        # Single frames (the paper's single-frame setting), half for validation.
        "data": {
            "n_videos": s["n_videos"],
            "n_frames": 1,
            "size": s["size"],
            "target": target,
        },
        "validation_fraction": 0.5,
        "net": {
            "module": "CNN9",
            "width": s["width"],
            "optimizer": "Adam",
            "lr": 1e-3,
            "max_epochs": s["max_epochs"],
            "batch_size": s["batch_size"],
            "curriculum_epochs": max(1, s["max_epochs"] // 2),
            "initial_competence": 0.1,
            "competence_power": 2,
        },
        # The paper's multi-view defaults; predict-time values get tuned.
        "multiview": {
            "n_views": 10,
            "crop_scale": [0.1, 0.2],
            "output_size": 32,
            "aggregation": "mode",
        },
    }


def tuning_problem(
    scale="quick", *, target="wbc", random_state=0, data_home=None, cache=True
):
    """Fit (or load from the cache) the model to tune, with validation data.

    Parameters
    ----------
    scale : {"smoke", "quick"}, default="quick"
        See :func:`tuning_recipe`.
    target : {"wbc", "rbc"}, default="wbc"
        See :func:`tuning_recipe`.
    random_state : int, default=0
        See :func:`tuning_recipe`.
    data_home : str or path-like, default=None
        Folder of the dataset and model caches, see
        :func:`skcells.datasets.get_data_home`.
    cache : bool, default=True
        Reuse and store the fitted model's weights in
        ``data_home / "tune_models" / <recipe hash>``.  Concurrent callers
        with the same recipe fit it once: the others wait for the lock and
        load it.  Only weights are stored and read (no pickled objects); the
        model itself is rebuilt from the recipe.

    Returns
    -------
    problem : sklearn.utils.Bunch
        ``model`` (the fitted :class:`~skcells.multiview.MultiViewClassifier`),
        ``X_val``, ``y_val`` (validation frames and labels), ``recipe``,
        ``recipe_hash``, ``model_sha256`` (sha256 of the cached weights; None
        when ``cache=False``) and ``model_path`` (the weights file; None when
        ``cache=False``).
    """
    recipe = tuning_recipe(scale, target=target, random_state=random_state)
    check_bool(cache, "cache")
    split = _data(recipe, data_home)
    return _problem(recipe, split, data_home, cache)


def tuning_recipe_from_data(X, y, *, difficulty=None, scale="quick", random_state=0):
    """The recipe of the tuning model fitted on your own images.

    :func:`tuning_recipe` with the synthetic data replaced by ``X``, ``y``
    and ``difficulty`` (recorded by their sha256, shape, dtype and classes),
    a network with as many outputs as ``y`` has classes and as many input
    channels as ``X``, and views no larger than the images.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_channels, height, width)
        Images (uint8, or floats in ``[0, 1]``), at least 28 pixels on a side
        (the CNN's smallest input).
    y : array-like of shape (n_samples,)
        Class labels, at least 2 samples of each class.
    difficulty : array-like of shape (n_samples,), default=None
        Per-sample difficulty for the curriculum; None trains without one.
    scale : {"smoke", "quick"}, default="quick"
        Size of the network and length of the training (see
        :func:`tuning_recipe`).
    random_state : int, default=0
        Seed of the split, the network's weights and its views.

    Returns
    -------
    recipe : dict
        Every setting that changes the fitted model.

    Examples
    --------
    >>> import numpy as np
    >>> from skcells.tuning import tuning_recipe_from_data
    >>> X = np.zeros((8, 1, 30, 40), dtype=np.uint8)
    >>> recipe = tuning_recipe_from_data(X, np.tile([0, 1], 4), scale="smoke")
    >>> recipe["data"]["classes"], recipe["net"]["in_channels"]
    ([0, 1], 1)
    >>> recipe["multiview"]["output_size"]
    30
    """
    import torch

    recipe = tuning_recipe(scale, random_state=random_state)
    if isinstance(X, torch.Tensor):
        X = X.numpy()
    X = np.asarray(X)
    if X.ndim != 4:
        raise ValueError(
            f"X must be images of shape (n_samples, n_channels, height, width), got "
            f"shape {X.shape}; tune a model of your own for other inputs (skcells "
            "tune --model)."
        )
    if X.dtype.kind not in "uif":
        raise TypeError(f"X must hold numbers, got dtype {X.dtype}.")
    if min(X.shape[2:]) < _MIN_SIZE:
        raise ValueError(
            f"X has images of {X.shape[2]}x{X.shape[3]} pixels; the tuning network "
            f"needs at least {_MIN_SIZE}x{_MIN_SIZE}."
        )
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(X):
        raise ValueError(
            f"y must hold one label per sample of X ({len(X)}), got shape {y.shape}."
        )
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2 or counts.min() < 2:
        raise ValueError(
            "y must hold at least 2 classes with at least 2 samples each, got "
            f"{dict(zip(classes.tolist(), counts.tolist()))}."
        )
    if difficulty is not None:
        difficulty = _check_difficulty(difficulty, len(X))
    recipe["data"] = {
        "source": "user",
        "n_samples": len(X),
        "shape": list(X.shape[1:]),
        "dtype": str(X.dtype),
        "classes": classes.tolist(),
        "sha256": {
            "X": _array_sha256(X),
            "y": _array_sha256(y),
            "difficulty": None if difficulty is None else _array_sha256(difficulty),
        },
    }
    recipe["net"]["n_classes"] = len(classes)
    recipe["net"]["in_channels"] = int(X.shape[1])
    recipe["multiview"]["output_size"] = min(
        recipe["multiview"]["output_size"], *X.shape[2:]
    )
    return recipe


def _check_difficulty(difficulty, n):
    difficulty = check_array_1d(difficulty, "difficulty")
    if len(difficulty) != n:
        raise ValueError(
            f"difficulty must hold one value per sample of X ({n}), got "
            f"{len(difficulty)}."
        )
    return difficulty


def tuning_problem_from_data(
    X, y, *, difficulty=None, scale="quick", random_state=0, data_home=None, cache=True
):
    """The tuning model of :func:`tuning_problem`, fitted on your own images.

    ``X`` and ``y`` are split in half (stratified by ``y``, seeded by
    ``random_state``); the network of :func:`tuning_recipe_from_data` is
    fitted on the first half, with ``difficulty`` when given, and the second
    half is the validation data that predict-time trials are scored on.  The
    model cache and a study's recipe check work as for the synthetic data.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_channels, height, width)
        Images, see :func:`tuning_recipe_from_data`.
    y : array-like of shape (n_samples,)
        Class labels.
    difficulty : array-like of shape (n_samples,), default=None
        Per-sample difficulty for the curriculum; None trains without one.
    scale : {"smoke", "quick"}, default="quick"
        See :func:`tuning_recipe`.
    random_state : int, default=0
        See :func:`tuning_recipe_from_data`.
    data_home : str or path-like, default=None
        Folder of the model cache.
    cache : bool, default=True
        Reuse and store the fitted weights, as :func:`tuning_problem` does.

    Returns
    -------
    problem : sklearn.utils.Bunch
        As returned by :func:`tuning_problem`.

    Examples
    --------
    >>> import numpy as np
    >>> from skcells.tuning import tuning_problem_from_data
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 256, size=(16, 3, 32, 32), dtype=np.uint8)
    >>> y = np.tile(["a", "b"], 8)
    >>> problem = tuning_problem_from_data(X, y, scale="smoke", cache=False)
    >>> problem.X_val.shape, problem.recipe["data"]["classes"]
    ((8, 3, 32, 32), ['a', 'b'])
    """
    check_bool(cache, "cache")
    recipe = tuning_recipe_from_data(
        X, y, difficulty=difficulty, scale=scale, random_state=random_state
    )
    X, y = np.asarray(X), np.asarray(y)
    d = np.zeros(len(X))
    if difficulty is not None:
        d = _check_difficulty(difficulty, len(X))
    X_train, X_val, y_train, y_val, d_train, _ = train_test_split(
        X,
        y,
        d,
        test_size=recipe["validation_fraction"],
        stratify=y,
        random_state=recipe["seed"],
    )
    split = (X_train, X_val, y_train, y_val, None if difficulty is None else d_train)
    return _problem(recipe, split, data_home, cache)


# The smallest input of the 9-layer CNN.
_MIN_SIZE = 28


def _array_sha256(a):
    """sha256 of an array's dtype, shape and values (strings by their text)."""
    import hashlib

    a = np.asarray(a)
    digest = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    if a.dtype.kind in "OUS":
        digest.update("\x00".join(map(str, a.ravel().tolist())).encode())
    else:
        digest.update(np.ascontiguousarray(a).view(np.uint8).data)
    return digest.hexdigest()


def _problem(recipe, split, data_home, cache):
    """Fit (or load from the cache) the recipe's model on ``split``."""
    recipe_hash = params_hash(recipe)
    X_train, X_val, y_train, y_val, d_train = split
    if not cache:
        model = _fit(recipe, X_train, y_train, d_train)
        model_sha256 = model_path = None
    else:
        folder = get_data_home(data_home) / _CACHE_DIR / recipe_hash[:20]
        manifest = _valid_manifest(folder, recipe)
        if manifest is None:
            with cache_lock(folder):
                # Another worker may have fitted it while we waited.
                manifest = _valid_manifest(folder, recipe)
                if manifest is None:
                    model = _fit(recipe, X_train, y_train, d_train)
                    with atomic_directory(folder) as tmp:
                        model.estimator_.save_params(f_params=tmp / _PARAMS_FILE)
                        write_manifest(tmp, [_PARAMS_FILE], recipe=recipe)
                    manifest = _valid_manifest(folder, recipe)
        model_path = folder / _PARAMS_FILE
        model = _restore(recipe, X_train, y_train, model_path)
        model_sha256 = manifest["files"][_PARAMS_FILE]["sha256"]
    return Bunch(
        model=model,
        X_val=X_val,
        y_val=y_val,
        recipe=recipe,
        recipe_hash=recipe_hash,
        model_sha256=model_sha256,
        model_path=model_path,
    )


def _valid_manifest(folder, recipe):
    """The cache's manifest if it is complete and made from ``recipe``."""
    if not folder.is_dir():
        return None
    manifest = verify_manifest(folder)
    if (
        manifest is None
        or manifest.get("recipe") != recipe
        or _PARAMS_FILE not in manifest.get("files", {})
    ):
        return None
    return manifest


def _restore(recipe, X_train, y_train, params_path):
    """Rebuild the fitted model from its recipe and its cached weights.

    Only tensors are read back (skorch's ``load_params`` loads with
    ``torch.load(weights_only=True)``), never pickled objects, so a data
    home shared between machines cannot smuggle code into a worker.  The
    multi-view classifier is fitted for zero epochs, which sets its fitted
    attributes (classes, view geometry) from the training data, and the
    trained weights are then loaded into its network.
    """
    model = tuning_model(recipe)
    epochs = model.estimator.max_epochs
    model.estimator.set_params(max_epochs=0)
    model.fit(X_train, y_train)
    try:
        model.estimator_.load_params(f_params=params_path)
    except Exception as exc:  # unreadable or not a state dict of this network
        raise ValueError(
            f"the cached tuning model {str(params_path)!r} cannot be loaded "
            f"({exc}); delete its folder to refit it."
        ) from exc
    model.estimator.set_params(max_epochs=epochs)
    model.estimator_.set_params(max_epochs=epochs)
    return model


def _data(recipe, data_home):
    """Single frames of the synthetic videos, split into train/validation."""
    from ..experiments import load_video_inputs

    d = recipe["data"]
    inputs, _ = load_video_inputs(
        d["target"],
        n_videos=d["n_videos"],
        n_frames=d["n_frames"],
        size=d["size"],
        random_state=recipe["seed"],
        data_home=data_home,
        verbose=False,
    )
    X, y, difficulty = inputs["frame"]
    X_train, X_val, y_train, y_val, d_train, _ = train_test_split(
        np.asarray(X),
        y,
        difficulty,
        test_size=recipe["validation_fraction"],
        stratify=y if np.unique(y).size > 1 else None,
        random_state=recipe["seed"],
    )
    return X_train, X_val, y_train, y_val, d_train


def tuning_model(recipe):
    """The unfitted model of a recipe: a curriculum CNN in a multi-view classifier.

    The network is :func:`skcells.experiments.make_net`'s, trained on every
    training frame in their order (no validation split, no shuffling), as
    the recipe's cached models always were.

    Parameters
    ----------
    recipe : dict
        Output of :func:`tuning_recipe`.

    Returns
    -------
    model : skcells.multiview.MultiViewClassifier
        The unfitted model; fit it with ``difficulty=``.

    Examples
    --------
    >>> from skcells.tuning import tuning_model, tuning_recipe
    >>> model = tuning_model(tuning_recipe("smoke"))
    >>> model.n_views, model.estimator.max_epochs, model.estimator.curriculum_epochs
    (10, 2, 1)
    """
    from ..experiments import make_net
    from ..multiview import MultiViewClassifier

    n = recipe["net"]
    mv = recipe["multiview"]
    model_params = {"width": n["width"]}
    if "in_channels" in n:  # recipes of the user's data
        model_params["in_channels"] = n["in_channels"]
    net = make_net(
        model=n["module"].lower(),
        n_classes=n.get("n_classes", 2),
        model_params=model_params,
        epochs=n["max_epochs"],
        batch_size=n["batch_size"],
        seed=recipe["seed"],
        lr=n["lr"],
        curriculum={
            "curriculum_epochs": n["curriculum_epochs"],
            "initial_competence": n["initial_competence"],
            "competence_power": n["competence_power"],
            "min_curriculum_samples": None,
        },
        valid_fraction=None,
        iterator_train__shuffle=False,
        iterator_train__drop_last=False,
    )
    return MultiViewClassifier(
        net,
        n_views=mv["n_views"],
        crop_scale=tuple(mv["crop_scale"]),
        output_size=mv["output_size"],
        aggregation=mv["aggregation"],
        random_state=recipe["seed"],
    )


def _fit(recipe, X_train, y_train, difficulty):
    """Train the recipe's curriculum CNN inside a multi-view classifier."""
    import torch

    model = tuning_model(recipe)
    torch.manual_seed(recipe["seed"])
    logger.info(
        "fitting the %s tuning model on %d frames", recipe["scale"], len(y_train)
    )
    if difficulty is None:
        return model.fit(X_train, y_train)
    return model.fit(X_train, y_train, difficulty=difficulty)

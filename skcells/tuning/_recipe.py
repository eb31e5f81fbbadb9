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
    params_hash,
    verify_manifest,
    write_manifest,
)

logger = logging.getLogger(__name__)

_CACHE_DIR = "tune_models"
_PARAMS_FILE = "params.pt"

#: Sizes of the tuning problem.  ``smoke`` takes seconds (tests, CI),
#: ``quick`` a few minutes on two CPU cores.
SCALES = {
    "smoke": {
        "n_videos": 48,
        "size": 32,
        "width": 0.0625,
        "max_epochs": 2,
        "batch_size": 16,
        "n_trials": 5,
        "n_views": (1, 8),
    },
    "quick": {
        "n_videos": 240,
        "size": 64,
        "width": 0.25,
        "max_epochs": 10,
        "batch_size": 32,
        "n_trials": 30,
        "n_views": (1, 20),
    },
}
TARGETS = ("wbc", "rbc")


def tuning_recipe(scale="quick", *, target="wbc", random_state=0):
    """The full, JSON-serialisable description of the model to tune.

    Parameters
    ----------
    scale : {"smoke", "quick"}, default="quick"
        Size of the data and of the network (see ``SCALES``).
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
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {tuple(SCALES)}, got {scale!r}.")
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}.")
    if (
        isinstance(random_state, bool)
        or not isinstance(random_state, int | np.integer)
        or random_state < 0
    ):
        raise ValueError(
            f"random_state must be a non-negative int, got {random_state!r}."
        )
    s = SCALES[scale]
    return {
        "scale": scale,
        "seed": int(random_state),
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
    recipe_hash = params_hash(recipe)
    X_train, X_val, y_train, y_val, d_train = _data(recipe, data_home)
    if not isinstance(cache, bool):
        raise TypeError(f"cache must be a bool, got {cache!r}.")
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
    model = _build(recipe)
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
    from ..datasets import fetch_synthetic_blood_videos

    d = recipe["data"]
    bunch = fetch_synthetic_blood_videos(
        n_videos=d["n_videos"],
        n_frames=d["n_frames"],
        size=d["size"],
        target=d["target"],
        random_state=recipe["seed"],
        data_home=data_home,
        verbose=False,
    )
    X = np.asarray(bunch.data[:, 0])  # (n, 3, size, size) uint8
    y = bunch.target
    X_train, X_val, y_train, y_val, d_train, _ = train_test_split(
        X,
        y,
        bunch.difficulty,
        test_size=recipe["validation_fraction"],
        stratify=y if np.unique(y).size > 1 else None,
        random_state=recipe["seed"],
    )
    return X_train, X_val, y_train, y_val, d_train


def _build(recipe):
    """The unfitted multi-view curriculum CNN of a recipe."""
    import torch

    from ..curriculum import CurriculumNeuralNetClassifier
    from ..models import CNN9
    from ..multiview import MultiViewClassifier

    n = recipe["net"]
    mv = recipe["multiview"]
    net = CurriculumNeuralNetClassifier(
        CNN9,
        module__n_classes=2,
        module__width=n["width"],
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=getattr(torch.optim, n["optimizer"]),
        lr=n["lr"],
        max_epochs=n["max_epochs"],
        batch_size=n["batch_size"],
        curriculum_epochs=n["curriculum_epochs"],
        initial_competence=n["initial_competence"],
        competence_power=n["competence_power"],
        train_split=None,
        verbose=0,
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

    model = _build(recipe)
    torch.manual_seed(recipe["seed"])
    logger.info(
        "fitting the %s tuning model on %d frames", recipe["scale"], len(y_train)
    )
    return model.fit(X_train, y_train, difficulty=difficulty)

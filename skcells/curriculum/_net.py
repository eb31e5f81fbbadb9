"""Competence-based curriculum learning for skorch nets (paper Eq. 2).

:class:`CurriculumMixin` gives a skorch net ``fit`` and ``partial_fit``
methods that accept a per-sample ``difficulty``; the classifier and the
regressor are the mixin on :class:`skorch.NeuralNetClassifier` and
:class:`skorch.NeuralNetRegressor`.  ``fit`` takes the difficulty out of the
fit parameters and calls skorch's own ``fit``/``partial_fit``; three skorch
hooks do the rest: ``get_split_datasets`` aligns the difficulty
with the training part of the internal split and scales it to ``[0, 1]``,
``on_epoch_begin`` selects the samples whose scaled difficulty is at most the
competence ``c(t)``, and ``get_iterator`` iterates over them.  Everything else
(validation, callbacks, scoring, prediction, metadata routing) is skorch's.
"""

import logging
from contextlib import contextmanager
from types import SimpleNamespace

import numpy as np
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.utils import is_dataset
from torch.utils.data import Subset

from ..utils import check_array_1d, check_int, check_option, check_real
from ._competence import competence, scale_difficulty

logger = logging.getLogger(__name__)

_DIFFICULTY_SCALINGS = ("cdf", "minmax", "none")


class _EpochIterator:
    """The training batches of the current curriculum epoch.

    skorch builds its training iterator once per ``fit_loop`` and iterates
    over it once per epoch; this stand-in calls ``make()`` (the net's own
    ``iterator_train`` over the samples selected for the epoch) every time,
    so that shuffling, batch size, workers and collation are skorch's.
    """

    def __init__(self, make):
        self.make = make

    def __iter__(self):
        return iter(self.make())

    def __len__(self):
        return len(self.make())


class CurriculumMixin:
    """Competence-based curriculum learning for any skorch net.

    Put it first among the bases of a skorch net (``class
    MyNet(CurriculumMixin, skorch.NeuralNet)``): ``fit`` and ``partial_fit``
    then accept a per-sample ``difficulty`` (paper Appendix B, Eq. 2;
    Platanios et al., 2019).  :class:`CurriculumNeuralNetClassifier` and
    :class:`CurriculumNeuralNetRegressor` are this mixin on skorch's
    classifier and regressor.  The difficulty of the training part of the
    internal split is scaled to ``[0, 1]`` (``difficulty_scaling``) and, at
    epoch ``t``, only the training samples whose scaled difficulty is
    ``<= c(t)`` are used, where
    ``c(t) = min(1, (t (1 - c0**p) / T + c0**p) ** (1 / p))`` (see
    :func:`~skcells.curriculum.competence`).  Validation always uses the whole
    validation split.  Without ``difficulty`` the net is exactly the skorch
    net it extends.

    **The epoch counter.**  ``t`` is the number of epochs in ``net.history``
    that were trained with a curriculum (that recorded a ``competence``).  It
    therefore continues across ``partial_fit`` calls and across ``fit`` with
    ``warm_start=True``, and starts again at 0 on a cold ``fit`` (which
    re-initialises the history).  Epochs trained without ``difficulty`` are
    not counted.

    **Alignment with the split.**  ``difficulty[i]`` belongs to sample ``i``
    of ``X``.  skorch's :class:`~skorch.dataset.ValidSplit` returns
    :class:`torch.utils.data.Subset` objects; the training subset's
    ``indices`` (composed through nested subsets, down to ``X`` itself when
    ``X`` is a dataset) select the training difficulties.  With
    ``train_split=None`` the whole of ``X`` is the training set.  A custom
    ``train_split`` whose training dataset is not a ``Subset`` is taken to be
    aligned position by position with ``X``; if its length differs from
    ``len(difficulty)`` a :class:`ValueError` is raised (return ``Subset``
    objects from the split, or split the data yourself and pass
    ``train_split=None``).  The scaling (e.g. the empirical CDF) is computed
    over the training samples of the current call only.

    **Too low a competence.**  When fewer than ``min_curriculum_samples``
    samples qualify (with the default ``None``: when no sample qualifies),
    the net trains on the easiest samples instead: the
    ``min_curriculum_samples`` easiest ones, or one training batch
    (``iterator_train__batch_size``, else ``batch_size``) of the easiest ones
    when ``min_curriculum_samples=None``.  Ties are broken by position.

    Every epoch trained with a curriculum records ``competence`` (``c(t)``)
    and ``n_curriculum_samples`` (the number of training samples used) in
    ``net.history``.

    Metadata routing: ``fit`` and ``partial_fit`` request ``difficulty`` by
    default, so with ``sklearn.set_config(enable_metadata_routing=True)``
    meta-estimators such as :class:`~sklearn.model_selection.GridSearchCV`,
    :func:`~sklearn.model_selection.cross_validate` and
    :class:`~sklearn.pipeline.Pipeline` pass it on.  Without routing,
    ``GridSearchCV(...).fit(X, y, difficulty=d)`` and
    ``pipeline.fit(X, y, net__difficulty=d)`` work as for any sample-aligned
    fit parameter.

    Parameters
    ----------
    module : torch module (class or instance)
        The module to train; see :class:`skorch.NeuralNet`.
    *args
        Further positional arguments of the skorch net.
    curriculum_epochs : float, default=None
        ``T``, the number of curriculum epochs after which the competence is
        1 (``> 0``).  None uses half of ``max_epochs`` (at least 1), so that
        the second half of a ``fit`` trains on the whole training split.
    initial_competence : float, default=0.01
        ``c0``, the competence of the first epoch, in ``(0, 1]``.
    competence_power : float, default=2
        ``p >= 1``: 1 is the linear schedule, 2 the square-root schedule.
    difficulty_scaling : {"cdf", "minmax", "none"}, default="cdf"
        How raw difficulties are mapped to ``[0, 1]`` before comparison with
        the competence (see :func:`~skcells.curriculum.scale_difficulty`).
        With ``"cdf"`` and distinct difficulties, competence ``c`` admits
        exactly ``floor(c * n_train)`` samples.
    min_curriculum_samples : int, default=None
        Fewest training samples of an epoch (``>= 1``); see above.  None
        falls back to one batch of the easiest samples only when no sample
        qualifies.
    **kwargs
        Further keyword arguments of the skorch net (``criterion``,
        ``optimizer``, ``lr``, ``max_epochs``, ``batch_size``,
        ``train_split``, ``callbacks``, ``iterator_train__*``,
        ``module__*``, ...).

    Attributes
    ----------
    history : skorch.history.History
        skorch's history, with ``competence`` and ``n_curriculum_samples``
        for every epoch trained with a difficulty.

    See Also
    --------
    CurriculumNeuralNetClassifier : The mixin on skorch's classifier.
    CurriculumNeuralNetRegressor : The mixin on skorch's regressor.
    skcells.curriculum.competence : The competence schedule ``c(t)``.

    Notes
    -----
    Each curriculum epoch builds a fresh training iterator over the selected
    samples, so ``iterator_train__persistent_workers=True`` does not keep
    workers across epochs.  A training-set :class:`skorch.callbacks.EpochScoring`
    with caching scores the samples seen in the epoch; without caching it
    scores the whole training split.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skorch import NeuralNetBinaryClassifier
    >>> from skcells.curriculum import CurriculumMixin
    >>> class CurriculumBinaryNet(CurriculumMixin, NeuralNetBinaryClassifier):
    ...     pass
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(64, 4)).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(np.float32)
    >>> net = CurriculumBinaryNet(
    ...     torch.nn.Sequential(torch.nn.Linear(4, 1), torch.nn.Flatten(0)),
    ...     curriculum_epochs=2, initial_competence=0.5, competence_power=1,
    ...     max_epochs=3, batch_size=16, train_split=None, verbose=0,
    ... )
    >>> _ = net.fit(X, y, difficulty=np.abs(X[:, 1]))
    >>> net.history[:, "n_curriculum_samples"]
    [32, 48, 64]
    """

    __metadata_request__fit = {"difficulty": True}
    __metadata_request__partial_fit = {"difficulty": True}

    def __init__(
        self,
        module,
        *args,
        curriculum_epochs=None,
        initial_competence=0.01,
        competence_power=2,
        difficulty_scaling="cdf",
        min_curriculum_samples=None,
        **kwargs,
    ):
        super().__init__(module, *args, **kwargs)
        self.curriculum_epochs = curriculum_epochs
        self.initial_competence = initial_competence
        self.competence_power = competence_power
        self.difficulty_scaling = difficulty_scaling
        self.min_curriculum_samples = min_curriculum_samples

    def fit(self, X, y, difficulty=None, **fit_params):
        """Initialise and fit the module, with a curriculum if ``difficulty``.

        skorch's ``fit`` with the curriculum: the module is
        re-initialised (and the curriculum restarts at ``t = 0``)
        unless ``warm_start=True`` and the net is already initialised.

        Parameters
        ----------
        X : input data, compatible with skorch.dataset.Dataset
            Training data (arrays, tensors, dicts, or a torch ``Dataset``).
        y : array-like of shape (n_samples,) or None
            Targets: class labels for a classifier, values of shape
            ``(n_samples, n_targets)`` for a regressor (None when ``X`` is a
            dataset that yields them).
        difficulty : array-like of shape (n_samples,), default=None
            Finite raw difficulty of each sample of ``X`` (higher is harder).
            None trains exactly like the skorch net without the mixin.
            It is consumed by the curriculum and never forwarded to
            ``train_split`` or ``module.forward``.
        **fit_params : dict
            Passed on to skorch (``train_split`` and ``module.forward``).

        Returns
        -------
        self : object
            The fitted net.
        """
        with self._curriculum(X, difficulty):
            return super().fit(X, y, **fit_params)

    def partial_fit(self, X, y=None, classes=None, difficulty=None, **fit_params):
        """Train ``max_epochs`` more epochs, continuing the schedule.

        skorch's ``partial_fit`` with the curriculum: the module is not
        re-initialised, and the curriculum epoch ``t``
        goes on from the epochs already trained with a curriculum.

        Parameters
        ----------
        X : input data, compatible with skorch.dataset.Dataset
            As for :meth:`fit`.
        y : array-like of shape (n_samples,), default=None
            As for :meth:`fit`.
        classes : array-like of shape (n_classes,), default=None
            Unused, for scikit-learn compatibility.
        difficulty : array-like of shape (n_samples,), default=None
            As for :meth:`fit`; None trains on every sample.
        **fit_params : dict
            As for :meth:`fit`.

        Returns
        -------
        self : object
            The fitted net.
        """
        with self._curriculum(X, difficulty):
            return super().partial_fit(X, y, classes, **fit_params)

    @contextmanager
    def _curriculum(self, X, difficulty):
        """Validate, then hold the curriculum of this call for the hooks.

        skorch's ``fit`` calls ``partial_fit`` without ``difficulty``: that
        inner call keeps the curriculum its ``fit`` set up.
        """
        if self.curriculum_epochs is not None:
            check_real(
                self.curriculum_epochs, "curriculum_epochs", low=0, low_open=True
            )
        check_real(
            self.initial_competence, "initial_competence", low=0, high=1, low_open=True
        )
        check_real(self.competence_power, "competence_power", low=1)
        check_option(
            self.difficulty_scaling, "difficulty_scaling", _DIFFICULTY_SCALINGS
        )
        if self.min_curriculum_samples is not None:
            check_int(self.min_curriculum_samples, "min_curriculum_samples", low=1)
        if difficulty is None:
            yield
            return
        difficulty = check_array_1d(difficulty, "difficulty")
        n_samples = _n_samples(X)
        if n_samples is not None and difficulty.shape[0] != n_samples:
            raise ValueError(
                f"difficulty must have one value per sample of X ({n_samples}), "
                f"got {difficulty.shape[0]} values."
            )
        if self.difficulty_scaling == "none":
            scale_difficulty(difficulty, "none")  # refuses values outside [0, 1]
        self._curriculum_ = SimpleNamespace(difficulty=difficulty, train=None)
        try:
            yield
        finally:
            self._curriculum_ = None

    def get_split_datasets(self, X, y=None, **fit_params):
        """Split the data as skorch does and align the difficulty with it.

        Parameters
        ----------
        X : input data, compatible with skorch.dataset.Dataset
            Training data.
        y : array-like, default=None
            Targets.
        **fit_params : dict
            Passed on to ``train_split``.

        Returns
        -------
        dataset_train : torch.utils.data.Dataset
            The training dataset.
        dataset_valid : torch.utils.data.Dataset or None
            The validation dataset.
        """
        dataset_train, dataset_valid = super().get_split_datasets(X, y, **fit_params)
        state = getattr(self, "_curriculum_", None)
        if state is not None:
            positions = _training_positions(dataset_train, X, len(state.difficulty))
            difficulty = state.difficulty[positions]
            state.train = dataset_train
            state.scaled = scale_difficulty(difficulty, self.difficulty_scaling)
            state.order = np.argsort(difficulty, kind="stable")
            state.selected = None
        return dataset_train, dataset_valid

    def get_iterator(self, dataset, training=False):
        """Return the batch iterator; in training, over the epoch's samples.

        Parameters
        ----------
        dataset : torch.utils.data.Dataset
            The dataset to iterate over.
        training : bool, default=False
            Whether this is the training iterator.

        Returns
        -------
        iterator : iterable
            Batches of ``dataset``.  During a curriculum fit, the training
            iterator yields, at every epoch, the batches of the samples
            selected for that epoch.
        """
        state = getattr(self, "_curriculum_", None)
        if not (training and state is not None and dataset is state.train):
            return super().get_iterator(dataset, training=training)
        plain = super().get_iterator

        def make():
            selected = state.selected
            if selected is None or selected.size == len(dataset):
                return plain(dataset, training=True)
            return plain(Subset(dataset, selected), training=True)

        return _EpochIterator(make)

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Start an epoch; with a curriculum, select and record its samples.

        Parameters
        ----------
        net : CurriculumMixin
            This net.
        dataset_train : torch.utils.data.Dataset, default=None
            The training dataset.
        dataset_valid : torch.utils.data.Dataset, default=None
            The validation dataset.
        **kwargs : dict
            Ignored.
        """
        super().on_epoch_begin(
            net, dataset_train=dataset_train, dataset_valid=dataset_valid, **kwargs
        )
        state = getattr(self, "_curriculum_", None)
        if state is None or state.train is None:
            return
        t = sum(1 for row in self.history if "competence" in row)
        T = self.curriculum_epochs
        if T is None:
            T = max(1.0, self.max_epochs / 2)
        c = float(
            competence(t, T=T, c0=self.initial_competence, p=self.competence_power)
        )
        selected = np.flatnonzero(state.scaled <= c)
        n_train = state.scaled.shape[0]
        floor = fallback = self.min_curriculum_samples
        if floor is None:
            batch_size = self.get_params_for("iterator_train").get(
                "batch_size", self.batch_size
            )
            floor, fallback = 1, n_train if batch_size == -1 else int(batch_size)
        if selected.size < floor:
            selected = np.sort(state.order[: min(fallback, n_train)])
        state.selected = selected
        self.history.record("competence", c)
        self.history.record("n_curriculum_samples", int(selected.size))
        logger.debug(
            "curriculum epoch %d: competence %.4f, %d of %d training samples",
            t,
            c,
            selected.size,
            n_train,
        )


class CurriculumNeuralNetClassifier(CurriculumMixin, NeuralNetClassifier):
    """Neural net classifier trained with competence-based curriculum learning.

    A :class:`skorch.NeuralNetClassifier` whose ``fit`` and ``partial_fit``
    accept a per-sample ``difficulty`` (paper Appendix B, Eq. 2; Platanios et
    al., 2019), through :class:`CurriculumMixin`.  The difficulty of the
    training part of the internal split is scaled to ``[0, 1]``
    (``difficulty_scaling``) and, at epoch ``t``, only the training samples
    whose scaled difficulty is ``<= c(t)`` are used, where
    ``c(t) = min(1, (t (1 - c0**p) / T + c0**p) ** (1 / p))`` (see
    :func:`~skcells.curriculum.competence`).  Validation always uses the whole
    validation split.  Without ``difficulty`` the net is exactly a
    :class:`skorch.NeuralNetClassifier`.

    The epoch counter continues across ``partial_fit`` calls (and ``fit``
    with ``warm_start=True``), the difficulty follows skorch's internal
    split, too low a competence falls back to the easiest samples, and
    ``fit`` requests ``difficulty`` in scikit-learn's metadata routing: see
    :class:`CurriculumMixin` for the details, shared with
    :class:`CurriculumNeuralNetRegressor`.

    Parameters
    ----------
    module : torch module (class or instance)
        The module to train; see :class:`skorch.NeuralNetClassifier`.
    *args
        Further positional arguments of :class:`skorch.NeuralNetClassifier`.
    curriculum_epochs : float, default=None
        ``T``, the number of curriculum epochs after which the competence is
        1 (``> 0``).  None uses half of ``max_epochs`` (at least 1), so that
        the second half of a ``fit`` trains on the whole training split.
    initial_competence : float, default=0.01
        ``c0``, the competence of the first epoch, in ``(0, 1]``.
    competence_power : float, default=2
        ``p >= 1``: 1 is the linear schedule, 2 the square-root schedule.
    difficulty_scaling : {"cdf", "minmax", "none"}, default="cdf"
        How raw difficulties are mapped to ``[0, 1]`` before comparison with
        the competence (see :func:`~skcells.curriculum.scale_difficulty`).
        With ``"cdf"`` and distinct difficulties, competence ``c`` admits
        exactly ``floor(c * n_train)`` samples.
    min_curriculum_samples : int, default=None
        Fewest training samples of an epoch (``>= 1``).  None falls back to
        one batch of the easiest samples only when no sample qualifies.
    **kwargs
        Further keyword arguments of :class:`skorch.NeuralNetClassifier`
        (``criterion``, ``optimizer``, ``lr``, ``max_epochs``,
        ``batch_size``, ``train_split``, ``callbacks``, ``iterator_train__*``,
        ``module__*``, ...).

    Attributes
    ----------
    history : skorch.history.History
        skorch's history, with ``competence`` and ``n_curriculum_samples``
        for every epoch trained with a difficulty.

    See Also
    --------
    CurriculumMixin : The curriculum, for any skorch net.
    CurriculumNeuralNetRegressor : The same curriculum for regression.
    skcells.curriculum.competence : The competence schedule ``c(t)``.
    skcells.curriculum.difficulty_score : The difficulty ``d`` of Eq. 2.
    skcells.curriculum.plot_curriculum : The paper's Figure 2.

    Notes
    -----
    The skcells networks (:mod:`skcells.models`) take uint8 images (0-255,
    scaled to ``[0, 1]``) as well as float ones, so the net trains directly
    on the arrays of :func:`skcells.datasets.fetch_synthetic_blood_videos`.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skcells.curriculum import CurriculumNeuralNetClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 4)).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(np.int64)
    >>> difficulty = 1.0 / (1.0 + np.abs(X[:, 0]))  # near the boundary: hard
    >>> net = CurriculumNeuralNetClassifier(
    ...     torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.Softmax(dim=-1)),
    ...     curriculum_epochs=4, initial_competence=0.25, competence_power=1,
    ...     max_epochs=5, batch_size=16, train_split=None, verbose=0,
    ... )
    >>> _ = net.fit(X, y, difficulty=difficulty)
    >>> net.history[:, "n_curriculum_samples"]
    [25, 43, 62, 81, 100]
    >>> [round(c, 4) for c in net.history[:, "competence"]]
    [0.25, 0.4375, 0.625, 0.8125, 1.0]
    """


class CurriculumNeuralNetRegressor(CurriculumMixin, NeuralNetRegressor):
    """Neural net regressor trained with competence-based curriculum learning.

    The twin of :class:`CurriculumNeuralNetClassifier` on
    :class:`skorch.NeuralNetRegressor` (criterion
    :class:`torch.nn.MSELoss` by default): ``fit`` and ``partial_fit`` accept
    a per-sample ``difficulty`` and, at epoch ``t``, train only on the
    training samples whose scaled difficulty is ``<= c(t)`` (paper
    Appendix B, Eq. 2).  Everything about the curriculum (the epoch counter
    across ``partial_fit``, the alignment with skorch's split, the fallback
    to the easiest samples, the history columns, metadata routing) is
    :class:`CurriculumMixin`'s, shared with the classifier.  Without
    ``difficulty`` the net is exactly a :class:`skorch.NeuralNetRegressor`.

    As for skorch's regressor, ``y`` is a float array of shape
    ``(n_samples, n_targets)`` whose dtype matches the module's output
    (``y.reshape(-1, 1).astype(np.float32)`` for one target and a float32
    module).  For cell counts, a difficulty that grows with the distance of
    the count from its mean (the rare counts are the hard ones) is what
    :func:`skcells.datasets.fetch_synthetic_blood_videos` attaches to
    ``target="wbc_count"`` and what
    :func:`skcells.datasets.estimate_difficulty` computes for your own data.

    Parameters
    ----------
    module : torch module (class or instance)
        The module to train; see :class:`skorch.NeuralNetRegressor`.
    *args
        Further positional arguments of :class:`skorch.NeuralNetRegressor`.
    curriculum_epochs : float, default=None
        ``T``, the number of curriculum epochs after which the competence is
        1 (``> 0``).  None uses half of ``max_epochs`` (at least 1), so that
        the second half of a ``fit`` trains on the whole training split.
    initial_competence : float, default=0.01
        ``c0``, the competence of the first epoch, in ``(0, 1]``.
    competence_power : float, default=2
        ``p >= 1``: 1 is the linear schedule, 2 the square-root schedule.
    difficulty_scaling : {"cdf", "minmax", "none"}, default="cdf"
        How raw difficulties are mapped to ``[0, 1]`` before comparison with
        the competence (see :func:`~skcells.curriculum.scale_difficulty`).
        With ``"cdf"`` and distinct difficulties, competence ``c`` admits
        exactly ``floor(c * n_train)`` samples.
    min_curriculum_samples : int, default=None
        Fewest training samples of an epoch (``>= 1``).  None falls back to
        one batch of the easiest samples only when no sample qualifies.
    **kwargs
        Further keyword arguments of :class:`skorch.NeuralNetRegressor`
        (``criterion``, ``optimizer``, ``lr``, ``max_epochs``,
        ``batch_size``, ``train_split``, ``callbacks``, ``iterator_train__*``,
        ``module__*``, ...).

    Attributes
    ----------
    history : skorch.history.History
        skorch's history, with ``competence`` and ``n_curriculum_samples``
        for every epoch trained with a difficulty.

    See Also
    --------
    CurriculumMixin : The curriculum, for any skorch net.
    CurriculumNeuralNetClassifier : The same curriculum for classification.
    skcells.datasets.estimate_difficulty : A difficulty for your own videos.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skcells.curriculum import CurriculumNeuralNetRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 4)).astype(np.float32)
    >>> y = (2 * X[:, :1] + 0.1 * rng.normal(size=(100, 1))).astype(np.float32)
    >>> difficulty = np.abs(y[:, 0])  # far from the mean: rare, hard
    >>> net = CurriculumNeuralNetRegressor(
    ...     torch.nn.Linear(4, 1),
    ...     curriculum_epochs=4, initial_competence=0.25, competence_power=1,
    ...     max_epochs=5, batch_size=16, train_split=None, verbose=0,
    ... )
    >>> _ = net.fit(X, y, difficulty=difficulty)
    >>> net.history[:, "n_curriculum_samples"]
    [25, 43, 62, 81, 100]
    >>> net.predict(X[:2]).shape
    (2, 1)
    """


def _n_samples(X):
    """Number of samples of ``X`` when it is cheap and unambiguous, else None."""
    try:
        return len(X) if is_dataset(X) else int(X.shape[0])
    except (AttributeError, IndexError, TypeError):
        return None


def _training_positions(dataset_train, X, n_samples):
    """Positions in ``X`` of the samples of ``dataset_train``.

    Composes the ``indices`` of nested :class:`torch.utils.data.Subset`
    objects down to ``X`` itself (when ``X`` is a dataset) or to the first
    dataset that is not a ``Subset`` (the one skorch built from ``X``).
    """
    try:
        positions = np.arange(len(dataset_train))
    except TypeError as exc:
        raise ValueError(
            "difficulty needs a training dataset with a length (a map-style "
            f"dataset), got {type(dataset_train).__name__}."
        ) from exc
    dataset = dataset_train
    while isinstance(dataset, Subset) and dataset is not X:
        positions = np.asarray(dataset.indices, dtype=np.int64)[positions]
        dataset = dataset.dataset
    if len(dataset) != n_samples:
        raise ValueError(
            f"difficulty has {n_samples} values but the training split is drawn "
            f"from a dataset of {len(dataset)} samples ({type(dataset).__name__}), "
            "so the difficulty cannot be aligned with it; pass one value per "
            "sample of X, return torch.utils.data.Subset objects from "
            "train_split, or split the data yourself and pass train_split=None."
        )
    return positions

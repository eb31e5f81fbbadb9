"""The paper's training and evaluation protocol (Appendix C and D).

* split 0.6 / 0.2 / 0.2: a stratified 20 % test set is held out, and the
  net's internal stratified validation split takes 25 % of the rest;
* Adam (``betas=(0.9, 0.999)``, the paper's "momentum 0.9"), learning rate
  1e-3, optionally weight decay and a learning-rate schedule: cosine
  annealing (Table 1 bottom) or the schedule of Xia et al. (2021) that
  Table 2 follows (:class:`XiaSchedule`);
* random resized crops at training, validation and test time (the net is
  wrapped in a :class:`~skcells.multiview.MultiViewClassifier`);
* the weights of the epoch with the best validation loss are the inference
  model (:class:`RestoreBestValidLoss`);
* one model per seed, evaluated by one view (the single-view baseline) and
  by ``n_views`` views aggregated by mode (MVM) and by cumulative confidence
  (MVWCo-S).
"""

import io
import logging
import math

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback, Checkpoint, LRScheduler
from skorch.dataset import ValidSplit

from ..curriculum import CurriculumNeuralNetClassifier
from ..models import make_model
from ..multiview import aggregate_mode, aggregate_weighted
from ..utils import check_bool, check_int, check_option, check_real

logger = logging.getLogger(__name__)

#: Seeds of the paper's five parallel runs (Appendix C).
PAPER_SEEDS = (42, 0, 17, 9, 3)
#: Train / validation / test proportions (Appendix C).
SPLIT = (0.6, 0.2, 0.2)
#: Names of the evaluations of one fitted model.
VARIANTS = ("baseline", "MVM", "MVWCo-S")
#: Learning-rate schedules of :func:`make_net`.
_LR_SCHEDULES = ("constant", "cosine", "xia")


class RestoreBestValidLoss(Checkpoint):
    """Keep the weights of the epoch with the lowest validation loss.

    A skorch :class:`~skorch.callbacks.Checkpoint` of the module's weights
    on ``valid_loss_best`` with ``load_best=True``, kept in memory instead of
    files: at the end of training the weights of the best epoch are loaded
    back, so the fitted net is the best-validation-loss checkpoint of the
    paper.  It adds the epoch of those weights to the history, as
    ``best_epoch``.  Without a validation split the callback does nothing.

    Parameters
    ----------
    **kwargs
        Arguments of :class:`~skorch.callbacks.Checkpoint`.  The defaults
        keep the weights in memory (``f_params`` becomes a new in-memory file
        at every checkpoint; ``f_optimizer``, ``f_criterion`` and
        ``f_history`` are None), record no ``event_cp`` column, load the best
        checkpoint at the end (``load_best=True``) and log to this module's
        logger.

    Attributes
    ----------
    best_epoch_ : int or None
        1-based epoch of the restored weights.
    f_params : io.BytesIO or None
        The checkpoint: the module's weights at ``best_epoch_``, as
        :meth:`skorch.net.NeuralNet.save_params` writes them.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetClassifier
    >>> from skcells.experiments import RestoreBestValidLoss
    >>> X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(np.int64)
    >>> net = NeuralNetClassifier(
    ...     torch.nn.Linear, module__in_features=3, module__out_features=2,
    ...     criterion=torch.nn.CrossEntropyLoss, max_epochs=3, verbose=0,
    ...     callbacks=[RestoreBestValidLoss()]).fit(X, y)
    >>> 1 <= net.callbacks[0].best_epoch_ <= 3
    True
    """

    def __init__(self, **kwargs):
        in_memory = dict(f_params=None, f_optimizer=None, f_criterion=None)
        defaults = dict(f_history=None, event_name=None, load_best=True)
        super().__init__(**{**in_memory, **defaults, "sink": logger.debug, **kwargs})

    def initialize(self):
        self.best_epoch_ = None
        return super().initialize()

    def on_epoch_end(self, net, **kwargs):
        if "valid_loss_best" in net.history[-1]:  # else: no validation split
            super().on_epoch_end(net, **kwargs)
        if self.best_epoch_ is not None:
            net.history.record("best_epoch", self.best_epoch_)

    def save_model(self, net):
        """Save the module's weights into a new in-memory file.

        Parameters
        ----------
        net : skorch.NeuralNet
            The net being trained.
        """
        self.f_params = io.BytesIO()
        super().save_model(net)
        self.best_epoch_ = len(net.history)

    def on_train_end(self, net, **kwargs):
        if self.best_epoch_ is not None:
            self.f_params.seek(0)
            super().on_train_end(net, **kwargs)


class XiaSchedule(Callback):
    """Learning-rate and Adam ``beta1`` schedule of Table 2 (Xia et al., 2021).

    Table 2 of the paper trains the 9-layer CNN with the schedule of Xia et
    al. (2021), "Sample selection with uncertainty of losses for learning
    with noisy labels", which follows Co-teaching (Han et al., 2018,
    "Co-teaching: robust training of deep neural networks with extremely
    noisy labels"): Adam with learning rate 0.001 and momentum (``beta1``)
    0.9; from 40 % of the epochs on (epoch 80 of 200) the learning rate
    decays linearly to zero at the end of training and ``beta1`` is 0.1.

    With ``T = net.max_epochs``, ``lr0 = net.lr``, ``beta1_0`` the
    ``beta1`` the optimizer was built with and the decay start
    ``s = floor(decay_start * T)``, epoch ``e`` (0-based, counted from the
    start of the current ``fit`` or ``partial_fit`` call) trains with

    * ``lr = lr0`` and ``beta1 = beta1_0`` for ``e < s``;
    * ``lr = lr0 * min(1, (T - e) / (T - s))`` and ``beta1 = final_beta1``
      for ``e >= s``.

    The decay epoch ``s`` itself still trains at ``lr0`` (with
    ``final_beta1``), the last epoch ``e = T - 1`` at ``lr0 / (T - s)``,
    and the line reaches zero after the last epoch: Co-teaching's plan
    exactly (for ``T = 200``: ``s = 80``, the last epoch at ``lr0 / 120``).
    Every parameter group of the optimizer gets this ``lr`` and
    ``betas = (beta1, beta2)``, ``beta2`` being the group's own; the values
    are set at the start of every epoch and recorded in the history as
    ``lr`` and ``beta1``, the values the epoch trains with (as skorch's
    :class:`~skorch.callbacks.LRScheduler` records ``event_lr``).  Every
    ``fit`` or ``partial_fit`` call runs the whole schedule again; epochs
    beyond ``T`` (``partial_fit(X, y, epochs=n)`` with ``n > T``) train at
    ``lr = 0``.

    Parameters
    ----------
    decay_start : float, default=0.4
        Fraction of ``max_epochs`` after which the decay starts, in
        ``[0, 1)``.
    final_beta1 : float, default=0.1
        Adam's ``beta1`` from the decay start on, in ``[0, 1)``.

    Attributes
    ----------
    first_epoch_ : int
        Length of the history when the current training started: epoch
        ``e`` of the schedule is the history's epoch ``first_epoch_ + e + 1``.
    start_epoch_ : int
        The 0-based epoch ``s`` of the decay start in the current training.
    initial_lr_ : float
        ``net.lr`` at the start of training.
    initial_beta1_ : float
        ``beta1`` of the optimizer's defaults at the start of training.

    See Also
    --------
    skorch.callbacks.LRScheduler : The torch learning-rate schedulers
        (``make_net(lr_schedule="cosine")`` uses its cosine annealing).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetClassifier
    >>> from skcells.experiments import XiaSchedule
    >>> X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(np.int64)
    >>> net = NeuralNetClassifier(
    ...     torch.nn.Linear, module__in_features=3, module__out_features=2,
    ...     criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam,
    ...     lr=0.003, max_epochs=5, train_split=None, verbose=0,
    ...     callbacks=[XiaSchedule()]).fit(X, y)
    >>> [round(lr, 6) for lr in net.history[:, "lr"]]
    [0.003, 0.003, 0.003, 0.002, 0.001]
    >>> net.history[:, "beta1"]
    [0.9, 0.9, 0.1, 0.1, 0.1]
    """

    def __init__(self, decay_start=0.4, final_beta1=0.1):
        self.decay_start = decay_start
        self.final_beta1 = final_beta1

    def initialize(self):
        check_real(self.decay_start, "decay_start", low=0, high=1, high_open=True)
        check_real(self.final_beta1, "final_beta1", low=0, high=1, high_open=True)
        return super().initialize()

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        super().on_train_begin(net, X=X, y=y, **kwargs)
        max_epochs = check_int(net.max_epochs, "max_epochs", low=1)
        betas = net.optimizer_.defaults.get("betas")
        if betas is None:
            raise TypeError(
                "XiaSchedule sets Adam's betas: the net's optimizer must have "
                f"betas (Adam, AdamW...), got {type(net.optimizer_).__name__}."
            )
        self.initial_lr_ = check_real(net.lr, "lr", low=0)
        self.initial_beta1_ = float(betas[0])
        # the product can fall a hair below an integer (0.29 * 100)
        start = math.floor(round(float(self.decay_start) * max_epochs, 9))
        self.start_epoch_ = min(start, max_epochs - 1)
        self.first_epoch_ = len(net.history)

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_begin(
            net, dataset_train=dataset_train, dataset_valid=dataset_valid, **kwargs
        )
        lr, beta1 = self._values(
            net.max_epochs, len(net.history) - 1 - self.first_epoch_
        )
        for group in net.optimizer_.param_groups:
            group["lr"] = lr
            group["betas"] = (beta1, group["betas"][1])
        net.history.record("lr", lr)
        net.history.record("beta1", beta1)

    def _values(self, max_epochs, epoch):
        """``(lr, beta1)`` of the 0-based ``epoch``."""
        if epoch < self.start_epoch_:
            return self.initial_lr_, self.initial_beta1_
        factor = (max_epochs - epoch) / (max_epochs - self.start_epoch_)
        return self.initial_lr_ * min(1.0, max(0.0, factor)), float(self.final_beta1)


class _ChannelsLast(Callback):
    """Store the module's 4-D and 5-D parameters channels-last before training.

    oneDNN's CPU convolutions run in the channels-last layout when the
    weight is in it, and so does everything downstream of them: on two CPU
    cores a training step of the quick scale's X3D-XS on 9-frame clips is
    about 2x faster, one of its 9-layer CNN about 1.2x faster
    (``benchmarks/bench_training.py``).  Only the memory layout of the
    parameters changes, in place (the optimizer keeps the same tensors): the
    values are the same, the results differ by float rounding.
    """

    _FORMATS = {4: torch.channels_last, 5: torch.channels_last_3d}

    def on_train_begin(self, net, **kwargs):
        for param in net.module_.parameters():
            fmt = self._FORMATS.get(param.dim())
            if fmt is not None and not param.is_contiguous(memory_format=fmt):
                param.data = param.data.contiguous(memory_format=fmt)


def split_test(y, *, random_state, test_size=SPLIT[2]):
    """Hold out a stratified test set.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Labels.
    random_state : int
        Seed of the split.
    test_size : float, default=0.2
        Fraction of the test set.

    Returns
    -------
    train : ndarray of int
        Indices of the training pool (training + validation).
    test : ndarray of int
        Indices of the test set.

    Examples
    --------
    >>> import numpy as np
    >>> from skcells.experiments import split_test
    >>> train, test = split_test(np.repeat([0, 1], 50), random_state=0)
    >>> len(train), len(test)
    (80, 20)
    """
    y = np.asarray(y)
    index = np.arange(y.shape[0])
    counts = np.unique(y, return_counts=True)[1]
    stratify = y if counts.min() >= 2 else None
    train, test = train_test_split(
        index, test_size=test_size, random_state=random_state, stratify=stratify
    )
    return np.sort(train), np.sort(test)


def make_net(
    *,
    model,
    n_classes,
    model_params=None,
    epochs,
    batch_size,
    seed,
    lr=1e-3,
    weight_decay=0.0,
    label_smoothing=0.0,
    lr_schedule="constant",
    curriculum=None,
    device="cpu",
    valid_fraction=SPLIT[1] / (SPLIT[0] + SPLIT[1]),
    channels_last=False,
    **net_params,
):
    """Build the skorch classifier of one run of the protocol.

    Parameters
    ----------
    model : {"cnn9", "x3d_xs", "resnet18", "vit_l16"}
        Network, built by :func:`skcells.models.make_model`.
    n_classes : int
        Number of classes.
    model_params : dict, default=None
        Further arguments of the network (``width``, ``pretrained``...).
    epochs : int
        Training epochs.
    batch_size : int
        Batch size.
    seed : int
        Seed of the validation split.
    lr : float, default=1e-3
        Initial learning rate of Adam.
    weight_decay : float, default=0.0
        Adam's weight decay (Appendix D: 0.01).
    label_smoothing : float, default=0.0
        Label smoothing of the cross-entropy (Appendix D: 0.4 with noisy
        labels).
    lr_schedule : {"constant", "cosine", "xia"}, default="constant"
        Learning-rate schedule, a callback named ``"lr_scheduler"``:
        ``"constant"`` keeps ``lr`` (no callback); ``"cosine"`` anneals it
        over ``epochs`` with a cosine (skorch's
        :class:`~skorch.callbacks.LRScheduler` with ``CosineAnnealingLR``;
        Appendix C, second series); ``"xia"`` is the schedule of Xia et al.
        (2021) that Table 2 follows (:class:`XiaSchedule`: ``lr`` from 40 %
        of the epochs on decays linearly to zero, Adam's ``beta1`` goes from
        0.9 to 0.1).
    curriculum : dict, default=None
        Curriculum parameters (``curriculum_epochs``, ``initial_competence``,
        ``competence_power``): a
        :class:`~skcells.curriculum.CurriculumNeuralNetClassifier` is built,
        to be fitted with ``difficulty=``; every epoch trains on at least one
        batch (``min_curriculum_samples=batch_size`` unless given).  None: a
        plain :class:`skorch.NeuralNetClassifier`.
    device : str, default="cpu"
        Torch device.
    valid_fraction : float or None, default=0.25
        Fraction of the training pool used for validation (0.2 of the data);
        None trains on all of it, without validation.
    channels_last : bool, default=False
        Store the convolution weights channels-last (``channels_last_3d``
        for 3-D convolutions) when training starts, the layout oneDNN's CPU
        kernels prefer: about 2x faster training of X3D-XS on clips and 1.2x
        of the 9-layer CNN on two CPU cores.  The results differ by float
        rounding only.  :func:`run_experiments` sets it on CPU.
    **net_params
        Further skorch parameters of the net, which override the protocol's
        (e.g. ``iterator_train__shuffle=False``).

    Returns
    -------
    net : skorch.NeuralNetClassifier
        The unfitted net.

    Examples
    --------
    >>> from skcells.experiments import make_net
    >>> net = make_net(model="cnn9", n_classes=2, model_params={"width": 0.125},
    ...                epochs=2, batch_size=8, seed=0)
    >>> net.max_epochs, type(net.train_split).__name__
    (2, 'ValidSplit')
    """
    epochs = check_int(epochs, "epochs", low=1)
    batch_size = check_int(batch_size, "batch_size", low=1)
    callbacks = [("best_valid_loss", RestoreBestValidLoss())]
    if check_bool(channels_last, "channels_last"):
        callbacks.append(("channels_last", _ChannelsLast()))
    schedule = check_option(lr_schedule, "lr_schedule", _LR_SCHEDULES)
    if schedule == "cosine":
        callbacks.append(
            ("lr_scheduler", LRScheduler(policy="CosineAnnealingLR", T_max=epochs))
        )
    elif schedule == "xia":
        callbacks.append(("lr_scheduler", XiaSchedule()))
    split = None
    if valid_fraction is not None:
        split = ValidSplit(valid_fraction, stratified=True, random_state=seed)
    params = {
        "module": make_model,
        "module__name": model,
        "module__n_classes": int(n_classes),
        **{f"module__{k}": v for k, v in (model_params or {}).items()},
        "criterion": torch.nn.CrossEntropyLoss,
        "criterion__label_smoothing": check_real(
            label_smoothing, "label_smoothing", low=0, high=1
        ),
        "optimizer": torch.optim.Adam,
        "optimizer__weight_decay": float(weight_decay),
        "lr": float(lr),
        "max_epochs": epochs,
        "batch_size": batch_size,
        "iterator_train__shuffle": True,
        # a last batch of one sample breaks batch normalisation in training
        "iterator_train__drop_last": True,
        "train_split": split,
        "callbacks": callbacks,
        "device": device,
        "verbose": 0,
        **net_params,
    }
    if curriculum is None:
        return NeuralNetClassifier(**params)
    curriculum = {"min_curriculum_samples": batch_size, **curriculum}
    return CurriculumNeuralNetClassifier(**params, **curriculum)


def evaluate_views(classifier, X, y, *, n_views, return_predictions=False):
    """Accuracy of the single-view baseline, MVM and MVWCo-S from one pass.

    ``n_views`` views of every sample are predicted once
    (:meth:`~skcells.multiview.MultiViewClassifier.predict_views`); the first
    view alone is the single-view baseline, the mode of all views is MVM
    (paper Eq. 4) and their confidence-weighted bin count MVWCo-S (Eq. 5).

    Parameters
    ----------
    classifier : MultiViewClassifier
        A fitted multi-view classifier; its ``n_views`` is set to
        ``n_views``.
    X : array-like
        Test inputs.
    y : array-like of shape (n_samples,)
        True labels.
    n_views : int
        Number of views of the multi-view predictions.
    return_predictions : bool, default=False
        Also return the predicted label of every input by each variant
        (e.g. to break the accuracy down by group).

    Returns
    -------
    accuracy : dict
        ``{"baseline": float, "MVM": float, "MVWCo-S": float}``, in ``[0, 1]``.
    predictions : dict of str to ndarray of shape (n_samples,)
        The labels predicted by each variant; only when
        ``return_predictions=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skcells.multiview import MultiViewClassifier
    >>> from skcells.experiments import evaluate_views
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 20)
    >>> X = rng.normal(size=(40, 1, 8, 8)) + y[:, None, None, None]
    >>> clf = MultiViewClassifier(LogisticRegression(), output_size=4,
    ...                           random_state=0).fit(X, y)
    >>> sorted(evaluate_views(clf, X, y, n_views=5))
    ['MVM', 'MVWCo-S', 'baseline']
    """
    y = np.asarray(y)
    classifier.set_params(n_views=check_int(n_views, "n_views", low=1))
    with torch.inference_mode():  # no autograd bookkeeping at all
        labels, confidences = classifier.predict_views(X)
    classes = classifier.classes_
    codes = np.searchsorted(classes, labels)
    n_classes = len(classes)
    predictions = {
        "baseline": labels[:, 0],
        "MVM": classes[aggregate_mode(codes, n_classes).argmax(axis=1)],
        "MVWCo-S": classes[
            aggregate_weighted(codes, confidences, n_classes).argmax(axis=1)
        ],
    }
    accuracy = {name: float(np.mean(pred == y)) for name, pred in predictions.items()}
    if check_bool(return_predictions, "return_predictions"):
        return accuracy, predictions
    return accuracy


def _history_rows(net):
    """The per-epoch history of a skorch net as plain dicts (no batches)."""
    keep = (
        "epoch",
        "train_loss",
        "valid_loss",
        "valid_acc",
        "valid_loss_best",
        "competence",
        "n_curriculum_samples",
        "best_epoch",
        "dur",
    )
    return [{k: row[k] for k in keep if k in row} for row in net.history]

"""The paper's training and evaluation protocol (Appendix C and D).

* split 0.6 / 0.2 / 0.2: a stratified 20 % test set is held out, and the
  net's internal stratified validation split takes 25 % of the rest;
* Adam (``betas=(0.9, 0.999)``, the paper's "momentum 0.9"), learning rate
  1e-3, optionally cosine annealing and weight decay;
* random resized crops at training, validation and test time (the net is
  wrapped in a :class:`~skcells.multiview.MultiViewClassifier`);
* the weights of the epoch with the best validation loss are the inference
  model (:class:`RestoreBestValidLoss`);
* one model per seed, evaluated by one view (the single-view baseline) and
  by ``n_views`` views aggregated by mode (MVM) and by cumulative confidence
  (MVWCo-S).
"""

import logging
import numbers

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback, LRScheduler
from skorch.dataset import ValidSplit

from ..curriculum import CurriculumNeuralNetClassifier
from ..models import make_model
from ..multiview import aggregate_mode, aggregate_weighted
from ..noise import SmoothedCrossEntropyLoss

logger = logging.getLogger(__name__)

#: Seeds of the paper's five parallel runs (Appendix C).
PAPER_SEEDS = (42, 0, 17, 9, 3)
#: Train / validation / test proportions (Appendix C).
SPLIT = (0.6, 0.2, 0.2)
#: Names of the evaluations of one fitted model.
VARIANTS = ("baseline", "MVM", "MVWCo-S")


class RestoreBestValidLoss(Callback):
    """Keep the weights of the epoch with the lowest validation loss.

    After every epoch whose ``valid_loss_best`` flag is set, a copy of the
    module's state dict is kept in memory; at the end of training it is
    loaded back, so the fitted net is the best-validation-loss checkpoint of
    the paper.  The epoch is recorded in the history as ``best_epoch``.
    Without a validation split the callback does nothing.

    Attributes
    ----------
    best_epoch_ : int or None
        1-based epoch of the restored weights.
    best_state_ : dict of str to torch.Tensor or None
        Copy of the module's state dict at ``best_epoch_``.

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

    def initialize(self):
        self.best_state_ = None
        self.best_epoch_ = None
        return self

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        if row.get("valid_loss_best", False):
            self.best_state_ = {
                k: v.detach().clone() for k, v in net.module_.state_dict().items()
            }
            self.best_epoch_ = len(net.history)
        if self.best_epoch_ is not None:
            net.history.record("best_epoch", self.best_epoch_)

    def on_train_end(self, net, **kwargs):
        if self.best_state_ is not None:
            net.module_.load_state_dict(self.best_state_)
            logger.debug("restored the weights of epoch %d", self.best_epoch_)


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
    cosine=False,
    curriculum=None,
    device="cpu",
    valid_fraction=SPLIT[1] / (SPLIT[0] + SPLIT[1]),
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
    cosine : bool, default=False
        Cosine annealing of the learning rate over ``epochs`` (Appendix C,
        second series).
    curriculum : dict, default=None
        Curriculum parameters (``curriculum_epochs``, ``initial_competence``,
        ``competence_power``): a
        :class:`~skcells.curriculum.CurriculumNeuralNetClassifier` is built,
        to be fitted with ``difficulty=``; every epoch trains on at least one
        batch (``min_curriculum_samples=batch_size`` unless given).  None: a
        plain :class:`skorch.NeuralNetClassifier`.
    device : str, default="cpu"
        Torch device.
    valid_fraction : float, default=0.25
        Fraction of the training pool used for validation (0.2 of the data).

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
    _check_positive_int(epochs, "epochs")
    _check_positive_int(batch_size, "batch_size")
    callbacks = [("best_valid_loss", RestoreBestValidLoss())]
    if cosine:
        callbacks.append(
            ("lr_scheduler", LRScheduler(policy="CosineAnnealingLR", T_max=epochs))
        )
    params = {
        "module": make_model,
        "module__name": model,
        "module__n_classes": int(n_classes),
        **{f"module__{k}": v for k, v in (model_params or {}).items()},
        "criterion": SmoothedCrossEntropyLoss,
        "criterion__smoothing": float(label_smoothing),
        "optimizer": torch.optim.Adam,
        "optimizer__weight_decay": float(weight_decay),
        "lr": float(lr),
        "max_epochs": int(epochs),
        "batch_size": int(batch_size),
        "iterator_train__shuffle": True,
        # a last batch of one sample breaks batch normalisation in training
        "iterator_train__drop_last": True,
        "train_split": ValidSplit(valid_fraction, stratified=True, random_state=seed),
        "callbacks": callbacks,
        "device": device,
        "verbose": 0,
    }
    if curriculum is None:
        return NeuralNetClassifier(**params)
    curriculum = {"min_curriculum_samples": int(batch_size), **curriculum}
    return CurriculumNeuralNetClassifier(**params, **curriculum)


def evaluate_views(classifier, X, y, *, n_views):
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

    Returns
    -------
    accuracy : dict
        ``{"baseline": float, "MVM": float, "MVWCo-S": float}``, in ``[0, 1]``.

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
    _check_positive_int(n_views, "n_views")
    y = np.asarray(y)
    classifier.set_params(n_views=int(n_views))
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
    return {name: float(np.mean(pred == y)) for name, pred in predictions.items()}


def history_rows(net):
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


def _check_positive_int(value, name):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int >= 1, got {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}.")

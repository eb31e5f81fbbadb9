"""Label noise and label smoothing (paper Appendix D, Table 2).

The paper corrupts CIFAR-10 labels with the *asymmetric* noise of Ma et al.
(2020), which flips each source class into a visually similar class (truck ->
automobile, bird -> airplane, deer -> horse, cat <-> dog), and trains with
label smoothing (Wei et al., 2021).  :func:`asymmetric_label_noise` applies
that mapping, or any other class mapping (for example the "pair flip" of
Han et al. (2018) on scikit-learn's digits), flipping exactly
``round(rate * n_c)`` labels of every source class ``c``.  The smoothed loss
is PyTorch's ``torch.nn.CrossEntropyLoss(label_smoothing=0.4)``.
"""

import warnings
from collections.abc import Mapping
from numbers import Real
from types import MappingProxyType

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from .utils import check_option, check_real

CIFAR10_CLASSES = tuple(
    "airplane automobile bird cat deer dog frog horse ship truck".split()
)

# Ma et al. (2020): truck -> automobile, bird -> airplane, deer -> horse,
# cat <-> dog, on torchvision's CIFAR-10 class indices.
CIFAR10_ASYMMETRIC_MAPPING = MappingProxyType({9: 1, 2: 0, 4: 7, 3: 5, 5: 3})

MAPPINGS = ("cifar10", "pairflip")


def pairflip_mapping(classes):
    """The "pair flip" mapping: each class to the next one, cyclically.

    Class ``classes[i]`` maps to ``classes[(i + 1) % n_classes]``; on the ten
    digits 0-9 that is ``i -> (i + 1) % 10`` (Han et al., 2018).

    Parameters
    ----------
    classes : array-like of shape (n_classes,)
        The distinct labels, in the order that defines "next"
        (``n_classes >= 2``).

    Returns
    -------
    mapping : dict
        Source label to noisy label.

    Examples
    --------
    >>> from skcells.noise import pairflip_mapping
    >>> pairflip_mapping([0, 1, 2])
    {0: 1, 1: 2, 2: 0}
    """
    classes = np.asarray(classes)
    try:
        distinct = classes.ndim == 1 and len(np.unique(classes)) == len(classes)
    except TypeError:  # objects that cannot be ordered, e.g. 1 and "a"
        raise TypeError(
            "classes must be labels of one comparable kind (numbers or strings), "
            f"got {classes.tolist()!r}."
        ) from None
    if not distinct:
        raise ValueError(
            f"classes must be a 1-D sequence of distinct labels, got {classes!r}."
        )
    if len(classes) < 2:
        raise ValueError(
            f"classes must hold at least 2 labels for a pair flip, got {classes!r}."
        )
    # tolist() gives Python scalars for numeric arrays and the objects
    # themselves for object arrays (strings), which have no .item()
    return dict(zip(classes.tolist(), np.roll(classes, -1).tolist()))


def _resolve_mapping(mapping, y):
    if mapping == "cifar10":
        if y.dtype.kind not in "iu" or (y.size and (y.min() < 0 or y.max() > 9)):
            raise ValueError(
                "mapping='cifar10' needs CIFAR-10 class indices (integers in "
                f"0-9) as y, got labels of dtype {y.dtype} in "
                f"{np.unique(y)[:10]!r}."
            )
        return dict(CIFAR10_ASYMMETRIC_MAPPING)
    if mapping == "pairflip":
        try:
            classes = np.unique(y)
        except TypeError:  # object labels that cannot be ordered
            raise TypeError(
                "mapping='pairflip' orders the classes of y, which must then be of "
                f"one comparable kind (numbers or strings), got labels of dtype "
                f"{y.dtype} such as {y[:5].tolist()!r}."
            ) from None
        return pairflip_mapping(classes)
    if not mapping:
        raise ValueError("mapping must not be empty, got {}.")
    same = [k for k, v in mapping.items() if k == v]
    if same:
        raise ValueError(
            f"mapping must send every source label to another label, got "
            f"{same[0]!r} -> {same[0]!r}."
        )
    return dict(mapping)


@validate_params(
    {
        "y": ["array-like"],
        "rate": [Interval(Real, 0, 1, closed="both")],
        "mapping": [StrOptions(set(MAPPINGS)), Mapping],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def asymmetric_label_noise(y, rate, *, mapping="cifar10", random_state=None):
    """Flip a fixed fraction of each source class to a mapped class.

    For every source label ``c`` of ``mapping``, exactly ``round(rate * n_c)``
    of the ``n_c`` samples labelled ``c`` (Python's ``round``: halves go to
    the even integer) are chosen uniformly at random without replacement and
    relabelled ``mapping[c]``.  Samples are chosen by their *clean* label, so
    with the swap cat <-> dog no label is flipped twice.  Labels that are not
    a source stay clean.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Clean labels.
    rate : float
        Fraction of every source class to flip, in ``[0, 1]`` (the paper:
        0.2).
    mapping : {"cifar10", "pairflip"} or dict, default="cifar10"
        ``"cifar10"``: the asymmetric noise of Ma et al. (2020) on CIFAR-10
        class indices (:data:`CIFAR10_ASYMMETRIC_MAPPING`: truck 9 ->
        automobile 1, bird 2 -> airplane 0, deer 4 -> horse 7, cat 3 <-> dog
        5).  ``"pairflip"``: every class of ``np.unique(y)`` to the next one,
        cyclically (:func:`pairflip_mapping`; ``i -> (i + 1) % 10`` on
        digits).  A dict: any source label -> noisy label mapping.
    random_state : int, RandomState instance or None, default=None
        Seed of the choice of flipped samples.

    Returns
    -------
    y_noisy : ndarray of shape (n_samples,)
        Labels with the flips applied; ``y_noisy != y`` marks them.

    Examples
    --------
    >>> import numpy as np
    >>> from skcells.noise import asymmetric_label_noise
    >>> y = np.repeat(np.arange(10), 10)  # ten samples of every CIFAR-10 class
    >>> y_noisy = asymmetric_label_noise(y, 0.2, random_state=0)
    >>> np.bincount(y[y_noisy != y])  # two flips per source class
    array([0, 0, 2, 2, 2, 2, 0, 0, 0, 2])
    >>> digits = asymmetric_label_noise(y, 0.5, mapping="pairflip", random_state=0)
    >>> sorted(set(zip(y[digits != y].tolist(), digits[digits != y].tolist())))[:3]
    [(0, 1), (1, 2), (2, 3)]
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D of shape (n_samples,), got shape {y.shape}.")
    mapping = _resolve_mapping(mapping, y)
    targets = np.asarray(list(mapping.values()))
    try:
        dtype = np.result_type(y.dtype, targets.dtype)
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind != y.dtype.kind:
        raise ValueError(
            f"mapping's noisy labels {targets.tolist()!r} are not labels of the "
            f"same kind as y (dtype {y.dtype})."
        )
    rng = check_random_state(random_state)
    y_noisy = y.astype(dtype, copy=True)
    for source, target in mapping.items():
        members = np.flatnonzero(y == source)
        n_flip = round(float(rate) * members.size)
        if n_flip:
            y_noisy[rng.choice(members, size=n_flip, replace=False)] = target
    return y_noisy


def _warn_deprecated(name):
    warnings.warn(
        f"{name} is deprecated and will be removed in a future release; use "
        "torch.nn.CrossEntropyLoss(label_smoothing=smoothing), the same loss "
        "(as a skorch criterion: criterion=torch.nn.CrossEntropyLoss, "
        "criterion__label_smoothing=smoothing).",
        FutureWarning,
        stacklevel=3,
    )


class SmoothedCrossEntropyLoss(torch.nn.CrossEntropyLoss):
    """Cross-entropy with label smoothing (deprecated alias).

    .. deprecated:: 0.1
        Use ``torch.nn.CrossEntropyLoss(label_smoothing=smoothing)``, which
        computes the same loss; this alias warns and will be removed.

    The target distribution is ``(1 - smoothing) * one_hot + smoothing /
    n_classes`` (Szegedy et al., 2016; with noisy labels Wei et al., 2021;
    the paper's Table 2 uses ``smoothing=0.4``).

    Parameters
    ----------
    smoothing : float, default=0.0
        Smoothing ratio in ``[0, 1]`` (torch's ``label_smoothing``).
    weight : torch.Tensor of shape (n_classes,), default=None
        Class weights, as in :class:`torch.nn.CrossEntropyLoss`.
    reduction : {"mean", "sum", "none"}, default="mean"
        Reduction over the batch.

    Examples
    --------
    >>> import torch
    >>> loss = torch.nn.CrossEntropyLoss(label_smoothing=0.4)  # not this alias
    >>> logits = torch.tensor([[2.0, 0.0]])
    >>> round(float(loss(logits, torch.tensor([0]))), 4)
    0.5269
    """

    def __init__(self, smoothing=0.0, *, weight=None, reduction="mean"):
        _warn_deprecated("SmoothedCrossEntropyLoss")
        try:
            smoothing = check_real(smoothing, "smoothing", low=0, high=1)
        except TypeError as exc:  # this class has always raised ValueError
            raise ValueError(str(exc)) from None
        check_option(reduction, "reduction", ("mean", "sum", "none"))
        super().__init__(weight=weight, reduction=reduction, label_smoothing=smoothing)
        self.smoothing = smoothing


def label_smoothing_loss(smoothing):
    """Return a label-smoothing cross-entropy loss (deprecated).

    .. deprecated:: 0.1
        Use ``torch.nn.CrossEntropyLoss(label_smoothing=smoothing)``.

    Parameters
    ----------
    smoothing : float
        Smoothing ratio in ``[0, 1]``.

    Returns
    -------
    loss : SmoothedCrossEntropyLoss
        The loss module.
    """
    _warn_deprecated("label_smoothing_loss")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return SmoothedCrossEntropyLoss(smoothing)


__all__ = [
    "CIFAR10_ASYMMETRIC_MAPPING",
    "CIFAR10_CLASSES",
    "MAPPINGS",
    "SmoothedCrossEntropyLoss",
    "asymmetric_label_noise",
    "label_smoothing_loss",
    "pairflip_mapping",
]

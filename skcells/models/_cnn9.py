"""The 9-layer CNN of Co-teaching (Han et al., 2018), used in paper Tables 1-2."""

from numbers import Real

from sklearn.utils._param_validation import Interval, validate_params
from torch import nn

from ..utils import check_int
from ._input import scale_uint8

# Output channels of the nine convolutions at ``width=1`` and their padding.
_CONV_CHANNELS = (128, 128, 128, 256, 256, 256, 512, 256, 128)
_CONV_PADDING = (1, 1, 1, 1, 1, 1, 0, 0, 0)
# Smallest side length that survives two 2x2 max-pools followed by three
# unpadded 3x3 convolutions: floor(floor(s / 2) / 2) >= 7.
_MIN_INPUT_SIZE = 28
# Constraints shared with X3D.  Integers go through check_int instead, which
# refuses bools (sklearn's Interval(Integral) admits them).
_POSITIVE = [Interval(Real, 0, None, closed="neither")]
# Width and depth multipliers: at most 16 (a CNN9 of width 16 has about 1.1
# billion parameters); inf or 1e300 would overflow the channel counts.
_MAX_FACTOR = 16


def _check_factor(value, name):
    """A width or depth multiplier (already > 0) as a float, at most 16."""
    from ..utils import check_real

    return check_real(value, name, high=_MAX_FACTOR)


_DROPOUT = [Interval(Real, 0, 1, closed="left")]


def _conv_block(in_channels, out_channels, padding, negative_slope):
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=padding),
        nn.BatchNorm2d(out_channels),
        nn.LeakyReLU(negative_slope),
    ]


class CNN9(nn.Module):
    """Nine-layer convolutional network of Co-teaching (Han et al., 2018).

    Three blocks of 3x3 convolution + batch normalisation + LeakyReLU(0.01):
    ``in_channels -> 128 -> 128 -> 128``, 2x2 max-pool, dropout;
    ``128 -> 256 -> 256 -> 256``, 2x2 max-pool, dropout;
    ``256 -> 512 -> 256 -> 128`` without padding; then global average pooling
    and a linear layer.  The network returns logits (no softmax).  At
    ``width=1`` with 3x32x32 inputs and 10 classes it has 4,434,570
    parameters, the "4.4 M" of the paper's Tables 1 and 2.

    Parameters
    ----------
    n_classes : int, default=10
        Number of output logits.
    in_channels : int, default=3
        Number of channels of the input images.
    width : float, default=1.0
        Multiplier of every convolution's channel count (rounded, at least
        one channel), in ``(0, 16]``.  Values below 1 give small networks for
        fast CPU runs; ``width=0.125`` has about 1/64 of the parameters.
    dropout : float, default=0.25
        Channel dropout probability after each max-pool, in ``[0, 1)``.  It is
        active in training mode only (``model.train()``), unlike the
        reference implementation, which also drops channels at test time.
    negative_slope : float, default=0.01
        Negative slope of the LeakyReLU activations.

    Attributes
    ----------
    features : torch.nn.Sequential
        The nine convolution blocks, pools and dropouts.
    classifier : torch.nn.Linear
        The final linear layer (the network's "head").

    Notes
    -----
    Inputs are tensors of shape ``(n_samples, in_channels, height, width)``
    with ``height, width >= 28``: float images, or uint8 images (0-255),
    which are first scaled to ``[0, 1]`` by :class:`ScaleUint8` (so a net
    trains directly on the datasets' uint8 arrays and gives the same outputs
    as on the same frames scaled by a multi-view wrapper).  Smaller images,
    for instance scikit-learn's 8x8 digits, must be resized first.  In
    training mode each batch needs more than one sample (batch
    normalisation).

    Examples
    --------
    >>> import torch
    >>> from skcells.models import CNN9, count_parameters
    >>> count_parameters(CNN9())
    4434570
    >>> net = CNN9(n_classes=2, width=0.125).eval()
    >>> net(torch.zeros(4, 3, 32, 32)).shape
    torch.Size([4, 2])
    """

    @validate_params(
        {
            "width": _POSITIVE,
            "dropout": _DROPOUT,
            "negative_slope": [Interval(Real, None, None, closed="neither")],
        },
        prefer_skip_nested_validation=False,
    )
    def __init__(
        self,
        n_classes=10,
        *,
        in_channels=3,
        width=1.0,
        dropout=0.25,
        negative_slope=0.01,
    ):
        super().__init__()
        self.n_classes = check_int(n_classes, "n_classes", low=1)
        self.in_channels = check_int(in_channels, "in_channels", low=1)
        self.width = _check_factor(width, "width")

        channels = [max(1, round(c * self.width)) for c in _CONV_CHANNELS]
        layers = []
        previous = self.in_channels
        for i, (out, pad) in enumerate(zip(channels, _CONV_PADDING)):
            layers += _conv_block(previous, out, pad, negative_slope)
            previous = out
            if i in (2, 5):
                layers += [nn.MaxPool2d(kernel_size=2, stride=2), nn.Dropout2d(dropout)]
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(previous, self.n_classes)

    def forward(self, x):
        """Compute the logits of a batch of images.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, in_channels, height, width)
            Float images, or uint8 images (0-255) scaled to ``[0, 1]`` first;
            ``height, width >= 28``.

        Returns
        -------
        logits : torch.Tensor of shape (n_samples, n_classes)
            Unnormalised class scores.
        """
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                "x must have shape (n_samples, in_channels="
                f"{self.in_channels}, height, width), got {tuple(x.shape)}."
            )
        if min(x.shape[-2:]) < _MIN_INPUT_SIZE:
            raise ValueError(
                f"x must be at least {_MIN_INPUT_SIZE}x{_MIN_INPUT_SIZE} pixels for "
                f"CNN9, got {tuple(x.shape[-2:])}; resize smaller images first."
            )
        return self.classifier(self.features(scale_uint8(x)))

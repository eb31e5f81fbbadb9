"""The input layer of the skcells networks: uint8 pixels in, floats out.

The datasets hold videos as uint8 (0-255).  :class:`ScaleUint8` maps such a
tensor to float32 in ``[0, 1]`` exactly as the multi-view wrappers do
(``x * float32(1 / 255)``) and returns a floating-point tensor unchanged, so
a network that starts with it gives the same outputs for uint8 frames and
for frames already scaled by the wrapper, and the same outputs as before for
float input.  :class:`~skcells.models.CNN9` and :class:`~skcells.models.X3D`
call it first in ``forward``; :func:`~skcells.models.resnet18`,
:func:`~skcells.models.vit_l16` and :func:`~skcells.models.make_model` attach
it to the third-party networks as a forward pre-hook (no new weights, the
state-dict keys are unchanged).
"""

import numpy as np
import torch
from torch import nn

__all__ = ["ScaleUint8"]

# 1 / 255 rounded to float32, the factor of the multi-view wrappers
# (``np.multiply(x, np.float32(1 / 255), dtype=np.float32)``); as a Python
# float it is exactly representable in float32, so torch multiplies by the
# same number on every device.
_INV_255 = float(np.float32(1.0 / 255.0))


def scale_uint8(x):
    """``x`` as float32 in ``[0, 1]`` if uint8, unchanged if floating point.

    Parameters
    ----------
    x : torch.Tensor
        uint8 pixels (0-255) or a floating-point tensor.

    Returns
    -------
    x : torch.Tensor
        A float32 tensor for uint8 input, else ``x`` itself.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}.")
    if x.dtype == torch.uint8:
        return x.to(torch.float32).mul_(_INV_255)
    if x.is_floating_point():
        return x
    raise TypeError(
        "x must hold uint8 pixels (0-255, scaled to [0, 1]) or floating-point "
        f"values, got dtype {x.dtype}; convert other integer images to float "
        "with the scale they need (e.g. x / 65535 for 16-bit) before the net."
    )


def _scale_uint8_hook(module, args):
    """Forward pre-hook: scale a uint8 first argument (see :class:`ScaleUint8`)."""
    if args and isinstance(args[0], torch.Tensor):
        return (scale_uint8(args[0]), *args[1:])
    return None


def accept_uint8(model):
    """Make ``model`` accept uint8 input through a forward pre-hook.

    Parameters
    ----------
    model : torch.nn.Module
        A third-party network whose ``forward`` expects floats.

    Returns
    -------
    model : torch.nn.Module
        The same module; its state dict is unchanged.
    """
    model.register_forward_pre_hook(_scale_uint8_hook)
    return model


class ScaleUint8(nn.Module):
    """Map uint8 pixels 0-255 to float32 in ``[0, 1]``; pass floats through.

    A parameter-free first layer for networks that should take the
    datasets' uint8 frames directly: a uint8 tensor becomes
    ``x * float32(1 / 255)`` in float32, bit for bit the scaling that
    :class:`~skcells.multiview.MultiViewClassifier` applies to uint8 views,
    and a floating-point tensor is returned unchanged (same object, any
    float dtype).  Other dtypes (bool, int64, uint16, ...) raise a
    :class:`TypeError`: their value range is not known, so they are not
    guessed.

    The skcells networks (:class:`CNN9`, :class:`X3D`, and the networks of
    :func:`resnet18`, :func:`vit_l16` and :func:`make_model`) already apply
    it; put it first in your own modules, e.g.
    ``torch.nn.Sequential(ScaleUint8(), my_net)``.

    Notes
    -----
    skorch turns NumPy input into tensors of the same dtype, and its default
    collate keeps uint8, so a skorch net whose module starts with this layer
    trains and predicts on uint8 arrays with one byte per pixel in the data
    loader.  On a read-only memory map (what the fetchers return) PyTorch
    warns once that the array is not writable; nothing writes to it, and
    ``np.array(X)`` (a copy in memory) silences it.

    Examples
    --------
    >>> import torch
    >>> from skcells.models import ScaleUint8
    >>> layer = ScaleUint8()
    >>> layer(torch.tensor([0, 51, 255], dtype=torch.uint8))
    tensor([0.0000, 0.2000, 1.0000])
    >>> x = torch.tensor([0.5, 2.0])
    >>> layer(x) is x
    True
    """

    def __init__(self):
        super().__init__()

    def forward(self, x):
        """Scale uint8 input to ``[0, 1]``; return floats unchanged.

        Parameters
        ----------
        x : torch.Tensor
            uint8 pixels or a floating-point tensor of any shape.

        Returns
        -------
        x : torch.Tensor
            A float32 tensor of the same shape for uint8 input, else ``x``
            itself.
        """
        return scale_uint8(x)

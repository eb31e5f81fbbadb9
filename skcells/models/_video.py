"""X3D-XS ("EffNet X3D" of the paper) for the project's clip layout."""

import warnings

from sklearn.utils._param_validation import validate_params
from torch import nn

from ..utils import check_int
from ._checkpoint import _PRETRAINED, _load_pretrained
from ._cnn9 import _DROPOUT, _POSITIVE
from ._input import scale_uint8

# Kinetics-400 X3D-XS weights of the PyTorchVideo model zoo.
X3D_XS_URL = (
    "https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/kinetics/X3D_XS.pyth"
)
# Qualified name of the final linear layer in pytorchvideo's X3D.
_X3D_HEAD = "blocks.5.proj"


def _import_create_x3d():
    """Import pytorchvideo's X3D builder without its import-time noise.

    ``pytorchvideo`` imports ``fvcore``, which calls the deprecated
    ``torch.jit.script`` at import time; the warning concerns fvcore, not us.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module="torch.jit")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        from pytorchvideo.models.x3d import create_x3d
    return create_x3d


def _download_x3d_xs():
    from ._checkpoint import _download_state_dict

    return _download_state_dict(X3D_XS_URL, "the Kinetics-400 X3D-XS weights")


class X3D(nn.Module):
    """X3D-XS video network taking clips in the project's layout.

    The network is built by :func:`pytorchvideo.models.x3d.create_x3d` with
    the X3D-XS configuration (Feichtenhofer, 2020), without the softmax of the
    model zoo's head: it returns logits.  The fixed-size average pool of the
    head is replaced by an adaptive one, so any clip length and frame size
    work, in particular the paper's 9x64x64 clips and single 64x64 frames.

    Parameters
    ----------
    n_classes : int, default=400
        Number of output logits (400 is the Kinetics head: 3,794,274
        parameters, the paper's "3.8 M"; 2 classes give 2,978,772).
    in_channels : int, default=3
        Number of channels per frame.
    width_factor : float, default=2.0
        Channel expansion of X3D (2.0 for X3D-XS), in ``(0, 16]``; smaller
        values give small networks for fast CPU runs but rule out the
        Kinetics weights.
    depth_factor : float, default=2.2
        Depth expansion of X3D (2.2 for X3D-XS), in ``(0, 16]``.
    head_dim : int, default=2048
        Width of the head's last hidden layer.
    dropout : float, default=0.5
        Dropout probability before the final linear layer, in ``[0, 1)``.
    pretrained : None, True, str or os.PathLike, default=None
        None: random initialisation.  A path: a local checkpoint with an X3D
        state dict (for example the model zoo's ``X3D_XS.pyth``), read with
        ``torch.load(weights_only=True)``; the final linear layer is kept new
        when its class count differs.  True: download the Kinetics-400
        weights from the PyTorchVideo model zoo (needs the internet).
    freeze_backbone : bool, default=False
        Train only the final linear layer (``blocks.5.proj``).

    Attributes
    ----------
    blocks : torch.nn.ModuleList
        The stem, the four stages and the head of pytorchvideo's X3D; the
        state-dict keys are those of the model zoo.

    Notes
    -----
    ``forward`` accepts clips of shape ``(n_samples, n_frames, in_channels,
    height, width)`` (the layout of :func:`skcells.datasets` videos), which it
    permutes to pytorchvideo's ``(n_samples, in_channels, n_frames, height,
    width)``, and single frames ``(n_samples, in_channels, height, width)``,
    which it treats as clips of one frame (the paper's single-frame RBC row).
    uint8 input (0-255) is first scaled to ``[0, 1]`` by :class:`ScaleUint8`;
    float input is used as it is.

    Examples
    --------
    >>> import torch
    >>> from skcells.models import X3D
    >>> net = X3D(n_classes=2, width_factor=0.5, depth_factor=0.5).eval()
    >>> net(torch.zeros(2, 9, 3, 64, 64)).shape
    torch.Size([2, 2])
    >>> net(torch.zeros(2, 3, 64, 64)).shape
    torch.Size([2, 2])
    """

    @validate_params(
        {
            "width_factor": _POSITIVE,
            "depth_factor": _POSITIVE,
            "dropout": _DROPOUT,
            "pretrained": _PRETRAINED,
        },
        prefer_skip_nested_validation=False,
    )
    def __init__(
        self,
        n_classes=400,
        *,
        in_channels=3,
        width_factor=2.0,
        depth_factor=2.2,
        head_dim=2048,
        dropout=0.5,
        pretrained=None,
        freeze_backbone=False,
    ):
        super().__init__()
        create_x3d = _import_create_x3d()

        self.n_classes = check_int(n_classes, "n_classes", low=1)
        self.in_channels = check_int(in_channels, "in_channels", low=1)
        check_int(head_dim, "head_dim", low=1)
        from ._cnn9 import _check_factor  # at most 16, as CNN9's width

        _check_factor(width_factor, "width_factor")
        _check_factor(depth_factor, "depth_factor")
        net = create_x3d(
            input_channel=self.in_channels,
            input_clip_length=4,
            input_crop_size=160,
            model_num_class=self.n_classes,
            dropout_rate=float(dropout),
            width_factor=float(width_factor),
            depth_factor=float(depth_factor),
            head_dim_out=int(head_dim),
            head_activation=None,
            head_output_with_global_average=True,
        )
        # The zoo's head pools with a kernel fixed by the training clip size;
        # global pooling is the same operation for that size and any other.
        net.blocks[-1].pool.pool = nn.AdaptiveAvgPool3d(1)
        self.blocks = net.blocks
        _load_pretrained(
            self,
            pretrained,
            head=_X3D_HEAD,
            freeze_backbone=freeze_backbone,
            download=_download_x3d_xs,
        )

    def forward(self, x):
        """Compute the logits of a batch of clips or frames.

        Parameters
        ----------
        x : torch.Tensor
            Clips of shape ``(n_samples, n_frames, in_channels, height,
            width)`` or frames of shape ``(n_samples, in_channels, height,
            width)``; float, or uint8 (0-255) scaled to ``[0, 1]`` first.

        Returns
        -------
        logits : torch.Tensor of shape (n_samples, n_classes)
            Unnormalised class scores.
        """
        if x.ndim == 5 and x.shape[2] == self.in_channels:
            x = x.permute(0, 2, 1, 3, 4)
        elif x.ndim == 4 and x.shape[1] == self.in_channels:
            x = x.unsqueeze(2)
        else:
            raise ValueError(
                "x must have shape (n_samples, n_frames, in_channels="
                f"{self.in_channels}, height, width) or (n_samples, "
                f"in_channels={self.in_channels}, height, width), "
                f"got {tuple(x.shape)}."
            )
        x = scale_uint8(x)
        for block in self.blocks:
            x = block(x)
        return x

"""ResNet18 (torchvision), ViT-L/16 (timm) and the :func:`make_model` factory."""

from types import MappingProxyType

from sklearn.utils._param_validation import StrOptions, validate_params

from ..utils import check_int
from ._checkpoint import _PRETRAINED, _load_pretrained, _timm_pretrained
from ._cnn9 import CNN9
from ._input import accept_uint8
from ._video import X3D

MODEL_NAMES = ("cnn9", "x3d_xs", "resnet18", "vit_l16")

# Input of one sample in the paper's Table 1 (project layout: clips are
# (n_frames, n_channels, height, width)).
PAPER_INPUT_SHAPES = MappingProxyType(
    {
        "cnn9": (3, 32, 32),
        "x3d_xs": (9, 3, 64, 64),
        "resnet18": (3, 256, 256),
        "vit_l16": (3, 224, 224),
    }
)


@validate_params({"pretrained": _PRETRAINED}, prefer_skip_nested_validation=False)
def resnet18(n_classes=1000, *, pretrained=None, freeze_backbone=False):
    """ResNet18 (He et al., 2016) from torchvision with a new ``n_classes`` head.

    Parameters
    ----------
    n_classes : int, default=1000
        Number of output logits; the final layer ``fc`` is
        ``Linear(512, n_classes)`` (11,177,538 parameters in all for 2
        classes, the paper's "11.2 M").
    pretrained : None, True, str or os.PathLike, default=None
        None: random initialisation.  A path: a local checkpoint holding a
        torchvision ResNet18 state dict (for example ImageNet weights saved
        earlier), read with ``torch.load(weights_only=True)``; ``fc`` is kept
        new when its class count differs.  True: download torchvision's
        ``ResNet18_Weights.IMAGENET1K_V1`` (needs the internet).
    freeze_backbone : bool, default=False
        Train only ``fc``; the rest stays fixed, batch normalisation included.

    Returns
    -------
    model : torchvision.models.ResNet
        Takes float images ``(n_samples, 3, height, width)`` (the paper uses
        256x256), or uint8 images (0-255) that a forward pre-hook scales to
        ``[0, 1]`` (:class:`ScaleUint8`), and returns logits ``(n_samples,
        n_classes)``.

    Examples
    --------
    >>> from skcells.models import count_parameters, resnet18
    >>> count_parameters(resnet18(n_classes=2))
    11177538
    """
    import torchvision

    n_classes = check_int(n_classes, "n_classes", low=1)
    model = torchvision.models.resnet18(weights=None, num_classes=n_classes)

    def download():  # pragma: no cover - needs the internet
        weights = torchvision.models.ResNet18_Weights.IMAGENET1K_V1
        return weights.get_state_dict(progress=True, weights_only=True)

    model = _load_pretrained(
        model, pretrained, head="fc", freeze_backbone=freeze_backbone, download=download
    )
    return accept_uint8(model)


@validate_params(
    {"pretrained": _PRETRAINED, "arch": [str]}, prefer_skip_nested_validation=False
)
def vit_l16(
    n_classes=1000,
    *,
    pretrained=None,
    freeze_backbone=True,
    arch="vit_large_patch16_224",
    **kwargs,
):
    """ViT-L/16 (Dosovitskiy et al., 2021) from timm with a new trainable head.

    By default only the new linear head is trainable, as in the paper: with 2
    classes that is 2,050 of 303,303,682 parameters (the paper's "303 M
    (2 K)").

    Parameters
    ----------
    n_classes : int, default=1000
        Number of output logits of the new head.
    pretrained : None, True, str or os.PathLike, default=None
        None: random initialisation.  A path: a local checkpoint holding a
        timm state dict of ``arch`` (``.safetensors`` or a file for
        ``torch.load(weights_only=True)``); the head is kept new when its
        class count differs.  True: timm downloads its default pretrained
        weights for ``arch`` (needs the internet).
    freeze_backbone : bool, default=True
        Train only the head; the backbone stays fixed.
    arch : str, default="vit_large_patch16_224"
        timm model name.  Smaller ViTs (``"vit_tiny_patch16_224"``) go
        through the same code, for quick tests.
    **kwargs
        Passed to :func:`timm.create_model` (``img_size``, ``drop_rate``...).

    Returns
    -------
    model : timm.models.VisionTransformer
        Takes float images ``(n_samples, 3, 224, 224)`` (or ``img_size``),
        or uint8 images (0-255) that a forward pre-hook scales to ``[0, 1]``
        (:class:`ScaleUint8`), and returns logits ``(n_samples,
        n_classes)``.

    Examples
    --------
    >>> import torch
    >>> from skcells.models import count_parameters, vit_l16
    >>> with torch.device("meta"):  # count without allocating 1.2 GB
    ...     vit = vit_l16(n_classes=2)
    >>> count_parameters(vit), count_parameters(vit, trainable=True)
    (303303682, 2050)
    """
    import timm

    n_classes = check_int(n_classes, "n_classes", low=1)
    if not timm.is_model(arch):
        raise ValueError(
            f"arch must be a timm model name such as 'vit_large_patch16_224', "
            f"got {arch!r}."
        )
    model = timm.create_model(
        arch, num_classes=n_classes, **_timm_pretrained(arch, pretrained), **kwargs
    )
    head = _module_name(model, model.get_classifier())
    # timm has already loaded its own weights for pretrained=True.
    model = _load_pretrained(
        model,
        None if pretrained is True else pretrained,
        head=head,
        freeze_backbone=freeze_backbone,
    )
    return accept_uint8(model)


def _module_name(model, module):
    for name, candidate in model.named_modules():
        if candidate is module:
            return name
    raise ValueError(  # pragma: no cover - timm models always own their head
        f"{type(model).__name__} has no classifier submodule."
    )


@validate_params(
    {"name": [StrOptions(set(MODEL_NAMES))], "pretrained": _PRETRAINED},
    prefer_skip_nested_validation=False,
)
def make_model(name, n_classes, pretrained=None, **kwargs):
    """Build one of the paper's networks by name.

    Parameters
    ----------
    name : {"cnn9", "x3d_xs", "resnet18", "vit_l16"}
        ``"cnn9"``: :class:`CNN9` (randomly initialised in the paper);
        ``"x3d_xs"``: :class:`X3D`, the paper's "EffNet X3D";
        ``"resnet18"``: :func:`resnet18`; ``"vit_l16"``: :func:`vit_l16`.
        :data:`PAPER_INPUT_SHAPES` gives the paper's input of each.
    n_classes : int
        Number of output logits.
    pretrained : None, True, str or os.PathLike, default=None
        None: random initialisation.  A path: a local checkpoint (a state
        dict of the same architecture, possibly with another number of
        classes, whose head is then not loaded).  True: download the
        published weights (needs the internet; not available for
        ``"cnn9"``).
    **kwargs
        Further arguments of the model (``width`` for CNN9,
        ``freeze_backbone``, ``width_factor``, ``arch``...).

    Returns
    -------
    model : torch.nn.Module
        A module that returns logits of shape ``(n_samples, n_classes)``;
        it takes float input or uint8 pixels (0-255, scaled to ``[0, 1]`` by
        :class:`ScaleUint8`).

    Examples
    --------
    >>> import torch
    >>> from skcells.models import make_model
    >>> net = make_model("cnn9", 2, width=0.125).eval()
    >>> net(torch.zeros(1, 3, 32, 32)).shape
    torch.Size([1, 2])
    """
    if name == "cnn9":
        freeze_backbone = kwargs.pop("freeze_backbone", False)
        return _load_pretrained(
            CNN9(n_classes, **kwargs),
            pretrained,
            head="classifier",
            freeze_backbone=freeze_backbone,
        )
    if name == "x3d_xs":
        return X3D(n_classes, pretrained=pretrained, **kwargs)
    if name == "resnet18":
        return resnet18(n_classes, pretrained=pretrained, **kwargs)
    return vit_l16(n_classes, pretrained=pretrained, **kwargs)

"""The paper's networks: 9-layer CNN, X3D-XS, ResNet18 and ViT-L/16.

Every model is a plain :class:`torch.nn.Module` that returns logits, so it
can be the ``module`` of a skorch net (criterion
:class:`torch.nn.CrossEntropyLoss`).  Every model takes float input or the
datasets' uint8 pixels, which :class:`ScaleUint8` maps to ``[0, 1]``.
``pretrained`` takes a local checkpoint path; ``pretrained=True`` downloads
published weights where they exist.
"""

from ._checkpoint import (
    count_parameters,
    freeze_all_but,
    load_state_dict_with_new_head,
    read_checkpoint,
)
from ._cnn9 import CNN9
from ._input import ScaleUint8
from ._pretrained import (
    MODEL_NAMES,
    PAPER_INPUT_SHAPES,
    make_model,
    resnet18,
    vit_l16,
)
from ._video import X3D, X3D_XS_URL

__all__ = [
    "CNN9",
    "MODEL_NAMES",
    "PAPER_INPUT_SHAPES",
    "ScaleUint8",
    "X3D",
    "X3D_XS_URL",
    "count_parameters",
    "freeze_all_but",
    "load_state_dict_with_new_head",
    "make_model",
    "read_checkpoint",
    "resnet18",
    "vit_l16",
]

"""Checkpoint reading, head-aware weight loading, freezing and parameter counts.

Every model of :mod:`skcells.models` loads pretrained weights the same way: a
state dict of the *source* architecture (ImageNet ResNet18, Kinetics X3D,
ImageNet ViT, or one of our own models) is loaded strictly into the backbone,
while the classification head is copied only when its shape matches, so a
1000-class checkpoint can initialise a 2-class model.
"""

import logging
import os
import urllib.error
from collections.abc import Mapping

import torch
from sklearn.utils._param_validation import validate_params

from ..utils import check_bool, check_reachable, download_error, network_timeout

logger = logging.getLogger(__name__)

# Keys under which training scripts commonly nest the model's state dict.
_NESTED_KEYS = ("state_dict", "model_state", "model", "module")
# The accepted values of every model's ``pretrained`` (sklearn constraints).
_PRETRAINED = [None, bool, str, os.PathLike]
# What to do without internet, said by every failed download.
_OFFLINE = (
    "pass a local checkpoint file as pretrained=PATH (or --weights MODEL=PATH), "
    "e.g. these weights saved where the internet is reachable"
)


@validate_params(
    {"model": [torch.nn.Module], "trainable": ["boolean"]},
    prefer_skip_nested_validation=False,
)
def count_parameters(model, *, trainable=False):
    """Count the parameters of a model.

    Parameters
    ----------
    model : torch.nn.Module
        The model; it may live on any device, including ``"meta"``.
    trainable : bool, default=False
        Count only the parameters with ``requires_grad=True``.

    Returns
    -------
    n_parameters : int
        The number of scalar parameters.

    Examples
    --------
    >>> from torch import nn
    >>> from skcells.models import count_parameters
    >>> count_parameters(nn.Linear(3, 2))
    8
    """
    return int(
        sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable)
    )


@validate_params({"path": [str, os.PathLike]}, prefer_skip_nested_validation=False)
def read_checkpoint(path):
    """Read a state dict from a local checkpoint file.

    Files ending in ``.safetensors`` are read with :mod:`safetensors`; any
    other file with ``torch.load(path, map_location="cpu",
    weights_only=True)``, which never runs code stored in the file.  A state
    dict nested under one of the keys ``"state_dict"``, ``"model_state"``,
    ``"model"`` or ``"module"`` (as written by many training scripts and by
    the X3D model zoo) is unwrapped, and a ``"module."`` prefix left by
    :class:`torch.nn.DataParallel` is removed.

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint file.

    Returns
    -------
    state_dict : dict of str to torch.Tensor
        The tensors, on the CPU.

    Examples
    --------
    >>> import tempfile, os, torch
    >>> from skcells.models import read_checkpoint
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "linear.pt")
    >>> torch.save({"model_state": torch.nn.Linear(3, 2).state_dict()}, path)
    >>> sorted(read_checkpoint(path))
    ['bias', 'weight']
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"pretrained checkpoint {path!r} is not a file.")
    try:
        if path.endswith(".safetensors"):
            from safetensors.torch import load_file

            state = load_file(path, device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling / format errors of any kind
        raise ValueError(
            f"pretrained checkpoint {path!r} could not be read as a tensor-only "
            f"state dict (torch.load with weights_only=True or safetensors): {exc}"
        ) from exc
    return _unwrap_state_dict(state, path)


def _unwrap_state_dict(state, source):
    """Return the flat ``{name: tensor}`` dict inside a loaded checkpoint."""
    while isinstance(state, Mapping) and not all(
        isinstance(v, torch.Tensor) for v in state.values()
    ):
        for key in _NESTED_KEYS:
            if isinstance(state.get(key), Mapping):
                state = state[key]
                break
        else:
            raise ValueError(
                f"pretrained checkpoint {source!r} holds no state dict: expected "
                f"a mapping of names to tensors, possibly nested under one of "
                f"{list(_NESTED_KEYS)}, got keys {sorted(map(str, state))[:8]}."
            )
    if not isinstance(state, Mapping) or not state:
        raise ValueError(
            f"pretrained checkpoint {source!r} holds no state dict: expected a "
            f"non-empty mapping of names to tensors, got {type(state).__name__}."
        )
    odd = [k for k in state if not isinstance(k, str)]
    if odd:
        raise ValueError(
            f"pretrained checkpoint {source!r} holds no state dict: its keys must "
            f"be parameter names (strings), got {len(odd)} other key(s) such as "
            f"{odd[0]!r} ({type(odd[0]).__name__})."
        )
    state = dict(state)
    if all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state


@validate_params(
    {
        "model": [torch.nn.Module],
        "state_dict": [Mapping],
        "head": [str, None],
        "source": [str],
    },
    prefer_skip_nested_validation=False,
)
def load_state_dict_with_new_head(model, state_dict, *, head=None, source="state"):
    """Load weights into ``model``, keeping its own head where shapes differ.

    Every tensor of ``model`` outside ``head`` must be present in
    ``state_dict`` with the same shape, and ``state_dict`` must hold nothing
    that ``model`` lacks.  The head's tensors are copied only when their
    shapes match (same number of classes); otherwise the model keeps its
    freshly initialised head, which is the usual fine-tuning set-up.

    Parameters
    ----------
    model : torch.nn.Module
        The model to initialise (modified in place).
    state_dict : mapping of str to torch.Tensor
        Weights of the source model.
    head : str, default=None
        Qualified name of the head submodule (``"fc"``, ``"head"``,
        ``"classifier"``, ``"blocks.5.proj"``).  When None every tensor must
        match.
    source : str, default="state"
        Name of the checkpoint, used in error messages.

    Returns
    -------
    model : torch.nn.Module
        The same model, holding the loaded weights.

    Examples
    --------
    >>> from torch import nn
    >>> from skcells.models import load_state_dict_with_new_head
    >>> src = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 10))
    >>> dst = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))
    >>> _ = load_state_dict_with_new_head(dst, src.state_dict(), head="1")
    >>> bool((dst[0].weight == src[0].weight).all())
    True
    """
    own = model.state_dict()
    prefix = None if head is None else head + "."

    def in_head(key):
        return prefix is not None and key.startswith(prefix)

    missing = [k for k in own if k not in state_dict and not in_head(k)]
    unexpected = [k for k in state_dict if k not in own]
    mismatched = [
        f"{k}: {tuple(state_dict[k].shape)} vs {tuple(own[k].shape)}"
        for k in state_dict
        if k in own and not in_head(k) and state_dict[k].shape != own[k].shape
    ]
    if missing or unexpected or mismatched:
        problems = []
        for label, keys in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("shape mismatch (checkpoint vs model)", mismatched),
        ):
            if keys:
                more = f" and {len(keys) - 5} more" if len(keys) > 5 else ""
                problems.append(f"{label}: {keys[:5]}{more}")
        raise ValueError(
            f"pretrained checkpoint {source!r} does not fit "
            f"{type(model).__name__}: " + "; ".join(problems) + "."
        )
    loadable = {k: v for k, v in state_dict.items() if v.shape == own[k].shape}
    skipped = sorted(set(state_dict) - set(loadable))
    if skipped:
        logger.info(
            "%s: new head, not loaded from %s: %s",
            type(model).__name__,
            source,
            skipped,
        )
    model.load_state_dict(loadable, strict=False)
    return model


def _load_pretrained(model, pretrained, *, head, freeze_backbone, download=None):
    """Initialise ``model`` from ``pretrained``, then freeze all but ``head``.

    ``pretrained`` is None, False, True (``download()`` returns the online
    state dict) or a checkpoint path (read with :func:`read_checkpoint`).
    Returns the model.
    """
    if pretrained is True:
        if download is None:
            raise ValueError(
                f"pretrained=True: no published weights exist for "
                f"{type(model).__name__}; pass a local checkpoint path instead."
            )
        try:
            with network_timeout():
                downloaded = download()
        except ConnectionError:
            raise
        except (urllib.error.URLError, OSError) as exc:
            raise download_error(
                f"the pretrained weights of {type(model).__name__}",
                "their published address",
                exc,
                _OFFLINE,
            ) from exc
        state = _unwrap_state_dict(downloaded, "online weights")
        load_state_dict_with_new_head(model, state, head=head, source="online weights")
    elif pretrained is not None and pretrained is not False:
        state = read_checkpoint(pretrained)
        load_state_dict_with_new_head(
            model, state, head=head, source=os.fspath(pretrained)
        )
    if check_bool(freeze_backbone, "freeze_backbone"):
        freeze_all_but(model, head)
    return model


def _download_state_dict(url, what):
    """Download a state dict with torch.hub, failing fast offline.

    ``torch.hub`` reuses a file already in its cache; otherwise a single
    attempt is made, with no socket silent for more than 20 s, and a failure
    names ``what``, ``url`` and the offline alternative.
    """
    try:
        with network_timeout():
            return torch.hub.load_state_dict_from_url(
                url, map_location="cpu", progress=True, weights_only=True
            )
    except (urllib.error.URLError, OSError) as exc:
        raise download_error(what, url, exc, _OFFLINE) from exc


def _timm_pretrained(arch, pretrained):
    """The ``pretrained`` keywords of :func:`timm.create_model`, failing fast offline.

    timm fetches its weights from the Hugging Face hub, whose client retries
    a missing network for about 50 s.  Weights already in the local hub
    cache are loaded from there without the network; otherwise the hub must
    answer within a few seconds, or a ConnectionError names the weights and
    the offline alternative.
    """
    if pretrained is not True:
        return {"pretrained": False}
    import timm

    cfg = timm.models.get_pretrained_cfg(arch)
    hub_id = getattr(cfg, "hf_hub_id", None)
    url = getattr(cfg, "url", None)
    if hub_id:
        from huggingface_hub import constants, try_to_load_from_cache

        for filename in ("model.safetensors", "pytorch_model.bin"):
            path = try_to_load_from_cache(hub_id, filename)
            if isinstance(path, str):
                overlay = {"file": path, "source": ""}
                return {"pretrained": True, "pretrained_cfg_overlay": overlay}
        url = f"{constants.ENDPOINT}/{hub_id}"
    if url:
        check_reachable(url, what=f"the timm weights of {arch!r}", offline=_OFFLINE)
    return {"pretrained": True}


def _stay_in_eval(module, args):
    """Forward pre-hook that keeps a frozen layer in inference mode."""
    module.training = False


@validate_params(
    {"model": [torch.nn.Module], "head": [str]}, prefer_skip_nested_validation=False
)
def freeze_all_but(model, head):
    """Freeze every parameter of ``model`` outside the submodule ``head``.

    Frozen parameters get ``requires_grad=False`` and every layer outside the
    head always runs in inference mode (batch-norm running statistics are
    used and never updated, dropout is off), so that the backbone computes
    the same function in ``train()`` and ``eval()`` mode.

    Parameters
    ----------
    model : torch.nn.Module
        The model, modified in place.
    head : str
        Qualified name of the trainable head submodule.

    Returns
    -------
    model : torch.nn.Module
        The same model, trainable in ``head`` only.

    Examples
    --------
    >>> from torch import nn
    >>> from skcells.models import count_parameters, freeze_all_but
    >>> net = freeze_all_but(nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2)), "1")
    >>> count_parameters(net, trainable=True)
    18
    """
    try:
        head_module = model.get_submodule(head)
    except AttributeError:
        raise ValueError(
            f"head must name a submodule of {type(model).__name__}, got {head!r}."
        ) from None
    head_params = {id(p) for p in head_module.parameters()}
    head_modules = {id(m) for m in head_module.modules()}
    for p in model.parameters():
        p.requires_grad_(id(p) in head_params)
    for m in model.modules():
        if id(m) not in head_modules and next(m.children(), None) is None:
            m.register_forward_pre_hook(_stay_in_eval)
    return model

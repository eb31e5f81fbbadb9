"""The skcells model file: skops for the estimator, weights-only torch for nets.

A model file is a zip archive (written atomically) holding

- ``skcells-model.json``: the format name and version, the library versions
  that wrote it, the import path of the saved estimator and, for every skorch
  net inside it, its class and the archive members of its tensors;
- ``estimator.skops``: the estimator written by :func:`skops.io.dumps`, with
  every skorch net replaced by a small record of its class, its parameters
  and its non-tensor fitted attributes;
- ``nets/<key>/<attribute>.pt``: the ``state_dict`` of each module and
  optimizer of a fitted net (``module_``, ``criterion_``, ``optimizer_``...),
  saved with :func:`torch.save` and read with ``torch.load(weights_only=True)``;
- ``nets/<key>/history.json``: the net's training history.

Nothing in the file is unpickled.  skops rebuilds only the types it is told
to trust; :func:`load_model` trusts skops' own defaults, the classes and
functions of the packages in :data:`TRUSTED_PACKAGES` (for torch and
torchvision: only module, optimizer, scheduler, dataset, loader and sampler
classes), and whatever the caller names in ``trusted``.  A skorch net is
never rebuilt from a stored object state (skorch's own ``__setstate__``
unpickles): it is constructed from its parameters, initialised, and its
tensors are loaded into it.
"""

import importlib
import io
import json
import logging
import types
import warnings
import zipfile
from pathlib import Path

from ..utils import atomic_file

__all__ = [
    "FORMAT_VERSION",
    "TRUSTED_PACKAGES",
    "get_untrusted_types",
    "load_model",
    "save_model",
]

logger = logging.getLogger(__name__)

#: Version of the model file format that this skcells writes and reads.
FORMAT_VERSION = 1
_FORMAT = "skcells-model"
_MANIFEST = "skcells-model.json"
_PAYLOAD = "estimator.skops"

#: Packages whose classes and functions a model file may name by default.
TRUSTED_PACKAGES = ("skcells", "sklearn", "skorch", "torch", "torchvision")
# Further names that are safe to rebuild: a builtin that skorch uses as a
# default (EarlyStopping's sink) and numpy's dtype (rebuilt from its code,
# e.g. a fitted input contract's dtype).
_SAFE_NAMES = frozenset({"builtins.print", "numpy.dtype"})
# Attributes of a skorch net that ``initialize()`` makes (the history is
# saved as JSON, modules and optimizers as weights).
_SKORCH_INIT_ATTRS = frozenset(
    {
        "callbacks_",
        "cuda_dependent_attributes_",
        "history_",
        "init_context_",
        "initialized_",
        "prefixes_",
        "virtual_params_",
    }
)
_LOGGER_METHODS = frozenset(
    {"debug", "info", "warning", "error", "critical", "exception", "log"}
)


# ------------------------------------------------------------ placeholders
class _NetRecord:
    """A skorch net inside the skops payload: class, parameters, attributes.

    ``cls`` is an import path (a string, so that no skorch net class is ever
    an object that skops rebuilds); ``params`` are the net's constructor
    parameters; ``attrs`` its fitted attributes that are not tensors; the
    tensors themselves are archive members listed in the manifest under
    ``key``.
    """

    def __init__(self, key, cls, params, attrs, fitted):
        self.key = key
        self.cls = cls
        self.params = params
        self.attrs = attrs
        self.fitted = fitted


class _InMemoryFile:
    """An :class:`io.BytesIO` (a callback's in-memory checkpoint), saved empty."""


class _LoggerMethod:
    """A bound method of a :class:`logging.Logger` (e.g. a callback's sink)."""

    def __init__(self, name, method):
        self.name = name
        self.method = method


# ------------------------------------------------------------- trust policy
def _type_name(obj):
    """``module.name`` of a class or function, as skops names it."""
    if isinstance(obj, str):
        return obj
    module = getattr(obj, "__module__", None)
    name = getattr(obj, "__name__", None)
    if module is None or name is None:
        raise TypeError(
            "trusted must hold type names ('package.module.Name') or the classes "
            f"and functions themselves, got {obj!r}."
        )
    return f"{module}.{name}"


def _check_trusted(trusted):
    """``trusted`` as a set of names."""
    if trusted is None:
        return frozenset()
    if isinstance(trusted, str) or not hasattr(trusted, "__iter__"):
        raise TypeError(
            "trusted must be a list of type names or of classes and functions, "
            f"got {trusted!r}."
        )
    return frozenset(_type_name(t) for t in trusted)


def _torch_bases():
    import torch

    return (
        torch.nn.Module,
        torch.optim.Optimizer,
        torch.optim.lr_scheduler.LRScheduler,
        torch.utils.data.Dataset,
        torch.utils.data.DataLoader,
        torch.utils.data.Sampler,
    )


def _refusal(name):
    """Why the default allow-list refuses ``name``, or None if it accepts it."""
    if name in _SAFE_NAMES:
        return None
    module, _, attr = name.rpartition(".")
    root = module.partition(".")[0]
    if root not in TRUSTED_PACKAGES:
        return "outside " + ", ".join(TRUSTED_PACKAGES)
    try:
        obj = getattr(importlib.import_module(module), attr)
    except Exception:  # any failure to import means "not found"
        return "not found in the installed packages"
    if getattr(obj, "__module__", None) != module:
        return "defined elsewhere and only re-exported there"
    from skorch import NeuralNet

    if isinstance(obj, type):
        if issubclass(obj, NeuralNet):
            return "a skorch net is only restored from its parameters and weights"
        if root in ("torch", "torchvision") and not issubclass(obj, _torch_bases()):
            return (
                "not a torch module, optimizer, scheduler, dataset, loader or "
                "sampler class"
            )
        return None
    if isinstance(obj, types.FunctionType | types.BuiltinFunctionType):
        if root in ("torch", "torchvision"):
            return "a torch function"
        return None
    return "not a class or a function"


def _untrusted(names, trusted):
    """``{name: reason}`` for the names neither trusted nor allowed by default."""
    out = {}
    for name in names:
        if name in trusted:
            continue
        reason = _refusal(name)
        if reason is not None:
            out[name] = reason
    return out


def _resolve_net_class(name, trusted):
    """The skorch net class recorded as ``name``, if trusted."""
    from skorch import NeuralNet

    module, _, attr = name.rpartition(".")
    root = module.partition(".")[0]
    if name not in trusted and root not in TRUSTED_PACKAGES:
        raise ValueError(
            f"the model file holds a network of class {name!r}, which is not "
            f"trusted: pass trusted=[{name!r}] to load_model (skcells predict "
            f"--trust {name}) if you trust the file."
        )
    try:
        cls = getattr(importlib.import_module(module), attr)
    except Exception as exc:
        raise ValueError(
            f"the model file holds a network of class {name!r}, which cannot be "
            f"imported here ({exc})."
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, NeuralNet)):
        raise ValueError(
            f"the model file records {name!r} as a network class, but it is not "
            "a skorch NeuralNet; the file is corrupt or was tampered with."
        )
    return cls


# -------------------------------------------------------------------- save
class _Saver:
    """Replace skorch nets (and logger methods) by records, collect tensors."""

    def __init__(self):
        self.memo = {}
        self.keep = []  # keep the originals alive, so that ids stay unique
        self.nets = {}  # key -> {"class": ..., "state": {attr: state_dict}, ...}

    def strip(self, obj, where):
        import torch
        from skorch import NeuralNet

        ident = id(obj)
        if ident in self.memo:
            return self.memo[ident]
        self.keep.append(obj)
        if isinstance(obj, NeuralNet):
            out = self._net(obj, where)
        elif isinstance(obj, torch.Tensor):
            raise TypeError(
                f"{where} is a torch tensor; save_model stores tensors only as the "
                "weights of a skorch net. Keep tensors inside a net, or convert "
                "them to numpy arrays."
            )
        elif isinstance(obj, torch.nn.Module | torch.optim.Optimizer):
            if isinstance(obj, torch.optim.Optimizer) or obj.state_dict():
                raise TypeError(
                    f"{where} is a {type(obj).__name__} instance with weights; "
                    "save_model records a network by its class and arguments "
                    "(module=MyModule, module__width=8) and loads the weights of "
                    "the fitted net. Pass the class instead of an instance, or "
                    "use pickle."
                )
            out = obj  # a stateless module, e.g. a torchvision transform
        elif isinstance(obj, io.BytesIO):
            # In-memory checkpoints of callbacks (skorch's Checkpoint with
            # f_params=BytesIO, RestoreBestValidLoss): the fitted weights are
            # saved anyway; the buffer comes back empty.
            out = _InMemoryFile()
        elif isinstance(obj, io.IOBase):
            raise TypeError(f"{where} is an open file, which cannot be saved.")
        elif isinstance(obj, logging.Logger):
            raise TypeError(f"{where} is a logging.Logger, which cannot be saved.")
        elif isinstance(obj, types.MethodType) and isinstance(
            obj.__self__, logging.Logger
        ):
            out = _LoggerMethod(obj.__self__.name, obj.__func__.__name__)
        elif isinstance(obj, dict):
            items = {k: self.strip(v, f"{where}[{k!r}]") for k, v in obj.items()}
            out = obj
            if any(items[k] is not obj[k] for k in obj):
                import copy

                out = copy.copy(obj)  # keeps the type (and a default_factory)
                out.update(items)
        elif isinstance(obj, list | tuple):
            items = [self.strip(v, f"{where}[{i}]") for i, v in enumerate(obj)]
            changed = any(a is not b for a, b in zip(items, obj))
            out = _rebuild(obj, items) if changed else obj
        elif self._walks(obj):
            self.memo[ident] = obj  # cycles end here
            state = vars(obj)
            new = {k: self.strip(v, f"{where}.{k}") for k, v in state.items()}
            if any(new[k] is not state[k] for k in state):
                import copy

                out = copy.copy(obj)
                vars(out).update(new)
            else:
                out = obj
        else:
            out = obj
        self.memo[ident] = out
        return out

    @staticmethod
    def _walks(obj):
        """Objects whose attributes may hold nets: estimators and our own types."""
        from sklearn.base import BaseEstimator

        if isinstance(obj, type | types.FunctionType | types.ModuleType):
            return False
        if not hasattr(obj, "__dict__"):
            return False
        root = type(obj).__module__.partition(".")[0]
        return isinstance(obj, BaseEstimator) or root in ("skcells", "skorch")

    def _net(self, net, where):
        import torch
        from sklearn.base import clone

        key = str(len(self.nets))
        # Fresh copies of the parameters (callbacks unfitted), as ``clone`` makes.
        params = clone(net).get_params(deep=False)
        params = {k: self.strip(v, f"{where}.{k}") for k, v in params.items()}
        fitted = bool(getattr(net, "initialized_", False))
        state, attrs, history = {}, {}, None
        if fitted:
            for name, value in vars(net).items():
                if not name.endswith("_") or name.startswith("_"):
                    continue
                if name in _SKORCH_INIT_ATTRS:
                    continue  # rebuilt by initialize(); the history is saved as JSON
                if isinstance(value, torch.nn.Module | torch.optim.Optimizer):
                    state[name] = value.state_dict()
                else:
                    attrs[name] = self.strip(value, f"{where}.{name}")
            history = _history_json(net, where)
        cls = type(net)
        self.nets[key] = {
            "class": f"{cls.__module__}.{cls.__qualname__}",
            "state": state,
            "history": history,
        }
        return _NetRecord(key, self.nets[key]["class"], params, attrs, fitted)


def _rebuild(sequence, items):
    """A list or tuple (named tuples included) of the type of ``sequence``."""
    if hasattr(sequence, "_fields"):
        return type(sequence)(*items)
    return type(sequence)(items)


def _history_json(net, where):
    """The net's history as JSON text, or None (with a warning) if it is not JSON."""

    def default(value):
        if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
            return value.item()
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")

    try:
        return json.dumps(net.history.to_list(), default=default)
    except (TypeError, ValueError) as exc:
        warnings.warn(
            f"the training history of {where} is not saved: {exc}.",
            UserWarning,
            stacklevel=4,
        )
        return None


def _versions():
    import importlib.metadata as md

    out = {}
    for dist in ("skcells", "scikit-learn", "skorch", "torch", "skops", "numpy"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            out[dist] = None
    from .._version import __version__

    out["skcells"] = __version__
    return out


def save_model(estimator, path):
    """Save a fitted estimator in a file that loads without unpickling.

    Works for a :class:`~skcells.multiview.MultiViewClassifier` (with a
    skorch net inside, a :class:`~sklearn.frozen.FrozenEstimator` of one,
    or any scikit-learn estimator), a pipeline, a bare skorch net or any
    scikit-learn estimator.  Parameters and fitted attributes are written
    with :mod:`skops.io`; the weights of every skorch net (its
    ``state_dict`` and the optimizer's) with :func:`torch.save`, and read back
    with ``torch.load(weights_only=True)``.  A net is recorded by its class,
    its parameters and its weights, so its ``module`` must be a class or an
    importable function (not an instance) and, for :func:`load_model` to find
    them, classes defined in a script (``__main__``) must be importable there
    too.  The file is written under a temporary name and moved into place.

    Parameters
    ----------
    estimator : estimator object
        The estimator to save (fitted or not).
    path : str or path-like
        The file to write (its folder is created); ``.skcells`` is a good
        suffix.

    Returns
    -------
    path : pathlib.Path
        The file written.

    Raises
    ------
    TypeError
        For parts of the estimator that cannot be saved this way (a torch
        tensor or a module instance with weights outside a net's fitted
        state), naming where they are.

    Warns
    -----
    UserWarning
        When the file names classes or functions that :func:`load_model` will
        only load when trusted (see :func:`get_untrusted_types`), or that
        are defined in ``__main__``.

    See Also
    --------
    load_model : Load it back.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skcells.multiview import MultiViewClassifier
    >>> from skcells.persistence import load_model, save_model
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(["low", "high"], 10)
    >>> X = rng.normal(size=(20, 1, 8, 8)) + (y == "high")[:, None, None, None]
    >>> clf = MultiViewClassifier(LogisticRegression(), n_views=3, output_size=4,
    ...                           random_state=0).fit(X, y)
    >>> path = save_model(clf, Path(tempfile.mkdtemp()) / "model.skcells")
    >>> again = load_model(path)
    >>> bool(np.array_equal(again.predict_proba(X), clf.predict_proba(X)))
    True
    """
    import skops.io
    import torch

    path = Path(path)
    saver = _Saver()
    stripped = saver.strip(estimator, "estimator")
    try:
        payload = skops.io.dumps(stripped)
    except RecursionError:
        raise TypeError(
            "the estimator holds an object that skops cannot save (it recursed "
            "without end, as for a logger or another process-wide object); pass "
            "plain values, classes or importable functions as parameters."
        ) from None
    names = skops.io.get_untrusted_types(data=payload)
    from skorch import NeuralNet

    for name in names:
        module, _, attr = name.rpartition(".")
        try:
            obj = getattr(importlib.import_module(module), attr)
        except Exception:  # any failure to import means "not found"
            continue
        if isinstance(obj, type) and issubclass(obj, NeuralNet):
            raise TypeError(
                f"the estimator holds a skorch net ({name}) inside an object that "
                "save_model does not look into; nets must sit in estimators' "
                "attributes, lists, tuples or dicts."
            )
    manifest = {
        "format": _FORMAT,
        "version": FORMAT_VERSION,
        "estimator": f"{type(estimator).__module__}.{type(estimator).__qualname__}",
        "versions": _versions(),
        "nets": {},
    }
    members = {}
    for key, net in saver.nets.items():
        entry = {"class": net["class"], "state": {}, "history": None}
        for attr, state in net["state"].items():
            buffer = io.BytesIO()
            torch.save(state, buffer)
            member = f"nets/{key}/{attr}.pt"
            members[member] = buffer.getvalue()
            entry["state"][attr] = member
        if net["history"] is not None:
            member = f"nets/{key}/history.json"
            members[member] = net["history"].encode()
            entry["history"] = member
        manifest["nets"][key] = entry
    needed = _untrusted(names, frozenset())
    main = sorted(n for n in names if n.startswith("__main__."))
    manifest["untrusted_types"] = sorted(needed)
    if main:
        warnings.warn(
            f"the model refers to {main}, defined in the script that saves it: "
            "load_model finds them only in a script that defines them too "
            "(skcells predict cannot); move them to an importable module.",
            UserWarning,
            stacklevel=2,
        )
    elif needed:
        warnings.warn(
            f"loading {path} will need trusted={sorted(needed)} (not in the default "
            f"allow-list of {', '.join(TRUSTED_PACKAGES)}).",
            UserWarning,
            stacklevel=2,
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(_MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
            zf.writestr(_PAYLOAD, payload)
            for member, data in members.items():
                zf.writestr(member, data)
    logger.info("saved %s to %s", type(estimator).__name__, path)
    return path


# -------------------------------------------------------------------- load
def _open(path):
    """The open archive and its manifest, checked."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {str(path)!r} does not exist.")
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ValueError(
            f"{str(path)!r} is not a skcells model file (not a zip archive: {exc}); "
            "save models with skcells.persistence.save_model."
        ) from None
    try:
        manifest = json.loads(zf.read(_MANIFEST))
    except KeyError:
        zf.close()
        raise ValueError(
            f"{str(path)!r} is not a skcells model file (no {_MANIFEST}); save "
            "models with skcells.persistence.save_model."
        ) from None
    except (ValueError, zipfile.BadZipFile, OSError) as exc:
        zf.close()
        raise ValueError(f"the model file {str(path)!r} is damaged ({exc}).") from None
    version = manifest.get("version") if isinstance(manifest, dict) else None
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        zf.close()
        raise ValueError(f"{str(path)!r} is not a skcells model file.")
    if version != FORMAT_VERSION:
        zf.close()
        newer = isinstance(version, int) and version > FORMAT_VERSION
        raise ValueError(
            f"the model file {str(path)!r} has format version {version!r}; this "
            f"skcells reads version {FORMAT_VERSION}"
            + (": upgrade skcells to load it." if newer else ".")
        )
    return zf, manifest


def _read(zf, member, path):
    try:
        return zf.read(member)
    except (KeyError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ValueError(
            f"the model file {str(path)!r} is damaged: member {member!r} cannot be "
            f"read ({exc})."
        ) from None


def get_untrusted_types(path, *, trusted=None):
    """List the types and functions of a model file that loading would refuse.

    :func:`load_model` accepts skops' default types, the classes and
    functions of :data:`TRUSTED_PACKAGES` (for torch and torchvision: module,
    optimizer, scheduler, dataset, loader and sampler classes; never a skorch
    net object state) and the names in ``trusted``.  Check the rest before
    trusting them.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save_model`.
    trusted : list of str, class or function, default=None
        Names already trusted.

    Returns
    -------
    names : list of str
        The refused names (``"package.module.Name"``), sorted; empty when the
        file loads as is.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from skcells.persistence import get_untrusted_types, save_model
    >>> import warnings
    >>> path = Path(tempfile.mkdtemp()) / "model.skcells"
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     _ = save_model(FunctionTransformer(func=round), path)
    >>> get_untrusted_types(path)
    ['builtins.round']
    >>> get_untrusted_types(path, trusted=[round])
    []
    """
    import skops.io

    trusted = _check_trusted(trusted)
    zf, manifest = _open(path)
    with zf:
        payload = _read(zf, _PAYLOAD, path)
    names = skops.io.get_untrusted_types(data=payload)
    refused = set(_untrusted(names, trusted))
    for entry in manifest.get("nets", {}).values():
        name = entry.get("class", "")
        if name not in trusted and name.partition(".")[0] not in TRUSTED_PACKAGES:
            refused.add(name)
    return sorted(refused)


def load_model(path, *, trusted=None, device=None):
    """Load an estimator saved by :func:`save_model`, without unpickling.

    The file's types are checked first: every class or function it names
    must be one of skops' default types, belong to :data:`TRUSTED_PACKAGES`
    (for torch and torchvision: a module, optimizer, scheduler, dataset,
    loader or sampler class), or be named in ``trusted``; otherwise nothing
    is loaded and a :class:`ValueError` lists the others.  Skorch nets are
    constructed from their parameters, initialised (without drawing from
    torch's global random generator) and given their saved weights, read
    with ``torch.load(weights_only=True)``.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save_model`.
    trusted : list of str, class or function, default=None
        Further classes and functions to allow, e.g. your own network class
        (``["mypackage.nets.SmallCNN"]`` or ``[SmallCNN]``).  Only trust what
        you would run.
    device : str or None, default=None
        Torch device of the loaded nets (``"cpu"``, ``"cuda"``...); None keeps
        each net's ``device`` parameter, or uses the CPU with a warning when
        that device is not available here.

    Returns
    -------
    estimator : estimator object
        The estimator, fitted as it was saved.

    Raises
    ------
    ValueError
        For a file that is not a model file, a damaged one, one written in an
        unknown format version, or one that names types that are not trusted.

    See Also
    --------
    save_model : Write the file.
    get_untrusted_types : What a file would need trusted.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skcells.persistence import load_model, save_model
    >>> X, y = load_digits(return_X_y=True)
    >>> model = LogisticRegression(max_iter=500).fit(X, y)
    >>> path = save_model(model, Path(tempfile.mkdtemp()) / "model.skcells")
    >>> (load_model(path).predict(X) == model.predict(X)).all()
    np.True_
    """
    import skops.io

    trusted = _check_trusted(trusted)
    if device is not None and not isinstance(device, str):
        raise TypeError(f"device must be a str or None, got {device!r}.")
    zf, manifest = _open(path)
    with zf:
        payload = _read(zf, _PAYLOAD, path)
        try:
            names = skops.io.get_untrusted_types(data=payload)
        except Exception as exc:
            raise ValueError(
                f"the model file {str(path)!r} is damaged ({exc})."
            ) from None
        refused = _untrusted(names, trusted)
        if refused:
            listed = "; ".join(f"{n} ({why})" for n, why in sorted(refused.items()))
            raise ValueError(
                f"the model file {str(path)!r} names types that are not trusted: "
                f"{listed}. Nothing was loaded. If you trust them, pass "
                f"trusted={sorted(refused)} to load_model (skcells predict --trust "
                "NAME)."
            )
        estimator = skops.io.loads(payload, trusted=sorted(set(names)))
        restorer = _Restorer(zf, manifest, trusted, device, path)
        estimator = restorer.restore(estimator)
    return estimator


class _Restorer:
    """Replace the records of :class:`_Saver` by live nets and loggers."""

    def __init__(self, zf, manifest, trusted, device, path):
        self.zf = zf
        self.nets = manifest.get("nets", {})
        self.trusted = trusted
        self.device = device
        self.path = path
        self.memo = {}
        self.built = {}

    def restore(self, obj):
        ident = id(obj)
        if ident in self.memo:
            return self.memo[ident]
        if isinstance(obj, _NetRecord):
            out = self._net(obj)
        elif isinstance(obj, _InMemoryFile):
            out = io.BytesIO()
        elif isinstance(obj, _LoggerMethod):
            if obj.method not in _LOGGER_METHODS:
                raise ValueError(
                    f"the model file {str(self.path)!r} names logger method "
                    f"{obj.method!r}; the file is corrupt or was tampered with."
                )
            out = getattr(logging.getLogger(obj.name), obj.method)
        elif isinstance(obj, dict):
            for k, v in obj.items():
                obj[k] = self.restore(v)
            out = obj
        elif isinstance(obj, list):
            obj[:] = [self.restore(v) for v in obj]
            out = obj
        elif isinstance(obj, tuple):
            items = [self.restore(v) for v in obj]
            changed = any(a is not b for a, b in zip(items, obj))
            out = _rebuild(obj, items) if changed else obj
        elif _Saver._walks(obj):
            self.memo[ident] = obj
            for k, v in list(vars(obj).items()):
                new = self.restore(v)
                if new is not v:
                    vars(obj)[k] = new
            out = obj
        else:
            out = obj
        self.memo[ident] = out
        return out

    def _net(self, record):
        import torch

        if record.key in self.built:
            return self.built[record.key]
        entry = self.nets.get(record.key)
        if entry is None or entry.get("class") != record.cls:
            raise ValueError(
                f"the model file {str(self.path)!r} is damaged: network "
                f"{record.key!r} is not in its manifest."
            )
        cls = _resolve_net_class(record.cls, self.trusted)
        params = {k: self.restore(v) for k, v in record.params.items()}
        _check_net_callables(params, self.trusted, self.path)
        if self.device is not None:
            params["device"] = self.device
        elif record.fitted:
            params["device"] = _usable_device(params.get("device"))
        # A pretrained module would be fetched again by initialize(); its
        # weights are replaced by the saved ones anyway.
        pretrained = params.get("module__pretrained")
        if pretrained is not None:
            params["module__pretrained"] = None
        net = cls(**params)
        if record.fitted:
            with torch.random.fork_rng(devices=[]):
                net.initialize()
            location = torch.device(net.device or "cpu")
            for attr, member in entry.get("state", {}).items():
                data = _read(self.zf, member, self.path)
                try:
                    state = torch.load(
                        io.BytesIO(data), map_location=location, weights_only=True
                    )
                    getattr(net, attr).load_state_dict(state)
                except Exception as exc:
                    raise ValueError(
                        f"the model file {str(self.path)!r}: the weights of "
                        f"{attr} ({member}) cannot be loaded into "
                        f"{type(net).__name__} ({exc})."
                    ) from None
            if entry.get("history"):
                from skorch.history import History

                history = json.loads(_read(self.zf, entry["history"], self.path))
                net.history = History(history)
            for name, value in record.attrs.items():
                if name not in vars(net):
                    setattr(net, name, self.restore(value))
        if pretrained is not None:
            # restore the parameter without re-initialising the module
            net.module__pretrained = pretrained
        self.built[record.key] = net
        return net


def _net_bases():
    """What the parameters that a skorch net calls when it builds must be."""
    import skorch
    import torch

    module = (torch.nn.Module,)
    return {
        "module": module,
        "criterion": module,
        "optimizer": (torch.optim.Optimizer,),
        "iterator_train": (torch.utils.data.DataLoader,),
        "iterator_valid": (torch.utils.data.DataLoader,),
        "dataset": (torch.utils.data.Dataset, skorch.dataset.Dataset),
    }


def _check_net_callables(params, trusted, path):
    """Refuse a net whose module, optimizer, ... is not what skorch expects.

    skorch calls these with the net's ``<name>__*`` arguments when it builds
    the net or iterates over data; a file may name any function of the
    allowed packages, so only classes of the expected kind (or instances of
    them), skcells' network factories and trusted names are accepted.
    """
    for name, bases in _net_bases().items():
        value = params.get(name)
        if value is None:
            continue
        label = (
            f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', '')}"
        )
        if label in trusted:
            continue
        if isinstance(value, type) and issubclass(value, bases):
            continue
        if not isinstance(value, type) and isinstance(value, bases):
            continue
        if name == "module" and label.startswith("skcells.models."):
            continue
        raise ValueError(
            f"the model file {str(path)!r} gives a network the {name} {label}, "
            f"which is not a {' or '.join(b.__name__ for b in bases)} class; pass "
            f"trusted=[{label!r}] if you trust it."
        )


def _usable_device(device):
    """``device`` if torch can use it here, else "cpu" with a warning."""
    import torch

    if device is None:
        return None
    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError):
        return device
    available = kind == "cpu" or (
        hasattr(torch, kind) and getattr(torch, kind).is_available()
    )
    if available:
        return device
    warnings.warn(
        f"the saved net uses device {device!r}, which is not available here; "
        "loading it on the CPU (pass device= to choose).",
        UserWarning,
        stacklevel=4,
    )
    return "cpu"

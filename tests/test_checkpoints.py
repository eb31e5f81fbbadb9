"""Safe checkpoints: weights are read without running code stored in files.

A source scan checks that every ``torch.load`` (and torch hub / torchvision
weight loader) in the package passes ``weights_only=True`` and lists every
other place that unpickles; the fault-injection tests write checkpoints
carrying a pickled payload whose ``__reduce__`` would create a marker file,
and check that every loader refuses them with a clear error and that the
payload never runs.
"""

import ast
import io
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier

import skcells
from skcells.curriculum import CurriculumNeuralNetClassifier
from skcells.models import CNN9, make_model, read_checkpoint, resnet18
from skcells.utils import write_manifest

PACKAGE = Path(skcells.__file__).parent

# Calls that deserialise torch checkpoints; each must pass weights_only=True.
TORCH_LOADERS = {
    "torch.load",
    "torch.hub.load_state_dict_from_url",
    "hub.load_state_dict_from_url",
    "load_state_dict_from_url",
}
# Methods of torchvision weight enums that call torch.load; same rule.
WEIGHT_METHODS = {"get_state_dict"}
# Other calls that may unpickle; each occurrence must be listed in UNPICKLE_SITES.
UNPICKLERS = {
    "pickle.load",
    "pickle.loads",
    "joblib.load",
    "dill.load",
    "cloudpickle.load",
}
# Reviewed unpickling sites (relative path, call).  None: the tuning model
# cache stores weights only (see
# test_tuning_model_cache_does_not_unpickle_tampered_files below).
UNPICKLE_SITES = set()


def _dotted(node):
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _scan():
    """Yield (relative path, line, dotted call name, keywords) of every call."""
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        aliases = {}
        for node in ast.walk(tree):
            # ``from torch import load as tload`` -> tload means torch.load
            if isinstance(node, ast.ImportFrom) and node.module:
                for a in node.names:
                    aliases[a.asname or a.name] = f"{node.module}.{a.name}"
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _dotted(node.func)
            if name is None:
                continue
            head, _, rest = name.partition(".")
            if head in aliases:
                name = aliases[head] + ("." + rest if rest else "")
            keywords = {k.arg: k.value for k in node.keywords if k.arg}
            yield path.relative_to(PACKAGE).as_posix(), node.lineno, name, keywords


def _is_true(node):
    return isinstance(node, ast.Constant) and node.value is True


def test_every_torch_load_in_the_package_is_weights_only():
    loads = []
    for rel, line, name, keywords in _scan():
        method = name.rsplit(".", 1)[-1]
        if name in TORCH_LOADERS or method in WEIGHT_METHODS:
            loads.append(f"{rel}:{line} {name}")
            assert _is_true(keywords.get("weights_only")), (
                f"{rel}:{line}: {name}(...) must pass weights_only=True"
            )
    # read_checkpoint's torch.load at least; the scan is not vacuous
    assert any("models/_checkpoint.py" in s and "torch.load" in s for s in loads)


def test_numpy_loads_never_allow_pickle():
    found = 0
    for rel, line, name, keywords in _scan():
        if name in ("np.load", "numpy.load"):
            found += 1
            allow = keywords.get("allow_pickle")
            assert allow is None or (
                isinstance(allow, ast.Constant) and allow.value is False
            ), f"{rel}:{line}: np.load(..., allow_pickle=True)"
        elif name.rsplit(".", 1)[-1] == "load_npy":
            # skcells.utils.load_npy refuses object dtypes before reading:
            # nothing to unpickle (tests/test_hardening.py)
            found += 1
    assert found > 0


def test_every_other_unpickling_site_is_reviewed():
    sites = {(rel, name) for rel, _, name, _ in _scan() if name in UNPICKLERS}
    assert sites <= UNPICKLE_SITES, (
        f"new unpickling in the package: {sorted(sites - UNPICKLE_SITES)}; "
        "load weights with torch.load(weights_only=True) or safetensors instead"
    )


# ------------------------------------------------------------ fault injection
class _Payload:
    """Unpickling this object writes ``marker``: proof that code ran."""

    def __init__(self, marker):
        self.marker = Path(marker)

    def __reduce__(self):
        return (Path.write_text, (self.marker, "payload ran"))


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "PAYLOAD_RAN"
    yield path
    # whatever the test asserted, the payload must not have run
    assert not path.exists(), "a pickled payload was executed"


def test_the_payload_is_live(tmp_path):
    """Control: a plain unpickler does run the payload."""
    marker = tmp_path / "control"
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.read_text() == "payload ran"


def _weights():
    return torch.nn.Linear(3, 2).state_dict()


def _write(path, obj):
    torch.save(obj, path)
    return path


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(
            lambda m: {**_weights(), "evil": _Payload(m)}, id="beside-weights"
        ),
        pytest.param(lambda m: {"state_dict": {"w": _Payload(m)}}, id="nested"),
        pytest.param(lambda m: _Payload(m), id="bare-object"),
        pytest.param(lambda m: [torch.zeros(2), _Payload(m)], id="in-a-list"),
    ],
)
def test_read_checkpoint_refuses_pickled_payloads(content, marker, tmp_path):
    path = _write(tmp_path / "evil.pt", content(marker))
    with pytest.raises(ValueError, match=r"weights_only=True") as info:
        read_checkpoint(path)
    assert str(path) in str(info.value)


def test_read_checkpoint_refuses_a_legacy_pickle_file(marker, tmp_path):
    """A plain (non-zip) pickle with a .pt name is refused too."""
    path = tmp_path / "legacy.pt"
    path.write_bytes(pickle.dumps({"weight": _Payload(marker)}, protocol=2))
    with pytest.raises(ValueError, match="could not be read"):
        read_checkpoint(path)


def test_read_checkpoint_refuses_a_pickle_named_safetensors(marker, tmp_path):
    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(ValueError, match="could not be read"):
        read_checkpoint(path)


def test_model_factories_refuse_pickled_payloads(marker, tmp_path):
    cnn = CNN9(2, width=0.05)
    path = _write(tmp_path / "cnn.pt", {**cnn.state_dict(), "evil": _Payload(marker)})
    with pytest.raises(ValueError, match="weights_only=True"):
        make_model("cnn9", 2, pretrained=path, width=0.05)
    with pytest.raises(ValueError, match="weights_only=True"):
        resnet18(2, pretrained=path)


def test_model_factories_still_load_clean_checkpoints(tmp_path):
    """Control: the refusal is specific to payloads, tensors load fine."""
    cnn = CNN9(2, width=0.05)
    path = _write(tmp_path / "cnn.pt", {"model_state": cnn.state_dict()})
    loaded = make_model("cnn9", 2, pretrained=path, width=0.05)
    for key, value in cnn.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value)


def test_tampered_weights_are_refused_with_a_clear_error(tmp_path):
    """Tensor-only but mismatched weights: a ValueError naming the problem."""
    cnn = CNN9(2, width=0.05)
    state = cnn.state_dict()
    first = next(iter(state))
    state[first] = torch.zeros(1, 2, 3)
    path = _write(tmp_path / "cnn.pt", state)
    with pytest.raises(ValueError, match="shape mismatch"):
        make_model("cnn9", 2, pretrained=path, width=0.05)


class _Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.linear(x)


@pytest.mark.parametrize(
    "net_class", [NeuralNetClassifier, CurriculumNeuralNetClassifier]
)
def test_skorch_load_params_refuses_pickled_payloads(net_class, marker, tmp_path):
    """skorch's load_params, used to restore nets, reads weights only."""
    net = net_class(_Tiny, criterion=torch.nn.CrossEntropyLoss, verbose=0)
    net.initialize()
    path = _write(
        tmp_path / "params.pt", {**net.module_.state_dict(), "evil": _Payload(marker)}
    )
    with pytest.raises(pickle.UnpicklingError, match="weights_only"):
        net.load_params(f_params=path)
    buffer = io.BytesIO()
    torch.save(_Payload(marker), buffer)
    buffer.seek(0)
    with pytest.raises(pickle.UnpicklingError):
        net.load_params(f_optimizer=buffer)


def test_tuning_model_cache_does_not_unpickle_tampered_files(marker, tmp_path):
    """A tampered ``skcells tune`` model cache (consistent manifest) is refused.

    Whoever can write a (possibly shared) data home can rewrite a cache file
    and its manifest alike; the weights are still read with
    ``weights_only=True``, so the payload never runs.
    """
    from skcells.tuning import tuning_problem, tuning_recipe

    path = tuning_problem("smoke", random_state=0, data_home=tmp_path).model_path
    _write(path, {"features.0.weight": _Payload(marker)})
    recipe = tuning_recipe("smoke", random_state=0)
    write_manifest(path.parent, [path.name], recipe=recipe)
    with pytest.raises(ValueError, match="cannot be loaded"):
        tuning_problem("smoke", random_state=0, data_home=tmp_path)


def test_a_pickled_checkpoint_file_is_not_needed_to_restore_a_net(tmp_path):
    """Nets round-trip through weights-only files (skorch save/load_params)."""
    X = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
    y = np.tile([0, 1], 8)
    net = NeuralNetClassifier(
        _Tiny, criterion=torch.nn.CrossEntropyLoss, max_epochs=2, verbose=0
    ).fit(X, y)
    net.save_params(f_params=tmp_path / "p.pt")
    fresh = NeuralNetClassifier(
        _Tiny, criterion=torch.nn.CrossEntropyLoss, verbose=0
    ).initialize()
    fresh.load_params(f_params=tmp_path / "p.pt")
    np.testing.assert_array_equal(fresh.predict_proba(X), net.predict_proba(X))

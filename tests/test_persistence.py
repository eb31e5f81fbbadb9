"""save_model / load_model: a fitted model comes back identical, without pickle.

Each test module fits its nets once (module-scoped fixtures); the nets are
tiny.  "Identical" means the bytes of the predictions are equal.  The
malicious-file tests build files that would run code (create a marker file)
if anything in them were unpickled or trusted, and check that loading refuses
them and that the marker never appears.
"""

import io
import json
import pickle
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops.io
import torch
from sklearn.ensemble import RandomForestClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNetClassifier
from skorch.callbacks import EarlyStopping, EpochScoring

from skcells.curriculum import CurriculumNeuralNetClassifier
from skcells.experiments import make_net
from skcells.multiview import MultiViewClassifier
from skcells.persistence import (
    FORMAT_VERSION,
    get_untrusted_types,
    load_model,
    save_model,
    wrap_fitted_net,
)

RNG = np.random.default_rng(0)
Y = np.tile(["high", "low"], 12)
X = RNG.normal(size=(24, 1, 8, 8)).astype(np.float32)
X[Y == "high", :, 2:6, 2:6] += 1.5
X_U8 = RNG.integers(0, 256, size=(16, 3, 32, 32), dtype=np.uint8)
Y_U8 = np.tile([0, 1], 8)


class TinyModule(torch.nn.Module):
    """A module of this test file: a class outside the default allow-list."""

    def __init__(self, n_out=2):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Flatten(), torch.nn.Linear(16, 8), torch.nn.BatchNorm1d(8)
        )
        self.head = torch.nn.Linear(8, n_out)

    def forward(self, x):
        return self.head(torch.relu(self.net(x)))


# Saving a TinyModule net warns that loading needs it trusted.
pytestmark = pytest.mark.filterwarnings("ignore:loading .* will need trusted")
TRUSTED = [TinyModule]


def _tiny_net(cls=CurriculumNeuralNetClassifier, **params):
    """A curriculum net on 4x4 views (16 pixels) of this file's module."""
    return cls(
        TinyModule,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=0.05,
        max_epochs=3,
        batch_size=8,
        train_split=None,
        verbose=0,
        **params,
    )


def _linear_net(cls=NeuralNetClassifier, **params):
    """A net on 16 features whose module is a torch class (allowed by default)."""
    return cls(
        torch.nn.Linear,
        module__in_features=16,
        module__out_features=2,
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=3,
        train_split=None,
        verbose=0,
        **params,
    )


@pytest.fixture(scope="module")
def curriculum_mv():
    """A multi-view curriculum net, fitted with difficulty."""
    torch.manual_seed(0)
    clf = MultiViewClassifier(
        _tiny_net(callbacks=[EpochScoring("accuracy", on_train=True)]),
        n_views=5,
        output_size=4,
        aggregation="mean",
        random_state=0,
    )
    return clf.fit(X, Y, difficulty=np.linspace(0, 1, len(Y)))


@pytest.fixture(scope="module")
def cnn_mv():
    """The protocol's curriculum CNN (make_net) on uint8 frames."""
    torch.manual_seed(0)
    net = make_net(
        model="cnn9",
        n_classes=2,
        model_params={"width": 0.125},
        epochs=2,
        batch_size=8,
        seed=0,
        lr_schedule="cosine",
        curriculum={"curriculum_epochs": 1, "initial_competence": 0.5},
    )
    clf = MultiViewClassifier(net, n_views=3, output_size=28, random_state=0)
    return clf.fit(X_U8, Y_U8, difficulty=np.linspace(0, 1, len(Y_U8)))


def _roundtrip(model, tmp_path, **load_kwargs):
    path = save_model(model, tmp_path / "model.skcells")
    return load_model(path, trusted=TRUSTED, **load_kwargs), path


def _repr(estimator):
    """The repr without object addresses."""
    return re.sub(r" at 0x[0-9a-f]+", "", repr(estimator))


def _same_bytes(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# -------------------------------------------------------- identical results
def test_multiview_with_a_curriculum_net_predicts_identically(
    curriculum_mv, tmp_path, monkeypatch
):
    path = save_model(curriculum_mv, tmp_path / "model.skcells")
    # Nothing is unpickled: the pickle module's loaders are out of order while
    # loading, and torch.load is only called with weights_only=True.
    calls = []
    real_load = torch.load

    def weights_only_load(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    def no_pickle(*args, **kwargs):
        raise AssertionError("load_model unpickled something")

    monkeypatch.setattr(pickle, "loads", no_pickle)
    monkeypatch.setattr(pickle, "load", no_pickle)
    monkeypatch.setattr(pickle, "Unpickler", no_pickle)
    monkeypatch.setattr(torch, "load", weights_only_load)
    rng_before = torch.random.get_rng_state()
    loaded = load_model(path, trusted=TRUSTED)
    monkeypatch.undo()
    assert calls and all(c is True for c in calls)
    # Building the net drew no random numbers from the caller's generator.
    assert torch.equal(torch.random.get_rng_state(), rng_before)

    assert type(loaded) is MultiViewClassifier
    assert _same_bytes(loaded.predict_proba(X), curriculum_mv.predict_proba(X))
    assert _same_bytes(loaded.predict(X), curriculum_mv.predict(X))
    labels, conf = loaded.predict_views(X)
    ref_labels, ref_conf = curriculum_mv.predict_views(X)
    assert _same_bytes(labels, ref_labels) and _same_bytes(conf, ref_conf)
    # Parameters, fitted attributes and the net's history come back.
    assert _repr(loaded) == _repr(curriculum_mv)
    assert _same_bytes(loaded.classes_, curriculum_mv.classes_)
    assert loaded.output_size_ == curriculum_mv.output_size_
    net, ref = loaded.estimator_, curriculum_mv.estimator_
    assert type(net) is CurriculumNeuralNetClassifier and net.initialized_
    assert net.history[:, "train_loss"] == ref.history[:, "train_loss"]
    assert _same_bytes(net.classes_inferred_, ref.classes_inferred_)
    for a, b in zip(
        net.module_.state_dict().values(), ref.module_.state_dict().values()
    ):
        assert torch.equal(a, b)
    # The optimizer state is restored too: training can continue.
    assert net.optimizer_.state_dict()["state"].keys() == (
        ref.optimizer_.state_dict()["state"].keys()
    )
    # The unfitted template stays unfitted.
    assert not getattr(loaded.estimator, "initialized_", False)


def test_the_paper_cnn_with_callbacks_and_a_logger_sink(cnn_mv, tmp_path):
    loaded, path = _roundtrip(cnn_mv, tmp_path)
    assert _same_bytes(loaded.predict_proba(X_U8), cnn_mv.predict_proba(X_U8))
    names = [name for name, _ in loaded.estimator_.callbacks]
    assert names == [name for name, _ in cnn_mv.estimator_.callbacks]
    # make_net's checkpoint callback logs to its module's logger.
    restore = dict(loaded.estimator.callbacks)["best_valid_loss"]
    assert restore.sink == dict(cnn_mv.estimator.callbacks)["best_valid_loss"].sink
    # The file lists its members and needs nothing trusted.
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("skcells-model.json"))
        names = set(zf.namelist())
    assert manifest["version"] == FORMAT_VERSION
    assert manifest["estimator"].endswith("MultiViewClassifier")
    assert manifest["untrusted_types"] == []
    fitted = [e for e in manifest["nets"].values() if e["state"]]
    assert len(fitted) == 1
    assert set(fitted[0]["state"]) == {"module_", "criterion_", "optimizer_"}
    assert set(fitted[0]["state"].values()) <= names
    assert get_untrusted_types(path) == []


def test_a_frozen_net_stays_one_object(curriculum_mv, tmp_path):
    clf = MultiViewClassifier(
        FrozenEstimator(curriculum_mv.estimator_),
        n_views=4,
        output_size=4,
        random_state=1,
    ).fit(X, Y)
    loaded, _ = _roundtrip(clf, tmp_path)
    assert loaded.estimator_ is loaded.estimator  # clone(FrozenEstimator) is itself
    assert _same_bytes(loaded.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize(
    "estimator",
    [
        LogisticRegression(max_iter=200),
        make_pipeline(StandardScaler(), RandomForestClassifier(5, random_state=0)),
    ],
    ids=["logistic", "scaler+forest"],
)
def test_multiview_with_sklearn_estimators(estimator, tmp_path):
    clf = MultiViewClassifier(
        estimator,
        n_views=4,
        output_size=4,
        n_train_views=2,
        random_state=np.random.RandomState(3),
    ).fit(X, Y)
    loaded, _ = _roundtrip(clf, tmp_path)
    # A RandomState draws on, so compare from the same state.
    clf.set_params(random_state=5)
    loaded.set_params(random_state=5)
    assert _same_bytes(loaded.predict_proba(X), clf.predict_proba(X))


def test_plain_estimators_and_a_bare_net(tmp_path):
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(
        X.reshape(24, -1), Y
    )
    loaded, _ = _roundtrip(pipe, tmp_path)
    assert _same_bytes(
        loaded.predict_proba(X.reshape(24, -1)), pipe.predict_proba(X.reshape(24, -1))
    )

    torch.manual_seed(0)
    net = _linear_net(callbacks=[EarlyStopping(monitor="train_loss", patience=2)])
    Xf, yf = X.reshape(24, -1)[:, :16], (Y == "high").astype(np.int64)
    net.fit(Xf, yf)
    loaded, _ = _roundtrip(net, tmp_path)
    assert type(loaded) is NeuralNetClassifier
    assert _same_bytes(loaded.predict_proba(Xf), net.predict_proba(Xf))
    # An unfitted net saves its parameters only.
    loaded, _ = _roundtrip(_tiny_net(), tmp_path)
    assert not getattr(loaded, "initialized_", False) and loaded.max_epochs == 3


def test_saving_replaces_a_file_atomically(curriculum_mv, tmp_path):
    path = tmp_path / "sub" / "model.skcells"
    save_model(curriculum_mv, path)
    before = path.read_bytes()
    bad = MultiViewClassifier(LogisticRegression(), n_views=torch.ones(2))
    with pytest.raises(TypeError, match=r"estimator\.n_views is a torch tensor"):
        save_model(bad, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.skcells"]


def test_what_cannot_be_saved_is_named():
    net = NeuralNetClassifier(torch.nn.Linear(16, 2)).initialize()
    with pytest.raises(TypeError, match=r"estimator\.module is a Linear instance"):
        save_model(net, "unused.skcells")
    with open(__file__, "rb") as f, pytest.raises(TypeError, match="open file"):
        save_model(LogisticRegression(C=f), "unused.skcells")


# ------------------------------------------------------------------ trust
@pytest.mark.filterwarnings("default:loading .* will need trusted")
def test_own_classes_need_trust(curriculum_mv, tmp_path):
    clf = curriculum_mv
    with pytest.warns(UserWarning, match="will need trusted=.*TinyModule"):
        path = save_model(clf, tmp_path / "model.skcells")
    name = f"{TinyModule.__module__}.TinyModule"
    assert get_untrusted_types(path) == [name]
    with pytest.raises(ValueError, match=f"not trusted: {name} .*Nothing was loaded"):
        load_model(path)
    for trusted in ([name], [TinyModule]):
        loaded = load_model(path, trusted=trusted)
        assert _same_bytes(loaded.predict_proba(X), clf.predict_proba(X))
    assert get_untrusted_types(path, trusted=[TinyModule]) == []


def test_classes_defined_in_main_are_flagged(tmp_path, monkeypatch):
    monkeypatch.setattr(TinyModule, "__module__", "__main__")
    with pytest.warns(UserWarning, match="defined in the script that saves it"):
        save_model(_tiny_net(), tmp_path / "m.skcells")


class Payload:
    """Rebuilding this object creates ``marker`` (as a malicious file would)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "payload ran"))

    def __setstate__(self, state):
        Path(state["marker"]).write_text("payload ran")


def _rewrite(path, replace):
    """Rewrite the archive at ``path`` with some members replaced."""
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    members.update(replace)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
def test_pickled_weights_are_never_run(curriculum_mv, tmp_path):
    path = save_model(curriculum_mv, tmp_path / "model.skcells")
    marker = tmp_path / "PAYLOAD_RAN"
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("skcells-model.json"))
    member = next(e for e in manifest["nets"].values() if e["state"])["state"][
        "module_"
    ]
    buffer = io.BytesIO()
    torch.save({"weight": Payload(str(marker))}, buffer)
    _rewrite(path, {member: buffer.getvalue()})
    with pytest.raises(ValueError, match=r"weights of module_ .* cannot be loaded"):
        load_model(path, trusted=TRUSTED)
    _rewrite(path, {member: pickle.dumps(Payload(str(marker)))})
    with pytest.raises(ValueError, match=r"weights of module_ .* cannot be loaded"):
        load_model(path, trusted=TRUSTED)
    assert not marker.exists()


def test_untrusted_objects_in_the_payload_are_refused(curriculum_mv, tmp_path):
    path = save_model(curriculum_mv, tmp_path / "model.skcells")
    marker = tmp_path / "PAYLOAD_RAN"
    # An object whose __setstate__ would run code.
    evil = skops.io.dumps(LogisticRegression(C=Payload(str(marker))))
    _rewrite(path, {"estimator.skops": evil})
    with pytest.raises(ValueError, match="Payload .outside skcells"):
        load_model(path)
    assert get_untrusted_types(path) == [f"{Payload.__module__}.Payload"]
    # A skorch net as an object state: skorch's own __setstate__ unpickles
    # (with torch_load_kwargs read from that state), so it is never trusted.
    net = _linear_net().initialize()
    evil = skops.io.dumps(LogisticRegression(C=net))
    _rewrite(path, {"estimator.skops": evil})
    with pytest.raises(ValueError, match="NeuralNetClassifier .a skorch net is only"):
        load_model(path)
    # Re-exports do not smuggle other packages in under an allowed name.
    for name, why in (
        ("torch.multiprocessing.Process", "re-exported"),
        ("torch.serialization.load", "a torch function"),
        ("os.system", "outside skcells"),
    ):
        from skcells.persistence._format import _refusal

        assert why in _refusal(name)
    # A net whose module is a function of an allowed package but not a
    # network factory (skorch would call it with the file's arguments).
    path3 = save_model(curriculum_mv, tmp_path / "m3.skcells")
    with zipfile.ZipFile(path3) as zf:
        payload = zf.read("estimator.skops")
    tree = skops.io.loads(payload, trusted=skops.io.get_untrusted_types(data=payload))
    tree.estimator_.params["module"] = Path.write_text
    tree.estimator_.params["module__data"] = "payload ran"
    _rewrite(path3, {"estimator.skops": skops.io.dumps(tree)})
    with pytest.raises(ValueError, match=r"pathlib\.write_text .outside"):
        load_model(path3, trusted=TRUSTED)
    from skcells.datasets import get_data_home

    tree.estimator_.params["module"] = get_data_home
    _rewrite(path3, {"estimator.skops": skops.io.dumps(tree)})
    with pytest.raises(ValueError, match="gives a network the module .*get_data_home"):
        load_model(path3, trusted=TRUSTED)
    # A tampered net class in the manifest.
    with zipfile.ZipFile(save_model(curriculum_mv, tmp_path / "m2.skcells")) as zf:
        manifest = json.loads(zf.read("skcells-model.json"))
    for entry in manifest["nets"].values():
        entry["class"] = "os.system"
    _rewrite(tmp_path / "m2.skcells", {"skcells-model.json": json.dumps(manifest)})
    with pytest.raises(ValueError, match="damaged|not trusted"):
        load_model(tmp_path / "m2.skcells", trusted=TRUSTED)
    assert not marker.exists()


# ------------------------------------------------------------------ errors
def test_unknown_versions_and_other_files(curriculum_mv, tmp_path):
    path = save_model(curriculum_mv, tmp_path / "model.skcells")
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("skcells-model.json"))
    _rewrite(path, {"skcells-model.json": json.dumps({**manifest, "version": 99})})
    with pytest.raises(ValueError, match="format version 99; .* upgrade skcells"):
        load_model(path)
    not_zip = tmp_path / "weights.pt"
    torch.save({"w": torch.zeros(2)}, not_zip)
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.writestr("a.txt", "a")
    for other in (not_zip, tmp_path / "other.zip"):
        with pytest.raises(ValueError, match="is not a skcells model file"):
            load_model(other)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model(tmp_path / "missing.skcells")
    # A truncated file names itself.
    data = (tmp_path / "model.skcells").read_bytes()
    cut = tmp_path / "cut.skcells"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.skcells"):
        load_model(cut)


def test_device_choice(curriculum_mv, tmp_path):
    loaded, _ = _roundtrip(curriculum_mv, tmp_path, device="cpu")
    assert loaded.estimator_.device == "cpu"
    net = curriculum_mv.estimator_
    net_cuda = MultiViewClassifier(FrozenEstimator(net), n_views=2).fit(X, Y)
    path = save_model(net_cuda, tmp_path / "m.skcells")
    if not torch.cuda.is_available():
        with zipfile.ZipFile(path) as zf:
            payload = zf.read("estimator.skops")
        obj = skops.io.loads(
            payload, trusted=skops.io.get_untrusted_types(data=payload)
        )
        obj.estimator.estimator.params["device"] = "cuda"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _rewrite(path, {"estimator.skops": skops.io.dumps(obj)})
        with pytest.warns(UserWarning, match="not available here; loading it on"):
            loaded = load_model(path, trusted=TRUSTED)
        assert loaded.estimator_.estimator.device == "cpu"


# ---------------------------------------------------------- wrap_fitted_net
def test_wrap_a_net_saved_with_save_params(curriculum_mv, tmp_path):
    trained = curriculum_mv.estimator_
    f_params = tmp_path / "weights.pt"
    trained.save_params(f_params=f_params)
    params = {"n_views": 5, "output_size": 4, "aggregation": "mean", "random_state": 0}
    fresh = _tiny_net()
    clf = wrap_fitted_net(
        fresh, X, f_params=f_params, classes=["high", "low"], **params
    )
    assert clf.estimator_.estimator is fresh and fresh.classes == ["high", "low"]
    assert _same_bytes(clf.predict_proba(X), curriculum_mv.predict_proba(X))
    # A trained net is wrapped as is; classes may come from the net.
    clf = wrap_fitted_net(trained, X, **params)
    assert list(clf.classes_) == [0, 1]
    # It saves and loads like any other model.
    loaded, _ = _roundtrip(clf, tmp_path)
    assert _same_bytes(loaded.predict_proba(X), clf.predict_proba(X))


def test_wrap_fitted_net_bad_input(tmp_path):
    with pytest.raises(ValueError, match="net is not trained"):
        wrap_fitted_net(_tiny_net(), X, classes=["a", "b"], output_size=4)
    net = _tiny_net().initialize()
    with pytest.raises(ValueError, match="classes is required"):
        wrap_fitted_net(net, X, output_size=4)
    with pytest.raises(ValueError, match="at least 2 distinct labels"):
        wrap_fitted_net(net, X, classes=["a", "a"], output_size=4)
    with pytest.raises(ValueError, match=r"expected \(n_views, 3\)"):
        wrap_fitted_net(net, X, classes=["a", "b", "c"], output_size=4)
    assert net.classes is None  # left as it was
    net.set_params(classes=["a", "b"])
    with pytest.raises(ValueError, match="differs from the net's own classes"):
        wrap_fitted_net(net, X, classes=["b", "c"], output_size=4)
    with pytest.raises(TypeError, match="net must be a skorch NeuralNet"):
        wrap_fitted_net(LogisticRegression(), X)
    f_params = tmp_path / "w.pt"
    torch.save({"weight": torch.zeros(3, 3)}, f_params)
    with pytest.raises(ValueError, match="cannot be loaded into the net's module"):
        wrap_fitted_net(_tiny_net(), X, f_params=f_params, classes=["a", "b"])


# --------------------------------------------------------------- regressors
def _regressor_class():
    import skcells.multiview

    return getattr(skcells.multiview, "MultiViewRegressor", None)


needs_regressor = pytest.mark.skipif(
    _regressor_class() is None, reason="MultiViewRegressor is not here yet"
)


def test_a_curriculum_regressor_net(tmp_path):
    from skcells.curriculum import CurriculumNeuralNetRegressor

    Xs = X[:, :, :4, :4]
    counts = np.linspace(0, 10, len(Xs), dtype=np.float32).reshape(-1, 1)
    torch.manual_seed(0)
    reg = CurriculumNeuralNetRegressor(
        TinyModule, module__n_out=1, max_epochs=2, train_split=None, verbose=0
    ).fit(Xs, counts, difficulty=np.linspace(0, 1, len(Xs)))
    loaded, _ = _roundtrip(reg, tmp_path)
    assert type(loaded) is CurriculumNeuralNetRegressor
    assert _same_bytes(loaded.predict(Xs), reg.predict(Xs))
    assert (
        loaded.history[:, "n_curriculum_samples"]
        == (reg.history[:, "n_curriculum_samples"])
    )


@needs_regressor
def test_multiview_regressor_with_a_net_predicts_identically(tmp_path):
    from skorch import NeuralNetRegressor

    counts = np.linspace(0, 10, len(Y))
    torch.manual_seed(0)
    net = NeuralNetRegressor(
        TinyModule,
        module__n_out=1,
        max_epochs=2,
        batch_size=8,
        train_split=None,
        verbose=0,
    )
    reg = _regressor_class()(net, n_views=5, output_size=4, random_state=0)
    reg.fit(X, counts)
    loaded, _ = _roundtrip(reg, tmp_path)
    assert type(loaded) is type(reg)
    assert _same_bytes(loaded.predict(X), reg.predict(X))
    assert _same_bytes(loaded.predict_views(X), reg.predict_views(X))
    for a, b in zip(loaded.predict_interval(X), reg.predict_interval(X)):
        assert _same_bytes(a, b)
    # A trained regressor net is wrapped as a multi-view regressor.
    f_params = tmp_path / "w.pt"
    reg.estimator_.save_params(f_params=f_params)
    fresh = NeuralNetRegressor(TinyModule, module__n_out=1)
    wrapped = wrap_fitted_net(
        fresh, X, f_params=f_params, n_views=5, output_size=4, random_state=0
    )
    assert type(wrapped) is type(reg)
    assert _same_bytes(wrapped.predict(X), reg.predict(X))

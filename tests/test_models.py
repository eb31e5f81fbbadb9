import pickle

import numpy as np
import pytest
import torch

from skcells.models import (
    CNN9,
    MODEL_NAMES,
    PAPER_INPUT_SHAPES,
    X3D,
    ScaleUint8,
    count_parameters,
    make_model,
    read_checkpoint,
    resnet18,
    vit_l16,
)

TINY_VIT = {"arch": "vit_tiny_patch16_224", "img_size": 32}


def _same_state(a, b, keys=None):
    sa, sb = a.state_dict(), b.state_dict()
    keys = sa.keys() if keys is None else keys
    return all(torch.equal(sa[k], sb[k]) for k in keys)


# --------------------------------------------------------------------- CNN9


def test_cnn9_parameter_count_matches_the_paper():
    assert count_parameters(CNN9(n_classes=10, in_channels=3)) == 4_434_570


def test_cnn9_forward_on_paper_input_returns_logits():
    net = CNN9(n_classes=10).eval()
    with torch.no_grad():
        out = net(torch.randn(2, *PAPER_INPUT_SHAPES["cnn9"]))
    assert out.shape == (2, 10)
    # logits, not probabilities
    assert not torch.allclose(out.sum(dim=1), torch.ones(2))


def test_cnn9_width_and_in_channels():
    small = CNN9(n_classes=2, in_channels=1, width=0.125)
    # 1/64 of the convolutions' weights, roughly
    assert count_parameters(small) < count_parameters(CNN9(n_classes=2)) / 40
    assert small.features[0].in_channels == 1
    assert small.features[0].out_channels == 16
    assert small.classifier.in_features == 16
    out = small.eval()(torch.randn(3, 1, 28, 28))
    assert out.shape == (3, 2)


def test_cnn9_dropout_respects_train_and_eval_mode():
    net = CNN9(n_classes=3, width=0.125, dropout=0.25)
    x = torch.randn(4, 3, 32, 32)
    net.train()
    assert not torch.allclose(net(x), net(x))
    net.eval()
    with torch.no_grad():
        assert torch.equal(net(x), net(x))
    # without dropout, training mode is deterministic too
    net0 = CNN9(n_classes=3, width=0.125, dropout=0.0).train()
    assert torch.allclose(net0(x), net0(x))


@pytest.mark.parametrize(
    "shape, match",
    [((2, 3, 16, 16), "at least 28x28"), ((2, 1, 32, 32), "in_channels=3")],
)
def test_cnn9_rejects_bad_inputs(shape, match):
    with pytest.raises(ValueError, match=match):
        CNN9(n_classes=2, width=0.125)(torch.zeros(shape))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_classes": 0}, ValueError, "n_classes must be an int >= 1, got 0"),
        ({"n_classes": 2.0}, TypeError, "n_classes"),
        (
            {"width": 0},
            ValueError,
            r"'width' parameter of CNN9.* must be a float in the range \(0.0, inf\)"
            r"\. Got 0 ",
        ),
        (
            {"dropout": 1.0},
            ValueError,
            r"'dropout' parameter .* \[0.0, 1.0\)\. Got 1.0",
        ),
        ({"in_channels": True}, TypeError, "in_channels"),
        ({"negative_slope": "x"}, TypeError, "negative_slope"),
    ],
)
def test_cnn9_validates_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        CNN9(**kwargs)


def test_cnn9_trains_as_a_skorch_module():
    from skorch import NeuralNetClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 3, 32, 32)).astype(np.float32)
    y = np.array([0, 1] * 4)
    net = NeuralNetClassifier(
        CNN9,
        module__n_classes=2,
        module__width=0.125,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        max_epochs=2,
        batch_size=4,
        train_split=None,
        verbose=0,
    ).fit(X, y)
    proba = net.predict_proba(X)
    assert proba.shape == (8, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert len(net.history) == 2


# ---------------------------------------------------------------------- X3D


@pytest.fixture(scope="module")
def x3d_two_classes():
    return X3D(n_classes=2)


def test_x3d_xs_parameter_counts(x3d_two_classes):
    assert count_parameters(X3D(n_classes=400)) == 3_794_274  # paper: 3.8 M
    assert count_parameters(x3d_two_classes) == 2_978_772
    assert count_parameters(x3d_two_classes, trainable=True) == 2_978_772


def test_x3d_forward_on_clips_and_single_frames(x3d_two_classes):
    net = x3d_two_classes.eval()
    clip = torch.randn(2, *PAPER_INPUT_SHAPES["x3d_xs"])  # (n, T, C, H, W)
    assert clip.shape == (2, 9, 3, 64, 64)
    with torch.no_grad():
        out = net(clip)
        # the wrapper permutes to pytorchvideo's (n, C, T, H, W)
        manual = clip.permute(0, 2, 1, 3, 4)
        for block in net.blocks:
            manual = block(manual)
        frames = net(torch.randn(2, 3, 64, 64))  # the paper's single-frame row
    assert out.shape == (2, 2)
    torch.testing.assert_close(out, manual)
    assert frames.shape == (2, 2)


def test_x3d_rejects_bad_layout(x3d_two_classes):
    with pytest.raises(ValueError, match="n_frames, in_channels=3"):
        x3d_two_classes(torch.zeros(2, 3, 9, 64, 64))  # pytorchvideo layout
    with pytest.raises(ValueError, match="got \\(2, 64, 64\\)"):
        x3d_two_classes(torch.zeros(2, 64, 64))


def test_x3d_loads_a_kinetics_style_checkpoint(tmp_path):
    source = X3D(n_classes=400, width_factor=0.5, depth_factor=0.5)
    path = tmp_path / "X3D_tiny.pyth"
    # the model zoo nests the weights under "model_state" beside other entries
    torch.save({"model_state": source.state_dict(), "epoch": 3}, path)
    net = make_model("x3d_xs", 2, pretrained=path, width_factor=0.5, depth_factor=0.5)
    backbone = [k for k in source.state_dict() if not k.startswith("blocks.5.proj")]
    assert _same_state(source, net, backbone)
    assert net.blocks[5].proj.out_features == 2
    with pytest.raises(ValueError, match="does not fit X3D: shape mismatch"):
        X3D(n_classes=2, width_factor=1.0, depth_factor=0.5, pretrained=path)


# ----------------------------------------------------------------- ResNet18


def test_resnet18_count_forward_and_checkpoint(tmp_path):
    imagenet_like = resnet18(n_classes=1000)
    path = tmp_path / "resnet18.pth"
    torch.save(imagenet_like.state_dict(), path)

    net = make_model("resnet18", 2, pretrained=str(path))
    assert count_parameters(net) == 11_177_538  # paper: 11.2 M, all trainable
    assert count_parameters(net, trainable=True) == 11_177_538
    assert net.fc.out_features == 2
    backbone = [k for k in imagenet_like.state_dict() if not k.startswith("fc.")]
    assert _same_state(imagenet_like, net, backbone)
    net.eval()
    with torch.no_grad():
        assert net(torch.randn(1, *PAPER_INPUT_SHAPES["resnet18"])).shape == (1, 2)


def test_frozen_resnet18_is_a_fixed_feature_extractor():
    net = resnet18(n_classes=2, freeze_backbone=True)
    assert count_parameters(net, trainable=True) == 512 * 2 + 2
    x = torch.randn(4, 3, 32, 32)
    stats = net.bn1.running_mean.clone()
    net.eval()
    with torch.no_grad():
        expected = net(x)
    net.train()
    out = net(x)
    torch.testing.assert_close(out, expected)  # BatchNorm uses running stats
    assert torch.equal(net.bn1.running_mean, stats)
    out.sum().backward()
    assert net.fc.weight.grad is not None
    assert net.conv1.weight.grad is None
    # freezing survives pickling (skorch clones and saves nets)
    clone = pickle.loads(pickle.dumps(net))
    clone.train()
    with torch.no_grad():
        torch.testing.assert_close(clone(x), expected)


# ------------------------------------------------------------------ ViT-L/16


def test_vit_l16_counts_without_allocating():
    with torch.device("meta"):
        vit = make_model("vit_l16", 2)
        out = vit(torch.zeros(1, *PAPER_INPUT_SHAPES["vit_l16"]))
    assert count_parameters(vit) == 303_303_682  # paper: 303 M
    assert count_parameters(vit, trainable=True) == 2_050  # paper: 2 K
    assert out.shape == (1, 2)


@pytest.mark.slow
def test_vit_l16_forward_on_paper_input():
    vit = vit_l16(n_classes=2).eval()
    with torch.no_grad():
        assert vit(torch.randn(1, 3, 224, 224)).shape == (1, 2)
    assert count_parameters(vit, trainable=True) == 2_050


def test_tiny_vit_trains_only_its_head(tmp_path):
    vit = vit_l16(n_classes=3, **TINY_VIT)
    assert count_parameters(vit, trainable=True) == 192 * 3 + 3
    before = {k: v.clone() for k, v in vit.state_dict().items()}
    optimizer = torch.optim.Adam([p for p in vit.parameters() if p.requires_grad])
    loss = vit(torch.randn(4, 3, 32, 32)).logsumexp(dim=1).sum()
    loss.backward()
    optimizer.step()
    changed = {k for k, v in vit.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"head.weight", "head.bias"}


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_tiny_vit_checkpoint_round_trip(tmp_path, suffix):
    source = vit_l16(n_classes=5, **TINY_VIT).eval()
    path = tmp_path / f"vit{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(source.state_dict(), str(path))
    else:
        torch.save({"state_dict": source.state_dict()}, path)
    same = make_model("vit_l16", 5, pretrained=path, **TINY_VIT).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(same(x), source(x))
    other = make_model("vit_l16", 2, pretrained=path, **TINY_VIT)
    backbone = [k for k in source.state_dict() if not k.startswith("head.")]
    assert _same_state(source, other, backbone)
    assert other.head.out_features == 2


# --------------------------------------------------------- make_model & co.


@pytest.mark.parametrize("name", ["cnn9", "x3d_xs", "resnet18"])
def test_make_model_on_paper_input_shapes(name):
    kwargs = {"cnn9": {"width": 0.25}}.get(name, {})
    net = make_model(name, 2, **kwargs).eval()
    with torch.no_grad():
        out = net(torch.randn(1, *PAPER_INPUT_SHAPES[name]))
    assert out.shape == (1, 2)
    assert set(PAPER_INPUT_SHAPES) == set(MODEL_NAMES)


def test_cnn9_checkpoint_round_trip_with_data_parallel_prefix(tmp_path):
    source = make_model("cnn9", 2, width=0.125).eval()
    path = tmp_path / "cnn9.pt"
    torch.save({f"module.{k}": v for k, v in source.state_dict().items()}, path)
    loaded = make_model("cnn9", 2, pretrained=path, width=0.125).eval()
    assert _same_state(source, loaded)
    frozen = make_model("cnn9", 2, pretrained=path, width=0.125, freeze_backbone=True)
    assert count_parameters(frozen, trainable=True) == 16 * 2 + 2


def test_make_model_errors(tmp_path):
    with pytest.raises(
        ValueError,
        match="'name' parameter of make_model must be a str among .*Got 'vgg'",
    ):
        make_model("vgg", 2)
    with pytest.raises(ValueError, match="n_classes must be an int >= 1, got 0"):
        make_model("cnn9", 0)
    with pytest.raises(
        TypeError,
        match="'pretrained' parameter of make_model must be None, an instance of",
    ):
        make_model("cnn9", 2, pretrained=3)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        make_model("resnet18", 2, pretrained=tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="no published weights"):
        make_model("cnn9", 2, pretrained=True)
    with pytest.raises(ValueError, match="arch must be a timm model name"):
        vit_l16(2, arch="not_a_model")


@pytest.mark.parametrize("name", ["cnn9", "x3d_xs", "resnet18", "vit_l16"])
def test_freeze_backbone_must_be_a_bool(name):
    # A string is truthy: "no" must not freeze the backbone silently.
    kwargs = {
        "cnn9": {"width": 0.125},
        "x3d_xs": {"width_factor": 0.5, "depth_factor": 0.5},
        "vit_l16": TINY_VIT,
    }.get(name, {})
    with pytest.raises(TypeError, match="freeze_backbone must be a bool, got 'no'"):
        make_model(name, 2, freeze_backbone="no", **kwargs)


def test_checkpoint_reading_errors(tmp_path):
    code = tmp_path / "code.pt"
    torch.save({"weights": object.__new__(_Payload)}, code)
    with pytest.raises(ValueError, match="weights_only=True"):
        read_checkpoint(code)  # refuses to unpickle arbitrary objects
    nested = tmp_path / "nested.pt"
    torch.save({"optimizer": {"lr": 0.1}}, nested)
    with pytest.raises(ValueError, match="holds no state dict"):
        read_checkpoint(nested)
    wrong = tmp_path / "wrong.pt"
    torch.save(torch.nn.Linear(3, 2).state_dict(), wrong)
    with pytest.raises(ValueError, match="does not fit CNN9: missing"):
        make_model("cnn9", 2, pretrained=wrong, width=0.125)


class _Payload:
    pass


@pytest.mark.cuda
def test_models_run_on_cuda():
    net = make_model("cnn9", 2, width=0.125).cuda().eval()
    with torch.no_grad():
        assert net(torch.zeros(2, 3, 32, 32, device="cuda")).device.type == "cuda"
    x3d = X3D(n_classes=2).cuda().eval()
    with torch.no_grad():
        assert x3d(torch.zeros(2, 9, 3, 64, 64, device="cuda")).shape == (2, 2)


# -------------------------------------------------------------- uint8 input


def _wrapper_scaled(x):
    """uint8 pixels scaled as the multi-view wrappers do."""
    from skcells.multiview import RandomResizedCropViews

    # one whole view: the wrapper's uint8 -> float32 conversion alone
    views = RandomResizedCropViews(n_views=1, crop_scale=(1.0, 1.0))
    out = views.fit_transform(x)[:, 0]
    assert out.dtype == np.float32 and out.shape == x.shape
    return out


def test_scale_uint8_matches_the_wrapper_and_passes_floats_through():
    pixels = np.arange(256, dtype=np.uint8).reshape(1, 1, 16, 16)
    layer = ScaleUint8()
    out = layer(torch.from_numpy(pixels))
    assert out.dtype == torch.float32
    np.testing.assert_array_equal(out.numpy(), _wrapper_scaled(pixels))
    assert out.min() == 0 and out.max() == 1
    for dtype in (torch.float16, torch.float32, torch.float64):
        x = torch.linspace(-3, 300, 7, dtype=dtype)
        assert layer(x) is x  # floats unchanged, whatever their range
    assert not any(True for _ in layer.parameters())


@pytest.mark.parametrize("dtype", [torch.int64, torch.int16, torch.bool])
def test_scale_uint8_refuses_other_integer_dtypes(dtype):
    with pytest.raises(TypeError, match=r"uint8 pixels .* got dtype"):
        ScaleUint8()(torch.zeros(2, dtype=dtype))


def _uint8_images(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _check_uint8_equals_wrapper(net, x_uint8):
    scaled = torch.from_numpy(_wrapper_scaled(x_uint8))
    with torch.no_grad():
        from_uint8 = net(torch.from_numpy(x_uint8))
        from_float = net(scaled)
    assert torch.equal(from_uint8, from_float)
    return scaled, from_float


def test_cnn9_takes_uint8_frames():
    net = CNN9(n_classes=2, width=0.0625).eval()
    x = _uint8_images((3, 3, 32, 32))
    scaled, out = _check_uint8_equals_wrapper(net, x)
    # float input: exactly the network of before (features, then the head)
    with torch.no_grad():
        assert torch.equal(out, net.classifier(net.features(scaled)))


def test_x3d_takes_uint8_clips(x3d_two_classes):
    net = x3d_two_classes.eval()
    scaled, out = _check_uint8_equals_wrapper(net, _uint8_images((2, 4, 3, 32, 32)))
    with torch.no_grad():
        x = scaled.permute(0, 2, 1, 3, 4)
        for block in net.blocks:
            x = block(x)
    assert torch.equal(out, x)


def test_third_party_networks_take_uint8_images():
    net = resnet18(n_classes=2).eval()
    scaled, out = _check_uint8_equals_wrapper(net, _uint8_images((2, 3, 32, 32)))
    with torch.no_grad():
        assert torch.equal(out, net._forward_impl(scaled))  # torchvision's forward
    vit = vit_l16(n_classes=2, **TINY_VIT).eval()
    _check_uint8_equals_wrapper(vit, _uint8_images((2, 3, 32, 32)))
    # the hook adds no weights: checkpoints keep their keys
    assert set(net.state_dict()) == set(
        __import__("torchvision").models.resnet18(num_classes=2).state_dict()
    )
    restored = pickle.loads(pickle.dumps(net))
    with torch.no_grad():
        x = torch.from_numpy(_uint8_images((1, 3, 32, 32)))
        assert torch.equal(restored(x), net(x))


# torch warns (once per process) that a read-only array becomes a tensor; the
# net never writes to its input
@pytest.mark.filterwarnings("ignore:The given NumPy array is not writable")
def test_bare_curriculum_net_trains_on_uint8_memmap(tmp_path):
    from skcells.curriculum import CurriculumNeuralNetClassifier

    x = _uint8_images((8, 3, 32, 32))
    path = tmp_path / "frames.npy"
    np.save(path, x)
    frames = np.load(path, mmap_mode="r")  # read-only, as the fetchers return
    y = np.tile([0, 1], 4)
    params = dict(
        module=CNN9,
        module__n_classes=2,
        module__width=0.0625,
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=2,
        batch_size=4,
        train_split=None,
        verbose=0,
    )
    torch.manual_seed(0)
    net = CurriculumNeuralNetClassifier(**params)
    net.fit(frames, y, difficulty=np.arange(8.0))
    proba = net.predict_proba(frames)
    assert proba.shape == (8, 2) and np.allclose(proba.sum(axis=1), 1)
    # the same training on the wrapper-scaled floats gives the same net
    torch.manual_seed(0)
    ref = CurriculumNeuralNetClassifier(**params)
    ref.fit(_wrapper_scaled(x), y, difficulty=np.arange(8.0))
    assert net.history[:, "train_loss"] == ref.history[:, "train_loss"]
    np.testing.assert_array_equal(proba, ref.predict_proba(_wrapper_scaled(x)))


@pytest.mark.cuda
def test_uint8_scaling_on_cuda_matches_the_wrapper():
    pixels = np.arange(256, dtype=np.uint8).reshape(1, 1, 16, 16)
    out = ScaleUint8()(torch.from_numpy(pixels).cuda())
    np.testing.assert_array_equal(out.cpu().numpy(), _wrapper_scaled(pixels))
    net = CNN9(n_classes=2, width=0.0625).eval().cuda()
    x = _uint8_images((2, 3, 32, 32))
    with torch.no_grad():
        from_uint8 = net(torch.from_numpy(x).cuda())
        from_float = net(torch.from_numpy(_wrapper_scaled(x)).cuda())
    assert torch.equal(from_uint8, from_float)

"""ONNX export: the graph equals the network on onnxruntime, and Colorizer(backend="onnxruntime")."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from artcolor import Colorizer  # noqa: E402
from artcolor.config import preset  # noqa: E402
from artcolor.export import RELATIVE_TOLERANCE, OnnxRunner, check_onnx, export_onnx  # noqa: E402
from artcolor.model import ColorNet  # noqa: E402


def pixels(image: Image.Image | str) -> np.ndarray:
    im = image if isinstance(image, Image.Image) else Image.open(image)
    return np.asarray(im.convert("RGB")).astype(np.int32)


@pytest.fixture(params=["lab", "rgb"])
def net(request, perturb) -> ColorNet:
    torch.manual_seed(0)
    config = preset("tiny")
    config.color_space = request.param
    return perturb(ColorNet(config)).eval()


@pytest.fixture
def exported(net, tmp_path):
    path = tmp_path / "net.onnx"
    export_onnx(net, path)
    return path


@torch.inference_mode()
def test_onnxruntime_equals_torch_at_any_batch_and_size(net, exported):
    torch.manual_seed(1)
    runner = OnnxRunner(exported)
    for shape in [(1, 1, 32, 32), (3, 1, 16, 48), (2, 1, 64, 20)]:
        l = torch.rand(shape) * 100
        style = torch.randn(shape[0], net.config.code_dim)
        expected = net(l, style)
        got = runner(l, style)
        assert got.shape == expected.shape
        assert (got - expected).abs().max() <= RELATIVE_TOLERANCE * expected.abs().max()


def test_check_reports_a_small_difference(net, exported):
    diff, scale = check_onnx(net, exported)
    assert scale > 1 and diff <= RELATIVE_TOLERANCE * scale


def test_graph_declares_dynamic_axes_and_carries_config_and_null_style(net, exported):
    model = onnx.load(str(exported))
    inputs = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
    assert inputs == {"l": ["batch", 1, "height", "width"], "style": ["batch", net.config.code_dim]}
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["artcolor_config"]) == json.loads(json.dumps(net.config.to_dict()))
    null = torch.tensor(json.loads(props["null_style"]))
    l = torch.rand(1, 1, 32, 32) * 100
    with torch.inference_mode():
        automatic = net(l)
    assert torch.allclose(OnnxRunner(exported)(l, null[None]), automatic, rtol=0, atol=1e-3)


def test_export_leaves_the_network_where_it_was(net, tmp_path):
    before = {k: v.clone() for k, v in net.state_dict().items()}
    export_onnx(net, tmp_path / "net.onnx")
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert not net.training


def test_colorize_on_onnxruntime_equals_torch(net, gray_photo, coffee, palettes):
    torch_backend, ort_backend = Colorizer(net), Colorizer(net, backend="onnxruntime")
    assert ort_backend.backend == "onnxruntime"
    for style in (None, palettes[0], [palettes[0], coffee]):
        a, b = (pixels(c.colorize(gray_photo, style=style)) for c in (torch_backend, ort_backend))
        assert np.abs(a - b).max() <= 1
    assert np.abs(a[..., 0] - a[..., 2]).max() > 10, "a gray output would make the comparison vacuous"


def test_unknown_backend_is_refused(net):
    with pytest.raises(ValueError, match="backend must be 'torch' or 'onnxruntime', got 'tensorrt'"):
        Colorizer(net, backend="tensorrt")


def test_export_command(run_cli, model_dir, tmp_path):
    code, out, err = run_cli("export", "--format", "onnx", "--weights", model_dir, tmp_path / "m" / "tiny.onnx")
    assert code == 0, err
    assert (tmp_path / "m" / "tiny.onnx").stat().st_size > 1000
    assert "max abs difference" in out and "on ab" in out


def test_export_command_refuses_weights_and_preset(run_cli, model_dir, tmp_path):
    code, _, err = run_cli("export", "--weights", model_dir, "--preset", "tiny", tmp_path / "x.onnx")
    assert code == 1 and "exclusive" in err


def test_colorize_command_with_onnxruntime_backend(run_cli, model_dir, tmp_path, coffee):
    coffee.save(tmp_path / "photo.png")
    outputs = {}
    for backend in ("torch", "onnxruntime"):
        out = tmp_path / backend
        code, _, err = run_cli("colorize", tmp_path / "photo.png", "-o", out, "--weights", model_dir,
                               "--palette", "#e76f51,#2a9d8f", "--backend", backend)
        assert code == 0, err
        outputs[backend] = pixels(out / "photo.png")
    assert np.abs(outputs["torch"] - outputs["onnxruntime"]).max() <= 1

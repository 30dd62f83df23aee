"""ONNX export: the graphs equal the network on onnxruntime at any size, the export folder and command,
and Colorizer(backend="onnxruntime")."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from artcolor import Colorizer  # noqa: E402
from artcolor.config import preset  # noqa: E402
from artcolor.color.lab import chroma_ratio  # noqa: E402
from artcolor.inference.export import ColorGraph, export_model, export_onnx  # noqa: E402
from artcolor.inference.export_checks import (  # noqa: E402
    PSNR_FLOOR, RELATIVE_TOLERANCE, check_export, check_onnx, check_style)
from artcolor.inference.onnx_backend import FORMAT, Graph  # noqa: E402
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
    graph = Graph(exported)
    for shape in [(1, 1, 32, 32), (3, 1, 16, 48), (2, 1, 64, 20)]:
        l = torch.rand(shape) * 100
        style = torch.randn(shape[0], net.config.code_dim)
        expected = net(l, style)
        got = torch.from_numpy(graph(["out"], l=l.numpy(), style=style.numpy())[0])
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
    got = Graph(exported)(["out"], l=l.numpy(), style=null[None].numpy())[0]
    assert torch.allclose(torch.from_numpy(got), automatic, rtol=0, atol=1e-3)


def test_export_leaves_the_network_where_it_was(net, tmp_path):
    before = {k: v.clone() for k, v in net.state_dict().items()}
    export_onnx(net, tmp_path / "net.onnx")
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert not net.training


def test_colorize_on_onnxruntime_equals_torch(net, gray_photo, coffee, palettes):
    torch_backend, ort_backend = Colorizer(net), Colorizer(net, backend="onnxruntime")
    assert ort_backend.backend.name == "onnxruntime"
    for style in (None, palettes[0], [palettes[0], coffee]):
        a, b = (pixels(c.colorize(gray_photo, style=style)) for c in (torch_backend, ort_backend))
        assert np.abs(a - b).max() <= 1
    assert np.abs(a[..., 0] - a[..., 2]).max() > 10, "a gray output would make the comparison vacuous"


def test_unknown_backend_is_refused(net):
    with pytest.raises(ValueError, match="backend must be one of 'torch', 'onnxruntime', 'mixed', got 'tensorrt'"):
        Colorizer(net, backend="tensorrt")


def test_export_command_writes_the_whole_model(run_cli, model_dir, tmp_path):
    code, out, err = run_cli("export", "--format", "onnx", "--weights", model_dir, tmp_path / "m" / "tiny")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "m" / "tiny").iterdir()) == [
        "color_net.onnx", "config.json", "null_style.npy", "style_encoder.onnx"]
    figures = re.search(r"colour network (\S+), style encoder (\S+) .*PSNR (\S+) dB", out)
    assert figures, out
    color, style, psnr = map(float, figures.groups())
    assert color <= RELATIVE_TOLERANCE and style <= RELATIVE_TOLERANCE and psnr >= PSNR_FLOOR


def test_export_command_refuses_weights_and_preset_and_a_file(run_cli, model_dir, tmp_path):
    code, _, err = run_cli("export", "--weights", model_dir, "--preset", "tiny", tmp_path / "x")
    assert code == 1 and "exclusive" in err
    (tmp_path / "file").write_text("not a folder")
    code, _, err = run_cli("export", "--weights", model_dir, tmp_path / "file")
    assert code != 0 and "file" in err


def smooth_l(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    """L* (B, 1, H, W) in [0, 100] that varies like a photo's: a bilinear blow-up of an 8x8 grid."""
    grid = torch.rand(shape[0], 1, 8, 8, generator=torch.Generator().manual_seed(seed)) * 100
    return torch.nn.functional.interpolate(grid, size=shape[2:], mode="bilinear", align_corners=False)


@torch.inference_mode()
def test_colour_graph_runs_at_any_size(net, exported):
    """The graph pads to the network's multiple itself (it failed with a Concat error at 333x517)."""
    runner = Graph(exported)
    graph = ColorGraph(net)
    m = net.config.multiple
    for shape in [(1, 1, 333, 517), (2, 1, 3 * m + 1, 2 * m - 3), (1, 1, 5, 7)]:
        l = smooth_l(shape)
        style = net.null_styles(shape[0]) + torch.randn(shape[0], net.config.code_dim)
        out, ratio = runner(["out", "ratio"], l=l.numpy(), style=style.numpy())
        expected_out, expected_ratio = graph(l, style)
        assert out.shape == (*expected_out.shape[:2], *shape[2:]) and ratio.shape == (shape[0], 3, *shape[2:])
        # instance norm sums over 170,000 pixels at 333x517: float32 differs more than at the check's size
        assert np.abs(out - expected_out.numpy()).max() <= 1e-3 * expected_out.abs().max()
        assert np.abs(ratio - expected_ratio.numpy()).max() <= 1e-3 * expected_ratio.abs().max()
    with pytest.raises(ValueError, match="divisible"):
        net(torch.rand(1, 1, 333, 517) * 100)  # the network itself still wants multiples


@torch.inference_mode()
def test_colour_graph_equals_the_network_at_multiples(net, exported):
    l = torch.rand(2, 1, 32, 48) * 100
    style = net.null_styles(2) + torch.randn(2, net.config.code_dim)
    out, ratio = Graph(exported)(["out", "ratio"], l=l.numpy(), style=style.numpy())
    expected = net(l, style)
    assert np.abs(out - expected.numpy()).max() <= RELATIVE_TOLERANCE * expected.abs().max()
    expected_ratio = chroma_ratio(net.to_linear_rgb(l, expected))
    assert np.abs(ratio - expected_ratio.numpy()).max() <= 1e-4 * expected_ratio.abs().max()


@torch.inference_mode()
def test_style_graph_equals_encode_style_at_any_size(net, tmp_path):
    folder = export_model(net, tmp_path / "export")
    runner = Graph(folder / "style_encoder.onnx")
    for shape in [(1, 3, 32, 32), (2, 3, 37, 91), (1, 3, 128, 640)]:
        rgb = torch.rand(shape)
        expected = net.encode_style(rgb)
        got = runner(["style"], rgb=rgb.numpy())[0]
        assert got.shape == (shape[0], net.config.code_dim)
        assert np.abs(got - expected.numpy()).max() <= RELATIVE_TOLERANCE * expected.abs().max()
    ratio, scale = check_style(net, folder / "style_encoder.onnx")
    assert ratio <= RELATIVE_TOLERANCE * scale


def test_export_folder_holds_config_and_null_style(net, tmp_path):
    folder = export_model(net, tmp_path / "export")
    config = json.loads((folder / "config.json").read_text())
    assert config["model"] == json.loads(json.dumps(net.config.to_dict()))
    assert config["onnx"]["multiple"] == net.config.multiple and config["onnx"]["format"] == FORMAT
    assert np.array_equal(np.load(folder / "null_style.npy"), net.null_style.detach().numpy())
    checks = check_export(net, folder)
    assert checks["color"] <= RELATIVE_TOLERANCE and checks["style"] <= RELATIVE_TOLERANCE
    assert checks["psnr"] >= PSNR_FLOOR


def test_an_export_of_an_older_format_is_refused_naming_the_folder(net, tmp_path):
    from artcolor.onnx import OnnxColorizer

    folder = export_model(net, tmp_path / "old")
    config = json.loads((folder / "config.json").read_text())
    config["onnx"]["format"] = 1  # the colour graph ran the U-Net and the automatic decoder for every image
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=rf"{re.escape(str(folder))}: an ONNX export of format 1.*export the model again"):
        OnnxColorizer(folder)


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

"""Automatic colourisation through the whole model: no style goes to the automatic decoder (any code, the
null style's too, to the U-Net), reading only the encoder maps it needs; a model folder keeps the decoder;
the ONNX export runs it as a graph of its own."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from conftest import perturb

from artcolor import Colorizer
from artcolor.config import preset
from artcolor.model import ColorNet
from artcolor.model.auto import in_gamut_bins

AUTO = dataclasses.replace(preset("tiny"), encoder="efficientnet-lite0", hints=True, auto_decoder=True, image_size=64)


@pytest.fixture(scope="module")
def net() -> ColorNet:
    torch.manual_seed(0)
    return perturb(ColorNet(AUTO), scale=0.05).eval()


def test_no_style_goes_to_the_decoder_and_any_code_to_the_unet(net):
    l = torch.rand(3, 1, 64, 96) * 100
    other = net.null_styles(1) + 0.3
    with torch.no_grad():
        by_none = net(l)  # style None: automatic, so the decoder
        auto = net.auto(net.semantic.features(l), l)
        by_null = net(l, net.null_styles(3))  # the null code given: the U-Net under it, as training's samples without a reference
        styled = net.unet(l, net.null_styles(3), None, net.semantic.features(l))
        by_other = net(l, other.expand(3, -1))
    assert torch.allclose(by_none, auto, atol=1e-5)
    assert torch.allclose(by_null, styled, atol=1e-5)
    assert (by_null - by_none).abs().mean() > 1e-3, "the two paths must differ for the test to mean anything"
    assert (by_other - by_null).abs().mean() > 1e-3


def test_with_a_tail_automatic_rows_skip_the_encoder_maps_it_does_not_read():
    torch.manual_seed(0)
    net = perturb(ColorNet(dataclasses.replace(AUTO, auto_tail=True)), scale=0.05).eval()
    assert (net.auto.stages(None), net.auto.stages(torch.zeros(1, 3, 64, 64))) == (2, 3)
    l = torch.rand(1, 1, 64, 96) * 100
    hints = torch.zeros(1, 3, 64, 96)
    hints[0, :2, 20:24, 30:34], hints[0, 2, 20:24, 30:34] = torch.tensor([40.0, -30.0])[:, None, None], 1.0
    with torch.no_grad():
        for h in (None, hints):  # the same output as from all four maps
            torch.testing.assert_close(net(l, hints=h), net.auto(net.semantic.features(l), l, h), rtol=0, atol=0)


def test_model_folder_round_trip_keeps_the_decoder(net, tmp_path, gray_photo):
    Colorizer(net).save(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "config.json").read_text())["model"]["auto_decoder"] is True
    in_gamut_bins.cache_clear()  # as in a fresh process: load_net first builds the network on "meta"
    again = Colorizer.load(tmp_path / "m")
    assert again.net.auto is not None
    a, b = Colorizer(net).colorize(gray_photo), again.colorize(gray_photo)
    assert np.abs(np.asarray(a, int) - np.asarray(b, int)).max() <= 1


def test_onnx_export_colours_automatic_palette_and_hints_as_torch(net, tmp_path, gray_photo, palettes):
    pytest.importorskip("onnxruntime")
    from artcolor.inference.export import export_model
    from artcolor.inference.export_checks import EXPORT_TOLERANCE, PSNR_FLOOR, check_onnx
    from artcolor.onnx import OnnxColorizer

    folder = export_model(net, tmp_path / "onnx")
    assert (folder / "auto_net.onnx").is_file()  # automatic colourisation: a graph of its own
    assert json.loads((folder / "config.json").read_text())["onnx"]["auto_net"] == "auto_net.onnx"
    diff, scale = check_onnx(net, folder / "auto_net.onnx", automatic=True)
    assert scale > 1 and diff <= EXPORT_TOLERANCE * scale
    torch_side, onnx_side = Colorizer(net), OnnxColorizer(folder)
    w, h = gray_photo.size
    hints = [(w // 3, h // 2, "#c0392b", 6.0)]
    for style, hint in ((None, None), (palettes[0], None), (None, hints), (palettes[1], hints)):
        a = np.asarray(torch_side.colorize(gray_photo, style=style, hints=hint), np.float64)
        b = np.asarray(onnx_side.colorize(gray_photo, style=style, hints=hint), np.float64)
        mse = np.mean((a - b) ** 2)
        assert mse == 0 or 10 * np.log10(255 ** 2 / mse) >= PSNR_FLOOR, (style is None, hint is None)

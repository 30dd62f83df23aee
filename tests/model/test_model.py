"""The network: AdaIN, the styled U-Net, the style encoder and the config that builds them."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from artcolor.color.lab import luminance, y_from_l
from artcolor.config import PRESETS, ModelConfig, preset
from artcolor.model import AdaIN, ColorNet, StyleEncoder, adain

PRESET_NAMES = sorted(PRESETS)


def _l(batch: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    """Random L* (B, 1, H, W) in [0, 100]."""
    return torch.rand(batch, 1, height, width, generator=torch.Generator().manual_seed(seed)) * 100


def _rgb(batch: int, height: int, width: int, seed: int = 1) -> torch.Tensor:
    return torch.rand(batch, 3, height, width, generator=torch.Generator().manual_seed(seed))


# ---- AdaIN


def test_adain_is_instance_norm_at_init():
    x, style = torch.randn(2, 6, 5, 7) * 3 + 4, torch.randn(2, 10)
    assert torch.equal(AdaIN(6, 10)(x, style), F.instance_norm(x))


def test_adain_sets_channel_statistics():
    x = torch.randn(2, 3, 16, 16) * 5 - 2
    scale, shift = torch.tensor([[0.5, -0.5, 2.0], [0.0, 1.0, -0.9]]), torch.tensor([[1.0, -3.0, 0.0], [2.0, 0.5, 7.0]])
    out = adain(x, scale, shift)
    torch.testing.assert_close(out.mean(dim=(2, 3)), shift, atol=1e-4, rtol=0)
    torch.testing.assert_close(out.var(dim=(2, 3), unbiased=False).sqrt(), (1 + scale).abs(), atol=1e-3, rtol=1e-3)


def test_adain_module_equals_function():
    module = AdaIN(4, 8)
    torch.nn.init.normal_(module.proj.weight)
    torch.nn.init.normal_(module.proj.bias)
    x, style = torch.randn(3, 4, 6, 6), torch.randn(3, 8)
    scale, shift = module.proj(style).chunk(2, dim=1)
    torch.testing.assert_close(module(x, style), adain(x, scale, shift))


def test_each_adain_call_site_owns_its_module():
    net = ColorNet(preset("default"))
    adains = [m for m in net.modules() if isinstance(m, AdaIN)]
    n_blocks = sum(preset("default").blocks) + len(preset("default").channels) - 1
    assert len(adains) == n_blocks
    assert len({id(m.proj.weight) for m in adains}) == n_blocks


# ---- ColorNet


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_colornet_output_shapes(name):
    config = preset(name)
    net = ColorNet(config).eval()
    h, w = 2 * config.multiple, 3 * config.multiple
    with torch.no_grad():
        out = net(_l(2, h, w), net.encode_style(_rgb(2, 40, 24)))
    assert out.shape == (2, 2 if config.color_space == "lab" else 3, h, w)
    assert torch.isfinite(out).all()


def test_colornet_rejects_a_style_of_the_wrong_width():
    net = ColorNet(preset("tiny"))
    with pytest.raises(ValueError, match=f"style code of {net.config.code_dim}"):
        net(_l(1, 32, 32), torch.zeros(1, net.config.style_dim))


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_colornet_rejects_sizes_not_divisible(name):
    config = preset(name)
    net = ColorNet(config)
    with pytest.raises(ValueError, match=str(config.multiple)):
        net(_l(1, 2 * config.multiple + 1, 2 * config.multiple))


@pytest.mark.parametrize("size", [(5, 200), (17, 33), (64, 64), (1, 1)])
def test_style_encoder_takes_any_size(size):
    encoder = StyleEncoder((8, 16), style_dim=12, activation="relu")
    assert encoder(_rgb(3, *size)).shape == (3, 12)


def test_untrained_colornet_ignores_the_latent():
    # every AdaIN starts as the identity, so the latent cannot change the output before training
    net = ColorNet(preset("tiny")).eval()
    l, d = _l(2, 32, 32), net.config.style_dim
    palette = net.encode_style(_rgb(2, 32, 32))[:, d:]
    with torch.no_grad():
        outputs = [net(l, torch.cat([torch.randn(2, d, generator=torch.Generator().manual_seed(i)), palette], 1))
                   for i in range(3)]
    assert torch.equal(outputs[0], outputs[1]) and torch.equal(outputs[0], outputs[2])


def test_untrained_colornet_already_sees_the_palette():
    # the palette enters as input channels, so even an untrained network's output depends on it
    net = ColorNet(preset("tiny")).eval()
    l = _l(2, 32, 32)
    warm, cold = torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 32)
    warm[:, 0], cold[:, 2] = 1, 1
    with torch.no_grad():
        out_warm, out_cold = net(l, net.encode_style(warm).expand(2, -1)), net(l, net.encode_style(cold).expand(2, -1))
    assert (out_warm - out_cold).abs().mean() > 1e-3


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_every_parameter_gets_a_gradient(name, perturb):
    config = preset(name)
    torch.manual_seed(0)
    net = perturb(ColorNet(config).train(), scale=0.05)
    l = _l(2, 2 * config.multiple, 2 * config.multiple)
    styled = net(l, net.encode_style(_rgb(2, 32, 32)))
    automatic = net(l)  # the null style
    (styled.square().mean() + automatic.square().mean()).backward()
    for pname, p in net.named_parameters():
        assert p.grad is not None, f"{pname} got no gradient"
        assert p.grad.abs().sum() > 0, f"{pname} got a zero gradient"


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_eval_forwards_are_identical(name, perturb):
    config = preset(name)
    torch.manual_seed(0)
    net = perturb(ColorNet(config), scale=0.05).eval()
    l, style = _l(2, 2 * config.multiple, 2 * config.multiple), net.encode_style(_rgb(2, 32, 32))
    with torch.no_grad():
        assert torch.equal(net(l, style), net(l, style))
        assert torch.equal(net(l), net(l))


def test_batch_items_are_independent(perturb):
    # instance norm, not batch norm: an image's output does not depend on its batch-mates
    # (in float64: float32 batched matmuls round differently from single ones)
    net = perturb(ColorNet(preset("tiny"))).eval().double()
    l, style = _l(3, 32, 32).double(), torch.randn(3, net.config.code_dim, dtype=torch.float64)
    with torch.no_grad():
        batched = net(l, style)
        alone = torch.cat([net(l[i:i + 1], style[i:i + 1]) for i in range(3)])
    torch.testing.assert_close(batched, alone, atol=1e-9, rtol=1e-9)


def test_lab_prediction_keeps_the_input_lightness(perturb):
    net = perturb(ColorNet(preset("tiny"))).eval()
    l = _l(1, 32, 32)
    with torch.no_grad():
        linear = net.to_linear_rgb(l, net(l))
    torch.testing.assert_close(luminance(linear), y_from_l(l), atol=1e-4, rtol=1e-3)


def test_rgb_prediction_maps_to_linear_rgb_in_range(perturb):
    net = perturb(ColorNet(preset("seed"))).eval()
    l = _l(1, 32, 32)
    with torch.no_grad():
        linear = net.to_linear_rgb(l, net(l))
    assert linear.shape == (1, 3, 32, 32)
    assert linear.min() >= 0 and linear.max() <= 1


# ---- config


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_config_dict_round_trip(name):
    config = preset(name)
    assert ModelConfig.from_dict(config.to_dict()) == config


def test_config_file_round_trip(tmp_path):
    config = dataclasses.replace(preset("tiny"), channels=(4, 8, 8), style_dim=5, color_space="rgb")
    config.save(tmp_path / "config.json")
    assert ModelConfig.load(tmp_path / "config.json") == config


def test_preset_returns_a_copy():
    config = preset("default")
    config.style_dim = 3
    assert preset("default").style_dim == PRESETS["default"].model.style_dim != 3


def test_multiple_is_one_halving_per_level_or_the_encoders_32():
    assert ModelConfig(channels=(8, 8, 8), blocks=(1, 1, 1)).multiple == 4
    assert preset("seed").multiple == 2 ** (len(preset("seed").channels) - 1) == 16
    assert preset("default").multiple == 32  # EfficientNet-Lite halves five times


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"channels": (8,), "blocks": (1,)}, "two levels"),
        ({"channels": (8, 8), "blocks": (1, 1, 1)}, "one entry per level"),
        ({"channels": (8, 0), "blocks": (1, 1)}, "positive"),
        ({"style_dim": 0}, "style_dim"),
        ({"palette_bins": -1}, "palette_bins must be a non-negative"),
        ({"palette_bins": True}, "palette_bins must be a non-negative"),
        ({"palette_bins": 2.5}, "palette_bins must be a non-negative"),
        ({"palette_classes": 0}, "palette_classes must be a positive"),
        ({"palette_classes": 1.5}, "palette_classes must be a positive"),
        ({"color_space": "hsv"}, "color_space"),
        ({"activation": "tanh"}, "activation"),
    ],
)
def test_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**kwargs)


def test_config_rejects_unknown_keys():
    with pytest.raises(ValueError, match="dropout"):
        ModelConfig.from_dict({**preset("tiny").to_dict(), "dropout": 0.1})


def test_unknown_preset_lists_the_choices():
    with pytest.raises(ValueError, match="tiny"):
        preset("huge")


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"channels": [8, 8]}', '{"model": {"colour_space": "lab"}}'])
def test_config_file_errors_name_the_file(tmp_path, text):
    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(ValueError, match="config.json"):
        ModelConfig.load(path)

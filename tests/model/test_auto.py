"""The automatic decoder (model/auto.py); its training (training/auto.py) is tests/training/test_train_auto.py's."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from conftest import perturb

from artcolor.config import ModelConfig, preset
from artcolor.model import ColorNet
from artcolor.model.auto import annealed_mean, bin_centres, n_bins, soft_bins
from artcolor.training.auto import nearest_bin

AUTO = dataclasses.replace(preset("tiny"), encoder="efficientnet-lite0", hints=True, auto_decoder=True, image_size=64)


@pytest.fixture(scope="module")
def net() -> ColorNet:
    torch.manual_seed(0)
    return perturb(ColorNet(AUTO), scale=0.05).eval()


def test_soft_bins_are_weights_whose_mean_is_the_colour():
    ab = torch.tensor([[3.0, -47.5], [0.0, 0.0], [52.0, 61.0], [-61.2, 58.8]]).T.reshape(1, 2, 2, 2)  # in sRGB's gamut
    w = soft_bins(ab)
    assert w.shape == (1, n_bins(), 2, 2)
    assert torch.allclose(w.sum(1), torch.ones(1, 2, 2))
    assert (w > 0).sum(1).max() <= 4
    mean = torch.einsum("bqhw,qc->bchw", w, bin_centres())
    assert torch.allclose(mean, ab, atol=1e-4)
    outside = soft_bins(torch.tensor([109.0, -110.0]).view(1, 2, 1, 1))  # no sRGB colour: its nearest bins
    assert outside.sum().item() == pytest.approx(1.0) and 200 < n_bins() < 330


def test_annealed_mean_goes_from_the_mean_to_the_mode():
    logits = torch.full((1, n_bins(), 1, 1), -30.0)
    centres = bin_centres()
    a = int(nearest_bin(torch.tensor([40.0, 20.0]).view(1, 2, 1, 1)))
    b = int(nearest_bin(torch.tensor([-30.0, -50.0]).view(1, 2, 1, 1)))
    logits[0, a], logits[0, b] = 1.0, 0.0  # a is likelier than b
    p = torch.softmax(logits[0, :, 0, 0].double(), 0)
    mean = (p[:, None] * centres.double()).sum(0)
    assert torch.allclose(annealed_mean(logits, 1.0)[0, :, 0, 0].double(), mean, atol=1e-3)
    assert torch.allclose(annealed_mean(logits, 0.05)[0, :, 0, 0], torch.tensor([40.0, 20.0]), atol=1e-3)
    assert centres[a].tolist() == [40.0, 20.0]


@pytest.mark.parametrize("changes, message", [
    ({"auto_decoder": True}, "needs an encoder"),
    ({"auto_decoder": True, "encoder": "efficientnet-lite0", "color_space": "rgb"}, "color_space 'lab'"),
    ({"auto_temperature": 0.0}, "auto_temperature must be a number"),
    ({"auto_mix": 1.5}, "auto_mix must be a number"),
    ({"auto_mix": True}, "auto_mix must be a number"),
    ({"auto_decoder": "yes"}, "auto_decoder must be true or false"),
    ({"auto_tail": 1}, "auto_tail must be true or false"),
    ({"auto_tail": True}, "needs auto_decoder true"),
])
def test_bad_auto_settings_are_named(changes, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(ModelConfig(), **changes)


def test_hints_steer_the_decoder_where_they_are(net):
    l = torch.full((1, 1, 64, 64), 60.0)
    hints = torch.zeros(1, 3, 64, 64)
    hints[0, 0, 20:26, 20:26], hints[0, 1, 20:26, 20:26], hints[0, 2, 20:26, 20:26] = 50.0, -40.0, 1.0
    with torch.no_grad():
        plain, hinted = net(l), net(l, hints=hints)
    assert (hinted - plain).abs().max() > 1e-3
    assert torch.allclose(hinted[0, :, 20:26, 20:26], hints[0, :2, 20:26, 20:26])  # the hint wins where it is
    outside = torch.ones(64, 64, dtype=torch.bool)
    outside[16:30, 16:30] = False
    assert (hinted - plain)[0][:, outside].abs().mean() < (hinted - plain)[0, :, 20:26, 20:26].abs().mean()


def test_readout_settings_move_the_output(net):
    l = torch.rand(1, 1, 64, 64) * 100
    with torch.no_grad():
        outs = []
        for mix in (0.0, 1.0):
            net.auto.mix = mix
            outs.append(net(l))
        net.auto.mix = AUTO.auto_mix
    assert (outs[0] - outs[1]).abs().mean() > 1e-3


def test_a_tail_from_stride_4_reads_one_shared_map():
    deeper = ColorNet(dataclasses.replace(AUTO, auto_tail=True, auto_tail_from=4)).eval()
    assert deeper.auto.stages(None) == 1
    with pytest.raises(ValueError, match="auto_tail_from"):
        dataclasses.replace(AUTO, auto_tail=True, auto_tail_from=16)



"""The automatic decoder (model/auto.py) and its training (training/auto.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from conftest import perturb

from artcolor import Colorizer
from artcolor.config import ModelConfig, preset
from artcolor.model import ColorNet
from artcolor.model.auto import annealed_mean, bin_centres, n_bins, soft_bins
from artcolor.model.efficientnet import EncoderTail
from artcolor.model.spread import MAX_KEYS, spread_hints
from artcolor.training.auto import AutoConfig, batch_order, cache, load_caches, losses, nearest_bin, rebalance_weights, train

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


def test_rebalancing_favours_rare_colours_with_mean_weight_one():
    ab = torch.zeros(4, 2, 16, 16)
    ab[0, 0] = 60.0  # one image in four is red; the rest gray
    w = rebalance_weights(ab, 0.5)
    gray, red = int(nearest_bin(torch.zeros(1, 2, 1, 1))), int(nearest_bin(torch.tensor([60.0, 0]).view(1, 2, 1, 1)))
    assert w[red] > 1.3 * w[gray]  # p 1/4 against 3/4 of the pixels (before smoothing)
    q = nearest_bin(torch.nn.functional.avg_pool2d(ab, 4))
    assert w[q].mean().item() == pytest.approx(1.0, rel=0.05)


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


def _two_halves(size: int = 64) -> list[torch.Tensor]:
    """Encoder-like features (strides 4, 8, 16) that see a left half and a different right half."""
    out = []
    for stride, c in ((4, 24), (8, 40), (16, 112)):
        f = torch.zeros(1, c, size // stride, size // stride)
        f[:, 0, :, : size // stride // 2], f[:, 1, :, size // stride // 2:] = 1.0, 1.0
        out.append(f)
    return out


def _hint(size: int, y: slice, x: slice, a: float, b: float) -> torch.Tensor:
    hints = torch.zeros(1, 3, size, size)
    hints[0, 0, y, x], hints[0, 1, y, x], hints[0, 2, y, x] = a, b, 1.0
    return hints


def test_a_hint_spreads_over_what_looks_like_it_and_not_beyond():
    ab, l = torch.zeros(1, 2, 64, 64), torch.full((1, 1, 64, 64), 50.0)
    out = spread_hints(ab, _hint(64, slice(28, 32), slice(4, 8), 30.0, -20.0), _two_halves(), l)
    left, right = out[0, :, :, :28], out[0, :, :, 44:]  # clear of the bilinear seam between the halves
    assert left[0].mean() > 20 and left[1].mean() < -13  # the left half takes most of the correction
    assert right.abs().max() < 0.5  # the right half looks different: it stays


def test_a_hint_the_prediction_already_meets_changes_nothing():
    ab, l = torch.randn(1, 2, 64, 64) * 10, torch.rand(1, 1, 64, 64) * 100
    hints = torch.zeros(1, 3, 64, 64)
    hints[0, :2, 8:12, 8:12], hints[0, 2, 8:12, 8:12] = ab[0, :, 8:12, 8:12], 1.0
    out = spread_hints(ab, hints, [torch.randn(1, 24, 16, 16), torch.randn(1, 40, 8, 8), torch.randn(1, 112, 4, 4)], l)
    assert torch.allclose(out, ab, atol=1e-4)


@pytest.mark.parametrize("size", [8, 128])  # fewer cells than MAX_KEYS; more hint cells than it
def test_spread_takes_any_number_of_cells(size):
    assert (size // 4) ** 2 < MAX_KEYS or (size // 4) ** 2 > MAX_KEYS
    ab, l = torch.zeros(1, 2, size, size), torch.full((1, 1, size, size), 50.0)
    features = [torch.ones(1, c, max(size // stride, 1), max(size // stride, 1)) for stride, c in ((4, 24), (8, 40), (16, 112))]
    out = spread_hints(ab, _hint(size, slice(None), slice(None), 10.0, 5.0), features, l)  # a scribble over everything
    assert torch.allclose(out[0, 0], torch.full((size, size), 10.0), rtol=0.05)
    assert torch.allclose(out[0, 1], torch.full((size, size), 5.0), rtol=0.05)


def test_readout_settings_move_the_output(net):
    l = torch.rand(1, 1, 64, 64) * 100
    with torch.no_grad():
        outs = []
        for mix in (0.0, 1.0):
            net.auto.mix = mix
            outs.append(net(l))
        net.auto.mix = AUTO.auto_mix
    assert (outs[0] - outs[1]).abs().mean() > 1e-3


def test_a_new_tail_computes_what_the_encoder_does(net):
    l = torch.rand(2, 1, 64, 96) * 100
    with torch.no_grad():
        f = net.semantic.features(l)
        again = EncoderTail(net.semantic.encoder)(f[1])
    assert len(again) == 2
    for a, b in zip(again, f[2:]):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def _photos(folder: Path, n: int = 6) -> Path:
    """Made photos: a blue top half over a green bottom, with texture."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        a = np.zeros((80, 100, 3), np.uint8)
        a[:40] = (60, 110, 220)
        a[40:] = (50, 170, 60)
        a = np.clip(a + rng.integers(-20, 20, a.shape), 0, 255).astype(np.uint8)
        Image.fromarray(a).save(folder / f"p{i}.png")
    return folder


def test_training_learns_the_colours_of_the_photos(tmp_path):
    torch.manual_seed(0)
    net = perturb(ColorNet(AUTO), scale=0.05)  # an encoder that sees something, as a pretrained one does
    cfg = AutoConfig(size=64, variants=2, epochs=60, batch_size=4, lr=3e-3)
    path = tmp_path / "cache.pt"
    cache(net, str(_photos(tmp_path / "photos")), path, cfg, stages=4, log=lambda *_: None)
    data = torch.load(path, weights_only=True)
    assert len(data["l"]) == 10 and len(data["held_out"]) == 1  # 5 training photos x 2 crops; 1 held out
    assert data["colourfulness"].shape == (10,) and (data["colourfulness"] > 10).all()
    l, ab = data["l"][:4].float(), data["ab"][:4].float()
    with torch.no_grad():
        before = (net.eval()(l) - ab).abs().mean()
    train(net, [path], tmp_path, cfg, log=lambda *_: None)
    with torch.no_grad():
        after = (net.eval()(l) - ab).abs().mean()
    assert after < 0.6 * before
    assert (tmp_path / "auto.pt").is_file()


def test_each_photo_folder_holds_out_its_own_split(tmp_path):
    net = perturb(ColorNet(AUTO), scale=0.05)
    cfg = AutoConfig(size=64, variants=1, val_fraction=0.25, max_val=64)
    for name in ("a", "b"):
        cache(net, str(_photos(tmp_path / name, n=8)), tmp_path / f"{name}.pt", cfg, stages=1, log=lambda *_: None)
    a, b = (torch.load(tmp_path / f"{name}.pt", weights_only=True) for name in ("a", "b"))
    assert len(a["held_out"]) == len(b["held_out"]) == 2 and len(a["l"]) == 6
    assert len(a["features"]) == 1  # only the maps asked for
    assert all("/a/" in n for n in a["held_out"]) and all("/b/" in n for n in b["held_out"])
    assert len(load_caches([tmp_path / "a.pt", tmp_path / "b.pt"])["l"]) == 12


def test_colourful_crops_are_drawn_more_often():
    colour = torch.tensor([5.0, 10.0, 40.0, 80.0])
    g = torch.Generator().manual_seed(0)
    plain = batch_order(4, colour, AutoConfig(), g)
    assert sorted(plain.tolist()) == [0, 1, 2, 3]  # each once
    drawn = torch.cat([batch_order(4, colour, AutoConfig(colourful=1.0), g) for _ in range(500)])
    counts = torch.bincount(drawn, minlength=4).float()
    assert counts[3] > 1.5 * counts[2] > 3 * counts[1]


def test_the_balance_term_measures_each_crops_mean_and_spread(net):
    decoder = net.auto
    l = torch.rand(2, 1, 64, 64) * 100
    features = net.semantic.features(l)
    weights = torch.ones(n_bins())
    with torch.no_grad():
        out = F.interpolate(decoder.read_out(*decoder.heads(features, l)), scale_factor=2, mode="nearest")
        _, exact = losses(decoder, features, l, out, weights, AutoConfig(balance=1.0))
        _, shifted = losses(decoder, features, l, out + 11.0, weights, AutoConfig(balance=1.0))
    assert exact["balance"] < 1e-4
    assert shifted["balance"] == pytest.approx(0.1, abs=1e-3)  # 11 a*b* units in each channel, / AB_SCALE 110


def test_a_tail_grown_to_start_at_stride_4_computes_what_it_did():
    torch.manual_seed(0)
    net = perturb(ColorNet(dataclasses.replace(AUTO, auto_tail=True)), scale=0.05).eval()
    grown = net.auto.tail.grown(net.semantic.encoder, 4).eval()
    l = torch.rand(1, 1, 64, 96) * 100
    with torch.no_grad():
        f = net.semantic.features(l)
        torch.testing.assert_close(grown(f[0])[1:], net.auto.tail(f[1]), rtol=0, atol=0)
        deeper = ColorNet(dataclasses.replace(AUTO, auto_tail=True, auto_tail_from=4)).eval()
    assert deeper.auto.stages(None) == 1
    with pytest.raises(ValueError, match="auto_tail_from"):
        dataclasses.replace(AUTO, auto_tail=True, auto_tail_from=16)


def test_train_auto_command_writes_a_model_with_the_decoder(run_cli, tmp_path, gray_photo):
    base = tmp_path / "base"
    torch.manual_seed(0)
    Colorizer(ColorNet(dataclasses.replace(AUTO, auto_decoder=False))).save(base)
    photos = _photos(tmp_path / "photos")
    code, out, err = run_cli("train-auto", "--weights", str(base), "--photos", str(photos), "--out",
                             str(tmp_path / "run"), "--epochs", "1", "--mix", "0.25")
    assert code == 0, err
    model = Colorizer.load(tmp_path / "run" / "model")
    assert model.net.auto is not None and model.net.auto.mix == 0.25
    assert model.colorize(gray_photo).size == gray_photo.size
    code, _, err = run_cli("train-auto", "--weights", str(tmp_path / "nowhere"), "--photos", str(photos),
                           "--out", str(tmp_path / "r2"))
    assert code != 0 and "nowhere" in err
    code, _, err = run_cli("train-auto", "--weights", str(base), "--photos", str(tmp_path / "no_photos"),
                           "--out", str(tmp_path / "r3"))
    assert code != 0 and "no_photos" in err and "Traceback" not in err


def test_a_tail_is_tuned_and_the_shared_encoder_is_not(run_cli, tmp_path, gray_photo):
    base = tmp_path / "base"
    torch.manual_seed(0)
    Colorizer(perturb(ColorNet(AUTO), scale=0.05)).save(base)
    code, _, err = run_cli("train-auto", "--weights", str(base), "--photos", str(_photos(tmp_path / "photos")), "--out",
                           str(tmp_path / "run"), "--epochs", "2", "--tail", "--tail-lr", "1e-3")
    assert code == 0, err
    before, tuned = Colorizer.load(base).net, Colorizer.load(tmp_path / "run" / "model")
    after = tuned.net
    assert after.config.auto_tail and after.auto.tail is not None
    shared = dict(before.semantic.encoder.named_parameters())
    for name, p in after.semantic.encoder.named_parameters():
        assert torch.equal(p, shared[name]), name  # the U-Net's encoder is as it was
    start = dict(EncoderTail(before.semantic.encoder).named_parameters())
    moved = [not torch.equal(p, start[name]) for name, p in after.auto.tail.named_parameters()]
    assert sum(moved) > len(moved) // 2  # the tail started as the encoder's blocks and learned
    assert tuned.colorize(gray_photo).size == gray_photo.size


def test_train_auto_needs_an_encoder(run_cli, tmp_path):
    Colorizer.from_preset("tiny").save(tmp_path / "tiny")
    code, _, err = run_cli("train-auto", "--weights", str(tmp_path / "tiny"), "--photos", str(tmp_path),
                           "--out", str(tmp_path / "r"))
    assert code != 0 and "no encoder" in err

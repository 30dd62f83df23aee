"""Training the automatic decoder (training/auto.py, `artcolor train-auto`): the cache, the losses,
the run's config and its `auto` section, checkpoints and resume."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from PIL import Image

from conftest import perturb

from artcolor import Colorizer
from artcolor.config import preset
from artcolor.model import ColorNet
from artcolor.model.auto import n_bins
from artcolor.model.efficientnet import EncoderTail
from artcolor.training import auto
from artcolor.training.auto import AutoConfig, batch_order, cache, load_caches, losses, nearest_bin, rebalance_weights, train
from artcolor.training.checkpoint import load_checkpoint, save_checkpoint
from artcolor.training.config import DataConfig, TrainConfig

AUTO = dataclasses.replace(preset("tiny"), encoder="efficientnet-lite0", hints=True, auto_decoder=True, image_size=64)
QUIET = {"log": lambda *_: None}


def config(data: DataConfig | None = None, **settings) -> TrainConfig:
    """A run's config for the AUTO network: its `auto` section from `settings`."""
    return TrainConfig(model=AUTO, data=data or DataConfig(), auto=AutoConfig(**settings))


@pytest.fixture(scope="module")
def net() -> ColorNet:
    torch.manual_seed(0)
    return perturb(ColorNet(AUTO), scale=0.05).eval()


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


def test_rebalancing_favours_rare_colours_with_mean_weight_one():
    ab = torch.zeros(4, 2, 16, 16)
    ab[0, 0] = 60.0  # one image in four is red; the rest gray
    w = rebalance_weights(ab, 0.5)
    gray, red = int(nearest_bin(torch.zeros(1, 2, 1, 1))), int(nearest_bin(torch.tensor([60.0, 0]).view(1, 2, 1, 1)))
    assert w[red] > 1.3 * w[gray]  # p 1/4 against 3/4 of the pixels (before smoothing)
    q = nearest_bin(torch.nn.functional.avg_pool2d(ab, 4))
    assert w[q].mean().item() == pytest.approx(1.0, rel=0.05)


def test_training_learns_the_colours_of_the_photos(tmp_path):
    torch.manual_seed(0)
    net = perturb(ColorNet(AUTO), scale=0.05)  # an encoder that sees something, as a pretrained one does
    cfg = config(variants=2, epochs=60, batch_size=4, lr=3e-3)
    path = tmp_path / "cache.pt"
    cache(net, str(_photos(tmp_path / "photos")), path, cfg, stages=4, **QUIET)
    data = torch.load(path, weights_only=True)
    assert len(data["l"]) == 10 and len(data["held_out"]) == 1  # 5 training photos x 2 crops; 1 held out
    assert data["colourfulness"].shape == (10,) and (data["colourfulness"] > 10).all()
    l, ab = data["l"][:4].float(), data["ab"][:4].float()
    with torch.no_grad():
        before = (net.eval()(l) - ab).abs().mean()
    train(net, [path], tmp_path, cfg, **QUIET)
    with torch.no_grad():
        after = (net.eval()(l) - ab).abs().mean()
    assert after < 0.6 * before
    assert TrainConfig.from_dict(yaml.safe_load((tmp_path / "config.yaml").read_text())) == cfg
    state = load_checkpoint(tmp_path / "auto.pt")  # the format `artcolor train`'s checkpoints have
    assert set(state) >= {"model", "optimizer", "scheduler", "step", "epoch", "config", "rng", "version"}
    assert state["epoch"] == 60 and state["step"] == 60 * 2 and state["config"] == cfg.to_dict()


def test_each_photo_folder_holds_out_its_own_split(tmp_path):
    net = perturb(ColorNet(AUTO), scale=0.05)
    cfg = config(DataConfig(val_fraction=0.25, max_val=64), variants=1)  # the run's data split
    for name in ("a", "b"):
        cache(net, str(_photos(tmp_path / name, n=8)), tmp_path / f"{name}.pt", cfg, stages=1, **QUIET)
    a, b = (torch.load(tmp_path / f"{name}.pt", weights_only=True) for name in ("a", "b"))
    assert len(a["held_out"]) == len(b["held_out"]) == 2 and len(a["l"]) == 6
    assert len(a["features"]) == 1  # only the maps asked for
    assert all("/a/" in n for n in a["held_out"]) and all("/b/" in n for n in b["held_out"])
    assert len(load_caches([tmp_path / "a.pt", tmp_path / "b.pt"])["l"]) == 12


def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(tmp_path, monkeypatch):
    cfg = config(variants=2, epochs=3, batch_size=4)  # 10 crops: 2 steps an epoch
    path = tmp_path / "cache.pt"
    torch.manual_seed(0)
    cache(perturb(ColorNet(AUTO), scale=0.05), str(_photos(tmp_path / "photos")), path, cfg, stages=4, **QUIET)

    def fresh() -> ColorNet:
        torch.manual_seed(0)
        return perturb(ColorNet(AUTO), scale=0.05)

    whole = train(fresh(), [path], tmp_path / "whole", cfg, **QUIET)
    save_state = auto.save_state

    def killed_after_one_epoch(*args, **kwargs):
        save_state(*args, **kwargs)
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(auto, "save_state", killed_after_one_epoch)
        net = fresh()
        torch.manual_seed(7)
        with pytest.raises(KeyboardInterrupt):
            train(net, [path], tmp_path / "split", cfg, **QUIET)
    assert load_checkpoint(tmp_path / "split" / "auto.pt")["epoch"] == 1
    net = fresh()
    torch.manual_seed(123)
    split = train(net, [path], tmp_path / "split", cfg, resume=True, **QUIET)
    for (name, a), b in zip(whole.state_dict().items(), split.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    torch.manual_seed(7)  # the resumed run took the RNG state its checkpoint had (nothing drew from it since)
    assert torch.equal(load_checkpoint(tmp_path / "split" / "auto.pt")["rng"]["torch"], torch.get_rng_state())

    (tmp_path / "old").mkdir()
    save_checkpoint(tmp_path / "old" / "auto.pt", {"decoder": split.state_dict(), "epoch": 1})  # as train-auto wrote it
    with pytest.raises(ValueError, match=r"auto.pt: not a training checkpoint of this version \(no model, optimizer"):
        train(fresh(), [path], tmp_path / "old", cfg, resume=True, **QUIET)


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


def test_train_auto_command_writes_a_model_with_the_decoder(run_cli, tmp_path, gray_photo):
    base = tmp_path / "base"
    torch.manual_seed(0)
    Colorizer(ColorNet(dataclasses.replace(AUTO, auto_decoder=False))).save(base)
    photos = _photos(tmp_path / "photos")
    for run in ("run", "again"):
        code, out, err = run_cli("train-auto", "--weights", str(base), "--photos", str(photos), "--out",
                                 str(tmp_path / run), "--epochs", "1", "--mix", "0.25")
        assert code == 0, err
    model = Colorizer.load(tmp_path / "run" / "model")
    assert model.net.auto is not None and model.net.auto.mix == 0.25
    assert model.colorize(gray_photo).size == gray_photo.size
    again = Colorizer.load(tmp_path / "again" / "model").net.state_dict()
    for name, w in model.net.state_dict().items():  # the new decoder, as all else, follows the seed
        assert torch.equal(w, again[name]), name
    code, _, err = run_cli("train-auto", "--weights", str(tmp_path / "nowhere"), "--photos", str(photos),
                           "--out", str(tmp_path / "r2"))
    assert code != 0 and "nowhere" in err
    code, _, err = run_cli("train-auto", "--weights", str(base), "--photos", str(tmp_path / "no_photos"),
                           "--out", str(tmp_path / "r3"))
    assert code != 0 and "no_photos" in err and "Traceback" not in err


def test_the_command_takes_the_config_and_a_resumed_run_keeps_its_own(run_cli, tmp_path):
    base = tmp_path / "base"
    torch.manual_seed(0)
    Colorizer(ColorNet(dataclasses.replace(AUTO, auto_decoder=False))).save(base)
    args = ["train-auto", "--weights", base, "--photos", _photos(tmp_path / "photos"), "--out", tmp_path / "run"]
    code, _, err = run_cli(*args, "--config", "tiny", "--set", "data.val_fraction=0.34", "--set", "auto.variants=1",
                           "--set", "auto.batch_size=2", "--epochs", "1", "--device", "cpu")
    assert code == 0, err
    saved = TrainConfig.from_dict(yaml.safe_load((tmp_path / "run" / "config.yaml").read_text()))
    assert (saved.auto.variants, saved.auto.batch_size, saved.auto.epochs, saved.auto.lr) == (1, 2, 1, AutoConfig.lr)
    assert saved.model.auto_decoder and saved.model.image_size == AUTO.image_size and saved.device == "cpu"
    (crops,) = (tmp_path / "run" / "cache").iterdir()
    assert len(torch.load(crops, weights_only=True)["held_out"]) == 2  # the config's split: 6 photos x 0.34
    assert load_checkpoint(tmp_path / "run" / "auto.pt")["step"] == 2  # 4 crops, batch 2

    code, out, err = run_cli(*args, "--resume", "--epochs", "2")
    assert code == 0, err
    saved = TrainConfig.from_dict(yaml.safe_load((tmp_path / "run" / "config.yaml").read_text()))
    assert (saved.auto.variants, saved.auto.batch_size, saved.auto.epochs) == (1, 2, 2)
    assert [p.name for p in (tmp_path / "run" / "cache").iterdir()] == [crops.name]  # the same crops
    state = load_checkpoint(tmp_path / "run" / "auto.pt")
    assert (state["epoch"], state["step"]) == (2, 4)
    code, _, err = run_cli(*args, "--set", "auto.epochz=3")
    assert code != 0 and "epochz" in err and "Traceback" not in err


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

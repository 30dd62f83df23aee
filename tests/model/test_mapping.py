"""The painting path (model/mapping.py): colour coherent over objects, borders on lightness edges, the
options, determinism, and what it keeps (hints, the match, automatic mode)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import perturb

from artcolor import Colorizer, palette_image
from artcolor.config import InferenceOptions, preset, read_config
from artcolor.model import ColorNet
from artcolor.model.correspondence import Bank
from artcolor.model.mapping import coherent, guided_filter, object_colours, paint

MATCH = dataclasses.replace(preset("tiny"), encoder="efficientnet-lite0", hints=True, auto_decoder=True,
                            correspondence=True, image_size=64)


@pytest.fixture(scope="module")
def net() -> ColorNet:
    torch.manual_seed(0)
    return perturb(ColorNet(MATCH), scale=0.05).eval()


def _two_objects(h: int = 6, w: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Keys (1, 4, h, w) of two kinds of thing (left and right halves) and a*b* (1, 2, h, w) that varies
    inside each: what an object coloured pixel by pixel looks like."""
    keys = torch.zeros(1, 4, h, w)
    keys[:, 0, :, : w // 2] = 1
    keys[:, 1, :, w // 2:] = 1
    g = torch.Generator().manual_seed(0)
    ab = torch.randn(1, 2, h, w, generator=g) * 10
    ab[:, :, :, w // 2:] += 40
    return keys, ab


def test_object_colours_gives_each_kind_of_thing_its_mean_colour():
    keys, ab = _two_objects()
    out = object_colours(ab, keys, torch.full((1, 1, 6, 8), 50.0))
    for half in (slice(0, 4), slice(4, 8)):
        expected = ab[..., half].mean(dim=(2, 3))
        assert torch.allclose(out[..., half], expected[..., None, None].expand_as(out[..., half]), atol=1e-3)


def test_object_colours_keeps_a_dark_and_a_light_thing_of_one_kind_apart():
    keys = torch.zeros(1, 4, 4, 4)
    keys[:, 0] = 1  # one kind everywhere
    l = torch.full((1, 1, 4, 4), 20.0)
    l[:, :, 2:] = 80.0  # the bottom rows light
    ab = torch.zeros(1, 2, 4, 4)
    ab[:, 0, 2:] = 30.0
    out = object_colours(ab, keys, l)
    assert out[:, 0, :2].max() < 1 and out[:, 0, 2:].min() > 29


def test_guided_filter_smooths_flat_regions_and_keeps_the_guides_edges():
    guide = torch.zeros(1, 1, 32, 32)
    guide[..., 16:] = 1.0  # a lightness edge down the middle
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 2, 32, 32, generator=g) * 5
    x[..., 16:] += 30  # the colour changes at the same edge, noisy on each side
    out = guided_filter(x, guide, radius=4, eps=1e-3)
    assert out[..., :16].std() < 0.5 * x[..., :16].std()  # smoother inside
    step = out[..., 17:].mean() - out[..., :15].mean()
    assert step > 28  # and the edge is still there, as sharp
    assert (out[..., 15] - out[..., 14]).abs().mean() < 3 and (out[..., 17] - out[..., 18]).abs().mean() < 3


def test_coherent_moves_by_its_weight():
    keys, ab8 = _two_objects()
    ab = F.interpolate(ab8, scale_factor=8, mode="nearest")
    l = torch.full((1, 1, 48, 64), 50.0)
    keys = F.normalize(keys, dim=1)
    assert torch.equal(coherent(ab, keys, l, torch.zeros(1, 1, 48, 64)), ab)
    full = coherent(ab, keys, l, torch.ones(1, 1, 48, 64))
    half = coherent(ab, keys, l, torch.full((1, 1, 48, 64), 0.5))
    inside = lambda x: x[..., 8:40, 4:20].std(dim=(2, 3)).mean()  # noqa: E731  the left object, off its borders
    assert inside(full) < 0.2 * inside(ab) and inside(full) < inside(half) < inside(ab)


def test_coherence_acts_where_nothing_matches_and_the_warp_leads_where_the_scene_does(net):
    g = torch.Generator().manual_seed(0)
    photo = torch.rand(1, 3, 64, 64, generator=g)
    l, style = torch.rand(1, 1, 64, 64, generator=g) * 100, net.encode_style(photo)
    same_scene = net.encode_reference(photo)  # this untrained encoder finds every place of it alike
    keys = F.normalize(torch.randn(1, 20, same_scene.keys.shape[-1], generator=g), dim=-1)
    painting = Bank(keys, torch.tensor([[50.0, 30.0], [-20.0, -40.0]]).repeat_interleave(10, 0)[None], torch.zeros(1, 20))

    def change(bank: Bank) -> float:
        with torch.no_grad():
            a, b = (paint(net, l, style, None, bank, torch.tensor(InferenceOptions(coherence=c).as_vector())) for c in (0.0, 1.0))
        return float((a - b).abs().mean())

    assert change(painting) > 0.5
    assert change(same_scene) < 0.2 * change(painting)


def test_the_mapping_is_the_same_on_one_and_two_threads(net, gray_photo):
    colorizer = Colorizer(net, device="cpu")
    palette = palette_image(["#264653", "#2a9d8f", "#e9c46a", "#e76f51"])
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = np.asarray(colorizer.colorize(gray_photo, style=palette), int)
        torch.set_num_threads(2)
        two = np.asarray(colorizer.colorize(gray_photo, style=palette), int)
    finally:
        torch.set_num_threads(threads)
    assert np.abs(one - two).max() <= 1


def test_a_hint_overrides_its_region_under_a_palette(net, gray_photo):
    colorizer = Colorizer(net, device="cpu")
    palette = palette_image(["#264653", "#2a9d8f"])  # greens and blues
    red = (200, 30, 30)
    out = np.asarray(colorizer.colorize(gray_photo, style=palette, hints=[(48, 48, "#c81e1e", 6)]), float)
    plain = np.asarray(colorizer.colorize(gray_photo, style=palette), float)
    at = out[44:53, 44:53].reshape(-1, 3).mean(0)
    redness = lambda rgb: rgb[0] - rgb[1:].mean()  # noqa: E731
    assert redness(at) > redness(plain[44:53, 44:53].reshape(-1, 3).mean(0)) + 20
    assert redness(at) > 0.3 * redness(np.asarray(red, float))


def test_options_travel_with_a_model_folder_and_old_folders_keep_theirs(net, tmp_path):
    options = InferenceOptions(coherence=0.25, palette_transfer=0.5)
    Colorizer(net, device="cpu", options=options).save(tmp_path / "model")
    assert Colorizer.load(tmp_path / "model", device="cpu").options == options
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert "palette_transfer" not in config["model"] and config["inference"]["coherence"] == 0.25
    # a folder from before the inference section: the options sat in "model"; they are read from there
    config["model"].update(palette_transfer=1.0, transfer_matched=1.0)
    del config["inference"]
    (tmp_path / "model" / "config.json").write_text(json.dumps(config))
    model, old = read_config(tmp_path / "model" / "config.json")
    assert old == InferenceOptions(coherence=0.0, palette_transfer=1.0, transfer_matched=1.0, match_trust=0.0)
    assert not hasattr(model, "palette_transfer")


def test_a_coherence_out_of_range_is_a_usage_error_naming_it(net, gray_photo):
    with pytest.raises(ValueError, match="coherence"):
        Colorizer(net, device="cpu").colorize(gray_photo, style=palette_image(["#264653"]), coherence=1.5)


def test_the_cli_coherence_flag_reaches_the_model(net, gray_photo, tmp_path, run_cli, monkeypatch):
    Colorizer(net, device="cpu", options=InferenceOptions(coherence=0.25)).save(tmp_path / "model")
    gray_photo.save(tmp_path / "photo.png")
    seen, real = [], Colorizer.colorize_planes
    monkeypatch.setattr(Colorizer, "colorize_planes",
                        lambda self, *args, **kwargs: seen.append(args[-1] if len(args) > 4 else kwargs.get("options"))
                        or real(self, *args, **kwargs))
    for flag in ([], ["--coherence", "0.75"]):
        code, _, err = run_cli("colorize", tmp_path / "photo.png", "-o", tmp_path / str(len(flag)), "--palette",
                               "#264653,#e9c46a", "--weights", tmp_path / "model", "--device", "cpu", *flag)
        assert code == 0, err
    assert [o.coherence for o in seen] == [0.25, 0.75]  # the folder's own, then the flag's
    code, _, err = run_cli("colorize", tmp_path / "photo.png", "-o", tmp_path / "bad", "--coherence", "1.5")
    assert code == 2 and "--coherence" in err

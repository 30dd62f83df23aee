"""Correspondence with the reference (model/correspondence.py): matching, banks of several references,
the network that takes the warped colours, its growth from a model without them, every path."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from conftest import perturb

from artcolor import Colorizer, palette_image
from artcolor.config import InferenceOptions, ModelConfig, preset
from artcolor.model import ColorNet
from artcolor.model.correspondence import Bank, make_bank, match_keys, warp
from artcolor.model.mapping import paint
from artcolor.inference.pipeline import bank_weights, match_input, recombine
from artcolor.training.growth import init_state

MATCH = dataclasses.replace(preset("tiny"), encoder="efficientnet-lite0", hints=True, auto_decoder=True,
                            correspondence=True, image_size=64)


def _keys(b: int, c: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return match_keys([torch.randn(b, c, h, w, generator=g), torch.randn(b, 2 * c, h // 2, w // 2, generator=g)])


def _lab(keys: torch.Tensor, seed: int = 1) -> torch.Tensor:
    """A Lab image (B, 3, 8h, 8w) whose a*b* is constant over each 8 x 8 cell, random per cell."""
    b, _, h, w = keys.shape
    g = torch.Generator().manual_seed(seed)
    ab = (torch.rand(b, 2, h, w, generator=g) * 120 - 60).repeat_interleave(8, 2).repeat_interleave(8, 3)
    return torch.cat([torch.full((b, 1, 8 * h, 8 * w), 50.0), ab], dim=1)


@pytest.fixture(scope="module")
def net() -> ColorNet:
    torch.manual_seed(0)
    return perturb(ColorNet(MATCH), scale=0.05).eval()


# ---- matching


def test_keys_are_unit_vectors_centred_over_the_image():
    keys = _keys(2, 8, 6, 10)
    assert keys.shape == (2, 24, 6, 10)
    assert torch.allclose(keys.norm(dim=1), torch.ones(2, 6, 10), atol=1e-5)


def test_a_photo_matched_with_itself_takes_its_own_colours_everywhere():
    keys = _keys(1, 16, 6, 8)
    lab = _lab(keys)
    ab, confidence = warp(keys, make_bank(keys, lab), temperature=0.01)
    assert ab.shape == (1, 2, 6, 8) and confidence.shape == (1, 1, 6, 8)
    assert torch.allclose(confidence, torch.ones_like(confidence), atol=1e-5)
    assert torch.allclose(ab, lab[:, 1:, ::8, ::8], atol=0.5)


def test_the_same_things_elsewhere_are_found_where_they_are():
    keys = _keys(1, 16, 6, 8)
    lab = _lab(keys)
    moved = keys.flip(-1)  # the reference mirrored: every place is there, elsewhere
    ab, _ = warp(keys, make_bank(moved, lab.flip(-1)), temperature=0.01)
    assert torch.allclose(ab, lab[:, 1:, ::8, ::8], atol=0.5)


def test_each_region_takes_the_best_matching_reference_and_weights_tilt_the_choice():
    keys = _keys(1, 16, 4, 8)
    lab = _lab(keys)
    left, right = keys[..., :4], keys[..., 4:]  # two references, each holding half of the photo
    a, b = make_bank(left, lab[..., :32]), make_bank(right, lab[..., 32:])
    joined = Bank(torch.cat([a.keys, b.keys], 1), torch.cat([a.ab, b.ab], 1),
                  torch.from_numpy(bank_weights([a.keys.shape[1], b.keys.shape[1]], None)))
    ab, _ = warp(keys, joined, temperature=0.01)
    assert torch.allclose(ab, lab[:, 1:, ::8, ::8], atol=0.5)
    only_b = Bank(joined.keys, joined.ab, torch.from_numpy(bank_weights([a.keys.shape[1], b.keys.shape[1]], [0, 1])))
    ab_b, _ = warp(keys, only_b, temperature=0.01)
    assert torch.allclose(ab_b[..., 4:], lab[:, 1:, ::8, 32::8], atol=0.5)  # where B matches: B's colours
    # where only A matches, A (weight 0) is never taken: its colours are not there
    assert (ab_b[..., :4] - lab[:, 1:, ::8, :32:8]).norm(dim=1).min() > 1


def test_bank_weights_are_log_weights_relative_to_the_mean():
    w = bank_weights([2, 3], [3, 1])
    assert w.shape == (1, 5)
    assert np.allclose(w[0], [np.log(1.5)] * 2 + [np.log(0.5)] * 3)
    assert np.allclose(bank_weights([4], None), 0)
    with pytest.raises(ValueError, match="style_weights"):
        bank_weights([2, 2], [1, -1])


# ---- the network


def test_config_needs_an_encoder_and_lab():
    with pytest.raises(ValueError, match="correspondence"):
        ModelConfig(correspondence=True)
    with pytest.raises(ValueError, match="correspondence must be true or false"):
        dataclasses.replace(MATCH, correspondence="yes")
    with pytest.raises(ValueError, match="match_temperature"):
        dataclasses.replace(MATCH, match_temperature=0)


def test_grown_from_a_model_without_matching_it_computes_what_that_model_did():
    torch.manual_seed(1)
    before = perturb(ColorNet(dataclasses.replace(MATCH, correspondence=False)), scale=0.05).eval()
    after = ColorNet(MATCH)
    state, grown = init_state(before, after)
    after.load_state_dict(state)
    after.eval()
    assert "blend" in grown
    l, ref = torch.rand(2, 1, 64, 96) * 100, torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        style = before.encode_style(ref)
        assert torch.equal(before(l, style), after(l, style, None, after.encode_reference(ref)))


def test_the_warped_colours_steer_the_output_and_every_new_parameter_learns(net):
    l, ref = torch.rand(2, 1, 64, 64) * 100, torch.rand(2, 3, 64, 64)
    style = net.encode_style(ref)
    bank = net.encode_reference(ref)
    out = net(l, style, None, bank)
    shifted = Bank(bank.keys, bank.ab + 40, bank.log_weight)
    assert (net(l, style, None, shifted) - out).abs().mean() > 0.1
    out.square().mean().backward()
    assert net.blend.weight.grad.abs().sum() > 0
    assert net.downs[0].blocks[0].convs[0].weight.grad[:, -3:].abs().sum() > 0


def test_a_model_without_matching_refuses_a_bank():
    plain = ColorNet(dataclasses.replace(MATCH, correspondence=False))
    with pytest.raises(ValueError, match="correspondence"):
        plain.encode_reference(torch.rand(1, 3, 64, 64))


# ---- every path


@pytest.fixture(scope="module")
def colorizer(net) -> Colorizer:
    return Colorizer(net, device="cpu")


def test_colorizer_matches_references_blends_several_and_keeps_automatic(colorizer, coffee, gray_photo):
    style = colorizer.encode_style(coffee)
    assert style.bank is not None and style.bank.keys.shape[0] == 1
    assert colorizer.encode_style(None).bank is None
    assert colorizer.encode_style(coffee, strength=0).bank is None  # strength 0 is automatic
    alone = np.asarray(colorizer.colorize(gray_photo, style=coffee))
    again = np.asarray(colorizer.colorize(gray_photo, style=style))  # an encoded style is taken as it is
    assert np.array_equal(alone, again)
    palette = palette_image(["#d62828", "#003049"])
    blended = colorizer.encode_style([coffee, palette], style_weights=[1, 0])
    assert blended.bank.keys.shape[1] == style.bank.keys.shape[1]  # a weight-0 reference adds no place
    assert np.array_equal(np.asarray(colorizer.colorize(gray_photo, style=[coffee, palette], style_weights=[1, 0])), alone)
    assert np.array_equal(np.asarray(colorizer.colorize(gray_photo)), np.asarray(colorizer.colorize(gray_photo, style=None)))


def test_hints_work_beside_a_matched_reference(colorizer, coffee, gray_photo):
    plain = np.asarray(colorizer.colorize(gray_photo, style=coffee)).astype(int)
    hinted = np.asarray(colorizer.colorize(gray_photo, style=coffee, hints=[(10, 10, "#ff0000", 8)])).astype(int)
    assert np.abs(hinted - plain)[:20, :20].mean() > np.abs(hinted - plain)[-20:, -20:].mean()


def test_onnx_export_matches_pytorch_with_a_reference(net, coffee, gray_photo, tmp_path):
    pytest.importorskip("onnxruntime")
    from artcolor.inference.export import export_model
    from artcolor.inference.export_checks import check_export
    from artcolor.onnx import OnnxColorizer

    folder = export_model(net, tmp_path / "export")
    checked = check_export(net, folder)
    assert checked["color"] < 1e-2 and checked["style"] < 1e-2 and checked["psnr"] >= 45
    onnx_side, torch_side = OnnxColorizer(folder), Colorizer(net, device="cpu")
    for style in ([coffee, palette_image(["#2a9d8f"])], None):
        a = np.asarray(torch_side.colorize(gray_photo, style=style, style_weights=[0.7, 0.3] if style else None), float)
        b = np.asarray(onnx_side.colorize(gray_photo, style=style, style_weights=[0.7, 0.3] if style else None), float)
        assert 10 * np.log10(255**2 / max(((a - b) ** 2).mean(), 1e-12)) >= 45


def test_video_keeps_one_bank_for_the_clip(colorizer, coffee, gray_photo):
    pytest.importorskip("cv2")
    from artcolor.video import ClipColorizer

    clip = ClipColorizer(colorizer, style=coffee, stabilize=False)
    assert clip.style.bank is not None
    y, _ = colorizer.prepare(gray_photo)  # luminance (H, W), as a decoded frame
    ratios = clip.ratios([y, y])
    assert np.array_equal(ratios[0], ratios[1])
    expected = np.asarray(colorizer.colorize(gray_photo, style=coffee), int)
    # a batch of frames sums in another order than one photo: the mapping may move a value by a level
    assert np.abs(np.asarray(recombine(y, ratios[0]), int) - expected).max() <= 1


def test_cli_colourises_with_a_matching_model_as_the_api_does(net, coffee, gray_photo, tmp_path, run_cli):
    Colorizer(net, device="cpu").save(tmp_path / "model")
    gray_photo.save(tmp_path / "photo.png")
    coffee.save(tmp_path / "reference.png")
    code, _, err = run_cli("colorize", tmp_path / "photo.png", "-o", tmp_path / "out", "--style", tmp_path / "reference.png",
                           "--weights", tmp_path / "model", "--device", "cpu")
    assert code == 0, err
    from PIL import Image

    expected = Colorizer.load(tmp_path / "model", device="cpu").colorize(tmp_path / "photo.png", style=tmp_path / "reference.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / "photo.png")), np.asarray(expected))


# ---- the palette where nothing matches


def test_palette_transfer_gives_the_reference_distribution_keeping_order():
    from artcolor.model.correspondence import palette_transfer

    g = torch.Generator().manual_seed(0)
    ab = torch.randn(2, 2, 24, 32, generator=g) * 10
    ref = torch.randn(1, 500, 2, generator=g) * torch.tensor([25.0, 8.0]) + torch.tensor([30.0, -20.0])
    moved = palette_transfer(ab, Bank(torch.ones(1, 500, 4), ref, torch.zeros(1, 500)))
    for image in moved.flatten(2):
        assert torch.allclose(image.mean(1), ref[0].mean(0), atol=1.5)
        assert torch.allclose(image.std(1), ref[0].std(0), rtol=0.1)
    assert torch.corrcoef(torch.stack([ab[0, 0].flatten(), moved[0, 0].flatten()]))[0, 1] > 0.9
    tilted = Bank(torch.ones(1, 500, 4), ref, torch.where(ref[..., 0] > 30, 0.0, -1e4))  # only the redder half counts
    a = palette_transfer(ab, tilted)[:, 0].flatten()
    assert a.mean() > 45 and a.quantile(0.05) > 25  # the redder half's mean is about 50


def test_unmatched_places_and_an_empty_bank():
    from artcolor.model.correspondence import unmatched

    confidence = torch.tensor([0.0, 0.35, 1.0]).view(1, 1, 1, 3)
    share = unmatched(confidence, Bank(torch.ones(1, 2, 4), torch.zeros(1, 2, 2), torch.zeros(1, 2)))
    assert share[0, 0, 0, 0] > 0.99 and share[0, 0, 0, 1] == pytest.approx(0.5) and share[0, 0, 0, 2] < 0.01
    assert unmatched(confidence, Bank(torch.zeros(1, 1, 4), torch.zeros(1, 1, 2), torch.zeros(1, 1))).abs().max() == 0


def _options(**knobs) -> torch.Tensor:
    """The mapping's options input, every knob 0 but those given."""
    none = {"coherence": 0.0, "palette_transfer": 0.0, "transfer_matched": 0.0}
    return torch.tensor(InferenceOptions(**{**none, **knobs}).as_vector())


def test_palette_transfer_moves_the_output_toward_a_palette_and_exports(net, gray_photo, tmp_path):
    pytest.importorskip("onnxruntime")
    from artcolor.inference.export import export_model
    from artcolor.inference.export_checks import check_export
    from artcolor.onnx import OnnxColorizer

    # a reference with nothing like the photo (random keys: every match near 0) in reds and yellows
    g = torch.Generator().manual_seed(0)
    keys = torch.nn.functional.normalize(torch.randn(1, 40, 472, generator=g), dim=-1)
    bank = Bank(keys, torch.tensor([[60.0, 40.0], [10.0, 70.0]]).repeat(1, 20, 1), torch.zeros(1, 40))
    l, style = torch.rand(1, 1, 64, 64, generator=g) * 100, net.encode_style(torch.rand(1, 3, 64, 64, generator=g))
    with torch.no_grad():
        plain, moved = (paint(net, l, style, None, bank, _options(palette_transfer=p)) for p in (0.0, 1.0))
        assert torch.equal(paint(net, l, None), net(l))  # automatic mode: no mapping
    palette_mean = torch.tensor([35.0, 55.0])
    assert (moved.mean(dim=(2, 3)) - palette_mean).norm() < 0.5 * (plain.mean(dim=(2, 3)) - palette_mean).norm()
    folder = export_model(net, tmp_path / "export")
    assert check_export(net, folder)["psnr"] >= 45
    palette = palette_image(["#d62828", "#fcbf49"])
    for coherence in (0.0, 1.0):  # the graph takes the options as an input
        a = np.asarray(Colorizer(net, device="cpu").colorize(gray_photo, style=palette, coherence=coherence), float)
        b = np.asarray(OnnxColorizer(folder).colorize(gray_photo, style=palette, coherence=coherence), float)
        assert 10 * np.log10(255**2 / max(((a - b) ** 2).mean(), 1e-12)) >= 45


def test_matched_places_keep_their_colour_unless_told_and_trust_takes_the_warp(net):
    g = torch.Generator().manual_seed(1)
    ref = torch.rand(1, 3, 64, 64, generator=g)
    l, style = torch.rand(1, 1, 64, 64, generator=g) * 100, net.encode_style(ref)
    bank = net.encode_reference(ref)
    bank = Bank(bank.keys, bank.ab * 0 + torch.tensor([50.0, 50.0]), bank.log_weight)  # one orange for the palette

    def run(**knobs):
        with torch.no_grad():
            return paint(net, l, style, None, bank, _options(**knobs))

    with torch.no_grad():
        plain = net(l, style, None, bank)
        keys = match_keys(net.semantic.features(l)[1:])
        _, confidence = warp(keys, bank, 0.01)
    assert confidence.min() > 0.5  # this untrained encoder finds everything alike: every place matched
    assert (run() - plain).abs().max() < 1  # matched places keep the network's colour...
    assert (run(palette_transfer=1.0) - plain).abs().max() < 1  # ...the transfer's too...
    everywhere = run(palette_transfer=1.0, transfer_matched=1.0)  # ...unless it goes everywhere
    assert (everywhere - torch.tensor([50.0, 50.0]).view(1, 2, 1, 1)).abs().mean() < 5
    trusted = run(match_trust=1.0)  # the warped colour itself, where matched
    assert (trusted - 50).abs().mean() < 0.2 * (plain - 50).abs().mean()


@pytest.mark.parametrize("knob", ["coherence", "palette_transfer", "transfer_matched", "match_trust"])
def test_inference_options_are_shares(knob):
    with pytest.raises(ValueError, match=knob):
        InferenceOptions(**{knob: 1.5})
    with pytest.raises(ValueError, match=knob):
        InferenceOptions(**{knob: True})


def test_a_reference_is_matched_at_a_bounded_size():
    for (h, w), expected in [((480, 640), (128, 160)), ((64, 320), (64, 256)), ((256, 256), (128, 128))]:
        assert match_input(np.zeros((h, w, 3), np.uint8), 128, None).shape == (1, 3, *expected)


def test_smooth_ranks_tie_equal_values_and_follow_spread_ones():
    from artcolor.model.correspondence import smooth_ranks

    spread = torch.linspace(-40, 60, 2001)[torch.randperm(2001, generator=torch.Generator().manual_seed(0))]
    ranks = smooth_ranks(spread[None])[0]
    exact = (spread.argsort().argsort() + 0.5) / len(spread)
    assert (ranks - exact).abs().max() < 0.01  # spread values: their ranks
    in_order = ranks[spread.argsort()]
    assert (in_order.diff() >= 0).all()  # never decreasing in the value
    assert torch.allclose(smooth_ranks(torch.full((1, 50), 3.0)), torch.full((1, 50), 0.5))  # one value: the middle
    flat = torch.cat([torch.full((300,), 10.0), spread[:100]])  # a flat region among others...
    nudged = flat + torch.randn(400, generator=torch.Generator().manual_seed(1)) * 1e-4  # ...and its last bits
    shift = (smooth_ranks(nudged[None]) - smooth_ranks(flat[None])).abs().max()
    assert shift < 1e-3  # sorting would hand the 300 tied pixels ranks across their whole span (0.75)


def test_palette_transfer_gives_a_flat_region_one_colour_whatever_its_last_bits():
    from artcolor.model.correspondence import palette_transfer

    g = torch.Generator().manual_seed(0)
    ab = torch.randn(1, 2, 16, 16, generator=g) * 20
    ab[..., :8, :] = 5.0 + torch.randn(1, 2, 8, 16, generator=g) * 1e-4  # half the image one colour, noise in its last bits
    two_colours = torch.tensor([[-30.0, 20.0], [40.0, -10.0]]).repeat_interleave(50, 0)[None]  # (1, 100, 2)
    moved = palette_transfer(ab, Bank(torch.ones(1, 100, 4), two_colours, torch.zeros(1, 100)))
    flat = moved[0, :, :8, :].flatten(1)
    assert (flat.amax(1) - flat.amin(1)).max() < 0.5  # one colour (by rank, it was split between the two)

"""The luminance-keyed palette: band weights, the palette of a reference, the prior painted from it,
its learned classes, and growing a model into one with a palette or with classes."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from artcolor.color.lab import rgb_to_lab
from artcolor.config import preset
from artcolor.model import ColorNet
from artcolor.model.palette import (
    AB_SCALE,
    FEATURES,
    PaletteKeys,
    band_weights,
    luminance_palette,
    palette_prior,
    split_classes,
)
from artcolor.training.growth import TrainingError, grow_state, init_state


@pytest.mark.parametrize("bins", [1, 4, 16])
def test_band_weights_are_a_partition_of_unity(bins):
    l = torch.linspace(-20, 120, 701)  # beyond [0, 100] too: clamped into the outer bands
    w = band_weights(l, bins)
    assert w.shape == (701, bins) and (w >= 0).all() and (w <= 1).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(701))


def test_band_weights_pick_the_band_at_its_centre():
    w = band_weights(torch.tensor([12.5, 37.5, 62.5, 87.5]), 4)
    assert torch.equal(w, torch.eye(4))


def _two_tone(dark_rgb, light_rgb, size=16) -> torch.Tensor:
    """A (1, 3, size, 2 * size) image: left half one colour, right half another."""
    img = torch.empty(1, 3, size, 2 * size)
    img[..., :size] = torch.tensor(dark_rgb)[:, None, None]
    img[..., size:] = torch.tensor(light_rgb)[:, None, None]
    return img


def test_palette_holds_each_bands_colour_and_share():
    img = _two_tone((0.5, 0.05, 0.05), (0.6, 0.8, 1.0))  # dark red, light blue
    lab = rgb_to_lab(img)
    bins = 8
    palette = luminance_palette(lab, bins).view(bins, FEATURES)
    assert palette[:, 3].sum() == pytest.approx(bins)  # shares (times bins) of all pixels
    for half in (slice(0, 16), slice(16, 32)):
        l, ab = lab[0, 0, 0, half][0], lab[0, 1:, 0, half][:, 0]
        band = int(l // (100 / bins))
        assert palette[band, 3] > 0.5 * bins * 0.5  # half of the pixels, most of them in this band
        # the band's mean colour leans only slightly towards the overall mean (EMPTY_BAND)
        torch.testing.assert_close(palette[band, :2] * AB_SCALE, ab, atol=3.0, rtol=0)


def test_prior_paints_a_palette_back_onto_its_own_lightness():
    # a photo's palette looked up by its own L* gives back its colours where lightness tells them apart
    img = _two_tone((0.5, 0.05, 0.05), (0.6, 0.8, 1.0))
    lab = rgb_to_lab(img)
    bins = 16
    prior = palette_prior(lab[:, :1], luminance_palette(lab, bins), bins)
    assert prior.shape == (1, FEATURES, 16, 32)
    torch.testing.assert_close(prior[:, :2] * AB_SCALE, lab[:, 1:], atol=4.0, rtol=0)


def test_empty_bands_take_the_overall_colour():
    img = _two_tone((0.5, 0.05, 0.05), (0.5, 0.05, 0.05))  # one colour: one lightness
    lab = rgb_to_lab(img)
    palette = luminance_palette(lab, 8).view(8, FEATURES)
    empty = palette[:, 3] == 0
    assert empty.sum() >= 6
    torch.testing.assert_close(palette[empty, :2] * AB_SCALE, lab[0, 1:, 0, 0].expand(int(empty.sum()), 2),
                               atol=0.01, rtol=0)


def test_palette_follows_the_references_colours():
    net = ColorNet(preset("tiny"))
    d = net.config.style_dim
    red, blue = _two_tone((0.8, 0.1, 0.1), (0.9, 0.3, 0.3)), _two_tone((0.1, 0.1, 0.8), (0.3, 0.3, 0.9))
    codes = net.encode_style(torch.cat([red, blue]))
    a_red = codes[0, d:].view(-1, FEATURES)[:, 0]
    b_blue = codes[1, d:].view(-1, FEATURES)[:, 1]
    assert (a_red > 0.2).all() and (b_blue < -0.2).all()  # red: a* > 0 in every band; blue: b* < 0


def _grown_pair(perturb, **source):
    small = perturb(ColorNet(dataclasses.replace(preset("tiny"), **source))).eval()
    large = ColorNet(preset("tiny")).eval()
    state, grown = init_state(small, large)
    large.load_state_dict(state)
    return small, large, grown


@pytest.mark.parametrize("classes", [1, 5])  # a model without bands may name any classes: they mean nothing
def test_growing_adds_the_palette_without_changing_the_model(perturb, classes):
    small, large, grown = _grown_pair(perturb, palette_bins=0, palette_classes=classes)
    assert sorted(grown) == ["downs.0.blocks.0.convs.0.weight", "null_style", "palette_keys"]
    l, ref = torch.rand(2, 1, 32, 32) * 100, torch.rand(2, 3, 24, 40)
    with torch.no_grad():
        torch.testing.assert_close(large(l), small(l))  # automatic: the null palette is zero
        torch.testing.assert_close(large(l, large.encode_style(ref)), small(l, small.encode_style(ref)))


def test_growing_splits_the_bands_into_classes_without_changing_the_model(perturb):
    small, large, grown = _grown_pair(perturb, palette_classes=1)
    assert grown == ["palette_keys"]
    l, ref = torch.rand(2, 1, 32, 32) * 100, torch.rand(2, 3, 24, 40)
    with torch.no_grad():
        # automatic: the null bands, copied to every class; equal up to float rounding (ab spans +-110)
        torch.testing.assert_close(large(l), small(l), atol=1e-3, rtol=0)
        # a reference's cells depend on the (fresh) classes: its output moves, and moves more as they part
        def moved(net):
            return (net(l, net.encode_style(ref)) - small(l, small.encode_style(ref))).abs().mean()
        before = moved(large)
        perturb(large.palette_keys, scale=1.0, seed=1)
        assert 0 < before < moved(large)


@pytest.mark.parametrize("source", [{"palette_bins": 8, "palette_classes": 1}, {"palette_classes": 3},
                                    {"style_dim": 12}])
def test_growing_refuses_other_palettes_and_models(source):
    with pytest.raises(TrainingError, match="config differs"):
        init_state(ColorNet(dataclasses.replace(preset("tiny"), **source)), ColorNet(preset("tiny")))


def test_growing_refuses_tensors_that_shrink(perturb):
    small, large, _ = _grown_pair(perturb, palette_bins=0, palette_classes=1)
    with pytest.raises(TrainingError, match="null_style"):
        grow_state(large.state_dict(), small.state_dict())


def _keys_for(mask: torch.Tensor) -> torch.Tensor:
    """A (1, 1, H, W) boolean mask -> hard soft-classes (1, 2, H, W): class 0 off the mask, class 1 on it."""
    return torch.cat([~mask, mask], dim=1).float()


def test_classes_alike_give_the_bands_palette_and_prior():
    lab = rgb_to_lab(torch.rand(2, 3, 20, 28))
    keys = torch.full((2, 5, 20, 28), 1 / 5)  # every pixel in all 5 classes alike (the keys' initial state)
    bands, cells = luminance_palette(lab, 8), luminance_palette(lab, 8, keys)
    assert cells.shape == (2, 8 * 5 * FEATURES)
    torch.testing.assert_close(cells, split_classes(bands, 8, 5))
    torch.testing.assert_close(palette_prior(lab[:, :1], cells, 8, keys), palette_prior(lab[:, :1], bands, 8))


def test_split_palette_paints_the_same_prior_whatever_the_classes():
    lab = rgb_to_lab(torch.rand(1, 3, 16, 16))
    bands = luminance_palette(lab, 4)
    keys = torch.rand(1, 3, 16, 16).softmax(dim=1)
    torch.testing.assert_close(palette_prior(lab[:, :1], split_classes(bands, 4, 3), 4, keys),
                               palette_prior(lab[:, :1], bands, 4))


def test_classes_tell_apart_colours_of_one_lightness():
    # red and green of the same L*: the bands alone can only paint their mix; two classes paint each
    red, green = (0.8, 0.2, 0.2), (0.2, 0.5, 0.2)
    img = _two_tone(red, green)
    lab = rgb_to_lab(img)
    assert (lab[0, 0, 0, 0] - lab[0, 0, 0, -1]).abs() < 3  # alike in lightness
    keys = _keys_for(torch.arange(32).expand(1, 1, 16, 32) >= 16)
    bands = palette_prior(lab[:, :1], luminance_palette(lab, 8), 8)[:, :2] * AB_SCALE
    cells = palette_prior(lab[:, :1], luminance_palette(lab, 8, keys), 8, keys)[:, :2] * AB_SCALE
    torch.testing.assert_close(cells, lab[:, 1:], atol=2.0, rtol=0)
    assert (bands - lab[:, 1:]).abs().amax() > 20  # the mix is far from either colour


@pytest.mark.parametrize("size", [(16, 16), (7, 33), (1, 1)])
def test_palette_keys_are_soft_classes_of_any_image(size, perturb):
    l = torch.rand(2, 1, *size) * 100
    out = perturb(PaletteKeys(4), scale=0.5)(l)
    assert out.shape == (2, 4, *size) and (out >= 0).all()
    torch.testing.assert_close(out.sum(dim=1), torch.ones(2, *size))
    assert out.std(dim=1).mean() > 0.01  # trained (here: perturbed) keys do tell pixels apart

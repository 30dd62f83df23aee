"""Colour maths: Lab round trips, the luminance helpers, the look-up tables and the luminance plane."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from artcolor.color.lab import (
    AB_SCALE,
    Y_WEIGHTS,
    chroma_ratio,
    l_from_y,
    lab_to_linear_rgb,
    lab_to_rgb,
    linear_to_srgb,
    luminance,
    rgb_to_lab,
    srgb_to_linear,
    y_from_l,
)
from artcolor.inputs.images import gray_image, luminance_plane
from artcolor.color.srgb import LINEAR16_TO_SRGB8, RGB_TO_XYZ, SRGB8_TO_LINEAR, encode_in_gamut, encode_linear16


def rgb_cube(steps: int = 17) -> torch.Tensor:
    """Every sRGB colour on a steps^3 grid, corners included: (3, steps, steps^2) in [0, 1]."""
    v = torch.linspace(0, 1, steps)
    r, g, b = torch.meshgrid(v, v, v, indexing="ij")
    return torch.stack([r, g, b]).reshape(3, steps, steps * steps)


def test_lab_round_trip():
    rgb = rgb_cube()
    torch.testing.assert_close(lab_to_rgb(rgb_to_lab(rgb)), rgb, atol=1e-4, rtol=0)


def test_lab_of_white_black_and_gray():
    grays = torch.tensor([1.0, 0.0, 0.5]).view(1, 1, 3).expand(3, 1, 3)  # white, black, mid-gray
    lab = rgb_to_lab(grays)
    torch.testing.assert_close(lab[0, 0], torch.tensor([100.0, 0.0, 53.389]), atol=1e-2, rtol=0)
    torch.testing.assert_close(lab[1:], torch.zeros(2, 1, 3), atol=1e-2, rtol=0)


def test_l_from_luminance_matches_lab():
    rgb = rgb_cube()
    torch.testing.assert_close(l_from_y(luminance(srgb_to_linear(rgb))), rgb_to_lab(rgb)[:1], atol=1e-3, rtol=0)


def test_y_from_l_inverts_l_from_y():
    y = torch.cat([torch.linspace(0, 0.02, 201), torch.linspace(0.02, 1, 981)])  # dense across the knee
    torch.testing.assert_close(y_from_l(l_from_y(y)), y, atol=1e-6, rtol=1e-5)
    l = torch.linspace(0, 100, 1001)
    torch.testing.assert_close(l_from_y(y_from_l(l)), l, atol=1e-4, rtol=1e-5)


def test_luminance_weights_sum_to_one():
    assert sum(Y_WEIGHTS) == pytest.approx(1.0, abs=1e-5)
    gray = torch.full((3, 4, 4), 0.37)
    torch.testing.assert_close(luminance(gray), torch.full((1, 4, 4), 0.37), atol=1e-6, rtol=0)


def test_the_xyz_matrix_is_the_one_lab_uses():
    from kornia.color import rgb_to_xyz

    primaries = torch.eye(3, dtype=torch.float64)[:, :, None]  # (3, 3, 1): pixel j is primary j
    assert torch.equal(rgb_to_xyz(primaries)[..., 0], torch.tensor(RGB_TO_XYZ, dtype=torch.float64))
    assert Y_WEIGHTS == RGB_TO_XYZ[1]


def test_ab_scale_bounds_the_srgb_gamut():
    ab = rgb_to_lab(rgb_cube())[1:]
    assert 0.9 * AB_SCALE < ab.abs().max() <= AB_SCALE


def test_srgb_linear_round_trip():
    v = torch.linspace(0, 1, 1001).view(1, 1, -1).expand(3, 1, -1)
    torch.testing.assert_close(linear_to_srgb(srgb_to_linear(v)), v, atol=1e-5, rtol=0)


def test_lab_to_linear_rgb_matches_lab_to_rgb_in_gamut():
    lab = rgb_to_lab(rgb_cube())
    torch.testing.assert_close(lab_to_linear_rgb(lab), srgb_to_linear(lab_to_rgb(lab)), atol=1e-4, rtol=0)


def test_lab_to_linear_rgb_keeps_luminance_out_of_gamut():
    l = torch.linspace(5, 95, 10).view(1, 1, 10).expand(1, 3, 10)
    ab = torch.tensor([[150.0, -150.0, 0.0], [0.0, 90.0, -160.0]]).view(2, 3, 1).expand(2, 3, 10)  # a*, b*
    linear = lab_to_linear_rgb(torch.cat([l, ab]))
    assert linear.min() < 0 or linear.max() > 1  # really out of gamut
    torch.testing.assert_close(luminance(linear), y_from_l(l), atol=1e-4, rtol=1e-4)


def test_chroma_ratio_has_unit_luminance_and_keeps_hue():
    linear = srgb_to_linear(rgb_cube())
    ratio = chroma_ratio(linear)
    torch.testing.assert_close(luminance(ratio), torch.ones_like(luminance(ratio)), atol=1e-5, rtol=0)
    # away from the blacks (where ratios fade to gray on purpose) ratio * Y gives the colour back
    bright = (luminance(linear) > 0.2).expand_as(linear)
    torch.testing.assert_close((ratio * luminance(linear))[bright], linear[bright], atol=5e-3, rtol=0)


def test_chroma_ratio_of_gray_is_exactly_gray():
    gray = torch.linspace(0, 1, 11).view(1, 1, 11).expand(3, 2, 11)
    torch.testing.assert_close(chroma_ratio(gray), torch.ones(3, 2, 11), atol=1e-6, rtol=0)


def test_srgb8_table_matches_the_function():
    expected = srgb_to_linear(torch.arange(256, dtype=torch.float64).div(255).view(1, 1, -1).expand(3, 1, -1))[0, 0]
    np.testing.assert_allclose(SRGB8_TO_LINEAR, expected.numpy(), atol=1e-6)


def test_encode_linear16_matches_the_function():
    linear = np.linspace(0, 1, 4001, dtype=np.float32)
    expected = np.round(linear_to_srgb(torch.from_numpy(linear).view(1, 1, -1).expand(3, 1, -1))[0, 0].numpy() * 255)
    assert np.abs(encode_linear16(linear.copy()).astype(int) - expected).max() <= 1
    assert LINEAR16_TO_SRGB8[0] == 0 and LINEAR16_TO_SRGB8[-1] == 255


def test_encode_linear16_clips():
    assert encode_linear16(np.array([-0.5, 0.0, 1.0, 2.0], dtype=np.float32)).tolist() == [0, 0, 255, 255]


def test_every_8bit_gray_survives_luminance_and_back():
    levels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    im = Image.fromarray(levels, "L")
    assert np.array_equal(np.asarray(gray_image(luminance_plane(im))), levels)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "RGBX", "P"])
def test_luminance_plane_of_colour_matches_the_maths(mode):
    rgb = (rgb_cube(9).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)  # (9, 81, 3)
    im = Image.fromarray(rgb).convert(mode) if mode != "P" else Image.fromarray(rgb).quantize(256)
    rgb = np.array(im.convert("RGB"))  # a palette image's colours are its palette's
    if mode == "RGBA":
        im.putalpha(Image.new("L", im.size, 100))  # alpha does not change the luminance
    y = luminance_plane(im)
    expected = luminance(srgb_to_linear(torch.from_numpy(rgb).permute(2, 0, 1).double() / 255))[0].numpy()
    assert y.dtype == np.float32 and y.shape == rgb.shape[:2]
    np.testing.assert_allclose(y, expected, atol=1e-6)


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "P", "I;16", "1"])
def test_luminance_plane_of_a_gray_image_in_any_mode(mode):
    levels = np.tile(np.arange(0, 256, 17, dtype=np.uint8), (3, 1))  # (3, 16), sixteen grays
    if mode == "1":
        levels = np.where(levels > 127, 255, 0).astype(np.uint8)
    gray = Image.fromarray(levels, "L")
    expected = SRGB8_TO_LINEAR[levels]
    if mode == "I;16":
        im = Image.fromarray(levels.astype(np.uint16) * 257)  # 8-bit to 16-bit, 0xFF -> 0xFFFF
    else:
        im = gray.convert(mode)
    np.testing.assert_allclose(luminance_plane(im), expected, atol=1e-5)


def test_chroma_ratio_stays_bounded_for_out_of_gamut_blacks():
    # a near-black prediction with an out-of-gamut (negative) channel must not turn into a strong colour
    linear = torch.tensor([1e-4, -2e-3, 5e-4]).view(3, 1, 1)
    ratio = chroma_ratio(linear)
    assert (ratio >= 0).all() and ratio.max() < 3
    torch.testing.assert_close(luminance(ratio), torch.ones(1, 1, 1), atol=1e-6, rtol=0)


def in_gamut_encoded(y: np.ndarray, ratio: torch.Tensor) -> np.ndarray:
    """encode_in_gamut on (3, S, W) ratios: the sRGB uint8 result, (3, S, W)."""
    out = np.empty((3, *y.shape), np.uint8)
    encode_in_gamut(y.astype(np.float32), ratio.numpy().astype(np.float32).copy(), out)
    return out


def test_encode_in_gamut_keeps_luminance_and_hue_of_any_ratio():
    # every hue of the sRGB cube, at chroma up to 4x the cube's, over every lightness
    colours = srgb_to_linear(rgb_cube(9)).flatten(1)[:, None]  # (3, 1, 729)
    gray = luminance(colours)
    wild = gray + 4 * (colours - gray)  # far outside the gamut, some channels negative
    ratio = chroma_ratio(wild.clamp(min=0)).expand(3, 33, -1)  # (3, 33, 729)
    y = np.linspace(0, 1, 33, dtype=np.float32)[:, None].repeat(729, 1)
    out = in_gamut_encoded(y, ratio)
    linear = srgb_to_linear(torch.from_numpy(out).double() / 255)
    l_out, l_in = l_from_y(luminance(linear))[0], l_from_y(torch.from_numpy(y).double())
    assert (l_out - l_in).abs().max() < 0.6  # 8-bit rounding of each channel, nothing more
    # moved toward gray, not rotated: the channels keep their order wherever they differ clearly
    r = ratio.numpy()
    order = (r[0] - r[1] > 0.2) & (y > 0.05) & (y < 0.95)
    assert (out[0].astype(int) >= out[1])[order].all()


def test_encode_in_gamut_scales_chroma_no_more_than_needed():
    y = np.full((1, 4), 0.5, np.float32)
    red = chroma_ratio(torch.tensor([1.0, 0.0, 0.0]).view(3, 1, 1)).expand(3, 1, 4)  # y * ratio: red at 2.35
    out = in_gamut_encoded(y, red)
    assert (out[0] == 255).all()  # the largest t: the brightest channel just reaches 1
    assert (out[1] == out[2]).all() and (out[1] < 255).all() and (out[1] > 0).all()
    gentle = chroma_ratio(torch.tensor([0.3, 0.2, 0.1]).view(3, 1, 1)).expand(3, 1, 4)  # in gamut: untouched
    expected = encode_linear16((gentle.numpy() * 0.5).copy())
    assert np.array_equal(in_gamut_encoded(y, gentle), expected)

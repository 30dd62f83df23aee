"""Colour maths: sRGB, linear RGB, CIE Lab (D65) and the luminance that ties them together.

Everything here is a pure function. Tensors are (*, C, H, W) with sRGB and linear RGB in [0, 1],
L* in [0, 100] and a*, b* roughly in [-110, 110]. The conversions are kornia's; this module adds the
luminance helpers the colouriser needs to keep the input's lightness exactly, and numpy look-up
tables for the full-resolution path.
"""

from __future__ import annotations

import numpy as np
import torch
from kornia.color import lab_to_rgb, linear_rgb_to_rgb, rgb_to_lab, rgb_to_linear_rgb, xyz_to_rgb

__all__ = [
    "rgb_to_lab",
    "lab_to_rgb",
    "srgb_to_linear",
    "linear_to_srgb",
    "luminance",
    "l_from_y",
    "y_from_l",
    "lab_to_linear_rgb",
    "chroma_ratio",
    "encode_in_gamut",
    "Y_WEIGHTS",
]

srgb_to_linear = rgb_to_linear_rgb
linear_to_srgb = linear_rgb_to_rgb

# CIE Y of linear sRGB primaries (the middle row of kornia's RGB -> XYZ matrix; they sum to 1)
Y_WEIGHTS = (0.212671, 0.715160, 0.072169)
_EPS_F = 0.008856  # CIE's (6/29)**3, as kornia rounds it
_RATIO_EPS = 1e-3  # keeps chroma ratios bounded in the blacks, where they fade to gray


def luminance(linear_rgb: torch.Tensor) -> torch.Tensor:
    """CIE Y of linear RGB: (*, 3, H, W) -> (*, 1, H, W), in [0, 1] for in-gamut colours."""
    w = linear_rgb.new_tensor(Y_WEIGHTS).view(3, 1, 1)
    return (linear_rgb * w).sum(dim=-3, keepdim=True)


def l_from_y(y: torch.Tensor) -> torch.Tensor:
    """CIE L* in [0, 100] from luminance Y in [0, 1]; matches `rgb_to_lab`'s L channel."""
    f = torch.where(y > _EPS_F, y.clamp(min=_EPS_F).pow(1 / 3), 7.787 * y + 4 / 29)
    return 116 * f - 16


def y_from_l(l: torch.Tensor) -> torch.Tensor:
    """Luminance Y in [0, 1] from CIE L* in [0, 100]; the inverse of `l_from_y`."""
    f = (l + 16) / 116
    return torch.where(f > 0.2068966, f.pow(3), (f - 4 / 29) / 7.787)


def lab_to_linear_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Lab (*, 3, H, W) -> linear RGB, unclipped: out-of-gamut colours keep their exact luminance."""
    l, a, b = lab.unbind(-3)
    fy = (l + 16) / 116
    fxyz = torch.stack([fy + a / 500, fy, fy - b / 200], dim=-3)
    xyz = torch.where(fxyz > 0.2068966, fxyz.pow(3), (fxyz - 4 / 29) / 7.787)
    white = lab.new_tensor([0.95047, 1.0, 1.08883]).view(3, 1, 1)
    return xyz_to_rgb(xyz * white)


def chroma_ratio(linear_rgb: torch.Tensor) -> torch.Tensor:
    """Colour relative to its own luminance: (*, 3, H, W) whose luminance is exactly 1.

    Multiplying a ratio by any luminance Y gives linear RGB of luminance Y, and ratios can be
    interpolated without changing that, which is how a low-resolution prediction is laid over a
    full-resolution gray photo without touching its lightness.
    """
    rgb = linear_rgb.clamp(min=0)  # out-of-gamut negatives would blow up in dark pixels
    return (rgb + _RATIO_EPS) / (luminance(rgb) + _RATIO_EPS)


# numpy look-up tables for the full-resolution path, where per-pixel float maths would dominate
def _srgb_decode(v: np.ndarray) -> np.ndarray:
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def _srgb_encode(v: np.ndarray) -> np.ndarray:
    return np.where(v <= 0.0031308, 12.92 * v, 1.055 * np.maximum(v, 0.0031308) ** (1 / 2.4) - 0.055)


SRGB8_TO_LINEAR = _srgb_decode(np.arange(256) / 255).astype(np.float32)
LINEAR16_TO_SRGB8 = np.round(_srgb_encode(np.arange(65536) / 65535) * 255).clip(0, 255).astype(np.uint8)


def encode_linear16(linear_rgb: np.ndarray) -> np.ndarray:
    """Linear RGB float array in [0, 1] (clipped) -> sRGB uint8, through a 65536-entry table."""
    idx = np.clip(linear_rgb, 0.0, 1.0)
    idx *= 65535.0
    idx += 0.5
    return LINEAR16_TO_SRGB8[idx.astype(np.uint16)]


def encode_in_gamut(y: np.ndarray, ratio: np.ndarray, out: np.ndarray) -> None:
    """Luminance x chroma ratio -> sRGB uint8, out-of-gamut colours moved toward gray at constant luminance.

    y (S, W) float32 in [0, 1]; ratio (3, S, W) float32, >= 0 with luminance 1 (as `chroma_ratio`
    gives, or a bilinear mix of such), overwritten; out (3, S, W) uint8. The colour c = y * ratio
    becomes y + t * (c - y) with the largest t in [0, 1] keeping every channel <= 1: its chroma is
    scaled, not its channels clipped, so its luminance stays y (clipping a channel would darken it).
    Channels cannot go below 0, since ratio >= 0 and t <= 1.
    """
    y = np.clip(y, 0.0, 1.0)  # a sum of float tables may give 1 + 1e-7, and 1 - y must not be negative
    # c_max = y * (1 + t * (m - 1)) <= 1 with m the largest ratio gives k = t * y = (1 - y) / (m - 1)
    k = np.max(ratio, axis=0)
    k -= 1
    np.maximum(k, 1e-12, out=k)  # m >= 1 as the ratio's luminance is 1; a gray pixel has m = 1
    np.divide(1 - y, k, out=k)
    np.minimum(k, y, out=k)  # t <= 1
    b = y - k  # c = k * ratio + (y - k), in 16-bit table units, +0.5 to round
    k *= 65535.0
    b *= 65535.0
    b += 0.5
    for c in range(3):  # one channel at a time keeps the temporaries small
        v = ratio[c]
        v *= k
        v += b
        np.clip(v, 0.0, 65535.0, out=v)  # float rounding only: 65536 would wrap to 0 as uint16
        np.take(LINEAR16_TO_SRGB8, v.astype(np.uint16), out=out[c])

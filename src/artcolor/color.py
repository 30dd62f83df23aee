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

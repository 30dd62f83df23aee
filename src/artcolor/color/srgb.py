"""Colour maths in numpy alone, for the paths that run without torch (the ONNX colouriser, image I/O).

Linear RGB and luminance Y are float32 in [0, 1], L* in [0, 100], sRGB uint8. `color.py` holds the
torch versions and re-exports these, so the two sides share one set of constants.
"""

from __future__ import annotations

import numpy as np

# linear sRGB -> CIE XYZ (D65), and the D65 white: kornia's, which `color.rgb_to_lab` uses
RGB_TO_XYZ = ((0.412453, 0.357580, 0.180423),
              (0.212671, 0.715160, 0.072169),
              (0.019334, 0.119193, 0.950227))
D65_WHITE = (0.95047, 1.0, 1.08883)
Y_WEIGHTS = RGB_TO_XYZ[1]  # CIE Y of the linear sRGB primaries (they sum to 1)
# CIE Lab's f(t) = t ** (1/3) above EPS_F, F_SLOPE * t + 4/29 below; F_KNEE is where the two meet, in f
EPS_F = 0.008856  # CIE's (6/29)**3, as kornia rounds it
F_SLOPE = 7.787  # CIE's 1 / (3 (6/29)**2), as kornia rounds it
F_KNEE = 0.2068966  # 6/29, as kornia rounds it


def srgb_decode(v: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] -> linear RGB."""
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def srgb_encode(v: np.ndarray) -> np.ndarray:
    """Linear RGB in [0, 1] -> sRGB."""
    return np.where(v <= 0.0031308, 12.92 * v, 1.055 * np.maximum(v, 0.0031308) ** (1 / 2.4) - 0.055)


# look-up tables for the full-resolution path, where per-pixel float maths would dominate
SRGB8_TO_LINEAR = srgb_decode(np.arange(256) / 255).astype(np.float32)
LINEAR16_TO_SRGB8 = np.round(srgb_encode(np.arange(65536) / 65535) * 255).clip(0, 255).astype(np.uint8)


def l_from_y(y: np.ndarray) -> np.ndarray:
    """CIE L* in [0, 100] from luminance Y in [0, 1], float32; the numpy twin of `color.l_from_y`."""
    y = np.asarray(y, dtype=np.float32)
    cube_root = np.power(np.maximum(y, np.float32(EPS_F)), np.float32(1 / 3))
    f = np.where(y > EPS_F, cube_root, np.float32(F_SLOPE) * y + np.float32(4 / 29))
    return (np.float32(116) * f - np.float32(16)).astype(np.float32)


def encode_linear16(linear_rgb: np.ndarray) -> np.ndarray:
    """Linear RGB float array in [0, 1] (clipped) -> sRGB uint8, through a 65536-entry table."""
    index = np.clip(linear_rgb, 0.0, 1.0)
    index *= 65535.0
    index += 0.5
    return LINEAR16_TO_SRGB8[index.astype(np.uint16)]


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
    offset = y - k  # c = k * ratio + (y - k), in 16-bit table units, +0.5 to round
    k *= 65535.0
    offset *= 65535.0
    offset += 0.5
    for c in range(3):  # one channel at a time keeps the temporaries small
        channel = ratio[c]
        channel *= k
        channel += offset
        np.clip(channel, 0.0, 65535.0, out=channel)  # float rounding only: 65536 would wrap to 0 as uint16
        np.take(LINEAR16_TO_SRGB8, channel.astype(np.uint16), out=out[c])

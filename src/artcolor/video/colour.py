"""A clip's colour metadata, and colour frames turned into Y'CbCr planes that decode to their lightness.

`ColourSpec` is what an input stream says of its Y'CbCr (matrix, range, primaries, transfer), with
what decoders assume where it says nothing: limited range, BT.709 for HD (over 576 lines), BT.601
below. Input frames are read through it, and the output is written in it and tagged with it, so a
player converts the output back exactly as the input was converted.

`to_yuv` does the RGB -> Y'CbCr conversion itself rather than through swscale, for one reason: 4:2:0
keeps one chroma sample for 2x2 pixels, and a decoder adds that shared chroma to each pixel's own
luma, so a pixel darker or brighter than its neighbours (film grain) decodes to another luminance
than the colour it came from: on grainy film 0.4-0.6 L* darker on average, every frame. Here each
pixel's luma code is chosen, given the chroma its block will decode with, so the decoded pixel has
the luminance it should (the input's) as nearly as an 8-bit code allows. For a gray pixel that is
the input's own luma code.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from PIL import Image

from ..color import kernels
from ..color.srgb import SRGB8_TO_LINEAR, Y_WEIGHTS
from ..inputs.images import luminance_plane

# AVCOL_SPC_* (FFmpeg's matrix tags) -> (Kr, Kb) of E'Y = Kr E'R + (1 - Kr - Kb) E'G + Kb E'B
MATRICES = {1: (0.2126, 0.0722), 4: (0.30, 0.11), 5: (0.299, 0.114), 6: (0.299, 0.114), 7: (0.212, 0.087),
            9: (0.2627, 0.0593)}
BT709, BT601 = 1, 6  # SMPTE 170M: BT.601's matrix, as 525-line SD tags it
UNSPECIFIED, LIMITED, FULL = 2, 1, 2  # AVCOL_SPC / AVCOL_PRI / AVCOL_TRC "unspecified"; AVCOL_RANGE_*
_SWS = {1: 1, 4: 4, 5: 5, 6: 5, 7: 7, 9: 9}  # AVCOL_SPC -> swscale's SWS_CS_* (what PyAV's reformat takes)
# swscale's flags for an exact Y'CbCr -> RGB: bilinear, accurate rounding, chroma interpolated at every
# pixel. Its default fast path reads 4:2:0 about half a code dark (gray: -0.49 codes on average)
EXACT_SWS = 2 | 0x40000 | 0x2000  # SWS_BILINEAR | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT


class ColourSpec(NamedTuple):
    """Y'CbCr colour metadata in FFmpeg's numbers: matrix (AVCOL_SPC), range, primaries, transfer."""

    matrix: int
    full_range: bool
    primaries: int
    transfer: int

    @property
    def kr_kb(self) -> tuple[float, float]:
        return MATRICES[self.matrix]

    @property
    def sws_colorspace(self) -> int:
        """The matrix as swscale numbers it (PyAV's `src_colorspace` / `dst_colorspace`)."""
        return _SWS[self.matrix]

    @property
    def color_range(self) -> int:
        return FULL if self.full_range else LIMITED


def colour_spec(codec_context, height: int) -> ColourSpec:
    """The colour metadata of a decoder's stream, the gaps filled as decoders fill them.

    A matrix this package cannot convert (RGB, YCgCo, BT.2020 constant luminance) or none is taken
    as the common one for the size; untagged primaries and transfer follow the matrix.
    """
    default = BT709 if height > 576 else BT601
    matrix = int(codec_context.colorspace or UNSPECIFIED)
    matrix = matrix if matrix in MATRICES else default
    pix_fmt = codec_context.pix_fmt or ""
    full = int(codec_context.color_range or 0) == FULL or pix_fmt.startswith("yuvj")
    primaries = int(codec_context.color_primaries or UNSPECIFIED)
    transfer = int(codec_context.color_trc or UNSPECIFIED)
    if primaries == UNSPECIFIED:
        primaries = BT709 if matrix == BT709 else BT601
    if transfer == UNSPECIFIED:
        transfer = BT709 if matrix == BT709 else BT601
    return ColourSpec(matrix, full, primaries, transfer)


def gray_luma_table(full_range: bool) -> np.ndarray:
    """(256,) float32: the CIE luminance of a neutral pixel of each luma code, decoded to 8-bit sRGB."""
    codes = np.arange(256, dtype=np.float64)
    v = codes / 255 if full_range else (codes - 16) / 219
    return SRGB8_TO_LINEAR[np.clip(np.round(v * 255), 0, 255).astype(np.intp)]


def frame_luminance(frame, colour: ColourSpec) -> np.ndarray:
    """CIE luminance (H, W) of a decoded frame, through 8-bit sRGB as the image path computes it.

    Y'CbCr is read in the stream's matrix and range. A gray 4:2:0 frame (every chroma sample
    neutral, as scans of black-and-white film are) is read from its luma codes alone; any other
    through swscale with exact rounding and interpolated chroma (its fast path reads 4:2:0 about half
    a code dark).
    """
    if frame.format.name in ("yuv420p", "yuvj420p"):
        planes = frame.to_ndarray()  # (H * 3 / 2, W): Y, then Cb and Cr
        luma, chroma = planes[:frame.height], planes[frame.height:]
        if (chroma == 128).all():
            table = gray_luma_table(colour.full_range)
            return kernels.lookup(luma, table) if kernels.AVAILABLE else table[luma]
    rgb = frame.to_ndarray(format="rgb24", src_colorspace=colour.sws_colorspace, src_color_range=colour.color_range,
                           interpolation=EXACT_SWS)
    return luminance_plane(Image.fromarray(rgb))


def to_yuv(rgb: np.ndarray, luminance: np.ndarray, spec: ColourSpec, subsampled: bool) -> np.ndarray:
    """sRGB (H, W, 3) uint8 and its target CIE luminance (H, W) float32 in [0, 1] -> planes Y, Cb, Cr
    stacked as PyAV's `from_ndarray` takes them: (H * 3 // 2, W) uint8 for 4:2:0 (`subsampled`, even
    H and W), (3, H, W) for 4:4:4; in `spec`'s matrix and range.

    Chroma is the mean of each block's (2x2, or the pixel's); each luma code is the one whose
    decoded pixel (that code, the block's chroma, rounded to 8-bit sRGB) has the luminance nearest
    the target. Needs numba (`kernels.AVAILABLE`); without it `VideoWriter` converts with swscale.
    """
    h, w = luminance.shape
    step = 2 if subsampled else 1
    if subsampled and (h % 2 or w % 2):
        raise ValueError(f"4:2:0 needs an even size, got {w}x{h}")
    kr, kb = spec.kr_kb
    y_plane = np.empty((h, w), np.uint8)
    cb, cr = np.empty((h // step, w // step), np.uint8), np.empty((h // step, w // step), np.uint8)
    args = (np.ascontiguousarray(rgb), np.ascontiguousarray(luminance, np.float32), SRGB8_TO_LINEAR,
            np.asarray(Y_WEIGHTS, np.float32), (float(kr), float(kb), bool(spec.full_range)), step, y_plane, cb, cr)
    kernels.in_row_chunks(_compiled(), h // step, *args)
    if subsampled:
        return np.concatenate([y_plane, cb.reshape(h // 4, w), cr.reshape(h // 4, w)])
    return np.stack([y_plane, cb, cr])


_kernel = None


def _compiled():
    """`_blocks` compiled, on first use (importing this module does not import numba)."""
    global _kernel, _nearest_code, _decoded_luminance
    if _kernel is None:
        from numba import njit
        from numba.extending import register_jitable

        # the helpers it calls, made callable from compiled code (still from Python too)
        _nearest_code, _decoded_luminance = register_jitable(_nearest_code), register_jitable(_decoded_luminance)
        try:
            _kernel = njit(cache=True, nogil=True, boundscheck=False)(_blocks)
        except RuntimeError:  # no writable cache folder: compile in every process instead
            _kernel = njit(nogil=True, boundscheck=False)(_blocks)
    return _kernel


def _blocks(rgb, target, lut, weights, coding, step, y_plane, cb_plane, cr_plane,
            start, stop):  # pragma: no cover - compiled
    """Block rows start..stop of `to_yuv`: chroma of each step x step block, then each pixel's luma;
    `coding`: the matrix's (kr, kb) and whether the range is full."""
    kr, kb, full = coding
    kg = 1 - kr - kb
    y_scale, y_offset, c_scale = (255.0, 0.0, 255.0) if full else (219.0, 16.0, 224.0)
    cr_r, cb_b = 2 * (1 - kr), 2 * (1 - kb)  # decoding: R' = Y' + cr_r Cr, B' = Y' + cb_b Cb
    cb_g, cr_g = cb_b * kb / kg, cr_r * kr / kg  # G' = Y' - cb_g Cb - cr_g Cr
    n = step * step
    for bi in range(start, stop):
        for bj in range(cb_plane.shape[1]):
            cb_sum, cr_sum = 0.0, 0.0
            for i in range(bi * step, bi * step + step):
                for j in range(bj * step, bj * step + step):
                    r, g, b = rgb[i, j, 0] / 255.0, rgb[i, j, 1] / 255.0, rgb[i, j, 2] / 255.0
                    luma = kr * r + kg * g + kb * b
                    cb_sum += (b - luma) / cb_b
                    cr_sum += (r - luma) / cr_r
            cb_code = min(max(round(128 + c_scale * cb_sum / n), 0), 255)
            cr_code = min(max(round(128 + c_scale * cr_sum / n), 0), 255)
            cb_plane[bi, bj], cr_plane[bi, bj] = cb_code, cr_code
            cb, cr = (cb_code - 128) / c_scale, (cr_code - 128) / c_scale  # what the decoder reads
            for i in range(bi * step, bi * step + step):
                for j in range(bj * step, bj * step + step):
                    r, g, b = rgb[i, j, 0] / 255.0, rgb[i, j, 1] / 255.0, rgb[i, j, 2] / 255.0
                    code = min(max(round(y_offset + y_scale * (kr * r + kg * g + kb * b)), 0), 255)
                    y_plane[i, j] = _nearest_code(code, target[i, j], lut, weights, y_scale, y_offset,
                                                  cr_r * cr, cb_b * cb, cb_g * cb + cr_g * cr)


def _nearest_code(code, target, lut, weights, y_scale, y_offset, r_add, b_add, g_sub):  # pragma: no cover
    """The luma code near `code` whose decoded pixel's luminance is nearest `target` (it grows with
    the code, so a walk from the start while the error shrinks finds it)."""
    error = abs(_decoded_luminance(code, lut, weights, y_scale, y_offset, r_add, b_add, g_sub) - target)
    for direction in (1, -1):
        moved = False
        while 0 <= code + direction <= 255:
            e = abs(_decoded_luminance(code + direction, lut, weights, y_scale, y_offset, r_add, b_add, g_sub)
                    - target)
            if e >= error:
                break
            code, error, moved = code + direction, e, True
        if moved:
            break
    return code


def _decoded_luminance(code, lut, weights, y_scale, y_offset, r_add, b_add, g_sub):  # pragma: no cover
    """CIE luminance of the pixel a decoder makes of luma `code` and the block's chroma, in 8-bit sRGB."""
    v = (code - y_offset) / y_scale
    r = lut[min(max(round((v + r_add) * 255), 0), 255)]
    g = lut[min(max(round((v - g_sub) * 255), 0), 255)]
    b = lut[min(max(round((v + b_add) * 255), 0), 255)]
    return weights[0] * r + weights[1] * g + weights[2] * b

"""The full-resolution steps on a torch device: luminance from decoded pixels, and recombination.

`pipeline.recombine` and `image.luminance_plane` run these on the CPU (numba's compiled loops, one
pass over the pixels); on a GPU the same arithmetic runs as a few tensor ops, so a photo's
full-resolution work costs a fraction of a millisecond and only bytes cross the bus: the decoded
pixels (uint8) in, the sRGB image (uint8) out. The ops are the CPU path's, step for step and in its
order (separate multiplies and adds, no fused multiply-add: torch runs each op as its own kernel),
so on the CPU device the outputs are the CPU path's bytes (tests/inference/test_gpu_pipeline.py), and on CUDA
they differ from them at most by float rounding.

    pixels (H, W) or (H, W, 3) uint8 -> Y (H, W) float32                  `Recombiner.luminance`
    Y (H, W) x chroma ratio (3, h, w) -> sRGB (H, W, 3) uint8            `Recombiner.recombine`
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from PIL import Image

from ..color.srgb import LINEAR16_TO_SRGB8, SRGB8_TO_LINEAR, Y_WEIGHTS
from .pipeline import bilinear_taps, recombine


def accelerator(backend) -> torch.device | None:
    """The device a colorizer's backend runs its network on when that is not the CPU (CUDA, MPS),
    else None: the CPU path (numba) stays as it is."""
    device = getattr(backend, "device", None)
    return device if isinstance(device, torch.device) and device.type != "cpu" else None


class Recombiner:
    """The full-resolution steps on `device`, its look-up tables held there."""

    def __init__(self, device: str | torch.device):
        self.device = torch.device(device)
        self.to_srgb = torch.from_numpy(LINEAR16_TO_SRGB8).to(self.device)  # (65536,) uint8
        self.to_linear = torch.from_numpy(SRGB8_TO_LINEAR).to(self.device)  # (256,) float32
        # the image path's per-channel tables (image._Y_LUTS): linear value x the channel's Y weight
        self.y_tables = torch.from_numpy(np.stack([(SRGB8_TO_LINEAR * w).astype(np.float32) for w in Y_WEIGHTS]))
        self.y_tables = self.y_tables.to(self.device)  # (3, 256)

    def luminance(self, pixels: torch.Tensor) -> torch.Tensor:
        """Decoded pixels on the device, (H, W) gray or (H, W, 3) RGB uint8 (or Y itself, float) -> Y (H, W) float32 in
        [0, 1], as `image.luminance_plane` computes it: a gray photo (stored as RGB too) through the
        gray table, a colour one as the sum of the channel tables, in the order r, g, b."""
        if pixels.is_floating_point():  # a 16-bit input's luminance, computed where it was decoded
            return pixels.float()
        if pixels.dim() == 2:
            return self.to_linear[pixels.long()]
        index = pixels.long()
        r, g, b = index.unbind(-1)
        summed = self.y_tables[0][r] + self.y_tables[1][g] + self.y_tables[2][b]
        gray = ((r == g) & (g == b)).all()  # a tensor: no wait for the device here
        return torch.where(gray, self.to_linear[r], summed)

    def recombine(self, y: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
        """Luminance Y (H, W) float32 x chroma ratio (3, h, w) float32, both on the device -> sRGB
        (H, W, 3) uint8 there: `pipeline.recombine`'s bilinear upsampling (horizontal, then vertical
        from each row and its step to the next), and `srgb.encode_in_gamut`'s gamut mapping."""
        height, width = y.shape
        left, right, fx = self._taps(ratio.shape[2], width)
        top, fy = self._taps(ratio.shape[1], height)[::2]
        rows = ratio[:, :, left]
        rows = rows + (ratio[:, :, right] - rows) * fx  # (3, h, W)
        step = torch.diff(rows, dim=1, append=rows[:, -1:])
        up = rows[:, top] + step[:, top] * fy[:, None]  # (3, H, W)
        v = y.clamp(0, 1)
        k = (up.amax(dim=0) - 1).clamp(min=np.float32(1e-12))
        k = torch.minimum((1 - v) / k, v)
        offset = (v - k) * 65535 + 0.5
        k = k * 65535
        index = (up * k + offset).clamp(0, 65535).to(torch.int32)  # truncated, as the uint16 cast does
        return self.to_srgb[index.permute(1, 2, 0)]

    def _taps(self, n_in: int, n_out: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return _device_taps(n_in, n_out, self.device)


@functools.lru_cache(maxsize=64)
def _device_taps(n_in: int, n_out: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`pipeline.bilinear_taps` on `device` (a folder of one size asks for the same few again and again)."""
    low, high, weight = bilinear_taps(n_in, n_out)
    return torch.from_numpy(low).to(device), torch.from_numpy(high).to(device), torch.from_numpy(weight).to(device)


@functools.lru_cache(maxsize=8)
def recombiner(device: torch.device) -> Recombiner:
    """One `Recombiner` per device, its tables uploaded once."""
    return Recombiner(device)


def recombine_on(device: torch.device, y: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """`pipeline.recombine` on `device` for numpy inputs: Y (H, W) float32, ratio (3, h, w) -> sRGB
    (H, W, 3) uint8 numpy (a film's frames on a GPU)."""
    r = recombiner(device)
    y_dev = torch.from_numpy(np.ascontiguousarray(y, np.float32)).to(device, non_blocking=True)
    ratio_dev = torch.from_numpy(np.ascontiguousarray(ratio, np.float32)).to(device, non_blocking=True)
    return r.recombine(y_dev, ratio_dev).cpu().numpy()


def recombine_image(device: torch.device, y: np.ndarray, ratio: np.ndarray, alpha: Image.Image | None = None) -> Image.Image:
    """`pipeline.recombine`, the same contract, on `device`: the Colorizer's photos on a GPU."""
    rgb = recombine_on(device, y, ratio)
    if alpha is not None:
        return Image.fromarray(np.dstack([rgb, np.asarray(alpha)]), "RGBA")
    return Image.fromarray(rgb, "RGB")


def recombine_for(backend):
    """`pipeline.recombine`, or its device twin where `backend` runs on an accelerator (`accelerator`)."""
    device = accelerator(backend)
    return recombine if device is None else functools.partial(recombine_image, device)

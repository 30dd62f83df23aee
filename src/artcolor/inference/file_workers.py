"""The file work of a batched job, in worker processes that import neither torch nor the model:
decoding (with the network's working-size input) and encoding. `device_jobs.py` keeps a pool of
them busy while one process feeds the device.

What crosses between processes is bytes-lean: the decoded pixels as uint8 (a gray photo 1 byte a
pixel, a colour one 3), never the float luminance (4); the device computes that itself.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np
from PIL import Image

from ..inputs.images import ImageLike, alpha_of, luminance_plane, open_image, save_atomic
from .pipeline import working_l, working_size

_SIXTEEN_BIT = ("I", "I;16", "I;16B", "I;16L", "I;16N")


def start_worker() -> None:
    """A worker process's set-up: numba's row loops on one thread (the pool has a process per core)."""
    from ..color import kernels

    kernels.set_threads(1)


class Decoded(NamedTuple):
    """One input, ready for the device.

    `pixels`: (H, W) gray or (H, W, 3) RGB uint8, or for 16-bit inputs the luminance Y (H, W) float32
    itself (`gpu.Recombiner.luminance` turns uint8 into Y as `image.luminance_plane` does);
    `alpha`: (H, W) uint8 or None; `l`: the network's input L* (1, 1, h, w) float32 (`pipeline.working_l`,
    computed here from the CPU luminance, so the network sees what the file-at-a-time path feeds it).
    """

    pixels: np.ndarray
    alpha: np.ndarray | None
    l: np.ndarray


def decode(image: ImageLike, max_pixels: int | None, size: int, multiple: int) -> Decoded:
    """An input (a path, PIL image or array) -> `Decoded`, the working short side `size`, both sides
    multiples of `multiple`. Raises ImageError naming the file when it cannot be read."""
    im = open_image(image, max_pixels)
    alpha = alpha_of(im)
    y = luminance_plane(im)
    l = working_l(y, working_size(*y.shape, size, multiple))
    # writable (a Pillow image's array is not, and torch warns on one): a copy only where it is not
    return Decoded(np.require(_pixels(im, y), requirements="W"), None if alpha is None else np.asarray(alpha), l)


def _pixels(im: Image.Image, y: np.ndarray) -> np.ndarray:
    """The bytes the device makes Y from (as `luminance_plane` reads the image), or Y for 16-bit."""
    if im.mode in _SIXTEEN_BIT:
        return y
    if im.mode in ("L", "LA", "1") or (im.mode == "P" and _gray_palette(im)):
        return np.asarray(im.convert("L"))
    return np.asarray(im if im.mode == "RGB" else im.convert("RGB"))


def _gray_palette(im: Image.Image) -> bool:
    pal = np.asarray(im.getpalette() or [], dtype=np.int32).reshape(-1, 3)
    return bool(len(pal)) and bool((pal == pal[:, :1]).all())


def encode(rgb: np.ndarray, alpha: np.ndarray | None, dst: str | os.PathLike) -> None:
    """A colour image (H, W, 3) uint8 (with its alpha band, or None) -> `dst`, written atomically in
    the format its suffix names, as the file-at-a-time path writes it."""
    im = Image.fromarray(rgb if alpha is None else np.dstack([rgb, alpha]))
    save_atomic(im, dst)

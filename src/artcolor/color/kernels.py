"""The full-resolution passes as compiled loops (numba): luminance from sRGB, and recombination.

Each is one pass over the pixels with nothing but registers between its steps, where the numpy
versions (`srgb.encode_in_gamut`, `image.luminance_plane`) make a dozen passes through temporaries:
at 4096 x 4096 recombination goes from about 36 ns a pixel to a few. The arithmetic is the numpy
versions', in float32, step for step and in the same order (numba, without fastmath, neither fuses
a multiply and an add nor reorders), so the outputs are bit-identical; tests/color/test_kernels.py holds
them to it.

The loops are single-threaded and release the GIL; `in_row_chunks` runs one over a few row chunks
on a small thread pool, so a large photo uses every core, and several files in flight (the CLI's
workers) each run theirs without numba's own threading layers (some abort when two threads launch
parallel kernels at once). Compiled code is cached beside this file (or in numba's user cache
where that is read-only), so a process compiles it once per installation, not once per run.

Without numba (it is a dependency, but a platform may lack its wheels) `AVAILABLE` is False and
callers keep their numpy paths.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# numba is imported and the loops compiled (or read from the cache) on first use, not at import:
# `artcolor --help` and the app's start need neither
AVAILABLE = importlib.util.find_spec("numba") is not None

MIN_CHUNK_ROWS = 64  # below this a thread's start-up costs more than the rows it would take
_THREADS = max(1, min(8, os.cpu_count() or 1))
_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()
_compiled: dict = {}


def _jit(fn):
    """fn, compiled on its first call (njit: no Python objects; nogil: threads run it side by side)."""
    def compiled(*args):
        kernel = _compiled.get(fn)
        if kernel is None:
            with _lock:
                if fn not in _compiled:
                    _compiled[fn] = _compile(fn)
                kernel = _compiled[fn]
        return kernel(*args)

    compiled.__name__, compiled.__doc__, compiled.py_func = fn.__name__, fn.__doc__, fn
    return compiled


def _compile(fn):
    from numba import njit

    try:
        return njit(cache=True, nogil=True, boundscheck=False)(fn)
    except RuntimeError:  # no writable cache folder anywhere: compile in every process instead
        return njit(nogil=True, boundscheck=False)(fn)


@_jit
def _recombine_rows(y, rows, step, top, fy, lut, out, start, stop):  # pragma: no cover - compiled
    """Rows start..stop of the recombined image; see `recombine_into` for the arrays."""
    zero, one = np.float32(0.0), np.float32(1.0)
    eps, scale, half = np.float32(1e-12), np.float32(65535.0), np.float32(0.5)
    width = y.shape[1]
    ratio = np.empty((3, width), np.float32)  # one row's upsampled ratio
    index = np.empty((3, width), np.uint16)  # its colours in 16-bit linear units
    for i in range(start, stop):
        # the vertical half of the bilinear upsampling (a loop the compiler vectorises)
        source, weight = top[i], fy[i]  # the source row above, and the weight of the one below
        for c in range(3):
            upper, difference, row = rows[c, source], step[c, source], ratio[c]
            for x in range(width):
                row[x] = upper[x] + difference[x] * weight
        # the gamut mapping of srgb.encode_in_gamut, operation for operation (vectorised too)
        y_i, r, g, b = y[i], ratio[0], ratio[1], ratio[2]
        for x in range(width):
            v = min(max(y_i[x], zero), one)
            k = max(max(max(r[x], g[x]), b[x]) - one, eps)
            k = min((one - v) / k, v)
            offset = (v - k) * scale + half
            k = k * scale
            index[0, x] = np.uint16(min(max(r[x] * k + offset, zero), scale))
            index[1, x] = np.uint16(min(max(g[x] * k + offset, zero), scale))
            index[2, x] = np.uint16(min(max(b[x] * k + offset, zero), scale))
        # the look-ups, written as RGBX: the layout of a Pillow image, which can then map it
        o = out[i]
        for x in range(width):
            o[x, 0] = lut[index[0, x]]
            o[x, 1] = lut[index[1, x]]
            o[x, 2] = lut[index[2, x]]
            o[x, 3] = 255


@_jit
def _luminance_rows(rgb, lut_r, lut_g, lut_b, out, start, stop):  # pragma: no cover - compiled
    """Rows start..stop of Y = lut_r[r] + lut_g[g] + lut_b[b], summed in that order."""
    for i in range(start, stop):
        for x in range(rgb.shape[1]):
            out[i, x] = lut_r[rgb[i, x, 0]] + lut_g[rgb[i, x, 1]] + lut_b[rgb[i, x, 2]]


@_jit
def _gray_rows(rgb, start, stop):  # pragma: no cover - compiled
    """Whether r == g == b in every pixel of rows start..stop (stops at the first that is not)."""
    for i in range(start, stop):
        for x in range(rgb.shape[1]):
            if rgb[i, x, 0] != rgb[i, x, 1] or rgb[i, x, 1] != rgb[i, x, 2]:
                return False
    return True


@_jit
def _lookup_rows(index, lut, out, start, stop):  # pragma: no cover - compiled
    for i in range(start, stop):
        for x in range(index.shape[1]):
            out[i, x] = lut[index[i, x]]


def in_row_chunks(kernel, height: int, *args) -> list:
    """`kernel(*args, start, stop)` over rows 0..height in up to one chunk per core; their results."""
    chunks = max(1, min(_THREADS, height // MIN_CHUNK_ROWS))
    bounds = [height * j // chunks for j in range(chunks + 1)]
    if chunks == 1:
        return [kernel(*args, 0, height)]
    futures = [_row_pool().submit(kernel, *args, bounds[j], bounds[j + 1]) for j in range(chunks)]
    return [f.result() for f in futures]


def set_threads(n: int) -> None:
    """Run the row chunks on at most `n` threads from now on (a worker process among many, one per
    core, takes 1: its siblings keep the other cores busy)."""
    global _THREADS, _pool
    with _lock:
        _THREADS, _pool = max(1, int(n)), None


def _forget_pool() -> None:
    """In a forked child (a DataLoader worker), whose copy of the pool has no threads behind it."""
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _row_pool() -> ThreadPoolExecutor:
    """The threads the chunks run on, created on first use: importing artcolor starts none."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(_THREADS, thread_name_prefix="artcolor-rows")
        return _pool


def recombine_into(y: np.ndarray, rows: np.ndarray, step: np.ndarray, top: np.ndarray, fy: np.ndarray,
                   lut: np.ndarray, out: np.ndarray) -> None:
    """Luminance y (H, W) float32 x the ratio resized to W columns -> out (H, W, 4) uint8 sRGB + 255.

    rows (3, h, W) float32: the ratio resized horizontally; step (3, h, W): row t + 1 minus row t;
    top (H,) int64 and fy (H,) float32: each output row's source row and weight of the next; lut
    (65536,) uint8: linear (16-bit) -> sRGB. Row i's ratio is rows[:, top[i]] + step[:, top[i]] * fy[i].
    """
    in_row_chunks(_recombine_rows, y.shape[0], y, rows, step, top, fy, lut, out)


def luminance_rgb(im, luts: list[np.ndarray], gray_lut: np.ndarray, strip_pixels: int = 1 << 20) -> np.ndarray:
    """A PIL image in RGB or RGBA -> Y (H, W) float32: gray_lut[r] if every pixel is gray (r = g = b),
    else the sum of the three channel tables, in that order (as `image.luminance_plane`).

    The pixels are read a strip of about `strip_pixels` at a time: a whole-image array would be one
    more copy of the photo (and `np.asarray` briefly holds two). Strips are taken as gray until one
    is not; then the earlier ones are read again and summed, which a colour photo rarely needs
    beyond its first strip.
    """
    w, h = im.size
    out = np.empty((h, w), np.float32)
    rows = max(1, strip_pixels // w)
    strip = lambda top: np.asarray(im.crop((0, top, w, min(h, top + rows))))  # noqa: E731

    def add_tables(rgb, top):
        in_row_chunks(_luminance_rows, len(rgb), rgb, *luts, out[top:top + len(rgb)])

    colour = False
    for top in range(0, h, rows):
        rgb = strip(top)
        if not colour and all(in_row_chunks(_gray_rows, len(rgb), rgb)):
            in_row_chunks(_lookup_rows, len(rgb), rgb[:, :, 0], gray_lut, out[top:top + len(rgb)])
            continue
        if not colour:  # the photo is in colour after all: the strips above were read as gray
            colour = True
            for above in range(0, top, rows):
                add_tables(strip(above), above)
        add_tables(rgb, top)
    return out


def lookup(index: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """lut[index] for a 2-D uint8 index, on every core."""
    out = np.empty(index.shape, lut.dtype)
    in_row_chunks(_lookup_rows, index.shape[0], index, lut, out)
    return out

"""Reading images from anything a user holds, and writing them without ever leaving half a file.

An input becomes either a full-resolution luminance plane Y (H, W) float32 in [0, 1] (the gray
photo to colourise) or an sRGB array (H, W, 3) uint8 (a reference). Colour inputs are made gray
through their CIE luminance, so a colourised result keeps the photo's lightness exactly.
"""

from __future__ import annotations

import io
import os
import threading
import uuid
from contextlib import contextmanager
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Union

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from ..color import kernels
from ..color.srgb import LINEAR16_TO_SRGB8, SRGB8_TO_LINEAR, Y_WEIGHTS  # numpy only: this module needs no torch

ImageLike = Union[str, os.PathLike, Image.Image, np.ndarray]

DEFAULT_MAX_PIXELS = 100_000_000  # 10000 x 10000; larger inputs are refused, not decoded
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".heic", ".heif"}
VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm"}  # colourised by `artcolor.video`

_Y_LUTS = [(SRGB8_TO_LINEAR * w).astype(np.float32) for w in Y_WEIGHTS]


class ImageError(ValueError):
    """An input that cannot be used; the message names it and says why."""


def describe(src: ImageLike) -> str:
    if isinstance(src, (str, os.PathLike)):
        return str(src)
    return f"<{type(src).__name__}>"


def open_image(src: ImageLike, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Any supported input -> a decoded PIL image, EXIF orientation applied, first frame only."""
    if isinstance(src, Image.Image):
        im = _loaded(src)
    elif isinstance(src, np.ndarray):
        im = _from_array(src)
    elif isinstance(src, (str, os.PathLike)):
        im = _open_path(Path(src), max_pixels)
    else:
        raise ImageError(f"{describe(src)}: expected a path, a PIL image or a numpy array")
    if max_pixels and im.width * im.height > max_pixels:
        raise ImageError(f"{describe(src)}: {im.width}x{im.height} is larger than the limit of {max_pixels} pixels")
    if im.width < 1 or im.height < 1:
        raise ImageError(f"{describe(src)}: empty image ({im.width}x{im.height})")
    return im


def _open_path(path: Path, max_pixels: int | None) -> Image.Image:
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    return _decode(path, str(path), max_pixels)


def decode_bytes(data: bytes, name: str, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image.Image:
    """An encoded file's bytes (read from a bucket, say) -> a decoded PIL image, exactly as `open_image`
    decodes the same file from a path; `name` (the file's path or URL) is what errors name."""
    im = _decode(io.BytesIO(data), name, max_pixels)
    if im.width < 1 or im.height < 1:
        raise ImageError(f"{name}: empty image ({im.width}x{im.height})")
    return im


def _decode(file: Path | io.BytesIO, name: str, max_pixels: int | None) -> Image.Image:
    """Open, check the size in the header against `max_pixels`, decode the first frame, apply EXIF orientation."""
    _register_heif()
    try:
        # the file is closed again also when decoding fails or frames remain
        with _pillow_limit(max_pixels), Image.open(file) as im:
            if max_pixels and im.width * im.height > max_pixels:
                raise ImageError(f"{name}: {im.width}x{im.height} is larger than the limit of {max_pixels} pixels")
            im.seek(0)
            im.load()
            return _detached(im)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not an image, or a format that cannot be read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own message names twice the limit (its hard error); ours names the limit given
        raise ImageError(f"{name}: larger than the limit of {max_pixels} pixels (refused before decoding)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageError(f"{name}: cannot decode image ({e})") from None


def _detached(im: Image.Image) -> Image.Image:
    """A loaded image from a file -> one free of the file (closing that one voids its pixels), EXIF
    orientation applied. Upright photos keep their decoded pixels: a copy would cost one more image
    of memory (64 MB at 4096 x 4096) and the time to write it."""
    if im.getexif().get(ExifTags.Base.Orientation, 1) not in range(2, 9):  # the ones exif_transpose turns
        return im._new(im.im)  # a new Image object over the same pixels
    return ImageOps.exif_transpose(im)


_PILLOW_LIMIT = threading.Lock()


@contextmanager
def _pillow_limit(max_pixels: int | None):
    """Pillow's decompression-bomb limit set to `max_pixels` (0 or None: none) while a file opens.

    The limit and the warnings filter that makes its warning an error are process globals, read
    while a file opens and decodes; one file at a time has them, so threads (the app's requests)
    opening with different limits neither see each other's nor leave one behind.
    """
    with _PILLOW_LIMIT, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        old, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, max_pixels or None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = old


def _loaded(im: Image.Image) -> Image.Image:
    """A PIL image the caller opened lazily, decoded now, so bad bytes are an ImageError here."""
    try:
        im.load()
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageError(f"{describe(im)}: cannot decode image ({e})") from None
    # premultiplied alpha: Pillow converts "La" to nothing but "LA"
    return im.convert(_UNPREMULTIPLIED[im.mode]) if im.mode in _UNPREMULTIPLIED else im


_UNPREMULTIPLIED = {"La": "LA", "RGBa": "RGBA"}


def _register_heif() -> None:
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return
    register_heif_opener()


def _from_array(a: np.ndarray) -> Image.Image:
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise ImageError(f"array of shape {a.shape}: expected (H, W), (H, W, 3) or (H, W, 4)")
    if a.size == 0:
        raise ImageError(f"array of shape {a.shape}: empty image")
    if a.dtype.kind not in "buif":  # complex, object, strings, dates: no pixel values
        raise ImageError(f"array of dtype {a.dtype}: expected uint8, integers in 0..255 or floats in [0, 1]")
    if a.dtype == np.uint16 and a.ndim == 2:
        return Image.fromarray(a.astype(np.int32), "I")
    if np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise ImageError("float array contains NaN or infinity")
        a = np.round(np.clip(a, 0, 1) * 255)
    elif a.dtype != np.uint8:
        if a.min() < 0 or a.max() > 255:
            raise ImageError(f"{a.dtype} array with values outside 0..255; pass floats in [0, 1] or uint8")
    return Image.fromarray(np.ascontiguousarray(a.astype(np.uint8)))


def alpha_of(im: Image.Image) -> Image.Image | None:
    """The alpha band, if the image has real transparency."""
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        return im.convert("RGBA").getchannel("A")
    return None


def luminance_plane(im: Image.Image) -> np.ndarray:
    """CIE luminance Y (H, W) float32 in [0, 1] of any decoded image."""
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        v = np.asarray(im, dtype=np.float32) / 65535.0
        v = np.clip(v, 0, 1)
        return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4).astype(np.float32)
    if im.mode in ("L", "LA", "1") or (im.mode == "P" and _palette_is_gray(im)):
        gray = np.asarray(im.convert("L"))
        return kernels.lookup(gray, SRGB8_TO_LINEAR) if kernels.AVAILABLE else SRGB8_TO_LINEAR[gray]
    if kernels.AVAILABLE:  # one compiled pass over the interleaved pixels, the same sums as below
        return kernels.luminance_rgb(im if im.mode in ("RGB", "RGBA") else im.convert("RGB"), _Y_LUTS, SRGB8_TO_LINEAR)
    bands = im.split()[:3] if im.mode in ("RGB", "RGBA") else im.convert("RGB").split()  # no full-size copy
    r, g, b = (np.asarray(band) for band in bands)
    if np.array_equal(r, g) and np.array_equal(g, b):  # a gray photo stored as RGB: exactly as gray
        return SRGB8_TO_LINEAR[r]
    y = _Y_LUTS[0][r]
    y += _Y_LUTS[1][g]
    y += _Y_LUTS[2][b]
    return y


def _palette_is_gray(im: Image.Image) -> bool:
    pal = np.asarray(im.getpalette() or [], dtype=np.int32).reshape(-1, 3)
    return bool(len(pal)) and bool((pal == pal[:, :1]).all())


def rgb_array(im: Image.Image) -> np.ndarray:
    """(H, W, 3) uint8 sRGB; transparent areas over white."""
    if alpha_of(im) is not None:
        im = Image.alpha_composite(Image.new("RGBA", im.size, "white"), im.convert("RGBA"))
    return np.asarray(im.convert("RGB"))


def palette_image(colors: Sequence[str], size: int = 64) -> Image.Image:
    """A reference made of colours: equal vertical stripes, e.g. `palette_image(["#264653", "#e9c46a"])`."""
    from PIL import ImageColor

    if not colors:
        raise ValueError("a palette needs at least one colour")
    rgb = []
    for c in colors:
        c = c.strip()
        try:
            rgb.append(ImageColor.getrgb(c if c.startswith("#") or not _is_hex(c) else f"#{c}")[:3])
        except ValueError:
            raise ValueError(f"not a colour: {c!r} (use hex such as '#e9c46a' or a CSS name)") from None
    stripes = np.repeat(np.asarray(rgb, dtype=np.uint8)[None], size, axis=0)  # (size, n, 3)
    return Image.fromarray(stripes).resize((size * len(rgb), size), Image.NEAREST)


def _is_hex(s: str) -> bool:
    return len(s) in (3, 6) and all(ch in "0123456789abcdefABCDEF" for ch in s)


def gray_image(y: np.ndarray) -> Image.Image:
    """The 8-bit gray photo whose luminance is y (H, W) in [0, 1]."""
    return Image.fromarray(LINEAR16_TO_SRGB8[(np.clip(y, 0, 1) * 65535 + 0.5).astype(np.uint16)], "L")


def list_images(inputs: list[str | os.PathLike], suffixes: set[str] = IMAGE_SUFFIXES) -> list[tuple[Path, Path]]:
    """Files and folders (recursive) -> (file, path relative to its input) pairs, in a stable order.

    In folders, only files whose suffix is in `suffixes` (lower case, with the dot) are taken."""
    found = []
    for item in map(Path, inputs):
        if item.is_dir():
            files = sorted(p for p in item.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
            found += [(p, p.relative_to(item)) for p in files]
        else:
            found.append((item, Path(item.name)))
    return found


def save_atomic(im: Image.Image, path: str | os.PathLike, **params) -> None:
    """Write an image via a temporary file in the same folder and a rename: never half a file."""
    path = Path(path)
    fmt, im, params = _save_args(im, path, params)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as f:
        im.save(f, format=fmt, **params)


def encode_image(im: Image.Image, name: str, **params) -> bytes:
    """The bytes `save_atomic` would write to a file called `name` (its suffix picks the format)."""
    fmt, im, params = _save_args(im, Path(name), params)
    buffer = io.BytesIO()
    im.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def _save_args(im: Image.Image, path: Path, params: dict) -> tuple[str, Image.Image, dict]:
    """The format for `path`'s suffix, the image converted for it and the encoder's parameters."""
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ImageError(f"{path}: unknown output format {path.suffix!r}")
    params = dict(params)
    if fmt == "JPEG":
        params.setdefault("quality", 92)
        if im.mode not in ("RGB", "L"):
            im = im.convert("RGB")
    return fmt, im, params


@contextmanager
def atomic_write(path: str | os.PathLike):
    """Yield a binary file beside `path`; on success it is renamed over `path`, on failure removed.

    Not mkstemp: its files are private (0600) and would stay so; this one follows the umask.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

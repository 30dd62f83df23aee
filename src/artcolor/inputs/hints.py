"""Colour hints: "this coat is red". Parsing, validation and rasterisation, in numpy and Pillow alone.

A hint is given in the input photo's pixels (after its EXIF orientation is applied, as the photo is
read): a point `(x, y, colour)` or `(x, y, colour, radius)`, or a scribble layer, an RGBA image of the
photo's size whose opaque pixels are hints. Only a colour's a*, b* count (its hue and chroma); the
photo keeps its own lightness. The network takes hints at its working size as (1, 3, h, w) float32:
a*, b* (CIE Lab units, about -110..110) and a mask (1 where a hint is, 0 elsewhere).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageColor

from .checks import real_number
from .images import DEFAULT_MAX_PIXELS, ImageError, open_image
from ..color.srgb import D65_WHITE, EPS_F, F_SLOPE, RGB_TO_XYZ, SRGB8_TO_LINEAR

DEFAULT_RADIUS = 0.01  # of the photo's short side: about 1.3 working pixels at 128, as training's 1-5 px patches
OPAQUE = 128  # scribble pixels with at least this alpha are hints
MAX_POINTS = 10_000  # more is a mistake (a scribble is the way to paint areas), and slow to draw


@dataclass
class HintSet:
    """Validated hints for one photo of `width` x `height` pixels.

    points (N, 5) float64: x, y (pixel indices, so a pixel's centre is at +0.5), a*, b*, radius, in
    paint order (a later point covers an earlier one); scribble: a*b* (H, W, 2) float32 and a mask
    (H, W) bool of its opaque pixels, or None.
    """

    width: int
    height: int
    points: np.ndarray
    scribble: tuple[np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.points) + (int(self.scribble[1].any()) if self.scribble is not None else 0)

    def raster(self, shape: tuple[int, int]) -> np.ndarray:
        """The hints at the working size `shape` = (h, w): (1, 3, h, w) float32, a*, b*, mask."""
        h, w = shape
        out = np.zeros((3, h, w), np.float32)
        if self.scribble is not None:
            _paint_scribble(out, *self.scribble)
        scale_x, scale_y = w / self.width, h / self.height  # working pixels per photo pixel
        for x, y, a, b, radius in self.points:
            _paint_disk(out, (x + 0.5) * scale_x, (y + 0.5) * scale_y, radius * math.sqrt(scale_x * scale_y), a, b)
        return out[None]


def rgb_to_ab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (..., 3) uint8 -> CIE a*, b* (..., 2) float32 (D65, as `color.rgb_to_lab`)."""
    xyz = SRGB8_TO_LINEAR[np.asarray(rgb, np.uint8)].astype(np.float64) @ np.array(RGB_TO_XYZ).T / np.array(D65_WHITE)
    f = np.where(xyz > EPS_F, np.cbrt(np.maximum(xyz, EPS_F)), F_SLOPE * xyz + 4 / 29)
    a = 500 * (f[..., 0] - f[..., 1])
    b = 200 * (f[..., 1] - f[..., 2])
    return np.stack([a, b], axis=-1).astype(np.float32)


def parse_colour(value) -> tuple[int, int, int]:
    """'#c0392b', 'c0392b', '#f00', a CSS name or an (r, g, b) of 0..255 integers -> (r, g, b); ValueError otherwise."""
    if isinstance(value, str):
        text = value.strip()
        if len(text) in (3, 6) and all(ch in "0123456789abcdefABCDEF" for ch in text):
            text = f"#{text}"
        try:
            return tuple(ImageColor.getrgb(text)[:3])
        except ValueError:
            raise ValueError(f"not a colour: {value!r} (use hex such as '#c0392b' or a CSS name)") from None
    if isinstance(value, (list, tuple)) and len(value) == 3 and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 0 <= v <= 255 for v in value):
        return tuple(int(v) for v in value)
    raise ValueError(f"not a colour: {value!r} (use hex such as '#c0392b', a CSS name or (r, g, b) in 0..255)")


def read_hints_file(path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS):
    """A hints file: `.json` (a list of [x, y, colour] or [x, y, colour, radius], or objects with
    x, y, colour and radius) -> that list; any other file -> the scribble image, opened."""
    path = Path(path)
    if path.suffix.lower() != ".json":
        return open_image(path, max_pixels)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:  # ValueError: not JSON, or not UTF-8 text
        raise ValueError(f"{path}: cannot read hints ({e})") from None
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of hints such as [[12, 40, \"#c0392b\"]], got {type(data).__name__}")
    return data


def resolve(hints, width: int, height: int, max_pixels: int | None = DEFAULT_MAX_PIXELS,
            labels: Sequence[str] | None = None) -> HintSet | None:
    """Hints as a user gives them -> a HintSet for a photo of `width` x `height`, or None for no hints.

    `hints`: None; a HintSet (checked against the size); a list of points (x, y, colour[, radius]),
    x, y in the photo's pixels, radius in pixels (default: DEFAULT_RADIUS of the short side); a
    scribble (RGBA PIL image or (H, W, 4) array of the photo's size, or a path to one); or a path
    to a `.json` list of points. A bad hint is a ValueError naming it (index and value, or
    `labels[index]`) and the problem.
    """
    if hints is None:
        return None
    if isinstance(hints, HintSet):
        if (hints.width, hints.height) != (width, height):
            raise ValueError(f"hints are for a {hints.width}x{hints.height} image, the photo is {width}x{height}")
        return hints
    if isinstance(hints, (str, os.PathLike)):
        hints = read_hints_file(hints, max_pixels)
    if isinstance(hints, (Image.Image, np.ndarray)):
        return HintSet(width, height, np.zeros((0, 5)), scribble(hints, width, height))
    if isinstance(hints, (list, tuple)):
        return HintSet(width, height, points(hints, width, height, labels))
    raise ValueError(f"hints must be a list of (x, y, colour[, radius]), an RGBA scribble image or a path, "
                     f"got {type(hints).__name__}")


def points(items: Sequence, width: float, height: float, labels: Sequence[str] | None = None) -> np.ndarray:
    """A list of point hints -> (N, 5) x, y, a*, b*, radius, each checked against the photo's size;
    an error names the hint as `labels[i]` if given, else as `hints[i] = value`."""
    if len(items) > MAX_POINTS:
        raise ValueError(f"{len(items)} hints: at most {MAX_POINTS} points (paint areas with a scribble)")
    default_radius = DEFAULT_RADIUS * min(width, height)
    rows = []
    for i, item in enumerate(items):
        name = labels[i] if labels is not None else f"hints[{i}] = {item!r}"
        x, y, colour, radius = _fields(name, item)
        x, y = _coordinate(name, "x", x, width), _coordinate(name, "y", y, height)
        radius = default_radius if radius is None else _radius(name, radius)
        try:
            rgb = parse_colour(colour)
        except ValueError as e:
            raise ValueError(f"{name}: {e}") from None
        rows.append((x, y, *rgb_to_ab(np.array(rgb, np.uint8)), radius))
    return np.array(rows, np.float64).reshape(-1, 5)


def scribble(image, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """An RGBA scribble layer of the photo's size -> its a*b* (H, W, 2) and opaque mask (H, W) bool."""
    if not isinstance(image, (Image.Image, np.ndarray)):
        raise ValueError(f"a scribble must be an RGBA image, an (H, W, 4) array or a path, got {type(image).__name__}")
    im = open_image(image, None)
    if im.size != (width, height):
        raise ValueError(f"the hints scribble is {im.width}x{im.height}, the photo is {width}x{height}: "
                         "draw it on a layer of the photo's size")
    if "A" not in im.getbands() and not (im.mode == "P" and "transparency" in im.info):
        raise ValueError(f"the hints scribble ({im.mode}) has no transparency, so every pixel would be a hint: "
                         "save it as RGBA with the unpainted pixels transparent")
    rgba = np.asarray(im.convert("RGBA"))
    mask = rgba[..., 3] >= OPAQUE
    ab = np.zeros((height, width, 2), np.float32)
    ab[mask] = rgb_to_ab(rgba[mask][:, :3])  # the opaque pixels only: a scribble is mostly empty
    return ab, mask


NO_HINTS = ("this model takes no colour hints (its config has hints: false); "
            "use a model trained with hints, such as the bundled one")


def check_accepted(takes_hints: bool, hints: Sequence) -> None:
    """ValueError (NO_HINTS) if a model without hint inputs is given hints (`hints`: one entry per image)."""
    if not takes_hints and any(h is not None for h in hints):
        raise ValueError(NO_HINTS)


def for_images(hints, n_images: int, single: bool) -> list:
    """`hints` as `Colorizer.colorize` takes it -> one entry per image (each None or hints of one photo).

    With one image, `hints` is that image's hints. With a list of images, it is a list with one
    entry per image (None, points or a scribble), or None for none.
    """
    if single or hints is None:
        return [hints] * n_images if hints is None else [hints]
    if not isinstance(hints, (list, tuple)) or len(hints) != n_images or any(_is_point(h) for h in hints):
        raise ValueError(f"with a list of {n_images} images, hints must be a list of {n_images} entries, one per "
                         "image (None, a list of (x, y, colour) or a scribble)")
    return list(hints)


def oriented_size(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) of an image file as `open_image` gives it (EXIF orientation applied), from its header."""
    try:
        with Image.open(path) as im:
            orientation = im.getexif().get(0x0112, 1)
            width, height = im.size
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"{path}: cannot read image ({e})") from None
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def marked(preview: Image.Image, items: Sequence, scale: float) -> Image.Image:
    """The preview with each point hint drawn as a dot in its colour (ringed, so it shows on any gray);
    `scale` is preview pixels per photo pixel."""
    from PIL import ImageDraw

    out = preview.convert("RGB")
    draw = ImageDraw.Draw(out)
    r = max(4.0, 0.012 * min(out.size))
    for x, y, colour, *_ in items:
        cx, cy = (x + 0.5) * scale, (y + 0.5) * scale
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=parse_colour(colour), outline="white", width=2)
    return out


# ---- helpers


def _is_point(entry) -> bool:
    """Does this look like one point hint (x, y, ...), not the hints of one image?"""
    return isinstance(entry, (list, tuple)) and len(entry) in (3, 4) and isinstance(entry[0], (int, float, np.number))


def _fields(name: str, item):
    if isinstance(item, dict):
        unknown = set(item) - {"x", "y", "colour", "color", "radius"}
        colour = item.get("colour", item.get("color"))
        if unknown or "x" not in item or "y" not in item or colour is None:
            raise ValueError(f"{name}: expected keys x, y, colour (or color) and optionally radius")
        return item["x"], item["y"], colour, item.get("radius")
    if isinstance(item, (list, tuple)) and len(item) in (3, 4):
        return (*item, None) if len(item) == 3 else tuple(item)
    raise ValueError(f"{name}: expected (x, y, colour) or (x, y, colour, radius)")


def _number(name: str, what: str, value) -> float:
    return real_number(f"{name}: {what}", value)


def _coordinate(name: str, what: str, value, extent: int) -> float:
    v = _number(name, what, value)
    if not math.isfinite(v):
        raise ValueError(f"{name}: {what} must be a finite number, got {v!r}")
    if not 0 <= v < extent:
        raise ValueError(f"{name}: {what} = {v!r} is outside the image (0 <= {what} < {extent})")
    return v


def _radius(name: str, value) -> float:
    v = _number(name, "radius", value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name}: radius must be a finite number > 0 (pixels), got {v!r}")
    return v


def _paint_disk(out: np.ndarray, cx: float, cy: float, r: float, a: float, b: float) -> None:
    """Set a*, b* and the mask in the working pixels whose centres lie within r of (cx, cy); the pixel
    holding the centre always, so a hint smaller than a working pixel still counts."""
    _, h, w = out.shape
    x0, x1 = max(int(cx - r), 0), min(int(cx + r) + 1, w)
    y0, y1 = max(int(cy - r), 0), min(int(cy + r) + 1, h)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    inside = (xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2 <= r * r
    inside[min(int(cy), h - 1) - y0, min(int(cx), w - 1) - x0] = True
    for c, v in enumerate((a, b, 1.0)):
        out[c, y0:y1, x0:x1][inside] = v


def _paint_scribble(out: np.ndarray, ab: np.ndarray, mask: np.ndarray) -> None:
    """Area-average a scribble to the working size: a*b* is the mean over its opaque pixels; the mask
    is set where coverage is at least half its local (3x3) maximum and half a pixel at most, so a
    stroke thinner than a working pixel is kept and the soft rim of a thick one is not."""
    _, h, w = out.shape
    box = lambda plane: np.asarray(Image.fromarray(plane.astype(np.float32), "F").resize((w, h), Image.BOX))  # noqa: E731
    cover = box(mask)
    local = np.pad(cover, 1)
    local = np.max([local[i:i + h, j:j + w] for i in range(3) for j in range(3)], axis=0)
    hit = (cover > 1e-6) & (cover >= np.minimum(0.5, 0.5 * local))
    for c in range(2):
        out[c][hit] = box(ab[..., c])[hit] / cover[hit]
    out[2][hit] = 1.0

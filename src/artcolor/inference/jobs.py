"""One image's work, the same under every engine (`artcolor colorize`'s threads, Ray's workers):
the name of its output, and its colourisation with the run's style code and hints."""

from __future__ import annotations

from pathlib import PurePath
from typing import TYPE_CHECKING

from ..inputs.images import ImageLike

if TYPE_CHECKING:
    from PIL import Image

    from . import Colorizer, Style

# formats Pillow writes as well as reads; inputs in any other (GIF, HEIC, ...) come out as PNG
OUTPUT_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"}


def output_name(rel: PurePath, video: bool = False) -> PurePath:
    """An input's path relative to its input folder -> its output's, relative to the output folder:
    the same name, as PNG where the input's format is one images are not written in."""
    if video or rel.suffix.lower() in OUTPUT_SUFFIXES:
        return rel
    return rel.with_suffix(".png")


def colorize_image(colorizer: "Colorizer", image: ImageLike, style: "Style", hints=None,
                   hint_labels=None) -> "Image.Image":
    """One input (a path, or a PIL image already decoded) -> its colour image, full resolution.

    `style`: the run's encoded style (its code and, for a matching model, its bank) from
    `Colorizer.encode_style`; `hints`: the run's hints
    as `hints.resolve` takes them (the same for every image), checked against this image's size, a
    ValueError naming the hint (by `hint_labels`) if one falls outside it.
    """
    return colorizer.colorize(image, style=style, hints=hints, hint_labels=hint_labels)

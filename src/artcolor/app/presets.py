"""The app's gallery of references: named palettes made in code, then the images of a styles folder.

The client only ever sends an index into this list, never a path.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

from PIL import Image

from ..inputs.images import ImageError, list_images, open_image, rgb_array
from ..inputs.images import palette_image

PALETTES: dict[str, tuple[str, ...]] = {
    "Terracotta": ("#264653", "#2a9d8f", "#e9c46a", "#f4a261", "#e76f51"),
    "Ocean": ("#03045e", "#0077b6", "#00b4d8", "#90e0ef", "#caf0f8"),
    "Sunset": ("#355c7d", "#6c5b7b", "#c06c84", "#f67280", "#f8b195"),
    "Forest": ("#1b4332", "#2d6a4f", "#52b788", "#a68a64", "#582f0e"),
    "Autumn": ("#5f0f40", "#9a031e", "#fb8b24", "#e36414", "#0f4c5c"),
    "Starry night": ("#0b1e3f", "#1f4e79", "#3c6e9f", "#e8c547", "#f2e394"),
    "Water lilies": ("#4f6d5a", "#7b9e89", "#a7c4a0", "#c39bd3", "#e2c2c6"),
    "Sepia": ("#3e2723", "#6d4c41", "#a1887f", "#d7ccc8", "#f5f0e1"),
}
THUMBNAIL = 160  # gallery thumbnails' long side, in pixels
MAX_STYLE_SIDE = 1024  # styles are kept at most this large: the encoder reads them at 128 pixels


@dataclass(frozen=True)
class Reference:
    """A gallery entry: its caption, the image given to the style encoder, and its thumbnail."""

    name: str
    image: Image.Image
    thumbnail: Image.Image


def _reference(name: str, image: Image.Image) -> Reference:
    thumbnail = image.copy()
    thumbnail.thumbnail((THUMBNAIL, THUMBNAIL), Image.BILINEAR)
    return Reference(name, image, thumbnail)


def palette_references() -> list[Reference]:
    """The palettes as stripes; their thumbnails are square so that no stripe is cropped away."""
    references = []
    for name, colors in PALETTES.items():
        image = palette_image(list(colors))
        references.append(Reference(name, image, image.resize((THUMBNAIL, THUMBNAIL), Image.NEAREST)))
    return references


def folder_references(folder: str | os.PathLike) -> list[Reference]:
    """Every image under `folder` (recursive); unreadable files are skipped with a warning."""
    references = []
    for path, rel in list_images([folder]):
        try:
            image = Image.fromarray(rgb_array(open_image(path)))
        except ImageError as e:
            warnings.warn(f"styles: skipped {e}", stacklevel=2)
            continue
        image.thumbnail((MAX_STYLE_SIDE, MAX_STYLE_SIDE), Image.BILINEAR)
        references.append(_reference(str(rel.with_suffix("")), image))
    return references


def gallery(styles: str | os.PathLike | None = None) -> list[Reference]:
    """The palettes, then the images of the styles folder if one is given."""
    return palette_references() + (folder_references(styles) if styles is not None else [])

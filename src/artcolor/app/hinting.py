"""The app's colour hints: a click on the gray preview drops a hint in the picker's colour.

The page keeps, per session, a `View` of the uploaded photo (its size and its gray preview) and the
hints as a list of `[x, y, "#rrggbb"]` in the photo's own pixels, which is what
`Colorizer.colorize(..., hints=...)` takes. The preview is redrawn with a dot per hint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image

from ..inputs.hints import marked, parse_colour

HELP = ("Click the gray photo to drop a hint in the colour below; the model makes that spot "
        "(and what belongs with it) that colour.")


@dataclass
class View:
    """The uploaded photo as the page shows it: its size in pixels and its gray preview (smaller)."""

    width: int
    height: int
    preview: Image.Image

    @property
    def scale(self) -> float:
        """Preview pixels per photo pixel."""
        return self.preview.width / self.width


def add(view: View | None, hints: list | None, colour: str | None, index) -> list:
    """A click at `index` = [x, y] (preview pixels) -> the hints with one more, in photo pixels.

    Raises ValueError (shown to the user) without a photo, or for a colour that cannot be read."""
    if view is None:
        raise ValueError("Upload a photo first, then click on it to add a colour hint")
    try:
        rgb = parse_colour(colour or "")
    except ValueError as e:
        raise ValueError(f"Hint colour: {e}") from None
    px, py = (float(v) for v in index[:2])
    # the photo pixel under the clicked preview pixel's centre, kept inside the photo
    x = min(max(math.floor((px + 0.5) / view.scale), 0), view.width - 1)
    y = min(max(math.floor((py + 0.5) / view.scale), 0), view.height - 1)
    return [*(hints or []), [x, y, "#{:02x}{:02x}{:02x}".format(*rgb)]]


def listing(hints: list | None) -> str:
    """The hints as lines of text for the page: '1. x 120, y 45: #c0392b'."""
    if not hints:
        return "No hints: the model chooses every colour."
    return "\n".join(f"{i}. x {x}, y {y}: {colour}" for i, (x, y, colour, *_) in enumerate(hints, 1))


def shown(view: View | None, hints: list | None) -> Image.Image | None:
    """The gray preview with a dot per hint."""
    if view is None:
        return None
    return marked(view.preview, hints or [], view.scale) if hints else view.preview

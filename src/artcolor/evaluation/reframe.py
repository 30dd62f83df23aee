"""The same scene taken otherwise: a photo mirrored and cropped, as a reference that shows what the
photo shows but not pixel for pixel. The evaluation's reframed mode draws where the crop sits; the
README's gallery and `examples/` take a corner (`scripts/gallery.py`, `scripts/make_examples.py`)."""

from __future__ import annotations

import numpy as np

REFRAMED_AREA = 0.6  # share of the photo a reframed reference keeps


def reframe(rgb: np.ndarray, area: float = REFRAMED_AREA,
            place: tuple[float, float] | np.random.Generator = (0.0, 0.0)) -> np.ndarray:
    """(H, W, 3) -> a crop of `area` of it (both sides scaled by sqrt(area), rounded), mirrored left
    to right, contiguous.

    `place`: where the crop sits, as fractions (y, x) of the room left around it ((0, 0): the top
    left corner, (0, 1): the top right), or a Generator that draws its top left pixel (y, then x).
    """
    if not 0 < area <= 1:
        raise ValueError(f"area must be in (0, 1], got {area}")
    h, w = rgb.shape[:2]
    ch, cw = max(1, round(h * area ** 0.5)), max(1, round(w * area ** 0.5))
    if isinstance(place, np.random.Generator):
        y, x = int(place.integers(0, h - ch + 1)), int(place.integers(0, w - cw + 1))
    else:
        y, x = round(place[0] * (h - ch)), round(place[1] * (w - cw))
    return np.ascontiguousarray(rgb[y:y + ch, x:x + cw][:, ::-1])

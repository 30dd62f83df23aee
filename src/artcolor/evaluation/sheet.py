"""A contact sheet: what the paintings mode's figures measure, to be looked at.

One row per (photo, painting) pair: the gray input, the reference, each method's output, the ground
truth. `artcolor evaluate --sheet FILE` writes one for the evaluated model beside its baselines.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from .harness import Method

TILE = 176  # each picture fits a TILE x TILE cell
LABEL = 18  # height of the header row


def _cell(rgb: np.ndarray) -> Image.Image:
    """An sRGB (H, W, 3) uint8 image fitted into a white TILE x TILE cell."""
    im = Image.fromarray(rgb)
    im.thumbnail((TILE - 4, TILE - 4), Image.LANCZOS)
    cell = Image.new("RGB", (TILE, TILE), "white")
    cell.paste(im, ((TILE - im.width) // 2, (TILE - im.height) // 2))
    return cell


def pairs(n_photos: int, n_paintings: int, rows: int) -> list[tuple[int, int]]:
    """The (photo, painting) indices of a sheet's rows: photo i with painting i mod K, `rows` of them
    (every painting appears before one repeats)."""
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    return [(i % n_photos, i % n_paintings) for i in range(min(rows, max(n_photos, n_paintings)))]


def contact_sheet(methods: list[Method], photos: list[tuple[str, np.ndarray]], paintings: list[tuple[str, np.ndarray]],
                  rows: int = 8) -> Image.Image:
    """Rows of gray input, reference, each method's output and the ground truth (photos and paintings
    as the harness loads them: (name, sRGB (H, W, 3) uint8)); the methods' names head the columns."""
    if not methods or not photos or not paintings:
        raise ValueError("a contact sheet needs at least one method, one photo and one painting")
    headers = ["input", "reference", *(m.name for m in methods), "ground truth"]
    chosen = pairs(len(photos), len(paintings), rows)
    sheet = Image.new("RGB", (TILE * len(headers), LABEL + TILE * len(chosen)), "white")
    draw = ImageDraw.Draw(sheet)
    for column, header in enumerate(headers):
        draw.text((column * TILE + 4, 3), header, fill="black")
    codes: dict[tuple[int, int], object] = {}
    for row, (i, j) in enumerate(chosen):
        gt, painting = photos[i][1], paintings[j][1]
        gray = np.repeat(np.asarray(Image.fromarray(gt).convert("L"))[..., None], 3, axis=2)
        outputs = []
        for m, method in enumerate(methods):
            if (m, j) not in codes:  # each method encodes each painting once
                codes[m, j] = method.encode(painting)
            outputs.append(method.colorize(gt, codes[m, j]))
        for column, rgb in enumerate([gray, painting, *outputs, gt]):
            sheet.paste(_cell(rgb), (column * TILE, LABEL + row * TILE))
    return sheet

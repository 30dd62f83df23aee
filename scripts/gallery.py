"""The README's gallery: free photos (scikit-image, matplotlib) coloured by several references.

Each output is shown beside its reference's palette (k-means colours), never the reference itself,
and the caption names the painting, so no image of the training or validation data enters the figure.
The second column's reference is the photo's own colour version mirrored and cropped to 60% of its
area (a photo of the same scene taken otherwise: what matching the reference is for):

    python scripts/gallery.py --paintings ../shared/data/val/paintings [--weights DIR] [--out docs/gallery.jpg]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib.cbook as cbook
import numpy as np
import skimage.data
from PIL import Image, ImageDraw

from artcolor import Colorizer, palette_image
from artcolor.evaluation.reframe import reframe
from artcolor.inputs.images import gray_image, luminance_plane

# file-name stem fragment -> caption
PAINTINGS = {
    "jcjohnson__starry_night_google": "Van Gogh, The Starry Night",
    "pkuanjie__wave_kanagawa": "Hokusai, The Great Wave",
    "cysmith__the_scream": "Munch, The Scream",
    "naoto0804__mondrian": "Mondrian, Composition",
    "lengstrom__rain_princess": "Afremov, Rain Princess",
}
PALETTE = ("palette #264653 #2a9d8f #e9c46a #f4a261 #e76f51", ["#264653", "#2a9d8f", "#e9c46a", "#f4a261", "#e76f51"])
TILE, STRIP, CAPTION = 192, 14, 30
SAME_SCENE = "the scene in colour, reframed"


def free_photos() -> dict[str, np.ndarray]:
    """The free photos in colour, (H, W, 3) uint8."""
    photos = {"astronaut": skimage.data.astronaut(), "coffee": skimage.data.coffee(), "chelsea": skimage.data.chelsea()}
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        photos["grace_hopper"] = np.asarray(Image.open(f).convert("RGB"))
    return photos


def same_scene(rgb: np.ndarray) -> Image.Image:
    """The photo taken otherwise: mirrored, and cropped to 60% of its area (its top left; sides x 0.775)."""
    return Image.fromarray(reframe(rgb, area=0.775 ** 2, place=(0, 0)))


def dominant_colours(im: Image.Image, k: int = 6, iters: int = 12) -> np.ndarray:
    """k-means in RGB on a thumbnail: (k, 3) uint8, most frequent first."""
    x = np.asarray(im.convert("RGB").resize((64, 64)), dtype=np.float32).reshape(-1, 3)
    centres = x[np.random.default_rng(0).choice(len(x), k, replace=False)]
    for _ in range(iters):
        labels = ((x[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
        centres = np.stack([x[labels == i].mean(0) if (labels == i).any() else centres[i] for i in range(k)])
    counts = np.bincount(labels, minlength=k)
    return centres[np.argsort(-counts)].round().astype(np.uint8)


def tile(im: Image.Image) -> Image.Image:
    s = TILE / min(im.size)
    im = im.convert("RGB").resize((round(im.width * s), round(im.height * s)), Image.LANCZOS)
    x, y = (im.width - TILE) // 2, (im.height - TILE) // 2
    return im.crop((x, y, x + TILE, y + TILE))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--paintings", type=Path, required=True, help="folder holding the paintings named in PAINTINGS")
    ap.add_argument("--weights", default=None, help="model folder (default: the bundled model)")
    ap.add_argument("--out", type=Path, default=Path("docs/gallery.jpg"))
    args = ap.parse_args()

    colorizer = Colorizer.load(args.weights)
    refs = [("automatic (no reference)", None), (SAME_SCENE, None)]
    for stem, caption in PAINTINGS.items():
        match = sorted(args.paintings.glob(f"*{stem}.*"))
        if not match:
            raise SystemExit(f"{args.paintings}: no painting matching {stem!r}")
        refs.append((caption, Image.open(match[0]).convert("RGB")))
    refs.append((PALETTE[0], palette_image(PALETTE[1])))

    colour_photos = free_photos()
    photos = {k: gray_image(luminance_plane(Image.fromarray(v))) for k, v in colour_photos.items()}
    width, height = TILE * (len(refs) + 1), (TILE + STRIP + CAPTION) * len(photos)
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    for r, (name, gray) in enumerate(photos.items()):
        y0 = r * (TILE + STRIP + CAPTION)
        canvas.paste(tile(gray), (0, y0))
        draw.text((4, y0 + TILE + 3), f"input: {name} (gray)", fill="black")
        for c, (caption, ref) in enumerate(refs, start=1):
            ref = same_scene(colour_photos[name]) if caption == SAME_SCENE else ref
            out = colorizer.colorize(gray, style=ref)
            canvas.paste(tile(out), (c * TILE, y0))
            if ref is not None:
                colours = dominant_colours(ref)
                w = TILE // len(colours)
                for i, colour in enumerate(colours):
                    draw.rectangle([c * TILE + i * w, y0 + TILE, c * TILE + (i + 1) * w, y0 + TILE + STRIP],
                                   fill=tuple(int(v) for v in colour))
            draw.text((c * TILE + 4, y0 + TILE + STRIP + 3), caption[:34], fill="black")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(args.out, quality=88)
    print(f"wrote {args.out} ({width}x{height})")


if __name__ == "__main__":
    main()

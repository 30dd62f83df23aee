"""Regenerate examples/: gray versions of PyPI packages' free photos, each one's colour original taken
otherwise (mirrored and cropped to 60% of its area: a reference photo of the same scene), and a
reference made in code."""

from pathlib import Path

import matplotlib.cbook as cbook
import numpy as np
import skimage.data
from PIL import Image

from artcolor.evaluation.reframe import reframe
from artcolor.inputs.images import gray_image, luminance_plane

ROOT = Path(__file__).resolve().parents[1] / "examples"


def main():
    (ROOT / "photos").mkdir(parents=True, exist_ok=True)
    (ROOT / "styles").mkdir(parents=True, exist_ok=True)
    (ROOT / "references").mkdir(parents=True, exist_ok=True)
    photos = {"astronaut": skimage.data.astronaut(), "coffee": skimage.data.coffee(), "chelsea": skimage.data.chelsea()}
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        photos["grace_hopper"] = np.asarray(Image.open(f).convert("RGB"))
    for name, rgb in photos.items():
        gray_image(luminance_plane(Image.fromarray(rgb))).save(ROOT / "photos" / f"{name}.jpg", quality=90)
        reframed = reframe(rgb, area=0.775 ** 2, place=(0, 1))  # the top right; sides x 0.775
        Image.fromarray(reframed).save(ROOT / "references" / f"{name}.jpg", quality=90)
    # a sunset: indigo sky to orange to pale yellow, top to bottom
    h, w = 192, 256
    y = np.linspace(0, 1, h)[:, None, None]
    top, mid, bottom = np.array([40, 30, 90]), np.array([230, 110, 60]), np.array([250, 210, 120])
    grad = np.where(y < 0.5, top + (mid - top) * (y / 0.5), mid + (bottom - mid) * ((y - 0.5) / 0.5))
    Image.fromarray(np.broadcast_to(grad, (h, w, 3)).astype(np.uint8)).save(ROOT / "styles" / "sunset.png")


if __name__ == "__main__":
    main()

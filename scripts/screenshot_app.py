"""Regenerate the README's screenshot of the web app (docs/app.png) in headless Chromium.

    python scripts/screenshot_app.py --weights runs/default/best   # the trained model
    python scripts/screenshot_app.py                               # bundled model, else a placeholder

Without --weights and without a bundled model it uses the tiny preset with noisy weights, whose
colours mean nothing: rerun with the trained model. Needs Debian's chromium and `pip install playwright`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import tempfile
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from artcolor import Colorizer  # noqa: E402
from artcolor.app import PALETTES, build_app, launch  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]


def load_model(weights: str | None) -> Colorizer:
    try:
        return Colorizer.load(weights)
    except FileNotFoundError:
        if weights is not None:
            raise
    print("no bundled model: using a tiny model with noisy weights (a placeholder; pass --weights)")
    colorizer = Colorizer.from_preset("tiny", seed=0)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in colorizer.net.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.15)
    return colorizer


def sample_photo(folder: Path) -> Path:
    """scikit-image's astronaut if installed, else a generated gradient with shapes."""
    path = folder / "astronaut.png"
    try:
        from skimage import data

        rgb = data.astronaut()
    except ImportError:
        y, x = np.mgrid[0:384, 0:512]
        rgb = np.stack([x / 2, y / 1.5, (x + y) / 3.5], axis=-1).astype(np.uint8)
    Image.fromarray(rgb).save(path)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def screenshot(url: str, photo: Path, palette: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.locator("#photo input[type=file]").set_input_files(str(photo))
        page.locator("#gray img").wait_for(timeout=30_000)
        page.get_by_role("tab", name="Gallery").click()
        page.locator("#gallery .thumbnail-item").nth(list(PALETTES).index(palette)).click()
        page.locator("#run").click()
        page.locator("#caption", has_text=f"gallery: {palette}").wait_for(timeout=120_000)
        page.screenshot(path=str(out), full_page=True)
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=None, help="model folder (default: the bundled model)")
    parser.add_argument("--photo", type=Path, default=None, help="photo to colourise (default: astronaut)")
    parser.add_argument("--palette", default="Terracotta", choices=list(PALETTES), help="gallery palette")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "app.png")
    args = parser.parse_args()
    if shutil.which("chromium") is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")

    with tempfile.TemporaryDirectory() as tmp:
        photo = args.photo or sample_photo(Path(tmp))
        demo = build_app(load_model(args.weights), results_dir=tmp)
        url = launch(demo, port=free_port(), block=False, quiet=True)
        try:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            screenshot(url, photo, args.palette, args.out)
        finally:
            demo.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

"""The bundled model's outputs on made inputs, in every mode: pinned so a refactor can show it changed
nothing, and rewritten (`--write`) only when the bundled model itself changes.

    python scripts/bundled_outputs.py                       # digests of today's outputs, and how they
                                                            # compare with tests/data/bundled_outputs.npz
    python scripts/bundled_outputs.py --write               # pin today's outputs (a new bundled model)

`tests/project/test_bundled_outputs.py` recomputes them and compares.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

PINNED = Path(__file__).resolve().parents[1] / "tests" / "data" / "bundled_outputs.npz"


def inputs() -> dict:
    """A photo (the bundled astronaut, 60 x 84), a palette, a made painting and three hints."""
    from artcolor import palette_image

    root = Path(__file__).resolve().parents[1]
    photo = Image.open(root / "examples" / "photos" / "astronaut.jpg").convert("L").resize((84, 60), Image.BICUBIC)
    y, x = np.mgrid[0:48, 0:64] / 64.0
    painting = (np.stack([0.9 - 0.6 * y, 0.3 + 0.5 * x, 0.6 + 0.3 * np.sin(6 * x)], -1).clip(0, 1) * 255).astype(np.uint8)
    return {"photo": photo, "palette": palette_image(["#1b3a6b", "#e0a040", "#7fb24a", "#c0392b", "#f4e9d8"]),
            "painting": Image.fromarray(painting), "hints": [(20, 15, "#d03020"), (60, 40, "#2050c0"), (40, 50, "#30a040")]}


def outputs(onnx: bool = True) -> dict[str, np.ndarray]:
    """Mode -> output (H, W, 3) uint8 of the bundled model (and of its ONNX export when `onnx`)."""
    import torch

    from artcolor import Colorizer

    # one thread, so the order of float sums is one: with two, a few pixels round one level apart
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _outputs(Colorizer.load(), inputs(), onnx)
    finally:
        torch.set_num_threads(threads)


def _outputs(c, x: dict, onnx: bool) -> dict[str, np.ndarray]:
    run = lambda m, **kw: np.asarray(m.colorize(x["photo"], **kw))  # noqa: E731
    out = {"automatic": run(c), "palette": run(c, style=x["palette"]), "painting": run(c, style=x["painting"]),
           "hints": run(c, hints=x["hints"]), "painting_hints": run(c, style=x["painting"], hints=x["hints"])}
    if onnx:
        from artcolor.inference.export import export_model
        from artcolor.onnx import OnnxColorizer

        with tempfile.TemporaryDirectory() as tmp:
            o = OnnxColorizer(export_model(c.net, Path(tmp) / "onnx"), threads=1)
            out |= {"onnx_automatic": run(o), "onnx_painting": run(o, style=x["painting"]),
                    "onnx_hints": run(o, hints=x["hints"])}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"pin today's outputs in {PINNED}")
    args = parser.parse_args()
    out = outputs()
    pinned = dict(np.load(PINNED)) if PINNED.is_file() else {}
    for mode, a in out.items():
        b = pinned.get(mode)
        diff = "not pinned" if b is None else f"max |diff| {np.abs(a.astype(int) - b).max()}"
        print(f"{mode:16s} {hashlib.sha256(a.tobytes()).hexdigest()[:16]}  {diff}")
    if args.write:
        np.savez_compressed(PINNED, **out)
        print(f"wrote {PINNED}")


if __name__ == "__main__":
    main()

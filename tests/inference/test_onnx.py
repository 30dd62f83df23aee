"""OnnxColorizer: an export folder colourises as PyTorch does (PSNR >= 45 dB), also in a process without torch."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from conftest import perturb, perturbed_colorizer  # noqa: E402

from artcolor import Colorizer, palette_image  # noqa: E402
from artcolor.config import preset  # noqa: E402
from artcolor.model import ColorNet  # noqa: E402
from artcolor.inference.export import export_model  # noqa: E402
from artcolor.inference.export_checks import PSNR_FLOOR  # noqa: E402
from artcolor.onnx import OnnxColorizer  # noqa: E402

# run before anything else in the child: any import of these fails, as where PyTorch is not installed
NO_TORCH = """
import importlib.abc, sys
class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "kornia", "safetensors"):
            raise ImportError(f"No module named {name!r} (blocked: this process has no PyTorch)")
sys.meta_path.insert(0, NoTorch())
"""

CHILD = """
import json, sys
from pathlib import Path
import numpy as np
from artcolor import palette_image
from artcolor.onnx import OnnxColorizer

folder, photo, reference, out = map(Path, sys.argv[1:5])
colorizer = OnnxColorizer(folder)
palette = palette_image(["#e76f51", "#2a9d8f", "#e9c46a"])
colorizer.colorize(str(photo)).save(out / "auto.png")
colorizer.colorize(str(photo), style=palette, strength=1.5).save(out / "palette.png")
colorizer.colorize(str(photo), style=[str(reference), palette], style_weights=[0.7, 0.3]).save(out / "blend.png")
try:
    from artcolor.inference import TorchBackend
    blocked = False
except ImportError:
    blocked = True
print(json.dumps({"torch_blocked": blocked, "loaded": sorted(m for m in sys.modules if m.split(".")[0] in
                                                             ("torch", "kornia", "safetensors"))}))
"""


def psnr(a, b) -> float:
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255 ** 2 / mse))


@pytest.fixture(scope="module", params=["lab", "rgb"])
def model(request, tmp_path_factory):
    """(PyTorch Colorizer, its ONNX export folder): a perturbed tiny model, so style and strength matter."""
    colorizer = perturbed_colorizer("tiny")
    if request.param == "rgb":
        config = replace(preset("tiny"), color_space="rgb")
        colorizer = Colorizer(perturb(ColorNet(config)))
    return colorizer, export_model(colorizer.net, tmp_path_factory.mktemp("onnx") / request.param)


@pytest.fixture(scope="module")
def odd_photo(astronaut) -> Image.Image:
    """A gray photo of 333x517: no side a multiple of the network's."""
    return astronaut.resize((333, 517), Image.BICUBIC).convert("L")


def test_colorize_matches_pytorch_at_full_resolution(model, odd_photo, coffee, palettes):
    torch_side, folder = model
    onnx_side = OnnxColorizer(folder)
    for style, kwargs in [(None, {}), (palettes[0], {}), (palettes[1], {"strength": 2.0}),
                          ([coffee, palettes[0]], {"style_weights": [0.7, 0.3]})]:
        a, b = torch_side.colorize(odd_photo, style=style, **kwargs), onnx_side.colorize(odd_photo, style=style, **kwargs)
        assert a.size == b.size == odd_photo.size
        assert psnr(a, b) >= PSNR_FLOOR, (style, kwargs)
    rgb = np.asarray(b).astype(int)
    assert np.abs(rgb[..., 0] - rgb[..., 2]).max() > 10, "a gray output would make the comparison vacuous"
    by_style = [np.asarray(onnx_side.colorize(odd_photo, style=p)).astype(int) for p in palettes]
    assert np.abs(by_style[0] - by_style[1]).mean() > 2, "the reference steers the output"


def test_style_codes_match_pytorch(model, coffee, palettes):
    torch_side, folder = model
    onnx_side = OnnxColorizer(folder)
    assert np.array_equal(onnx_side.encode_style(None).code, torch_side.net.null_style.detach().numpy())
    for style in (coffee, palettes[0], [coffee, palettes[1]]):
        expected = torch_side.encode_style(style, strength=1.5).code
        got = onnx_side.encode_style(style, strength=1.5).code
        assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()


def test_lists_alpha_and_sizes(model, palettes):
    _, folder = model
    onnx_side = OnnxColorizer(folder)
    rgba = Image.new("RGBA", (41, 23), (90, 120, 200, 128))
    outs = onnx_side.colorize([rgba, np.full((7, 300), 0.5)], style=palettes[0])
    assert [o.size for o in outs] == [(41, 23), (300, 7)]
    assert outs[0].mode == "RGBA" and np.asarray(outs[0])[..., 3].max() == 128
    small = OnnxColorizer(folder, size=16).colorize(rgba)
    assert small.size == (41, 23)


def test_bad_folders_are_named(model, model_dir, tmp_path):
    with pytest.raises(ValueError, match="not an ONNX export's config"):
        OnnxColorizer(model_dir)  # a PyTorch model folder
    with pytest.raises(FileNotFoundError, match="not an ONNX export folder"):
        OnnxColorizer(tmp_path / "nowhere")
    _, folder = model
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "config.json").write_text((folder / "config.json").read_text())
    with pytest.raises(FileNotFoundError, match="missing color_net.onnx"):
        OnnxColorizer(partial)
    with pytest.raises(ValueError, match="1 styles but 2 style_weights"):
        OnnxColorizer(folder).encode_style([palette_image(["red"])], style_weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="strength must be a finite number"):
        OnnxColorizer(folder).colorize(palette_image(["red"]), strength=float("inf"))
    with pytest.raises(ValueError, match="size must be an integer"):
        OnnxColorizer(folder, size=8)


def test_runs_where_torch_is_not_installed(model, odd_photo, coffee, tmp_path):
    """numpy, Pillow and onnxruntime only: a child process in which importing torch fails."""
    torch_side, folder = model
    odd_photo.save(tmp_path / "photo.png")
    coffee.save(tmp_path / "reference.png")
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    proc = subprocess.run([sys.executable, "-c", NO_TORCH + CHILD, str(folder), str(tmp_path / "photo.png"),
                           str(tmp_path / "reference.png"), str(out)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {"torch_blocked": True, "loaded": []}
    palette = palette_image(["#e76f51", "#2a9d8f", "#e9c46a"])
    expected = {
        "auto": torch_side.colorize(odd_photo),
        "palette": torch_side.colorize(odd_photo, style=palette, strength=1.5),
        "blend": torch_side.colorize(odd_photo, style=[coffee, palette], style_weights=[0.7, 0.3]),
    }
    for name, image in expected.items():
        with Image.open(out / f"{name}.png") as got:
            assert got.size == odd_photo.size
            assert psnr(got, image) >= PSNR_FLOOR, name


def test_readme_onnx_example_runs(model, gray_photo, coffee, tmp_path, monkeypatch):
    """The documentation's OnnxColorizer example (docs/onnx-hub.md), with its placeholder folder filled in."""
    _, folder = model
    readme = (Path(__file__).parents[2] / "docs" / "onnx-hub.md").read_text()
    code = next(block for block in re.findall(r"```python\n(.*?)```", readme, re.S) if "OnnxColorizer(" in block)
    gray_photo.save(tmp_path / "photo.jpg")
    coffee.save(tmp_path / "painting.jpg")
    monkeypatch.chdir(tmp_path)
    exec(compile(code.replace('"OUT_DIR"', repr(str(folder))), "docs/onnx-hub.md", "exec"), {})
    with Image.open(tmp_path / "photo_colour.png") as im:
        assert im.size == gray_photo.size

"""Shared fixtures: small models (untrained and perturbed), a saved model folder, sample photos.

The photos are scikit-image's bundled ones, shrunk so the whole suite stays fast on a 2-core CPU.
"""

from __future__ import annotations

import os

# Before torch loads OpenMP: on a machine whose cores are busy (a training run beside the tests),
# spinning OpenMP threads made this suite 4x slower (18 s -> 79 s on 2 cores): let idle threads sleep.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import math  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from artcolor import Colorizer, palette_image  # noqa: E402
from artcolor.inputs.hints import rgb_to_ab as _rgb_to_ab  # noqa: E402
from artcolor.model import ColorNet  # noqa: E402

skimage_data = pytest.importorskip("skimage.data")


def perturb(net: ColorNet, scale: float = 0.1, seed: int = 0) -> ColorNet:
    """Add Gaussian noise to every parameter, so the zero-initialised AdaIN projections and the null
    style are live and the style actually steers the output (an untrained model ignores it)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale)
    return net


def perturbed_colorizer(name: str = "tiny", seed: int = 0, **kwargs) -> Colorizer:
    colorizer = Colorizer.from_preset(name, seed=seed, **kwargs)
    perturb(colorizer.net, seed=seed)
    return colorizer


def _shrink(rgb: np.ndarray, short_side: int) -> Image.Image:
    im = Image.fromarray(rgb)
    s = short_side / min(im.size)
    return im.resize((round(im.width * s), round(im.height * s)), Image.BICUBIC)


def _run_cli(*args) -> tuple[int, str, str]:
    """`artcolor ARGS` in-process: (exit code, stdout, stderr); unexpected exceptions propagate."""
    from click.testing import CliRunner

    from artcolor.cli import main

    try:
        runner = CliRunner(mix_stderr=False)  # click < 8.2
    except TypeError:
        runner = CliRunner()
    result = runner.invoke(main, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def run_cli():
    return _run_cli


@pytest.fixture(name="perturb")
def perturb_fixture():
    """`perturb(net, scale=0.1, seed=0)`: noise on every parameter of a network, in place."""
    return perturb


@pytest.fixture
def tiny() -> Colorizer:
    """The tiny preset, untrained: its AdaIN layers are the identity, so the style has no effect."""
    return Colorizer.from_preset("tiny")


@pytest.fixture
def tiny_perturbed() -> Colorizer:
    """The tiny preset with noise on every parameter: style, strength and null style all matter."""
    return perturbed_colorizer("tiny")


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    """A saved model folder (config.json + model.safetensors) of a perturbed tiny model, for --weights."""
    folder = tmp_path_factory.mktemp("weights") / "tiny"
    perturbed_colorizer("tiny").save(folder)
    return folder


@pytest.fixture(scope="session")
def astronaut() -> Image.Image:
    """A colour photo, 96x96."""
    return _shrink(skimage_data.astronaut(), 96)


@pytest.fixture(scope="session")
def coffee() -> Image.Image:
    """A colour photo, 96x64."""
    return _shrink(skimage_data.coffee(), 64)


@pytest.fixture(scope="session")
def chelsea() -> Image.Image:
    """A colour photo (a cat), 95x63."""
    return _shrink(skimage_data.chelsea(), 63)


@pytest.fixture(scope="session")
def gray_photo(astronaut) -> Image.Image:
    """An 8-bit gray photo ('L' mode), 96x96."""
    return astronaut.convert("L")


@pytest.fixture(scope="session")
def palettes() -> tuple[Image.Image, Image.Image]:
    """Two references far apart: warm oranges and cold blues."""
    return palette_image(["#e76f51", "#f4a261", "#e9c46a"]), palette_image(["#023e8a", "#0096c7", "#90e0ef"])


class HintFollower(ColorNet):
    """A ColorNet that follows colour hints exactly, as a trained one should: each working pixel within
    2 of a hint takes the hints' mean a*b* there; elsewhere (and without hints) the output is gray."""

    def forward(self, l, style=None, hints=None, bank=None):
        style = self.null_styles(l.shape[0]) if style is None else style
        self.unet_inputs(l, style, hints)  # the real network's checks (a model without hint inputs refuses them)
        if hints is None:
            return l.new_zeros(l.shape[0], 2, *l.shape[-2:])
        mask = hints[:, 2:3]
        total = torch.nn.functional.avg_pool2d(hints[:, :2] * mask, 5, 1, 2)
        cover = torch.nn.functional.avg_pool2d(mask, 5, 1, 2)
        return torch.where(cover > 0, total / cover.clamp(min=1e-6), torch.zeros_like(total))


@pytest.fixture
def hint_follower() -> Colorizer:
    """A Colorizer (tiny preset with hint inputs) whose network paints the hints' colours and nothing else."""
    import dataclasses

    from artcolor.config import preset

    return Colorizer(HintFollower(dataclasses.replace(preset("tiny"), hints=True)), device="cpu")


def hue_chroma(rgb) -> tuple[float, float]:
    """Hue in degrees and chroma of one sRGB colour (r, g, b) uint8."""
    a, b = _rgb_to_ab(np.asarray(rgb, np.uint8))
    return math.degrees(math.atan2(b, a)) % 360, math.hypot(a, b)


def hue_distance(h1: float, h2: float) -> float:
    return abs((h1 - h2 + 180) % 360 - 180)


@pytest.fixture(autouse=True, scope="session")
def _graph_cache(tmp_path_factory):
    """The mixed backend's exported graphs go to a folder of the run's, not the user's cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ARTCOLOR_CACHE", str(tmp_path_factory.mktemp("artcolor-cache")))
        yield

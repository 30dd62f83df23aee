"""Numbers that make no sense: a ValueError (CLI: exit 2) naming the argument, never a black image.

NaN, infinities, huge and negative values for every numeric argument of `Colorizer.colorize`,
`encode_style` and `artcolor colorize` (property-based, derandomised like test_fuzz.py); model
folders with non-finite weights refused at load; a non-finite prediction is an error for that file.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from artcolor import Colorizer, palette_image
from artcolor.inputs.checks import MAX_STRENGTH, blend_weights, finite_number, integer
from artcolor.color.lab import rgb_to_lab
from artcolor.inference import PredictionError
from conftest import _run_cli, perturbed_colorizer

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

EXPLORE = os.environ.get("ARTCOLOR_FUZZ") == "explore"
SETTINGS = settings(max_examples=200 if EXPLORE else 40, derandomize=not EXPLORE, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

SPECIAL = [math.nan, math.inf, -math.inf, 1e6, 1e300, -5.0, -1e-300, 0.0, -0.0, 5e-324, 4.0, 4.000001, 2.0]
numbers = (st.sampled_from(SPECIAL) | st.floats(allow_nan=True, allow_infinity=True) | st.floats(-1, 6)
           | st.integers(-10, 10) | st.integers(-2**70, 2**70))
sizes = st.integers(-300, 300) | st.integers(-2**70, 2**70) | st.sampled_from(SPECIAL) | st.just(2049)


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return perturbed_colorizer("tiny")  # style and strength steer its colours


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    ramp = np.linspace(20, 235, 40 * 24).reshape(24, 40)
    noise = np.random.default_rng(0).normal(0, 20, (24, 40))
    return Image.fromarray(np.clip(ramp + noise, 0, 255).astype(np.uint8), "L")


@pytest.fixture(scope="module")
def references() -> list[Image.Image]:
    return [palette_image(["#ff0000", "#00ff00"]), palette_image(["#0000ff", "#ffff00"])]


def lightness(im: Image.Image) -> np.ndarray:
    rgb = torch.from_numpy(np.asarray(im.convert("RGB")).copy()).permute(2, 0, 1).float() / 255
    return rgb_to_lab(rgb)[0].numpy()


def assert_keeps_lightness(out: Image.Image, photo: Image.Image) -> None:
    """The output's L* is the photo's (up to 8-bit rounding): not black, not NaN turned to 0."""
    assert out.size == photo.size
    diff = np.abs(lightness(out) - lightness(photo))
    assert np.percentile(diff, 99.9) <= 1.0, diff.max()


def image_or_named_error(call, photo, name):
    """`call()` gives an image keeping the photo's lightness, or a ValueError naming `name`."""
    try:
        out = call()
    except ValueError as e:
        assert not isinstance(e, PredictionError), e
        assert name in str(e), e
        return None
    assert_keeps_lightness(out, photo)
    return out


# ---- the library


@SETTINGS
@given(strength=numbers)
def test_strength_is_an_image_or_a_named_error(colorizer, photo, references, strength):
    out = image_or_named_error(lambda: colorizer.colorize(photo, style=references[0], strength=strength),
                               photo, "strength")
    valid = isinstance(strength, (int, float)) and math.isfinite(strength) and 0 <= strength <= MAX_STRENGTH
    assert (out is not None) == valid
    with pytest.raises(ValueError, match="strength") if not valid else _nothing():
        colorizer.encode_style(references[0], strength)


@SETTINGS
@given(weights=st.lists(numbers, min_size=2, max_size=2))
def test_style_weights_are_an_image_or_a_named_error(colorizer, photo, references, weights):
    out = image_or_named_error(lambda: colorizer.colorize(photo, style=references, style_weights=weights),
                               photo, "style_weights")
    valid = all(math.isfinite(w) and w >= 0 for w in weights) and max(weights) > 0
    assert (out is not None) == valid
    if valid:  # the blend is a mean of the two codes, even for weights near the float maximum
        a, b = (colorizer.encode_style(r).code for r in references)
        code = colorizer.encode_style(references, style_weights=weights).code
        assert np.isfinite(code).all()
        assert ((code - np.minimum(a, b)) >= -1e-5).all() and ((np.maximum(a, b) - code) >= -1e-5).all()


@SETTINGS
@given(size=sizes)
def test_size_is_an_image_or_a_named_error(colorizer, photo, size):
    out = image_or_named_error(lambda: colorizer.colorize(photo, size=size), photo, "size")
    assert (out is not None) == (isinstance(size, int) and 16 <= size <= 2048)


@SETTINGS
@given(size=sizes, batch_size=sizes)
def test_constructor_numbers_are_checked(colorizer, size, batch_size):
    try:
        made = Colorizer(colorizer.net, size=size, batch_size=batch_size)
    except ValueError as e:
        assert "size" in str(e)  # batch_size included
        return
    assert made.size == size and made.batch_size == batch_size


def test_messages_name_the_argument_and_value():
    with pytest.raises(ValueError, match=r"strength must be a finite number in \[0, 4\], got nan"):
        finite_number("strength", float("nan"), 0, 4)
    with pytest.raises(ValueError, match="size must be an integer, got 128.0"):
        integer("size", 128.0, 16)
    with pytest.raises(ValueError, match=r"style_weights must be finite and non-negative, got \[1.0, inf\]"):
        blend_weights("style_weights", [1, float("inf")], 2)
    assert blend_weights("w", [1e308, 1e308], 2) == [0.5, 0.5]  # no overflow to inf / inf


def _nothing():
    from contextlib import nullcontext

    return nullcontext()


# ---- non-finite weights and predictions


def nan_weight_folder(tmp_path, key="head.weight", value=math.nan):
    """A saved tiny model whose tensor `key` holds one non-finite value."""
    folder = tmp_path / "damaged"
    perturbed_colorizer("tiny").save(folder)
    state = load_file(str(folder / "model.safetensors"))
    state[key].view(-1)[0] = value
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder


@pytest.mark.parametrize("key, value", [("head.weight", math.nan), ("head.bias", math.inf),
                                        ("null_style", -math.inf)])
def test_a_model_folder_with_non_finite_weights_is_refused_naming_the_tensor(tmp_path, key, value):
    folder = nan_weight_folder(tmp_path, key, value)
    with pytest.raises(ValueError, match=rf"{key} holds 1 non-finite values"):
        Colorizer.load(folder)


def test_cli_refuses_a_model_folder_with_a_nan_weight(tmp_path, photo):
    (tmp_path / "in").mkdir()
    photo.save(tmp_path / "in" / "a.png")
    code, stdout, stderr = _run_cli("colorize", tmp_path / "in", "-o", tmp_path / "out",
                                    "--weights", nan_weight_folder(tmp_path))
    assert code == 1 and "head.weight holds 1 non-finite values" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "out").exists()


def test_a_non_finite_prediction_is_an_error_not_a_black_image(photo):
    colorizer = perturbed_colorizer("tiny")
    with torch.no_grad():
        colorizer.net.head.weight.view(-1)[0] = math.nan  # as if loaded by something that does not check
    with pytest.raises(PredictionError, match="not finite"):
        colorizer.colorize(photo)


def test_a_non_finite_style_code_is_an_error(photo, references):
    colorizer = perturbed_colorizer("tiny")
    with torch.no_grad():
        next(colorizer.net.style_encoder.parameters()).view(-1)[0] = math.inf
    with pytest.raises(PredictionError, match="style code"):
        colorizer.encode_style(references[0])


def test_cli_a_non_finite_prediction_fails_that_file_and_the_batch_goes_on(tmp_path, model_dir, monkeypatch):
    # a network that gives NaN for bright photos only, loaded from a folder whose weights are fine
    from artcolor.model import ColorNet

    forward = ColorNet.forward

    def nan_when_bright(self, l, *args, **kwargs):
        out = forward(self, l, *args, **kwargs)
        return torch.where(l.mean(dim=(1, 2, 3), keepdim=True) > 50, math.nan, out)

    monkeypatch.setattr(ColorNet, "forward", nan_when_bright)
    (tmp_path / "in").mkdir()
    Image.new("L", (40, 30), 230).save(tmp_path / "in" / "bright.png")
    Image.new("L", (40, 30), 30).save(tmp_path / "in" / "dark.png")
    Image.new("L", (40, 30), 220).save(tmp_path / "in" / "light.jpg")
    code, stdout, stderr = _run_cli("colorize", tmp_path / "in", "-o", tmp_path / "out", "--weights", model_dir)
    assert code == 1 and "1 colourised, 2 failed" in stdout
    for name in ("bright.png", "light.jpg"):
        assert f"skipped {tmp_path / 'in' / name}: the network's prediction is not finite" in stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["dark.png"]  # no temp file either
    assert "Traceback" not in stderr


# ---- the command line


def cli_number(value) -> str:
    return repr(value) if isinstance(value, float) else str(value)


@settings(SETTINGS, max_examples=200 if EXPLORE else 25)
@given(option=st.sampled_from(["--strength", "--size", "--style-weights"]), value=numbers | sizes, other=numbers)
def test_cli_numbers_are_an_image_or_a_usage_error(tmp_path_factory, model_dir, photo, option, value, other):
    folder = tmp_path_factory.mktemp("numbers")
    photo.save(folder / "photo.png")
    palette_image(["#ff0000"]).save(folder / "red.png")
    palette_image(["#0000ff"]).save(folder / "blue.png")
    args = ["colorize", folder / "photo.png", "-o", folder / "out", "--weights", model_dir, "--style", folder / "red.png"]
    if option == "--style-weights":
        args += ["--style", folder / "blue.png", option, f"{cli_number(value)},{cli_number(other)}"]
    else:
        args += [option, cli_number(value)]
    code, stdout, stderr = _run_cli(*args)
    assert code in (0, 2), stderr
    if code == 2:
        assert option in stderr and "Traceback" not in stderr
        assert not (folder / "out").exists()
    else:
        with Image.open(folder / "out" / "photo.png") as out:
            assert_keeps_lightness(out, photo)

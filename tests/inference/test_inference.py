"""The Colorizer: inputs of every kind and size, lightness kept, styles, batching (model folders:
test_folders.py; the steps around the network: test_pipeline.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from artcolor import Colorizer, ImageError, palette_image
from artcolor.color.lab import rgb_to_lab
from artcolor.config import preset
from artcolor.inputs.images import gray_image, luminance_plane
from artcolor.inference import Style
from artcolor.inference.pipeline import recombine


def pixels(im: Image.Image) -> np.ndarray:
    return np.asarray(im).astype(np.int32)


def lab_l(im: Image.Image) -> np.ndarray:
    """CIE L* (H, W) of an image, through its sRGB values."""
    rgb = torch.from_numpy(np.asarray(im.convert("RGB")).copy()).permute(2, 0, 1).float() / 255
    return rgb_to_lab(rgb)[0].numpy()


def unclipped(im: Image.Image) -> np.ndarray:
    """Pixels whose colour needed no clipping: every channel strictly inside 0..255."""
    rgb = np.asarray(im.convert("RGB"))
    return (rgb.min(axis=2) > 0) & (rgb.max(axis=2) < 255)


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(pixels(a) - pixels(b)).mean())


# ---- sizes and kinds of input


@pytest.mark.parametrize("height, width", [(1, 1), (3, 517), (517, 3), (1001, 17), (64, 96)])
def test_output_size_equals_input_size(tiny, height, width):
    gray = Image.fromarray(np.random.default_rng(0).integers(0, 256, (height, width), dtype=np.uint8))
    out = tiny.colorize(gray)
    assert out.size == (width, height) and out.mode == "RGB"


def test_every_kind_of_input_gives_the_same_output(tiny_perturbed, gray_photo, tmp_path):
    gray_photo.save(tmp_path / "photo.png")
    y = np.asarray(gray_photo)
    inputs = [gray_photo, y, y[..., None], y / 255.0, str(tmp_path / "photo.png"), tmp_path / "photo.png",
              gray_photo.convert("RGB"), np.stack([y] * 3, axis=-1)]
    expected = pixels(tiny_perturbed.colorize(gray_photo))
    for image in inputs:
        assert np.array_equal(pixels(tiny_perturbed.colorize(image)), expected), type(image)


def test_colour_input_is_made_gray_first(tiny_perturbed, astronaut):
    from_colour = tiny_perturbed.colorize(astronaut)
    from_gray = tiny_perturbed.colorize(gray_image(luminance_plane(astronaut)))
    # the gray copy is rounded to 8 bits; that is the only difference between the two inputs
    diff = np.abs(pixels(from_colour) - pixels(from_gray))
    assert diff.mean() < 0.5 and np.percentile(diff, 99) <= 2
    # and the colour photo's own lightness is what the output keeps
    keep = unclipped(from_colour)
    assert keep.mean() > 0.2
    assert np.abs(lab_l(from_colour) - lab_l(astronaut))[keep].max() < 1.0


def test_exif_orientation_is_honoured(tiny, tmp_path):
    stored = np.zeros((40, 60), dtype=np.uint8)  # 60 wide, 40 high; its left half is white
    stored[:, :30] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(stored).save(tmp_path / "rotated.jpg", exif=exif.tobytes(), quality=95)
    out = np.asarray(tiny.colorize(tmp_path / "rotated.jpg").convert("L")).astype(int)
    assert out.shape == (60, 40)  # displayed upright: 40 wide, 60 high
    assert out[:30].mean() > 200 and out[30:].mean() < 50  # the stored left half is now on top


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_is_kept(tiny_perturbed, gray_photo, mode):
    alpha = Image.fromarray(np.tile(np.linspace(0, 255, gray_photo.width).astype(np.uint8), (gray_photo.height, 1)))
    im = gray_photo.convert(mode)
    im.putalpha(alpha)
    out = tiny_perturbed.colorize(im)
    assert out.mode == "RGBA" and out.size == im.size
    assert np.array_equal(np.asarray(out.getchannel("A")), np.asarray(alpha))


def test_opaque_inputs_get_no_alpha(tiny, gray_photo):
    assert tiny.colorize(gray_photo.convert("RGB")).mode == "RGB"


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((4, 4, 2), dtype=np.uint8), "shape"),
        (np.full((4, 4), np.nan), "NaN"),
        (np.full((4, 4), 300, dtype=np.int32), "0..255"),
        ("no/such/photo.jpg", "no such file"),
        (3.5, "expected a path"),
    ],
)
def test_bad_inputs_raise_image_error(tiny, image, message):
    with pytest.raises(ImageError, match=message):
        tiny.colorize(image)


def test_non_image_file_is_named(tiny, tmp_path):
    (tmp_path / "notes.jpg").write_text("not a photo")
    with pytest.raises(ImageError, match="notes.jpg"):
        tiny.colorize(tmp_path / "notes.jpg")


def test_truncated_jpeg_is_named(tiny, gray_photo, tmp_path):
    gray_photo.save(tmp_path / "whole.jpg")
    data = (tmp_path / "whole.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="cut.jpg"):
        tiny.colorize(tmp_path / "cut.jpg")


def test_too_many_pixels_are_refused(gray_photo):
    colorizer = Colorizer.from_preset("tiny", max_pixels=1000)
    with pytest.raises(ImageError, match="larger than the limit"):
        colorizer.colorize(gray_photo)


# ---- lightness


def test_lab_model_keeps_the_lightness(gray_photo):
    # the untrained model predicts real colours; where they are in gamut, L* is the input's
    colorizer = Colorizer.from_preset("default")
    assert colorizer.config.color_space == "lab"
    out = colorizer.colorize(gray_photo)
    keep = unclipped(out)
    assert keep.mean() > 0.2
    assert np.abs(pixels(out)[..., 0] - pixels(out)[..., 2]).mean() > 5  # really coloured
    diff = np.abs(lab_l(out) - lab_l(gray_photo))[keep]
    assert diff.mean() < 0.3 and diff.max() < 1.0


@pytest.mark.parametrize("color_space", ["lab", "rgb"])
def test_gentle_prediction_keeps_the_lightness_everywhere(gray_photo, color_space):
    # a prediction with little chroma stays in gamut for mid-tones, so no pixel loses its L*
    colorizer = Colorizer(perturb_head(color_space))
    midtones = Image.fromarray((np.asarray(gray_photo) * 0.6 + 50).astype(np.uint8))
    out = colorizer.colorize(midtones)
    assert unclipped(out).all()
    assert np.abs(pixels(out)[..., 0] - pixels(out)[..., 2]).mean() > 2
    diff = np.abs(lab_l(out) - lab_l(midtones))
    assert diff.mean() < 0.3 and diff.max() < 1.0


@pytest.mark.parametrize("seed, colours", [(0, ["#ff0000", "#00ff00", "#0000ff"]), (1, ["#ff00ff", "#ffff00"]),
                                           (2, ["#00ffff", "#ff8000"])])
def test_wild_predictions_keep_the_lightness_everywhere(perturb, seed, colours):
    # a random default network at strength 2 with a saturated palette predicts colours far out of
    # gamut; clipping their channels lost up to 40 L* there (SSIM of L* 0.6 to 0.99)
    l_ssim = pytest.importorskip("artcolor.evaluation.metrics").l_ssim
    pytest.importorskip("torchmetrics")
    from skimage.data import astronaut

    photo = Image.fromarray(astronaut()).resize((192, 192), Image.BICUBIC).convert("L")
    colorizer = Colorizer.from_preset("default", seed=seed)
    perturb(colorizer.net, 0.1, seed)
    out = colorizer.colorize(photo, style=palette_image(colours), strength=2.0)
    assert (~unclipped(out)).mean() > 0.05  # really out of gamut before the mapping
    diff = np.abs(lab_l(out) - lab_l(photo))
    assert np.percentile(diff, 99.9) <= 1.0
    as_rgb = lambda im: torch.from_numpy(np.asarray(im.convert("RGB")).copy()).permute(2, 0, 1)[None] / 255.0  # noqa: E731
    assert l_ssim(as_rgb(out), as_rgb(photo)).item() >= 0.995


def perturb_head(color_space: str):
    from artcolor.model import ColorNet

    net = ColorNet(dataclasses.replace(preset("tiny"), color_space=color_space))
    with torch.no_grad():  # a gentle, spatially varying prediction: a weak random head on top of a fixed tint
        net.head.weight.copy_(torch.randn(net.head.weight.shape, generator=torch.Generator().manual_seed(0)) * 0.002)
        net.head.bias.copy_(torch.tensor([0.06, 0.06] if color_space == "lab" else [0.04, 0.0, -0.04]))
    return net


# ---- styles


def test_styles_change_the_output(tiny_perturbed, gray_photo, palettes):
    warm, cold = (tiny_perturbed.colorize(gray_photo, style=p) for p in palettes)
    assert mean_abs_diff(warm, cold) > 0.5


def test_strength_changes_the_output(tiny_perturbed, gray_photo, palettes):
    full = tiny_perturbed.colorize(gray_photo, style=palettes[0], strength=1.0)
    none = tiny_perturbed.colorize(gray_photo, style=palettes[0], strength=0.0)
    assert mean_abs_diff(full, none) > 0.5


def test_strength_zero_is_automatic(tiny_perturbed, gray_photo, palettes):
    none = tiny_perturbed.colorize(gray_photo, style=palettes[0], strength=0.0)
    assert np.array_equal(pixels(none), pixels(tiny_perturbed.colorize(gray_photo)))


def test_automatic_is_said_by_the_style_not_read_from_its_code(tiny_perturbed, gray_photo, palettes):
    assert tiny_perturbed.encode_style(None).automatic
    assert tiny_perturbed.encode_style(palettes[0], strength=0).automatic
    assert not tiny_perturbed.encode_style(palettes[0]).automatic
    given = Style(tiny_perturbed.encode_style(None).code)  # the null code, given: the U-Net runs under it
    assert not given.automatic
    # the tiny model has no automatic decoder: its automatic colourisation is that same U-Net
    assert np.array_equal(pixels(tiny_perturbed.colorize(gray_photo, style=given)), pixels(tiny_perturbed.colorize(gray_photo)))


def test_strength_interpolates_the_style_vector(tiny_perturbed, palettes):
    null = tiny_perturbed.encode_style(None).code
    full = tiny_perturbed.encode_style(palettes[0]).code
    torch.testing.assert_close(tiny_perturbed.encode_style(palettes[0], strength=0.5).code, (null + full) / 2)


def test_blend_with_one_weight_is_that_style(tiny_perturbed, gray_photo, palettes):
    for i, weights in enumerate([(1, 0), (0, 1)]):
        blended = tiny_perturbed.colorize(gray_photo, style=list(palettes), style_weights=weights)
        alone = tiny_perturbed.colorize(gray_photo, style=palettes[i])
        assert np.array_equal(pixels(blended), pixels(alone))


def test_blend_averages_style_vectors(tiny_perturbed, palettes):
    a, b = (tiny_perturbed.encode_style(p).code for p in palettes)
    torch.testing.assert_close(tiny_perturbed.encode_style(list(palettes), style_weights=[3, 1]).code, (3 * a + b) / 4)
    torch.testing.assert_close(tiny_perturbed.encode_style(list(palettes)).code, (a + b) / 2)


@pytest.mark.parametrize("weights, message", [([1], "2 styles but 1"), ([1, -1], "non-negative"), ([0, 0], "positive")])
def test_bad_style_weights(tiny, palettes, weights, message):
    with pytest.raises(ValueError, match=message):
        tiny.encode_style(list(palettes), style_weights=weights)


def test_style_can_be_a_photo_path_or_array(tiny_perturbed, coffee, tmp_path):
    coffee.save(tmp_path / "ref.png")
    vectors = [tiny_perturbed.encode_style(s).code for s in (coffee, np.asarray(coffee), tmp_path / "ref.png")]
    torch.testing.assert_close(vectors[0], vectors[1])
    torch.testing.assert_close(vectors[0], vectors[2])


# ---- palettes


def test_palette_image_has_one_stripe_per_colour():
    im = palette_image(["#264653", "e9c46a", "red", "abc"], size=10)
    assert im.size == (40, 10) and im.mode == "RGB"
    stripes = [im.getpixel((10 * i + 5, 5)) for i in range(4)]
    assert stripes == [(0x26, 0x46, 0x53), (0xE9, 0xC4, 0x6A), (255, 0, 0), (0xAA, 0xBB, 0xCC)]


@pytest.mark.parametrize("colors, message", [([], "at least one"), (["notacolour"], "notacolour"),
                                             (["#12345"], "#12345"), (["#e9c46a", "#gggggg"], "#gggggg")])
def test_palette_image_rejects_bad_colours(colors, message):
    with pytest.raises(ValueError, match=message):
        palette_image(colors)


# ---- batching and determinism


def test_a_list_gives_what_one_by_one_gives(tiny_perturbed, gray_photo, coffee, chelsea, palettes):
    tiny_perturbed.batch_size = 2  # five images, two working sizes: several batches of each
    images = [gray_photo, coffee, chelsea, coffee.transpose(Image.FLIP_LEFT_RIGHT), gray_photo.rotate(90)]
    batched = tiny_perturbed.colorize(images, style=palettes[1])
    assert isinstance(batched, list) and len(batched) == len(images)
    for image, out in zip(images, batched):
        alone = tiny_perturbed.colorize(image, style=palettes[1])
        assert out.size == image.size
        assert np.abs(pixels(out) - pixels(alone)).max() <= 1


def test_the_public_steps_give_what_colorize_gives(tiny_perturbed, gray_photo, palettes):
    style = tiny_perturbed.encode_style(palettes[0])
    y, alpha = tiny_perturbed.prepare(gray_photo)
    expected = pixels(tiny_perturbed.colorize(gray_photo, style=palettes[0]))
    assert np.array_equal(pixels(tiny_perturbed.colorize_plane(y, alpha, style)), expected)
    ratio = tiny_perturbed.predict_ratio(tiny_perturbed.working_l(y), style)[0]  # (3, h, w), as video uses it
    assert np.array_equal(pixels(recombine(y, ratio, alpha)), expected)
    with pytest.raises(TypeError, match="Style"):
        tiny_perturbed.predict_ratio(tiny_perturbed.working_l(y), style.code)


def test_colorize_is_deterministic(tiny_perturbed, gray_photo, palettes):
    first = tiny_perturbed.colorize(gray_photo, style=palettes[0])
    assert np.array_equal(pixels(first), pixels(tiny_perturbed.colorize(gray_photo, style=palettes[0])))

"""Colour hints: parsing and validation, rasterisation, the API, the CLI flags and the evaluation's hints mode."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from artcolor import Colorizer
from artcolor.color.lab import rgb_to_lab
from artcolor.config import preset
from conftest import hue_chroma, hue_distance
from artcolor.inputs.hints import DEFAULT_RADIUS, HintSet, for_images, oriented_size, parse_colour, resolve, rgb_to_ab
from artcolor.inputs.images import luminance_plane
from artcolor.model import ColorNet
from artcolor.color.srgb import l_from_y

RED = "#c0392b"


def gray_photo(width=96, height=64) -> Image.Image:
    ramp = np.linspace(60, 200, width, dtype=np.float32)[None].repeat(height, 0)
    return Image.fromarray(ramp.astype(np.uint8), "L")


# ---- parsing and validation


def test_rgb_to_ab_matches_the_torch_lab_conversion():
    rgb = np.random.default_rng(0).integers(0, 256, (200, 3), dtype=np.uint8)
    expected = rgb_to_lab(torch.from_numpy(rgb.T[:, :, None] / 255).float())[1:, :, 0].T.numpy()
    assert np.abs(rgb_to_ab(rgb) - expected).max() < 1e-3


@pytest.mark.parametrize("value, rgb", [(RED, (192, 57, 43)), ("c0392b", (192, 57, 43)), ("#F00", (255, 0, 0)),
                                        ("red", (255, 0, 0)), ((1, 2, 3), (1, 2, 3)), ("rgba(1, 2, 3, 1)", (1, 2, 3))])
def test_colours_parse(value, rgb):
    assert parse_colour(value) == rgb


@pytest.mark.parametrize("value", ["#12345g", "", "blurple", (1, 2), (0, 0, 256), (0.5, 0, 0), None, 7])
def test_bad_colours_are_refused(value):
    with pytest.raises(ValueError, match="not a colour"):
        parse_colour(value)


def test_points_resolve_with_lightness_ignored():
    dark, light = resolve([(10, 5, "#800000"), (20, 5, "#ff8080", 4)], 100, 50).points[:, 2:4]
    hs = resolve([(10, 5, "#800000"), (20.5, 49.9, RED, 4), {"x": 0, "y": 0, "colour": "red"}], 100, 50)
    assert hs.points.shape == (3, 5) and len(hs) == 3
    assert hs.points[0, 4] == pytest.approx(DEFAULT_RADIUS * 50) and hs.points[1, 4] == 4
    assert hs.points[1, 2:4] == pytest.approx(rgb_to_ab(np.array([192, 57, 43], np.uint8)), abs=1e-4)
    assert hue_distance(math.degrees(math.atan2(dark[1], dark[0])), math.degrees(math.atan2(light[1], light[0]))) < 30
    assert resolve(None, 10, 10) is None


@pytest.mark.parametrize("hints, message", [
    ([(100, 5, RED)], r"hints\[0\] = \(100, 5, '#c0392b'\): x = 100.0 is outside the image \(0 <= x < 100\)"),
    ([(1, 1, RED), (5, -1, RED)], r"hints\[1\] .*y = -1.0 is outside the image \(0 <= y < 50\)"),
    ([(float("nan"), 1, RED)], "x must be a finite number, got nan"),
    ([(1, float("inf"), RED)], "y must be a finite number, got inf"),
    ([("1", 1, RED)], "x must be a number, got '1'"),
    ([(1, 1, "#zz0000")], r"hints\[0\] = .*not a colour: '#zz0000'"),
    ([(1, 1, RED, 0)], "radius must be a finite number > 0"),
    ([(1, 1, RED, float("nan"))], "radius must be a finite number > 0"),
    ([(1, 1)], r"hints\[0\] = \(1, 1\): expected \(x, y, colour\)"),
    ([{"x": 1, "colour": RED}], "expected keys x, y, colour"),
    (42, "hints must be a list"),
])
def test_bad_hints_are_named(hints, message):
    with pytest.raises(ValueError, match=message):
        resolve(hints, 100, 50)


def test_a_hint_set_for_another_size_is_refused():
    with pytest.raises(ValueError, match="hints are for a 100x50 image, the photo is 50x100"):
        resolve(resolve([(1, 1, RED)], 100, 50), 50, 100)


def test_per_image_hints_for_a_list_of_images():
    assert for_images([(1, 1, RED)], 1, single=True) == [[(1, 1, RED)]]
    assert for_images(None, 3, single=False) == [None, None, None]
    assert for_images([None, [(1, 1, RED)]], 2, single=False)[1] == [(1, 1, RED)]
    for bad in ([(1, 1, RED), (2, 2, RED)], [None]):  # points, not one entry per image; or too few entries
        with pytest.raises(ValueError, match="one per image"):
            for_images(bad, 2, single=False)


# ---- scribbles


def scribble_layer(width=100, height=50, colour=(0, 160, 60)) -> Image.Image:
    layer = np.zeros((height, width, 4), np.uint8)
    layer[10:20, 30:60] = (*colour, 255)  # a painted rectangle
    return Image.fromarray(layer, "RGBA")


def test_scribble_becomes_masked_ab_at_the_working_size(tmp_path):
    layer = scribble_layer()
    for given in (layer, np.asarray(layer), tmp_path / "s.png"):
        layer.save(tmp_path / "s.png")
        raster = resolve(given, 100, 50).raster((25, 50))  # half size: the rectangle is rows 5-9, columns 15-29
        assert raster.shape == (1, 3, 25, 50) and raster.dtype == np.float32
        mask = raster[0, 2] > 0
        assert mask[5:10, 15:30].all() and mask.sum() == 5 * 15
        assert raster[0, :2, 7, 20] == pytest.approx(rgb_to_ab(np.array([0, 160, 60], np.uint8)), abs=1e-3)
        assert (raster[0, :2][:, ~mask] == 0).all()


def test_a_thin_scribble_stroke_survives_downscaling():
    layer = np.zeros((400, 400, 4), np.uint8)
    layer[200, 50:350] = (255, 0, 0, 255)  # one pixel wide: a tenth of a working pixel at 40x40
    mask = resolve(layer, 400, 400).raster((40, 40))[0, 2] > 0
    assert mask[20, 6:34].all() and mask.sum() <= 2 * 30


@pytest.mark.parametrize("layer, message", [
    (scribble_layer(99, 50), "the hints scribble is 99x50, the photo is 100x50"),
    (scribble_layer().convert("RGB"), "has no transparency"),
])
def test_bad_scribbles_are_refused(layer, message):
    with pytest.raises(ValueError, match=message):
        resolve(layer, 100, 50)


def test_json_hints_file(tmp_path):
    path = tmp_path / "hints.json"
    path.write_text(json.dumps([[10, 5, RED], {"x": 3, "y": 4, "color": "#00ff00", "radius": 2}]))
    assert resolve(path, 100, 50).points.shape == (2, 5)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="hints.json: cannot read hints"):
        resolve(path, 100, 50)
    path.write_text('{"x": 1}')
    with pytest.raises(ValueError, match="expected a JSON list"):
        resolve(path, 100, 50)


def test_oriented_size_applies_exif_rotation(tmp_path):
    im = Image.new("L", (40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    im.save(tmp_path / "r.jpg", exif=exif)
    assert oriented_size(tmp_path / "r.jpg") == (20, 40)


# ---- rasterisation


def test_a_point_becomes_a_disk_at_the_working_size():
    hs = HintSet(200, 100, np.array([[99.5, 49.5, 30.0, -20.0, 20.0]]))  # centre of the photo, radius 20 px
    raster = hs.raster((50, 100))[0]  # half size: radius 10 working pixels around (50, 25)
    mask = raster[2] > 0
    yy, xx = np.nonzero(mask)
    assert mask.sum() == pytest.approx(math.pi * 100, rel=0.1)
    assert abs(xx.mean() - 49.5) < 0.6 and abs(yy.mean() - 24.5) < 0.6
    assert (raster[0][mask] == 30).all() and (raster[1][mask] == -20).all() and (raster[:2][:, ~mask] == 0).all()


def test_a_tiny_hint_still_sets_its_working_pixel():
    raster = HintSet(1000, 1000, np.array([[999.0, 0.0, 10.0, 10.0, 0.5]])).raster((32, 32))[0]
    assert raster[2].sum() == 1 and raster[2, 0, 31] == 1


def test_a_later_hint_covers_an_earlier_one():
    raster = resolve([(10, 10, "#ff0000", 5), (10, 10, "#0000ff", 5)], 40, 40).raster((40, 40))[0]
    assert raster[1, 10, 10] < 0  # blue: b* negative


# ---- the Colorizer


def test_hints_colour_their_place_and_only_there(hint_follower):
    photo = gray_photo()
    plain = np.asarray(hint_follower.colorize(photo).convert("RGB"))
    out = np.asarray(hint_follower.colorize(photo, hints=[(70, 20, "#1e8449", 6)]))
    hue, chroma = hue_chroma(out[20, 70])
    assert hue_distance(hue, hue_chroma((30, 132, 73))[0]) < 10 and chroma > 15
    assert hue_chroma(plain[20, 70])[1] < 2 and hue_chroma(out[55, 5])[1] < 2  # gray elsewhere
    l_star = lambda im: l_from_y(luminance_plane(im))  # noqa: E731
    assert np.abs(l_star(Image.fromarray(out)) - l_star(photo)).max() < 1  # the photo's lightness is kept


def test_hints_for_each_image_of_a_list(hint_follower):
    a, b = hint_follower.colorize([gray_photo(), gray_photo(80, 60)], hints=[None, [(40, 30, "#2e86c1", 6)]])
    assert hue_chroma(np.asarray(a)[30, 40])[1] < 2 and hue_chroma(np.asarray(b)[30, 40])[1] > 15


def test_hints_follow_exif_orientation(hint_follower, tmp_path):
    im = gray_photo(60, 30)
    exif = Image.Exif()
    exif[0x0112] = 6
    im.save(tmp_path / "r.jpg", exif=exif)  # shown 30 wide, 60 high
    out = hint_follower.colorize(tmp_path / "r.jpg", hints=[(5, 50, "#2e86c1", 4)])
    assert out.size == (30, 60) and hue_chroma(np.asarray(out)[50, 5])[1] > 15
    with pytest.raises(ValueError, match="x = 40.0 is outside the image"):
        hint_follower.colorize(tmp_path / "r.jpg", hints=[(40, 10, RED)])


def test_a_model_without_hint_inputs_refuses_hints(tiny):
    with pytest.raises(ValueError, match="this model takes no colour hints"):
        tiny.colorize(gray_photo(), hints=[(1, 1, RED)])
    assert tiny.colorize(gray_photo(), hints=None).size == (96, 64)


def test_a_real_network_with_hint_inputs_takes_them(perturb):
    colorizer = Colorizer(perturb(ColorNet(dataclasses.replace(preset("tiny"), hints=True))), device="cpu")
    photo = gray_photo()
    plain = np.asarray(colorizer.colorize(photo), float)
    hinted = np.asarray(colorizer.colorize(photo, hints=[(40, 30, "#2e86c1", 10)]), float)
    assert np.abs(hinted - plain).max() > 1  # the hint channels reach the network
    assert np.array_equal(np.asarray(colorizer.colorize(photo, hints=[])), plain.astype(np.uint8))


# ---- the CLI


@pytest.fixture
def hint_model(tmp_path):
    folder = tmp_path / "hint-model"
    Colorizer(ColorNet(dataclasses.replace(preset("tiny"), hints=True))).save(folder)
    return folder


def test_cli_hint_flags_reach_the_colorizer(run_cli, tmp_path, hint_model, monkeypatch):
    from artcolor.inference import Colorizer as Real

    seen = []
    original = Real.colorize_planes
    monkeypatch.setattr(Real, "colorize_planes", lambda self, planes, style, size=None, hints=None, options=None: (
        seen.append(hints), original(self, planes, style, size, hints))[1])
    gray_photo(100, 50).save(tmp_path / "in.png")
    (tmp_path / "h.json").write_text(json.dumps([[3, 4, "#00ff00", 2]]))
    code, out, err = run_cli("colorize", tmp_path / "in.png", "-o", tmp_path / "out", "--weights", hint_model,
                             "--hint", f"10,20,{RED}", "--hint", "99,49,blue,3", "--hints", tmp_path / "h.json")
    assert code == 0, err
    (hs,) = seen[0]
    assert hs.points[:, [0, 1, 4]].tolist() == [[10, 20, DEFAULT_RADIUS * 50], [99, 49, 3], [3, 4, 2]]
    scribble_layer().save(tmp_path / "s.png")
    code, _, err = run_cli("colorize", tmp_path / "in.png", "-o", tmp_path / "out2", "--weights", hint_model,
                           "--hints", tmp_path / "s.png")
    assert code == 0, err
    assert seen[1][0].scribble[1].sum() == 300 and len(seen[1][0].points) == 0
    assert (tmp_path / "out2" / "in.png").is_file()


@pytest.mark.parametrize("args, message", [
    (["--hint", "10,20"], "expected X,Y,#RRGGBB"),
    (["--hint", "a,20,red"], "expected X,Y,#RRGGBB"),
    (["--hint", "10,20,#12345g"], "'10,20,#12345g': not a colour"),
    (["--hint", "10,20,red,0"], "radius must be a finite number > 0"),
    (["--hint", "100,20,red"], r"in.png \(100x50\): --hint '100,20,red': x = 100.0 is outside the image"),
    (["--hints", "BAD_JSON"], "cannot read hints"),
    (["--hints", "OUTSIDE_JSON"], r"h.json\[1\] = \[5, 50, 'red'\]: y = 50.0 is outside the image"),
    (["--hints", "SMALL_PNG"], "the hints scribble is 99x50, the photo is 100x50"),
    (["--hints", "SCRIBBLE", "--hint", "1,1,red"], "not both"),
    (["--hint", "1,1,red", "--method", "gray"], "need --method model"),
    (["--hint", "1,1,red", "--weights", "PLAIN_MODEL"], "this model takes no colour hints"),
])
def test_cli_bad_hints_are_usage_errors(run_cli, tmp_path, hint_model, args, message):
    gray_photo(100, 50).save(tmp_path / "in.png")
    (tmp_path / "bad.json").write_text("[1, 2")
    (tmp_path / "h.json").write_text(json.dumps([[1, 1, "red"], [5, 50, "red"]]))
    scribble_layer(99, 50).save(tmp_path / "small.png")
    scribble_layer().save(tmp_path / "scribble.png")
    Colorizer.from_preset("tiny").save(tmp_path / "plain")
    lookup = {"BAD_JSON": tmp_path / "bad.json", "OUTSIDE_JSON": tmp_path / "h.json", "SMALL_PNG": tmp_path / "small.png",
              "SCRIBBLE": tmp_path / "scribble.png", "PLAIN_MODEL": tmp_path / "plain"}
    weights = [] if "--weights" in args or "--method" in args else ["--weights", hint_model]
    code, out, err = run_cli("colorize", tmp_path / "in.png", "-o", tmp_path / "out", *weights,
                             *[lookup.get(a, a) for a in args])
    assert code == 2, (out, err)
    assert __import__("re").search(message, " ".join((out + err).split())), err
    assert not (tmp_path / "out" / "in.png").exists()


# ---- the evaluation's hints mode


@pytest.fixture(scope="module")
def two_colour_data(tmp_path_factory):
    """Photos whose top is red and bottom blue (a gray model cannot guess which); two paintings."""
    root = tmp_path_factory.mktemp("hint-eval")
    (root / "photos").mkdir()
    (root / "paintings").mkdir()
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate([(48, 64), (45, 61), (64, 48)]):
        rgb = np.zeros((h, w, 3), np.int32)
        rgb[: h // 2], rgb[h // 2:] = (200, 60, 50), (40, 90, 200)
        rgb += rng.integers(-10, 10, rgb.shape)
        Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(root / "photos" / f"p{i}.png")
    for j, tint in enumerate([(250, 120, 30), (30, 140, 250)]):
        Image.new("RGB", (40, 30), tint).save(root / "paintings" / f"{j}.png")
    return root


def test_evaluate_hints_mode(two_colour_data, hint_follower):
    from artcolor.evaluation import evaluate, markdown_table

    r = evaluate(hint_follower, two_colour_data / "photos", two_colour_data / "paintings", k=2, size=48,
                 modes=("hints",))
    h = r["hints_mode"]
    assert r["automatic"] is None and r["paintings_mode"] is None
    assert h["psnr_0"] < h["psnr_1"] < h["psnr_5"] < h["psnr_10"]
    assert h["hint_ab_error_10"] < 6 and h["hint_within_10"] == 1.0
    assert h["region_ab_error"] < h["region_ab_error_auto"] and h["far_ab_change"] < 1
    assert 0 <= h["paintings_retrieval_accuracy"] <= 1
    table = markdown_table([r])
    assert "PSNR 10 hints" in table and "| model |" in table and "auto SSIM" not in table
    again = evaluate(hint_follower, two_colour_data / "photos", two_colour_data / "paintings", k=2, size=48,
                     modes=("hints",))["hints_mode"]
    assert {k: v for k, v in again.items() if k != "seconds_per_image"} == {  # fixed seed
        k: v for k, v in h.items() if k != "seconds_per_image"}


def test_evaluate_hints_mode_needs_hint_inputs(two_colour_data, tiny):
    from artcolor.evaluation import evaluate

    for method in (tiny, "gray"):
        with pytest.raises(ValueError, match="hints mode needs a model with colour hint inputs"):
            evaluate(method, two_colour_data / "photos", two_colour_data / "paintings", k=2, size=48, modes=("hints",))
    with pytest.raises(ValueError, match="modes must be some of"):
        evaluate(tiny, two_colour_data / "photos", two_colour_data / "paintings", k=2, modes=("telepathy",))


def test_evaluate_cli_hints_mode(run_cli, two_colour_data, hint_model, tmp_path):
    code, out, err = run_cli("evaluate", "--photos", two_colour_data / "photos", "--paintings",
                             two_colour_data / "paintings", "--k", "2", "--size", "48", "--weights", hint_model,
                             "--mode", "all", "--out", tmp_path / "eval")
    assert code == 0, err
    saved = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert saved["hints_mode"]["hint_counts"] == [1, 5, 10] and saved["automatic"] is not None
    md = (tmp_path / "eval" / "results.md").read_text()
    assert "auto PSNR" in md and "PSNR 10 hints" in md

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from artcolor import Colorizer
from artcolor.cli import main
from artcolor.evaluation import evaluate, markdown_table

MODES = {"automatic", "self_reference", "reframed", "paintings_mode"}
FIDELITY_KEYS = {"psnr", "ssim", "ciede2000", "colorfulness", "colorfulness_gt", "colorfulness_ratio",
                 "palette_distance_gt", "l_ssim", "seconds_per_image"}
PAINTINGS_KEYS = {"palette_distance", "palette_distance_other", "retrieval_accuracy", "retrieval_chance",
                  "sensitivity", "l_ssim", "colorfulness", "colorfulness_references", "seconds_per_image",
                  "incoherence", "incoherence_gt", "incoherence_graph", "incoherence_graph_gt"}


def landscape(h, w, seed):
    """Colour follows lightness: light blue sky over textured green, dark brown below."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, h)[:, None, None]
    texture = 0.8 + 0.4 * rng.random((h, w, 1))
    rgb = np.where(y < 0.4, [0.55, 0.75, 0.95], np.where(y < 0.75, [0.25, 0.5, 0.15], [0.3, 0.18, 0.08]))
    return (np.clip(rgb * texture, 0, 1) * 255).astype(np.uint8)


def painting(tint, h=40, w=56):
    light = np.linspace(0.15, 1.0, w)[None, :, None].repeat(h, 0)
    return (np.clip(light * np.array(tint), 0, 1) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    (root / "photos").mkdir()
    (root / "paintings").mkdir()
    for i, (h, w) in enumerate([(48, 64), (45, 61), (64, 48)]):
        Image.fromarray(landscape(h, w, i)).save(root / "photos" / f"p{i}.png")
    Image.fromarray(painting([1.0, 0.45, 0.1])).save(root / "paintings" / "a_warm.png")
    Image.fromarray(painting([0.1, 0.55, 1.0])).save(root / "paintings" / "b_cool.jpg")
    Image.fromarray(painting([0.2, 1.0, 0.2])).save(root / "paintings" / "c_green.png")  # beyond k=2
    return root


def run(data, method, **kwargs):
    return evaluate(method, data / "photos", data / "paintings", k=2, size=48, **kwargs)


def test_gray_baseline(data):
    r = run(data, "gray")
    assert MODES <= set(r) and r["n_photos"] == 3 and r["references"] == ["a_warm.png", "b_cool.jpg"]
    assert set(r["automatic"]) == FIDELITY_KEYS and set(r["paintings_mode"]) == PAINTINGS_KEYS
    assert r["automatic"]["colorfulness"] == pytest.approx(0, abs=1e-3)
    assert r["automatic"]["psnr"] == r["self_reference"]["psnr"]
    # the same output for every reference: no sensitivity, and retrieval at exactly chance
    assert r["paintings_mode"]["sensitivity"] == 0
    assert r["paintings_mode"]["retrieval_accuracy"] == pytest.approx(0.5)
    assert r["paintings_mode"]["l_ssim"] > 0.99
    assert math.isnan(r["paintings_mode"]["incoherence"]) and 0 < r["paintings_mode"]["incoherence_gt"] < 1


def test_welsh_baseline(data):
    r, gray = run(data, "welsh"), run(data, "gray")
    assert r["automatic"] is None
    assert r["self_reference"]["psnr"] > gray["self_reference"]["psnr"] + 2
    assert r["paintings_mode"]["retrieval_accuracy"] == 1.0
    assert r["paintings_mode"]["sensitivity"] > 0.5
    assert r["paintings_mode"]["palette_distance"] < r["paintings_mode"]["palette_distance_other"]
    assert "| welsh | n/a |" in markdown_table([r, gray])


def test_a_colorizer_runs_every_mode(data):
    r = run(data, Colorizer.from_preset("tiny"), n_photos=2)
    assert r["n_photos"] == 2 and r["automatic"] is not None
    assert all(math.isfinite(v) for mode in MODES - {"paintings_mode"} for v in r[mode].values())
    assert all(math.isfinite(v) for k, v in r["paintings_mode"].items() if k != "incoherence")


def test_bad_arguments_are_refused(data):
    with pytest.raises(ValueError, match="k=5"):
        evaluate("gray", data / "photos", data / "paintings", k=5)
    with pytest.raises(ValueError, match="expected a Colorizer"):
        run(data, "sepia")


def test_cli_writes_results_and_merges_tables(data, tmp_path):
    runner = CliRunner()
    common = ["evaluate", "--photos", str(data / "photos"), "--paintings", str(data / "paintings"),
              "--k", "2", "--size", "48"]
    model_dir = tmp_path / "tiny-model"
    Colorizer.from_preset("tiny").save(model_dir)
    for args, out in ((["--preset", "tiny"], "a"), (["--weights", str(model_dir)], "b"), (["--method", "gray"], "c")):
        result = runner.invoke(main, common + args + ["--out", str(tmp_path / out)])
        assert result.exit_code == 0, result.output
        assert "| method |" in result.output
    saved = json.loads((tmp_path / "a" / "results.json").read_text())
    assert MODES <= set(saved) and saved["name"] == "tiny (untrained)" and saved["k"] == 2
    assert json.loads((tmp_path / "b" / "results.json").read_text())["name"] == "tiny-model"
    assert (tmp_path / "c" / "results.md").read_text().startswith("| method |")

    paths = [str(tmp_path / d / "results.json") for d in "abc"]
    table = runner.invoke(main, ["evaluate", "--table", *paths])
    assert table.exit_code == 0, table.output
    rows = [line for line in table.output.splitlines() if line.startswith("| ") and "---" not in line]
    assert [row.split(" | ")[0] for row in rows[1:]] == ["| tiny (untrained)", "| tiny-model", "| gray"]


@pytest.mark.parametrize("args, message", [
    (["--method", "welsh", "--preset", "tiny"], "baseline"),
    (["--k", "9", "--method", "gray"], "k=9"),
    (["--weights", "nowhere", "--method", "model"], "not a model folder"),
])
def test_cli_errors_are_clear(data, args, message):
    result = CliRunner().invoke(main, ["evaluate", "--photos", str(data / "photos"),
                                       "--paintings", str(data / "paintings"), *args])
    assert result.exit_code == 1 and message in result.output


def test_cli_needs_folders_or_a_table(data):
    result = CliRunner().invoke(main, ["evaluate", "--method", "gray"])
    assert result.exit_code == 1 and "--photos is required" in result.output
    result = CliRunner().invoke(main, ["evaluate", "--method", "gray", "--photos", str(data / "photos")])
    assert result.exit_code == 1 and "--mode standard needs --paintings" in result.output


def test_the_automatic_mode_alone_needs_no_paintings(data, tmp_path):
    result = CliRunner().invoke(main, ["evaluate", "--photos", str(data / "photos"), "--mode", "automatic",
                                       "--size", "48", "--out", str(tmp_path / "auto")])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "auto" / "results.json").read_text())
    assert saved["automatic"]["psnr"] > 10 and saved["self_reference"] is None and saved["paintings"] is None
    assert "3 photos at short side 48 px." in result.output  # no paintings read, none claimed


def test_a_failed_save_keeps_the_old_results_and_leaves_no_temporary_file(data, tmp_path, monkeypatch):
    from artcolor.inputs import images as image
    from artcolor.evaluation import report

    result = run(data, "gray")
    old = report.save(result, tmp_path)[0].read_bytes()

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(image.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        report.save({**result, "name": "new"}, tmp_path)
    assert (tmp_path / "results.json").read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json", "results.md"]


def test_reframed_reference_is_a_mirrored_crop_of_the_photo():
    from artcolor.evaluation.reframe import reframe

    rgb = np.random.default_rng(0).integers(0, 256, (50, 80, 3), dtype=np.uint8)
    drawn = lambda index: reframe(rgb, place=np.random.default_rng([0, index]))  # noqa: E731 (as the harness draws)
    out = drawn(3)
    assert out.shape == (39, 62, 3)  # both sides x sqrt(0.6)
    found = [(y, x) for y in range(50 - 39 + 1) for x in range(80 - 62 + 1)
             if np.array_equal(rgb[y:y + 39, x:x + 62][:, ::-1], out)]
    assert len(found) == 1
    assert np.array_equal(drawn(3), out) and not np.array_equal(drawn(4), out)


def test_reframe_takes_a_corner_when_told():
    from artcolor.evaluation.reframe import reframe

    rgb = np.random.default_rng(1).integers(0, 256, (300, 451, 3), dtype=np.uint8)
    h, w = round(300 * 0.775), round(451 * 0.775)  # the scripts' gallery and examples crop so
    assert np.array_equal(reframe(rgb, 0.775 ** 2, (0, 0)), rgb[:h, :w][:, ::-1])
    assert np.array_equal(reframe(rgb, 0.775 ** 2, (0, 1)), rgb[:h, 451 - w:][:, ::-1])
    with pytest.raises(ValueError, match="area"):
        reframe(rgb, 0)


def test_incoherence_is_zero_for_one_colour_per_region_and_high_for_noise():
    import torch

    from artcolor.evaluation.metrics import incoherence

    labels = np.repeat(np.arange(4), 16).reshape(8, 8)
    flat = np.zeros((8, 8, 3), np.uint8)
    for region, colour in enumerate([(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30)]):
        flat[labels == region] = colour
    as_tensor = lambda a: torch.from_numpy(a.copy()).permute(2, 0, 1)[None].float() / 255  # noqa: E731
    assert incoherence(as_tensor(flat), labels) == pytest.approx(0, abs=1e-9)
    noise = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    assert incoherence(as_tensor(noise), labels) > 0.7
    assert math.isnan(incoherence(as_tensor(np.full((8, 8, 3), 128, np.uint8)), labels))


def test_graph_segments_follow_colour_edges_of_any_shape():
    from artcolor.evaluation.metrics import graph_segments

    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[:, :20] = (200, 40, 40)
    rgb[20:, 20:] = (40, 40, 200)  # an L-shaped region and two rectangles: not what a grid of superpixels cuts
    labels = graph_segments(rgb)
    assert labels.shape == (48, 64)
    dominant = []
    for region in (rgb[..., 0] == 200, rgb[..., 2] == 200, rgb.sum(-1) == 0):
        counts = np.bincount(labels[region])
        dominant.append(counts.argmax())
        assert counts.max() > 0.8 * region.sum()  # each region is mostly one segment (its blurred border aside)
    assert len(set(dominant)) == 3


def test_a_contact_sheet_shows_input_reference_outputs_and_ground_truth(data, tmp_path):
    from artcolor.evaluation.harness import as_method, load_folder
    from artcolor.evaluation.sheet import TILE, contact_sheet, pairs

    photos, paintings = load_folder(data / "photos", size=48), load_folder(data / "paintings", 2, size=48)
    sheet = contact_sheet([as_method("gray"), as_method("welsh")], photos, paintings, rows=3)
    assert sheet.size == (TILE * 5, 18 + TILE * 3)  # input, reference, two methods, ground truth; three pairs
    cell = np.asarray(sheet)[18 + TILE // 2, 4 * TILE + 2:5 * TILE - 2]  # the first row's ground truth
    assert np.ptp(cell.astype(int), axis=0).max() > 20  # a colour photo there, not blank
    assert pairs(3, 2, 8) == [(0, 0), (1, 1), (2, 0)]
    with pytest.raises(ValueError, match="rows"):
        pairs(3, 2, 0)


def test_cli_writes_a_contact_sheet_and_takes_the_coherence(data, tmp_path):
    result = CliRunner().invoke(main, ["evaluate", "--photos", str(data / "photos"), "--paintings", str(data / "paintings"),
                                       "--k", "2", "--size", "48", "--preset", "tiny", "--mode", "reference",
                                       "--sheet", str(tmp_path / "sheet.jpg"), "--sheet-rows", "2"])
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "sheet.jpg").size[1] == 18 + 2 * 176
    refused = CliRunner().invoke(main, ["evaluate", "--photos", str(data / "photos"), "--method", "gray",
                                        "--mode", "automatic", "--coherence", "0.5"])
    assert refused.exit_code != 0 and "--coherence" in refused.output


def test_the_transfer_baseline_takes_the_reference_distribution():
    import torch

    from artcolor.evaluation.compositions import pixel_bank
    from artcolor.model.correspondence import palette_transfer

    g = torch.Generator().manual_seed(0)
    ab = torch.randn(1, 2, 40, 50, generator=g) * 5
    ref = torch.randn(3000, 2, generator=g) * torch.tensor([20.0, 8.0]) + torch.tensor([30.0, -10.0])
    moved = palette_transfer(ab, pixel_bank(ref)).flatten(2)[0].T  # (2000, 2)
    assert torch.allclose(moved.mean(0), ref.mean(0), atol=1.0)
    assert torch.allclose(moved.std(0), ref.std(0), rtol=0.1)
    before = ab.flatten(2)[0].T
    for i in range(2):  # a global, monotone map: what was redder (yellower) stays so
        assert torch.corrcoef(torch.stack([before[:, i], moved[:, i]]))[0, 1] > 0.9


def test_compositions_need_an_encoder():
    from artcolor.evaluation.compositions import method

    with pytest.raises(ValueError, match="encoder"):
        method("transfer", Colorizer.from_preset("tiny"))

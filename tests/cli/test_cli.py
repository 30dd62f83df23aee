"""The `artcolor` command: version, and `colorize` over folders with a saved model (--weights)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import artcolor


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(np.int32)


@pytest.fixture
def photos(tmp_path, coffee, chelsea, gray_photo) -> Path:
    """A folder of inputs: a colour JPEG, an odd-sized gray PNG and a JPEG two folders down."""
    folder = tmp_path / "in"
    (folder / "nested" / "deeper").mkdir(parents=True)
    coffee.save(folder / "colour.jpg", quality=90)
    gray_photo.resize((333, 517)).save(folder / "gray_odd.png")
    chelsea.save(folder / "nested" / "deeper" / "cat.jpg", quality=90)
    return folder


@pytest.fixture
def photos_and_junk(photos, coffee) -> Path:
    """The same folder plus a truncated JPEG, text named .jpg and a text file that is no image."""
    coffee.save(photos / "whole.jpg", quality=90)
    data = (photos / "whole.jpg").read_bytes()
    (photos / "whole.jpg").unlink()
    (photos / "broken.jpg").write_bytes(data[: len(data) // 3])
    (photos / "nested" / "notes.jpg").write_text("these are notes, not a photo")
    (photos / "readme.txt").write_text("not picked up: not an image suffix")
    return photos


EXPECTED = {"colour.jpg": (96, 64), "gray_odd.png": (333, 517), "nested/deeper/cat.jpg": (95, 63)}


def output_files(folder: Path) -> dict[str, tuple[int, int]]:
    sizes = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        with Image.open(path) as im:
            sizes[path.relative_to(folder).as_posix()] = im.size
    return sizes


# ---- version


def test_version_from_the_console_script():
    script = Path(sys.executable).with_name("artcolor")
    if not script.exists():
        pytest.skip("the artcolor console script is not installed beside this Python")
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and artcolor.__version__ in result.stdout


def test_version_from_python_m():
    result = subprocess.run([sys.executable, "-m", "artcolor", "--version"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and artcolor.__version__ in result.stdout


# ---- a folder with photos and junk


def test_folder_is_mirrored_and_bad_files_reported(photos_and_junk, model_dir, tmp_path):
    # a real process, so what reaches the terminal is what a user sees
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(
        [sys.executable, "-m", "artcolor", "colorize", str(photos_and_junk), "-o", str(out),
         "--weights", str(model_dir)],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert result.returncode == 1
    assert output_files(out) == EXPECTED  # same relative paths and sizes; nothing for the bad files, no temp files
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    broken = [line for line in lines if "broken.jpg" in line]
    notes = [line for line in lines if "notes.jpg" in line]
    assert broken and "decode" in broken[0]
    assert notes and "not an image" in notes[0]
    assert "readme.txt" not in result.stderr + result.stdout


def test_files_in_flight_together_give_what_one_at_a_time_gives(run_cli, photos_and_junk, model_dir, tmp_path):
    # --workers overlaps files; the outputs, the failures and their order must not change
    results = {}
    for workers in (1, 3):
        out = tmp_path / f"out{workers}"
        code, stdout, stderr = run_cli("colorize", photos_and_junk, "-o", out, "--weights", model_dir,
                                       "--workers", workers)
        files = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
        results[workers] = code, stdout.replace(str(out), "OUT"), stderr, files
    assert results[1][0] == 1 and "3 colourised, 2 failed" in results[1][1]
    assert results[3] == results[1] and sorted(results[1][3]) == sorted(EXPECTED)


def test_outputs_are_coloured_versions_of_the_inputs(run_cli, photos, model_dir, tmp_path):
    code, _, _ = run_cli("colorize", photos, "-o", tmp_path / "out", "--weights", model_dir)
    assert code == 0
    for rel in EXPECTED:
        out = pixels(tmp_path / "out" / rel)
        assert np.abs(out[..., 0] - out[..., 2]).mean() > 2  # coloured, not gray
        gray_in = np.asarray(Image.open(photos / rel).convert("L")).astype(np.int32)
        gray_out = np.asarray(Image.open(tmp_path / "out" / rel).convert("L")).astype(np.int32)
        assert np.corrcoef(gray_in.ravel(), gray_out.ravel())[0, 1] > 0.8  # the same picture


def test_existing_outputs_are_skipped_then_replaced_with_overwrite(run_cli, photos, model_dir, tmp_path):
    out = tmp_path / "out"
    assert run_cli("colorize", photos, "-o", out, "--weights", model_dir)[0] == 0
    fresh = pixels(out / "colour.jpg")
    Image.new("RGB", (96, 64), (255, 0, 0)).save(out / "colour.jpg")  # stands in for an older result
    marker = (out / "colour.jpg").read_bytes()

    code, stdout, _ = run_cli("colorize", photos, "-o", out, "--weights", model_dir)
    assert code == 0 and "3 skipped" in stdout
    assert (out / "colour.jpg").read_bytes() == marker

    code, stdout, _ = run_cli("colorize", photos, "-o", out, "--weights", model_dir, "--overwrite")
    assert code == 0 and "3 colourised" in stdout
    assert np.abs(pixels(out / "colour.jpg") - fresh).max() <= 1  # the same result as the first run


@pytest.mark.parametrize("target", ["folder", "file"])
def test_refuses_to_write_over_an_input(run_cli, photos, model_dir, target):
    before = {p: p.read_bytes() for p in photos.rglob("*") if p.is_file()}
    if target == "folder":
        code, _, stderr = run_cli("colorize", photos, "-o", photos, "--weights", model_dir)
    else:
        code, _, stderr = run_cli("colorize", photos / "colour.jpg", "-o", photos, "--weights", model_dir)
    assert code == 1 and "overwrite an input" in stderr
    assert {p: p.read_bytes() for p in photos.rglob("*") if p.is_file()} == before


# ---- references


def test_palettes_steer_the_colours(run_cli, photos, model_dir, tmp_path):
    src = photos / "colour.jpg"
    for name, colours in [("warm", "#e76f51,#f4a261,e9c46a"), ("cold", "#023e8a,#0096c7,#90e0ef")]:
        assert run_cli("colorize", src, "-o", tmp_path / name, "--weights", model_dir, "--palette", colours)[0] == 0
    warm, cold = pixels(tmp_path / "warm" / "colour.jpg"), pixels(tmp_path / "cold" / "colour.jpg")
    assert np.abs(warm - cold).mean() > 0.5


def test_bad_palette_is_named(run_cli, photos, model_dir, tmp_path):
    code, _, stderr = run_cli("colorize", photos, "-o", tmp_path / "out", "--weights", model_dir,
                              "--palette", "#e76f51,nocolour")
    assert code == 1 and "nocolour" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "out").exists()


def test_style_reference_and_blend(run_cli, photos, model_dir, tmp_path, astronaut, coffee):
    astronaut.save(tmp_path / "a.png")
    coffee.save(tmp_path / "b.png")
    src = photos / "gray_odd.png"
    runs = {
        "auto": [],
        "a": ["--style", tmp_path / "a.png"],
        "a_only": ["--style", tmp_path / "a.png", "--style", tmp_path / "b.png", "--style-weights", "1,0"],
        "a_weak": ["--style", tmp_path / "a.png", "--strength", "0"],
    }
    for name, extra in runs.items():
        assert run_cli("colorize", src, "-o", tmp_path / name, "--weights", model_dir, *extra)[0] == 0
    result = {name: pixels(tmp_path / name / "gray_odd.png") for name in runs}
    assert np.abs(result["a"] - result["auto"]).mean() > 0.5
    assert np.array_equal(result["a_only"], result["a"])
    assert np.array_equal(result["a_weak"], result["auto"])


def test_style_weights_must_match_the_styles(run_cli, photos, model_dir, tmp_path, coffee):
    coffee.save(tmp_path / "b.png")
    code, _, stderr = run_cli("colorize", photos, "-o", tmp_path / "out", "--weights", model_dir,
                              "--style", tmp_path / "b.png", "--style-weights", "1,2")
    assert code == 2 and "--style-weights" in stderr  # a usage error
    assert not (tmp_path / "out").exists()


# ---- usage errors


def test_missing_weights_folder_is_named(run_cli, photos, tmp_path):
    code, _, stderr = run_cli("colorize", photos, "-o", tmp_path / "out", "--weights", tmp_path / "nowhere")
    assert code == 1 and "nowhere" in stderr and "Traceback" not in stderr


def test_missing_input_is_named(run_cli, model_dir, tmp_path):
    code, _, stderr = run_cli("colorize", tmp_path / "ghost.jpg", "-o", tmp_path / "out", "--weights", model_dir)
    assert code == 1 and "ghost.jpg" in stderr


def test_an_output_folder_inside_the_inputs_is_not_read_back(run_cli, photos, model_dir):
    out = photos / "out"
    assert run_cli("colorize", photos, "-o", out, "--weights", model_dir)[0] == 0
    code, stdout, _ = run_cli("colorize", photos, "-o", out, "--weights", model_dir, "--overwrite")
    assert code == 0 and "3 colourised" in stdout
    assert not (out / "out").exists()


def test_torchrun_splits_the_inputs_across_processes(photos, model_dir, tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torchrun not installed")
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([str(torchrun), "--nproc_per_node", "2", "--master_port", str(29700 + os.getpid() % 200),
                           "-m", "artcolor", "colorize", str(photos), "-o", str(out), "--weights", str(model_dir)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert output_files(out) == EXPECTED
    # each process reports its own share: 3 inputs over 2 processes
    assert sorted(line.split()[0] for line in proc.stdout.splitlines() if "colourised" in line) == ["1", "2"]


def test_help_lists_the_commands_without_importing_torch():
    code = ("import sys; from artcolor.cli import main\n"
            "try: main(['--help'])\nexcept SystemExit: pass\nprint('torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    for name in ("colorize", "train", "evaluate", "demo", "export"):
        assert name in proc.stdout
    assert proc.stdout.strip().endswith("False")

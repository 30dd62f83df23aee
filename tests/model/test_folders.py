"""Model folders (model/folders.py): saved and loaded with the same outputs, no pickle, and every way a
folder can be wrong named."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open

from artcolor import Colorizer
from artcolor.config import ModelConfig
from artcolor.model import BUNDLED


def pixels(im: Image.Image) -> np.ndarray:
    return np.asarray(im).astype(np.int32)


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(pixels(a) - pixels(b)).mean())


def test_save_and_load_give_the_same_output(tiny_perturbed, gray_photo, palettes, tmp_path):
    tiny_perturbed.save(tmp_path / "model")
    names = {p.name for p in (tmp_path / "model").iterdir()}
    assert {"config.json", "model.safetensors"} <= names
    assert not [n for n in names if n.startswith(".") or n.endswith((".tmp", ".bin", ".pt", ".pth", ".pkl"))]
    loaded = Colorizer.load(tmp_path / "model")
    assert loaded.config == tiny_perturbed.config
    for style in (None, palettes[0]):
        before, after = (c.colorize(gray_photo, style=style) for c in (tiny_perturbed, loaded))
        assert np.array_equal(pixels(before), pixels(after))


def test_model_folder_holds_no_pickle(tiny_perturbed, tmp_path):
    tiny_perturbed.save(tmp_path / "model")
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert ModelConfig.from_dict(config["model"]) == tiny_perturbed.config
    with safe_open(str(tmp_path / "model" / "model.safetensors"), framework="pt") as f:
        keys = set(f.keys())
    assert keys == set(tiny_perturbed.net.state_dict())
    assert not (tmp_path / "model" / "model.safetensors").read_bytes().startswith(b"\x80")  # no pickle opcode


def test_half_precision_folder_loads_close(tiny_perturbed, gray_photo, tmp_path):
    tiny_perturbed.save(tmp_path / "model", dtype=torch.float16)
    loaded = Colorizer.load(tmp_path / "model")
    assert mean_abs_diff(loaded.colorize(gray_photo), tiny_perturbed.colorize(gray_photo)) < 1.0


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        Colorizer.load(tmp_path / "nowhere")


def test_missing_weights_file_is_named(model_dir, tmp_path):
    (tmp_path / "config.json").write_bytes((model_dir / "config.json").read_bytes())
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        Colorizer.load(tmp_path)


def test_no_bundled_model_says_what_to_do():
    if (BUNDLED / "model.safetensors").is_file():
        pytest.skip("a bundled model is installed")
    with pytest.raises(FileNotFoundError, match="--weights"):
        Colorizer.load()


def copy_folder(src, dst):
    dst.mkdir()
    for name in ("config.json", "model.safetensors"):
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


def edit_config(folder, **changes):
    path = folder / "config.json"
    data = json.loads(path.read_text())
    data["model"].update(changes)
    path.write_text(json.dumps(data))


def test_unknown_config_key_is_named(model_dir, tmp_path):
    folder = copy_folder(model_dir, tmp_path / "m")
    edit_config(folder, dropout=0.1)
    with pytest.raises(ValueError, match=r"config.json.*dropout"):
        Colorizer.load(folder)


def test_mismatched_shapes_are_named(model_dir, tmp_path):
    folder = copy_folder(model_dir, tmp_path / "m")
    edit_config(folder, channels=[8, 8, 32])
    with pytest.raises(ValueError, match=r"shape .*config.json"):
        Colorizer.load(folder)


def test_missing_layers_are_named(model_dir, tmp_path):
    folder = copy_folder(model_dir, tmp_path / "m")
    edit_config(folder, blocks=[1, 1, 2])
    with pytest.raises(ValueError, match=r"do not match config.json.*missing"):
        Colorizer.load(folder)


@pytest.mark.parametrize("keep", [0, 5, 0.5, 0.99])
def test_truncated_weights_are_named(model_dir, tmp_path, keep):
    folder = copy_folder(model_dir, tmp_path / "m")
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: int(keep * len(data)) if keep < 1 else keep])
    with pytest.raises(ValueError, match="model.safetensors"):
        Colorizer.load(folder)

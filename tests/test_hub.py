"""Model folders in the Hugging Face Hub layout: the model card, and loading without huggingface_hub."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest
import yaml
from PIL import Image

from artcolor import Colorizer
from artcolor.hub import model_card, write_model_card


@pytest.fixture
def folder(tiny_perturbed, tmp_path):
    path = tmp_path / "model"
    tiny_perturbed.save(path)
    return path


def front_matter(card: str) -> dict:
    match = re.match(r"---\n(.*?)\n---\n", card, re.S)
    assert match, "a model card starts with YAML front matter between --- lines"
    return yaml.safe_load(match.group(1))


def test_saved_folder_has_config_weights_and_card(folder):
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    meta = front_matter((folder / "README.md").read_text())
    assert meta["library_name"] == "artcolor"
    assert meta["license"] == "mit"
    assert "image-colorization" in meta["tags"]


def test_card_describes_the_config(tiny_perturbed):
    card = model_card(tiny_perturbed.config)
    assert f"channels {tiny_perturbed.config.channels}" in card
    assert f"style code of {tiny_perturbed.config.code_dim} numbers" in card
    assert "4 lightness bands x 2 learned classes" in card


def test_hand_edited_card_is_kept(tiny_perturbed, folder):
    (folder / "README.md").write_text("my notes\n")
    tiny_perturbed.save(folder)
    assert (folder / "README.md").read_text() == "my notes\n"
    assert write_model_card(folder, tiny_perturbed.config, overwrite=True)
    assert (folder / "README.md").read_text().startswith("---\nlibrary_name: artcolor")


def test_card_usage_example_runs(folder, tmp_path, monkeypatch, gray_photo, coffee):
    """The card's Python example, with its placeholder paths filled in."""
    code = re.search(r"```python\n(.*?)```", (folder / "README.md").read_text(), re.S).group(1)
    code = code.replace("path/to/this/folder", str(folder))
    gray_photo.save(tmp_path / "photo.jpg")
    coffee.save(tmp_path / "painting.jpg")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    with Image.open(tmp_path / "photo_colour.png") as im:
        assert im.size == gray_photo.size


def test_local_folder_loads_offline_without_huggingface_hub(folder, gray_photo, palettes, monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # any import of it now fails
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = Colorizer.load(folder)
    out = np.asarray(loaded.colorize(gray_photo, style=palettes[0]))
    assert out.shape == (*gray_photo.size[::-1], 3)


def test_huggingface_hub_reads_the_folder_layout(folder, monkeypatch):
    pytest.importorskip("huggingface_hub")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from huggingface_hub import ModelCard, constants

    for name in (constants.CONFIG_NAME, constants.SAFETENSORS_SINGLE_FILE, constants.REPOCARD_NAME):
        assert (folder / name).is_file(), name
    card = ModelCard.load(folder / constants.REPOCARD_NAME)
    assert card.data.library_name == "artcolor"
    assert "style-transfer" in card.data.tags

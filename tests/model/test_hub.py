"""Model folders in the Hub layout: the model card, loading without huggingface_hub, hf:// models read offline, publishing."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml
from conftest import perturbed_colorizer
from PIL import Image

from artcolor import Colorizer, palette_image
from artcolor.config import preset
from artcolor.model.card import model_card, write_model_card


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


# ---- hf://ORG/NAME[@REVISION], read offline from a cache laid out as huggingface_hub writes it


def cache_model(cache: Path, repo_id: str, folder: Path, revision: str = "main") -> str:
    """Put a model folder into a Hugging Face cache as `revision` of `repo_id`; returns its commit hash."""
    commit = hashlib.sha1(f"{repo_id}@{revision}".encode()).hexdigest()
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    shutil.copytree(folder, repo / "snapshots" / commit)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / revision).write_text(commit)
    return commit


@pytest.fixture
def hub(tmp_path, monkeypatch, folder):
    """An offline Hugging Face cache holding ORG/tiny: main is `folder`, v2 another model; -> (cache, commit of main)."""
    pytest.importorskip("huggingface_hub")
    cache = tmp_path / "hf-cache"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    other = tmp_path / "other"
    perturbed_colorizer("tiny", seed=1).save(other)
    commit = cache_model(cache, "artcolor-test/tiny", folder)
    cache_model(cache, "artcolor-test/tiny", other, revision="v2")
    return cache, commit


def outputs(colorizer: Colorizer, photo, style) -> np.ndarray:
    return np.asarray(colorizer.colorize(photo, style=style)).astype(np.int32)


def test_load_from_the_hub_cache_offline_at_a_revision(hub, folder, gray_photo, palettes):
    _, commit = hub
    local = outputs(Colorizer.load(folder), gray_photo, palettes[0])
    for spec in ("hf://artcolor-test/tiny", f"hf://artcolor-test/tiny@{commit}", "hf://artcolor-test/tiny@main"):
        assert np.array_equal(outputs(Colorizer.load(spec), gray_photo, palettes[0]), local), spec
    v2 = outputs(Colorizer.load("hf://artcolor-test/tiny@v2"), gray_photo, palettes[0])
    assert np.abs(v2 - local).max() > 10, "the v2 revision is another model"


@pytest.mark.parametrize("spec, error, message", [
    ("hf://artcolor-test/missing", FileNotFoundError, "hf://artcolor-test/missing: not in the local Hugging Face cache"),
    ("hf://artcolor-test/tiny@v9", FileNotFoundError, "hf://artcolor-test/tiny@v9: not in the local"),
    ("hf://just-a-name", ValueError, "expected hf://ORG/NAME or hf://ORG/NAME@REVISION"),
    ("hf://artcolor-test/tiny@", ValueError, "expected hf://ORG/NAME"),
])
def test_a_model_not_in_the_cache_is_a_clear_error(hub, spec, error, message):
    with pytest.raises(error, match=re.escape(message)):
        Colorizer.load(spec)


def test_every_command_takes_weights_from_the_hub(hub, folder, run_cli, tmp_path, gray_photo, coffee, monkeypatch):
    spec = "hf://artcolor-test/tiny"
    gray_photo.save(tmp_path / "photo.png")
    (tmp_path / "refs").mkdir()
    for i, tint in enumerate(([230, 110, 80], [40, 150, 140])):
        Image.new("RGB", (40, 30), tuple(tint)).save(tmp_path / "refs" / f"r{i}.png")
    # colorize: the hub model's output
    code, _, err = run_cli("colorize", tmp_path / "photo.png", "-o", tmp_path / "out", "--weights", spec,
                           "--palette", "#e76f51,#2a9d8f")
    assert code == 0, err
    expected = Colorizer.load(folder).colorize(gray_photo, style=palette_image(["#e76f51", "#2a9d8f"]))
    with Image.open(tmp_path / "out" / "photo.png") as im:
        assert np.array_equal(np.asarray(im), np.asarray(expected))
    # evaluate: the row is named after the repository
    code, out, err = run_cli("evaluate", "--photos", tmp_path / "refs", "--paintings", tmp_path / "refs",
                             "--k", "2", "--size", "32", "--weights", spec)
    assert code == 0, err
    assert f"| {spec} |" in out
    # demo: the app gets the hub model
    import artcolor.app

    served = []
    monkeypatch.setattr(artcolor.app, "build_app", lambda colorizer, references: served.append(colorizer))
    monkeypatch.setattr(artcolor.app, "launch", lambda *args, **kwargs: None)
    code, _, err = run_cli("demo", "--weights", spec)
    assert code == 0, err
    assert served[0].config == Colorizer.load(folder).config
    # the same, for a name the cache lacks: exit 1, the name in the message
    for args in (["colorize", tmp_path / "photo.png", "-o", tmp_path / "x"], ["demo"],
                 ["evaluate", "--photos", tmp_path / "refs", "--paintings", tmp_path / "refs", "--k", "2"]):
        code, _, err = run_cli(*args, "--weights", "hf://artcolor-test/missing")
        assert code == 1 and "hf://artcolor-test/missing: not in the local Hugging Face cache" in err, args


def test_export_and_the_onnx_colorizer_take_the_hub(hub, folder, run_cli, tmp_path, gray_photo):
    pytest.importorskip("onnxruntime")
    from artcolor.onnx import OnnxColorizer

    code, _, err = run_cli("export", "--weights", "hf://artcolor-test/tiny", tmp_path / "export")
    assert code == 0, err
    cache, _ = hub
    cache_model(cache, "artcolor-test/tiny-onnx", tmp_path / "export")  # an uploaded export folder
    got = OnnxColorizer("hf://artcolor-test/tiny-onnx").colorize(gray_photo)
    expected = Colorizer.load(folder).colorize(gray_photo)
    assert got.size == gray_photo.size
    assert np.abs(np.asarray(got).astype(int) - np.asarray(expected).astype(int)).max() <= 1
    code, _, err = run_cli("export", "--weights", "hf://artcolor-test/missing", tmp_path / "x")
    assert code == 1 and "hf://artcolor-test/missing: not in the local Hugging Face cache" in err


def test_train_init_from_the_hub(hub, folder, run_cli, tmp_path):
    from safetensors.torch import load_file

    rng = np.random.default_rng(0)
    (tmp_path / "photos").mkdir()
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).resize((40, 36)).save(tmp_path / "photos" / f"{i}.png")
    args = ["train", "--config", "tiny", "--photos", tmp_path / "photos", "--steps", "1", "--set", "optim.lr=1e-9",
            "--set", "optim.warmup=1", "--set", "optim.ema=0", "--set", "val_every=1", "--set", "threads=1"]
    code, _, err = run_cli(*args, "--out", tmp_path / "run", "--init", "hf://artcolor-test/tiny")
    assert code == 0, err
    a, b = load_file(folder / "model.safetensors"), load_file(tmp_path / "run" / "model" / "model.safetensors")
    for k in a:  # one step at a negligible learning rate: the weights are the hub model's
        assert np.allclose(a[k].numpy(), b[k].numpy(), rtol=1e-4, atol=1e-5), k
    code, _, err = run_cli(*args, "--out", tmp_path / "run2", "--init", "hf://artcolor-test/missing")
    assert code == 1 and "hf://artcolor-test/missing: not in the local Hugging Face cache" in err


def test_cli_reads_the_hub_cache_named_by_the_environment(hub, folder, tmp_path, gray_photo):
    """A fresh process, as a user runs it: HF_HUB_CACHE and HF_HUB_OFFLINE=1 set before anything imports."""
    cache, _ = hub
    gray_photo.save(tmp_path / "photo.png")
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    for spec, code in (("hf://artcolor-test/tiny@v2", 0), ("hf://artcolor-test/nothing", 1)):
        proc = subprocess.run([sys.executable, "-m", "artcolor", "colorize", str(tmp_path / "photo.png"), "-o",
                               str(tmp_path / "out"), "--weights", spec, "--overwrite"],
                              env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == code, proc.stderr
    assert "hf://artcolor-test/nothing: not in the local Hugging Face cache" in proc.stderr
    with Image.open(tmp_path / "out" / "photo.png") as im:
        assert im.size == gray_photo.size


class FakeApi:
    """Records what HfApi would have been asked to do, and what the uploaded folder held."""

    calls: list = []

    def __init__(self, token=None, **kwargs):
        self.token = token

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))

    def upload_folder(self, repo_id, folder_path, **kwargs):
        files = sorted(p.name for p in Path(folder_path).iterdir())
        config = json.loads((Path(folder_path) / "config.json").read_text())
        self.calls.append(("upload_folder", repo_id, files, config, self.token))
        return SimpleNamespace(commit_url=f"https://huggingface.co/{repo_id}/commit/abc")


def test_push_to_hub_uploads_the_model_folder(tiny_perturbed, monkeypatch):
    huggingface_hub = pytest.importorskip("huggingface_hub")
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    FakeApi.calls = []
    url = tiny_perturbed.push_to_hub("me/my-model", private=True, token="t0k")
    assert url == "https://huggingface.co/me/my-model/commit/abc"
    (create, repo, kwargs), (upload, repo2, files, config, token) = FakeApi.calls
    assert (create, repo, kwargs["exist_ok"], kwargs["private"]) == ("create_repo", "me/my-model", True, True)
    assert (upload, repo2, token) == ("upload_folder", "me/my-model", "t0k")
    assert files == ["README.md", "config.json", "model.safetensors"]
    assert config["model"] == json.loads(json.dumps(tiny_perturbed.config.to_dict()))
    with pytest.raises(ValueError, match="repo_id must be ORG/NAME, got 'no slash'"):
        tiny_perturbed.push_to_hub("no slash")


def test_card_credits_the_pretrained_encoder_and_its_licence():
    card = model_card(preset("default"))
    assert "EfficientNet-Lite0" in card and "Apache-2.0" in card and "colour hints" in card
    assert "EfficientNet" not in model_card(preset("seed"))

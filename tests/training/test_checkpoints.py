"""Weights and checkpoints: no pickle ever runs, damaged files are named, a SIGKILL during a save
leaves the previous checkpoint loadable, and a killed run resumes to the same weights."""

from __future__ import annotations

import csv
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner
from PIL import Image
from safetensors.torch import load_file

from artcolor import Colorizer
from artcolor.cli import main
from artcolor.training import load_config, train
from artcolor.training.checkpoint import load_checkpoint, save_checkpoint

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}


class Payload:
    """Unpickling this creates `marker`: what a malicious weights file or checkpoint would run."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def test_the_payload_would_run_if_unpickled(tmp_path):
    # the guard for the tests below: were the payload loaded with pickle, the marker would appear
    pickle.loads(pickle.dumps(Payload(tmp_path / "ran")))
    assert (tmp_path / "ran").exists()


# ---- model folders: safetensors + JSON only


@pytest.mark.parametrize("writer", ["pickle", "torch.save"])
def test_a_pickle_named_model_safetensors_is_refused_not_run(model_dir, tmp_path, writer):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_bytes((model_dir / "config.json").read_bytes())
    payload = {"downs.0.weight": Payload(tmp_path / "ran")}
    if writer == "pickle":
        (folder / "model.safetensors").write_bytes(pickle.dumps(payload))
    else:
        torch.save(payload, folder / "model.safetensors")
    with pytest.raises(ValueError, match="model.safetensors: cannot read weights"):
        Colorizer.load(folder)
    assert not (tmp_path / "ran").exists()


def test_a_pickle_named_config_json_is_refused_not_run(model_dir, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes((model_dir / "model.safetensors").read_bytes())
    (folder / "config.json").write_bytes(pickle.dumps(Payload(tmp_path / "ran")))
    with pytest.raises(ValueError, match="config.json: cannot read model config"):
        Colorizer.load(folder)
    assert not (tmp_path / "ran").exists()


def edited_folder(model_dir: Path, folder: Path, **changes) -> Path:
    folder.mkdir()
    (folder / "model.safetensors").write_bytes((model_dir / "model.safetensors").read_bytes())
    config = json.loads((model_dir / "config.json").read_text())
    config["model"].update(changes)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize("changes, message", [
    ({"image_size": 0}, "image_size must be a positive integer"),
    ({"style_size": None}, "style_size must be a positive integer"),
    ({"channels": [8.5, 8, 16]}, "channels must be positive integers"),
    ({"enc_convs": "two"}, "enc_convs must be a positive integer"),
    ({"channels": [10**9, 8, 16]}, "cannot be built"),  # would have tried to allocate 36 GB
    ({"style_channels": [10**6, 16]}, "config.json"),  # a 36 GB style encoder: caught by its shapes
])
def test_a_config_json_with_impossible_sizes_is_named(model_dir, tmp_path, changes, message):
    folder = edited_folder(model_dir, tmp_path / "model", **changes)
    with pytest.raises(ValueError, match=message) as info:
        Colorizer.load(folder)
    assert str(folder) in str(info.value)


def test_the_cli_names_a_damaged_model_folder_without_a_traceback(model_dir, tmp_path, gray_photo):
    folder = edited_folder(model_dir, tmp_path / "model", channels=[10**9, 8, 16])
    gray_photo.save(tmp_path / "photo.png")
    result = CliRunner().invoke(main, ["colorize", str(tmp_path / "photo.png"), "-o", str(tmp_path / "out"),
                                       "--weights", str(folder)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "config.json" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


# ---- training checkpoints: weights_only, named when damaged


def small_state(step: int = 3) -> dict:
    return {"model": {"w": torch.arange(6.0)}, "step": step, "best": 0.5, "config": {"seed": 0}}


def test_a_checkpoint_holding_a_pickle_payload_is_refused_not_run(tmp_path):
    path = tmp_path / "checkpoint.pt"
    torch.save({**small_state(), "model": Payload(tmp_path / "ran")}, path)
    with pytest.raises(ValueError, match="checkpoint.pt: cannot load checkpoint"):
        load_checkpoint(path)
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize("keep", [0, 10, 0.5, -1])
def test_a_truncated_checkpoint_is_named(tmp_path, keep):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, small_state())
    data = path.read_bytes()
    path.write_bytes(data[: int(keep * len(data)) if isinstance(keep, float) else keep])
    with pytest.raises(ValueError, match="checkpoint.pt: cannot load checkpoint"):
        load_checkpoint(path)


def test_a_saved_checkpoint_round_trips_plain_data(tmp_path):
    save_checkpoint(tmp_path / "checkpoint.pt", small_state(7))
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["step"] == 7 and torch.equal(state["model"]["w"], torch.arange(6.0))
    assert set(state) >= {"version", "rng", "config"}


def test_a_new_save_removes_temp_files_left_by_a_killed_one(tmp_path):
    path = tmp_path / "checkpoint.pt"
    stale = tmp_path / ".checkpoint.pt.abc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    other = tmp_path / ".model.safetensors.tmp"  # not ours: left alone
    other.write_bytes(b"x")
    save_checkpoint(path, small_state())
    assert not stale.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".model.safetensors.tmp", "checkpoint.pt"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A few smooth random photos and paintings: enough for the tiny preset to train on."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    for sub, n in (("photos", 12), ("paintings", 4)):
        (root / sub).mkdir()
        for i in range(n):
            small = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
            Image.fromarray(small).resize((48, 40), Image.BILINEAR).save(root / sub / f"{i:02d}.png")
    return root


def test_resume_from_a_malicious_checkpoint_is_refused_by_the_cli(data, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    load_config("tiny", [f"data.photos={data / 'photos'}", "threads=1"]).save(run / "config.yaml")
    torch.save({**small_state(), "model": Payload(tmp_path / "ran")}, run / "checkpoint.pt")
    result = CliRunner().invoke(main, ["train", "--resume", str(run)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "checkpoint.pt: cannot load checkpoint" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "ran").exists()


# ---- SIGKILL during a save

SAVER = """
import sys, torch
from artcolor.training.checkpoint import save_checkpoint
path, step = sys.argv[1], int(sys.argv[2])
big = torch.empty(13_000_000)  # 52 MB: a save takes long enough to be killed in the middle
print("ready", flush=True)
while True:
    step += 1
    save_checkpoint(path, {"step": step, "model": {"w": big.fill_(step)}})
    print("saved", step, flush=True)
"""


def test_sigkill_during_saves_leaves_a_loadable_checkpoint(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"step": 0, "model": {"w": torch.zeros(13_000_000)}})
    rng = np.random.default_rng(6)
    step, killed_mid_save = 0, 0
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path), str(step)], env=ENV,
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 1.0))  # a random moment in a stream of saves
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed_mid_save += any(tmp_path.glob(".checkpoint.pt.*.tmp"))
        state = load_checkpoint(path)  # never half a file
        assert state["step"] >= step
        step = state["step"]
        w = state["model"]["w"]
        assert w.numel() == 13_000_000 and bool((w == step).all()), "the checkpoint mixes two saves"
    assert step > 0, "no save finished: the kills came too early to test anything"
    # what a killed save left behind goes with the next save
    save_checkpoint(path, {"step": step + 1, "model": {"w": torch.zeros(1)}})
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]
    print(f"{killed_mid_save} of 3 kills landed during a save")


# ---- SIGKILL during training, then --resume


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(run / "model" / "model.safetensors")


def logged_steps(run: Path) -> int:
    try:
        return len(list(csv.DictReader((run / "metrics.csv").open())))
    except (OSError, ValueError):
        return 0


def test_sigkill_at_a_random_step_then_resume_gives_the_uninterrupted_weights(data, tmp_path):
    steps = 16
    sets = [f"data.photos={data / 'photos'}", f"data.paintings={data / 'paintings'}", "threads=1",
            f"optim.steps={steps}", "ckpt_every=1", "log_every=1", "val_every=1000"]
    train(load_config("tiny", sets), tmp_path / "whole")

    run = tmp_path / "killed"
    kill_at = int(np.random.default_rng(24).integers(3, steps - 3))  # seeded: the same step every time
    args = [a for s in sets for a in ("--set", s)]
    proc = subprocess.Popen([sys.executable, "-m", "artcolor", "train", "--config", "tiny", "--out", str(run), *args],
                            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while logged_steps(run) < kill_at and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, f"the run ended before step {kill_at}: {proc.communicate()[1][-2000:]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = load_checkpoint(run / "checkpoint.pt")["step"]
    assert 0 < killed_at < steps and not (run / "model").exists()

    resumed = subprocess.run([sys.executable, "-m", "artcolor", "train", "--resume", str(run)],
                             env=ENV, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    whole, split = weights(tmp_path / "whole"), weights(run)
    assert whole.keys() == split.keys()
    for k in whole:
        torch.testing.assert_close(split[k], whole[k], rtol=1e-5, atol=1e-6)
    def logged(folder):
        return [int(r["step"]) for r in csv.DictReader((folder / "metrics.csv").open())]

    assert logged(run) == logged(tmp_path / "whole")


def test_train_cli_reports_a_missing_dataset_and_an_unwritable_folder_without_a_traceback(data, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the run folder should be")
    for args, message in [
        (["--photos", str(tmp_path / "no-such-folder"), "--out", str(tmp_path / "run")], "no-such-folder"),
        (["--photos", str(data / "photos"), "--out", str(blocker / "run")], "not writable"),
    ]:
        result = CliRunner().invoke(main, ["train", "--config", "tiny", *args])
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
        assert message in result.output and "Traceback" not in result.output
    assert not list(tmp_path.rglob("checkpoint.pt"))


def test_resume_trims_the_log_whole_or_not_at_all(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from artcolor.inputs import images as image
    from artcolor.training.diagnostics import COLUMNS, Diagnostics

    log = tmp_path / "metrics.csv"
    with log.open("w", newline="") as f:
        w = csv.DictWriter(f, COLUMNS)
        w.writeheader()
        w.writerows({"step": s, "loss": 1 / s} for s in (20, 40, 60))
    before = log.read_bytes()
    run = SimpleNamespace(csv=log)

    def crash(*args):
        raise OSError("disk full")

    with monkeypatch.context() as m:
        m.setattr(image.os, "replace", crash)
        with pytest.raises(OSError, match="disk full"):
            Diagnostics.truncate_after(run, 40)
    assert log.read_bytes() == before and os.listdir(tmp_path) == ["metrics.csv"]

    Diagnostics.truncate_after(run, 40)
    assert [int(r["step"]) for r in csv.DictReader(log.open())] == [20, 40]


def test_a_run_saved_before_the_palette_existed_resumes_without_one(data, tmp_path):
    """Keys newer than a run's config.yaml take the dataclass defaults (features off), not the
    `default` preset's: its 16 x 8 palette would not fit the checkpoint's network."""
    run = tmp_path / "run"
    sets = [f"data.photos={data / 'photos'}", "data.paintings=null", "threads=1", "model.palette_bins=0"]
    result = CliRunner().invoke(main, ["train", "--config", "tiny", "--out", str(run), "--until", "5",
                                       *(x for s in sets for x in ("--set", s))])
    assert result.exit_code == 0, result.output
    saved = yaml.safe_load((run / "config.yaml").read_text())
    for key in ("palette_bins", "palette_classes"):  # as an older version wrote it
        del saved["model"][key]
    (run / "config.yaml").write_text(yaml.safe_dump(saved, sort_keys=False))

    result = CliRunner().invoke(main, ["train", "--resume", str(run)])
    assert result.exit_code == 0, result.output
    assert load_checkpoint(run / "checkpoint.pt")["step"] == 20
    assert Colorizer.load(run / "model").config.palette_bins == 0

    saved["model"]["palette_bins"] = 4  # a config that does not describe the checkpoint: named, no traceback
    (run / "config.yaml").write_text(yaml.safe_dump(saved, sort_keys=False))
    result = CliRunner().invoke(main, ["train", "--resume", str(run), "--steps", "30"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "checkpoint.pt: does not fit the network of" in result.output and "Traceback" not in result.output

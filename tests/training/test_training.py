"""Training: a tiny run writes every artefact, resumes exactly, survives SIGKILL, scales to 2 processes."""

from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from artcolor import Colorizer
from artcolor.training import TrainingError, load_config, train
from artcolor.training.progress import duration

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}


def smooth_image(rng: np.random.Generator, size=(48, 40)) -> Image.Image:
    """A colourful, smooth random image: a bilinear blow-up of a 4x4 grid of colours."""
    small = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    return Image.fromarray(small).resize(size, Image.BILINEAR)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    for sub, n in (("photos", 14), ("paintings", 6)):
        (root / sub / "nested").mkdir(parents=True)
        for i in range(n):
            folder = root / sub / ("nested" if i % 3 == 0 else "")
            smooth_image(rng).save(folder / f"{sub}_{i:02d}.png")
    (root / "photos" / "broken.jpg").write_bytes(b"this is not a jpeg")
    return root


def tiny(data: Path, **overrides):
    sets = [f"data.photos={data / 'photos'}", f"data.paintings={data / 'paintings'}", "threads=1"]
    return load_config("tiny", sets + [f"{k}={v}" for k, v in overrides.items()])


def rows(run: Path) -> list[dict]:
    return list(csv.DictReader((run / "metrics.csv").open()))


def test_tiny_run_writes_every_artefact(data, tmp_path):
    run = tmp_path / "run"
    with pytest.warns(UserWarning, match="broken.jpg"):
        model_dir = train(tiny(data), run)
    for name in ("config.yaml", "metrics.csv", "checkpoint.pt", "plots/losses.png", "plots/sensitivity.png",
                 "best/model.safetensors", "model/config.json", "model/model.safetensors"):
        assert (run / name).is_file(), name
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_0000010.png", "step_0000020.png"]
    assert len(list((run / "style").iterdir())) == 2
    log = rows(run)
    assert list(log[0])[0] == "step"
    assert int(log[-1]["step"]) == 20
    validated = [r for r in log if r["val_psnr_self"]]
    assert len(validated) == 2 and all(float(r["val_psnr_auto"]) > 5 for r in validated)
    assert all(r["val_retrieval"] != "" and r["val_sensitivity"] != "" for r in validated)
    assert int(log[-1]["skipped"] or max(int(r["skipped"] or 0) for r in log)) >= 1
    out = Colorizer.load(model_dir).colorize(smooth_image(np.random.default_rng(1), (37, 21)))
    assert out.size == (37, 21)


def test_training_moves_the_weights_and_lowers_the_loss(data, tmp_path):
    cfg = tiny(data, **{"optim.steps": 30, "val_every": 30, "ckpt_every": 30, "log_every": 5, "optim.lr": 3e-3})
    train(cfg, tmp_path / "run")
    losses = [float(r["loss"]) for r in rows(tmp_path / "run") if r["loss"]]
    assert np.mean(losses[-2:]) < np.mean(losses[:2])


def test_resume_matches_an_uninterrupted_run(data, tmp_path):
    train(tiny(data, **{"optim.steps": 10, "ckpt_every": 5}), tmp_path / "whole")
    cfg = tiny(data, **{"optim.steps": 10, "ckpt_every": 5})
    train(cfg, tmp_path / "split", until=5)
    train(cfg, tmp_path / "split", resume=True)
    a = load_file(tmp_path / "whole" / "model" / "model.safetensors")
    b = load_file(tmp_path / "split" / "model" / "model.safetensors")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)
    assert [int(r["step"]) for r in rows(tmp_path / "split")] == [int(r["step"]) for r in rows(tmp_path / "whole")]


def test_a_log_file_gets_a_line_every_log_every_steps_and_resume_says_where(data, tmp_path, capsys):
    cfg = tiny(data, **{"optim.steps": 10, "log_every": 4, "val_every": 100, "ckpt_every": 5})
    train(cfg, tmp_path / "run", until=6)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("step ")]
    assert [line.split()[1] for line in lines] == ["4/10", "6/10"]  # every log_every steps, and the last
    pattern = r"step 4/10  loss \d+\.\d{4}  \d+\.\d images/s  ETA \d+s \(stopping at step 6\)"
    assert re.fullmatch(pattern, lines[0]), lines[0]
    train(cfg, tmp_path / "run", resume=True)
    err = capsys.readouterr().err
    assert f"resuming {tmp_path / 'run'} at step 6 of 10" in err
    assert [line.split()[1] for line in err.splitlines() if line.startswith("step ")] == ["8/10", "10/10"]


def test_progress_durations():
    assert [duration(s) for s in (0, 44.6, 200, 7500)] == ["0s", "45s", "3m20s", "2h05m"]


def test_without_photos_training_says_what_to_pass(run_cli, tmp_path):
    for name in ("default", "seed", "tiny"):  # no default names a folder outside the repository
        d = load_config(name).data
        assert (d.photos, d.paintings, d.val_photos, d.val_paintings) == (None, None, None, None), name
    code, _, err = run_cli("train", "--config", "tiny", "--out", tmp_path / "run")
    assert code == 1
    assert "no training photos: pass --photos FOLDER" in err and "--photos hf:NAME" in err


def cli(*args, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "artcolor", *args], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def test_sigkill_then_resume_finishes_at_the_requested_step(data, tmp_path):
    run = tmp_path / "run"
    args = ["train", "--config", "tiny", "--photos", str(data / "photos"), "--paintings", str(data / "paintings"),
            "--out", str(run), "--steps", "400", "--set", "ckpt_every=2", "--set", "val_every=1000"]
    proc = cli(*args)
    deadline = time.time() + 120
    while not (run / "checkpoint.pt").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert (run / "checkpoint.pt").exists(), proc.communicate()[1]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    assert 0 < state["step"] < 400
    resumed = cli("train", "--resume", str(run), "--steps", str(state["step"] + 6))
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert f"resuming {run} at step {state['step']} of {state['step'] + 6}" in err
    assert f"step {state['step'] + 6}/{state['step'] + 6}  loss " in err  # stderr is a pipe: plain lines
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == state["step"] + 6
    assert int(rows(run)[-1]["step"]) == state["step"] + 6
    assert (run / "model" / "model.safetensors").is_file()


@pytest.mark.skipif(shutil.which("torchrun") is None and not Path(sys.executable).with_name("torchrun").exists(),
                    reason="torchrun not installed")
def test_two_processes_keep_identical_weights(data, tmp_path):
    run = tmp_path / "run"
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    proc = subprocess.run([torchrun, "--nproc_per_node", "2", "--master_port", str(29500 + os.getpid() % 1000),
                           "-m", "artcolor", "train", "--config", "tiny", "--photos", str(data / "photos"),
                           "--paintings", str(data / "paintings"), "--out", str(run), "--steps", "6"],
                          env=ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    checksums = __import__("json").loads((run / "ranks.json").read_text())["checksums"]
    assert len(checksums) == 2 and checksums[0] == checksums[1]
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == 6


def test_hf_dataset_from_disk_and_streamed(data, tmp_path):
    datasets = pytest.importorskip("datasets")
    rng = np.random.default_rng(2)
    ds = datasets.Dataset.from_dict({"image": [smooth_image(rng) for _ in range(8)], "label": list(range(8))},
                                    features=datasets.Features({"image": datasets.Image(),
                                                                "label": datasets.Value("int64")}))
    ds.save_to_disk(str(tmp_path / "hf"))
    for streaming in (False, True):
        cfg = tiny(data, **{"data.photos": f"hf:{tmp_path / 'hf'}", "data.hf_streaming": streaming,
                            "optim.steps": 4, "val_every": 4})
        train(cfg, tmp_path / f"run{streaming}")
        assert int(rows(tmp_path / f"run{streaming}")[-1]["step"]) == 4


def test_problems_are_reported_before_training(data, tmp_path):
    with pytest.raises(TrainingError, match="no-such-folder"):
        train(tiny(data, **{"data.photos": str(tmp_path / "no-such-folder")}), tmp_path / "run")
    blocker = tmp_path / "file"
    blocker.write_text("a file where the run folder should be")
    with pytest.raises(TrainingError, match="not writable"):
        train(tiny(data), blocker / "run")


def test_non_finite_loss_stops_and_keeps_the_last_checkpoint(data, tmp_path, monkeypatch):
    from artcolor.training import losses

    run = tmp_path / "run"
    train(tiny(data, **{"optim.steps": 5, "ckpt_every": 5}), run)
    monkeypatch.setattr(losses, "huber_ab", lambda a, b: torch.full((a.shape[0],), float("nan")))
    with pytest.raises(TrainingError, match="non-finite"):
        train(tiny(data, **{"optim.steps": 10, "ckpt_every": 1}), run, resume=True)
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == 5


def test_config_files_and_overrides(tmp_path):
    cfg = load_config("seed", ["optim.lr=1e-4", "recipe.p_none=0.5", "data.paintings=null"])
    assert cfg.model.color_space == "rgb" and cfg.recipe.kind == "seed"
    assert cfg.optim.lr == 1e-4 and cfg.recipe.p_none == 0.5 and cfg.data.paintings is None
    path = tmp_path / "mine.yaml"
    path.write_text("base: tiny\noptim:\n  steps: 7\nmodel:\n  style_dim: 12\n")
    cfg = load_config(str(path))
    assert cfg.optim.steps == 7 and cfg.model.style_dim == 12 and cfg.model.channels == (8, 8, 16)
    with pytest.raises(ValueError, match="unknown"):
        load_config("tiny", ["optim.learning_rate=1"])
    path.write_text("optim:\n  stepz: 7\n")
    with pytest.raises(ValueError, match="stepz"):
        load_config(str(path))


def test_channels_last_trains_like_contiguous(data, tmp_path):
    for name, flag in (("nchw", False), ("nhwc", True)):
        cfg = tiny(data, **{"optim.steps": 3, "val_every": 3, "channels_last": flag})
        train(cfg, tmp_path / name)
    # compared by what they compute: Adam turns float noise in a near-zero gradient (a nearly dead
    # ReLU channel) into a full-size step, so a single weight may differ more than the function does
    a, b = (Colorizer.load(tmp_path / name / "model").net for name in ("nchw", "nhwc"))
    l, ref = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 100, torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        for style in (None, a.encode_style(ref)):
            # ab spans +-110; a just-noticeable colour difference is about 2
            torch.testing.assert_close(a(l, style), b(l, style), rtol=0, atol=0.5)


def test_init_starts_from_a_model_folder(data, tmp_path):
    first = train(tiny(data, **{"optim.steps": 4, "val_every": 4}), tmp_path / "a")
    cfg = tiny(data, **{"optim.steps": 1, "val_every": 1, "optim.lr": 1e-9, "optim.warmup": 1, "optim.ema": 0})
    second = train(cfg, tmp_path / "b", init=first)
    a, b = load_file(first / "model.safetensors"), load_file(second / "model.safetensors")
    for k in a:  # one step at a negligible learning rate: the weights are the first run's
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)
    with pytest.raises(TrainingError, match="differs"):
        train(load_config("seed", [f"data.photos={data / 'photos'}", "optim.steps=1"]), tmp_path / "c", init=first)

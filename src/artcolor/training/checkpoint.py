"""Training checkpoints, one format for both loops (`artcolor train`'s and train-auto's): the weights,
optimiser, schedule, step, config as a plain dict, RNG state and package version, and each loop's own
entries (the EMA and best score; the epoch). Written to a temporary file and renamed (a crash never
leaves half a file), loaded with `weights_only=True` (no pickled code runs)."""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import __version__


def save_state(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer,
               scheduler: torch.optim.lr_scheduler.LRScheduler, step: int, config: dict, **extra) -> None:
    """Checkpoint a loop at `step`; `extra`: the loop's own entries (plain data or state dicts)."""
    save_checkpoint(path, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                           "scheduler": scheduler.state_dict(), "step": step, "config": config, **extra})


def load_state(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer,
               scheduler: torch.optim.lr_scheduler.LRScheduler, network: str = "the network") -> dict:
    """Continue from a `save_state` checkpoint: weights, optimiser, schedule and RNG state restored.
    Returns the checkpoint, for its step and the loop's own entries; `network` names the model in errors."""
    state = load_checkpoint(path)
    missing = sorted({"model", "optimizer", "scheduler", "step", "rng"} - set(state))
    if missing:
        raise ValueError(f"{path}: not a training checkpoint of this version (no {', '.join(missing)})")
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as e:  # other tensor names or shapes: say which, not a page of them
        last = str(e).strip().splitlines()[-1].strip()
        raise ValueError(f"{path}: does not fit {network} ({last})") from None
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    restore_rng(state["rng"])
    return state


def save_checkpoint(path: str | Path, state: dict) -> None:
    """Write `state` with the package version and RNG state, atomically."""
    path = Path(path)
    state = {**state, "version": __version__, "rng": rng_state()}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    for stale in path.parent.glob(f".{path.name}.*.tmp"):  # half-written by a save that was killed
        stale.unlink(missing_ok=True)


def load_checkpoint(path: str | Path) -> dict:
    """A checkpoint as plain data; a missing or damaged file is named."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint to resume from")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated, corrupted, or holding objects that are not plain data
        raise ValueError(f"{path}: cannot load checkpoint ({type(e).__name__}: {e})") from None


def rng_state() -> dict:
    return {
        "torch": torch.get_rng_state(),
        "numpy": torch.from_numpy(np.frombuffer(np.random.get_state()[1].tobytes(), dtype=np.uint8).copy()),
        "python": torch.tensor(list(random.getstate()[1]), dtype=torch.int64),
    }


def restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    keys = np.frombuffer(state["numpy"].numpy().tobytes(), dtype=np.uint32)
    np.random.set_state(("MT19937", keys, 624, 0, 0.0))
    random.setstate((3, tuple(int(v) for v in state["python"].tolist()), None))

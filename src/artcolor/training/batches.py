"""What a run trains and validates on, from its config's `data` section: the training sources and
the fixed validation sets (a deterministic split, or folders of their own), the loader whose batch
sampler derives every choice from (seed, step), and a sample moved to the run's device."""

from __future__ import annotations

import torch

from . import data as D
from .config import TrainConfig


def load_sources(cfg: TrainConfig) -> tuple[dict, dict]:
    """({"photos": ..., "paintings": ...} to train on, {"photos": (N, 3, S, S), "paintings": ...} to validate on)."""
    d = cfg.data
    if not d.photos:
        raise ValueError("no training photos: pass --photos FOLDER (recursive) or --photos hf:NAME[:split] "
                         "(a Hugging Face dataset), or set data.photos in the config")
    photos = D.open_source(d.photos, d.hf_streaming, d.hf_max_items)
    paintings = D.open_source(d.paintings, d.hf_streaming, d.hf_max_items) if d.paintings else None
    train_idx, val_idx = D.split_indices(photos.names, d.val_fraction, d.max_val)
    val_photos = D.load_fixed(photos, val_idx, cfg.model.image_size) if not d.val_photos else None
    if d.val_photos:
        vp = D.open_source(d.val_photos)
        val_photos = D.load_fixed(vp, list(range(min(len(vp), d.max_val))), cfg.model.image_size)
    paint_idx, val_paint_idx = (D.split_indices(paintings.names, d.val_fraction, 8, min_val=2) if paintings else ([], []))
    if d.val_paintings:
        vpp = D.open_source(d.val_paintings)
        val_paintings = D.load_fixed(vpp, list(range(min(len(vpp), 8))), cfg.model.image_size)
    elif paintings and val_paint_idx:
        val_paintings = D.load_fixed(paintings, val_paint_idx, cfg.model.image_size)
    else:  # references for the diagnostics: other validation photos
        val_paintings = val_photos.roll(1, 0)[:8]
    sources = {"photos": _Subset(photos, train_idx)}
    if paintings:
        sources["paintings"] = _Subset(paintings, paint_idx)
    if not len(sources["photos"]):
        raise ValueError(f"{d.photos}: no training images left after the validation split")
    return sources, {"photos": val_photos, "paintings": val_paintings}


class _Subset:
    def __init__(self, source, indices):
        self.source, self.indices = source, indices
        self.names = [source.names[i] for i in indices]

    def __len__(self):
        return len(self.indices)

    def load(self, i):
        return self.source.load(self.indices[i])


def make_loader(cfg: TrainConfig, sources, start_step: int, dist) -> torch.utils.data.DataLoader:
    """Batches from `start_step` to the end of the schedule: this process's share of each step's."""
    n_paint = len(sources["paintings"]) if "paintings" in sources and cfg.recipe.kind != "seed" else 0
    sampler = D.StepSampler(len(sources["photos"]), n_paint, cfg.optim.batch_size, cfg.optim.grad_accum,
                            cfg.seed, start_step, cfg.optim.steps, dist.rank, dist.world)
    dataset = D.CropDataset(sources, cfg.model.image_size)
    return torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=D.collate,
                                       num_workers=cfg.data.num_workers, persistent_workers=False)


def to_device(sample, device: torch.device, layout: torch.memory_format):
    """The recipe's sample with its tensors on `device` (images in `layout`)."""
    for name in ("l", "target_lab", "target_rgb", "reference", "hints"):
        if getattr(sample, name) is not None:
            setattr(sample, name, getattr(sample, name).to(device, memory_format=layout, non_blocking=True))
    sample.mode = sample.mode.to(device)
    return sample

"""The training loop: set up, then for each step: learning rate, forward/backward, optimiser step,
logging, validation and checkpoint. One loss function serves training and validation."""

from __future__ import annotations

import contextlib
import copy
import json
import math
import time
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from .. import losses
from ..color import lab_to_rgb, rgb_to_lab
from ..inference import pick_device, save_net
from ..model import ColorNet
from . import data as D
from .checkpoint import load_checkpoint, restore_rng, save_checkpoint
from .config import TrainConfig
from .diagnostics import Diagnostics
from .distributed import Dist
from .recipe import NONE, OTHER, make_sample


class TrainingError(RuntimeError):
    """A run that cannot start or cannot go on; the message says why."""


class StyledNet(nn.Module):
    """Reference and null-style choice inside one forward, so DistributedDataParallel sees every parameter."""

    def __init__(self, net: ColorNet):
        super().__init__()
        self.net = net

    def forward(self, l, reference, use_null):
        style = self.net.encode_style(reference)
        style = torch.where(use_null[:, None], self.net.null(l.shape[0]), style)
        return self.net(l, style)


def compute_loss(model: nn.Module, net: ColorNet, sample, cfg: TrainConfig, g: torch.Generator, lpips=None):
    """The recipe's loss for one sample batch -> (scalar loss, {name: float})."""
    out = model(sample.l, sample.reference, sample.mode == NONE)
    if net.config.color_space == "lab":
        ab, rgb = out, lab_to_rgb(torch.cat([sample.l, out], dim=1))
    else:
        rgb, ab = out, rgb_to_lab(out.clamp(0, 1))[:, 1:]
    w = cfg.loss
    weight = torch.where(sample.mode == OTHER, w.other_reconstruction, 1.0)
    parts, reconstruction = {}, torch.zeros_like(weight)
    terms = {"huber_ab": (w.huber_ab, lambda: losses.huber_ab(ab, sample.target_lab[:, 1:])),
             "mse": (w.mse, lambda: losses.mse(out if net.config.color_space == "rgb" else rgb, sample.target_rgb)),
             "ssim": (w.ssim, lambda: losses.ssim(rgb, sample.target_rgb)),
             "lpips": (w.lpips, lambda: lpips(rgb, sample.target_rgb))}
    for name, (scale, fn) in terms.items():
        if scale:
            value = fn()
            parts[name] = value.mean().item()
            reconstruction = reconstruction + scale * value
    loss = (weight * reconstruction).mean()
    other = sample.mode == OTHER
    if w.palette and other.any():
        pal = losses.palette(ab[other], sample.reference_ab[other], generator=g)
        parts["palette"] = pal.mean().item()
        loss = loss + w.palette * pal.sum() / len(other)
    none = sample.mode == NONE
    if w.auto_palette and none.any():
        pal = losses.palette(ab[none], sample.target_lab[none, 1:], generator=g)
        parts["auto_palette"] = pal.mean().item()
        loss = loss + w.auto_palette * pal.sum() / len(none)
    parts["loss"] = loss.item()
    return loss, parts


def lr_lambda(cfg: TrainConfig):
    o = cfg.optim

    def f(step):
        if step < o.warmup:
            return (step + 1) / o.warmup
        t = min(1.0, (step - o.warmup) / max(1, o.steps - o.warmup))
        return o.min_lr_ratio + (1 - o.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t))

    return f


def check_run_folder(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise TrainingError(f"{out}: run folder is not writable ({e})") from None


def train(cfg: TrainConfig, out: str | Path, resume: bool = False, until: int | None = None) -> Path:
    """Train into the run folder `out` (continuing it when `resume`); returns the final model folder.

    `until` stops early at that step (checkpoint written) without changing the schedule, which runs
    to `cfg.optim.steps`: a long run can be done in slices.
    """
    out = Path(out)
    dist = Dist.setup(cfg.device)
    device = dist.device if dist.world > 1 else pick_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if dist.is_main:
        check_run_folder(out)
    try:
        sources, val_sets = load_sources(cfg)
    except (FileNotFoundError, ImportError, ValueError) as e:
        raise TrainingError(str(e)) from None

    torch.manual_seed(cfg.seed)
    net = ColorNet(cfg.model).to(device)
    ema = copy.deepcopy(net).requires_grad_(False) if cfg.optim.ema else None
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.optim.lr, betas=cfg.optim.betas,
                            weight_decay=cfg.optim.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg))
    state = {"step": 0, "best": -math.inf}
    if resume:
        ckpt = load_checkpoint(out / "checkpoint.pt")
        net.load_state_dict(ckpt["model"])
        if ema is not None and ckpt.get("ema") is not None:
            ema.load_state_dict(ckpt["ema"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        state = {"step": ckpt["step"], "best": ckpt["best"]}
        restore_rng(ckpt["rng"])
    if dist.is_main:
        cfg.save(out / "config.yaml")
    if cfg.loss.lpips:
        lpips = losses.lpips_loss()
    else:
        lpips = None

    model = dist.wrap(StyledNet(net))
    loader = make_loader(cfg, sources, state["step"], dist)
    diag = Diagnostics(out, cfg, val_sets, device) if dist.is_main else None
    if diag is not None and resume:
        diag.truncate_after(state["step"])
    end = min(cfg.optim.steps, until or cfg.optim.steps)
    run_steps(cfg, out, net, ema, model, opt, sched, loader, state, diag, dist, device, lpips, end)
    dist.barrier()
    checksums = dist.gather_checksums(net)
    if dist.is_main:
        if dist.world > 1:
            (out / "ranks.json").write_text(json.dumps({"checksums": checksums}, indent=1))
            if len(set(checksums)) != 1:
                raise TrainingError(f"weights differ across ranks: {checksums}")
        save_net(ema or net, out / "model")
    dist.close()
    return out / "model"


def load_sources(cfg: TrainConfig):
    d = cfg.data
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
    n_paint = len(sources["paintings"]) if "paintings" in sources and cfg.recipe.kind != "seed" else 0
    sampler = D.StepSampler(len(sources["photos"]), n_paint, cfg.optim.batch_size, cfg.optim.grad_accum,
                            cfg.seed, start_step, cfg.optim.steps, dist.rank, dist.world)
    dataset = D.CropDataset(sources, cfg.model.image_size)
    return torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=D.collate,
                                       num_workers=cfg.data.num_workers, persistent_workers=False)


def run_steps(cfg, out, net, ema, model, opt, sched, loader, state, diag, dist, device, lpips, end):
    o = cfg.optim
    counter = {}
    batches = iter(loader)
    bar = tqdm(total=o.steps, initial=state["step"], desc="train", unit="step", disable=not dist.is_main or None,
               dynamic_ncols=True)
    t0, seen = time.time(), 0
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()
    while state["step"] < end:
        step = state["step"]
        # forward / backward over the accumulated micro-batches
        opt.zero_grad(set_to_none=True)
        parts = {}
        for m in range(o.grad_accum):
            batch = next(batches)
            D.warn_skipped(batch.errors, counter)
            if batch.photos is None:
                continue
            g = torch.Generator().manual_seed(D._seed(cfg.seed, "recipe", step * o.grad_accum + m, dist.rank))
            sample = make_sample(batch.photos, batch.paintings, cfg.recipe, g)
            sample = _to(sample, device)
            with dist.no_sync(model, last=m == o.grad_accum - 1), autocast:
                loss, parts = compute_loss(model, net, sample, cfg, g, lpips)
            if not math.isfinite(loss.item()):
                raise TrainingError(f"non-finite loss ({loss.item()}) at step {step}; "
                                    f"the last good checkpoint is kept in {out / 'checkpoint.pt'}")
            (loss / o.grad_accum).backward()
            seen += len(batch.photos) * dist.world
        # optimiser step, learning rate, EMA
        parts["grad_norm"] = float(nn.utils.clip_grad_norm_(net.parameters(), o.clip))
        opt.step()
        sched.step()
        if ema is not None:  # the decay warms up, so early averages do not mix in the initial weights
            decay = min(o.ema, (1 + step) / (10 + step))
            with torch.no_grad():
                for pe, p in zip(ema.parameters(), net.parameters()):
                    pe.lerp_(p, 1 - decay)
        state["step"] = step = step + 1
        # logging, validation, checkpoint (rank 0 writes)
        if dist.is_main:
            rate = seen / max(1e-9, time.time() - t0)
            bar.update(1)
            bar.set_postfix(loss=f"{parts.get('loss', float('nan')):.4f}", img_s=f"{rate:.1f}")
            if step % cfg.log_every == 0 or step == o.steps:
                diag.log_train(step, parts, sched.get_last_lr()[0], rate, counter.get("skipped", 0))
            if step % cfg.val_every == 0 or step == o.steps:
                metrics = diag.validate(step, ema or net)
                if metrics["score"] > state["best"]:
                    state["best"] = metrics["score"]
                    save_net(ema or net, out / "best")
            if step % cfg.ckpt_every == 0 or step == end:
                save_checkpoint(out / "checkpoint.pt", {
                    "model": net.state_dict(), "ema": ema.state_dict() if ema is not None else None,
                    "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                    "step": step, "best": state["best"], "config": cfg.to_dict()})
    bar.close()


def _to(sample, device):
    if device.type == "cpu":
        return sample
    for name in ("l", "target_lab", "target_rgb", "reference", "mode"):
        setattr(sample, name, getattr(sample, name).to(device, non_blocking=True))
    return sample


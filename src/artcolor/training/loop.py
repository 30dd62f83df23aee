"""The training loop: set up, then for each step: learning rate, forward/backward, optimiser step,
logging, validation and checkpoint. One loss function serves training and validation."""

from __future__ import annotations

import contextlib
import copy
import json
import math
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from .. import losses
from ..inference import load_net, pick_device, save_net
from ..model import ColorNet
from ..model.efficientnet import load_pretrained
from ..model.palette import split_classes
from . import data as D
from .checkpoint import load_checkpoint, restore_rng, save_checkpoint
from .config import TrainConfig
from .diagnostics import Diagnostics
from .progress import progress_line
from .distributed import Dist
from .recipe import make_sample
from .step import StyledNet, compute_loss


class TrainingError(RuntimeError):
    """A run that cannot start or cannot go on; the message says why."""


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


@dataclass
class Run:
    """Everything the steps of one run touch."""

    cfg: TrainConfig
    out: Path
    net: ColorNet
    ema: ColorNet | None
    model: nn.Module  # StyledNet around `net`, wrapped for DDP when there are several processes
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    dist: Dist
    device: torch.device
    layout: torch.memory_format
    lpips: object = None
    diag: Diagnostics | None = None
    step: int = 0
    best: float = -math.inf

    @property
    def averaged(self) -> ColorNet:
        """The weights to validate and save: the EMA when there is one."""
        return self.ema if self.ema is not None else self.net


def train(cfg: TrainConfig, out: str | Path, resume: bool = False, until: int | None = None,
          init: str | Path | None = None) -> Path:
    """Train into the run folder `out` (continuing it when `resume`); returns the final model folder.

    `until` stops early at that step (checkpoint written) without changing the schedule, which runs
    to `cfg.optim.steps`: a long run can be done in slices. `init` starts a new run from the weights
    of a model folder (fine-tuning); its config must match `cfg.model`.
    """
    out = Path(out)
    dist = Dist.setup(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if dist.is_main:
        check_run_folder(out)
    try:
        sources, val_sets = load_sources(cfg)
    except (FileNotFoundError, ImportError, ValueError) as e:
        raise TrainingError(str(e)) from None

    run = build_run(cfg, out, dist)
    if resume:
        restore(run, load_checkpoint(out / "checkpoint.pt"))
        if dist.is_main:
            stop = f", stopping at {until}" if until and until < cfg.optim.steps else ""
            print(f"resuming {out} at step {run.step} of {cfg.optim.steps}{stop}", file=sys.stderr, flush=True)
    elif init is not None:
        start_from(run, init)
    else:
        pretrained_encoder(run)
    if dist.is_main:
        cfg.save(out / "config.yaml")
        run.diag = Diagnostics(out, cfg, val_sets, run.device)
        if resume:
            run.diag.truncate_after(run.step)
    run_steps(run, make_loader(cfg, sources, run.step, dist), end=min(cfg.optim.steps, until or cfg.optim.steps))
    finish(run)
    return out / "model"


def build_run(cfg: TrainConfig, out: Path, dist: Dist) -> Run:
    device = dist.device if dist.world > 1 else pick_device(cfg.device)
    torch.manual_seed(cfg.seed)
    net = ColorNet(cfg.model).to(device)
    ema = copy.deepcopy(net).requires_grad_(False) if cfg.optim.ema else None
    o = cfg.optim
    opt = torch.optim.AdamW(param_groups(net, o.lr, o.encoder_lr), lr=o.lr, betas=o.betas, weight_decay=o.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg))
    layout = torch.channels_last if cfg.channels_last else torch.contiguous_format
    model = dist.wrap(StyledNet(net).to(memory_format=layout))
    lpips = losses.lpips_loss() if cfg.loss.lpips else None
    return Run(cfg, out, net, ema, model, opt, sched, dist, device, layout, lpips)


def param_groups(net: ColorNet, lr: float, encoder_lr: float) -> list[dict]:
    """The network's parameters for the optimiser; the pretrained encoder's, at `encoder_lr`, only if
    it is above 0 (otherwise the encoder is frozen: no gradients, no optimiser state)."""
    encoder = list(net.semantic.encoder.parameters()) if net.semantic is not None else []
    frozen = {id(p) for p in encoder}
    groups = [{"params": [p for p in net.parameters() if id(p) not in frozen], "lr": lr}]
    if encoder and encoder_lr > 0:
        groups.append({"params": encoder, "lr": encoder_lr})
    else:
        for p in encoder:
            p.requires_grad_(False)
    return groups


def pretrained_encoder(run: Run) -> None:
    """A fresh run's encoder starts from ImageNet (the optional package holding its weights)."""
    if run.net.semantic is None:
        return
    try:
        for net in filter(None, (run.net, run.ema)):
            load_pretrained(net.semantic.encoder, run.cfg.model.encoder)
    except ImportError as e:
        raise TrainingError(str(e)) from None


def start_from(run: Run, folder: str | Path) -> None:
    try:
        source = load_net(folder)
    except (FileNotFoundError, ValueError) as e:
        raise TrainingError(f"--init: {e}") from None
    if source.semantic is None:  # a model grown an encoder takes ImageNet's
        pretrained_encoder(run)
    try:
        state, grown = init_state(source, run.net)
    except TrainingError as e:
        raise TrainingError(f"--init {folder}: {e}") from None
    if grown and run.dist.is_main:
        print(f"--init: grown, new parts: {', '.join(grown)}", file=sys.stderr)
    for net in filter(None, (run.net, run.ema)):
        net.load_state_dict(state)


def init_state(source: ColorNet, target: ColorNet) -> tuple[dict, list[str]]:
    """A trained network's weights for a network that may add a palette, classes to its palette's bands,
    the pretrained encoder (taken from `target`) or hint inputs."""
    c, t = source.config, target.config
    grown = replace(c, palette_bins=t.palette_bins, palette_classes=t.palette_classes, hints=c.hints or t.hints,
                    encoder=t.encoder if c.encoder == "none" else c.encoder,
                    correspondence=c.correspondence or t.correspondence, match_temperature=t.match_temperature)
    same = grown == t
    fits = c.palette_bins in (0, t.palette_bins) and c.classes in (1, t.palette_classes)
    if not (same and fits):
        raise TrainingError("its model config differs from the run's; use --config with the same model section")
    state = source.state_dict()
    if c.palette_bins and c.classes != t.palette_classes:  # each band's colour goes to all its classes
        null = state["null_style"]
        palette = split_classes(null[c.style_dim:], c.palette_bins, t.palette_classes)
        state = {**state, "null_style": torch.cat([null[:c.style_dim], palette])}
    return grow_state(state, target.state_dict())


def grow_state(source: dict, target: dict) -> tuple[dict, list[str]]:
    """Fit a model's weights into a larger one: each tensor fills the leading corner of its place,
    and tensors the source lacks keep the target's initial values.

    Adding a palette to a trained model only widens its first conv (new input channels) and its null
    style (new trailing entries); with zeros there, the grown model computes what the source did.
    Adding palette classes adds `palette_keys` (fresh) and copies each band's null colour to its classes.
    """
    state, grown = {}, []
    for name, t in target.items():
        if name not in source:
            state[name] = t
            grown.append(name.split(".")[0])
            continue
        s = source[name]
        if s.shape != t.shape:
            if s.dim() != t.dim() or any(a > b for a, b in zip(s.shape, t.shape)):
                raise TrainingError(f"--init: {name} has shape {tuple(s.shape)}, cannot grow to {tuple(t.shape)}")
            wider = torch.zeros_like(t)
            wider[tuple(slice(0, n) for n in s.shape)] = s
            s = wider
            grown.append(name)
        state[name] = s
    return state, list(dict.fromkeys(grown))


def restore(run: Run, ckpt: dict) -> None:
    try:
        run.net.load_state_dict(ckpt["model"])
    except RuntimeError as e:  # other tensor names or shapes: say which, not a page of them
        last = str(e).strip().splitlines()[-1].strip()
        raise TrainingError(f"{run.out / 'checkpoint.pt'}: does not fit the network of {run.out / 'config.yaml'} "
                            f"({last})") from None
    if run.ema is not None and ckpt.get("ema") is not None:
        run.ema.load_state_dict(ckpt["ema"])
    run.opt.load_state_dict(ckpt["optimizer"])
    run.sched.load_state_dict(ckpt["scheduler"])
    run.step, run.best = ckpt["step"], ckpt["best"]
    restore_rng(ckpt["rng"])


def save_state(run: Run) -> None:
    save_checkpoint(run.out / "checkpoint.pt", {
        "model": run.net.state_dict(), "ema": run.ema.state_dict() if run.ema is not None else None,
        "optimizer": run.opt.state_dict(), "scheduler": run.sched.state_dict(),
        "step": run.step, "best": run.best, "config": run.cfg.to_dict()})


def finish(run: Run) -> None:
    """Check the replicas agree (several processes), save the final model, leave the process group."""
    run.dist.barrier()
    checksums = run.dist.gather_checksums(run.net)
    if run.dist.is_main:
        if run.dist.world > 1:
            (run.out / "ranks.json").write_text(json.dumps({"checksums": checksums}, indent=1))
            if len(set(checksums)) != 1:
                raise TrainingError(f"weights differ across ranks: {checksums}")
        save_net(run.averaged, run.out / "model")
    run.dist.close()


def load_sources(cfg: TrainConfig):
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
    n_paint = len(sources["paintings"]) if "paintings" in sources and cfg.recipe.kind != "seed" else 0
    sampler = D.StepSampler(len(sources["photos"]), n_paint, cfg.optim.batch_size, cfg.optim.grad_accum,
                            cfg.seed, start_step, cfg.optim.steps, dist.rank, dist.world)
    dataset = D.CropDataset(sources, cfg.model.image_size)
    return torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=D.collate,
                                       num_workers=cfg.data.num_workers, persistent_workers=False)


def run_steps(run: Run, loader, end: int) -> None:
    cfg, o = run.cfg, run.cfg.optim
    counter, batches = {}, iter(loader)
    bar = tqdm(total=o.steps, initial=run.step, desc="train", unit="step", dynamic_ncols=True,
               disable=not run.dist.is_main or None)
    # not a terminal (a background run's log): no bar, but a line every log_every steps
    lines = run.dist.is_main and not sys.stderr.isatty()
    t0, seen, first = time.time(), 0, run.step
    while run.step < end:
        # forward / backward over the accumulated micro-batches
        run.opt.zero_grad(set_to_none=True)
        parts = {}
        for m in range(o.grad_accum):
            batch = next(batches)
            D.warn_skipped(batch.errors, counter)
            if batch.photos is not None:
                parts = forward_backward(run, batch, m)
                seen += len(batch.photos) * run.dist.world
        # optimiser step, learning rate, EMA
        parts["grad_norm"] = float(nn.utils.clip_grad_norm_(run.net.parameters(), o.clip))
        run.opt.step()
        run.sched.step()
        update_ema(run)
        run.step += 1
        # logging, validation, checkpoint (rank 0 writes)
        if run.dist.is_main:
            rate = seen / max(1e-9, time.time() - t0)
            bar.update(1)
            bar.set_postfix(loss=f"{parts.get('loss', float('nan')):.4f}", img_s=f"{rate:.1f}")
            report(run, parts, rate, counter.get("skipped", 0))
            if lines and (run.step % cfg.log_every == 0 or run.step == end):
                left = (end - run.step) * (time.time() - t0) / (run.step - first)
                print(progress_line(run.step, o.steps, end, parts.get("loss", math.nan), rate, left),
                      file=sys.stderr, flush=True)
            if run.step % cfg.ckpt_every == 0 or run.step == end:
                save_state(run)
    bar.close()


def forward_backward(run: Run, batch, micro: int) -> dict:
    cfg, o = run.cfg, run.cfg.optim
    g = torch.Generator().manual_seed(D._seed(cfg.seed, "recipe", run.step * o.grad_accum + micro, run.dist.rank))
    sample = _to(make_sample(batch.photos, batch.paintings, cfg.recipe, g, cfg.model.hints), run.device, run.layout)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if run.device.type == "cuda" else contextlib.nullcontext()
    with run.dist.no_sync(run.model, last=micro == o.grad_accum - 1), autocast:
        loss, parts = compute_loss(run.model, run.net, sample, cfg, g, run.lpips)
    if not math.isfinite(loss.item()):
        raise TrainingError(f"non-finite loss ({loss.item()}) at step {run.step}; "
                            f"the last good checkpoint is kept in {run.out / 'checkpoint.pt'}")
    (loss / o.grad_accum).backward()
    return parts


def update_ema(run: Run) -> None:
    if run.ema is None:
        return
    decay = min(run.cfg.optim.ema, (1 + run.step) / (10 + run.step))  # warm-up: forget the initial weights
    with torch.no_grad():
        for pe, p in zip(run.ema.parameters(), run.net.parameters()):
            pe.lerp_(p, 1 - decay)


def report(run: Run, parts: dict, rate: float, skipped: int) -> None:
    cfg, last = run.cfg, run.step == run.cfg.optim.steps
    if run.step % cfg.log_every == 0 or last:
        run.diag.log_train(run.step, parts, run.sched.get_last_lr()[0], rate, skipped)
    if run.step % cfg.val_every == 0 or last:
        metrics = run.diag.validate(run.step, run.averaged)
        if metrics["score"] > run.best:
            run.best = metrics["score"]
            save_net(run.averaged, run.out / "best")


def _to(sample, device, layout):
    for name in ("l", "target_lab", "target_rgb", "reference", "hints"):
        if getattr(sample, name) is not None:
            setattr(sample, name, getattr(sample, name).to(device, memory_format=layout, non_blocking=True))
    sample.mode = sample.mode.to(device)
    return sample


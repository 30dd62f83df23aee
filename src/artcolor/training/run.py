"""One training run's state (`Run`) and how it is built: the network, its EMA copy, the optimiser and
its schedule, the wrapper for several processes; and the error that stops a run."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from . import losses
from ..inference import pick_device
from ..model import ColorNet
from ..model.efficientnet import load_pretrained
from .config import TrainConfig
from .diagnostics import Diagnostics
from .distributed import Dist
from .step import StyledNet


class TrainingError(RuntimeError):
    """A run that cannot start or cannot go on; the message says why."""


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


def check_run_folder(out: Path) -> None:
    """Fail before any work when the run folder cannot be written."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise TrainingError(f"{out}: run folder is not writable ({e})") from None


def build_run(cfg: TrainConfig, out: Path, dist: Dist) -> Run:
    """A fresh network (seeded by `cfg.seed`), its EMA copy, AdamW with warm-up and cosine, at step 0."""
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


def lr_lambda(cfg: TrainConfig):
    """The learning rate's factor at a step: linear warm-up, then cosine down to `min_lr_ratio`."""
    o = cfg.optim

    def f(step):
        if step < o.warmup:
            return (step + 1) / o.warmup
        t = min(1.0, (step - o.warmup) / max(1, o.steps - o.warmup))
        return o.min_lr_ratio + (1 - o.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t))

    return f


def pretrained_encoder(run: Run) -> None:
    """A fresh run's encoder starts from ImageNet (the optional package holding its weights)."""
    if run.net.semantic is None:
        return
    try:
        for net in filter(None, (run.net, run.ema)):
            load_pretrained(net.semantic.encoder, run.cfg.model.encoder)
    except ImportError as e:
        raise TrainingError(str(e)) from None

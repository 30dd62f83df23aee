"""The training loop: set up (data, network, weights), then for each step: forward/backward,
optimiser step and learning rate, EMA, logging, validation and checkpoint. One loss function serves
training and validation (`step.py`); the run's parts are built in `run.py`, its data in `batches.py`."""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from ..model.folders import save_net
from . import data as D
from .batches import load_sources, make_loader, to_device
from .checkpoint import load_state, save_state
from .config import TrainConfig
from .diagnostics import Diagnostics
from .distributed import Dist
from .growth import start_from
from .precision import autocast
from .progress import progress_line
from .recipe import make_sample
from .run import Run, TrainingError, build_run, check_run_folder, pretrained_encoder
from .step import compute_loss


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
    # data: the training sources and the fixed validation sets
    try:
        sources, val_sets = load_sources(cfg)
    except (FileNotFoundError, ImportError, ValueError) as e:
        raise TrainingError(str(e)) from None
    # the network's weights: the checkpoint's, a model folder's (--init), or a fresh start
    run = build_run(cfg, out, dist)
    if resume:
        restore(run)
        if dist.is_main:
            stop = f", stopping at {until}" if until and until < cfg.optim.steps else ""
            print(f"resuming {out} at step {run.step} of {cfg.optim.steps}{stop}", file=sys.stderr, flush=True)
    elif init is not None:
        start_from(run, init)
    else:
        pretrained_encoder(run)
    # diagnostics (rank 0), then the steps, then the final model
    if dist.is_main:
        cfg.save(out / "config.yaml")
        run.diag = Diagnostics(out, cfg, val_sets, run.device)
        if resume:
            run.diag.truncate_after(run.step)
    run_steps(run, make_loader(cfg, sources, run.step, dist), end=min(cfg.optim.steps, until or cfg.optim.steps))
    finish(run)
    return out / "model"


def restore(run: Run) -> None:
    """Continue from the run folder's checkpoint: weights, EMA, optimiser, schedule, RNG, step, best score."""
    state = load_state(run.out / "checkpoint.pt", run.net, run.opt, run.sched,
                       network=f"the network of {run.out / 'config.yaml'}")
    if run.ema is not None and state.get("ema") is not None:
        run.ema.load_state_dict(state["ema"])
    run.step, run.best = state["step"], state["best"]


def checkpoint(run: Run) -> None:
    save_state(run.out / "checkpoint.pt", run.net, run.opt, run.sched, run.step, run.cfg.to_dict(),
               ema=run.ema.state_dict() if run.ema is not None else None, best=run.best)


def run_steps(run: Run, loader, end: int) -> None:
    """Steps from `run.step` to `end`; rank 0 logs, validates and checkpoints."""
    o = run.cfg.optim
    counter, batches = {}, iter(loader)
    bar = tqdm(total=o.steps, initial=run.step, desc="train", unit="step", dynamic_ncols=True,
               disable=not run.dist.is_main or None)
    # not a terminal (a background run's log): no bar, but a line every log_every steps
    lines = run.dist.is_main and not sys.stderr.isatty()
    t0, seen, first = time.time(), 0, run.step
    while run.step < end:
        parts, crops = train_step(run, batches, counter)
        seen += crops
        # logging, validation, checkpoint (rank 0 writes)
        if run.dist.is_main:
            rate = seen / max(1e-9, time.time() - t0)
            bar.update(1)
            bar.set_postfix(loss=f"{parts.get('loss', float('nan')):.4f}", img_s=f"{rate:.1f}")
            report(run, parts, rate, counter.get("skipped", 0))
            if lines and (run.step % run.cfg.log_every == 0 or run.step == end):
                left = (end - run.step) * (time.time() - t0) / (run.step - first)
                print(progress_line(run.step, o.steps, end, parts.get("loss", math.nan), rate, left),
                      file=sys.stderr, flush=True)
            if run.step % run.cfg.ckpt_every == 0 or run.step == end:
                checkpoint(run)
    bar.close()


def train_step(run: Run, batches, counter: dict) -> tuple[dict, int]:
    """One optimiser step: forward / backward over the accumulated micro-batches from `batches`, then
    the optimiser, learning rate and EMA. Returns the loss's parts and the crops seen (all ranks)."""
    o, parts, seen = run.cfg.optim, {}, 0
    run.opt.zero_grad(set_to_none=True)
    for m in range(o.grad_accum):
        batch = next(batches)
        D.warn_skipped(batch.errors, counter)
        if batch.photos is not None:
            parts = forward_backward(run, batch, m)
            seen += len(batch.photos) * run.dist.world
    parts["grad_norm"] = float(nn.utils.clip_grad_norm_(run.net.parameters(), o.clip))
    run.opt.step()
    run.sched.step()
    update_ema(run)
    run.step += 1
    return parts, seen


def forward_backward(run: Run, batch, micro: int) -> dict:
    """One micro-batch: the recipe's samples (seeded by step, micro-batch and rank), loss, gradients."""
    cfg, o = run.cfg, run.cfg.optim
    g = torch.Generator().manual_seed(D._seed(cfg.seed, "recipe", run.step * o.grad_accum + micro, run.dist.rank))
    sample = to_device(make_sample(batch.photos, batch.paintings, cfg.recipe, g, cfg.model.hints), run.device, run.layout)
    with run.dist.no_sync(run.model, last=micro == o.grad_accum - 1), autocast(run.device):
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
    """Log every `log_every` steps; validate every `val_every`, keeping the best weights in RUN/best."""
    cfg, last = run.cfg, run.step == run.cfg.optim.steps
    if run.step % cfg.log_every == 0 or last:
        run.diag.log_train(run.step, parts, run.sched.get_last_lr()[0], rate, skipped)
    if run.step % cfg.val_every == 0 or last:
        metrics = run.diag.validate(run.step, run.averaged)
        if metrics["score"] > run.best:
            run.best = metrics["score"]
            save_net(run.averaged, run.out / "best")


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

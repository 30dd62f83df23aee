"""Matplotlib figures of a run (Agg backend: no display needed)."""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def style_histograms(vectors: np.ndarray, path: Path, step: int) -> None:
    """One histogram of style-vector values per fixed reference (R, D): a collapse shows as a spike at 0."""
    r = len(vectors)
    cols = min(4, r)
    fig, axes = plt.subplots((r + cols - 1) // cols, cols, figsize=(3 * cols, 2.2 * ((r + cols - 1) // cols)),
                             squeeze=False, sharex=True)
    lim = max(1e-3, float(np.abs(vectors).max()))
    for i, ax in enumerate(axes.flat):
        if i < r:
            ax.hist(vectors[i], bins=24, range=(-lim, lim), color="tab:blue")
            ax.set_title(f"{'painting' if i < r // 2 else 'photo'} {i % max(1, r // 2)}  std {vectors[i].std():.3f}",
                         fontsize=8)
        else:
            ax.axis("off")
    fig.suptitle(f"style vectors at step {step}")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _read(csv_path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rows = list(csv.DictReader(csv_path.open()))
    series = {}
    for key in rows[0] if rows else []:
        pts = [(float(r["step"]), float(r[key])) for r in rows if key != "step" and r.get(key) not in (None, "")]
        if pts:
            series[key] = tuple(np.array(v) for v in zip(*pts))
    return series


def curves(csv_path: Path, folder: Path) -> None:
    """losses.png (train and validation) and sensitivity.png from metrics.csv."""
    s = _read(csv_path)
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
    for key in ("loss", "huber_ab", "mse", "palette", "auto_palette"):
        if key in s:
            ax[0].plot(*s[key], label=f"train {key}", lw=1)
    if "val_loss" in s:
        ax[0].plot(*s["val_loss"], "o-", label="validation loss", lw=1.5)
    ax[0].set_yscale("log")
    ax[0].set_xlabel("step")
    ax[0].legend(fontsize=7)
    for key in ("val_psnr_auto", "val_psnr_self"):
        if key in s:
            ax[1].plot(*s[key], "o-", label=key.removeprefix("val_"))
    ax[1].set_ylabel("PSNR (dB)")
    ax[1].set_xlabel("step")
    ax[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(folder / "losses.png", dpi=80)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for key in ("val_sensitivity", "val_retrieval"):
        if key in s:
            ax.plot(*s[key], "o-", label=key.removeprefix("val_"))
    ax.axhline(0, color="gray", lw=0.5)
    ax.set_xlabel("step")
    ax.set_title("does the output follow its reference?")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(folder / "sensitivity.png", dpi=80)
    plt.close(fig)

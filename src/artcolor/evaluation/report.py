"""Results as files and as a Markdown table: one row per run, so several runs read side by side."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from ..inputs.images import atomic_write

# (header, mode, key, format); a missing mode (e.g. Welsh has no automatic mode) shows as n/a
COLUMNS = [
    ("auto PSNR ↑", "automatic", "psnr", "{:.2f}"),
    ("auto SSIM ↑", "automatic", "ssim", "{:.3f}"),
    ("auto ΔE00 ↓", "automatic", "ciede2000", "{:.2f}"),
    ("auto colourful. (GT)", "automatic", "colorfulness", None),
    ("self PSNR ↑", "self_reference", "psnr", "{:.2f}"),
    ("self SSIM ↑", "self_reference", "ssim", "{:.3f}"),
    ("self ΔE00 ↓", "self_reference", "ciede2000", "{:.2f}"),
    ("reframed PSNR ↑", "reframed", "psnr", "{:.2f}"),
    ("palette SWD ↓", "paintings_mode", "palette_distance", "{:.2f}"),
    ("retrieval ↑", "paintings_mode", "retrieval_accuracy", "{:.3f}"),
    ("sensitivity ↑", "paintings_mode", "sensitivity", "{:.3f}"),
    ("incoherence (GT) ↓", "paintings_mode", "incoherence", None),
    ("incoherence, graph (GT) ↓", "paintings_mode", "incoherence_graph", None),
    ("L* SSIM ↑", "paintings_mode", "l_ssim", "{:.4f}"),
    ("s / image", "paintings_mode", "seconds_per_image", "{:.3f}"),
]


# the hints mode's own table: (header, key, format)
HINT_COLUMNS = [
    ("PSNR auto ↑", "psnr_0", "{:.2f}"),
    ("PSNR 1 hint ↑", "psnr_1", "{:.2f}"),
    ("PSNR 5 hints ↑", "psnr_5", "{:.2f}"),
    ("PSNR 10 hints ↑", "psnr_10", "{:.2f}"),
    ("ab error at hints (10) ↓", "hint_ab_error_10", "{:.2f}"),
    ("hints within 6 (10) ↑", "hint_within_10", "{:.3f}"),
    ("superpixel ab error, hint / none ↓", ("region_ab_error", "region_ab_error_auto"), "{:.2f} / {:.2f}"),
    ("ab change far ↓", "far_ab_change", "{:.2f}"),
    ("retrieval + 5 hints ↑", "paintings_retrieval_accuracy", "{:.3f}"),
]


def _cell(result: dict, mode: str, key: str, fmt: str | None) -> str:
    values = result.get(mode)
    if not values:
        return "n/a"
    if key == "colorfulness":
        return f"{values['colorfulness']:.1f} ({values['colorfulness_gt']:.1f})"
    if key.startswith("incoherence"):
        return f"{values[key]:.3f} ({values[key + '_gt']:.3f})" if key in values else "n/a"
    value = values[key]
    return "inf" if math.isinf(value) else fmt.format(value)


def markdown_table(results: list[dict]) -> str:
    """One Markdown table of several `evaluate` results, with a line naming the data they share."""
    if not results:
        raise ValueError("no results to tabulate")
    hinted = [r for r in results if r.get("hints_mode")]
    results = [r for r in results if any(r.get(mode) for mode in ("automatic", "self_reference", "reframed", "paintings_mode"))]
    if not results:
        return hints_table(hinted)
    lines = ["| method | " + " | ".join(c[0] for c in COLUMNS) + " |",
             "| --- |" + " ---: |" * len(COLUMNS)]
    for r in results:
        lines.append(f"| {r['name']} | " + " | ".join(_cell(r, *c[1:]) for c in COLUMNS) + " |")
    notes = "; ".join(sorted({_setting(r) for r in results}))
    chance = ", ".join(sorted({f"{1 / r['k']:.3f}" for r in results}))
    return "\n".join(lines) + (
        f"\n\n{notes}. Automatic: no reference; self: the colour photo is its own reference; reframed: "
        f"the photo mirrored and cropped to 60% of its area is the reference; incoherence: share of the "
        f"output's a*b* variance inside the ground truth's 16 SLIC superpixels, and inside its "
        f"graph-based segments (Felzenszwalb, scale 300) (paintings mode); "
        f"palette SWD: sliced Wasserstein distance between output and reference a*b* (Lab units); "
        f"retrieval chance = {chance}; L* SSIM: lightness kept, paintings mode.\n") + (
        "\n" + hints_table(hinted) if hinted else "")


def _setting(r: dict) -> str:
    """What a result was measured on: photos (x paintings, where a mode read them) at a short side."""
    paintings = f" x {r['k']} paintings" if r.get("paintings") is not None else ""
    return f"{r['n_photos']} photos{paintings} at short side {r['size']} px"


def hints_table(results: list[dict]) -> str:
    """The hints mode of several results as one Markdown table (see evaluation/hints_mode.py)."""
    lines = ["| method | " + " | ".join(c[0] for c in HINT_COLUMNS) + " |",
             "| --- |" + " ---: |" * len(HINT_COLUMNS)]
    for r in results:
        h = r["hints_mode"]
        cells = [fmt.format(*(h[k] for k in key)) if isinstance(key, tuple) else fmt.format(h[key])
                 for _, key, fmt in HINT_COLUMNS]
        lines.append(f"| {r['name']} | " + " | ".join(cells) + " |")
    notes = "; ".join(sorted({_setting(r) for r in results}))
    h = results[0]["hints_mode"]
    return "\n".join(lines) + (
        f"\n\n{notes}. Hints sampled from the ground truth at random places (fixed seed), disks of radius "
        f"{h['hint_radius_px']:g} px holding its mean a*b*; ab error: Euclidean in a*b*; superpixel: the hint's "
        f"SLIC region of the ground truth ({h['n_segments']} per photo, hint excluded), one hint vs none; "
        f"far: beyond {h['far']:.0%} of the diagonal, one hint vs none; retrieval: each painting as the "
        f"reference plus {h['painting_hints']} hints.\n")


def save(result: dict, out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write results.json and results.md into out_dir; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = out / "results.json", out / "results.md"
    _write(paths[0], json.dumps(result, indent=2) + "\n")
    _write(paths[1], markdown_table([result]))
    return paths


def load(paths: list[str | os.PathLike]) -> list[dict]:
    """Read results.json files written by `save`."""
    results = []
    for p in paths:
        try:
            results.append(json.loads(Path(p).read_text()))
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"{p}: cannot read results ({e})") from None
    return results


def _write(path: Path, text: str) -> None:
    with atomic_write(path) as f:
        f.write(text.encode())

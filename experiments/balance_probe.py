"""Does a pooled, image-level colour-balance head on the frozen automatic decoder help?

    OMP_NUM_THREADS=1 python experiments/balance_probe.py --photos ../shared/data/train/photos \
        --extra ../shared/data/train/photos-extra --val ../shared/data/val/photos --out runs/balance

The bundled model's automatic colours are dull and often off in overall balance. Each head here
reads what the frozen model computed for a photo, pooled to one vector (global average of the
deepest encoder features the decoder reads, of the decoder's last features, the mean and spread of
L*, and the mean, spread and a*-b* correlation of the predicted a*b*), and predicts a correction of
that photo's a*b*: `shift` (2 numbers), `scale` (shift and a per-channel scale about the photo's
mean a*b*; 4) or `affine` (shift and a full 2x2 map about the mean; 6). One small MLP per head and
per mix, trained with Huber on the corrected a*b* against the truth's.

Training data: one 128-pixel centre crop of `--n` photos of each training folder, never of the
split that training holds out (`training.data.split_indices` with `DataConfig`'s settings). The
frozen model's pooled features, its regression and annealed mean (T 0.38) at 64 x 64 and the
truth's a*b* at 64 x 64 are cached once (`--out`/cache.pt), so any mix is read out afterwards.

Measured as `benchmarks/auto_readout.py` measures (the harness's automatic mode): PSNR over gray
and colourfulness as a share of the ground truth's, on the held-out photos of both training
folders (short side 150) and val (256), at T 0.38 and each mix, for the bundled model and with
each head applied (by a forward hook on the decoder, in this script only). The second table is
each head's PSNR against the bundled model's at equal colourfulness (its three points joined by
straight lines, extended past the ends): above 0, the head moves the curve, not along it.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from artcolor import Colorizer  # noqa: E402
from artcolor.color.lab import AB_SCALE, rgb_to_lab  # noqa: E402
from artcolor.evaluation.harness import as_method, fidelity, load_folder  # noqa: E402
from artcolor.inference.pipeline import resize_short_side  # noqa: E402
from artcolor.inputs.images import open_image, rgb_array  # noqa: E402
from artcolor.model.auto import annealed_mean  # noqa: E402
from artcolor.training import data as D  # noqa: E402
from artcolor.training.config import DataConfig  # noqa: E402

TEMPERATURE = 0.38
MIXES = (0.0, 0.15, 0.3)
KINDS = {"shift": 2, "scale": 4, "affine": 6}  # correction -> numbers the head predicts
CROP = 128


class Taps:
    """Hooks on the decoder that keep, per forward, the deepest features it reads and its last ones."""

    def __init__(self, auto: nn.Module):
        self.deep = self.last = None
        auto.lateral[-1].register_forward_pre_hook(lambda _, args: setattr(self, "deep", args[0]))
        auto.regress.register_forward_pre_hook(lambda _, args: setattr(self, "last", args[0]))

    def context(self, l: torch.Tensor) -> torch.Tensor:
        """(B, C) of what does not depend on the read-out: pooled deep and last features, L* mean and spread."""
        return torch.cat([self.deep.mean((2, 3)), self.last.mean((2, 3)), l.mean((2, 3)) / 50, l.std((2, 3)) / 50], 1)


def ab_stats(ab: torch.Tensor) -> torch.Tensor:
    """a*b* (B, 2, H, W) -> (B, 5): mean and spread of each, and their correlation, in AB_SCALE units."""
    mean, std = ab.mean((2, 3)), ab.std((2, 3))
    centred = ab - mean[..., None, None]
    corr = (centred[:, 0] * centred[:, 1]).mean((1, 2)) / (std[:, 0] * std[:, 1] + 1e-6)
    return torch.cat([mean / AB_SCALE, std / AB_SCALE, corr[:, None]], 1)


def correct(ab: torch.Tensor, p: torch.Tensor, kind: str) -> torch.Tensor:
    """a*b* (B, 2, H, W) and a head's numbers (B, KINDS[kind]) -> the corrected a*b* (zeros: unchanged)."""
    shift = 10 * p[:, :2, None, None]
    if kind == "shift":
        return ab + shift
    mean = ab.mean((2, 3), keepdim=True)
    if kind == "scale":
        return mean + torch.exp(p[:, 2:4, None, None]) * (ab - mean) + shift
    matrix = torch.eye(2) + p[:, 2:6].reshape(-1, 2, 2)
    return mean + torch.einsum("bij,bjhw->bihw", matrix, ab - mean) + shift


class Head(nn.Module):
    """Pooled features (standardised by the training set's) -> a correction's numbers; starts at zero.

    Its size, dropout and optimiser (`train_head`) were chosen on the crops set aside, of training
    photos (shift and affine at mix 0.15): against 64 units with dropout 0.1 at lr 1e-3 (aside loss
    rising after 200 steps), a linear head, and the pooled a*b*, L* and last features alone."""

    def __init__(self, x: torch.Tensor, outputs: int, hidden: int = 32, dropout: float = 0.3):
        super().__init__()
        self.register_buffer("mean", x.mean(0))
        self.register_buffer("std", x.std(0) + 1e-3)
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(x.shape[1], hidden), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, outputs))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)


def training_crops(folder: str, n: int) -> list[np.ndarray]:
    """Centre crops of `n` photos drawn (seed 0) from the folder's training split, never its held-out one."""
    source = D.FolderSource(folder)
    d = DataConfig()
    train, _ = D.split_indices(source.names, d.val_fraction, d.max_val)
    picked = sorted(np.random.default_rng(0).choice(train, min(n, len(train)), replace=False))
    return [D.center_crop(source.load(int(i)), CROP) for i in picked]


def halved(ab: torch.Tensor, l: torch.Tensor) -> torch.Tensor:
    """Stride-2 a*b* -> at L*'s size as `AutoDecoder.forward` gives it, then averaged 2 x 2 (64 x 64 for a crop)."""
    return F.avg_pool2d(F.interpolate(ab, size=l.shape[-2:], mode="bilinear", align_corners=False), 2)


@torch.inference_mode()
def cache(net: nn.Module, taps: Taps, crops: list[np.ndarray], batch: int = 32) -> dict:
    """What the frozen model computes once per crop: its context, its two read-outs and the truth at 64 x 64."""
    auto, parts = net.auto, {"context": [], "regressed": [], "vivid": [], "truth": []}
    for at in range(0, len(crops), batch):
        rgb = torch.from_numpy(np.stack(crops[at:at + batch])).permute(0, 3, 1, 2).float() / 255
        lab = rgb_to_lab(rgb)
        l = lab[:, :1]
        logits, regressed = auto.heads(net.semantic.features(l, auto.stages(None)), l)
        vivid = F.interpolate(annealed_mean(logits, TEMPERATURE), size=regressed.shape[-2:], mode="bilinear",
                              align_corners=False)
        parts["context"].append(taps.context(l))
        parts["regressed"].append(halved(regressed, l).half())
        parts["vivid"].append(halved(vivid, l).half())
        parts["truth"].append(F.avg_pool2d(lab[:, 1:], 2).half())
    return {k: torch.cat(v) for k, v in parts.items()}


def read_out(data: dict, index: torch.Tensor, mix: float) -> torch.Tensor:
    """The cached crops' a*b* at `mix` (as `AutoDecoder.read_out`, at 64 x 64)."""
    regressed = data["regressed"][index].float()
    return regressed + mix * (data["vivid"][index].float() - regressed)


def huber(ab: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    return F.smooth_l1_loss(ab / AB_SCALE, truth / AB_SCALE, beta=0.1)


def features(data: dict, index: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """A head's input for the cached crops `index`, read out as `ab`."""
    return torch.cat([data["context"][index], ab_stats(ab)], 1)


@torch.no_grad()
def losses(head: Head, data: dict, index: torch.Tensor, mix: float, kind: str) -> tuple[float, float]:
    """Huber of the crops `index` as read out and as the head corrects them."""
    head.eval()
    ab, truth = read_out(data, index, mix), data["truth"][index].float()
    after = huber(correct(ab, head(features(data, index, ab)), kind), truth).item()
    head.train()
    return huber(ab, truth).item(), after


def train_head(data: dict, kind: str, mix: float, steps: int, log, batch: int = 128) -> Head:
    """One head for one correction at one mix; 10% of the crops (seeded) are kept aside only to report its loss."""
    n = len(data["truth"])
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    fit, aside = order[n // 10:], order[:n // 10]
    head = Head(features(data, fit, read_out(data, fit, mix)), KINDS[kind])
    opt = torch.optim.AdamW(head.parameters(), lr=3e-4, weight_decay=1e-2)
    gen = torch.Generator().manual_seed(1)
    for step in range(steps):
        i = fit[torch.randint(len(fit), (batch,), generator=gen)]
        ab = read_out(data, i, mix)
        loss = huber(correct(ab, head(features(data, i, ab)), kind), data["truth"][i].float())
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (step + 1) % 250 == 0 or step + 1 == steps:
            (fit_0, fit_1), (aside_0, aside_1) = losses(head, data, fit, mix, kind), losses(head, data, aside, mix, kind)
            log(f"  {kind} mix {mix:g}, step {step + 1}: Huber on the {len(fit)} crops fitted {fit_0:.5f} -> "
                f"{fit_1:.5f}, on the {len(aside)} aside {aside_0:.5f} -> {aside_1:.5f}")
    return head.eval()


def attach(auto: nn.Module, taps: Taps) -> dict:
    """A forward hook on the decoder that corrects its a*b* by `state["head"]` (None: as it is)."""
    state = {"head": None, "kind": None}

    def hook(_, args, ab):
        if state["head"] is None:
            return ab
        x = torch.cat([taps.context(args[1]), ab_stats(F.avg_pool2d(ab, 2))], 1)
        return correct(ab, state["head"](x), state["kind"])

    auto.register_forward_hook(hook)
    return state


def held_out(folder: str, size: int) -> list[tuple[str, np.ndarray]]:
    """The photos training holds out of a folder (its own split), short side `size`, as `load_folder` gives them."""
    source = D.FolderSource(folder)
    d = DataConfig()
    _, held = D.split_indices(source.names, d.val_fraction, d.max_val)
    return [(source.names[i], resize_short_side(rgb_array(open_image(source.names[i])), size)) for i in held]


def evaluate(colorizer: Colorizer, state: dict, sets: dict, heads: dict, log) -> dict:
    """(set, method, mix) -> (PSNR over gray, colourfulness / GT) for the bundled model and each head."""
    auto, results = colorizer.net.auto, {}
    for set_name, photos in sets.items():
        gray = fidelity(as_method("gray"), photos, "automatic")["psnr"]
        for mix in MIXES:
            auto.temperature, auto.mix = TEMPERATURE, mix
            for method in ("bundled", *KINDS):
                state["head"], state["kind"] = heads.get((method, mix)), method
                with torch.inference_mode():
                    r = fidelity(as_method(colorizer), photos, "automatic")
                results[set_name, method, mix] = (r["psnr"] - gray, r["colorfulness_ratio"])
                log(f"{set_name} {method} mix {mix:g}: {r['psnr'] - gray:+.2f} / {r['colorfulness_ratio']:.2f}")
    state["head"] = None
    return results


def at_equal_colour(results: dict, set_name: str, psnr: float, colour: float) -> float:
    """PSNR above the bundled model's curve (its three points joined, extended straight) at this colourfulness."""
    points = sorted(results[set_name, "bundled", mix][::-1] for mix in MIXES)  # (colourfulness, PSNR)
    (c0, p0), (c1, p1) = points[:2] if colour < points[1][0] else points[1:]
    return psnr - (p0 + (p1 - p0) * (colour - c0) / (c1 - c0))


def tables(results: dict, sets: dict) -> str:
    mixes = " / ".join(f"{m:g}" for m in MIXES)
    head = "| method | " + " | ".join(f"{s}, mix {mixes}" for s in sets) + " |\n|---|" + "---|" * len(sets) + "\n"
    first, second = head, head.replace("| method |", "| head, dB over the bundled curve |")
    for method in ("bundled", *KINDS):
        cells = [", ".join("{:+.2f} / {:.2f}".format(*results[s, method, m]) for m in MIXES) for s in sets]
        first += f"| {method} | " + " | ".join(cells) + " |\n"
        if method != "bundled":
            cells = [" / ".join(f"{at_equal_colour(results, s, *results[s, method, m]):+.2f}" for m in MIXES) for s in sets]
            second += f"| {method} | " + " | ".join(cells) + " |\n"
    return first + "\n" + second


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--photos", required=True, help="train/photos: training crops and its held-out split")
    p.add_argument("--extra", required=True, help="train/photos-extra: the same")
    p.add_argument("--val", required=True, help="val/photos: evaluated only")
    p.add_argument("--weights", default=None, help="a model folder (default: the bundled model)")
    p.add_argument("--n", type=int, default=3000, help="training photos of each folder")
    p.add_argument("--steps", type=int, default=1000, help="steps of batch 128 per head")
    p.add_argument("--out", type=Path, default=Path("runs/balance"))
    args = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    start, out = time.time(), args.out
    out.mkdir(parents=True, exist_ok=True)
    log = lambda msg: print(f"[{time.time() - start:6.0f} s] {msg}", flush=True)  # noqa: E731
    colorizer = Colorizer.load(args.weights)
    net = colorizer.net
    taps = Taps(net.auto)
    path = out / f"cache-{args.n}.pt"
    if not path.exists():
        crops = training_crops(args.photos, args.n) + training_crops(args.extra, args.n)
        log(f"{len(crops)} training crops read; caching")
        torch.save(cache(net, taps, crops), path)
    data = torch.load(path, weights_only=True)
    log(f"cache: {len(data['truth'])} crops, {data['context'].shape[1]} context features")
    heads = {(kind, mix): train_head(data, kind, mix, args.steps, log) for kind in KINDS for mix in MIXES}
    log("heads trained")
    sets = {"held-out": held_out(args.photos, 150), "held-out extra": held_out(args.extra, 150),
            "val": load_folder(args.val, size=256)}
    results = evaluate(colorizer, attach(net.auto, taps), sets, heads, log)
    print("\n" + tables(results, sets), flush=True)
    log("done")


if __name__ == "__main__":
    main()

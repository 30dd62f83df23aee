"""Training the automatic decoder (`model/auto.py`) on a trained model's frozen encoder.

The encoder does not learn here, so its features are computed once per crop and cached (`cache`);
an epoch then costs only the decoder. A decoder with a tail (its own copy of the encoder past
stride 8) fine-tunes that copy at `tail_lr` from the cached stride-8 features: on the held-out
photos 3 such epochs gave +0.13 dB and more colour than 3 more epochs of the decoder alone.
Each photo gives `auto.variants` random crops (training's
own `random_crop`), and a batch is mirrored at random (the features with it: near enough for an
augmentation). The run's config (`TrainConfig`, its `auto` section) says the rest: the crops are
`model.image_size`, and each photo source holds out the split `data` gives (`split_indices`, as
`artcolor train` does with the same config), so those photos measure the result.

Loss: cross-entropy over the a*b* bins against bilinear soft targets, each pixel weighted by the
rarity of its colour (Zhang et al. 2016's rebalancing, lambda 0.5), plus `regression` x Huber on
the regressed a*b* (/ AB_SCALE). Colour hints are not the decoder's to learn: they are spread over
its prediction by feature affinity (`model/spread.py`).
"""

from __future__ import annotations

import hashlib
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..color.lab import AB_SCALE, rgb_to_lab
from ..color.statistics import colorfulness
from ..model import ColorNet
from ..model.auto import BINS_1D, AutoDecoder, in_gamut_bins, grid_index, soft_bins
from . import data as D
from .checkpoint import load_state, save_state
from .precision import autocast
from .config import AutoConfig, TrainConfig  # AutoConfig: the `auto` section, importable from here too


def decoder_device(name: str) -> torch.device:
    """Where the decoder trains: `name` (cpu, cuda, cuda:N) or, for "auto", CUDA when there is one,
    else the CPU (bfloat16 autocast on CUDA; other accelerators are not supported here)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name != "cpu" and not (name.startswith("cuda") and torch.cuda.is_available()):
        raise ValueError(f"device {name}: not available here (cpu{', cuda' if torch.cuda.is_available() else ''})")
    return torch.device(name)


def cache_path(folder: Path, photos: str, cfg: TrainConfig, stages: int) -> Path:
    """Where the crops of one photo source are cached: one file per source and crop settings, so
    runs that share a source share its cache."""
    d = cfg.data
    key = hashlib.sha1(f"{photos}|{cfg.model.image_size}|{cfg.auto.variants}|{cfg.seed}|{stages}|{d.val_fraction}|{d.max_val}"
                       .encode()).hexdigest()[:10]
    return folder / f"{Path(photos.rstrip('/')).name or 'photos'}-{key}.pt"


@torch.inference_mode()
def cache(net: ColorNet, photos: str, path: Path, cfg: TrainConfig, stages: int, batch: int = 64, log=print,
          device: torch.device | None = None) -> None:
    """The first `stages` encoder feature maps, L*, a*b* and colourfulness of `cfg.auto.variants` crops
    of every photo of `photos` but its held-out split (`cfg.data`'s) -> `path`; the encoder runs on
    `device` (the CPU by default) and is left on the CPU."""
    device = device or torch.device("cpu")
    try:
        _cache(net.semantic.to(device).eval(), photos, path, cfg, stages, batch, log, device)
    finally:
        net.semantic.cpu()


def _cache(semantic, photos: str, path: Path, cfg: TrainConfig, stages: int, batch: int, log, device) -> None:
    source = D.open_source(photos)
    train_idx, held_idx = D.split_indices(source.names, cfg.data.val_fraction, cfg.data.max_val)
    feats, ls, abs_, colour, start = None, [], [], [], time.time()
    keys = [(i, v) for i in train_idx for v in range(cfg.auto.variants)]
    for at in range(0, len(keys), batch):
        crops = []
        for i, v in keys[at:at + batch]:
            try:
                im = source.load(i)
            except (OSError, ValueError) as e:
                log(f"skipping {source.names[i]}: {e}")
                continue
            crops.append(D.random_crop(im, cfg.model.image_size, np.random.default_rng([cfg.seed, i, v])).copy())
        if not crops:
            continue
        rgb = torch.from_numpy(np.stack(crops)).to(device).permute(0, 3, 1, 2).float() / 255
        lab = rgb_to_lab(rgb)
        f = semantic.features(lab[:, :1], stages)  # as the network sees the photo
        feats = [[] for _ in f] if feats is None else feats
        for store, x in zip(feats, f):
            store.append(x.half().cpu())
        ls.append(lab[:, :1].half().cpu())
        abs_.append(lab[:, 1:].half().cpu())
        colour.append(colorfulness(rgb).cpu())
        if at // batch % 20 == 0:
            log(f"{photos}: cached {at + len(crops)}/{len(keys)} crops ({time.time() - start:.0f} s)")
    if feats is None:
        raise ValueError(f"{photos}: none of the training photos could be read")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"features": [torch.cat(f) for f in feats], "l": torch.cat(ls), "ab": torch.cat(abs_),
                "colourfulness": torch.cat(colour), "held_out": [source.names[i] for i in held_idx]}, tmp)
    tmp.replace(path)


def load_caches(paths: list[Path]) -> dict:
    """The caches of several sources as one: their crops concatenated."""
    parts = [torch.load(p, weights_only=True) for p in paths]
    return {"features": [torch.cat(maps) for maps in zip(*(p["features"] for p in parts))],
            **{k: torch.cat([p[k] for p in parts]) for k in ("l", "ab", "colourfulness")}}


def rebalance_weights(ab: torch.Tensor, lam: float) -> torch.Tensor:
    """(Q,) weight per in-gamut bin: 1 / ((1 - lam) p + lam / Q_seen), p the smoothed frequency of
    the grid bin nearest each stride-4 pixel, normalised so the mean weight is about 1."""
    counts = torch.zeros(BINS_1D * BINS_1D, dtype=torch.float64)  # over the whole grid, for smoothing
    for chunk in ab.split(512):
        q = grid_index(F.avg_pool2d(chunk.float(), 4).movedim(1, -1))
        counts += torch.bincount(q.flatten(), minlength=counts.numel()).double()
    p = counts.reshape(1, 1, BINS_1D, BINS_1D)
    kernel = torch.exp(-torch.arange(-2, 3, dtype=torch.float64) ** 2 / (2 * 0.5 ** 2))  # sigma 5 a*b* units
    kernel = kernel / kernel.sum()
    p = F.conv2d(F.conv2d(p, kernel.view(1, 1, 5, 1), padding=(2, 0)), kernel.view(1, 1, 1, 5), padding=(0, 2)).flatten()
    p = p / p.sum()
    inside = in_gamut_bins()[0]
    p, counts = p[inside] / p[inside].sum(), counts[inside]  # (the few pixels outside: their nearest bin, at its weight)
    seen = int((counts > 0).sum())
    w = 1 / ((1 - lam) * p + lam / seen)
    return (w / (counts / counts.sum() * w).sum()).float()


def nearest_bin(ab: torch.Tensor) -> torch.Tensor:
    """a*b* (B, 2, H, W) -> (B, H, W) index of the nearest in-gamut bin (of `bin_centres`)."""
    return in_gamut_bins()[1].to(ab.device)[grid_index(ab.movedim(1, -1))]  # the table is built on the CPU


def losses(decoder: AutoDecoder, features, l, ab, weights, cfg: AutoConfig) -> tuple[torch.Tensor, dict]:
    logits, regressed = decoder.heads(features, l)
    ab4, ab2 = F.avg_pool2d(ab, 4), F.avg_pool2d(ab, 2)
    ce = -(soft_bins(ab4) * torch.log_softmax(logits, dim=1)).sum(1)
    ce = (ce * weights[nearest_bin(ab4)]).mean()
    huber = F.smooth_l1_loss(regressed / AB_SCALE, ab2 / AB_SCALE, beta=0.1)
    loss, parts = ce + cfg.regression * huber, {"ce": ce.item(), "huber": huber.item(), "balance": 0.0}
    if cfg.balance:
        out = decoder.read_out(logits, regressed) / AB_SCALE
        target = ab2 / AB_SCALE
        balance = ((out.mean((2, 3)) - target.mean((2, 3))).abs() + (out.std((2, 3)) - target.std((2, 3))).abs()).mean()
        loss, parts["balance"] = loss + cfg.balance * balance, balance.item()
    return loss, parts


def draw_weights(colour: torch.Tensor, power: float) -> torch.Tensor:
    """Each crop's weight in the draws: its colourfulness (at least 1) ** `power`."""
    return colour.double().clamp(min=1) ** power


def batch_order(n: int, colour: torch.Tensor, cfg: AutoConfig, g: torch.Generator) -> torch.Tensor:
    """An epoch's crop indices: each once, or drawn with probability ~ colourfulness ** `cfg.colourful`."""
    if not cfg.colourful:
        return torch.randperm(n, generator=g)
    return torch.multinomial(draw_weights(colour, cfg.colourful), n, replacement=True, generator=g)


def optimizer(decoder: AutoDecoder, cfg: AutoConfig, total: int):
    """AdamW (the tail at its own rate, without decay), warm-up of 200 steps then cosine to `total`."""
    tail = list(decoder.tail.parameters()) if decoder.tail is not None else []
    rest = [p for name, p in decoder.named_parameters() if not name.startswith("tail.")]
    opt = torch.optim.AdamW([{"params": rest}, {"params": tail, "lr": cfg.tail_lr, "weight_decay": 0.0}],
                            lr=cfg.lr, weight_decay=cfg.weight_decay)
    return opt, torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1, (s + 1) / 200) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))


def _means(sums: dict, n: int) -> str:
    return " ".join(f"{k} {v / n:.4f}" for k, v in sums.items())


def train(net: ColorNet, caches: list[Path], out: Path, cfg: TrainConfig, resume: bool = False, log=print) -> AutoDecoder:
    """Train `net.auto` (built fresh unless resuming) on the cached crops, as `cfg.auto` says; the config
    goes to out/config.yaml, checkpoints to out/auto.pt each epoch (and at `cfg.auto.steps`)."""
    a = cfg.auto
    # the cached crops, the weight of each colour bin, the decoder, its optimiser and schedule
    data = load_caches(caches)
    n, colour = len(data["l"]), data["colourfulness"]
    drawn = draw_weights(colour, a.colourful)
    log(f"{n} crops; mean colourfulness {colour.mean():.1f}, as drawn {(drawn * colour).sum() / drawn.sum():.1f}")
    device = decoder_device(cfg.device)
    decoder = net.auto.to(device)
    weights = rebalance_weights(data["ab"], a.rebalance).to(device)
    data = cache_on(data, device)
    used = decoder.stages(hints=None)  # a tail computes the features past its start itself
    batch = min(a.batch_size, n)
    steps_per_epoch = n // batch
    total = min(a.epochs * steps_per_epoch, a.steps or math.inf)
    opt, sched = optimizer(decoder, a, total)
    epoch = step = 0
    if resume and (out / "auto.pt").is_file():  # weights, optimiser, schedule and RNG as checkpointed
        state = load_state(out / "auto.pt", decoder, opt, sched, network="the automatic decoder")
        epoch, step = state["epoch"], state["step"]
        log(f"resumed at epoch {epoch}, step {step}")
    out.mkdir(parents=True, exist_ok=True)
    cfg.save(out / "config.yaml")
    amp, began, first_step = autocast(device), time.time(), step
    while epoch < a.epochs and step < total:
        # the epoch's order of crops and its mirrorings, from (seed, epoch)
        g = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
        order = batch_order(n, colour, a, g)
        decoder.train()
        start, sums = time.time(), {"ce": 0.0, "huber": 0.0, "balance": 0.0}
        first = step - epoch * steps_per_epoch  # resuming inside an epoch
        for s in range(first, steps_per_epoch):
            f, l, ab = cached_batch(data, order[s * batch:(s + 1) * batch], used, device)
            if torch.rand((), generator=g) < 0.5:
                f, l, ab = [x.flip(-1) for x in f], l.flip(-1), ab.flip(-1)
            parts = update(decoder, (f, l, ab), weights, a, opt, sched, amp)  # forward, backward, optimiser step
            step += 1
            for k in sums:
                sums[k] += parts[k]
            done = s + 1 - first
            if done % 100 == 0:
                log(f"epoch {epoch + 1} step {s + 1}/{steps_per_epoch} {_means(sums, done)} "
                    f"({done * batch / (time.time() - start):.0f} crops/s)")
            if step >= total:
                break
        # checkpoint at the end of the epoch (or where the steps stop)
        epoch += step % steps_per_epoch == 0
        save_state(out / "auto.pt", decoder, opt, sched, step, cfg.to_dict(), epoch=epoch)
        log(f"epoch {epoch} at step {step}: {_means(sums, max(1, s + 1 - first))}")
    seconds, steps_run = time.time() - began, step - first_step
    log(f"{steps_run} steps in {seconds:.1f} s on {device}: {steps_run * batch / max(seconds, 1e-9):.0f} crops/s")
    return decoder.cpu().eval()


def cache_on(data: dict, device: torch.device) -> dict:
    """The cached crops on a GPU when they fit in half its free memory (a batch is then gathered there,
    not copied over each step); else, or on the CPU, as they are."""
    if device.type != "cuda":
        return data
    size = sum(t.numel() * t.element_size() for t in [*data["features"], data["l"], data["ab"]])
    if size > torch.cuda.mem_get_info(device)[0] / 2:
        return data
    return {**data, "features": [x.to(device) for x in data["features"]], "l": data["l"].to(device),
            "ab": data["ab"].to(device)}


def cached_batch(data: dict, idx: torch.Tensor, used: int, device: torch.device) -> tuple[list, torch.Tensor, torch.Tensor]:
    """The cached crops `idx` on `device` in float32: the first `used` feature maps, L* (B, 1, S, S), a*b* (B, 2, S, S)."""
    idx = idx.to(data["l"].device)
    f = [x[idx].to(device).float() for x in data["features"][:used]]
    return f, data["l"][idx].to(device).float(), data["ab"][idx].to(device).float()


def update(decoder: AutoDecoder, batch: tuple, weights: torch.Tensor, cfg: AutoConfig, opt, sched, amp) -> dict:
    """One optimiser step on a batch (features, L*, a*b*); returns the loss's parts."""
    with amp:
        loss, parts = losses(decoder, *batch, weights, cfg)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(decoder.parameters(), 1.0)
    opt.step()
    sched.step()
    return parts

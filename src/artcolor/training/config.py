"""Training configuration: dataclasses with commented defaults, composed from a preset, a YAML file
and `--set a.b=c` overrides. The resolved config is saved in every run folder."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from ..config import PRESETS, ModelConfig


@dataclass
class DataConfig:
    # no default folder: a default naming a path outside the repository fails in a fresh clone
    photos: str | None = None  # folder (recursive) or hf:NAME[:split]; required (--photos)
    paintings: str | None = None  # style references, folder or hf:NAME[:split]; None: other photos only
    val_photos: str | None = None  # None: a deterministic split of `photos`
    val_paintings: str | None = None  # None: a deterministic split of `paintings`
    val_fraction: float = 0.02  # train-auto holds out the same split of each of its photo sources
    max_val: int = 64  # validation photos used
    num_workers: int = 1
    hf_streaming: bool = False
    hf_max_items: int = 20000  # a streamed dataset is read up to this many images


@dataclass
class RecipeConfig:
    """Which reference each sample gets; each sample draws one of self / other / none."""

    kind: Literal["augmented", "seed"] = "augmented"  # seed: the report's implicit training
    p_self: float = 0.55  # augmented self-reference
    p_other: float = 0.25  # a different reference (painting or photo) with the palette loss
    p_none: float = 0.20  # no reference: the null style, for automatic mode
    p_identity: float = 0.3  # a self-reference keeps the true colours (no colour transform)
    hue_max: float = 3.14159  # colour transform: hue rotation in ab, uniform in +-hue_max radians
    saturation: tuple[float, float] = (0.5, 1.5)  # colour transform: ab scaled by a factor in this range
    p_painting: float = 0.7  # a different reference is a painting (else another photo)
    patch_grid: int = 4  # the reference is cut into grid x grid patches and shuffled...
    p_shuffle: float = 0.5  # ...with this probability (always cropped and maybe flipped)
    p_turn: float = 1.0  # a random quarter turn (of four, one the identity) with this probability
    # colour hints (models with hints): in every reference mode, a share of the samples gets a few
    # small patches of the target's own a*b* (Zhang et al. 2017 sample them from the ground truth too)
    p_hints: float = 0.5  # share of samples with hints
    hint_count: float = 6.0  # mean number of hints in a sample with hints (1 + geometric)
    hint_size: tuple[int, int] = (1, 5)  # side of a hint's square patch, in training pixels


@dataclass
class LossConfig:
    mse: float = 0.0  # MSE on sRGB (the report's)
    huber_ab: float = 1.0  # Huber on ab / 110
    ssim: float = 0.0  # 1 - SSIM on sRGB
    palette: float = 1.0  # sliced Wasserstein in ab, output vs reference (different-reference samples)
    auto_palette: float = 0.5  # sliced Wasserstein in ab, output vs ground truth (no-reference samples): no sepia
    other_reconstruction: float = 0.3  # weight of the reconstruction loss when the reference differs
    # different-reference samples: a*b* should change little between neighbours whose true colours are
    # alike, so a reference's colours follow the photo's objects instead of blotching across them
    coherence: float = 0.0
    hint: float = 1.0  # Huber on ab at the hints' pixels, in every mode: a hint wins over a painting where it is
    # feature distance on the frozen encoder's first stages (EfficientNet-Lite, strides 4 and 8) between
    # output and target sRGB: the perceptual role LPIPS plays in the report (its AlexNet cannot be had here)
    feature: float = 0.0
    lpips: float = 0.0  # needs the optional `lpips` backbone, which cannot be downloaded offline


@dataclass
class OptimConfig:
    steps: int = 20000
    batch_size: int = 16
    grad_accum: int = 1
    lr: float = 2e-3
    weight_decay: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.99)
    warmup: int = 500
    min_lr_ratio: float = 0.05  # cosine decays to lr * this
    clip: float = 1.0
    ema: float = 0.999  # 0 disables EMA weights
    encoder_lr: float = 0.0  # learning rate of the pretrained encoder; 0 keeps it frozen


@dataclass
class AutoConfig:
    """`artcolor train-auto`: the automatic decoder trained on a model's frozen encoder (training/auto.py).

    Its crops are `model.image_size`; the photos it holds out are `data`'s split; `seed` and `device`
    are the run's."""

    variants: int = 2  # random crops cached per photo
    epochs: int = 12
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    tail_lr: float = 1e-4  # the decoder's own copy of the encoder past its start, if it has one (no decay)
    regression: float = 10.0  # weight of the Huber term beside the cross-entropy
    rebalance: float = 0.5  # lambda: 0 weights by rarity alone, 1 not at all
    # weight of the colour-balance term: each crop's mean and spread of a*b*, output against ground truth
    balance: float = 0.0
    colourful: float = 0.0  # crops drawn with probability ~ colourfulness ** this (0: each once per epoch)
    steps: int = 0  # stop after this many steps in all (0: run every epoch)


@dataclass
class TrainConfig:
    """One run's configuration, `artcolor train`'s or `artcolor train-auto`'s (which reads `auto`,
    `data`'s split, `seed` and `device`, and takes `model` from the network it is given)."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    recipe: RecipeConfig = field(default_factory=RecipeConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    auto: AutoConfig = field(default_factory=AutoConfig)  # train-auto's; `artcolor train` does not read it
    seed: int = 0
    device: str = "auto"
    threads: int = 0  # torch CPU threads; 0 leaves torch's default
    channels_last: bool = False  # NHWC tensors; measured slower than NCHW on 2-core CPUs (benchmarks/)
    val_every: int = 500
    ckpt_every: int = 250
    log_every: int = 20
    tensorboard: bool = False
    sensitivity_warn: float = 0.05  # warn when reference sensitivity falls below this

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        return _build(cls, d, "")

    def save(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))


def _build(cls, d: dict, where: str):
    if not isinstance(d, dict):
        raise ValueError(f"config section {where or '<root>'} must be a mapping, got {d!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - set(fields))
    if unknown:
        raise ValueError(f"unknown config keys in {where or '<root>'}: {unknown}")
    kwargs = {}
    for name, value in d.items():
        sub = _SECTIONS.get(name) if cls is TrainConfig else None
        if sub is ModelConfig:
            kwargs[name] = ModelConfig.from_dict(value)
        elif sub is not None:
            kwargs[name] = _build(sub, value, name)
        else:
            kwargs[name] = tuple(value) if isinstance(value, list) else value
    return cls(**kwargs)


_SECTIONS = {"model": ModelConfig, "data": DataConfig, "recipe": RecipeConfig, "loss": LossConfig, "optim": OptimConfig,
             "auto": AutoConfig}


def preset_config(name: str) -> TrainConfig:
    """A named preset of `config.PRESETS` (`default`: our recipe on the default model; `seed`: the
    report's; `tiny`: for tests): its network, and its changes to the defaults of every other section."""
    if name not in PRESETS:
        raise ValueError(f"unknown training config {name!r}; choose {', '.join(PRESETS)} or a .yaml file")
    entry = PRESETS[name]
    return TrainConfig.from_dict(_merge({**TrainConfig().to_dict(), "model": entry.model.to_dict()}, entry.training))


def load_config(name_or_path: str, overrides: list[str] = (), run: bool = False) -> TrainConfig:
    """A preset name or a YAML file (whose optional `base:` names a preset), then `key=value` overrides.

    `run`: the YAML is a run folder's own config.yaml. What it lacks is newer than the run and takes
    the dataclasses' defaults, which leave new features off (a palette-free run stays palette-free),
    not the `default` preset's, which would change the network the checkpoint was saved from.
    """
    if name_or_path.endswith((".yaml", ".yml")):
        path = Path(name_or_path)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as e:
            raise ValueError(f"{path}: cannot read config: {e}") from None
        base = TrainConfig() if run else preset_config(data.pop("base", "default"))
        cfg_dict = _merge(base.to_dict(), data)
    else:
        cfg_dict = preset_config(name_or_path).to_dict()
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects key=value, got {item!r}")
        _set(cfg_dict, key.strip(), parse_value(value))
    return TrainConfig.from_dict(cfg_dict)


def parse_value(text: str):
    """A `--set` value as YAML, except that `1e-4` is a number (YAML 1.1 reads it as a string)."""
    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    return value


def _merge(base: dict, update: dict) -> dict:
    out = dict(base)
    for k, v in update.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _set(d: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    for p in parents:
        if not isinstance(d.get(p), dict):
            raise ValueError(f"--set {dotted}: no config section {p!r}")
        d = d[p]
    if leaf not in d:
        raise ValueError(f"--set {dotted}: unknown key {leaf!r}")
    d[leaf] = value

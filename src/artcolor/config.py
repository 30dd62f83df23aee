"""The model's configuration: one dataclass, saved as `config.json` beside the weights."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

TAIL_STARTS = (4, 8)  # the strides the automatic decoder's copy of the encoder can start from

ColorSpace = Literal["lab", "rgb"]
Encoder = Literal["none", "efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"]
Activation = Literal["relu", "silu", "leaky_relu"]


def _whole(value, least: int) -> bool:
    """An int (not a bool) of at least `least`."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _check_number(name: str, value, lo: float, hi: float) -> None:
    """A ValueError naming `name` unless `value` is a number (not a bool) in [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise ValueError(f"{name} must be a number in [{lo}, {hi}], got {value!r}")


@dataclass
class ModelConfig:
    # U-Net widths, one per level; the bottleneck sits at 1 / 2**(len(channels) - 1) of the input
    channels: tuple[int, ...] = (16, 32, 64, 128, 256)
    # conv blocks per encoder level (each block ends in its own AdaIN)
    blocks: tuple[int, ...] = (1, 1, 1, 2, 2)
    enc_convs: int = 2  # 3x3 convs inside one encoder block
    dec_convs: int = 2  # 3x3 convs inside one decoder block
    activation: Activation = "relu"
    # style encoder: strided convs, then global average pooling
    style_channels: tuple[int, ...] = (32, 64, 128, 128)
    style_dim: int = 64  # the report settled on 32 for its network; a palette needs a little more
    style_size: int = 128  # the reference is resized to this short side before encoding
    # lightness bands of the luminance-keyed palette in the style code (model/palette.py); 0: none
    palette_bins: int = 0
    # learned classes per band, keyed on the gray image by a small net (palette.PaletteKeys); 1: bands only
    palette_classes: int = 1
    # ImageNet-pretrained encoder of the gray photo whose features join the U-Net (model/efficientnet.py)
    encoder: Encoder = "none"
    hints: bool = False  # colour hints (a*, b*, mask) as input channels beside L*
    # automatic mode by a decoder of its own on the encoder's features (model/auto.py; needs `encoder`)
    auto_decoder: bool = False
    auto_temperature: float = 0.38  # its annealed-mean read-out: 1 the mean, towards 0 the mode
    auto_mix: float = 0.5  # how far its output moves from the regression (0) to the annealed mean (1)
    # the decoder reads its own fine-tuned copy of the encoder past stride `auto_tail_from` (4 or 8;
    # efficientnet.EncoderTail)
    auto_tail: bool = False
    auto_tail_from: int = 8
    # correspondence with the reference (model/correspondence.py): its colours warped onto the photo's
    # matching places, with the match's confidence, join the U-Net's input and a learned blend at its output
    correspondence: bool = False
    match_temperature: float = 0.01  # softmax temperature over cosine similarities
    color_space: ColorSpace = "lab"  # lab: predict ab from L; rgb: predict RGB (the report's choice)
    image_size: int = 128  # training size, and the default working short side at inference

    def __post_init__(self):
        self.channels = tuple(self.channels)
        self.blocks = tuple(self.blocks)
        self.style_channels = tuple(self.style_channels)
        if len(self.channels) < 2:
            raise ValueError(f"channels needs at least two levels, got {self.channels}")
        if len(self.blocks) != len(self.channels):
            raise ValueError(f"blocks needs one entry per level ({len(self.channels)}), got {self.blocks}")
        # a config.json is user input: sizes must be whole numbers before any layer is built from them
        counts = {"channels": self.channels, "blocks": self.blocks, "style_channels": self.style_channels}
        for name in ("enc_convs", "dec_convs", "style_dim", "style_size", "image_size"):
            counts[name] = getattr(self, name)
        if not _whole(self.palette_bins, least=0):
            raise ValueError(f"palette_bins must be a non-negative integer, got {self.palette_bins!r}")
        if not _whole(self.palette_classes, least=1):
            raise ValueError(f"palette_classes must be a positive integer, got {self.palette_classes!r}")
        for name, value in counts.items():
            values = value if isinstance(value, tuple) else (value,)
            if not all(_whole(v, least=1) for v in values):
                kind = "positive integers" if isinstance(value, tuple) else "a positive integer"
                raise ValueError(f"{name} must be {kind}, got {value!r}")
        if self.color_space not in ("lab", "rgb"):
            raise ValueError(f"color_space must be 'lab' or 'rgb', got {self.color_space!r}")
        if self.encoder not in get_args(Encoder):
            raise ValueError(f"unknown encoder {self.encoder!r}")
        if not isinstance(self.hints, bool):
            raise ValueError(f"hints must be true or false, got {self.hints!r}")
        if not isinstance(self.auto_decoder, bool):
            raise ValueError(f"auto_decoder must be true or false, got {self.auto_decoder!r}")
        if not isinstance(self.auto_tail, bool):
            raise ValueError(f"auto_tail must be true or false, got {self.auto_tail!r}")
        if self.auto_tail and not self.auto_decoder:
            raise ValueError("auto_tail is the automatic decoder's: it needs auto_decoder true")
        if self.auto_tail_from not in TAIL_STARTS:
            raise ValueError(f"auto_tail_from must be one of {TAIL_STARTS} (the stride the tail starts from), "
                             f"got {self.auto_tail_from!r}")
        if not isinstance(self.correspondence, bool):
            raise ValueError(f"correspondence must be true or false, got {self.correspondence!r}")
        if self.correspondence and (self.encoder == "none" or self.color_space != "lab"):
            raise ValueError("correspondence matches the encoder's features and warps a*b*: "
                             "it needs an encoder and color_space 'lab'")
        if self.auto_decoder and self.encoder == "none":
            raise ValueError("auto_decoder needs an encoder (its input is the encoder's features)")
        if self.auto_decoder and self.color_space != "lab":
            raise ValueError("auto_decoder predicts a*b*: it needs color_space 'lab'")
        for name, lo, hi in (("auto_temperature", 0.01, 10.0), ("auto_mix", 0.0, 1.0), ("match_temperature", 0.001, 1.0)):
            _check_number(name, getattr(self, name), lo, hi)
        if self.activation not in ("relu", "silu", "leaky_relu"):
            raise ValueError(f"unknown activation {self.activation!r}")

    @property
    def code_dim(self) -> int:
        """Length of a style code: the latent, then the luminance-keyed palette."""
        return self.style_dim + 4 * self.palette_bins * self.palette_classes  # palette.FEATURES per cell

    @property
    def classes(self) -> int:
        """Palette classes in use: without bands there is nothing to split."""
        return self.palette_classes if self.palette_bins else 1

    @property
    def multiple(self) -> int:
        """Spatial sizes must be divisible by this (one halving per level below the top; the encoder's 32)."""
        return max(2 ** (len(self.channels) - 1), 32 if self.encoder != "none" else 1)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        """The architecture from a config's "model" section; the inference options that folders before
        2026-12-04 kept there (`MOVED_OPTIONS`) are skipped: `InferenceOptions.from_config` reads them."""
        d = {k: v for k, v in d.items() if k not in MOVED_OPTIONS}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown model config keys: {unknown}")
        return cls(**d)

    def to_json(self, options: "InferenceOptions | None" = None) -> str:
        """config.json's text: this architecture, and the inference options (the defaults if None)."""
        options = InferenceOptions() if options is None else options
        return json.dumps({"model": self.to_dict(), "inference": options.to_dict()}, indent=2) + "\n"

    def save(self, path: str | Path, options: "InferenceOptions | None" = None) -> None:
        Path(path).write_text(self.to_json(options))

    @classmethod
    def load(cls, path: str | Path) -> "ModelConfig":
        """The architecture of a model folder's config.json (`read_config` gives its options too)."""
        return read_config(path)[0]


# inference options that model folders kept in their "model" section before 2026-12-04, with the values
# they had when absent there (ModelConfig's defaults of the time)
MOVED_OPTIONS = {"palette_transfer": 0.0, "transfer_matched": 0.0, "match_trust": 0.0}


@dataclass(frozen=True)
class InferenceOptions:
    """How a trained model colourises with a reference: choices made at inference, never seen by
    training (nanoGPT's `temperature` is an argument of `generate`, not of `GPTConfig`). Saved in the
    "inference" section of a model folder's config.json; an ONNX graph takes them as its `options`
    input (`as_vector`). All are shares in [0, 1]; the defaults are the bundled model's.
    """

    # how strongly each object keeps one colour family (model/mapping.py): the colour of places the
    # reference shows nothing like is smoothed over what the encoder sees as one thing, its borders
    # following L*; 0: pixel by pixel, 1: object by object
    coherence: float = 1.0
    # how far places the reference has nothing like move onto its palette (sliced optimal transport of
    # the a*b*, model/correspondence.py); 0: not at all
    palette_transfer: float = 1.0
    transfer_matched: float = 1.0  # the share of it places that found their counterpart take too (1: everywhere)
    # how far places that found their counterpart in the reference take its warped colour; 0: as learned
    match_trust: float = 0.0

    def __post_init__(self):
        for f in dataclasses.fields(self):
            _check_number(f.name, getattr(self, f.name), 0.0, 1.0)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_config(cls, data: dict) -> "InferenceOptions":
        """From a config.json's parsed contents: its "inference" section, else (a folder made before
        the options had one) the options its "model" section held, each at its value of the time."""
        section = data.get("inference")
        if section is None:
            model = data.get("model") or {}
            section = {k: model.get(k, old) for k, old in MOVED_OPTIONS.items()} | {"coherence": 0.0}
        if not isinstance(section, dict):
            raise ValueError(f"the 'inference' section must be an object, got {section!r}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(section) - known)
        if unknown:
            raise ValueError(f"unknown inference options: {unknown}")
        return cls(**section)

    def as_vector(self, strength: float = 1.0) -> list[float]:
        """The options as the network's `options` input, in `OPTION_ORDER`; `strength` (the style's)
        scales how far the output moves onto the reference's palette (above 1: past it)."""
        scaled = {**self.to_dict(), "palette_transfer": self.palette_transfer * strength}
        return [scaled[name] for name in OPTION_ORDER]


OPTION_ORDER = ("coherence", "palette_transfer", "transfer_matched", "match_trust")  # `options` input, by index


def read_config(path: str | Path) -> tuple[ModelConfig, InferenceOptions]:
    """A model folder's config.json -> its architecture and its inference options."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:  # ValueError: not JSON, or not even UTF-8 text
        raise ValueError(f"{path}: cannot read model config: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("model"), dict):
        raise ValueError(f"{path}: expected a JSON object with a 'model' section")
    try:
        return ModelConfig.from_dict(data["model"]), InferenceOptions.from_config(data)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: {e}") from None


@dataclass(frozen=True)
class Preset:
    """A named starting point: the network, and what training changes from `TrainConfig`'s defaults,
    by section (`training/config.py` reads it; a model folder needs only the network)."""

    model: ModelConfig
    training: dict = field(default_factory=dict)


# the one table of presets, for inference (`preset`) and training (`training.config.preset_config`)
PRESETS: dict[str, Preset] = {
    # ours: Lab, a wider bottleneck, a larger style vector and a luminance-keyed palette with classes,
    # and, for what is in the photo, ImageNet EfficientNet-Lite0 features; colour hints
    "default": Preset(ModelConfig(palette_bins=16, palette_classes=8, encoder="efficientnet-lite0", hints=True)),
    # the report's final network: quarter widths, extra blocks at the two deepest levels, RGB; and its
    # implicit training (the untouched ground truth as the reference, MSE on RGB)
    "seed": Preset(
        ModelConfig(
            channels=(16, 32, 64, 128, 128),
            blocks=(1, 1, 1, 2, 2),
            enc_convs=2,
            dec_convs=3,
            style_channels=(16, 32, 64, 128),
            style_dim=32,
            color_space="rgb",
        ),
        training={
            "recipe": {"kind": "seed"},
            "loss": {"mse": 1.0, "huber_ab": 0.0, "palette": 0.0, "auto_palette": 0.0},
            "optim": {"lr": 1e-3, "ema": 0.0},
        },
    ),
    # for tests: a few thousand parameters, a run of 20 steps
    "tiny": Preset(
        ModelConfig(
            channels=(8, 8, 16),
            blocks=(1, 1, 1),
            enc_convs=1,
            dec_convs=1,
            style_channels=(8, 16),
            style_dim=8,
            style_size=32,
            image_size=32,
            palette_bins=4,
            palette_classes=2,
        ),
        training={
            "data": {"max_val": 4, "num_workers": 0},
            "optim": {"steps": 20, "batch_size": 4, "warmup": 2, "ema": 0.9},
            "val_every": 10,
            "ckpt_every": 5,
            "log_every": 5,
        },
    ),
}


def preset(name: str) -> ModelConfig:
    """The network of a named preset (a fresh copy)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}")
    return dataclasses.replace(PRESETS[name].model)

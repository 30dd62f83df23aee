"""Model parts: AdaIN, the U-Net and its style encoder."""

from .adain import AdaIN, adain
from .unet import AB_SCALE, ColorNet, StyleEncoder

__all__ = ["AdaIN", "adain", "ColorNet", "StyleEncoder", "AB_SCALE"]

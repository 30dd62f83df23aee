"""Model parts: AdaIN, the U-Net and its style encoder, and model folders (`folders.py`)."""

from .adain import AdaIN, adain
from .folders import BUNDLED, load_net, save_net
from .unet import AB_SCALE, ColorNet, StyleEncoder

__all__ = ["AdaIN", "adain", "ColorNet", "StyleEncoder", "AB_SCALE", "BUNDLED", "load_net", "save_net"]

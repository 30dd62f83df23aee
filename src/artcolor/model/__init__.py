"""Model parts: AdaIN, the U-Net and its style encoder, and model folders (`folders.py`)."""

from ..deprecation import moved
from .adain import AdaIN, adain
from .folders import BUNDLED, load_net, save_net
from .unet import ColorNet, StyleEncoder

__all__ = ["AdaIN", "adain", "ColorNet", "StyleEncoder", "BUNDLED", "load_net", "save_net"]

MOVED = {"AB_SCALE": "artcolor.color.lab"}  # colour maths, not the model's


def __getattr__(name):
    return moved(__name__, MOVED, name)

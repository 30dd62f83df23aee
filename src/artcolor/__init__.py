"""artcolor: colourise grayscale photos in the palette of any reference image, or automatically."""

from .inference import Colorizer, palette_image
from .image import ImageError

__version__ = "0.1.0"
__all__ = ["Colorizer", "palette_image", "ImageError", "__version__"]

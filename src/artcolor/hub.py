"""The model card that makes a model folder a Hugging Face Hub repository as it stands.

A model folder is `config.json` + `model.safetensors` + this `README.md`: uploading the folder
publishes the model, and `Colorizer.load(folder)` reads it back without `huggingface_hub`.
"""

from __future__ import annotations

import os
from pathlib import Path

from .config import ModelConfig
from .image import atomic_write

CARD_NAME = "README.md"
TAGS = ("image-colorization", "colorization", "style-transfer", "adain", "unet", "pytorch", "safetensors")

CARD = """---
library_name: artcolor
license: {license}
pipeline_tag: image-to-image
tags:
{tags}
---

# artcolor colourisation model

A style-conditioned U-Net (AdaIN after every block) that colourises grayscale photos in the palette
of a reference image (a painting, a photo or a list of colours), or automatically without one.
The output keeps the photo's lightness exactly and its full resolution.

- colour space: {color_space}; U-Net channels {channels}; style code of {code_dim} numbers ({code_parts})
- trained at {image_size} pixels (short side), which is also the default working size

## Usage

```bash
pip install artcolor
artcolor colorize photo.jpg --style painting.jpg --weights path/to/this/folder -o out/
```

```python
from artcolor import Colorizer, palette_image

colorizer = Colorizer.load("path/to/this/folder")
colorizer.colorize("photo.jpg", style="painting.jpg").save("photo_colour.png")
colorizer.colorize("photo.jpg", style=palette_image(["#264653", "#2a9d8f", "#e9c46a"]))
colorizer.colorize("photo.jpg")  # automatic
```

## Files

- `config.json`: the model configuration (`artcolor.config.ModelConfig`)
- `model.safetensors`: the weights
"""


def model_card(config: ModelConfig, license: str = "mit") -> str:
    """The README.md of a model folder: YAML front matter for the Hub, then description and usage."""
    return CARD.format(
        license=license,
        tags="\n".join(f"- {t}" for t in TAGS),
        color_space=config.color_space,
        channels=config.channels,
        code_dim=config.code_dim,
        code_parts=code_parts(config),
        image_size=config.image_size,
    )


def code_parts(config: ModelConfig) -> str:
    if not config.palette_bins:
        return "a latent"
    classes = f" x {config.palette_classes} learned classes" if config.palette_classes > 1 else ""
    return f"a latent of {config.style_dim} and a luminance-keyed palette of {config.palette_bins} lightness bands{classes}"


def write_model_card(folder: str | os.PathLike, config: ModelConfig, overwrite: bool = False) -> bool:
    """Write README.md into a model folder, keeping an existing (possibly hand-edited) card.

    Returns whether a card was written.
    """
    path = Path(folder) / CARD_NAME
    if path.exists() and not overwrite:
        return False
    with atomic_write(path) as f:
        f.write(model_card(config).encode())
    return True

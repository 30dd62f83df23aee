"""The web app (`artcolor demo`): a gradio page over `Colorizer`, loaded once and queued.

Needs the `app` extra (`pip install 'artcolor[app]'`).
"""

import os

# before gradio is imported: no analytics or version checks leave the machine
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from .app import build_app, launch  # noqa: E402
from .presets import PALETTES, gallery  # noqa: E402

__all__ = ["PALETTES", "build_app", "gallery", "launch"]

"""Video: colourise a clip in the palette of a reference, one style code for the whole clip, its colour
carried along optical flow from frame to frame so it does not flicker.

>>> from artcolor import Colorizer
>>> from artcolor.video import colorize_video
>>> colorize_video("film.mp4", "out/film.mp4", Colorizer.load(), style="painting.jpg")

Needs the `video` extra (PyAV, which ships FFmpeg's libraries, and OpenCV for the optical flow):
`pip install 'artcolor[video]'`. Importing this package needs neither; using it does.
"""

import importlib

__all__ = ["colorize_video", "colorize_frames", "ClipColorizer", "ChromaStabilizer", "is_cut", "style_code",
           "VideoError", "VIDEO_SUFFIXES", "is_video"]

_LAZY = {"colorize_video": "pipeline", "colorize_frames": "pipeline", "ClipColorizer": "pipeline",
         "style_code": "pipeline", "ChromaStabilizer": "stability", "is_cut": "stability", "VideoError": "codec",
         "VIDEO_SUFFIXES": "codec", "is_video": "codec"}


def __getattr__(name):
    # the CLI asks `is_video` of every input: that must not import torch
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'artcolor.video' has no attribute {name!r}")

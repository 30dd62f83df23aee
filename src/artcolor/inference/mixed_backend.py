"""PyTorch, with the U-Net under a reference on onnxruntime: on a CPU, each path on what runs it faster.

`benchmarks/network_backends.py`, the bundled model at 128x160 (a 1024x768 photo's working size), one
thread, a quiet 2-core x86 CPU: automatic 28 ms in PyTorch against 53 ms on onnxruntime; with a
palette 85 ms against 57 ms, the colourisations 71 dB apart. `MixedBackend` keeps the automatic
decoder and the reference encoders in PyTorch and runs the U-Net with a reference as an ONNX graph.

Exporting that graph takes seconds (about 4 for the bundled model), so it is exported on first use
and kept in a cache folder (`cache_folder()`) under a hash of everything it is traced from: the
weights, the config, artcolor's code and torch's version. A later process only loads it (about
0.4 s), which pays where many images share the process (a folder, a film: the CLI's `--backend auto`),
not for one photo. The graph is of the weights at first use: a backend for inference, not training.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
from pathlib import Path

import numpy as np
import torch

from ..config import InferenceOptions
from ..inputs.images import atomic_write
from ..model import ColorNet
from .onnx_backend import Graph, color_ratio
from .pipeline import Style
from .torch_backend import TorchBackend

KEEP_GRAPHS = 4  # cached graphs kept, newest first: a few models (or code versions) in use at once


def cache_folder() -> Path:
    """Where exported graphs are kept: $ARTCOLOR_CACHE, else $XDG_CACHE_HOME/artcolor, else ~/.cache/artcolor."""
    if os.environ.get("ARTCOLOR_CACHE"):
        return Path(os.environ["ARTCOLOR_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "artcolor"


def graph_key(net: ColorNet) -> str:
    """A hash of what the colour graph is traced from: weights, config, artcolor's source, torch's version."""
    from .export import OPSET

    digest = hashlib.sha256(json.dumps([net.config.to_dict(), torch.__version__, OPSET], sort_keys=True).encode())
    package = Path(__file__).resolve().parents[1]
    for path in sorted(package.rglob("*.py")):
        digest.update(path.read_bytes())
    for name, tensor in net.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:32]


def graph_path(net: ColorNet) -> Path:
    """Where `net`'s colour graph is cached (there or not yet)."""
    return cache_folder() / "graphs" / f"color-{graph_key(net)}.onnx"


def cached_color_graph(net: ColorNet, path: Path, threads: int | None = None) -> Graph:
    """`net`'s colour graph on onnxruntime: read from `path` (`graph_path(net)`), else exported and cached
    there where the folder is writable (a read-only home costs the export each time, nothing else)."""
    from .export import color_graph

    folder = path.parent
    if path.is_file():
        try:
            return Graph(path, threads)
        except Exception:  # onnxruntime's own errors: a damaged file is exported again
            path.unlink(missing_ok=True)
    data = color_graph(net).SerializeToString()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as f:
            f.write(data)
        for old in sorted(folder.glob("color-*.onnx"), key=lambda p: p.stat().st_mtime, reverse=True)[KEEP_GRAPHS:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass
    return Graph(data, threads)


class MixedBackend(TorchBackend):
    """A `ColorNet` on the CPU in PyTorch, its U-Net under a reference on onnxruntime (see the module)."""

    name = "mixed"

    def __init__(self, net: ColorNet, threads: int | None = None):
        super().__init__(net, "cpu")
        self.threads, self._graph, self._lock = threads, None, threading.Lock()

    @functools.cached_property
    def cache_path(self) -> Path:
        """Where the U-Net's graph is cached (there or not yet): the weights are hashed once."""
        return graph_path(self.net)

    def reference_graph(self) -> Graph:
        """The U-Net's graph, made on first use (a folder's workers may ask at once)."""
        with self._lock:
            if self._graph is None:
                self._graph = cached_color_graph(self.net, self.cache_path, self.threads)
        return self._graph

    def predict_ratio(self, l: np.ndarray, style: Style, hints: np.ndarray | None = None,
                      options: InferenceOptions | None = None) -> np.ndarray:
        if style.automatic:
            return super().predict_ratio(l, style, hints, options)
        return color_ratio(self.reference_graph(), l, style, hints, options)

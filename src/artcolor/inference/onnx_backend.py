"""The ONNX Runtime backend: an exported model's graphs on onnxruntime, numpy in and out, no PyTorch.

An export folder (`export.export_model`) holds `config.json` (the model config and the export's own
section), the graphs and the null style (automatic colourisation) as `null_style.npy`:

- `style_encoder.onnx`: `rgb` (B, 3, H, W) sRGB in [0, 1], any H, W -> `style` (B, code_dim), the
  palette keys included. References are resized to short side `style_size` first, as in PyTorch.
  With `correspondence` it also takes `match_rgb`, the reference at sizes divisible by 32, and
  returns its bank's `keys` (B, N, C) and `ab` (B, N, 2).
- `color_net.onnx`, the U-Net: `l` (B, 1, H, W) L* in [0, 100], any H, W (padded inside the graph
  to the network's multiple), `style` (B, code_dim) and, for models with hint inputs, `hints`
  (B, 3, H, W) (`hints.py`) and, for models with `correspondence`, the reference's bank `ref_keys`
  (1, N, C), `ref_ab` (1, N, 2), `ref_log_weight` (1, N) and the inference options `options` (4,)
  (`InferenceOptions.as_vector`) -> `out` (ab or sRGB, as `mapping.paint`) and `ratio` (B, 3, H, W),
  the chroma ratio the full-resolution recombination multiplies by luminance.
- `auto_net.onnx`, for models with an automatic decoder only: automatic colourisation, `l` and (for
  models with hint inputs) `hints` -> `out` (a*b*) and `ratio`. Without it, automatic colourisation
  is the colour graph under the null style.

Folders of an older layout (`FORMAT`, in config.json's "onnx" section) are refused: export again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..config import InferenceOptions, ModelConfig
from .hub import resolve_model
from .backend import Backend, option_vector
from .pipeline import Style, hint_batch

COLOR_GRAPH = "color_net.onnx"
STYLE_GRAPH = "style_encoder.onnx"
AUTO_GRAPH = "auto_net.onnx"
NULL_STYLE = "null_style.npy"
BANK_INPUTS = ("ref_keys", "ref_ab", "ref_log_weight")  # the colour graph's, for models with correspondence
# the export folder's layout version, in config.json's "onnx" section; 2: the U-Net and the automatic
# decoder in graphs of their own (1 ran both in the colour graph for every image)
FORMAT = 2


class Graph:
    """One ONNX graph on onnxruntime's CPU provider: named numpy arrays in, named outputs out."""

    def __init__(self, model: str | os.PathLike | bytes, threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise ImportError(f"running ONNX graphs needs onnxruntime: pip install onnxruntime ({e})") from None
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        # idle threads sleep rather than spin, as torch's do under the CLI (OMP_WAIT_POLICY=PASSIVE): on a
        # busy 2-core machine spinning made the colour network 2-10x slower
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        source = model if isinstance(model, bytes) else str(model)
        self.session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def __call__(self, outputs: Sequence[str], **feeds: np.ndarray) -> list[np.ndarray]:
        feeds = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in feeds.items() if k in self.inputs}
        return self.session.run(list(outputs), feeds)


def read_export(folder: Path) -> dict:
    """config.json of an export folder, checked to name its files."""
    path = folder / "config.json"
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise FileNotFoundError(f"{folder}: not an ONNX export folder ({path}: {e})") from None
    onnx = config.get("onnx") if isinstance(config, dict) else None
    if not isinstance(onnx, dict) or not isinstance(config.get("model"), dict):
        raise ValueError(f"{path}: not an ONNX export's config (no 'onnx' section); make one with "
                         f"`artcolor export --format onnx OUT_DIR`")
    if onnx.get("format") != FORMAT:
        raise ValueError(f"{folder}: an ONNX export of format {onnx.get('format')!r}, this artcolor reads format "
                         f"{FORMAT}; export the model again: `artcolor export --format onnx --weights MODEL {folder}`")
    for name in (COLOR_GRAPH, STYLE_GRAPH, NULL_STYLE) + ((AUTO_GRAPH,) if onnx.get("auto_net") else ()):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder}: not an ONNX export folder (missing {name})")
    return config


def bank_feeds(bank: tuple | None, graph: Graph) -> dict[str, np.ndarray]:
    """A bank's three arrays as the colour graph's inputs; None gives an empty one (one place, no
    colour, no match), which is what PyTorch's network does without a reference."""
    if bank is None:
        channels = graph.session.get_inputs()[graph.inputs.index("ref_keys")].shape[2]
        bank = (np.zeros((1, 1, channels), np.float32), np.zeros((1, 1, 2), np.float32), np.zeros((1, 1), np.float32))
    return dict(zip(BANK_INPUTS, bank))


def graph_feeds(graph: Graph, l: np.ndarray, codes: np.ndarray | None = None, bank: tuple | None = None,
                hints: np.ndarray | None = None, options: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """A colour or automatic graph's inputs: L* (B, 1, h, w), style codes (B, code_dim) and the options
    vector (4,) (the colour graph's), and what the graph takes besides: the bank (empty for None) and the
    hints (zeros for None)."""
    feeds = {"l": l} if codes is None else {"l": l, "style": codes}
    if codes is not None and "options" in graph.inputs:  # a model that maps its output onto the reference
        feeds["options"] = options if options is not None else option_vector(None)
    if "ref_keys" in graph.inputs:  # a model that matches its reference
        feeds.update(bank_feeds(bank, graph))
    if "hints" in graph.inputs:  # a model that takes colour hints
        feeds["hints"] = hints if hints is not None else hint_batch([None] * len(l), l.shape[-2:], always=True)
    return feeds


def color_ratio(graph: Graph, l: np.ndarray, style: Style, hints: np.ndarray | None = None,
                options: InferenceOptions | None = None) -> np.ndarray:
    """The colour graph (the U-Net and the mapping onto the reference) on a batch of working-size L*
    under one style -> the chroma ratio."""
    codes = np.broadcast_to(style.code, (len(l), len(style.code)))
    return graph(["ratio"], **graph_feeds(graph, l, codes, style.bank, hints, option_vector(options, style.strength)))[0]


class OnnxBackend(Backend):
    """An exported model's graphs (files or serialised bytes) on onnxruntime; `from_folder` reads an export."""

    name = "onnxruntime"

    def __init__(self, config: ModelConfig, null_style: np.ndarray, style_graph: Graph, color_graph: Graph,
                 auto_graph: Graph | None = None):
        self.config, self.null_style = config, np.asarray(null_style, np.float32)  # (code_dim,)
        self.style_graph, self.color_graph, self.auto_graph = style_graph, color_graph, auto_graph

    @classmethod
    def from_folder(cls, folder: str | os.PathLike, threads: int | None = None) -> "OnnxBackend":
        """An export folder, or hf://ORG/NAME of one (fetched into the Hugging Face cache)."""
        folder = resolve_model(folder)
        exported = read_export(folder)
        auto = Graph(folder / AUTO_GRAPH, threads) if exported["onnx"].get("auto_net") else None
        backend = cls(ModelConfig.from_dict(exported["model"]), np.load(folder / NULL_STYLE),
                      Graph(folder / STYLE_GRAPH, threads), Graph(folder / COLOR_GRAPH, threads), auto)
        backend.options = InferenceOptions.from_config(exported)
        return backend

    def encode_reference(self, rgb: np.ndarray, match_rgb: np.ndarray | None = None) -> tuple[np.ndarray, tuple | None]:
        if match_rgb is None:
            return self.style_graph(["style"], rgb=rgb)[0][0], None
        code, keys, ab = self.style_graph(["style", "keys", "ab"], rgb=rgb, match_rgb=match_rgb)
        return code[0], (keys, ab)

    def predict_ratio(self, l: np.ndarray, style: Style, hints: np.ndarray | None = None,
                      options: InferenceOptions | None = None) -> np.ndarray:
        if style.automatic and self.auto_graph is not None:
            return self.auto_graph(["ratio"], **graph_feeds(self.auto_graph, l, hints=hints))[0]
        return color_ratio(self.color_graph, l, style, hints, options)

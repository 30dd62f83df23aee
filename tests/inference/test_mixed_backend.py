"""The mixed backend (PyTorch, the U-Net under a reference on onnxruntime): it colours as PyTorch does,
keeps its exported graph in the cache under a key of the weights it was traced from, and `--backend auto`
takes it where it pays."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from artcolor import Colorizer  # noqa: E402
from artcolor.cli.colorize import _work  # noqa: E402
from artcolor.cluster.engine import _model_and_settings  # noqa: E402
from artcolor.inference.request import ColorizeRequest, choose_backend  # noqa: E402
from artcolor.inference.backend import MIXED_FROM  # noqa: E402
from artcolor.inference import mixed_backend  # noqa: E402
from artcolor.inference.mixed_backend import MixedBackend, cache_folder, graph_key  # noqa: E402


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ARTCOLOR_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "graphs"


@pytest.fixture
def net(perturb):
    from artcolor.config import preset
    from artcolor.model import ColorNet

    torch.manual_seed(0)
    return perturb(ColorNet(preset("tiny"))).eval()


def pixels(image) -> np.ndarray:
    return np.asarray(image.convert("RGB")).astype(np.int32)


def test_mixed_colours_as_torch_does(net, cache, gray_photo, palettes, coffee):
    plain, mixed = Colorizer(net), Colorizer(net, backend="mixed")
    assert isinstance(mixed.backend, MixedBackend) and mixed.net is net
    automatic = [pixels(c.colorize(gray_photo)) for c in (plain, mixed)]
    np.testing.assert_array_equal(*automatic)  # PyTorch's own path
    assert not cache.exists(), "automatic colourisation exported a graph it does not use"
    for style in (palettes[0], [palettes[1], coffee]):
        a, b = (pixels(c.colorize(gray_photo, style=style)) for c in (plain, mixed))
        assert np.abs(a - b).max() <= 1
    assert np.abs(a[..., 0] - a[..., 2]).max() > 10, "a gray output would make the comparison vacuous"
    assert len(list(cache.glob("color-*.onnx"))) == 1


def test_a_later_backend_reads_the_cached_graph(net, cache, gray_photo, palettes, monkeypatch):
    first = pixels(Colorizer(net, backend="mixed").colorize(gray_photo, style=palettes[0]))

    def no_export(*args, **kwargs):
        raise AssertionError("exported again although the graph is cached")

    monkeypatch.setattr("artcolor.inference.export.color_graph", no_export)
    again = pixels(Colorizer(net, backend="mixed").colorize(gray_photo, style=palettes[0]))
    np.testing.assert_array_equal(first, again)


def test_a_damaged_cached_graph_is_exported_again(net, cache, gray_photo, palettes):
    expected = pixels(Colorizer(net, backend="mixed").colorize(gray_photo, style=palettes[0]))
    (path,) = cache.glob("color-*.onnx")
    path.write_bytes(b"not a graph")
    got = pixels(Colorizer(net, backend="mixed").colorize(gray_photo, style=palettes[0]))
    np.testing.assert_array_equal(expected, got)
    assert path.stat().st_size > 1000


def test_the_key_follows_the_weights(net):
    key = graph_key(net)
    assert graph_key(net) == key
    with torch.no_grad():
        next(net.parameters()).view(-1)[0] += 1e-3
    assert graph_key(net) != key


def test_old_graphs_are_pruned(net, cache, monkeypatch):
    cache.mkdir(parents=True)
    for i in range(mixed_backend.KEEP_GRAPHS + 2):
        (cache / f"color-old{i}.onnx").write_bytes(b"x")
    mixed_backend.cached_color_graph(net, mixed_backend.graph_path(net))
    assert len(list(cache.glob("color-*.onnx"))) == mixed_backend.KEEP_GRAPHS
    assert (cache / f"color-{graph_key(net)}.onnx").is_file()


def test_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("ARTCOLOR_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_folder() == tmp_path / "artcolor"
    monkeypatch.setenv("ARTCOLOR_CACHE", str(tmp_path / "mine"))
    assert cache_folder() == tmp_path / "mine"


def test_an_unwritable_cache_costs_only_the_export(net, tmp_path, monkeypatch, gray_photo, palettes):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would be")
    monkeypatch.setenv("ARTCOLOR_CACHE", str(blocker))
    a = pixels(Colorizer(net).colorize(gray_photo, style=palettes[0]))
    b = pixels(Colorizer(net, backend="mixed").colorize(gray_photo, style=palettes[0]))
    assert np.abs(a - b).max() <= 1


def test_auto_takes_mixed_where_it_pays(tmp_path):
    palette = ColorizeRequest(style="palette.png", backend="auto")  # the name only: nothing is opened
    assert choose_backend(palette, MIXED_FROM) == "mixed"
    assert choose_backend(palette, MIXED_FROM - 1) == "torch"
    assert choose_backend(palette.replace(style=()), MIXED_FROM) == "torch"  # automatic: PyTorch is faster
    assert choose_backend(palette.replace(strength=0.0), MIXED_FROM) == "torch"  # strength 0 is automatic too
    assert choose_backend(palette, 1, film=True) == "mixed"
    assert choose_backend(palette.replace(backend="torch"), MIXED_FROM) == "torch"


def test_the_command_counts_only_the_files_to_do(tmp_path):
    photos = [(tmp_path / f"{i}.jpg", tmp_path / "out" / f"{i}.jpg") for i in range(3)]
    assert _work(photos) == (3, False)
    assert _work([(src, None) for src, _ in photos]) == (0, False)  # outputs that exist are not work
    assert _work([*photos, (tmp_path / "film.mp4", tmp_path / "out.mp4")]) == (4, True)
    assert _work([(tmp_path / "film.mp4", None)]) == (0, False)


def test_the_ray_engine_reads_auto_as_the_local_engine_does(model_dir, palettes):
    def backend(style, files):
        request = ColorizeRequest(weights=str(model_dir), style=style, device="cpu", backend="auto")
        _, settings = _model_and_settings(request, 1, None, files=files)
        return settings.backend

    assert backend(palettes[0], MIXED_FROM) == "mixed"
    assert backend(palettes[0], MIXED_FROM - 1) == "torch"
    assert backend(None, MIXED_FROM) == "torch"  # automatic colour: PyTorch is faster


def test_colorize_command_with_the_mixed_backend(run_cli, model_dir, tmp_path, coffee, cache):
    folder = tmp_path / "in"
    folder.mkdir()
    coffee.convert("L").save(folder / "photo.png")
    outputs = {}
    for backend in ("torch", "mixed"):
        code, _, err = run_cli("colorize", folder, "-o", tmp_path / backend, "--weights", model_dir,
                               "--palette", "#e76f51,#2a9d8f", "--backend", backend)
        assert code == 0, err
        outputs[backend] = pixels(Image.open(tmp_path / backend / "photo.png"))
    assert np.abs(outputs["torch"] - outputs["mixed"]).max() <= 1
    assert list(cache.glob("color-*.onnx")), "the mixed run did not use its graph"


def test_the_first_mixed_run_says_it_exports(run_cli, model_dir, tmp_path, coffee, cache):
    folder = tmp_path / "in"
    folder.mkdir()
    coffee.convert("L").save(folder / "photo.png")
    said = []
    for run in ("first", "second"):
        code, _, err = run_cli("colorize", folder, "-o", tmp_path / run, "--weights", model_dir,
                               "--palette", "#e76f51,#2a9d8f", "--backend", "mixed")
        assert code == 0, err
        said.append("exporting the network to ONNX" in err)
    assert said == [True, False]  # the second run reads the cache

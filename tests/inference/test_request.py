"""One colourisation job as every shell asks for it (`inference/request.py`): its checks, how a
command builds it, and `prepare_job`: the same style and pixels as the Colorizer gives, the hints
checked against the model, the backend chosen once. And the names that moved (`deprecation.py`)."""

from __future__ import annotations

import dataclasses
import importlib
import math
import warnings

import numpy as np
import pytest

from artcolor.deprecation import REMOVED_AFTER, moved
from artcolor.inference import Colorizer
from artcolor.inference.request import ColorizeRequest, RequestError, number, onnx_missing, prepare_job


@pytest.mark.parametrize("field, value", [("strength", 4.5), ("strength", -0.1), ("strength", math.nan),
                                          ("size", 8), ("max_pixels", -1), ("backend", "tensorflow")])
def test_a_bad_setting_is_an_error_naming_it(field, value):
    with pytest.raises(ValueError, match=field if field != "backend" else "backend must be one of"):
        ColorizeRequest(**{field: value})


def test_blend_weights_are_one_per_reference():
    assert ColorizeRequest(style=["a.png", "b.png"], style_weights=[1, 3]).style_weights == (1.0, 3.0)
    with pytest.raises(ValueError, match="2 styles but 1 style_weights"):
        ColorizeRequest(style=["a.png", "b.png"], style_weights=[1])
    with pytest.raises(ValueError, match="non-negative"):
        ColorizeRequest(style=["a.png", "b.png"], style_weights=[1, -1])


def test_one_reference_or_a_list_or_none():
    assert ColorizeRequest(style="a.png").style == ("a.png",)
    assert ColorizeRequest(style=["a.png", "b.png"]).style == ("a.png", "b.png")
    assert ColorizeRequest(style=None).style == () and not ColorizeRequest().referenced
    assert ColorizeRequest(style="a.png").referenced and not ColorizeRequest(style="a.png", strength=0).referenced


def test_a_command_builds_it_from_its_options_by_name():
    options = {"inputs": ("in/",), "strength": 2.0, "codec": "libx264", "backend": "auto", "out": "x"}
    request = ColorizeRequest.from_options(options, output="out/", strength=0.5)
    assert (request.inputs, request.output, request.strength, request.backend) == (("in/",), "out/", 0.5, "auto")
    assert request.replace(strength=1.0).strength == 1.0 and request.strength == 0.5
    with pytest.raises(ValueError, match="strength"):
        request.replace(strength=9)


def test_a_new_setting_is_one_line_and_checked():
    @dataclasses.dataclass(frozen=True)
    class WithCoherence(ColorizeRequest):
        coherence: float = number(0.5, 0.0, 1.0)

    assert WithCoherence(coherence=1).coherence == 1.0
    assert WithCoherence.from_options({"coherence": 0.25}).coherence == 0.25
    with pytest.raises(ValueError, match=r"coherence must be a finite number in \[0, 1\], got 2"):
        WithCoherence(coherence=2)


def test_prepare_job_gives_what_the_colorizer_gives(model_dir, gray_photo, palettes):
    request = ColorizeRequest(weights=str(model_dir), style=list(palettes), style_weights=[1, 3], strength=1.5,
                              device="cpu", backend="auto")
    job = prepare_job(request, files=2)
    assert job.backend == "torch"  # a reference over 2 files: not worth the ONNX graph's load
    direct = Colorizer.load(str(model_dir), device="cpu")
    style = direct.encode_style(list(palettes), 1.5, [1, 3])
    assert np.array_equal(job.style.code, style.code) and not job.style.automatic
    expected = direct.colorize(gray_photo, style=list(palettes), strength=1.5, style_weights=[1, 3])
    assert np.array_equal(np.asarray(job(gray_photo)), np.asarray(expected))


def test_prepare_job_reuses_a_loaded_model_and_checks_its_hints(tiny, gray_photo):
    request = ColorizeRequest(hints=[(4, 4, "#ff0000")])
    with pytest.raises(RequestError, match="takes no colour hints"):  # the tiny preset has no hint inputs
        prepare_job(request, colorizer=tiny)
    job = prepare_job(request.replace(hints=None), colorizer=tiny)
    assert job.colorizer is tiny and job.style.automatic


def test_the_onnx_extra_is_named_once():
    message = str(onnx_missing("backend 'mixed'", ImportError("No module named 'onnx'")))
    assert message == "backend 'mixed' needs the onnx extra: pip install 'artcolor[onnx]' (No module named 'onnx')"


# ---- names that moved: they still work, and warn with their home and a date


MOVED_FROM = ["artcolor.inference", "artcolor.model", "artcolor.color.lab", "artcolor.onnx"]


@pytest.mark.parametrize("module", MOVED_FROM)
def test_a_moved_name_warns_and_is_the_same_object(module):
    old = importlib.import_module(module)
    assert old.MOVED
    for name, home in old.MOVED.items():
        with pytest.warns(DeprecationWarning, match=rf"{module}\.{name} moved to {home}\.{name} .*after {REMOVED_AFTER}"):
            value = getattr(old, name)
        assert value is getattr(importlib.import_module(home), name)
        assert name not in getattr(old, "__all__", [])


def test_the_public_names_do_not_warn():
    import artcolor.inference as inference

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in inference.__all__:
            getattr(inference, name)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        moved("artcolor.inference", {}, "nothing")
    import artcolor.inference

    assert not hasattr(artcolor.inference, "as_style")  # dead, removed

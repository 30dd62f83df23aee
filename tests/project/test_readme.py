"""The README's first Python example (the tour of the modes) runs as written, with the bundled model."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from artcolor.model.folders import BUNDLED

ROOT = Path(__file__).resolve().parents[2]

needs_bundled = pytest.mark.skipif(not (BUNDLED / "model.safetensors").is_file(), reason="no bundled model")


@needs_bundled
def test_readme_python_example(tmp_path, monkeypatch):
    code = re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert (tmp_path / "coffee_sunset.png").is_file()
    sizes = {"coffee": (600, 400), "chelsea": (451, 300), "astronaut": (512, 512)}
    assert scope["out"].size == scope["mix"].size == sizes["coffee"]
    assert scope["auto"].size == sizes["chelsea"] and scope["sea"].size == sizes["astronaut"]
    assert [im.size for im in scope["both"]] == [sizes["coffee"], (512, 600)]
    # the bundled model colours: the sunset reference gives a warmer result than the sea palette
    def warmth(im):
        a = np.asarray(im.convert("RGB"), dtype=np.float32)
        return (a[..., 0] - a[..., 2]).mean()

    assert warmth(scope["out"]) > warmth(scope["mix"])
    # the hint's own pixels take its red: far redder there than the automatic result
    def redness(im):
        a = np.asarray(im.convert("RGB"), dtype=np.float32)[142:159, 217:234]  # the hint's disk, radius 8
        return (a[..., 0] - (a[..., 1] + a[..., 2]) / 2).mean()

    assert scope["red"].size == sizes["chelsea"] and redness(scope["red"]) > redness(scope["auto"]) + 40


@needs_bundled
def test_bundled_model_is_half_precision_on_disk_and_float_in_memory():
    from safetensors.torch import load_file

    from artcolor import Colorizer

    assert {t.dtype for t in load_file(BUNDLED / "model.safetensors").values()} == {__import__("torch").float16}
    net = Colorizer.load().net
    assert all(p.dtype == __import__("torch").float32 for p in net.parameters())

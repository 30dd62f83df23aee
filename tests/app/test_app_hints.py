"""The web app's colour hints: click handlers directly, then a click, a colour and a colourisation in headless
Chromium (Debian's `chromium` and the `playwright` package; skipped when either is missing)."""

from __future__ import annotations

import re
import shutil
import socket
from io import BytesIO

import pytest
from PIL import Image

gr = pytest.importorskip("gradio")

from artcolor.app import build_app, gallery, launch  # noqa: E402
from artcolor.app import hinting  # noqa: E402
from artcolor.app.handlers import AUTOMATIC, Handlers  # noqa: E402
from conftest import hue_chroma, hue_distance  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")

GREEN = "#1e8449"


@pytest.fixture
def photo(tmp_path, coffee):
    path = tmp_path / "coffee.png"
    coffee.save(path)
    return str(path)


def click(index) -> gr.SelectData:
    return gr.SelectData(None, {"index": index, "value": None, "selected": True})


# ---- handlers, without a browser


def test_clicks_on_a_large_photos_preview_land_in_photo_pixels(tmp_path, hint_follower):
    big = tmp_path / "big.png"
    Image.new("L", (2048, 1024), 128).save(big)
    handlers = Handlers(hint_follower, gallery(), str(tmp_path / "out"))
    _, gray, view = handlers.preview_and_view(str(big))
    assert gray.size == (1024, 512) and (view.width, view.height) == (2048, 1024)
    hints = handlers.add_hint(view, [], "rgba(30, 132, 73, 1)", click([100, 50]))
    hints = handlers.add_hint(view, hints, "#f00", click([1023, 511]))
    assert hints == [[201, 101, GREEN], [2047, 1023, "#ff0000"]]
    assert hinting.listing(hints).splitlines() == ["1. x 201, y 101: #1e8449", "2. x 2047, y 1023: #ff0000"]
    marked = hinting.shown(view, hints)
    assert marked.size == gray.size and hue_chroma(marked.getpixel((100, 50)))[1] > 20  # a dot in the colour


@pytest.mark.parametrize("view, colour, message", [(None, GREEN, "Upload a photo first"),
                                                   ("VIEW", "#12345g", "Hint colour: not a colour")])
def test_bad_clicks_are_messages(photo, hint_follower, tmp_path, view, colour, message):
    handlers = Handlers(hint_follower, gallery(), str(tmp_path / "out"))
    view = handlers.preview_and_view(photo)[2] if view == "VIEW" else None
    with pytest.raises(gr.Error, match=message):
        handlers.add_hint(view, [], colour, click([1, 1]))


def test_colorize_follows_the_hints_it_is_given(photo, hint_follower, tmp_path, coffee):
    handlers = Handlers(hint_follower, gallery(), str(tmp_path / "out"))
    result = handlers.run(photo, AUTOMATIC, None, "", None, "", 1.0, [[60, 20, GREEN]])
    hue, chroma = hue_chroma(result.colour.convert("RGB").getpixel((60, 20)))
    assert hue_distance(hue, hue_chroma((30, 132, 73))[0]) < 10 and chroma > 10
    assert hue_chroma(result.colour.convert("RGB").getpixel((5, 60)))[1] < 2
    assert "1 hint(s)" in result.caption
    with pytest.raises(gr.Error, match=r"x = 96.0 is outside the image \(0 <= x < 96\)"):
        handlers.run(photo, AUTOMATIC, None, "", None, "", 1.0, [[coffee.width, 1, GREEN]])


def test_a_model_without_hint_inputs_hides_the_hint_controls_and_refuses_hints(tiny, hint_follower, photo, tmp_path):
    handlers = Handlers(tiny, gallery(), str(tmp_path / "out"))
    with pytest.raises(gr.Error, match="this model takes no colour hints"):
        handlers.run(photo, AUTOMATIC, None, "", None, "", 1.0, [[1, 1, GREEN]])
    def hidden_columns(colorizer):
        components = build_app(colorizer).config["components"]
        return [c for c in components if c["type"] == "column" and c["props"].get("visible") is False]

    assert len(hidden_columns(tiny)) == 1 and hidden_columns(hint_follower) == []


# ---- the page in headless Chromium


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import dataclasses

    from artcolor import Colorizer
    from artcolor.config import preset
    from conftest import HintFollower

    colorizer = Colorizer(HintFollower(dataclasses.replace(preset("tiny"), hints=True)), device="cpu")
    demo = build_app(colorizer, results_dir=str(tmp_path_factory.mktemp("served")))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield launch(demo, port=port, block=False, quiet=True)
    demo.close()


@pytest.fixture(scope="module")
def page(server):
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server)
        page.locator("#run").wait_for(timeout=30_000)
        yield page
        browser.close()


def hint_lines(page) -> list[tuple[int, int, str]]:
    text = page.locator("#hint-list textarea").input_value()
    return [(int(x), int(y), c) for x, y, c in re.findall(r"x (\d+), y (\d+): (#[0-9a-f]{6})", text)]


def test_page_click_pick_colourise(page, photo, coffee):
    page.locator("#photo input[type=file]").set_input_files(photo)
    page.locator("#gray img").wait_for(timeout=20_000)
    page.locator("#hint-colour button").first.click()  # the picker opens: type the colour in its hex field
    field = page.locator("#hint-colour input[type=text]")
    field.fill(GREEN)
    field.press("Enter")
    page.keyboard.press("Escape")
    box = page.locator("#gray img").bounding_box()
    page.locator("#gray img").click(position={"x": box["width"] * 0.6, "y": box["height"] * 0.3})
    page.wait_for_function("document.querySelector('#hint-list textarea').value.includes('1. x')", timeout=20_000)
    (x, y, colour), = hint_lines(page)
    assert colour == GREEN
    assert abs(x - 0.6 * coffee.width) <= 3 and abs(y - 0.3 * coffee.height) <= 3
    page.locator("#run").click()
    page.locator("#caption", has_text="1 hint(s)").wait_for(timeout=30_000)
    href = page.locator("#download a").first.get_attribute("href")
    result = Image.open(BytesIO(page.request.get(href).body())).convert("RGB")
    hue, chroma = hue_chroma(result.getpixel((x, y)))
    assert hue_distance(hue, hue_chroma((30, 132, 73))[0]) < 10 and chroma > 10
    assert hue_chroma(result.getpixel((2, coffee.height - 3)))[1] < 2  # far from the hint: gray

    page.locator("#hint-undo").click()
    page.wait_for_function("document.querySelector('#hint-list textarea').value.includes('No hints')",
                           timeout=20_000)

"""The documentation covers the code: every public function and class has a docstring and an entry in
the API pages, every command and flag of the CLI is in docs/cli.md, and the README's links lead to files.
(`mkdocs build --strict` in CI checks the site's own links and nav.)"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _public_names(module_name: str) -> list[tuple[str, object]]:
    module = __import__(module_name, fromlist=["_"])
    names = getattr(module, "__all__", None)
    if names is None:  # no __all__: the classes and functions the module defines itself
        names = [n for n, o in vars(module).items() if not n.startswith("_")
                 and (inspect.isclass(o) or inspect.isfunction(o)) and o.__module__ == module_name]
    return [(n, getattr(module, n)) for n in names]


@pytest.mark.parametrize("module_name,page", [("artcolor", "artcolor.md"), ("artcolor.video", "video.md"),
                                              ("artcolor.onnx", "onnx.md")])
def test_every_public_name_has_a_docstring_and_an_api_entry(module_name, page):
    text = (DOCS / "api" / page).read_text()
    directives = set(re.findall(r"^::: ([\w.]+)", text, re.M))
    missing = []
    for name, obj in _public_names(module_name):
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            if f"`{name}`" not in text:  # a constant: named on its page
                missing.append(f"{name}: not on {page}")
            continue
        if f"{obj.__module__}.{obj.__qualname__}" not in directives:
            missing.append(f"{name}: no '::: {obj.__module__}.{obj.__qualname__}' on {page}")
        if not inspect.getdoc(obj):
            missing.append(f"{name}: no docstring")
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                function = getattr(member, "__func__", member)
                if not attr.startswith("_") and inspect.isfunction(function) and not function.__doc__:
                    missing.append(f"{name}.{attr}: no docstring")
    assert not missing, missing


def test_every_command_and_flag_is_in_the_cli_page():
    import click

    from artcolor.cli import COMMANDS, main

    sections = re.split(r"^## `artcolor ([\w-]+)`", (DOCS / "cli.md").read_text(), flags=re.M)
    pages = dict(zip(sections[1::2], sections[2::2]))
    missing = []
    with click.Context(main) as ctx:
        for name in COMMANDS:
            if name not in pages:
                missing.append(f"artcolor {name}: no section")
                continue
            for param in main.get_command(ctx, name).params:
                if isinstance(param, click.Option) and param.name != "help":
                    missing += [f"artcolor {name} {opt}" for opt in param.opts if f"`{opt}" not in pages[name]]
    assert not missing, missing


def test_readme_links_lead_to_files_and_anchors():
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", readme)
    assert any(link.startswith("docs/") for link in links)
    for link in links:
        if link.startswith(("http://", "https://")):
            continue
        path, _, anchor = link.partition("#")
        target = ROOT / path
        assert target.exists(), f"README links to {link}: no such file"
        if anchor:  # mkdocs' heading ids: lower case, spaces to hyphens, punctuation dropped
            text = target.read_text()
            ids = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
                   for h in re.findall(r"^#+ (.*?)(?: \{#[\w-]+\})?$", text, re.M)}
            ids |= set(re.findall(r"\{#([\w-]+)\}", text))
            assert anchor in ids, f"README links to {link}: no such heading"

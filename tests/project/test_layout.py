"""The package's shape (docs/architecture.md): no import cycle, files and functions a reader can
take in at once, one class that colourises."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "artcolor"
MAX_FILE_LINES, MAX_FUNCTION_LINES = 300, 60


def modules() -> dict[str, tuple[Path, bool]]:
    """Dotted name -> (file, is a package's __init__)."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return out


def imports(name: str, path: Path, is_package: bool, known: set[str]) -> set[str]:
    """The modules of ours that `name` imports, anywhere in it (inside functions too), with the
    package __init__ files each such import runs."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = name.split(".") if is_package else name.split(".")[:-1]
            base = ".".join(base[:len(base) - node.level + 1] + ([node.module] if node.module else []))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("artcolor"):
            base = node.module
        else:
            continue
        for alias in node.names:
            target = f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
            parts = target.split(".")
            found |= {".".join(parts[:k]) for k in range(2, len(parts) + 1)} & known
    return found - {name} - {p for p in found if name.startswith(p + ".")}


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, or None."""
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt, path + [nxt])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle():
    mods = modules()
    graph = {name: imports(name, path, is_package, set(mods)) for name, (path, is_package) in mods.items()}
    assert cycle(graph) is None


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_files_and_functions_are_short(path):
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_FILE_LINES
    functions = [node for node in ast.walk(ast.parse(text)) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    lengths = {f.name: f.end_lineno - f.lineno + 1 for f in functions}
    long = {name: n for name, n in lengths.items() if n > MAX_FUNCTION_LINES}
    assert not long


def test_one_class_colourises():
    owners = [f"{path.relative_to(PACKAGE)}:{node.name}" for path in PACKAGE.rglob("*.py")
              for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ClassDef)
              and any(isinstance(f, ast.FunctionDef) and f.name == "colorize" for f in node.body)]
    assert owners == ["inference/colorizer.py:Colorizer"]


MAX_PARAMETERS = 12  # the CLI's click commands take one per flag; nothing else takes more


def parameters(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Named parameters (self and cls not counted; *args and **kwargs not counted)."""
    a = node.args
    names = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]
    return len(names) - (names[:1] in (["self"], ["cls"]))


def test_the_parameter_counter_counts():
    tree = ast.parse("def f(self, a, b=1, *args, c, **kw): pass\ndef g(a, /, b): pass")
    assert [parameters(f) for f in tree.body] == [3, 2]


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_function_takes_more_than_twelve_parameters(path):
    functions = [node for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    commands = {f.name for f in functions if any("command" in ast.unparse(d) for d in f.decorator_list)}
    many = {f.name: parameters(f) for f in functions if parameters(f) > MAX_PARAMETERS and f.name not in commands}
    assert not many


def test_no_private_name_is_imported_across_modules():
    found = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("artcolor")):
                found += [f"{path.relative_to(PACKAGE)}: {node.module}.{alias.name}" for alias in node.names
                          if alias.name.startswith("_") and not alias.name.startswith("__")]
    assert not found


def test_matplotlib_is_the_train_extras_alone():
    """A run's figures (training/plots.py) are the one user of matplotlib, so only the extras that
    run them declare it (train, and test for the test that draws them)."""
    tomllib = pytest.importorskip("tomllib", reason="Python 3.11's TOML reader")
    users = sorted(str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
                   if any(isinstance(node, (ast.Import, ast.ImportFrom)) and "matplotlib" in ast.unparse(node)
                          for node in ast.walk(ast.parse(path.read_text()))))
    assert users == ["training/plots.py"]
    project = tomllib.loads((PACKAGE.parents[1] / "pyproject.toml").read_text())["project"]
    declared = lambda deps: any(d.startswith("matplotlib") for d in deps)  # noqa: E731
    assert not declared(project["dependencies"])
    assert sorted(name for name, deps in project["optional-dependencies"].items() if declared(deps)) == ["test", "train"]

"""Names that moved: still importable from where they were, with a warning that says where they
live now and when the old name goes. A package lists them in a table and its module `__getattr__`
calls `moved`:

    MOVED = {"palette_image": "artcolor.inputs.images"}

    def __getattr__(name):
        return moved(__name__, MOVED, name)
"""

from __future__ import annotations

import importlib
import warnings

SINCE = "2026-12-04"  # when these names moved
REMOVED_AFTER = "2027-06-30"  # the old names go in the first release after this date


def moved(module: str, table: dict[str, str], name: str):
    """`name` from its new home `table[name]`, with a DeprecationWarning naming both and the date the
    old name goes; AttributeError for a name that is not in `table`, as a module gives."""
    if name not in table:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    home = table[name]
    warnings.warn(f"{module}.{name} moved to {home}.{name} on {SINCE}; the old name goes after {REMOVED_AFTER}",
                  DeprecationWarning, stacklevel=3)
    return getattr(importlib.import_module(home), name)

"""Checks of numeric arguments at the public boundaries, with messages naming the argument and value.

A NaN or an infinity that slips into the maths comes out as a black image, not an error (NaN casts
to 0 in a uint8), so every number a user passes is checked here first. No torch: the CLI imports
this module before it loads the model.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Sequence

MAX_STRENGTH = 4.0  # past the reference (1) colours grow more saturated; past 4 the code is far from any trained
MIN_SIZE, MAX_SIZE = 16, 2048  # the network's working short side: it was trained at 128


class PredictionError(ValueError):
    """The network gave a non-finite (NaN or inf) style code or prediction: damaged weights, or an
    overflow. Raised instead of returning the black image such values would become."""


def finite_number(name: str, value, low: float | None = None, high: float | None = None) -> float:
    """`value` as a float, or ValueError naming `name`: not a real number, NaN, infinite, out of [low, high]."""
    value = real_number(name, value)
    if not math.isfinite(value) or (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be a finite number{_range(low, high)}, got {value!r}")
    return value


def integer(name: str, value, low: int, high: int | None = None) -> int:
    """`value` as an int in [low, high], or ValueError naming `name` (a float, even 128.0, is refused)."""
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if number < low or (high is not None and number > high):
        raise ValueError(f"{name} must be an integer{_range(low, high)}, got {number}")
    return number


def blend_weights(name: str, values: Sequence, count: int) -> list[float]:
    """`count` finite, non-negative weights with a positive sum, scaled to sum to 1.

    Scaled by their largest first, so weights near the float maximum do not overflow to inf in the sum.
    """
    try:
        values = list(values)
    except TypeError:
        raise ValueError(f"{name} must be a list of numbers, got {values!r}") from None
    if len(values) != count:
        raise ValueError(f"got {count} styles but {len(values)} {name}")
    weights = [real_number(name, v) for v in values]
    if not all(math.isfinite(w) and w >= 0 for w in weights):
        raise ValueError(f"{name} must be finite and non-negative, got {weights}")
    top = max(weights, default=0.0)
    if top <= 0:
        raise ValueError(f"{name} must have a positive sum, got {weights}")
    scaled = [w / top for w in weights]
    return [w / sum(scaled) for w in scaled]


def parse_blend_weights(text: str | None, count: int, name: str = "style_weights") -> list[float] | None:
    """Blend weights typed by a user ('1, 2', '1,2' or '1 2'), one per reference -> the numbers as
    given, checked as `blend_weights` checks them; empty or blank -> None (equal weights).

    The command line's `--style-weights` and the web app's field both read them here.
    """
    if text is None or not text.strip():
        return None
    try:
        values = [float(v) for v in re.split(r"[,\s]+", text.strip())]
    except ValueError:
        raise ValueError(f"{name}: expected numbers separated by commas, such as '1, 2', got {text!r}") from None
    if len(values) != count:
        raise ValueError(f"{len(values)} blend weights for {count} reference image(s): give one per image")
    blend_weights(name, values, count)
    return values


def real_number(name: str, value) -> float:
    """float(value) for real numbers (Python, numpy, 0-d tensors); ValueError naming `name` otherwise."""
    if isinstance(value, (str, bytes, bool)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None


def _range(low, high) -> str:
    if low is not None and high is not None:
        return f" in [{low:g}, {high:g}]"
    if low is not None:
        return f" >= {low:g}"
    return "" if high is None else f" <= {high:g}"

"""Evaluation: colourisation metrics (pure functions), the harness that runs them, and the report."""

from .harness import evaluate
from .metrics import sliced_wasserstein_ab
from .report import markdown_table

__all__ = ["evaluate", "sliced_wasserstein_ab", "markdown_table"]

"""Colourise collections on a Ray cluster (the `ray` extra), from folders or buckets, resumable.

>>> from artcolor.cluster import colorize_on_ray
>>> run = colorize_on_ray(["s3://archive/scans"], "s3://archive/colour", style="painting.jpg")
>>> run.done, run.failed, run.manifest

Ray is imported when a run starts, not with this package.
"""

from .engine import RayRun, colorize_on_ray

__all__ = ["RayRun", "colorize_on_ray"]

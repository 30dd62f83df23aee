"""Progress as plain lines, for a run whose output is a log file rather than a terminal."""

from __future__ import annotations


def progress_line(step: int, steps: int, end: int, loss: float, rate: float, seconds_left: float) -> str:
    """One log line: 'step 40/2000  loss 0.0712  15.2 images/s  ETA 2h05m' (to `end`, if it stops early)."""
    eta = f"ETA {duration(seconds_left)}" + (f" (stopping at step {end})" if end < steps else "")
    return f"step {step}/{steps}  loss {loss:.4f}  {rate:.1f} images/s  {eta}"


def duration(seconds: float) -> str:
    """A short human duration: 45s, 3m20s, 2h05m."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"

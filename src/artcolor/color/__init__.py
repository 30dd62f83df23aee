"""Colour maths: CIE Lab (`lab.py`), the sRGB transfer curve and its matrices (`srgb.py`), and
statistics of a colour distribution (`statistics.py`)."""

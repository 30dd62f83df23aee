"""What comes in: images and palettes (`images.py`), colour hints (`hints.py`), and the checks that
numbers given by a user make sense (`checks.py`)."""

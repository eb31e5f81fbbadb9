"""Datasets: synthetic blood-cell videos, real in-vitro smears, degradation."""

from ._base import clear_data_home, get_data_home
from ._bccd import fetch_bccd
from ._blur import estimate_blur
from ._degrade import add_noise, box_blur, degrade

__all__ = [
    "add_noise",
    "box_blur",
    "clear_data_home",
    "degrade",
    "estimate_blur",
    "fetch_bccd",
    "get_data_home",
]

"""One-shot architecture search on weight-sharing supernets: ENAS, DARTS and ASNG-NAS (SPEC.md 3.3, 3.4, 5)."""

from __future__ import annotations

from archsearch.oneshot import asng_nas, darts, enas
from archsearch.oneshot.base import METHODS, OneShotMethod, make_method
from archsearch.oneshot.supernet import Supernet, make_supernet

__all__ = [
    "METHODS",
    "OneShotMethod",
    "Supernet",
    "asng_nas",
    "darts",
    "enas",
    "make_method",
    "make_supernet",
]

"""One-shot architecture search on weight-sharing supernets: ENAS, DARTS and ASNG-NAS (SPEC.md 3.3, 3.4, 5),
on the cell spaces and on a user's own model space (``search_model_space``, oneshot/search.py)."""

from __future__ import annotations

from archsearch.oneshot import asng_nas, darts, enas
from archsearch.oneshot.base import METHODS, OneShotMethod, make_method
from archsearch.oneshot.search import OneShotResult, search_model_space
from archsearch.oneshot.supernet import Supernet, make_supernet
from archsearch.oneshot.user import UserSupernet

__all__ = [
    "METHODS",
    "OneShotMethod",
    "OneShotResult",
    "Supernet",
    "UserSupernet",
    "asng_nas",
    "darts",
    "enas",
    "make_method",
    "make_supernet",
    "search_model_space",
]

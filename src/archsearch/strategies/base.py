"""The Strategy interface (defined in ``archsearch.core``; imported from here by older code)."""

from __future__ import annotations

from archsearch.core import Strategy

__all__ = ["Strategy"]

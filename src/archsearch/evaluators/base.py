"""Result and the Evaluator interface (defined in ``archsearch.core``; imported from here by older code)."""

from __future__ import annotations

from archsearch.core import Evaluator, Result, Status

__all__ = ["Evaluator", "Result", "Status"]

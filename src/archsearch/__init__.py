"""archsearch: neural architecture search and evolved learning algorithms in one toolkit."""

from __future__ import annotations

from archsearch.errors import ArchsearchError

__version__ = "0.1.0"
__all__ = ["ArchsearchError", "__version__"]

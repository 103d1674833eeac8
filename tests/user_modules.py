"""Tests that import users' modules from a temporary folder forget them afterwards."""

from __future__ import annotations

import sys
from pathlib import Path


def forget_user_modules(before: set[str], folder: Path) -> None:
    """Remove from ``sys.modules`` the modules imported since ``before`` was taken that were read from
    ``folder`` (or from a user file imported under a private name). Only those: a library first imported
    during the test (torch, say) must stay, since importing torch's extension a second time crashes."""
    for name in set(sys.modules) - before:
        path = getattr(sys.modules[name], "__file__", None) or ""
        if path.startswith(str(folder)) or name.startswith("_archsearch_user"):
            del sys.modules[name]

"""The archsearch command line: search, resume, status, best, report, export, bench, front, oneshot, zero."""

from __future__ import annotations

from archsearch.cli.apps import app, bench_app
from archsearch.cli.entry import main
from archsearch.cli.search import build_config

__all__ = ["app", "bench_app", "build_config", "main"]

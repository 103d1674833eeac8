"""The typer applications the commands are added to: ``archsearch`` and ``archsearch bench``."""

from __future__ import annotations

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Neural architecture search: NAS-RL, evolution, one-shot methods and AutoML-Zero.",
)

bench_app = typer.Typer(no_args_is_help=True, help="Many seeded searches on tabular benchmarks.")
app.add_typer(bench_app, name="bench")

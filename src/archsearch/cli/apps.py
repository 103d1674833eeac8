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


def print_version(asked: bool) -> None:
    """``archsearch --version``: the version on one line, then exit."""
    if asked:
        from archsearch import __version__
        from archsearch.cli.options import out

        out.print(f"archsearch {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def archsearch(
    version: bool = typer.Option(
        False, "--version", callback=print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """The options of ``archsearch`` itself, before the command."""

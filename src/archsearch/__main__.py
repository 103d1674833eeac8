"""The ``archsearch`` command and ``python -m archsearch``.

The command line is imported only when it runs: worker processes, which multiprocessing starts by
re-running the launching script, then import nothing heavy (torch) before they can set up their
parent-death signal and leave Ctrl-C to the driver.
"""

from __future__ import annotations


def main() -> None:
    """Run the archsearch command line (``archsearch.cli.main``)."""
    from archsearch.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()

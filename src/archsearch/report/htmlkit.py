"""The pieces of archsearch's HTML pages: the page with its style sheet, tables, cells, figures and the
formatting of numbers and durations. Every report (studies, one-shot runs) builds its page from these."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from archsearch import __version__
from archsearch.report.columns import MISSING

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; line-height: 1.4; }
h1 { font-size: 1.5em; word-break: break-all; }
h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #ddd; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f3f5f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .9em; word-break: break-all; }
.error { white-space: pre-wrap; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .85em;
         max-width: 40em; }
figure { margin: 1em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: .9em; }
.note { color: #666; }
td.heat { text-align: right; font-variant-numeric: tabular-nums; min-width: 3em; }
details { margin: .5em 0; }
"""


def html_page(title: str, sections: Sequence[str]) -> str:
    """A complete, self-contained page: ``sections`` (escaped HTML) in order, then the version note."""
    body = "\n".join([*sections, f'<p class="note">Written by archsearch {escape(__version__)}.</p>'])
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def escape(text: str) -> str:
    """``text`` safe inside HTML text and attribute values."""
    return html.escape(text, quote=True)


def code(text: str) -> str:
    """``text`` escaped, in ``<code>``."""
    return f"<code>{escape(text)}</code>"


def note(text: str) -> str:
    """A grey paragraph of ``text`` (plain text, escaped here)."""
    return f'<p class="note">{escape(text)}</p>'


def number_cell(text: str) -> str:
    """A right-aligned table cell of ``text`` (plain text, escaped here)."""
    return f'<td class="num">{escape(text)}</td>'


def cell(content: str) -> str:
    """A table cell around ``content``, which must already be escaped HTML."""
    return f"<td>{content}</td>"


def heat_cell(fraction: float) -> str:
    """A table cell with ``fraction`` as a percentage on a background as dark as it is large."""
    shade = f"background: rgba(31, 119, 180, {0.85 * fraction:.2f});"
    colour = " color: white;" if fraction > 0.55 else ""
    return f'<td class="heat" style="{shade}{colour}">{fraction:.0%}</td>'


def fields(rows: Sequence[tuple[str, str]]) -> str:
    """A two-column table of field names and their (escaped HTML) values."""
    body = "\n".join(f"<tr><th>{escape(name)}</th>{cell(value)}</tr>" for name, value in rows)
    return f"<table>\n{body}\n</table>"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table with a header row; ``rows`` hold finished ``<td>`` cells."""
    head = "".join(f"<th>{escape(name)}</th>" for name in header)
    body = "\n".join(f"<tr>{''.join(cells)}</tr>" for cells in rows)
    return f"<table>\n<tr>{head}</tr>\n{body}\n</table>"


def image(path: Path, caption: str) -> str:
    """The image at ``path``, linked by its file name (it sits beside the page), with ``caption``."""
    return (
        f'<figure><img src="{escape(path.name)}" alt="{escape(caption)}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def value_text(value: Any) -> str:
    """A decision value as the space's config would spell it: strings bare, others as JSON-like text."""
    return value if isinstance(value, str) else repr(value)


def sentence(text: str) -> str:
    """``text`` with a capital first letter and a full stop."""
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def number(value: Any) -> str:
    """``value`` with 4 decimals, or ``MISSING`` for None."""
    return MISSING if value is None else f"{float(value):.4f}"


def duration(seconds: float | None) -> str:
    """``0.05 s``, ``3.2 s``, ``4 min 05 s``, ``2 h 03 min``; ``MISSING`` for None."""
    if seconds is None:
        return MISSING
    if seconds < 1:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"

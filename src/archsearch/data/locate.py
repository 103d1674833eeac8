"""Finding a data set's files among candidate directories, with one clear error when they are absent."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from archsearch.errors import DataError


def find_directory(
    name: str,
    base: Path,
    candidates: Sequence[Path],
    expected: Sequence[str],
    has_file: Callable[[Path, str], bool],
    wanted: str,
    places: str,
) -> Path:
    """The first of ``candidates`` that holds every file in ``expected``; otherwise a DataError saying
    whether ``base`` is missing, empty of them or lacks some, and where the files ``wanted`` belong."""
    for candidate in candidates:
        if all(has_file(candidate, filename) for filename in expected):
            return candidate.resolve()
    missing = [filename for filename in expected if not has_file(base, filename)]
    if not base.is_dir():
        where = "does not exist"
    elif len(missing) == len(expected):
        where = "holds none of the files"
    else:
        where = f"lacks {', '.join(missing)}"
    raise DataError(f"{name}: data directory {base} {where}; expected {wanted} in it or in {places}")

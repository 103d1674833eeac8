"""The layering ``make lint`` keeps: no module uses another's private names (tools/check_private_imports.py)
and the import contracts of pyproject.toml hold (import-linter: layers, no cycles)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHECKER = REPO / "tools" / "check_private_imports.py"

KIT = """
_SECRET = 1
def _helper():
    return _SECRET
class Thing:
    def __init__(self):
        self._state = 0
    def _tell(self):
        return self._state
"""
USER = """
import archsearch.a.kit
import archsearch.a.kit as alias
from archsearch.a import kit
from archsearch.a.kit import Thing, _helper
from ..a.kit import _SECRET
import archsearch.a._hidden

class Mine(Thing):
    def __init__(self):
        self._own = 1
    def go(self, thing, store):
        kit._helper()
        alias._SECRET
        archsearch.a.kit._helper()
        Thing._tell(thing)
        thing._tell()
        return self._state, store._own, super()._tell()
"""


def run_checker(*roots: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHECKER), *map(str, roots)], capture_output=True, text=True, cwd=REPO
    )


def test_the_checker_finds_private_names_imported_or_reached_from_another_module(tmp_path: Path) -> None:
    package = tmp_path / "archsearch"
    for folder in (package / "a", package / "b"):
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text("")
    (package / "__init__.py").write_text('__version__ = "0"\n')
    (package / "a" / "kit.py").write_text(KIT)
    (package / "b" / "user.py").write_text(USER + "from .. import __version__\n")
    done = run_checker(tmp_path)
    found = sorted(
        re.findall(r":(\d+): archsearch\.b\.user uses (\S+),", done.stdout), key=lambda f: int(f[0])
    )
    assert done.returncode == 1
    assert found == [
        ("5", "archsearch.a.kit._helper"),
        ("6", "archsearch.a.kit._SECRET"),
        ("7", "archsearch.a._hidden"),
        ("13", "archsearch.a.kit._helper"),
        ("14", "archsearch.a.kit._SECRET"),
        ("15", "archsearch.a.kit._helper"),
        ("16", "archsearch.a.kit.Thing._tell"),
        ("17", "archsearch.a.kit._tell"),
    ]
    # a module's own private names, a base class's through self/super() and dunders are not findings
    (package / "b" / "user.py").write_text(
        "from archsearch.a.kit import Thing\nclass Mine(Thing):\n"
        "    def go(self):\n        return self._state, super()._tell()\n"
    )
    assert run_checker(tmp_path).returncode == 0


def test_no_archsearch_module_uses_a_private_name_of_another() -> None:
    done = run_checker(REPO / "src")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_import_contracts_hold() -> None:
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if lint_imports is None:
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    done = subprocess.run([lint_imports, "--no-cache", "--no-logo"], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stdout[-4000:]

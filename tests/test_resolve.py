"""archsearch.resolve: one resolver for every dotted path and file path a user gives."""

from __future__ import annotations

import sys

import pytest

from archsearch import resolve
from archsearch.errors import ConfigError
from user_modules import forget_user_modules


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A fresh current directory; sys.path, sys.modules and the resolver's directories restored after."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    saved_dirs = list(resolve.IMPORT_DIRS)
    before = set(sys.modules)
    yield tmp_path
    forget_user_modules(before, tmp_path)
    resolve.IMPORT_DIRS[:] = saved_dirs


def test_a_file_already_imported_by_name_is_not_imported_again(work):
    (work / "resolvemod.py").write_text("class Net:\n    pass\n")
    by_name = resolve.resolve("resolvemod:Net", "space")
    assert resolve.resolve("resolvemod.py:Net", "space") is by_name
    assert resolve.resolve(f"{work / 'resolvemod.py'}:Net", "space") is by_name


def test_a_file_in_a_package_is_imported_under_its_package_name(work):
    package = work / "resolvepkg" / "models"
    package.mkdir(parents=True)
    (work / "resolvepkg" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "net.py").write_text("class Net:\n    class Inner:\n        pass\n")
    by_file = resolve.resolve("resolvepkg/models/net.py:Net.Inner", "space")
    assert by_file.__module__ == "resolvepkg.models.net" and "net" not in sys.modules
    assert resolve.resolve("resolvepkg.models.net:Net.Inner", "space") is by_file
    assert resolve.path_of(by_file, "space") == "resolvepkg.models.net:Net.Inner"


def test_path_of_refuses_what_cannot_be_imported_again(work):
    def local() -> None:
        pass

    with pytest.raises(ConfigError, match="is defined inside a function"):
        resolve.path_of(local, "evaluator")
    with pytest.raises(ConfigError, match="is a lambda"):
        resolve.path_of(lambda: None, "evaluator")
    assert resolve.path_of(resolve.resolve, "evaluator") == "archsearch.resolve:resolve"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("no_colon", "is not a dotted path: write module:attribute"),
        ("resolve_missing_mod:f", "no module named 'resolve_missing_mod' in the current directory"),
        (
            "archsearch.resolve:resolv",
            "archsearch.resolve has no attribute 'resolv'; did you mean 'resolve'?",
        ),
        ("missing/file.py:f", "there is no file missing/file.py"),
        ("./notes.txt:f", "./notes.txt is not a Python file (.py)"),
        ("broken.py:f", "module broken does not import: ZeroDivisionError: division by zero"),
    ],
)
def test_failures_are_one_line_config_errors_naming_the_path(work, name, message):
    (work / "notes.txt").write_text("hello\n")
    (work / "broken.py").write_text("x = 1 / 0\n")
    with pytest.raises(ConfigError) as caught:
        resolve.resolve(name, "train data loader")
    assert str(caught.value).startswith(f"train data loader {name!r}")
    assert message in str(caught.value) and "\n" not in str(caught.value)

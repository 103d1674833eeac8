"""The public API: every exported name resolves, and importing archsearch stays light."""

from __future__ import annotations

import subprocess
import sys

import archsearch


def test_every_exported_name_resolves_and_is_documented():
    assert len(set(archsearch.__all__)) == len(archsearch.__all__)
    for name in archsearch.__all__:
        value = getattr(archsearch, name)
        if name != "__version__":
            assert (value.__doc__ or "").strip(), f"{name} has no docstring"
    assert set(archsearch.__all__) <= set(dir(archsearch))


def test_importing_archsearch_does_not_import_torch():
    code = "import sys, archsearch; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_an_unknown_name_is_an_attribute_error():
    try:
        archsearch.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("archsearch.no_such_thing resolved")

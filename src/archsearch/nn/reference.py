"""Names of the user's classes and functions that survive a restart: ``"pkg.mod:Net"`` or
``"path/to/file.py:Net"``, and the object such a name refers to."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import re
import sys
from typing import Any

from archsearch.errors import ConfigError

SOURCE_ATTRIBUTE = "__archsearch_source__"
"""Set on a module imported from a file path: the file it came from, so its objects' names are the path."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def is_file_reference(module: str) -> bool:
    """Whether the module part of a reference is a file path rather than a dotted module name."""
    return module.endswith(".py") or "/" in module or os.sep in module


def reference_of(obj: Any) -> str:
    """The name ``obj`` (a class or a function) is found by: ``"module:qualname"``; the file's path for a
    module imported from a file or for the script run as ``__main__`` (``"__main__:Net"`` when there is
    no file, e.g. in an interactive session, and then no other process can find it)."""
    module_name = getattr(obj, "__module__", None) or "__main__"
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", repr(obj))
    module = sys.modules.get(module_name)
    source = getattr(module, SOURCE_ATTRIBUTE, None)
    if source:
        return f"{source}:{qualname}"
    script = getattr(module, "__file__", None)
    if module_name == "__main__" and isinstance(script, str):
        return f"{os.path.abspath(script)}:{qualname}"
    return f"{module_name}:{qualname}"


def _import_file(path: str, reference: str) -> Any:
    """The module of the Python file ``path``, imported once per process under a name of its own."""
    absolute = os.path.abspath(os.path.expanduser(path))
    if not os.path.isfile(absolute):
        raise ConfigError(f"{reference!r}: no file {path!r}")
    stem = re.sub(r"\W", "_", os.path.splitext(os.path.basename(absolute))[0])
    name = f"_archsearch_user_{stem}_{hashlib.sha1(absolute.encode()).hexdigest()[:10]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, absolute)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{reference!r}: {path!r} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    setattr(module, SOURCE_ATTRIBUTE, path)
    sys.modules[name] = module  # before running it: its classes must be found by name (pickle, dataclasses)
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        del sys.modules[name]
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise ConfigError(f"{reference!r}: importing {path!r} raised {_first_line(exc)}") from exc
    return module


def resolve(reference: Any) -> Any:
    """The object ``reference`` names: ``"pkg.mod:Net"`` (imported as usual) or ``"path/file.py:Net"``
    (the file imported under a module name of its own). ConfigError with one line when the module does
    not import or has no such attribute."""
    if not isinstance(reference, str) or ":" not in reference:
        raise ConfigError(
            f"{reference!r} is not a reference; write 'package.module:Name' or 'path/to/file.py:Name'"
        )
    module_part, _, qualname = reference.rpartition(":")
    if not module_part or not qualname:
        raise ConfigError(
            f"{reference!r} is not a reference; write 'package.module:Name' or 'path/to/file.py:Name'"
        )
    if is_file_reference(module_part):
        module = _import_file(module_part, reference)
    else:
        try:
            module = importlib.import_module(module_part)
        except Exception as exc:
            raise ConfigError(
                f"{reference!r}: module {module_part!r} does not import: {_first_line(exc)}"
            ) from exc
    obj: Any = module
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(f"{reference!r}: {module_part!r} has no {qualname!r}") from None
    return obj

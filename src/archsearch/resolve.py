"""Dotted paths: the object a path names, and the path that names an object.

One resolver for every place a user names their own code: spaces, strategies, evaluators and rewards in
configs and flags (``registry``), ``ModelSpace("pkg.mod:Net")``, ``FunctionEvaluator("pkg.mod:score")``
and data loaders (``train="pkg.mod:load_data"``). A path is

- ``package.module:attribute``, imported with the current directory importable (first on ``sys.path``,
  as ``python -m`` has it); or
- ``path/to/file.py:attribute``, relative to the current directory (else to a directory of
  ``IMPORT_DIRS``), imported once under one name: the name it already has in ``sys.modules``, else its
  dotted name inside its package (the folders above it that hold an ``__init__.py``), with the folder
  above its top package put on ``sys.path`` so that worker processes (which inherit ``sys.path``) and
  pickle find it by that name.

``attribute`` may be dotted (``Outer.Inner``). Every failure is a one-line ConfigError that begins with
what the path names and the path (``space 'usermod:Nett': usermod has no attribute 'Nett'; did you mean
'Net'?``). ``path_of`` goes the other way: the path through which an object is imported again.
"""

from __future__ import annotations

import difflib
import importlib
import os
import pickle
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from archsearch.errors import ConfigError

IMPORT_DIRS: list[str] = []
"""Directories this process put on ``sys.path`` to resolve paths (the current directory, the folders of
``file.py:attr`` paths, a study's recorded ones); relative file paths are looked up in them too after the
current directory. A study stores them so that its names resolve from anywhere."""

_UNIMPORTABLE_FIX = (
    "define it with def or class at the top level of a module, so workers and `archsearch resume` can "
    "import it"
)


def one_line(exc: BaseException) -> str:
    """``exc`` as one line: its type and message, whitespace collapsed, at most 300 characters."""
    text = " ".join(str(exc).split())
    line = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return line if len(line) <= 300 else line[:297] + "..."


def is_path(name: str) -> bool:
    """Whether ``name`` is a path (``module:attribute`` or ``file.py:attribute``), not a plain name."""
    return ":" in name


def is_file_path(target: str) -> bool:
    """Whether the part of a path before ``:`` names a file (``models/net.py``), not a module."""
    return target.endswith(".py") or "/" in target or os.sep in target


def importable(directory: str, last: bool = False) -> None:
    """Put ``directory`` on ``sys.path`` (after the current directory; at the end with ``last``, so that
    it cannot hide an installed module), so modules in it import here and in worker processes (spawned
    workers get the parent's ``sys.path``); remembered in ``IMPORT_DIRS``."""
    directory = os.path.abspath(directory)
    if directory not in IMPORT_DIRS:
        IMPORT_DIRS.append(directory)
    if directory in sys.path:
        return
    if last:
        sys.path.append(directory)
        return
    cwd = os.getcwd()  # the current directory first, as `python -m` has it; others after it
    after_cwd = directory != cwd and bool(sys.path) and sys.path[0] in ("", cwd)
    sys.path.insert(1 if after_cwd else 0, directory)


def import_again(folders: Any) -> None:
    """Make the directories a run recorded (its ``IMPORT_DIRS``) importable again, those that still
    exist, after the installed packages (a stored path hides none), so that ``resume``, ``report`` and
    ``export`` find the user's modules from another directory."""
    for folder in folders if isinstance(folders, list) else []:
        if isinstance(folder, str) and os.path.isdir(folder):
            importable(folder, last=True)


def resolve(name: str, what: str) -> Any:
    """The object the path ``name`` names (see the module docstring); ``what`` says what it is in errors
    ("space", "objective function", "train data loader")."""
    if not isinstance(name, str):
        raise ConfigError(f"{what} {name!r} is not a dotted path: write module:attribute")
    target, _, attr = name.rpartition(":")
    target, attr = target.strip(), attr.strip()
    parts = attr.split(".")
    if not target or not all(part.isidentifier() for part in parts):
        raise ConfigError(
            f"{what} {name!r} is not a dotted path: write module:attribute (mypackage.spaces:MyNet) "
            "or path/to/file.py:attribute"
        )
    module = _import_file(what, name, target) if is_file_path(target) else _import(what, name, target)
    obj: Any = module
    for i, part in enumerate(parts):
        try:
            obj = getattr(obj, part)
        except Exception:
            owner = module.__name__ if i == 0 else ".".join(parts[:i])
            names = [n for n in dir(module if i == 0 else obj) if not n.startswith("_")]
            close = difflib.get_close_matches(part, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{what} {name!r}: {owner} has no attribute {part!r}{hint}") from None
    return obj


def _import(what: str, name: str, module: str) -> ModuleType:
    importable(os.getcwd())
    importlib.invalidate_caches()  # a module written since the last import (tests, notebooks) is found
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module == exc.name or module.startswith(exc.name + ".")):
            raise ConfigError(
                f"{what} {name!r}: no module named {exc.name!r} in the current directory "
                f"({os.getcwd()}) or the installed packages"
            ) from None
        raise ConfigError(f"{what} {name!r}: module {module} does not import: {one_line(exc)}") from None
    except (Exception, SystemExit) as exc:  # a module failing as it runs: SyntaxError, any error, exit()
        raise ConfigError(f"{what} {name!r}: module {module} does not import: {one_line(exc)}") from None


def _import_file(what: str, name: str, target: str) -> ModuleType:
    """The module of the file ``target`` (relative to the current directory, else to ``IMPORT_DIRS``),
    imported once under one name (see the module docstring)."""
    path = Path(target).expanduser()
    bases = [Path.cwd(), *map(Path, IMPORT_DIRS)] if not path.is_absolute() else [Path("/")]
    found = next((base / path for base in bases if (base / path).is_file()), None)
    if found is None:
        raise ConfigError(f"{what} {name!r}: there is no file {target}")
    if found.suffix != ".py":
        raise ConfigError(f"{what} {name!r}: {target} is not a Python file (.py)")
    found = found.resolve()
    loaded = _loaded_from(found)
    if loaded is not None:
        return loaded
    module_name, root = module_name_of(found)
    importable(str(root))
    module = _import(what, name, module_name)
    origin = getattr(module, "__file__", None)
    if origin is None or Path(origin).resolve() != found:
        raise ConfigError(
            f"{what} {name!r}: {target} cannot be imported as module {module_name!r}: another module of "
            f"that name comes first ({origin or 'built in'}); rename the file"
        )
    return module


def _loaded_from(file: Path) -> ModuleType | None:
    """The module already imported from ``file`` (not ``__main__``: a script's module is imported again
    under its own name, as workers do), if any."""
    for module_name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None)
        if module_name in ("__main__", "__mp_main__") or not isinstance(origin, str):
            continue
        if os.path.basename(origin) != file.name:  # cheap before resolving links
            continue
        try:
            if Path(origin).resolve() == file:
                return module
        except (OSError, ValueError):
            continue
    return None


def module_name_of(file: Path) -> tuple[str, Path]:
    """The dotted module name of the Python ``file`` and the folder to import it from: its stem from its
    own folder, or ``package.module`` from the folder above its top package (folders with ``__init__.py``)."""
    parts = [file.stem] if file.name != "__init__.py" else []
    folder = file.parent
    while (folder / "__init__.py").is_file() and folder.parent != folder and folder.name.isidentifier():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts) or file.parent.name, folder


def path_of(obj: Any, what: str) -> str:
    """The path ``module:qualname`` through which ``obj`` (a class or function) is imported again, by
    workers and by ``archsearch resume``; a ConfigError for what cannot be: a lambda, a function or class
    defined inside a function, one defined in an interactive session or replaced in its module. An
    object of a script run as ``python script.py`` is ``script.py:name`` (relative to the current
    directory when under it): importing the script again must not start the search, so guard that with
    ``if __name__ == "__main__":``. ``what`` names the object's role in errors ("space", "evaluator")."""
    qualname = getattr(obj, "__qualname__", None)
    module_name = getattr(obj, "__module__", None)
    label = f"{what} {getattr(obj, '__name__', None) or type(obj).__name__}"
    if not isinstance(qualname, str) or not isinstance(module_name, str):
        raise ConfigError(f"{label} has no importable name: {_UNIMPORTABLE_FIX}")
    if "<lambda>" in qualname:
        raise ConfigError(f"{what} {qualname} is a lambda: {_UNIMPORTABLE_FIX}")
    if "<locals>" in qualname:
        raise ConfigError(f"{what} {qualname} is defined inside a function: {_UNIMPORTABLE_FIX}")
    if module_name in ("__main__", "__mp_main__"):
        return main_path(label, qualname)
    try:
        found: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            found = getattr(found, part)
    except Exception:
        found = None
    if found is not obj:
        raise ConfigError(f"{label} cannot be found again as {module_name}:{qualname}: {_UNIMPORTABLE_FIX}")
    _remember_root(sys.modules[module_name])
    return f"{module_name}:{qualname}"


def main_path(label: str, qualname: str) -> str:
    """The path of ``qualname`` defined in the ``__main__`` module: ``package.module:name`` when it was
    run with ``python -m``, else ``script.py:name``; ``label`` begins the error for an interactive one."""
    main = sys.modules["__main__"]
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name and spec.name not in ("__main__", "__mp_main__"):
        _remember_root(main, spec.name)
        return f"{spec.name}:{qualname}"
    file = getattr(main, "__file__", None)
    if not file:
        raise ConfigError(
            f"{label} is defined in an interactive session: put it in a module (a .py file) and import it "
            "from there, so workers and `archsearch resume` can import it"
        )
    path = Path(file).resolve()
    try:
        shown = str(path.relative_to(Path.cwd()))
        importable(os.getcwd(), last=True)  # so the relative path is found from another directory too
    except ValueError:
        shown = str(path)
    importable(str(path.parent))
    return f"{shown}:{qualname}"


def import_root(module: ModuleType, name: str | None = None) -> Path | None:
    """The folder ``module`` (imported as ``name``, default its own) is imported from: the one above its
    top package; None for a built-in module or one of an installed package (it imports anyway)."""
    file = getattr(module, "__file__", None)
    if not isinstance(file, str):
        return None
    root = Path(file).resolve().parent
    depth = (name or module.__name__).count(".") + (1 if Path(file).name == "__init__.py" else 0)
    for _ in range(depth):
        root = root.parent
    if {"site-packages", "dist-packages"} & set(root.parts) or not root.is_dir():
        return None
    return root


def _remember_root(module: ModuleType, name: str | None = None) -> None:
    """Put the folder ``module`` is imported from (``import_root``) in IMPORT_DIRS."""
    root = import_root(module, name)
    if root is not None:
        importable(str(root))


class _Discard:
    """A file that forgets what is written to it: pickling into it costs no memory."""

    def write(self, data: bytes) -> int:
        return len(data)


def check_picklable(obj: Any, what: str, where: str = "worker processes", name: str | None = None) -> None:
    """A one-line ConfigError naming ``obj`` when it cannot be sent to ``where`` (pickled): a lambda, a
    function or class defined inside a function, or anything holding one. ``what`` says what it is
    ("objective function", "evaluator", ...), ``name`` how to call it (default: its module and name)."""
    qualname = getattr(obj, "__qualname__", None)
    if name is None:
        name = f"{getattr(obj, '__module__', '?')}.{qualname}" if isinstance(qualname, str) else repr(obj)
    if len(name) > 120:  # the end says what it is (module.function.<locals>.<lambda>)
        name = "..." + name[-117:]
    if isinstance(qualname, str) and ("<lambda>" in qualname or "<locals>" in qualname):
        raise ConfigError(f"{what} {name} cannot be sent to {where}; define it at module level")
    try:
        pickle.Pickler(_Discard()).dump(obj)
    except Exception as exc:  # pickle raises PicklingError, TypeError or AttributeError
        raise ConfigError(
            f"{what} {name} cannot be sent to {where} ({_clip(one_line(exc), 160)}); define it at module level"
        ) from None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."

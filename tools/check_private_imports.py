"""Check that no archsearch module uses a private name (``_name``) of another archsearch module.

Run by ``make lint``: ``python tools/check_private_imports.py [SOURCE_ROOT ...]`` (default ``src``).
It reads every module's syntax tree (nothing is imported) and reports, one line each:

- ``from archsearch.x import _name`` (also relative, ``from .x import _name``) in a module other than ``x``;
- ``import archsearch.x._mod`` and the like: a private module outside its own package;
- ``alias._name`` where ``alias`` is bound by an import of another archsearch module or of a name in one
  (``from archsearch.report import plots`` then ``plots._save(...)``; ``from archsearch.study import
  Study`` then ``Study._tell(...)``);
- ``value._name`` on any other value but ``self``/``cls``/``super()`` (a subclass may use its base's), when
  the module defines no ``_name`` of its own and another archsearch module does (``self.study._time_up()``,
  ``store._conn``): an object's private attribute reached from outside the module that owns it.

Dunder names (``__version__``) are public. A shared piece gets a public home instead (STYLE.md).
Exit status 1 when anything is found, 0 otherwise.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT_PACKAGE = "archsearch"


@dataclass(frozen=True)
class Finding:
    """A use, in ``importer`` at ``path:line``, of the private ``name`` of module (or object) ``owner``."""

    path: Path
    line: int
    importer: str
    owner: str
    name: str

    def __str__(self) -> str:
        return (
            f"{self.path}:{self.line}: {self.importer} uses {self.owner}.{self.name}, "
            "a private name of another module; give it a public home"
        )


def is_private(name: str) -> bool:
    """``_name`` is private; ``__name__`` (dunder) and ``_`` alone are not."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__")) and name != "_"


def module_name(path: Path, source_root: Path) -> str:
    """The dotted name of the module in ``path`` under ``source_root`` (a package's ``__init__``: the package)."""
    parts = list(path.relative_to(source_root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve_from(importer: str, is_package: bool, module: str | None, level: int) -> str:
    """The absolute module of ``from <level dots><module> import ...`` written in ``importer``."""
    if level == 0:
        return module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def private_split(dotted: str) -> tuple[str, str] | None:
    """``("archsearch.x", "_y")`` for the first private component of ``archsearch.x._y.z``; None when none."""
    parts = dotted.split(".")
    for k, part in enumerate(parts[1:], start=1):
        if is_private(part):
            return ".".join(parts[:k]), part
    return None


def own(importer: str, owner: str, modules: set[str]) -> bool:
    """Whether a private name of ``owner`` is ``importer``'s own: the module itself or an object in it
    (``modules``: every module checked, to tell a submodule from an object)."""
    return owner == importer or owner.startswith(importer + ".") and owner not in modules


def attribute_chain(node: ast.Attribute) -> list[str] | None:
    """``["a", "b", "c"]`` for the expression ``a.b.c``; None when it does not start with a plain name."""
    chain: list[str] = []
    current: ast.expr = node
    while isinstance(current, ast.Attribute):
        chain.append(current.attr)
        current = current.value
    if not isinstance(current, ast.Name):
        return None
    chain.append(current.id)
    return chain[::-1]


def defined_private_names(tree: ast.Module) -> set[str]:
    """The private names a module defines: functions, classes, variables, attributes it assigns
    (``self._x = ...``), class fields and parameters."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.keyword) and node.arg is not None:
            names.add(node.arg)
    return {name for name in names if is_private(name)}


def is_own_object(node: ast.expr) -> bool:
    """``self``, ``cls`` or ``super()``: the object whose class (or base class) the code belongs to."""
    if isinstance(node, ast.Name):
        return node.id in ("self", "cls")
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


def findings_in(
    path: Path,
    importer: str,
    is_package: bool,
    tree: ast.Module,
    modules: set[str],
    owners: dict[str, set[str]],
) -> Iterator[Finding]:
    """The private names of other archsearch modules that the module in ``path`` (parsed: ``tree``) uses;
    ``modules``: every module checked; ``owners``: each private name -> the modules that define it."""
    own_names = defined_private_names(tree)
    bound: dict[str, str] = {}  # a local name -> the archsearch module or object it was imported as
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] != ROOT_PACKAGE:
                    continue
                split = private_split(alias.name)
                if split is not None and not own(importer, split[0], modules):
                    yield Finding(path, node.lineno, importer, *split)
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    bound[ROOT_PACKAGE] = ROOT_PACKAGE
        elif isinstance(node, ast.ImportFrom):
            source = resolve_from(importer, is_package, node.module, node.level)
            if source.split(".")[0] != ROOT_PACKAGE:
                continue
            split = private_split(source)
            if split is not None and not own(importer, split[0], modules):
                yield Finding(path, node.lineno, importer, *split)
                continue
            for alias in node.names:
                if alias.name == "*":
                    continue
                if is_private(alias.name) and not own(importer, source, modules):
                    yield Finding(path, node.lineno, importer, source, alias.name)
                bound[alias.asname or alias.name] = f"{source}.{alias.name}"
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not is_private(node.attr):
            continue
        chain = attribute_chain(node)
        if chain is not None and chain[0] in bound:
            split = private_split(".".join([bound[chain[0]], *chain[1:]]))
            if split is not None and not own(importer, split[0], modules):
                yield Finding(path, node.lineno, importer, *split)
            continue
        if is_own_object(node.value) or node.attr in own_names:
            continue
        defining = sorted(owners.get(node.attr, set()) - {importer})
        if defining:
            yield Finding(path, node.lineno, importer, " or ".join(defining), node.attr)


def check(source_roots: list[Path]) -> list[Finding]:
    """Every finding in the archsearch modules under ``source_roots``, in path and line order."""
    files: list[tuple[Path, str, bool, ast.Module]] = []
    modules: set[str] = set()
    owners: dict[str, set[str]] = {}
    for root in source_roots:
        for path in sorted((root / ROOT_PACKAGE).rglob("*.py")):
            name = module_name(path, root)
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            files.append((path, name, path.name == "__init__.py", tree))
            modules.add(name)
            for private in defined_private_names(tree):
                owners.setdefault(private, set()).add(name)
    found: list[Finding] = []
    for path, name, is_package, tree in files:
        found.extend(findings_in(path, name, is_package, tree, modules, owners))
    return sorted(set(found), key=lambda f: (str(f.path), f.line, f.owner, f.name))


def main(argv: list[str]) -> int:
    roots = [Path(arg) for arg in argv] or [Path("src")]
    missing = [str(root) for root in roots if not (root / ROOT_PACKAGE).is_dir()]
    if missing:
        print(f"no {ROOT_PACKAGE} package under {', '.join(missing)}", file=sys.stderr)
        return 2
    found = check(roots)
    for finding in found:
        print(finding)
    if found:
        print(f"{len(found)} uses of private names across modules", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The pieces of a standalone model.py, as the export hooks of spaces write it (``export_source``):
torch-only module texts joined into one file, a header, the spec and ``build_model()`` / ``load_model()``,
and the lines that import a user's object from where the search found it."""

from __future__ import annotations

import ast
import inspect
import pprint
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from archsearch import __version__
from archsearch.errors import ConfigError
from archsearch.resolve import import_root, module_name_of

LOAD_MODEL_SOURCE = '''

def load_model(weights: str | None = None) -> nn.Module:
    """``build_model()`` with the trained weights of ``weights`` (default: weights.pt beside this file),
    which archsearch export writes when the study kept them; read as tensors only (weights_only)."""
    if weights is None:
        weights = (__file__.replace("\\\\", "/").rpartition("/")[0] or ".") + "/weights.pt"
    model = build_model()
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model
'''
"""The ``load_model()`` every exported model.py ends with (its imports: torch and ``nn``)."""


def standalone_source(*modules: ModuleType) -> str:
    """The texts of torch-only ``modules`` as one file, in order: later modules lose their
    ``from __future__`` line (it must open a file) and their imports of archsearch (the earlier texts
    define those names)."""
    texts = [inspect.getsource(modules[0])]
    for module in modules[1:]:
        source = inspect.getsource(module)
        lines = source.splitlines(keepends=True)
        for node in reversed(ast.parse(source).body):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in (
                "__future__",
                "archsearch",
            ):
                del lines[node.lineno - 1 : node.end_lineno]
        texts.append("".join(lines))
    return "\n\n".join(texts)


def image_model_source(
    source: str,
    network: str,
    spec: dict[str, Any],
    title: str,
    input_shape: tuple[int, ...],
    num_classes: int,
) -> str:
    """``source`` (torch-only module text defining class ``network``) with a header saying what it is and
    a footer with the spec, ``build_model()`` and a ``__main__`` that prints the parameter count."""
    # Comments, not a docstring: the module's own docstring and its __future__ import must come first.
    header = (
        f"# Standalone PyTorch model exported by archsearch {__version__}; it needs only torch.\n"
        f"# {title}\n"
        f"# Input (channels, height, width) = {tuple(input_shape)}, {num_classes} classes.\n"
        "# Run this file to build the model and print its parameter count.\n\n"
    )
    footer = f'''

SPEC = {pprint.pformat(spec, sort_dicts=False, width=100)}
"""{title}"""
INPUT_SHAPE = {tuple(input_shape)!r}


def build_model() -> nn.Module:
    """The exported network, freshly initialised; load trained weights with ``load_state_dict``."""
    return {network}(SPEC)
{LOAD_MODEL_SOURCE}

if __name__ == "__main__":
    model = build_model().eval()
    batch = torch.randn(2, *INPUT_SHAPE)
    with torch.no_grad():
        logits = model(batch)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"parameters: {{parameters}}, output shape on a random batch: {{tuple(logits.shape)}}")
'''
    return header + source + footer


def python_literal(value: Any, what: str) -> str:
    """``value`` as Python source (a JSON-like value: numbers, strings, lists, tuples, dicts, None)."""
    text = pprint.pformat(value, sort_dicts=False, width=100)
    try:
        same = ast.literal_eval(text) == value
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        same = False
    if not same:
        raise ConfigError(f"{what} {value!r:.80} cannot be written as Python source, so model.py cannot be")
    return text


GENERATED_NAMES = frozenset(
    {
        *("torch", "nn", "importlib", "fixed_arch", "Architecture", "build_model", "load_model", "model"),
        *("VALUES", "KWARGS", "SPACE_CONFIG", "ARCHITECTURE", "INPUT_SHAPE", "NUM_CLASSES", "user_module"),
        *("sys", "IMPORT_DIRS"),
    }
)
"""Names the generated model.py defines itself; a user's object of such a name is imported qualified."""


def import_lines(reference: str, directories: list[str]) -> tuple[list[str], list[str], str]:
    """The standard-library imports and the lines that import the object ``reference`` names
    ("pkg.mod:Name.sub" or "path/file.py:Name") with ``directories`` on ``sys.path`` (where the search
    imported the user's code from: model.py then runs from anywhere on this machine), and the expression
    that refers to the object after them."""
    module, colon, attr = reference.rpartition(":")  # rpartition: a Windows path has a colon of its own
    if not colon or not module or not attr:
        raise ConfigError(f"{reference!r} is not a reference to an importable object (module:Name)")
    first = attr.partition(".")[0]
    directories = list(directories)
    if module.endswith(".py") or "/" in module or "\\" in module:  # a file: imported from its folder
        path = Path(module).expanduser().resolve()  # relative to where the search ran, as it was then
        module, root = module_name_of(path)  # the name the search imported it under
        directories.append(str(root))
    stdlib, lines = [], []
    if directories:
        stdlib.append("import sys")
        lines += [
            f"IMPORT_DIRS = {python_literal(list(dict.fromkeys(directories)), 'a directory')}",
            '"""Where the search imported your code from."""',
            "sys.path.extend(directory for directory in IMPORT_DIRS if directory not in sys.path)",
            "",
        ]
    if not module.replace(".", "_").isidentifier():  # a file name such as my-model.py
        stdlib.insert(0, "import importlib")
        return stdlib, [*lines, f"user_module = importlib.import_module({module!r})"], f"user_module.{attr}"
    if first in GENERATED_NAMES or not first.isidentifier():
        return stdlib, [*lines, f"import {module} as user_module"], f"user_module.{attr}"
    return stdlib, [*lines, f"from {module} import {first}"], attr


def module_root(obj: Any) -> list[str]:
    """The folder above the top package of the module that ``obj`` (a user's class or function) was
    imported from, as a list (empty for the ``__main__`` module, an installed package or a built-in)."""
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    if module is None or module.__name__ == "__main__":
        return []
    root = import_root(module)
    return [] if root is None else [str(root)]


def model_header(origin: str, what: str, needs: str, stdlib: list[str]) -> str:
    def line(text: str) -> str:
        return " ".join(text.split())  # a comment cannot span lines

    return (
        f"# PyTorch model exported by archsearch {__version__} {line(origin)}.\n"
        f"# {line(what)}\n"
        f"# It needs {line(needs)}.\n"
        "# build_model() builds it freshly initialised; load_model() also loads the trained weights.pt\n"
        "# beside this file. Run this file to build the model and print its parameter count.\n"
        "from __future__ import annotations\n\n"
        + "".join(f"{line}\n" for line in stdlib)
        + ("\n" if stdlib else "")
        + "import torch\n"
        "from torch import nn\n\n"
    )


MAIN_SOURCE = """

if __name__ == "__main__":
    model = build_model()
    parameters = sum(p.numel() for p in model.parameters())
    print(f"parameters: {parameters}")
"""

"""Export a found architecture as a standalone PyTorch source file or as a JSON record."""

from __future__ import annotations

import ast
import inspect
import json
import pprint
from collections.abc import Callable
from types import ModuleType
from typing import Any

from archsearch import __version__
from archsearch.core import Architecture, SearchSpace
from archsearch.errors import ConfigError
from archsearch.spaces import cell_ops, nasnet_cell_module, nasrl_cnn_module, nb201_module, rnn_cell_module
from archsearch.spaces.nasnet_cell import DartsCellSpace, NASNetCellSpace
from archsearch.spaces.nasrl_cnn import NasRLCNNSpace
from archsearch.spaces.nb201 import NB201Space
from archsearch.spaces.rnn_cell import DEFAULT_DROPOUT, DEFAULT_NUM_LAYERS, RNNCellSpace

PytorchExporter = Callable[[SearchSpace, Architecture, tuple[int, ...], int], str]
"""Writes the standalone source of one space's architecture: (space, arch, input_shape, num_classes);
what input_shape and num_classes mean is the space's (image shape and classes; sizes and vocabulary)."""


def export_pytorch_source(
    space: SearchSpace, arch: Architecture, input_shape: tuple[int, ...], num_classes: int
) -> str:
    """The text of a Python file that needs only torch and defines ``build_model()`` for ``arch``.

    Running the file builds the model and prints its parameter count and output shape on a random batch.
    """
    exporter = PYTORCH_EXPORTERS.get(space.name)
    if exporter is None:
        raise ConfigError(
            f"space {space.name!r} has no PyTorch exporter; spaces that export: {sorted(PYTORCH_EXPORTERS)}"
        )
    space.validate(arch)
    return exporter(space, arch, input_shape, num_classes)


def export_json(space: SearchSpace, arch: Architecture) -> str:
    """A pretty JSON record of ``arch``: its space and that space's config, its values and encoding.

    ``{"space": ..., "values": ...}`` inside it is what ``Architecture.from_dict`` reads back.
    """
    space.validate(arch)
    record = {
        "space": space.name,
        "config": space.config(),
        "values": arch.to_dict()["values"],
        "encoded": space.encode(arch),
        "archsearch_version": __version__,
    }
    return _pretty_json(record)


def _pretty_json(value: object, indent: str = "", width: int = 100) -> str:
    """Indented JSON that keeps a list or object on one line when it fits in ``width``."""
    compact = json.dumps(value, separators=(", ", ": "))
    if not isinstance(value, (dict, list)) or len(indent) + len(compact) <= width:
        return compact
    inner = indent + "  "
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k)}: {_pretty_json(v, inner, width)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    # Long lists of short items (an architecture's values) are packed into lines like a paragraph.
    lines: list[str] = []
    for item in (_pretty_json(v, inner, width) for v in value):
        if lines and "\n" not in item and "\n" not in lines[-1] and len(lines[-1]) + len(item) + 2 <= width:
            lines[-1] += ", " + item
        else:
            lines.append(inner + item)
    return "[\n" + ",\n".join(lines) + f"\n{indent}]"


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


def _image_model_source(
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


if __name__ == "__main__":
    model = build_model().eval()
    batch = torch.randn(2, *INPUT_SHAPE)
    with torch.no_grad():
        logits = model(batch)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"parameters: {{parameters}}, output shape on a random batch: {{tuple(logits.shape)}}")
'''
    return header + source + footer


def _nasrl_cnn_source(
    space: SearchSpace, arch: Architecture, input_shape: tuple[int, ...], num_classes: int
) -> str:
    if not isinstance(space, NasRLCNNSpace):
        raise ConfigError(f"space {space.name!r} is not a NasRLCNNSpace, got {type(space).__name__}")
    spec = space.module_spec(arch, input_shape, num_classes)
    title = f"Space {space.name}, architecture: {space.encode(arch)}"
    return _image_model_source(
        inspect.getsource(nasrl_cnn_module), "NasRLCNN", spec, title, input_shape, num_classes
    )


def _rnn_cell_source(
    space: SearchSpace, arch: Architecture, input_shape: tuple[int, ...], num_classes: int
) -> str:
    """The tree cell's language model; ``num_classes`` is the vocabulary size and ``input_shape`` gives
    the embedding and hidden sizes as ``RNNCellSpace.build`` reads it."""
    if not isinstance(space, RNNCellSpace):
        raise ConfigError(f"space {space.name!r} is not an RNNCellSpace, got {type(space).__name__}")
    if type(num_classes) is not int or num_classes < 1:
        raise ConfigError(f"rnn_cell: the vocabulary size must be a positive int, got {num_classes!r}")
    cell = space.module_spec(arch)
    sizes = {
        **space.lm_sizes(input_shape),
        "num_layers": DEFAULT_NUM_LAYERS,
        "dropout": DEFAULT_DROPOUT,
    }
    encoded = space.encode(arch)
    equations = "".join(f"#   {line}\n" for line in space.equations(arch).splitlines())
    header = (
        f"# Standalone PyTorch language model exported by archsearch {__version__}; it needs only torch.\n"
        f"# Space {space.name}, cell: {encoded}\n"
        f"# One step of the cell (biases omitted):\n{equations}"
        f"# Vocabulary of {num_classes} words. Run this file to build the model and print its parameter count.\n\n"
    )
    footer = f'''

CELL = {pprint.pformat(cell, sort_dicts=False, width=100)}
"""The cell {encoded}."""
SIZES = {pprint.pformat(sizes, sort_dicts=False, width=100)}
VOCAB_SIZE = {num_classes}


def build_model(vocab_size: int = VOCAB_SIZE) -> nn.Module:
    """The exported language model, freshly initialised; load trained weights with ``load_state_dict``.

    ``model(tokens)`` takes word indices (T, B) and returns logits (T, B, vocab_size) and the state.
    """
    return TreeCellLM(CELL, vocab_size, **SIZES)


if __name__ == "__main__":
    model = build_model().eval()
    tokens = torch.randint(0, VOCAB_SIZE, (35, 2))
    with torch.no_grad():
        logits, _ = model(tokens)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"parameters: {{parameters}}, output shape on random tokens: {{tuple(logits.shape)}}")
'''
    return header + inspect.getsource(rnn_cell_module) + footer


def _nb201_source(
    space: SearchSpace, arch: Architecture, input_shape: tuple[int, ...], num_classes: int
) -> str:
    """The NB201 network of one cell (e.g. the cell a one-shot search derived), at the space's sizes."""
    if not isinstance(space, NB201Space):
        raise ConfigError(f"space {space.name!r} is not an NB201Space, got {type(space).__name__}")
    spec = space.module_spec(arch, input_shape, num_classes)
    title = f"Space {space.name} (NAS-Bench-201 index {space.index(arch)}), cell: {space.encode(arch)}"
    source = standalone_source(cell_ops, nb201_module)
    return _image_model_source(source, "NB201Network", spec, title, input_shape, num_classes)


def _nasnet_cell_source(
    space: SearchSpace, arch: Architecture, input_shape: tuple[int, ...], num_classes: int
) -> str:
    """The NASNet skeleton around a NASNet or DARTS cell pair, at the space's sizes."""
    if not isinstance(space, NASNetCellSpace):
        raise ConfigError(f"space {space.name!r} is not a NASNetCellSpace, got {type(space).__name__}")
    spec = space.module_spec(arch, input_shape, num_classes)
    title = f"Space {space.name}, cells: {space.encode(arch)}"
    source = standalone_source(cell_ops, nasnet_cell_module)
    return _image_model_source(source, "NASNetCellNetwork", spec, title, input_shape, num_classes)


PYTORCH_EXPORTERS: dict[str, PytorchExporter] = {
    NasRLCNNSpace.name: _nasrl_cnn_source,
    NB201Space.name: _nb201_source,
    RNNCellSpace.name: _rnn_cell_source,
    NASNetCellSpace.name: _nasnet_cell_source,
    DartsCellSpace.name: _nasnet_cell_source,
}
"""Space name -> the function that writes its standalone PyTorch source; later spaces add theirs."""

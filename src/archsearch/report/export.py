"""Export a found architecture as a standalone PyTorch source file or as a JSON record, and a trial of a
study with its trained weights (``export_trial``)."""

from __future__ import annotations

import ast
import inspect
import io
import json
import pprint
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import torch

from archsearch import __version__
from archsearch.core import Architecture, SearchSpace, TrialRecord
from archsearch.errors import ConfigError
from archsearch.nn import ModelSpace
from archsearch.resolve import import_root, module_name_of
from archsearch.spaces import cell_ops
from archsearch.spaces.nasnet_cell import DartsCellSpace, NASNetCellSpace
from archsearch.spaces.nasnet_cell import module as nasnet_cell_module
from archsearch.spaces.nasrl_cnn import NasRLCNNSpace
from archsearch.spaces.nasrl_cnn import module as nasrl_cnn_module
from archsearch.spaces.nb201 import NB201Space
from archsearch.spaces.nb201 import module as nb201_module
from archsearch.spaces.rnn_cell import DEFAULT_DROPOUT, DEFAULT_NUM_LAYERS, RNNCellSpace
from archsearch.spaces.rnn_cell import module as rnn_cell_module
from archsearch.study import best_trial

if TYPE_CHECKING:
    from archsearch.study import Study

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
{LOAD_MODEL_SOURCE}

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


# -- exporting a trial of a study ------------------------------------------------------------------------


@dataclass
class TrialExport:
    """What ``write_trial_export`` wrote: into ``directory``, the ``files`` for ``trial``; ``no_model`` and
    ``no_weights`` say why model.py or weights.pt (the trained weights) were not written, when they were not."""

    directory: Path
    trial: TrialRecord
    files: list[str]
    no_model: str | None = None
    no_weights: str | None = None

    @property
    def weights(self) -> bool:
        """Whether weights.pt holds the trial's trained weights."""
        return self.no_weights is None


def export_trial(study: Study, trial: int | None = None, out: str | Path | None = None) -> Path:
    """Export a trial of ``study`` and return the directory written.

    ``trial`` is the trial's number (default: the best trial); ``out`` the directory to write (default:
    the study's ``export`` folder). It holds architecture.json, model.py (``build_model()`` builds the
    child, ``load_model()`` also loads its weights) where the space builds models, values.json where the
    space names its choices, and weights.pt, the trained state_dict, when the study kept it (the weights
    of the best ``keep_weights`` trials are kept). ConfigError when there is nothing to export.
    """
    return write_trial_export(study, trial, out).directory


def write_trial_export(study: Study, trial: int | None = None, out: str | Path | None = None) -> TrialExport:
    """``export_trial``, returning what was written and what was left out (for the CLI's message)."""
    record = _chosen_trial(study, trial)
    space, arch = study.space, record.arch
    target = Path(out) if out is not None else study.directory / "export"
    notes: list[str] = []  # why there is no model.py
    model_source = _model_source(study, record, notes)
    missing: list[str] = []  # why there is no weights.pt
    weights = _trial_weights(study, record, missing, model_source is not None)
    target.mkdir(parents=True, exist_ok=True)
    files = ["architecture.json"]
    (target / "architecture.json").write_text(export_json(space, arch), encoding="utf-8")
    values = getattr(space, "values", None)
    if callable(values):
        (target / "values.json").write_text(_pretty_json(values(arch)) + "\n", encoding="utf-8")
        files.append("values.json")
    if model_source is not None:
        (target / "model.py").write_text(model_source, encoding="utf-8")
        files.append("model.py")
    stale = target / "weights.pt"
    if weights is not None:
        stale.write_bytes(weights)
        files.append("weights.pt")
    elif stale.is_file() or stale.is_symlink():  # another trial's: load_model() would load it
        stale.unlink()
    return TrialExport(target, record, files, notes[0] if notes else None, missing[0] if missing else None)


def _chosen_trial(study: Study, trial: int | None) -> TrialRecord:
    trials = study.store.trials()
    if trial is None:
        record = best_trial(trials)
        if record is None:
            raise ConfigError(f"{study.directory} has no successful trial to export")
        return record
    for record in trials:
        if record.number == trial:
            return record
    raise ConfigError(f"{study.directory} has no trial {trial} (it has 0..{len(trials) - 1})")


def _data_shape(study: Study) -> tuple[tuple[int, ...], int] | None:
    data_shape = getattr(study.evaluator, "data_shape", None)
    return None if data_shape is None else data_shape()  # type: ignore[no-any-return]


def _model_source(study: Study, record: TrialRecord, notes: list[str]) -> str | None:
    """The text of model.py for ``record``'s architecture; None (with a note) when there is no model."""
    space, arch = study.space, record.arch
    if space.name in PYTORCH_EXPORTERS:
        shape = _data_shape(study)
        if shape is None:
            raise ConfigError(
                f"evaluator {study.config.evaluator.name!r} trains no networks, so there is no model to export"
            )
        return export_pytorch_source(space, arch, *shape)
    space.validate(arch)
    if isinstance(space, ModelSpace):
        return _user_model_source(study, space, record, notes)
    if not _builds_models(study, record):
        notes.append(
            f"space {space.name!r} builds no model (the evaluator built it from the values), so there is no"
            " model.py"
        )
        return None
    return _space_build_source(space, arch, study, record, notes)


def _builds_models(study: Study, record: TrialRecord) -> bool:
    """Whether the study's space builds torch modules (a DictSpace, or a space that is only looked up in a
    table, does not: its ``build`` is SearchSpace's or raises NotImplementedError)."""
    if type(study.space).build is SearchSpace.build:
        return False
    try:
        _build_child(study, record)
    except NotImplementedError:
        return False
    except Exception:  # it builds, but not this child: model.py will say how it fails
        return True
    return True


def _build_child(study: Study, record: TrialRecord) -> Any:
    """The trial's child as the study's space builds it for the study's data (as its evaluator did)."""
    shape = _data_shape(study)
    if shape is None:
        return study.space.build(record.arch)  # type: ignore[call-arg]  # a model space builds without
    return study.space.build(record.arch, *shape)


def _trial_weights(study: Study, record: TrialRecord, notes: list[str], check: bool) -> bytes | None:
    """The trial's kept weights, checked to be a state_dict of tensors (and with ``check``, to load into
    the trial's model as the space builds it); None with a note why there are none."""
    blob = study.store.weights(record.number)
    if blob is None:
        notes.append(_why_no_weights(study, record))
        return None
    try:
        state = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    except Exception as exc:  # a damaged blob; weights_only never runs code from it
        notes.append(f"the weights kept for trial {record.number} cannot be read ({type(exc).__name__})")
        return None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        notes.append(f"the weights kept for trial {record.number} are not a state_dict of tensors")
        return None
    misfit = _misfit(study, record, state) if check else None
    if misfit is not None:
        notes.append(f"the weights kept for trial {record.number} do not fit its model: {misfit}")
        return None
    return blob


def _misfit(study: Study, record: TrialRecord, state: dict[str, Any]) -> str | None:
    """Why ``state`` does not load into the trial's model as its space builds it for the study's data
    (what model.py builds); None when it loads."""
    try:
        _build_child(study, record).load_state_dict(state)
    except Exception as exc:  # the user's module may raise anything
        return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
    return None


def _why_no_weights(study: Study, record: TrialRecord) -> str:
    keep = study.config.keep_weights
    if record.status != "ok":
        return f"trial {record.number} did not finish training ({record.status}), so it has no weights"
    if keep == 0:
        return "the study keeps no trained weights (keep_weights: 0)"
    kept = study.store.kept_weights()
    if not kept:
        return (
            "the study kept no trained weights (its evaluator returns none, or an archsearch without"
            " weights ran it)"
        )
    best = ", ".join(str(n) for n in kept)
    return (
        f"trial {record.number}'s weights were not kept: only the best {keep} trials' are (trials {best});"
        " keep more with `--set keep_weights=N` when searching"
    )


def _literal(value: Any, what: str) -> str:
    """``value`` as Python source (a JSON-like value: numbers, strings, lists, tuples, dicts, None)."""
    text = pprint.pformat(value, sort_dicts=False, width=100)
    try:
        same = ast.literal_eval(text) == value
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        same = False
    if not same:
        raise ConfigError(f"{what} {value!r:.80} cannot be written as Python source, so model.py cannot be")
    return text


_GENERATED_NAMES = frozenset(
    {
        *("torch", "nn", "importlib", "fixed_arch", "Architecture", "build_model", "load_model", "model"),
        *("VALUES", "KWARGS", "SPACE_CONFIG", "ARCHITECTURE", "INPUT_SHAPE", "NUM_CLASSES", "user_module"),
        *("sys", "IMPORT_DIRS"),
    }
)
"""Names the generated model.py defines itself; a user's object of such a name is imported qualified."""


def _import_lines(reference: str, directories: list[str]) -> tuple[list[str], list[str], str]:
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
            f"IMPORT_DIRS = {_literal(list(dict.fromkeys(directories)), 'a directory')}",
            '"""Where the search imported your code from."""',
            "sys.path.extend(directory for directory in IMPORT_DIRS if directory not in sys.path)",
            "",
        ]
    if not module.replace(".", "_").isidentifier():  # a file name such as my-model.py
        stdlib.insert(0, "import importlib")
        return stdlib, [*lines, f"user_module = importlib.import_module({module!r})"], f"user_module.{attr}"
    if first in _GENERATED_NAMES or not first.isidentifier():
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


def _import_dirs(study: Study, obj: Any) -> list[str]:
    """Where the search imported the user's code from: the directories the study recorded, and the root
    of the module ``obj`` was imported from in this process."""
    recorded = study.store.get_meta("import_dirs", [])
    return [str(d) for d in recorded if isinstance(d, str)] + module_root(obj)


def _header(origin: str, what: str, needs: str, stdlib: list[str]) -> str:
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


_MAIN = """

if __name__ == "__main__":
    model = build_model()
    parameters = sum(p.numel() for p in model.parameters())
    print(f"parameters: {parameters}")
"""


def model_space_source(
    space: ModelSpace,
    arch: Architecture,
    input_shape: tuple[int, ...] | None = None,
    num_classes: int | None = None,
    import_dirs: Sequence[str] = (),
    origin: str = "",
) -> str:
    """The text of a model.py for ``arch`` of a user's model space (``archsearch.nn.ModelSpace``): it
    imports the user's module and builds the model under ``fixed_arch`` with the chosen values, passing
    ``input_shape`` and ``num_classes`` (the data's, None when the model was built without them) as
    ``ModelSpace.build`` does; ``load_model()`` also loads weights.pt beside it.

    ``import_dirs`` are put on ``sys.path`` first (where the search imported the user's code from, so the
    file runs from anywhere on this machine); ``origin`` says where the architecture came from (a
    comment). ConfigError when the model was defined where no other process can import it."""
    config = space.config()
    reference = str(config["model"])
    module = reference.rpartition(":")[0]
    if module == "__main__":
        raise ConfigError(
            f"the model {reference} was defined in an interactive session, which model.py cannot import;"
            " define it in a module or a file"
        )
    values = space.values(arch)
    kwargs = dict(config["kwargs"])
    kwargs.update(_shape_arguments(space, input_shape, num_classes, kwargs))
    directories = [*import_dirs, *module_root(space.model)]
    stdlib, imports, model = _import_lines(reference, directories)
    header = _header(
        origin,
        f"Model space {reference} with the choices fixed: {space.encode(arch)}",
        f"torch, archsearch and your module {module} (looked for where the search found it)",
        stdlib,
    )
    body = "\n".join(
        [
            "from archsearch.nn import fixed_arch",
            "",
            *imports,
            "",
            f"VALUES = {_literal(values, 'a chosen value')}",
            '"""The value chosen for each labelled choice of the space."""',
            f"KWARGS = {_literal(kwargs, 'an argument of the model')}",
            '"""The arguments the search constructed the model with."""',
            "",
            "",
            "def build_model() -> nn.Module:",
            '    """The model with the chosen values fixed, freshly initialised."""',
            "    with fixed_arch(VALUES):",
            f"        return {model}(**KWARGS)",
        ]
    )
    return header + body + "\n" + LOAD_MODEL_SOURCE + _MAIN


def _shape_arguments(
    space: ModelSpace, input_shape: tuple[int, ...] | None, num_classes: int | None, kwargs: dict[str, Any]
) -> dict[str, Any]:
    """The ``input_shape`` and ``num_classes`` that ``ModelSpace.build`` passes the model: those given
    that its constructor takes and ``kwargs`` do not set."""
    try:
        parameters = inspect.signature(space.model).parameters
    except (TypeError, ValueError, AttributeError):
        return {}
    given = {"input_shape": None if input_shape is None else tuple(input_shape), "num_classes": num_classes}
    return {
        key: value
        for key, value in given.items()
        if value is not None and key in parameters and key not in kwargs
    }


def _user_model_source(study: Study, space: ModelSpace, record: TrialRecord, notes: list[str]) -> str | None:
    """``model_space_source`` for a trial of ``study``; None (with a note) when it cannot be written."""
    input_shape, num_classes = _data_shape(study) or (None, None)
    try:
        return model_space_source(
            space,
            record.arch,
            input_shape,
            num_classes,
            import_dirs=_import_dirs(study, None),
            origin=f"from {study.directory}, trial {record.number}",
        )
    except ConfigError as exc:
        notes.append(str(exc))
        return None


def _space_build_source(
    space: SearchSpace, arch: Architecture, study: Study, record: TrialRecord, notes: list[str]
) -> str | None:
    """model.py for a space of the user's (a ``SearchSpace`` subclass that builds): it imports the space,
    remakes it from its config and builds the architecture; None when the space class cannot be imported."""
    cls = type(space)
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        notes.append(
            f"space class {cls.__qualname__} cannot be imported from a file, so there is no model.py"
        )
        return None
    shape = _data_shape(study)
    if shape is None:
        notes.append(
            f"evaluator {study.config.evaluator.name!r} names no input shape, so there is no model.py"
        )
        return None
    stdlib, imports, space_class = _import_lines(
        f"{cls.__module__}:{cls.__qualname__}", _import_dirs(study, cls)
    )
    header = _header(
        f"from {study.directory}, trial {record.number}",
        f"Space {space.name} ({cls.__module__}.{cls.__qualname__}), architecture: {space.encode(arch)}",
        f"torch, archsearch and the module {cls.__module__} (looked for where the search found it)",
        stdlib,
    )
    body = "\n".join(
        [
            "from archsearch.core import Architecture",
            "",
            *imports,
            "",
            f"SPACE_CONFIG = {_literal(space.config(), 'an option of the space')}",
            f"ARCHITECTURE = {_literal(arch.to_dict(), 'the architecture')}",
            f"INPUT_SHAPE = {tuple(shape[0])!r}",
            f"NUM_CLASSES = {shape[1]!r}",
            "",
            "",
            "def build_model() -> nn.Module:",
            '    """The trial\'s network, freshly initialised."""',
            f"    space = {space_class}(**SPACE_CONFIG)",
            "    return space.build(Architecture.from_dict(ARCHITECTURE), INPUT_SHAPE, NUM_CLASSES)",
        ]
    )
    return header + body + "\n" + LOAD_MODEL_SOURCE + _MAIN

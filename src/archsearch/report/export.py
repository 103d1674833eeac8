"""Export a found architecture as a standalone PyTorch source file or as a JSON record, and a trial of a
study with its trained weights (``export_trial``)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from archsearch import __version__
from archsearch.core import Architecture, SearchSpace, TrialRecord
from archsearch.errors import ConfigError
from archsearch.nn import ModelSpace
from archsearch.spaces.hooks import ExportsSource
from archsearch.spaces.source import (
    LOAD_MODEL_SOURCE,
    MAIN_SOURCE,
    import_lines,
    model_header,
    module_root,
    python_literal,
)
from archsearch.study import best_trial

if TYPE_CHECKING:
    from archsearch.study import Study


def export_pytorch_source(
    space: SearchSpace, arch: Architecture, input_shape: tuple[int, ...], num_classes: int
) -> str:
    """The text of a Python file that needs only torch and defines ``build_model()`` for ``arch``, written
    by the space's ``export_source`` hook (``archsearch.spaces.hooks``).

    Running the file builds the model and prints its parameter count and output shape on a random batch.
    """
    if not isinstance(space, ExportsSource):
        raise ConfigError(
            f"space {space.name!r} has no PyTorch exporter: give its class an export_source(arch, input_shape,"
            " num_classes) method (archsearch.spaces.hooks)"
        )
    space.validate(arch)
    return space.export_source(arch, input_shape, num_classes)


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
    if isinstance(space, ModelSpace):
        space.validate(arch)
        return _user_model_source(study, space, record, notes)
    if isinstance(space, ExportsSource):
        shape = _data_shape(study)
        if shape is None:
            raise ConfigError(
                f"evaluator {study.config.evaluator.name!r} trains no networks, so there is no model to export"
            )
        return export_pytorch_source(space, arch, *shape)
    space.validate(arch)
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


def _import_dirs(study: Study, obj: Any) -> list[str]:
    """Where the search imported the user's code from: the directories the study recorded, and the root
    of the module ``obj`` was imported from in this process."""
    recorded = study.store.get_meta("import_dirs", [])
    return [str(d) for d in recorded if isinstance(d, str)] + module_root(obj)


def _user_model_source(study: Study, space: ModelSpace, record: TrialRecord, notes: list[str]) -> str | None:
    """The model space's model.py (its ``export_source``) for a trial of ``study``, importing the user's
    module from where the search found it; None (with a note) when it cannot be written."""
    input_shape, num_classes = _data_shape(study) or (None, None)
    try:
        return space.export_source(
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
    stdlib, imports, space_class = import_lines(
        f"{cls.__module__}:{cls.__qualname__}", _import_dirs(study, cls)
    )
    header = model_header(
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
            f"SPACE_CONFIG = {python_literal(space.config(), 'an option of the space')}",
            f"ARCHITECTURE = {python_literal(arch.to_dict(), 'the architecture')}",
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
    return header + body + "\n" + LOAD_MODEL_SOURCE + MAIN_SOURCE

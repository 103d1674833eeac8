"""``ModelSpace``: a user's ``nn.Module`` with choices in it, as a search space every strategy can search."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from archsearch.core import Architecture
from archsearch.errors import ArchsearchError, ConfigError
from archsearch.nn.export import model_space_source
from archsearch.nn.fixed import FixedMode
from archsearch.nn.mode import BlockPath, ChoiceMode, FirstChoiceMode, use_mode
from archsearch.nn.specs import ChoiceSpec, RepeatSpec, ValueSpec
from archsearch.resolve import path_of, resolve
from archsearch.spaces.dict_space import LabelledChoicesSpace
from archsearch.spaces.hooks import companions_of

MAX_DISCOVERY_ATTEMPTS = 16
"""How many sets of values discovery tries when constructing the module raises (see ``discover``)."""


class DiscoveryMode(FirstChoiceMode):
    """Construct the module once to record its choices: first options (``overrides`` gives the index of
    another value for some value choices), and every Repeat at its largest depth so that the choices in
    all its blocks are recorded."""

    def __init__(self, overrides: Mapping[str, int]) -> None:
        self.overrides = overrides

    def value_choice(self, label: str, values: tuple[Any, ...]) -> Any:
        return values[self.overrides.get(label, 0)]

    def repeat(
        self, label: str, block_factory: Callable[[int], nn.Module], depths: tuple[int, ...]
    ) -> nn.Module:
        return nn.Sequential(*(block_factory(i) for i in range(max(depths))))


@dataclass(frozen=True)
class Discovered:
    """The choices of a model space: each label's spec in constructor order, and the Repeat blocks
    around each of its uses (a choice inside block i of a Repeat matters only at depths above i)."""

    specs: dict[str, ChoiceSpec]
    places: dict[str, list[BlockPath]]


def reference_of(model: Any) -> str:
    """The dotted path of a class or function (``resolve.path_of``: ``"module:qualname"``, or
    ``"script.py:Net"`` for one of the script run as ``__main__``); for one that cannot be imported
    again (defined inside a function or in an interactive session) ``"module:qualname"`` still, which
    searches in this process and is refused, saying why, when a study records it or sends it to workers."""
    try:
        return path_of(model, "model space")
    except ConfigError:
        module_name = getattr(model, "__module__", None) or "__main__"
        return f"{module_name}:{getattr(model, '__qualname__', repr(model))}"


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def discover(construct: Callable[[], Any], name: str) -> Discovered:
    """Call ``construct`` (it constructs the module) under ``DiscoveryMode``; return the choices made.

    Discovery uses the first value of each value choice. When constructing raises (a value that breaks
    a layer, e.g. 0 channels), it tries again with the next value of the latest value choice made
    before the failure, up to ``MAX_DISCOVERY_ATTEMPTS`` times: such a value fails only the trials that
    choose it. ConfigError (one line, naming the values tried) when no attempt constructs the module,
    and for misuse of the primitives (raised at once).
    """
    overrides: dict[str, int] = {}
    for attempt in range(1, MAX_DISCOVERY_ATTEMPTS + 1):
        with use_mode(DiscoveryMode(overrides)) as construction:
            try:
                module = construct()
            except ArchsearchError:
                raise
            except Exception as exc:
                failure: Exception | None = exc
            else:
                failure = None
        if failure is None:
            if not isinstance(module, nn.Module):
                raise ConfigError(
                    f"model space {name!r}: the model is a {type(module).__name__}, not an nn.Module"
                )
            return Discovered(dict(construction.specs), {k: list(v) for k, v in construction.places.items()})
        made = [spec for spec in construction.specs.values() if isinstance(spec, ValueSpec)]
        untried = [spec for spec in made if overrides.get(spec.label, 0) + 1 < len(spec.values)]
        if not untried or attempt == MAX_DISCOVERY_ATTEMPTS:
            tried = ", ".join(f"{s.label}={s.values[overrides.get(s.label, 0)]!r}" for s in made)
            raise ConfigError(
                f"model space {name!r} cannot be constructed"
                + (f" (with {tried}, after {attempt} tries)" if tried else "")
                + f": {_first_line(failure)}"
            )
        overrides[untried[-1].label] = overrides.get(untried[-1].label, 0) + 1
    raise AssertionError("unreachable")


def _json_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` as JSON gives them back (tuples become lists), or a ConfigError naming the argument
    that is not a JSON value: the study stores them to rebuild the space."""
    for key, value in kwargs.items():
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise ConfigError(
                f"ModelSpace argument {key}={value!r} is not a JSON value (number, string, bool, null, "
                "list or dict of them); the study stores the arguments to rebuild the space"
            ) from None
    result: dict[str, Any] = json.loads(json.dumps(kwargs))
    return result


class ModelSpace(LabelledChoicesSpace):
    """The search space of a user's ``nn.Module`` whose constructor uses ``choice``, ``LayerChoice``,
    ``InputChoice`` and ``Repeat``.

    ``model``: the module's class, a function returning the module, or a reference to one,
    ``"package.module:Net"`` or ``"path/to/file.py:Net"``. ``kwargs``: the constructor's arguments,
    JSON values (the study stores them; tuples become lists).

    Creating the space constructs the module once (discovery) and records its choices in constructor
    order; each label is one decision, or one per input for an input choice of any subset (see
    ``InputSpec``), each of a kind of its own. The decisions are the same for every architecture: a
    Repeat is discovered at its largest depth and the choices inside its blocks beyond the chosen depth
    are ignored when building. So the choices a module makes must not depend on the values of other
    choices (only on a Repeat's depth), nor the values offered on ``input_shape`` / ``num_classes`` when
    only ``build`` gives those (discovery constructs the module without them). ``build`` constructs the
    module with the architecture's values fixed (as ``fixed_arch`` does) and passes ``input_shape`` and
    ``num_classes`` where the constructor takes them and ``kwargs`` do not set them.

    ``name`` is the reference (``"module:qualname"``; for a class of the script run as ``__main__`` the
    script's path, ``"/path/to/script.py:Net"``), ``config()`` is ``{"model": name, "kwargs": kwargs}``.
    Pickled as the model (by reference, as pickle sends classes), its arguments and the discovered
    choices, so a worker process does not construct it again; a model defined inside a function cannot
    be sent to workers (a ConfigError says so).

    The space has the hooks of ``archsearch.spaces.hooks``, taken from the user's model where it defines
    them: ``companions`` (a class attribute of the model), ``draw`` (when the model has a
    ``draw(values, path)`` function, ``values`` as ``values`` gives them) and ``export_source`` (a
    model.py that imports the user's module).
    """

    draw: Callable[[Architecture, str | Path], Path] | None = None
    """The model's drawing (the ``draw`` hook), None when the model has no ``draw(values, path)``."""

    def __init__(self, model: Any, /, **kwargs: Any) -> None:
        if isinstance(model, nn.Module):
            raise ConfigError(
                "ModelSpace needs the module's class or a function that returns it, "
                f"not a {type(model).__name__} instance"
            )
        if isinstance(model, str):
            reference, factory = model, resolve(model, "model space")
        elif isinstance(getattr(model, "__qualname__", None), str):
            reference, factory = reference_of(model), model
        else:
            raise ConfigError(
                f"ModelSpace needs a class or a function (found by its name to rebuild the space), "
                f"not a {type(model).__name__}"
            )
        if isinstance(factory, nn.Module) or not callable(factory):
            raise ConfigError(
                f"ModelSpace: {reference!r} is a {type(factory).__name__}, not a class or a function"
            )
        self.name = reference
        self.model = factory
        self.kwargs = _json_kwargs(kwargs)
        self._parameters = self._check_arguments()
        self._setup(discover(lambda: self.model(**self.arguments(None, None)), reference))

    def _check_arguments(self) -> dict[str, inspect.Parameter]:
        """The constructor's parameters; ConfigError when ``kwargs`` do not fit them or a required
        ``input_shape`` / ``num_classes`` is not given (discovery has no data to take it from)."""
        try:
            signature = inspect.signature(self.model)
        except (TypeError, ValueError):
            return {}
        try:
            signature.bind_partial(**self.kwargs)
        except TypeError as exc:
            raise ConfigError(f"model space {self.name!r}: {exc}") from None
        missing = [
            p.name
            for p in signature.parameters.values()
            if p.default is p.empty
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            and p.name not in self.kwargs
        ]
        if missing:
            raise ConfigError(
                f"model space {self.name!r} needs {', '.join(missing)}: give "
                + ", ".join(f"{m}=..." for m in missing)
                + " to ModelSpace (or a default in the constructor)"
            )
        return dict(signature.parameters)

    def _setup(self, discovered: Discovered) -> None:
        self.discovered = discovered
        specs = discovered.specs
        if not any(len(d.choices) > 1 for spec in specs.values() for d in spec.decisions()):
            raise ConfigError(
                f"model space {self.name!r} has no choice with two or more options; use choice, LayerChoice, "
                "InputChoice or Repeat in its constructor"
            )
        decisions = [d for spec in specs.values() for d in spec.decisions()]
        names = [d.name for d in decisions]
        clashes = sorted({name for name in names if names.count(name) > 1})
        if clashes:
            raise ConfigError(
                f"model space {self.name!r}: the label {clashes[0]!r} is also the name of an input choice's "
                "on/off decision; rename it"
            )
        self.draw = self._draw_model if callable(getattr(self.model, "draw", None)) else None
        self._slices: dict[str, slice] = {}
        start = 0
        for label, spec in specs.items():
            count = len(spec.decisions())
            self._slices[label] = slice(start, start + count)
            start += count
        super().__init__(decisions)

    # -- the SearchSpace interface -------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        return {"model": self.name, "kwargs": dict(self.kwargs)}

    def __getstate__(self) -> dict[str, Any]:
        qualname = getattr(self.model, "__qualname__", "")
        if "<locals>" in qualname or "<lambda>" in qualname:
            raise ConfigError(
                f"model space {self.name!r} cannot be sent to worker processes: it is defined inside a "
                "function; define it at the top level of a module"
            )
        return {"name": self.name, "model": self.model, "kwargs": self.kwargs, "discovered": self.discovered}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.name = state["name"]
        self.model = state["model"]
        self.kwargs = state["kwargs"]
        self._parameters = self._check_arguments()
        self._setup(state["discovered"])

    # -- labels and values ---------------------------------------------------------------------------

    def labels(self) -> list[str]:
        """The labels of the space's choices, in constructor order."""
        return list(self.discovered.specs)

    def values(self, arch: Architecture) -> dict[str, Any]:
        """``{label: value}`` of ``arch``, what ``fixed_arch`` takes (every label, also those inside Repeat
        blocks beyond the chosen depth)."""
        self.validate(arch)
        return {
            label: spec.from_decisions(arch.values[self._slices[label]])
            for label, spec in self.discovered.specs.items()
        }

    def used(self, label: str, values: Mapping[str, Any]) -> bool:
        """Whether the choice ``label`` is part of the child that ``values`` builds (False inside the blocks
        of a Repeat beyond its chosen depth)."""

        def depth(repeat: str) -> int:
            spec = self.discovered.specs[repeat]
            value = values.get(repeat)
            return value if isinstance(spec, RepeatSpec) and value in spec.depths else spec.default()

        return any(all(depth(r) > i for r, i in place) for place in self.discovered.places[label])

    def architecture(self, values: Mapping[str, Any]) -> Architecture:
        """The architecture choosing ``values`` (label -> value, as ``values`` returns them). A label
        that is not used at the chosen depths may be left out (it takes its first option); ConfigError
        naming an unknown label, a missing one or a value that is not one of its choice's."""
        if not isinstance(values, Mapping):
            raise ConfigError(f"{self.name}: values must be a dict of label -> value, got {values!r}")
        specs = self.discovered.specs
        unknown = [label for label in values if label not in specs]
        if unknown:
            raise ConfigError(f"{self.name}: unknown labels {unknown} (labels: {', '.join(specs)})")
        missing = [label for label in specs if label not in values and self.used(label, values)]
        if missing:
            raise ConfigError(f"{self.name}: no value for {missing}")
        chosen: list[Any] = []
        for label, spec in specs.items():
            chosen.extend(spec.to_decisions(values[label] if label in values else spec.default()))
        return Architecture(self.name, tuple(chosen))

    # -- building ------------------------------------------------------------------------------------

    def construct(
        self, mode: ChoiceMode, input_shape: tuple[int, ...] | None = None, num_classes: int | None = None
    ) -> Any:
        """Construct the user's module under ``mode`` (the hook for one-shot supernet modes).

        ``input_shape`` and ``num_classes`` are passed when the constructor has a parameter of that name
        and ``kwargs`` do not set it.
        """
        with use_mode(mode):
            return self.model(**self.arguments(input_shape, num_classes))

    def arguments(self, input_shape: tuple[int, ...] | None, num_classes: int | None) -> dict[str, Any]:
        """The constructor's arguments: ``kwargs``, and ``input_shape`` / ``num_classes`` when given, taken
        by the constructor and not set by ``kwargs``."""
        arguments: dict[str, Any] = dict(self.kwargs)
        given: dict[str, Any] = {"input_shape": input_shape, "num_classes": num_classes}
        for key, value in given.items():
            if value is not None and key in self._parameters and key not in arguments:
                arguments[key] = value
        return arguments

    def build(
        self, arch: Architecture, input_shape: tuple[int, ...] | None = None, num_classes: int | None = None
    ) -> nn.Module:
        """The child of ``arch`` as a plain ``nn.Module``, constructed under ``fixed_arch``. A value that
        breaks a layer (e.g. 0 channels) raises the layer's own exception here, which the evaluators
        turn into a failed trial."""
        module = self.construct(FixedMode(self.values(arch)), input_shape, num_classes)
        if not isinstance(module, nn.Module):
            raise TypeError(
                f"model space {self.name!r}: the model is a {type(module).__name__}, not an nn.Module"
            )
        return module

    # -- the hooks of archsearch.spaces.hooks --------------------------------------------------------

    @property
    def companions(self) -> dict[str, Any]:
        """The config sections that go with the model (its ``companions`` class attribute), or ``{}``."""
        return companions_of(self.model)

    def export_source(
        self,
        arch: Architecture,
        input_shape: tuple[int, ...] | None = None,
        num_classes: int | None = None,
        *,
        import_dirs: Sequence[str] = (),
        origin: str = "",
    ) -> str:
        """A model.py for ``arch`` that imports the user's module and builds the model with the chosen
        values fixed, passing ``input_shape`` and ``num_classes`` (the data's, None when the model was built
        without them) as ``build`` does (``nn.export.model_space_source``)."""
        shape = None if input_shape is None else tuple(input_shape)
        return model_space_source(
            self.name,
            self.model,
            self.values(arch),
            self.arguments(shape, num_classes),
            self.encode(arch),
            import_dirs=import_dirs,
            origin=origin,
        )

    def _draw_model(self, arch: Architecture, path: str | Path) -> Path:
        return Path(self.model.draw(self.values(arch), path))

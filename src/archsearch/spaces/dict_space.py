"""A space given as a plain dict of choices, and the fixed list of labelled categorical decisions it
shares with ``archsearch.nn.ModelSpace`` (readable ``label=value`` strings, label-keyed values).

This module imports no torch: a user who builds the model in their own evaluator needs none of it.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Mapping, Sequence
from typing import Any

from archsearch.core import Architecture, Decision, SearchSpace
from archsearch.errors import ConfigError, InvalidArchitectureError

_PLAIN_TOKEN = re.compile(r"[^\s\"\\]+")
_BAD_LABEL = re.compile(r"[\s=]")


def check_label(label: Any, what: str) -> str:
    """``label`` if it is a non-empty string without whitespace or '=' (it is written as ``label=value``),
    else a one-line ConfigError; ``what`` names the thing labelled ("choice", "DictSpace key")."""
    if not isinstance(label, str) or not label or _BAD_LABEL.search(label):
        raise ConfigError(f"{what} label must be a non-empty string without spaces or '=', got {label!r}")
    return label


def _plain(value: Any) -> Any:
    """numpy's numbers and strings (subclasses of float and str, or numbers.Integral) as Python's own."""
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    for kind in (float, str):
        if isinstance(value, kind) and type(value) is not kind:
            return kind(value)
    return value


def check_values(label: str, values: Any, what: str = "choice") -> tuple[Any, ...]:
    """The ``values`` of a choice as a tuple: at least one, each a JSON scalar (bool, int, finite float
    or str), none repeated (1, 1.0 and True count as the same value); else a one-line ConfigError."""
    if hasattr(values, "tolist") and not isinstance(values, Sequence):  # a numpy array
        values = values.tolist()
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Sequence):
        raise ConfigError(f"{what} {label!r}: values must be a list of values, got {values!r}")
    result = tuple(_plain(v) for v in values)
    if not result:
        raise ConfigError(f"{what} {label!r} has no values; give at least one")
    for value in result:
        if not isinstance(value, bool | int | float | str) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            raise ConfigError(
                f"{what} {label!r}: value {value!r} is not a JSON scalar (bool, int, finite float or str)"
            )
    if len(set(result)) != len(result):
        raise ConfigError(f"{what} {label!r} repeats a value in {list(result)}; list each value once")
    return result


def kind_of(prefix: str, label: str) -> str:
    """The decision kind of ``label``: ``prefix`` + the label with '%' and '.' escaped, since controllers
    name a torch submodule after each kind and torch refuses '.' in those names."""
    return prefix + label.replace("%", "%25").replace(".", "%2E")


def _codes(choices: tuple[Any, ...]) -> tuple[str, ...]:
    """How each choice is written in ``label=value``: plain text where that is unambiguous, JSON (spaces
    escaped so a value is one token) for odd strings and wherever two choices would read the same."""

    def as_json(value: Any) -> str:
        return json.dumps(value).replace(" ", "\\u0020")

    def plain(value: Any) -> str:
        if isinstance(value, str) and _PLAIN_TOKEN.fullmatch(value):
            return value
        return as_json(value)

    codes = tuple(plain(c) for c in choices)
    if len(set(codes)) != len(codes):
        codes = tuple(as_json(c) for c in choices)
    return codes


class LabelledChoicesSpace(SearchSpace):
    """A fixed sequence of categorical decisions, each named by a label: the same decisions in every
    architecture, so every strategy (controllers, evolution, distribution-based ones) can search it.

    ``encode`` writes ``label=value`` tokens separated by spaces, in decision order (``depth=4 width=64
    act=relu``); ``decode`` reads them back in any order. Subclasses set ``name`` and pass the decisions.
    """

    def __init__(self, decisions: Sequence[Decision]) -> None:
        self._decisions = tuple(decisions)
        self._positions = {d.name: i for i, d in enumerate(self._decisions)}
        self._codes = [_codes(d.choices) for d in self._decisions]

    def decisions(self, prefix: tuple[Any, ...]) -> Decision | None:
        position = len(prefix)
        return self._decisions[position] if position < len(self._decisions) else None

    def kinds(self) -> dict[str, Decision]:
        return {d.kind: d for d in self._decisions}

    def validate(self, arch: Architecture) -> None:
        """Raise InvalidArchitectureError unless ``arch`` holds one legal value per decision."""
        if not isinstance(arch, Architecture):
            raise InvalidArchitectureError(
                f"{self.name}: expected an Architecture, got {type(arch).__name__}"
            )
        if arch.space != self.name:
            raise InvalidArchitectureError(f"architecture is of space {arch.space!r}, not {self.name!r}")
        if not isinstance(arch.values, tuple) or len(arch.values) != len(self._decisions):
            raise InvalidArchitectureError(
                f"{self.name}: an architecture has {len(self._decisions)} values, got {arch.values!r}"
            )
        for decision, value in zip(self._decisions, arch.values, strict=True):
            decision.check(value)

    def encode(self, arch: Architecture) -> str:
        """``label=value`` per decision, e.g. ``conv=sep3x3 width=64``."""
        self.validate(arch)
        return " ".join(
            f"{decision.name}={codes[decision.choices.index(value)]}"
            for decision, codes, value in zip(self._decisions, self._codes, arch.values, strict=True)
        )

    def decode(self, text: str) -> Architecture:
        """The inverse of ``encode``; InvalidArchitectureError naming a token that is not ``label=value``
        of this space, a label given twice or one missing."""
        if not isinstance(text, str):
            raise InvalidArchitectureError(f"{self.name}: cannot decode {text!r}: not a string")
        values: list[Any] = [None] * len(self._decisions)
        given = [False] * len(self._decisions)
        for token in text.split():
            name, equals, code = token.partition("=")
            position = self._positions.get(name)
            if not equals or position is None:
                raise InvalidArchitectureError(
                    f"{self.name}: cannot decode {token!r}: expected label=value with a label of "
                    f"{', '.join(self._positions)}"
                )
            if given[position]:
                raise InvalidArchitectureError(f"{self.name}: {name} is given twice in {text!r}")
            codes = self._codes[position]
            if code not in codes:
                raise InvalidArchitectureError(f"{self.name}: {name}={code} is not one of {list(codes)}")
            values[position] = self._decisions[position].choices[codes.index(code)]
            given[position] = True
        missing = [d.name for d, ok in zip(self._decisions, given, strict=True) if not ok]
        if missing:
            raise InvalidArchitectureError(
                f"{self.name}: cannot decode {text!r}: no value for {', '.join(missing)}"
            )
        return Architecture(self.name, tuple(values))


class DictSpace(LabelledChoicesSpace):
    """A search space given as a dict of choices, for users who build the model in their own evaluator.

    ``DictSpace({"depth": [2, 4, 6], "width": [32, 64], "act": ["relu", "gelu"]})`` has one categorical
    decision per key, in key order, each of its own kind (the key, see ``kind_of``). ``choices`` maps
    each label (a string without spaces or '=') to its values (bools, ints, finite floats or strings,
    each once). An
    architecture's ``values(arch)`` is the dict the evaluator gets (``{"depth": 4, "width": 64, ...}``);
    ``architecture(values)`` is its inverse. The space builds no torch module: ``build`` is
    ``SearchSpace.build``, which raises NotImplementedError (the evaluators see that and pass the values).
    """

    name = "dict"

    def __init__(self, choices: Mapping[str, Sequence[Any]]) -> None:
        if not isinstance(choices, Mapping):
            raise ConfigError(f"DictSpace needs a dict of label -> list of values, got {choices!r}")
        if not choices:
            raise ConfigError("DictSpace has no choices; give at least one label with its values")
        self.choices = {
            check_label(label, "DictSpace"): check_values(label, values, "DictSpace choice")
            for label, values in choices.items()
        }
        super().__init__(
            [Decision(label, kind_of("", label), values) for label, values in self.choices.items()]
        )

    def config(self) -> dict[str, Any]:
        return {"choices": {label: list(values) for label, values in self.choices.items()}}

    def __eq__(self, other: object) -> bool:
        # key order is the decision order, which dict equality ignores
        return isinstance(other, DictSpace) and list(self.config()["choices"].items()) == list(
            other.config()["choices"].items()
        )

    def __hash__(self) -> int:
        return super().__hash__()

    def labels(self) -> list[str]:
        """The labels, in decision order."""
        return list(self.choices)

    def values(self, arch: Architecture) -> dict[str, Any]:
        """``{label: value}`` of ``arch`` (InvalidArchitectureError when it is not of this space)."""
        self.validate(arch)
        return dict(zip(self.choices, arch.values, strict=True))

    def architecture(self, values: Mapping[str, Any]) -> Architecture:
        """The architecture choosing ``values[label]`` for every label; ConfigError naming a missing or
        unknown label or a value that is not one of its choices."""
        if not isinstance(values, Mapping):
            raise ConfigError(f"{self.name}: values must be a dict of label -> value, got {values!r}")
        unknown = [label for label in values if label not in self.choices]
        missing = [label for label in self.choices if label not in values]
        if unknown or missing:
            raise ConfigError(
                f"{self.name}: "
                + "; ".join(
                    part
                    for part in (
                        f"unknown labels {unknown}" if unknown else "",
                        f"no value for {missing}" if missing else "",
                    )
                    if part
                )
                + f" (labels: {', '.join(self.choices)})"
            )
        chosen = []
        for label, choices in self.choices.items():
            if values[label] not in choices:
                raise ConfigError(f"{self.name}: {label}={values[label]!r} is not one of {list(choices)}")
            chosen.append(choices[choices.index(values[label])])
        return Architecture(self.name, tuple(chosen))

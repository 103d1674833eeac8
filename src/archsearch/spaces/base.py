"""Decision, Architecture and the SearchSpace interface shared by every strategy and evaluator."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from archsearch.errors import ConfigError, InvalidArchitectureError

LINKS = "links"


@dataclass(frozen=True)
class Decision:
    """One token a controller emits.

    Categorical decisions pick one of ``choices``. A decision of kind ``LINKS`` is an anchor point
    (Zoph & Le 2017, section 3.3): its value is a sorted tuple of indices of earlier anchors
    (``0 .. num_links-1``) that feed this layer, each an independent Bernoulli draw.
    Decisions of the same ``kind`` share one controller head, so ``kind`` must determine ``choices``.
    """

    name: str
    kind: str
    choices: tuple[Any, ...] = ()
    num_links: int = 0

    @property
    def is_links(self) -> bool:
        return self.kind == LINKS

    def check(self, value: Any) -> None:
        """Raise InvalidArchitectureError when ``value`` is not a legal value of this decision."""
        if self.is_links:
            ok = (
                isinstance(value, tuple)
                and all(isinstance(v, int) and 0 <= v < self.num_links for v in value)
                and list(value) == sorted(set(value))
            )
            if not ok:
                raise InvalidArchitectureError(
                    f"{self.name}: links must be a sorted tuple of distinct indices in "
                    f"0..{self.num_links - 1}, got {value!r}"
                )
        elif value not in self.choices:
            raise InvalidArchitectureError(f"{self.name}: {value!r} is not one of {list(self.choices)}")


def name_list(space: str, name: str, values: Any, known: Sequence[str]) -> tuple[str, ...]:
    """A space option that lists names from ``known`` (each once, at least one), or a ConfigError naming
    the option, the bad names and the known ones. Strings are the caller's to interpret first."""
    try:
        result = tuple(values)
    except TypeError:
        raise ConfigError(f"{space}: {name} must be a list of names, got {values!r}") from None
    if not result:
        raise ConfigError(f"{space}: {name} is empty; choose from {list(known)}")
    unknown = [v for v in result if v not in known]
    if unknown:
        raise ConfigError(f"{space}: unknown {name} {unknown}; choose from {list(known)}")
    if len(set(result)) != len(result):
        raise ConfigError(f"{space}: {name} has repeated values {list(result)}; list each once")
    return result


def check_image_shape(space: str, input_shape: tuple[int, ...], num_classes: int) -> None:
    """ConfigError unless ``input_shape`` is (channels, height, width) of positive ints and ``num_classes``
    a positive int: the inputs of a space that builds an image classifier."""
    if len(input_shape) != 3 or any(type(n) is not int or n < 1 for n in input_shape):
        raise ConfigError(
            f"{space}: input_shape must be (channels, height, width) of positive ints, got {input_shape!r}"
        )
    if type(num_classes) is not int or num_classes < 1:
        raise ConfigError(f"{space}: num_classes must be a positive int, got {num_classes!r}")


def _to_tuple(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_to_tuple(v) for v in value)
    return value


def _to_list(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_to_list(v) for v in value]
    return value


@dataclass(frozen=True)
class Architecture:
    """An immutable, hashable point of a search space: the values of its decisions in order."""

    space: str
    values: tuple[Any, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"space": self.space, "values": _to_list(self.values)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Architecture:
        try:
            return cls(space=str(data["space"]), values=_to_tuple(list(data["values"])))
        except (KeyError, TypeError) as exc:
            raise InvalidArchitectureError(f"not an architecture: {data!r}") from exc

    @classmethod
    def from_json(cls, text: str) -> Architecture:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidArchitectureError(f"architecture JSON is malformed: {exc}") from exc
        return cls.from_dict(data)


class SearchSpace(ABC):
    """What can be built: a sequence of decisions (DESIGN.md). Strategies see only decisions."""

    name: str = "space"

    @abstractmethod
    def decisions(self, prefix: tuple[Any, ...]) -> Decision | None:
        """The next decision given the values chosen so far; None when the architecture is complete."""

    @abstractmethod
    def kinds(self) -> dict[str, Decision]:
        """One representative decision per kind, for controllers that keep one head per kind."""

    @abstractmethod
    def encode(self, arch: Architecture) -> str:
        """A stable, human-readable string for ``arch``."""

    @abstractmethod
    def decode(self, text: str) -> Architecture:
        """The inverse of ``encode``; raises InvalidArchitectureError on malformed text."""

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """Keyword arguments that recreate this space (stored with the study)."""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.config() == other.config()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.name, json.dumps(self.config(), sort_keys=True, default=str)))

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.config().items())
        return f"{type(self).__name__}({arguments})"

    def build(self, arch: Architecture, input_shape: tuple[int, ...], num_classes: int) -> Any:
        """A torch module for ``arch``; spaces that are only looked up in a table need not build."""
        raise NotImplementedError(f"space {self.name!r} cannot build torch modules")

    def walk(self, values: tuple[Any, ...]) -> Iterator[Decision]:
        """The decisions that ``values`` answers, in order."""
        for i in range(len(values) + 1):
            decision = self.decisions(values[:i])
            if decision is None:
                if i != len(values):
                    raise InvalidArchitectureError(
                        f"{self.name}: {len(values) - i} values too many (complete after {i})"
                    )
                return
            if i == len(values):
                raise InvalidArchitectureError(f"{self.name}: incomplete, next decision is {decision.name}")
            yield decision

    def validate(self, arch: Architecture) -> None:
        """Raise InvalidArchitectureError with what is wrong when ``arch`` is not in this space."""
        if arch.space != self.name:
            raise InvalidArchitectureError(f"architecture is of space {arch.space!r}, not {self.name!r}")
        for decision, value in zip(self.walk(arch.values), arch.values, strict=False):
            decision.check(value)

    def sample(self, rng: np.random.Generator) -> Architecture:
        """A uniformly random architecture: each choice uniform, each link present with probability 1/2."""
        values: list[Any] = []
        while (decision := self.decisions(tuple(values))) is not None:
            if decision.is_links:
                mask = rng.random(decision.num_links) < 0.5
                values.append(tuple(int(j) for j in np.flatnonzero(mask)))
            else:
                values.append(decision.choices[int(rng.integers(len(decision.choices)))])
        return Architecture(self.name, tuple(values))

"""Helpers of the built-in spaces; the space types themselves live in ``archsearch.core``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from archsearch.core import LINKS, Architecture, Decision, SearchSpace
from archsearch.errors import ConfigError

__all__ = ["LINKS", "Architecture", "Decision", "SearchSpace", "check_image_shape", "name_list"]


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

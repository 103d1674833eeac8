"""``fixed_arch``: construct a user's module with every choice fixed, as a plain ``nn.Module``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from torch import nn

from archsearch.errors import ConfigError
from archsearch.nn.mode import ChoiceMode, FirstChoiceMode, current, use_mode
from archsearch.nn.selector import InputSelector
from archsearch.nn.specs import ChoiceSpec, InputSpec, LayerSpec, RepeatSpec, ValueSpec


class FixedMode(ChoiceMode):
    """Every choice takes its value from ``values`` (label -> value, as ``ModelSpace.values`` gives):
    the chosen value, the chosen candidate module itself, an ``InputSelector``, an ``nn.Sequential`` of
    the chosen number of blocks. A label without a value is a ConfigError naming it.

    The blocks of a Repeat beyond the chosen depth are constructed too (under ``UnusedBlockMode``) and
    thrown away, so that the labels inside them count as known.
    """

    def __init__(self, values: Mapping[str, Any]) -> None:
        if not isinstance(values, Mapping) or not all(isinstance(k, str) for k in values):
            raise ConfigError(f"fixed_arch needs a dict of label -> value, got {values!r}")
        self.values = dict(values)

    def value_of(self, spec: ChoiceSpec) -> Any:
        """The value given for ``spec``'s label, checked against it (a ConfigError names what is wrong)."""
        if spec.label not in self.values:
            known = ", ".join(self.values) or "none"
            raise ConfigError(
                f"fixed_arch: no value for {spec.describe()} labelled {spec.label!r} "
                f"(values given for: {known})"
            )
        return spec.from_decisions(spec.to_decisions(self.values[spec.label]))

    def value_choice(self, label: str, values: tuple[Any, ...]) -> Any:
        return self.value_of(ValueSpec(label, values))

    def layer_choice(self, label: str, candidates: dict[str, nn.Module]) -> nn.Module:
        return candidates[self.value_of(LayerSpec(label, tuple(candidates), ()))]

    def input_choice(self, label: str, n_candidates: int, n_chosen: int | None, reduction: str) -> nn.Module:
        spec = InputSpec(label, n_candidates, n_chosen)
        return InputSelector(spec.chosen(self.value_of(spec)), reduction, n_candidates)

    def repeat(
        self, label: str, block_factory: Callable[[int], nn.Module], depths: tuple[int, ...]
    ) -> nn.Module:
        depth = self.value_of(RepeatSpec(label, depths))
        blocks = [block_factory(i) for i in range(depth)]
        with current().switched(UnusedBlockMode(self.values)):
            for i in range(depth, max(depths)):
                block_factory(i)
        return nn.Sequential(*blocks)


class UnusedBlockMode(FirstChoiceMode):
    """Inside a Repeat's blocks beyond the chosen depth: the given value where there is a valid one,
    else the first option; the modules are thrown away."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values

    def _given(self, spec: ChoiceSpec) -> Any:
        try:
            return spec.from_decisions(spec.to_decisions(self.values[spec.label]))
        except (KeyError, ConfigError):
            return spec.default()

    def value_choice(self, label: str, values: tuple[Any, ...]) -> Any:
        return self._given(ValueSpec(label, values))

    def repeat(
        self, label: str, block_factory: Callable[[int], nn.Module], depths: tuple[int, ...]
    ) -> nn.Module:
        for i in range(max(depths)):
            block_factory(i)
        return nn.Sequential()


@contextlib.contextmanager
def fixed_arch(values: Mapping[str, Any]) -> Iterator[None]:
    """Construct modules with every choice fixed: ``with fixed_arch({"conv": "sep3x3", "width": 64}):
    net = Net()`` gives a plain ``nn.Module`` (no archsearch class is left in it but the parameter-free
    ``InputSelector`` of an input choice).

    ``values``: label -> value, as ``ModelSpace.values(arch)`` gives them (a value choice's value, a
    layer choice's candidate name, an input choice's index or list of indices, a Repeat's depth). A
    choice without a value, a value that is not one of its choice's, or a label that no choice of the
    modules constructed in the block uses, is a ConfigError naming the label.
    """
    mode = FixedMode(values)
    with use_mode(mode) as construction:
        yield
    unknown = [label for label in mode.values if label not in construction.specs]
    if unknown:
        raise ConfigError(
            f"fixed_arch: no choice is labelled {', '.join(map(repr, unknown))}; the labels are "
            f"{', '.join(construction.specs) or 'none'}"
        )

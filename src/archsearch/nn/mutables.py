"""The choice primitives a user writes into an ordinary ``nn.Module``: ``choice``, ``LayerChoice``,
``InputChoice`` and ``Repeat`` (the names of NNI 3's model space API).

Each checks its arguments, resolves its label, records the choice in the construction in progress and
returns what the installed ``ChoiceMode`` gives: outside any archsearch context the first option (so
the module runs as it is), under ``fixed_arch`` the chosen option as a plain module or value.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from torch import nn

from archsearch.errors import ConfigError
from archsearch.nn.mode import current
from archsearch.nn.selector import REDUCTIONS
from archsearch.nn.specs import LayerSpec, RepeatSpec, ValueSpec, input_spec, repeat_depths
from archsearch.spaces.dict_space import check_label, check_values


def choice(label: str, values: Sequence[Any]) -> Any:
    """A value choice: one of ``values`` (bools, ints, finite floats or strings, each once), to pass to
    layer constructors (channels, kernel size, dropout, activation name). ``label`` names the decision;
    every ``choice`` with the same label is the same decision (it must list the same values).

    Outside any archsearch context it returns ``values[0]``; under ``fixed_arch`` the chosen value.
    """
    construction = current()
    label = check_label(label, "choice")
    spec = ValueSpec(label, check_values(label, values))
    construction.register(spec)
    return construction.mode.value_choice(label, spec.values)


def _named_candidates(label: str, candidates: Any) -> dict[str, nn.Module]:
    """``candidates`` as name -> module: a list's names are "0", "1", ...; a dict or a list of
    (name, module) pairs names its own. ConfigError for none, a repeated name or a non-module."""
    if isinstance(candidates, Mapping | nn.ModuleDict):
        pairs = list(candidates.items())
    elif isinstance(candidates, Sequence | nn.ModuleList) and not isinstance(candidates, str):
        items = list(candidates)
        if items and all(isinstance(item, tuple) and len(item) == 2 for item in items):
            pairs = items
        else:
            pairs = [(str(i), item) for i, item in enumerate(items)]
    else:
        raise ConfigError(
            f"LayerChoice {label!r}: candidates must be a list or a dict of modules, "
            f"got {type(candidates).__name__}"
        )
    if not pairs:
        raise ConfigError(f"LayerChoice {label!r} has no candidates; give at least one module")
    named: dict[str, nn.Module] = {}
    for name, module in pairs:
        check_label(name, f"LayerChoice {label!r}: candidate")
        if name in named:
            raise ConfigError(f"LayerChoice {label!r} has two candidates named {name!r}; name each once")
        if not isinstance(module, nn.Module):
            raise ConfigError(
                f"LayerChoice {label!r}: candidate {name!r} is a {type(module).__name__}, not an nn.Module"
            )
        named[name] = module
    return named


def LayerChoice(
    candidates: Sequence[nn.Module] | Mapping[str, nn.Module], label: str | None = None
) -> nn.Module:
    """A layer choice among candidate modules (constructed by the caller, so choices inside them are
    decisions too, recorded before this one).

    ``candidates``: a list of modules (named "0", "1", ...), a dict name -> module, or a list of
    (name, module) pairs; the decision's value is the chosen name. ``label`` names the decision
    (default: ``layer_choice_<n>`` in constructor order); a shared label must list the same names with
    candidates of the same classes. Outside any archsearch context it returns the first candidate;
    under ``fixed_arch`` the chosen candidate module itself.
    """
    construction = current()
    label = construction.label(label, "layer_choice")
    named = _named_candidates(label, candidates)
    construction.register(LayerSpec(label, tuple(named), tuple(type(m).__qualname__ for m in named.values())))
    return construction.mode.layer_choice(label, named)


def InputChoice(
    n_candidates: int, n_chosen: int | None = 1, reduction: str = "sum", label: str | None = None
) -> nn.Module:
    """An input choice: which of ``n_candidates`` tensors feed what follows (NAS-RL's skip connections).

    Call the returned module with the list of candidate tensors. ``n_chosen``: how many are chosen (1:
    one of them; k: a subset of k, at most 1000 subsets; None: any subset, each input on or off, none
    giving zeros shaped like the first). ``reduction``: how several chosen tensors combine, "sum",
    "mean" or "concat" (along dimension 1). ``label`` as for ``LayerChoice`` (``input_choice_<n>``).
    Outside any archsearch context it takes the first ``n_chosen`` inputs (all when None); under
    ``fixed_arch`` it is a small ``InputSelector`` of the chosen ones.
    """
    construction = current()
    label = construction.label(label, "input_choice")
    if reduction not in REDUCTIONS:
        raise ConfigError(
            f"InputChoice {label!r}: reduction must be one of {list(REDUCTIONS)}, got {reduction!r}"
        )
    spec = input_spec(label, n_candidates, n_chosen)
    construction.register(spec)
    return construction.mode.input_choice(label, spec.n_candidates, spec.n_chosen, reduction)


def Repeat(
    block: Callable[[int], nn.Module] | nn.Module, depth: int | Sequence[int], label: str | None = None
) -> nn.Module:
    """A variable depth: ``nn.Sequential`` of a chosen number of blocks.

    ``block``: a function of the block's index (0, 1, ...) returning a new module, or a module that is
    deep-copied for every block. ``depth``: the allowed numbers of blocks, ints >= 0 (``(1, 3)`` is 1 or
    3, not a range as in NNI: write ``range(1, 4)`` for 1 to 3; a single int is a fixed depth, no
    decision). ``label`` as for ``LayerChoice`` (``repeat_<n>``); choices without a label
    inside block i are labelled ``<label>.<i>.layer_choice_0`` and so on. Outside any archsearch context
    it repeats the first listed depth; under ``fixed_arch`` it is an ``nn.Sequential`` of the chosen
    number of blocks.
    """
    construction = current()
    label = construction.label(label, "repeat")
    depths = repeat_depths(label, depth)
    make: Callable[[int], nn.Module]
    if isinstance(block, nn.Module):
        template = block

        def copy_block(index: int) -> nn.Module:
            return copy.deepcopy(template)

        make = copy_block

    elif callable(block):
        make = block
    else:
        raise ConfigError(f"Repeat {label!r}: block must be a module or a function of the block index")

    def block_factory(index: int) -> nn.Module:
        with construction.block(label, index):
            module = make(index)
        if not isinstance(module, nn.Module):
            raise ConfigError(
                f"Repeat {label!r}: block {index} is a {type(module).__name__}, not an nn.Module"
            )
        return module

    if len(depths) == 1:
        return nn.Sequential(*(block_factory(i) for i in range(depths[0])))
    construction.register(RepeatSpec(label, depths))
    return construction.mode.repeat(label, block_factory, depths)

"""One-shot search (DARTS, ENAS, ASNG-NAS) on a user's own model space (``archsearch.nn.ModelSpace``).

The user's module is constructed under a supernet mode, in which every choice primitive becomes a module
holding all its candidates, and the result is a ``Supernet`` like the cell spaces' (SPEC.md 3.3, 3.4, 5),
so every one-shot method searches it unchanged:

- a ``LayerChoice`` becomes a mixed layer of all its candidates: with a choice it runs the chosen
  candidate alone (ENAS, ASNG-NAS sample a path), with weights the weighted sum of all candidates (the
  DARTS mixed op, Liu et al. 2019, eq. 2), so the candidates must give outputs of one shape;
- an ``InputChoice`` becomes a choice among the subsets of its inputs it may take (the ``n_chosen``-subsets,
  or every non-empty subset when ``n_chosen`` is None): the chosen subset reduced, or the weighted sum of
  every subset's reduction;
- a ``Repeat`` of depths d_1 < ... < d_n holds max(d) blocks shared by every depth: a depth runs the first
  d blocks, the weights sum the output after each candidate depth (depth 0 is the input itself);
- a value choice (``choice(label, values)``: a width, a kernel size, a dropout rate, an activation's name)
  is treated as a layer choice whose candidates are whole copies of the model: the module is constructed
  once per combination of the value choices' values, each copy a supernet of the other choices, and the
  supernet runs the chosen copy (or, for DARTS, sums every copy weighted by the product of its values'
  weights). The copies share every parameter of one name and shape: a dropout rate or an activation's
  name changes no weight, so its copies share all of them; a width or a kernel size changes the layers it
  sizes, which each value has of its own (the rest stays shared). DARTS' time grows with the number of
  copies. A value choice with one value is that value.

What one-shot search cannot take (each a one-line ``ConfigError``): value choices whose combinations need
more than ``MAX_VALUE_COMBINATIONS`` (16) copies of the model (rewrite widths and kernel sizes as a
``LayerChoice`` of the candidate modules, ``LayerChoice({"w32": nn.Linear(64, 32), ...})``, fix some to
one value, or search the space with a black-box strategy: evolution, reinforce, random, ...); a model
whose choices change with a value choice's value (a value choice that sets how many ``LayerChoice``s are
made: use a ``Repeat``); an input choice of more than ``MAX_INPUT_SUBSETS`` (256) subsets; a space with no
choice of two or more options. The DARTS weighted sum also needs the candidates of a choice to give
outputs of one shape (a one-line error when they do not), and the model must map a batch of inputs to class
logits [batch, classes] (cross-entropy on integer labels: classification only). Batch norm inside the
model uses the statistics of each batch (no running statistics), as in the DARTS search code: the running
averages of a supernet would mix every sub-network; in-place modules (``nn.ReLU(inplace=True)``) run out of
place, since a mixed layer feeds one input to every candidate (in-place functional calls on a choice's
input inside a candidate's ``forward`` are the user's to avoid).

Every decision of the space is one categorical decision of the supernet with its own number of choices
K_d; the [decisions, max K_d] arrays of the methods are padded, and the padding is never sampled or
derived. The derived architecture is an ``Architecture`` of the user's ``ModelSpace`` (from the chosen
value of every label), so it is built, trained and exported like any trial's.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from archsearch.core import Architecture
from archsearch.errors import ConfigError
from archsearch.nn.mode import ChoiceMode
from archsearch.nn.selector import REDUCTIONS, InputSelector
from archsearch.oneshot.supernet import Supernet

MAX_INPUT_SUBSETS = 256
"""An input choice with more subsets than this is refused (each is a path of the supernet)."""
MAX_VALUE_COMBINATIONS = 16
"""The most copies of the model that value choices may need (the product of their numbers of values)."""


@dataclass
class Selection:
    """What the supernet's forward asks every mixed module to run: one index per decision (``choice``)
    or a weight per choice of each decision (``weights`` [decisions, max K_d]); set only during forward."""

    choice: list[int] | None = None
    weights: Tensor | None = None

    def index(self, decision: int) -> int | None:
        return None if self.choice is None else self.choice[decision]

    def row(self, decision: int, label: str) -> Tensor:
        if self.weights is None:
            raise RuntimeError(f"choice {label!r} was called outside the supernet's forward")
        return self.weights[decision]


@dataclass(frozen=True)
class SupernetDecision:
    """One decision of a user's supernet: its ``label``, what made it (``kind``: layer, input, repeat or
    value), the ``values`` the model space gives its choices (in index order) and their display ``names``."""

    label: str
    kind: str
    values: tuple[Any, ...]
    names: tuple[str, ...]


def _weighted_sum(
    label: str, weights: Sequence[Tensor] | Tensor, outputs: Sequence[Tensor], names: Sequence[str]
) -> Tensor:
    """sum_k weights[k] * outputs[k]; ConfigError when the outputs are not tensors of one shape (DARTS
    sums them)."""
    if not all(isinstance(out, Tensor) for out in outputs):
        kinds = ", ".join(f"{name}: {type(out).__name__}" for name, out in zip(names, outputs, strict=True))
        raise ConfigError(
            f"choice {label!r}: DARTS sums its candidates' outputs, which must be tensors, got {kinds}"
        )
    shapes = {tuple(out.shape) for out in outputs}
    if len(shapes) > 1:
        described = ", ".join(f"{name}: {tuple(out.shape)}" for name, out in zip(names, outputs, strict=True))
        raise ConfigError(
            f"choice {label!r}: DARTS sums its candidates' outputs, which need one shape, got {described}"
        )
    total = weights[0] * outputs[0]
    for k in range(1, len(outputs)):
        total = total + weights[k] * outputs[k]
    return total


class MixedLayer(nn.Module):
    """A ``LayerChoice`` in a supernet: every candidate; runs the chosen one or the weighted sum of all."""

    def __init__(
        self,
        decision: int,
        label: str,
        names: Sequence[str],
        candidates: Sequence[nn.Module],
        selection: Selection,
    ) -> None:
        super().__init__()
        self.decision, self.label, self.names = decision, label, tuple(names)
        self.candidates = nn.ModuleList(candidates)
        self.selection = selection

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        index = self.selection.index(self.decision)
        if index is not None:
            return self.candidates[index](*args, **kwargs)
        weights = self.selection.row(self.decision, self.label)
        outputs = [candidate(*args, **kwargs) for candidate in self.candidates]
        return _weighted_sum(self.label, weights, outputs, self.names)


class MixedInput(nn.Module):
    """An ``InputChoice`` in a supernet: a choice among ``subsets`` of its inputs; runs the chosen subset's
    reduction or the weighted sum of every subset's."""

    def __init__(
        self,
        decision: int,
        label: str,
        n_candidates: int,
        subsets: Sequence[tuple[int, ...]],
        reduction: str,
        selection: Selection,
    ) -> None:
        super().__init__()
        self.decision, self.label, self.subsets = decision, label, tuple(subsets)
        # the fixed child's own selector per subset, so every path computes what the derived child does
        self.selectors = nn.ModuleList(InputSelector(subset, reduction, n_candidates) for subset in subsets)
        self.selection = selection

    def forward(self, inputs: list[Tensor]) -> Tensor:
        index = self.selection.index(self.decision)
        if index is not None:
            return self.selectors[index](inputs)
        weights = self.selection.row(self.decision, self.label)
        outputs = [selector(inputs) for selector in self.selectors]
        return _weighted_sum(self.label, weights, outputs, [str(list(s)) for s in self.subsets])


class MixedRepeat(nn.Module):
    """A ``Repeat`` in a supernet: max(depths) blocks; depth d runs the first d of them, the weights sum
    the outputs after every candidate depth (blocks shared between depths, as in a weight-sharing
    supernet's elastic depth)."""

    def __init__(
        self,
        decision: int,
        label: str,
        depths: Sequence[int],
        blocks: Sequence[nn.Module],
        selection: Selection,
    ) -> None:
        super().__init__()
        self.decision, self.label, self.depths = decision, label, tuple(depths)
        self.blocks = nn.ModuleList(blocks)
        self.selection = selection

    def forward(self, x: Any) -> Any:
        index = self.selection.index(self.decision)
        if index is not None:
            for block in self.blocks[: self.depths[index]]:
                x = block(x)
            return x
        weights = self.selection.row(self.decision, self.label)
        outputs = [x] if self.depths[0] == 0 else []
        for depth, block in enumerate(self.blocks, start=1):
            x = block(x)
            if depth in self.depths:
                outputs.append(x)
        return _weighted_sum(self.label, weights, outputs, [str(d) for d in self.depths])


class ValueCopies(nn.Module):
    """The model once per combination of its value choices' values (``keys[i]``: the (decision, value
    index) pairs of copy i): runs the copy the choice names, or the sum of every copy weighted by the
    product of its values' weights (a mixed op over whole networks, each a supernet of the other choices)."""

    def __init__(
        self, copies: Sequence[nn.Module], keys: Sequence[tuple[tuple[int, int], ...]], selection: Selection
    ) -> None:
        super().__init__()
        self.copies = nn.ModuleList(copies)
        self.keys = tuple(keys)
        self.selection = selection

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        choice = self.selection.choice
        if choice is not None:
            for copy, key in zip(self.copies, self.keys, strict=True):
                if all(choice[decision] == k for decision, k in key):
                    return copy(*args, **kwargs)
            raise ValueError(f"no copy of the model for the choice {choice}")
        weights = self.selection.weights
        assert weights is not None
        coefficients = [
            torch.stack([weights[decision, k] for decision, k in key]).prod() for key in self.keys
        ]
        outputs = [copy(*args, **kwargs) for copy in self.copies]
        return _weighted_sum("value choices", coefficients, outputs, [str(key) for key in self.keys])


def share_parameters(copies: Sequence[nn.Module]) -> int:
    """Make every parameter of a copy that has the name and shape of one in an earlier copy that very
    parameter (weight sharing between the copies of value choices: a dropout rate or an activation
    changes no weight, a width only the layers it sizes); returns how many were shared."""
    seen: dict[tuple[str, tuple[int, ...]], nn.Parameter] = {}
    shared = 0
    for copy in copies:
        for name, parameter in list(copy.named_parameters()):
            if isinstance(parameter, nn.parameter.UninitializedParameter):
                continue
            original = seen.setdefault((name, tuple(parameter.shape)), parameter)
            if original is not parameter:
                owner_name, _, attribute = name.rpartition(".")
                setattr(copy.get_submodule(owner_name), attribute, original)
                shared += 1
    return shared


def input_subsets(label: str, n_candidates: int, n_chosen: int | None) -> list[tuple[int, ...]]:
    """The subsets of ``n_candidates`` inputs an input choice may take, in a fixed order: every
    ``n_chosen``-subset, or every non-empty subset when ``n_chosen`` is None."""
    sizes = range(1, n_candidates + 1) if n_chosen is None else [n_chosen]
    count = sum(math.comb(n_candidates, size) for size in sizes)
    if count > MAX_INPUT_SUBSETS:
        raise ConfigError(
            f"input choice {label!r}: {count} subsets of its {n_candidates} inputs, more than one-shot search "
            f"holds ({MAX_INPUT_SUBSETS}); give it a small n_chosen"
        )
    return [subset for size in sizes for subset in itertools.combinations(range(n_candidates), size)]


def batch_stats_everywhere(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm1d/2d/3d in ``module`` by one of the same kind and affine setting that uses
    each batch's statistics only (DARTS search code); returns ``module``."""
    kinds = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
    for name, child in module.named_children():
        if isinstance(child, kinds) and child.track_running_stats:
            replacement = type(child)(
                child.num_features, eps=child.eps, affine=child.affine, track_running_stats=False
            )
            if child.affine:
                replacement.load_state_dict(child.state_dict(), strict=False)
            setattr(module, name, replacement)
        else:
            batch_stats_everywhere(child)
    return module


def out_of_place(module: nn.Module) -> nn.Module:
    """Turn off ``inplace`` in every submodule that has it (``nn.ReLU(inplace=True)`` and the like):
    a mixed op feeds one input to every candidate and keeps the output after every depth of a Repeat,
    which an in-place op would overwrite; returns ``module``."""
    for child in module.modules():
        if getattr(child, "inplace", None) is True:
            setattr(child, "inplace", False)  # noqa: B010 (a module's attribute torch types as Tensor | Module)
    return module


@dataclass
class SupernetRecorder:
    """The decisions met while the user's module is constructed under the supernet mode, in order, and
    the value choices of several values among them (label -> values)."""

    selection: Selection
    decisions: list[SupernetDecision] = field(default_factory=list)
    value_choices: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    def add(self, decision: SupernetDecision) -> int:
        """The index of ``decision`` (an earlier one of the same label is the same decision)."""
        for index, known in enumerate(self.decisions):
            if known.label == decision.label:
                if known.kind != decision.kind or known.values != decision.values:
                    raise ConfigError(
                        f"label {decision.label!r} is used by two choices with different candidates "
                        f"({list(known.names)} and {list(decision.names)})"
                    )
                return index
        self.decisions.append(decision)
        return len(self.decisions) - 1


def too_many_copies_error(value_choices: dict[str, tuple[Any, ...]], copies: int) -> ConfigError:
    """The one line refusing value choices whose combinations need more than MAX_VALUE_COMBINATIONS copies."""
    labels = ", ".join(f"{label!r} {list(values)}" for label, values in value_choices.items())
    return ConfigError(
        f"one-shot search holds one copy of the model per combination of its value choices ({labels}): "
        f"{copies} copies, more than {MAX_VALUE_COMBINATIONS}; make some a LayerChoice of the candidate "
        "modules, fix them to one value, or search the space with a black-box strategy (evolution, "
        "reinforce, random, ...)"
    )


class SupernetMode(ChoiceMode):
    """The mode under which the user's module is constructed into a supernet: each choice primitive asks
    it for the module (or value) to put in its place (``archsearch.nn``'s mode hooks). ``values`` gives
    the value that each value choice takes in this copy of the model (default: its first)."""

    def __init__(self, recorder: SupernetRecorder, values: dict[str, Any] | None = None) -> None:
        self.recorder = recorder
        self.values = values or {}

    def layer_choice(self, label: str, candidates: dict[str, nn.Module]) -> nn.Module:
        names = tuple(candidates)
        index = self.recorder.add(SupernetDecision(label, "layer", names, names))
        return MixedLayer(index, label, names, list(candidates.values()), self.recorder.selection)

    def input_choice(self, label: str, n_candidates: int, n_chosen: int | None, reduction: str) -> nn.Module:
        if reduction not in REDUCTIONS:
            raise ConfigError(f"input choice {label!r}: reduction must be one of {', '.join(REDUCTIONS)}")
        subsets = input_subsets(label, n_candidates, n_chosen)
        values: tuple[Any, ...] = tuple(subset[0] for subset in subsets) if n_chosen == 1 else tuple(subsets)
        names = tuple(",".join(str(i) for i in subset) for subset in subsets)
        index = self.recorder.add(SupernetDecision(label, "input", values, names))
        return MixedInput(index, label, n_candidates, subsets, reduction, self.recorder.selection)

    def value_choice(self, label: str, values: tuple[Any, ...]) -> Any:
        self.recorder.add(SupernetDecision(label, "value", values, tuple(str(v) for v in values)))
        if len(values) > 1:
            self.recorder.value_choices.setdefault(label, values)
        return self.values.get(label, values[0])

    def repeat(
        self, label: str, block_factory: Callable[[int], nn.Module], depths: tuple[int, ...]
    ) -> nn.Module:
        depths = tuple(sorted(depths))
        blocks = [block_factory(i) for i in range(depths[-1])]
        if len(depths) == 1:  # a fixed depth: nothing to choose
            return nn.Sequential(*blocks)
        index = self.recorder.add(SupernetDecision(label, "repeat", depths, tuple(str(d) for d in depths)))
        return MixedRepeat(index, label, depths, blocks, self.recorder.selection)


class UserSupernet(Supernet):
    """The supernet of a user's ``ModelSpace``: the user's module with every choice holding all its
    candidates (module docstring); one decision per label, K_d choices each.

    ``input_shape`` and ``num_classes`` go to the module's constructor when it takes them (as
    ``ModelSpace.build`` does). ``op_names`` are the padded columns ``choice 0 .. choice K-1``;
    ``decisions`` holds each decision's own candidates, ``edge_names`` its label.
    """

    space_name = "user"

    def __init__(self, model_space: Any, input_shape: tuple[int, ...], num_classes: int) -> None:
        super().__init__()
        selection = Selection()
        first = SupernetRecorder(selection)
        model = _construct_copy(model_space, first, {}, input_shape, num_classes)
        if not any(len(d.values) > 1 for d in first.decisions):
            raise ConfigError(f"model space {model_space.name} has no choice for one-shot search to make")
        self.decisions = tuple(first.decisions)
        multi = dict(first.value_choices)
        combinations = list(itertools.product(*(range(len(values)) for values in multi.values())))
        if len(combinations) > MAX_VALUE_COMBINATIONS:
            raise too_many_copies_error(multi, len(combinations))
        copies: list[nn.Module] = [model]
        for combination in combinations[1:]:
            chosen = {label: multi[label][k] for label, k in zip(multi, combination, strict=True)}
            recorder = SupernetRecorder(selection)
            copies.append(_construct_copy(model_space, recorder, chosen, input_shape, num_classes))
            if tuple(recorder.decisions) != self.decisions:
                raise ConfigError(
                    f"model space {model_space.name}: its choices differ with the values of "
                    f"{', '.join(map(repr, multi))}; one-shot search needs the same choices in every copy"
                )
        index = {d.label: i for i, d in enumerate(self.decisions)}
        self._model_space = model_space
        self.selection = selection
        self.model: nn.Module = out_of_place(
            batch_stats_everywhere(
                model
                if len(copies) == 1
                else ValueCopies(
                    copies,
                    [
                        tuple((index[label], k) for label, k in zip(multi, combination, strict=True))
                        for combination in combinations
                    ],
                    selection,
                )
            )
        )
        if isinstance(self.model, ValueCopies):
            share_parameters(list(self.model.copies))
        self.edges = len(self.decisions)
        self._num_choices = np.array([len(d.values) for d in self.decisions], dtype=np.int64)
        self.op_names = tuple(f"choice {k}" for k in range(int(self._num_choices.max())))
        self.edge_names = [d.label for d in self.decisions]
        self.check_output(input_shape, num_classes)

    def check_output(self, input_shape: tuple[int, ...], num_classes: int, mixed: bool = False) -> None:
        """Run two zero inputs through the first candidate of every choice, or with ``mixed`` through the
        DARTS weighted sum of all of them (evaluation mode, no gradient, no randomness drawn): a model
        that fails or gives no [batch, num_classes] logits is a one-line ConfigError now, before a run
        directory is made, not in the first epoch."""
        training = self.training
        device = next(iter(self.parameters()), torch.zeros(())).device  # a model may have no weights
        inputs = torch.zeros(2, *input_shape, device=device)
        self.eval()
        try:
            with torch.no_grad():
                if mixed:
                    mask = torch.as_tensor(self.choice_mask(), dtype=torch.float32, device=device)
                    logits = self(inputs, weights=mask / mask.sum(dim=1, keepdim=True))
                else:
                    logits = self(inputs, choice=torch.zeros(self.edges, dtype=torch.long))
        except ConfigError:
            raise
        except Exception as exc:
            lines = str(exc).strip().splitlines()
            raise ConfigError(
                f"model space {self._model_space.name}: its supernet cannot run a batch of inputs of shape "
                f"{tuple(input_shape)}: {type(exc).__name__}: {lines[0] if lines else ''}"
            ) from None
        finally:
            self.train(training)
        if logits.shape[1] != num_classes:
            raise ConfigError(
                f"model space {self._model_space.name} gives {logits.shape[1]} outputs per input, but the data "
                f"have {num_classes} classes"
            )

    def space(self) -> Any:
        """The user's ``ModelSpace``: the normal space of the derived architectures."""
        return self._model_space

    def num_choices(self) -> np.ndarray:
        return self._num_choices.copy()

    def _forward(self, x: Tensor, choice: list[int] | None, weights: Tensor | None) -> Tensor:
        self.selection.choice, self.selection.weights = choice, weights
        try:
            logits = self.model(x)
        finally:
            self.selection.choice = self.selection.weights = None
        if not isinstance(logits, Tensor) or logits.dim() != 2:
            shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
            raise ConfigError(
                f"model space {self._model_space.name}: one-shot search needs class logits [batch, classes], the model gave {shape}"
            )
        return logits

    def values(self, choice: Sequence[int] | np.ndarray) -> dict[str, Any]:
        """The chosen value of every label (``choice`` holds one index per decision), as
        ``ModelSpace.values`` gives them (a subset of inputs as a list)."""
        indices = [int(k) for k in np.asarray(choice).flatten()]
        if len(indices) != self.edges:
            raise ValueError(f"a choice of this supernet has {self.edges} indices, got {len(indices)}")
        chosen = {d.label: d.values[k] for d, k in zip(self.decisions, indices, strict=True)}
        return {label: list(value) if isinstance(value, tuple) else value for label, value in chosen.items()}

    def to_architecture(self, choice: Sequence[int] | np.ndarray) -> Architecture:
        architecture: Architecture = self._model_space.architecture(self.values(choice))
        return architecture

    def probabilities_by_label(self, probabilities: np.ndarray) -> dict[str, dict[str, float]]:
        """``probabilities`` [decisions, max K_d] as {label: {candidate name: probability}}."""
        rows = np.asarray(probabilities, dtype=float)
        return {
            d.label: {name: float(p) for name, p in zip(d.names, rows[i], strict=False)}
            for i, d in enumerate(self.decisions)
        }


def _construct_copy(
    model_space: Any,
    recorder: SupernetRecorder,
    values: dict[str, Any],
    input_shape: tuple[int, ...],
    num_classes: int,
) -> nn.Module:
    """The user's module constructed under ``SupernetMode(recorder, values)``; ConfigError when it fails
    (naming the value choices' values) or is not a module."""
    try:
        model = construct_under(SupernetMode(recorder, values), model_space, input_shape, num_classes)
    except ConfigError:
        raise
    except Exception as exc:
        with_values = f" with {', '.join(f'{k}={v!r}' for k, v in values.items())}" if values else ""
        lines = str(exc).strip().splitlines()
        raise ConfigError(
            f"model space {model_space.name}: constructing its supernet{with_values} failed: "
            f"{type(exc).__name__}: {lines[0] if lines else ''}"
        ) from None
    if not isinstance(model, nn.Module):
        raise ConfigError(
            f"model space {model_space.name}: the constructor gave {type(model).__name__}, not an nn.Module"
        )
    return model


def construct_under(
    mode: SupernetMode, model_space: Any, input_shape: tuple[int, ...], num_classes: int
) -> Any:
    """The user's module constructed with ``mode`` active (input_shape/num_classes passed as
    ``ModelSpace.build`` passes them)."""
    return model_space.construct(mode, input_shape=input_shape, num_classes=num_classes)


def load_model_space(path: str, kwargs: dict[str, Any]) -> Any:
    """The user's ``ModelSpace`` of the dotted path ``pkg.mod:Net`` (or ``path/file.py:Net``) constructed
    with ``kwargs``, resolved as every name of a study is (the current directory importable); a path that
    does not import, or names no model, is a one-line ConfigError."""
    from archsearch.registry import construct

    return construct("space", path, kwargs)


def recorded_name(model_space: Any) -> tuple[str, dict[str, Any]]:
    """The (dotted path, keyword arguments) a run stores to rebuild ``model_space`` (as a study stores
    it); for a model that cannot be imported again (defined inside a function) its own reference, so a
    search from Python still runs (only resuming it from the command line cannot)."""
    from archsearch.registry import record

    try:
        return record("space", model_space)
    except ConfigError:
        return str(model_space.name), dict(model_space.config().get("kwargs") or {})


def as_model_space(space: Any) -> Any:
    """``space`` as a ``ModelSpace``: one already, or an nn.Module class, a function returning a module or
    a dotted path ``pkg.mod:Net``, wrapped."""
    from archsearch.nn import ModelSpace

    return space if isinstance(space, ModelSpace) else ModelSpace(space)


def user_space_summary(supernet: UserSupernet, method: Any) -> dict[str, Any]:
    """What a one-shot run's summary adds for a user's model space: the chosen value of every label, the
    final probabilities per label and candidate, and the collapse entry (not checked: candidates are the
    user's own modules, not named skip/none ops)."""
    choice = method.derived_choice()
    return {
        "values": supernet.values(choice),
        "probabilities": supernet.probabilities_by_label(method.probabilities()),
        "collapse": {
            "collapsed": False,
            "parameter_free_dominated": False,
            "verdict": "not checked on a user's model space",
        },
    }


def user_data_split(
    train: Any,
    valid: Any | None,
    test: Any | None,
    *,
    valid_fraction: float,
    device: torch.device,
    target: str = "target",
    image_size: int | None = None,
    normalize: bool = True,
    split_seed: int,
) -> Any:
    """The search's ``DataSplit`` of the user's classification data, read as the supervised evaluators
    read it (``archsearch.data.user.load_user_data``): (x, y) arrays or tensors, a torch Dataset or
    DataLoader, an image folder with one subfolder per class, a CSV file with a ``target`` column, or a
    dotted path to a function returning one of them. Without ``valid``, ``valid_fraction`` of ``train``
    is held out (the split fixed by ``split_seed``, a run's ``SPLIT_SEED``); without ``test`` there is none."""
    from archsearch.data.user import load_user_data
    from archsearch.evaluators.training import DataSplit

    data = load_user_data(
        "classification",
        train,
        valid,
        test,
        val_size=valid_fraction,
        split_seed=split_seed,
        target=target,
        image_size=image_size,
        normalize=normalize,
    )

    def tensors(x: np.ndarray, y: np.ndarray) -> tuple[Tensor, Tensor]:
        return torch.as_tensor(x, dtype=torch.float32).to(device), torch.as_tensor(y, dtype=torch.long).to(
            device
        )

    train_x, train_y = tensors(data.train.x, data.train.y)
    val_x, val_y = tensors(data.valid.x, data.valid.y)
    test_x, test_y = (train_x[:0], train_y[:0]) if data.test is None else tensors(data.test.x, data.test.y)
    return DataSplit(train_x, train_y, val_x, val_y, test_x, test_y, data.input_shape, data.num_outputs)


def data_sources(
    train: Any, valid: Any | None, test: Any | None, target: str, image_size: int | None, normalize: bool
) -> dict[str, Any] | None:
    """The data options a run records when every split is a path (a folder, a CSV file, made absolute) or
    a dotted path to a loader, so that resuming reads them again; None for data held in memory."""

    def where(source: Any) -> str | None:
        if source is None:
            return None
        text = os.fspath(source)
        return os.path.abspath(text) if os.path.exists(text) else text

    sources = (train, valid, test)
    if not all(source is None or isinstance(source, str | os.PathLike) for source in sources):
        return None
    return {
        "train": where(train),
        "valid": where(valid),
        "test": where(test),
        "target": target,
        "image_size": image_size,
        "normalize": normalize,
    }


def exported_model_source(
    model: str, kwargs: dict[str, Any], values: dict[str, Any], input_shape: tuple[int, ...], num_classes: int
) -> str:
    """model.py for the architecture a one-shot run derived on a user's model space: ``build_model()``
    rebuilds the space from its dotted path ``model`` and ``kwargs`` and builds the child of ``values``
    (freshly initialised: the supernet's shared weights are not a trained child)."""
    module = model.rpartition(":")[0]
    return f'''# PyTorch model exported by archsearch oneshot: the architecture a one-shot search derived.
# It needs torch, archsearch and your module {" ".join(module.split())} importable (run it where the search ran).
# build_model() builds it freshly initialised: train it from scratch, as one-shot search prescribes.
from __future__ import annotations

import json

from torch import nn

from archsearch.nn import ModelSpace

MODEL = {model!r}
KWARGS = json.loads({json.dumps(kwargs)!r})
VALUES = json.loads({json.dumps(values)!r})
"""The value derived for each labelled choice of the space."""
INPUT_SHAPE = {tuple(input_shape)!r}
NUM_CLASSES = {int(num_classes)!r}


def build_model() -> nn.Module:
    """The derived child, a plain nn.Module with the chosen values fixed."""
    space = ModelSpace(MODEL, **KWARGS)
    return space.build(space.architecture(VALUES), INPUT_SHAPE, NUM_CLASSES)


if __name__ == "__main__":
    model = build_model()
    print(f"parameters: {{sum(p.numel() for p in model.parameters())}}")
'''

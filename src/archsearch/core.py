"""The neutral core of archsearch: the types every part and every user touches.

``Decision``, ``Architecture`` and ``SearchSpace`` say what can be built; ``Result`` and ``Evaluator`` how
one architecture is scored; ``Strategy`` proposes architectures (``DrivesExecution``: one that runs a
study's trials itself); ``TrialRecord`` is one trial of a study as the store keeps it. This module imports
nothing of archsearch but its errors, so every layer above it (spaces, strategies, evaluators, executors,
store, study, CLI) can import it and none of them is needed to use it (``make lint`` checks the layering
with import-linter).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, runtime_checkable

from archsearch.errors import InvalidArchitectureError

if TYPE_CHECKING:  # numpy is not imported at start-up (archsearch --help imports this module)
    import numpy as np

LINKS = "links"


@dataclass(frozen=True)
class Decision:
    """One token a controller emits.

    Categorical decisions pick one of ``choices``. A decision of kind ``LINKS`` is an anchor point
    (Zoph & Le 2017, section 3.3): its value is a sorted tuple of indices of earlier anchors
    (``0 .. num_links-1``) that feed this layer, each an independent Bernoulli draw.
    Decisions of the same ``kind`` share one controller head, so ``kind`` must determine ``choices``.

    Attributes:
        name: the decision's label, unique within an architecture ("layer_3/filter_height", "width").
        kind: what the decision is; decisions of one kind have the same ``choices``.
        choices: the values a categorical decision may take (JSON scalars: str, int, float, bool).
        num_links: for a ``LINKS`` decision, how many earlier anchors it may connect to.
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
    """An immutable, hashable point of a search space: the values of its decisions in order.

    Attributes:
        space: the ``name`` of the space it belongs to.
        values: one value per decision, in the order the space asks them (``SearchSpace.walk``).
    """

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
    """What can be built: a sequence of decisions (DESIGN.md). Strategies see only decisions.

    Implement ``decisions`` (the next question given the answers so far), ``kinds``, ``encode``/``decode``
    and ``config``; spaces whose architectures are networks also implement ``build``. Users rarely subclass
    it: ``archsearch.ModelSpace`` turns a PyTorch module with choices into one, ``archsearch.DictSpace`` a
    mapping of names to value lists. A space may also carry optional hooks (``companions``,
    ``export_source``, ``draw``, ``supernet``), declared in ``archsearch.spaces.hooks``.
    """

    name: str = "space"

    @abstractmethod
    def decisions(self, prefix: tuple[Any, ...]) -> Decision | None:
        """The next decision given ``prefix``, the values chosen so far in order; None when the
        architecture is complete."""

    @abstractmethod
    def kinds(self) -> dict[str, Decision]:
        """One representative decision per kind, for controllers that keep one head per kind."""

    @abstractmethod
    def encode(self, arch: Architecture) -> str:
        """A stable, human-readable string for ``arch`` (an architecture of this space)."""

    @abstractmethod
    def decode(self, text: str) -> Architecture:
        """The architecture that ``encode`` wrote as ``text``; InvalidArchitectureError on malformed text."""

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
        """A torch module for ``arch``: ``input_shape`` is the shape of one example without the batch
        dimension (e.g. (channels, height, width)) and ``num_classes`` the size of the output. Spaces that
        are only looked up in a table need not build."""
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
                values.append(tuple(j for j, present in enumerate(mask) if present))
            else:
                values.append(decision.choices[int(rng.integers(len(decision.choices)))])
        return Architecture(self.name, tuple(values))


Status = Literal["ok", "failed", "timeout", "pruned"]
"""How an evaluation ended: trained to the end (ok), failed, past its time limit, or stopped early by the
study's pruner (pruned: its metrics and curve are what it reached; ``archsearch.reporting``)."""


@dataclass
class Result:
    """What an evaluation measured.

    Attributes:
        metrics: scalars by name ("val_acc", "test_acc", "params", a user's "f1", ...).
        cost_s: what the evaluation cost in seconds (wall-clock, or simulated for table lookups).
        status: "ok", "failed", "timeout" or "pruned" (stopped early by the study's pruner).
        error: the one-line reason of a failed, timed-out or pruned evaluation.
        curve: per-epoch (or per-report) series by name ("val_acc": [...]).
    """

    metrics: dict[str, float] = field(default_factory=dict)
    cost_s: float = 0.0
    status: Status = "ok"
    error: str | None = None
    curve: dict[str, list[float]] = field(default_factory=dict)
    weights: bytes | None = field(default=None, repr=False, compare=False)
    """The trained child's ``state_dict`` as ``torch.save`` bytes, when the evaluator keeps it; the study
    stores the weights of its best trials and ``to_dict`` leaves them out."""

    @property
    def ok(self) -> bool:
        """Trained to the end: not failed, not timed out, not pruned."""
        return self.status == "ok"

    @property
    def failed(self) -> bool:
        """Failed or timed out (a pruned child did not fail: it reached what its metrics say)."""
        return self.status in ("failed", "timeout")

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": dict(self.metrics),
            "cost_s": self.cost_s,
            "status": self.status,
            "error": self.error,
            "curve": {k: list(v) for k, v in self.curve.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        return cls(
            metrics=dict(data.get("metrics", {})),
            cost_s=float(data.get("cost_s", 0.0)),
            status=data.get("status", "ok"),
            error=data.get("error"),
            curve={k: list(v) for k, v in data.get("curve", {}).items()},
        )

    @classmethod
    def failure(cls, error: str, cost_s: float = 0.0, status: Status = "failed") -> Result:
        return cls(status=status, error=error, cost_s=cost_s)


class Evaluator(ABC):
    """Scores one architecture. Must be picklable: executors send it to worker processes.

    An evaluator that trains in steps reports what its child reached after each one with
    ``archsearch.reporting.report`` (the study stores it and its pruner may stop the child there).
    ``no_intermediate_reports``: why this evaluator cannot report per step (a table lookup); a study with
    a pruner refuses it with that line. None (the default): it may report.
    """

    no_intermediate_reports: ClassVar[str | None] = None

    def prepare(self) -> None:
        """Load and check what every trial needs (data), so that a mistake stops the study at once
        with a clear error instead of failing every trial."""

    @abstractmethod
    def evaluate(self, space: SearchSpace, arch: Architecture, seed: int) -> Result:
        """Score ``arch``, an architecture of ``space``, training from ``seed`` (the trial's seed, fixed by
        the study seed and the trial number). Never raise for a failing child: return ``Result.failure``
        (or a Result with status "failed"/"timeout" and the reason in ``error``) instead."""


class Strategy(ABC):
    """A search strategy. ``ask`` may be called many times before the matching ``tell`` calls arrive.

    Given the same seed and the same sequence of ask/tell calls, a strategy must make the same choices,
    and ``load_state_dict(state_dict())`` must restore it exactly (resume relies on both).
    """

    @abstractmethod
    def ask(self) -> Architecture:
        """The next architecture to evaluate."""

    @abstractmethod
    def tell(self, arch: Architecture, result: Result, reward: float) -> None:
        """Report what ``arch`` (returned by an earlier ``ask``) achieved: ``result`` is what its evaluation
        measured and ``reward`` the scalar the study's reward function made of it (higher is better)."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly where this strategy is."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state returned by ``state_dict``."""

    def progress(self) -> dict[str, float]:
        """Scalars worth recording with a trial (e.g. the REINFORCE baseline)."""
        return {}


@runtime_checkable
class DrivesExecution(Protocol):
    """A strategy that may run a study's trials itself instead of being asked and told by its loop.

    NAS-RL's parameter server on Ray is one (Zoph & Le 2017, section 3.3): its replica actors sample and
    launch their own children. ``Study.run`` first calls ``drive(study, listeners, executor)``; it returns
    False to leave the study's ask/tell loop to run it after all (e.g. on another executor), or runs the
    study until its budget is spent and returns True. A driving strategy keeps the study's books through
    ``study.ledger`` (``archsearch.ledger.TrialLedger``: open a trial, finish it with its result, time left,
    the listeners), so that status, resume and reports read its trials as any other study's.

    ``study`` is an ``archsearch.study.Study``, ``listeners`` its ``StudyListener``s and ``executor`` the
    ``Executor`` given to ``run`` (None: the strategy makes the one the config names); they are typed
    loosely here because the core imports nothing above it.
    """

    def drive(self, study: Any, listeners: Sequence[Any], executor: Any) -> bool:
        """Run ``study`` to its budget and return True, or return False to be run by ask/tell."""
        ...


@dataclass
class TrialRecord:
    """One trial of a study as the store keeps it.

    Attributes:
        number: 0-based trial number, in ask order.
        arch, arch_str: the architecture and its ``SearchSpace.encode`` text.
        seed: the seed its evaluation trained from.
        status: "running", "ok", "failed", "timeout" or "pruned".
        ask_event, tell_event: positions of its ask and tell in the study's event sequence (resume).
        started_at, finished_at: Unix times.
        reward: the reward the strategy was told (None while running).
        metrics, curve, cost_s, error: the evaluation's Result fields.
        info: scalars the strategy reported with it (``Strategy.progress``).
    """

    number: int
    arch: Architecture
    arch_str: str
    seed: int
    status: str
    ask_event: int
    started_at: float
    reward: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    curve: dict[str, list[float]] = field(default_factory=dict)
    cost_s: float | None = None
    error: str | None = None
    info: dict[str, float] = field(default_factory=dict)
    tell_event: int | None = None
    finished_at: float | None = None

    @property
    def finished(self) -> bool:
        return self.status != "running"

    def result(self) -> Result:
        return Result(
            metrics=dict(self.metrics),
            cost_s=self.cost_s or 0.0,
            status=self.status,  # type: ignore[arg-type]
            error=self.error,
            curve={k: list(v) for k, v in self.curve.items()},
        )

"""BOHB: a TPE-style density model over the decisions, fitted on the highest budget it has enough of,
proposing the children that Hyperband's brackets (the study's pruner) train and stop."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from archsearch.core import Architecture, Decision, Result, SearchSpace, Strategy
from archsearch.errors import ConfigError
from archsearch.strategies.nsga2 import propose_novel

Variable = tuple[Any, ...]
"""One categorical variable of an architecture: ("choice", decision name, choices), or
("link", decision name, num_links, j) for link j of a LINKS decision (present or not)."""

FINAL = 0
"""The model level of results trained to the end (their reward); levels k >= 1 are curve points."""


def choice_variable(decision: Decision) -> Variable:
    return ("choice", decision.name, decision.choices)


def link_variable(decision: Decision, j: int) -> Variable:
    return ("link", decision.name, decision.num_links, j)


def variables(space: SearchSpace, arch: Architecture) -> dict[Variable, tuple[int, int]]:
    """The categorical variables ``arch`` sets: each maps to (index of its value, number of values);
    InvalidArchitectureError when ``arch`` is not of ``space``."""
    out: dict[Variable, tuple[int, int]] = {}
    for decision, value in zip(space.walk(arch.values), arch.values, strict=True):
        decision.check(value)
        if decision.is_links:
            for j in range(decision.num_links):
                out[link_variable(decision, j)] = (int(j in value), 2)
        else:
            out[choice_variable(decision)] = (decision.choices.index(value), len(decision.choices))
    return out


def categorical_density(
    points: Iterable[dict[Variable, tuple[int, int]]], bandwidth: float
) -> dict[Variable, np.ndarray]:
    """Per variable, the Aitchison-Aitken kernel density of ``points`` (as BOHB's KDE for categorical
    parameters): each point puts 1 - b on its value and b / (n - 1) on each other one, b the bandwidth
    capped at (n - 1) / n (uniform); averaged over the points that set the variable."""
    counts: dict[Variable, np.ndarray] = {}
    for point in points:
        for variable, (index, size) in point.items():
            counts.setdefault(variable, np.zeros(size))[index] += 1
    density = {}
    for variable, count in counts.items():
        size = len(count)
        if size < 2:
            continue
        b = min(bandwidth, (size - 1) / size)
        frequency = count / count.sum()
        density[variable] = (1 - b) * frequency + b / (size - 1) * (1 - frequency)
    return density


@dataclass
class Observation:
    """What a told child reached: its reward when trained to the end (None otherwise) and the pruning
    metric at each point of its curve (level k = curve point k, higher better; None where not finite)."""

    arch: Architecture
    final: float | None
    levels: list[float | None]

    def value(self, level: int) -> float | None:
        if level == FINAL:
            return self.final
        return self.levels[level - 1] if level <= len(self.levels) else None


@dataclass
class Model:
    """The density model of one level: good points, and log l(x) - log g(x) per variable and value."""

    level: int
    points: int
    good: list[dict[Variable, tuple[int, int]]]
    log_ratio: dict[Variable, np.ndarray] = field(default_factory=dict)


class BOHB(Strategy):
    """BOHB (Falkner, Klein & Hutter, "BOHB: Robust and Efficient Hyperparameter Optimization at Scale",
    ICML 2018): Hyperband's brackets decide how long each child trains (the study's pruner, Hyperband
    unless the config names another: ``default_pruner``); this strategy proposes the children with a
    TPE-style density model in place of Hyperband's random draws.

    Observations: a child whose curve has k values of the pruning metric is observed at levels 1..k
    (level k: its k-th value, the resource it reached there); a child trained to the end is also
    observed at the final level, with its reward. The model is fitted on the highest level with at
    least ``min_points`` observations (the final level first, then k from the highest down; default:
    the number of variables + 1, as BOHB's d + 1): the top ``top_fraction`` (gamma, BOHB's
    top_n_percent = 15) are good, the rest bad, and l(x), g(x) are per-variable categorical densities
    (Aitchison-Aitken kernels of ``bandwidth``) of the good and the bad. An ask is, with probability
    ``random_fraction`` (1/3) or while no level has enough observations, a uniformly random
    architecture; else the best by l(x) / g(x) of ``num_samples`` (64) candidates, each a good point
    with every variable redrawn uniformly with probability ``bandwidth`` * ``bandwidth_factor`` (3).

    Any search space: the variables are its decisions as ``SearchSpace.decisions`` walks them (one per
    categorical decision, one present/absent variable per link of a LINKS decision); a candidate walks
    the space, keeping the good point's value where it has the decision and drawing it otherwise, so
    variable-length spaces work. Never asks an architecture asked or told before (the best unseen
    candidate, else a random unseen one; a space that has run out repeats). Asynchronous: asks may run
    ahead of tells, in any order. Failed children are not observed; a pruned child is observed at the
    levels its curve reached and not at the final level.

    ``metric``/``mode``: the curve series and its direction until the study calls ``set_pruning`` with
    its pruner's metric and mode.
    """

    default_pruner: ClassVar[dict[str, Any]] = {"name": "hyperband", "params": {}}

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        metric: str = "val_acc",
        mode: str = "max",
        min_points: int | None = None,
        top_fraction: float = 0.15,
        num_samples: int = 64,
        random_fraction: float = 1 / 3,
        bandwidth: float = 0.1,
        bandwidth_factor: float = 3.0,
    ) -> None:
        if min_points is not None and (
            isinstance(min_points, bool) or not isinstance(min_points, int) or min_points < 2
        ):
            raise ConfigError(f"bohb min_points must be an integer >= 2, got {min_points!r}")
        if not 0 < top_fraction < 1:
            raise ConfigError(f"bohb top_fraction must be between 0 and 1, got {top_fraction!r}")
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
            raise ConfigError(f"bohb num_samples must be an integer >= 1, got {num_samples!r}")
        if not 0 <= random_fraction <= 1:
            raise ConfigError(f"bohb random_fraction must be between 0 and 1, got {random_fraction!r}")
        if not 0 < bandwidth < 1:
            raise ConfigError(f"bohb bandwidth must be between 0 and 1, got {bandwidth!r}")
        if not bandwidth_factor > 0:
            raise ConfigError(f"bohb bandwidth_factor must be positive, got {bandwidth_factor!r}")
        self.space = space
        self.min_points = min_points
        self.top_fraction = float(top_fraction)
        self.num_samples = num_samples
        self.random_fraction = float(random_fraction)
        self.bandwidth = float(bandwidth)
        self.bandwidth_factor = float(bandwidth_factor)
        self.set_pruning(metric, mode)
        self.rng = np.random.default_rng(seed)
        self.observations: list[Observation] = []
        self.seen: set[Architecture] = set()
        self.num_told = 0
        self.num_failed = 0
        self._model: Model | None = None
        self._fitted = False
        self._variables: dict[Architecture, dict[Variable, tuple[int, int]]] = {}

    def set_pruning(self, metric: str, mode: str) -> None:
        """The curve series the study's pruner watches and its direction ("max" or "min")."""
        if not isinstance(metric, str) or not metric:
            raise ConfigError(f"bohb needs a metric name, got {metric!r}")
        if mode not in ("max", "min"):
            raise ConfigError(f"the pruning mode must be max or min, got {mode!r}")
        self.metric, self.mode = metric, mode

    # -- the model ----------------------------------------------------------------------------------
    def _variables_of(self, arch: Architecture) -> dict[Variable, tuple[int, int]]:
        if arch not in self._variables:
            self._variables[arch] = variables(self.space, arch)
        return self._variables[arch]

    def _needed(self) -> int:
        if self.min_points is not None:
            return self.min_points
        most = max((len(self._variables_of(o.arch)) for o in self.observations), default=0)
        return max(most + 1, 2)

    def _level(self) -> int | None:
        """The level the model is fitted on: the final one, else the highest curve level, with enough
        observations; None while none has."""
        needed = self._needed()
        if sum(o.final is not None for o in self.observations) >= needed:
            return FINAL
        depth = max((len(o.levels) for o in self.observations), default=0)
        for level in range(depth, 0, -1):
            if sum(o.value(level) is not None for o in self.observations) >= needed:
                return level
        return None

    def model(self) -> Model | None:
        """The density model of the current observations (None while no level has enough)."""
        if self._fitted:
            return self._model
        self._fitted, self._model = True, None
        level = self._level()
        if level is None:
            return None
        scored = [(value, o) for o in self.observations if (value := o.value(level)) is not None]
        order = sorted(range(len(scored)), key=lambda i: -scored[i][0])  # stable: earlier tells first
        num_good = min(max(1, math.ceil(self.top_fraction * len(scored))), len(scored) - 1)
        good = [self._variables_of(scored[i][1].arch) for i in order[:num_good]]
        bad = [self._variables_of(scored[i][1].arch) for i in order[num_good:]]
        good_density = categorical_density(good, self.bandwidth)
        bad_density = categorical_density(bad, self.bandwidth)
        log_ratio = {}
        for variable in good_density.keys() | bad_density.keys():
            size = len(good_density.get(variable, bad_density.get(variable)))  # type: ignore[arg-type]
            uniform = np.full(size, 1 / size)
            log_ratio[variable] = np.log(good_density.get(variable, uniform)) - np.log(
                bad_density.get(variable, uniform)
            )
        self._model = Model(level, len(scored), good, log_ratio)
        return self._model

    def _redraw(self, kept: tuple[int, int] | None, size: int) -> int:
        """A good point's value index ``kept``, redrawn uniformly with probability bandwidth * factor."""
        if kept is not None and self.rng.random() >= self.bandwidth * self.bandwidth_factor:
            return kept[0]
        return int(self.rng.integers(size))

    def _candidate(self, model: Model) -> tuple[Architecture, float]:
        """One candidate drawn around a random good point, and its log l(x) / g(x)."""
        point = model.good[int(self.rng.integers(len(model.good)))]
        values: list[Any] = []
        score = 0.0
        while (decision := self.space.decisions(tuple(values))) is not None:
            if decision.is_links:
                links = []
                for j in range(decision.num_links):
                    variable = link_variable(decision, j)
                    present = self._redraw(point.get(variable), 2)
                    if variable in model.log_ratio:
                        score += float(model.log_ratio[variable][present])
                    if present:
                        links.append(j)
                values.append(tuple(links))
            else:
                variable = choice_variable(decision)
                index = self._redraw(point.get(variable), len(decision.choices))
                if variable in model.log_ratio:
                    score += float(model.log_ratio[variable][index])
                values.append(decision.choices[index])
        return Architecture(self.space.name, tuple(values)), score

    # -- the Strategy interface ---------------------------------------------------------------------
    def ask(self) -> Architecture:
        explore = self.rng.random() < self.random_fraction
        model = None if explore else self.model()
        if model is not None:
            best: tuple[Architecture, float] | None = None
            for _ in range(self.num_samples):
                arch, score = self._candidate(model)
                if arch not in self.seen and (best is None or score > best[1]):
                    best = (arch, score)
            if best is not None:
                self.seen.add(best[0])
                return best[0]
        return propose_novel(lambda: self.space.sample(self.rng), self.seen)

    def tell(self, arch: Architecture, result: Result, reward: float) -> None:
        self.seen.add(arch)
        self.num_told += 1
        if result.failed:
            self.num_failed += 1
            return
        self._variables_of(arch)  # an architecture of another space fails here, not in a later ask
        sign = 1.0 if self.mode == "max" else -1.0
        levels = [sign * float(v) if math.isfinite(v) else None for v in result.curve.get(self.metric, [])]
        final = float(reward) if result.ok and math.isfinite(reward) else None
        self.observations.append(Observation(arch, final, levels))
        self._fitted = False

    def progress(self) -> dict[str, float]:
        """The level the model is fitted on (0: trained to the end) and how many points it has."""
        model = self.model()
        if model is None:
            return {}
        return {"model_level": float(model.level), "model_points": float(model.points)}

    def state_dict(self) -> dict[str, Any]:
        return {
            "rng": copy.deepcopy(self.rng.bit_generator.state),
            "observations": [(o.arch.to_dict(), o.final, list(o.levels)) for o in self.observations],
            "seen": [a.to_dict() for a in sorted(self.seen, key=lambda a: a.to_json())],
            "num_told": self.num_told,
            "num_failed": self.num_failed,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = copy.deepcopy(state["rng"])
        self.observations = [
            Observation(
                Architecture.from_dict(arch),
                None if final is None else float(final),
                [None if v is None else float(v) for v in levels],
            )
            for arch, final, levels in state["observations"]
        ]
        self.seen = {Architecture.from_dict(a) for a in state["seen"]}
        self.num_told = int(state["num_told"])
        self.num_failed = int(state["num_failed"])
        self._fitted, self._model = False, None

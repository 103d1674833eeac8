"""Any Optuna sampler as a strategy, through Optuna's ask-and-tell interface (optional dependency)."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import logging
import math
import warnings
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

from archsearch.core import Architecture, Decision, Result, SearchSpace, Strategy
from archsearch.errors import ConfigError
from archsearch.objectives import Constraint, Objective, parse_constraints, parse_objectives

log = logging.getLogger(__name__)

SAMPLERS = {
    "tpe": "TPESampler",
    "random": "RandomSampler",
    "cmaes": "CmaEsSampler",
    "gp": "GPSampler",
    "nsgaii": "NSGAIISampler",
    "nsgaiii": "NSGAIIISampler",
    "qmc": "QMCSampler",
    "bruteforce": "BruteForceSampler",
}
# Samplers that model only numeric parameters: Optuna would draw every categorical parameter with its
# independent (random) sampler, so for them each decision is suggested as an integer index instead.
NUMERIC_ONLY = {"cmaes", "qmc"}
EXTRA_PACKAGES = {"cmaes": "cmaes", "gp": "scipy", "qmc": "scipy"}  # sampler -> module it imports lazily
OPTUNA_TYPES = (type(None), bool, int, float, str)
SINGLE_OBJECTIVE_ONLY = {"cmaes"}
CONSTRAINTS_ATTR = "constraints"


def constraint_values(trial: Any) -> Sequence[float]:
    """Optuna's ``constraints_func``: the values stored with the trial, feasible where <= 0."""
    return tuple(trial.user_attrs.get(CONSTRAINTS_ATTR, ()))


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise ConfigError(
            "the optuna strategy needs Optuna: pip install optuna (and cmaes for sampler 'cmaes')"
        ) from None
    return optuna


@contextlib.contextmanager
def _quiet(optuna: Any) -> Iterator[None]:
    """Keep Optuna's per-trial INFO lines out of the user's console (restored afterwards)."""
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


class OptunaStrategy(Strategy):
    """An Optuna sampler (Akiba, Sano, Yanase, Ohta & Koyama, KDD 2019) driving the search: TPE
    (Bergstra et al. 2011, Optuna's default), random, CMA-ES (Hansen 2016), GP, NSGA-II/III, QMC, brute force.

    Each decision is one ``suggest`` named after it, walked define-by-run so variable-length spaces work;
    a LINKS decision is one boolean suggestion per link ("name[j]"). Samplers that model only numeric
    parameters (``cmaes``, ``qmc``) would fall back to random sampling for categorical parameters, so for
    them every decision is an integer index into its choices (``suggest_int``): this imposes the order of
    the choices, natural for sizes and arbitrary for operations. ``sampler_kwargs`` go to the sampler
    (e.g. ``n_startup_trials``); the seed is always ``seed``. Failed trials are told as FAIL, which
    Optuna's samplers ignore.

    A trial stopped by the study's pruner is told as PRUNED with its intermediate values: the values of
    the pruning metric per reported step (curve point k is Optuna step k), negated when the metric is
    minimised, since the Optuna study maximises. Optuna keeps the last one as the trial's value; TPE fills
    its good group with complete trials first, then with pruned ones, the deeper first, then by that value. The metric and
    its direction are the study's pruning metric (``set_pruning``; before that ``metric``/``mode``);
    without one, or when the curve lacks it, the reward is the one value, at the last step reached. With
    one objective the values are the curve of its metric as they are (the Optuna study goes its way); a
    multi-objective study (Optuna reports single values only) is told PRUNED without values.

    Multi-objective: with ``objectives`` (the study config's, e.g. val_acc:max and latency_ms:min) the
    Optuna study has one direction per objective and is told the metrics instead of the reward, so
    NSGA-II/III, TPE (MOTPE), random, GP and QMC samplers search for the Pareto front; ``constraints``
    (``latency_ms <= 5``) reach samplers that take a ``constraints_func`` as "metric - bound <= 0".

    Resume: samplers are not serialisable in general, so ``state_dict`` keeps the seed and the sequence of
    asks and tells, and ``load_state_dict`` replays it into a fresh in-memory study with the same seeded
    sampler, which then continues exactly as the original (replay costs one ask per trial so far).
    """

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        sampler: str = "tpe",
        objectives: Sequence[str | Objective] = (),
        constraints: Sequence[str | Constraint] = (),
        metric: str | None = None,
        mode: str = "max",
        **sampler_kwargs: Any,
    ) -> None:
        self.set_pruning(metric, mode)
        self.objectives = parse_objectives(objectives)
        self.constraints = parse_constraints(constraints)
        if sampler in SINGLE_OBJECTIVE_ONLY and len(self.objectives) > 1:
            raise ConfigError(
                f"optuna sampler {sampler!r} optimises one objective; use nsgaii, tpe or random"
            )
        if sampler not in SAMPLERS:
            raise ConfigError(f"unknown optuna sampler {sampler!r}; known: {', '.join(sorted(SAMPLERS))}")
        if "seed" in sampler_kwargs:
            raise ConfigError("give the optuna strategy's seed as its own seed, not as a sampler option")
        self.optuna = _import_optuna()
        if sampler in EXTRA_PACKAGES:
            try:
                importlib.import_module(EXTRA_PACKAGES[sampler])
            except ImportError:
                raise ConfigError(
                    f"optuna sampler {sampler!r} needs {EXTRA_PACKAGES[sampler]}: pip install {EXTRA_PACKAGES[sampler]}"
                ) from None
        self.space = space
        self.sampler_name = sampler
        self.sampler_kwargs = sampler_kwargs
        self.integer_encoding = sampler in NUMERIC_ONLY
        self._reset(seed)

    @property
    def _native_constraints(self) -> bool:
        """Optuna 5 records constraints on the trial (``Trial.set_constraint``); older ones ask the
        sampler's ``constraints_func``."""
        return hasattr(self.optuna.trial.Trial, "set_constraint")

    def _reset(self, seed: int) -> None:
        self.seed = seed
        sampler_cls = getattr(self.optuna.samplers, SAMPLERS[self.sampler_name])
        try:
            with warnings.catch_warnings():  # the user chose the sampler; its "experimental" notice is noise
                warnings.simplefilter("ignore", self.optuna.exceptions.ExperimentalWarning)
                options = dict(self.sampler_kwargs)
                if self.constraints and not self._native_constraints:
                    if "constraints_func" not in inspect.signature(sampler_cls).parameters:
                        raise ConfigError(
                            f"optuna sampler {self.sampler_name!r} takes no constraints; use nsgaii, tpe or gp"
                        )
                    options["constraints_func"] = constraint_values
                sampler = sampler_cls(seed=seed, **options)
        except ImportError as exc:
            raise ConfigError(f"optuna sampler {self.sampler_name!r} needs a package: {exc}") from None
        except TypeError as exc:
            raise ConfigError(f"bad options for optuna sampler {self.sampler_name!r}: {exc}") from None
        with _quiet(self.optuna):
            if self.objectives:
                directions = [f"{o.direction}imize" for o in self.objectives]
                self.study = self.optuna.create_study(directions=directions, sampler=sampler)
            else:
                self.study = self.optuna.create_study(direction="maximize", sampler=sampler)
        self.pending: dict[Architecture, deque[int]] = {}  # arch -> trial numbers of open asks
        self.param_names: dict[tuple[str, tuple[Any, ...]], str] = {}
        self.events: list[tuple[str, Any, Any]] = []  # ("ask", arch, None) | ("tell", arch, value|None)
        self.open_trials: dict[int, Any] = {}  # trial number -> optuna Trial, until told

    def set_pruning(self, metric: str | None, mode: str) -> None:
        """The metric the study's pruner watches and its direction ("max" or "min"): a pruned trial's
        intermediate values are its curve of ``metric``."""
        if mode not in ("max", "min"):
            raise ConfigError(f"the pruning mode must be max or min, got {mode!r}")
        self.pruning_metric, self.pruning_mode = metric, mode

    def _intermediate_values(self, result: Result, reward: float) -> list[tuple[int, float]]:
        """(step, value) pairs to report for a pruned ``result``, higher better (see the class)."""
        if len(self.objectives) > 1:
            return []
        metric: str | None
        if self.objectives:  # the study's own value: the objective's metric, in its own direction
            metric, sign = self.objectives[0].metric, 1.0
        else:  # the reward's study, maximised: the pruning metric, negated when it is minimised
            metric, sign = self.pruning_metric, 1.0 if self.pruning_mode == "max" else -1.0
        series = result.curve.get(metric) if metric else None
        if series:
            return [(step, sign * float(v)) for step, v in enumerate(series) if math.isfinite(v)]
        if self.objectives:
            return []
        reached = max((len(v) for v in result.curve.values()), default=1)
        return [(max(reached - 1, 0), float(reward))] if math.isfinite(reward) else []

    # -- the encoding ---------------------------------------------------------------------------------
    def _name(self, decision: Decision) -> str:
        """The parameter name of a categorical decision: its own name, unless another decision of that
        name had other choices (a variable space), which Optuna forbids; then "name~2", "name~3", ..."""
        key = (decision.name, decision.choices)
        if key not in self.param_names:
            taken = sum(name == decision.name for name, _ in self.param_names)
            self.param_names[key] = decision.name if not taken else f"{decision.name}~{taken + 1}"
        return self.param_names[key]

    def _suggest(self, trial: Any, decision: Decision) -> Any:
        if decision.is_links:
            if self.integer_encoding:
                flags = [trial.suggest_int(f"{decision.name}[{j}]", 0, 1) for j in range(decision.num_links)]
            else:
                flags = [
                    trial.suggest_categorical(f"{decision.name}[{j}]", (False, True))
                    for j in range(decision.num_links)
                ]
            return tuple(j for j, on in enumerate(flags) if on)
        name = self._name(decision)
        if self.integer_encoding:
            return decision.choices[trial.suggest_int(name, 0, len(decision.choices) - 1)]
        if all(isinstance(c, OPTUNA_TYPES) for c in decision.choices):
            return trial.suggest_categorical(name, decision.choices)
        index = trial.suggest_categorical(name, tuple(range(len(decision.choices))))
        return decision.choices[index]

    def _params(self, arch: Architecture) -> dict[str, Any]:
        """The Optuna parameters that encode ``arch`` (for enqueueing it)."""
        params: dict[str, Any] = {}
        for decision, value in zip(self.space.walk(arch.values), arch.values, strict=True):
            if decision.is_links:
                for j in range(decision.num_links):
                    on = j in value
                    params[f"{decision.name}[{j}]"] = int(on) if self.integer_encoding else on
            elif self.integer_encoding or not all(isinstance(c, OPTUNA_TYPES) for c in decision.choices):
                params[self._name(decision)] = decision.choices.index(value)
            else:
                params[self._name(decision)] = value
        return params

    def _new_trial(self) -> tuple[Architecture, int]:
        with _quiet(self.optuna):
            trial = self.study.ask()
            values: list[Any] = []
            while (decision := self.space.decisions(tuple(values))) is not None:
                values.append(self._suggest(trial, decision))
        self.open_trials[trial.number] = trial
        return Architecture(self.space.name, tuple(values)), trial.number

    # -- the Strategy interface -----------------------------------------------------------------------
    def ask(self) -> Architecture:
        arch, number = self._new_trial()
        self.pending.setdefault(arch, deque()).append(number)
        self.events.append(("ask", arch, None))
        return arch

    def tell(self, arch: Architecture, result: Result, reward: float) -> None:
        value: Any = float(reward) if result.ok else None
        if self.objectives and result.ok:
            value = self._objective_values(result)
        if result.status == "pruned":
            value = {"pruned": [list(pair) for pair in self._intermediate_values(result, reward)]}
        self.events.append(("tell", arch, value))
        self._tell(arch, value)

    def _objective_values(self, result: Result) -> dict[str, list[float]]:
        missing = [m for m in [o.metric for o in self.objectives] + [c.metric for c in self.constraints]]
        missing = [m for m in missing if m not in result.metrics]
        if missing:
            raise ConfigError(
                f"objective metric {missing[0]!r} is not reported by the evaluator; "
                f"its metrics: {', '.join(sorted(result.metrics))}"
            )
        return {
            "values": [float(result.metrics[o.metric]) for o in self.objectives],
            "constraints": [
                float(result.metrics[c.metric]) - c.bound
                if c.op == "<="
                else c.bound - float(result.metrics[c.metric])
                for c in self.constraints
            ],
        }

    def _tell(self, arch: Architecture, value: Any) -> None:
        numbers = self.pending.get(arch)
        if numbers:
            number = numbers.popleft()
            if not numbers:
                del self.pending[arch]
        else:  # told without an ask (warm start): record it as a trial with these parameters
            with _quiet(self.optuna):
                self.study.enqueue_trial(self._params(arch))
            _, number = self._new_trial()
        state = self.optuna.trial.TrialState
        trial = self.open_trials.pop(number, None)
        if isinstance(value, dict) and "pruned" in value:
            with _quiet(self.optuna):
                if trial is not None:
                    for step, intermediate in value["pruned"]:
                        trial.report(float(intermediate), int(step))
                self.study.tell(number, state=state.PRUNED)
            return
        if isinstance(value, dict):  # multi-objective: the metrics and constraint values
            if trial is not None and self.constraints:
                if self._native_constraints:
                    for constraint, amount in zip(self.constraints, value["constraints"], strict=True):
                        trial.set_constraint(str(constraint), amount)
                else:
                    trial.set_user_attr(CONSTRAINTS_ATTR, value["constraints"])
            value = value["values"] if len(value["values"]) > 1 else value["values"][0]
        with _quiet(self.optuna):
            if value is None:
                self.study.tell(number, state=state.FAIL)
            else:
                self.study.tell(number, value)

    def state_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "events": [(kind, arch.to_dict(), value) for kind, arch, value in self.events],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._reset(int(state["seed"]))
        for kind, data, value in state["events"]:
            arch = Architecture.from_dict(data)
            if kind == "ask":
                replayed, number = self._new_trial()
                if replayed != arch:  # a sampler that is not deterministic: keep the recorded trial
                    log.warning("optuna replay proposed another architecture; the recorded one is kept")
                    self.open_trials.pop(number, None)
                    with _quiet(self.optuna):
                        self.study.tell(number, state=self.optuna.trial.TrialState.FAIL)
                        self.study.enqueue_trial(self._params(arch))
                    _, number = self._new_trial()
                self.pending.setdefault(arch, deque()).append(number)
            else:
                self._tell(arch, value)
            self.events.append((kind, arch, value))

"""Pydantic models that describe a study completely; one YAML file or a set of flags makes one."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from archsearch.errors import ConfigError
from archsearch.objectives import Constraint, Objective

MAX_SEED = 2**32 - 1
"""The largest seed: numpy's legacy seeding and numba take 32-bit seeds; torch takes more."""


MAX_WORKERS = 1024
"""The most worker processes (or threads) a run starts on one machine: more is a typo, not a plan."""


class ConfigLoader(yaml.SafeLoader):
    """YAML's safe loader (no tags that build Python objects, so nothing in a config runs) that reads
    ``1e-3``, ``1E5`` and ``-2.5e-4`` as numbers: YAML 1.1 wants a dot in a float, YAML 1.2 does not."""


ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


MAX_CONFIG_VALUES = 1_000_000
"""A config's values with every YAML alias written out: nested aliases ("billion laughs") grow
exponentially and would exhaust memory once the config is copied or stored."""
MAX_CONFIG_DEPTH = 100
"""The deepest nesting of lists and mappings in a config (pydantic and json stop near 250 levels)."""


def load_yaml(text: str, what: str) -> Any:
    """``text`` parsed as safe YAML with ``ConfigLoader``; a syntax error, a tag such as
    ``!!python/name:``, an alias bomb or a structure inside itself is a one-line ConfigError naming ``what``."""
    try:
        data = yaml.load(text, Loader=ConfigLoader)  # noqa: S506 (a SafeLoader subclass)
        size, height = _expanded_size(data, {})
    except RecursionError:  # from the YAML composer, or a list or mapping that holds itself
        height = MAX_CONFIG_DEPTH + 1
    except yaml.YAMLError as exc:
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        mark = getattr(exc, "problem_mark", None)
        where = "" if mark is None else f" (line {mark.line + 1}, column {mark.column + 1})"
        raise ConfigError(f"{what} is not valid YAML: {problem}{where}") from None
    if height > MAX_CONFIG_DEPTH:
        raise ConfigError(
            f"{what} nests deeper than {MAX_CONFIG_DEPTH} levels or holds itself (an alias in its anchor)"
        )
    if size > MAX_CONFIG_VALUES:
        raise ConfigError(f"{what} expands to more than {MAX_CONFIG_VALUES:,} values (aliases of aliases?)")
    return data


def _expanded_size(value: Any, known: dict[int, tuple[int, int]]) -> tuple[int, int]:
    """(values, nesting height) of ``value`` with shared (aliased) parts counted each time they appear;
    ``known`` remembers each container's pair, so the count stays linear in the document."""
    if not isinstance(value, dict | list):
        return 1, 0
    if id(value) not in known:
        children = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        pairs = [_expanded_size(child, known) for child in children]
        known[id(value)] = (1 + sum(n for n, _ in pairs), 1 + max((h for _, h in pairs), default=0))
    return known[id(value)]


def parse_setting(item: str) -> tuple[str, Any]:
    """``--set key=value``: the dotted key and the value read as YAML (``1e-3`` a number, ``[1, 2]`` a
    list, ``abc`` a string)."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part.strip() for part in key.split(".")):
        raise ConfigError(
            f"--set expects key=value with a dotted key such as strategy.params.lr, got {item!r}"
        )
    return key, load_yaml(raw, f"--set {key}={raw}")


def _finite(value: Any) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


class Component(BaseModel):
    """A named space, strategy, evaluator or reward with its options."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_params(self) -> Component:
        for key, value in self.params.items():
            if not isinstance(key, str) or not key:
                raise ValueError(f"{self.name} option names must be words, got {key!r}")
            if not _finite(value):
                raise ValueError(f"{self.name} option {key} must be a finite number, got {value}")
        return self


def _default_space() -> Component:
    # Zoph & Le's value sets; 4 layers keep the built-in digits demo within minutes on 2 cores
    return Component(name="nasrl_cnn", params={"num_layers": 4})


def _default_strategy() -> Component:
    # m = 4 architectures per controller update; lr above the paper's 0.0006 because the demo is short
    return Component(name="reinforce", params={"batch_size": 4, "lr": 0.005})


def _default_evaluator() -> Component:
    return Component(name="training", params={"dataset": "digits", "epochs": 6, "batch_size": 64})


def _default_reward() -> Component:
    # Zoph & Le: max validation accuracy of the last 5 epochs, cubed
    return Component(name="acc_cubed", params={"metric": "val_acc", "window": 5, "power": 3})


# What a space is searched with unless the user says otherwise: choosing the space brings these along.
def space_companions(name: str) -> dict[str, Any]:
    """The config sections that go with the space ``name`` when it is chosen (its evaluator, clock,
    reward...): the ``companions`` of its class (``archsearch.spaces.hooks``), read without building the
    space; ``{}`` for a space with none or a name that does not resolve (building the study says why).
    A copy, free to change."""
    from archsearch.registry import resolve
    from archsearch.spaces.hooks import companions_of

    try:
        space = resolve("space", name)
    except ConfigError:
        return {}
    return companions_of(space)


class StudyConfig(BaseModel):
    """Everything a study needs; the built-in default is a NAS-RL search on digits."""

    model_config = ConfigDict(extra="forbid")
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    n_trials: int = Field(default=24, ge=1)
    max_time_s: float | None = Field(default=None, gt=0)
    clock: Literal["wall", "cost"] = Field(
        default="wall", description="what max_time_s counts: wall seconds, or the summed cost_s of results"
    )
    executor: Literal["inline", "pool", "ray"] = "pool"
    workers: int | None = Field(
        default=None,
        ge=1,
        le=MAX_WORKERS,
        description="pool size, or CPUs of a local Ray; default: all cores",
    )
    ray_address: str | None = Field(
        default=None, description='Ray cluster to join ("auto" or "host:port"); default: start a local Ray'
    )
    max_retries: int = Field(
        default=2, ge=0, description="resubmissions of a trial whose worker died (not of a failing child)"
    )
    max_concurrent: int | None = Field(default=None, ge=1, description="trials in flight; default: workers")
    ordered: bool = Field(
        default=True, description="tell results in ask order, so a seed fixes the trajectory"
    )
    checkpoint_every: int = Field(default=1, ge=1)
    keep_weights: int = Field(
        default=3,
        ge=0,
        description="trained weights kept in the study database: those of the best k trials (0 keeps none)",
    )
    space: Component = Field(default_factory=_default_space)
    strategy: Component = Field(default_factory=_default_strategy)
    evaluator: Component = Field(default_factory=_default_evaluator)
    reward: Component = Field(default_factory=_default_reward)
    pruner: Component | None = Field(
        default=None,
        description="stops bad children early: median, successive_halving, asha or hyperband (archsearch.pruners)",
    )
    objectives: list[Objective] = Field(
        default_factory=list,
        description='metrics to optimise jointly, e.g. ["val_acc:max", "latency_ms:min"] (multi-objective search)',
    )
    constraints: list[Constraint] = Field(
        default_factory=list, description='bounds on metrics, e.g. ["latency_ms <= 5"]'
    )

    @field_validator("pruner", mode="before")
    @classmethod
    def _pruner_by_name(cls, pruner: Any) -> Any:
        return {"name": pruner} if isinstance(pruner, str) else pruner  # pruner="asha", as strategy="random"

    @field_validator("ray_address")
    @classmethod
    def _check_ray_address(cls, address: str | None) -> str | None:
        if address is None or address in ("auto", "local"):
            return address
        host, colon, port = address.removeprefix("ray://").rpartition(":")
        if not (colon and host.strip() and port.isdigit() and 0 < int(port) < 65536):
            raise ValueError(f'must be "auto", "local" or HOST:PORT (ray://HOST:PORT), got {address!r}')
        return address


# The flag of `archsearch search` that sets each top-level option, so an error names what the user typed.
SEARCH_FLAGS = {
    "seed": "--seed",
    "n_trials": "--trials",
    "max_time_s": "--max-time",
    "executor": "--executor",
    "workers": "--workers",
    "ray_address": "--ray-address",
    "max_concurrent": "--max-concurrent",
}


def option_name(loc: tuple[int | str, ...], flags: dict[str, str]) -> str:
    """A pydantic error location as the user knows it: ``n_trials (--trials)``, ``strategy.params``."""
    where = ".".join(str(p) for p in loc)
    flag = flags.get(where)
    return f"{where} ({flag})" if flag else where


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = option_name(err["loc"], SEARCH_FLAGS) or "config"
    return f"{where}: {str(err['msg']).removeprefix('Value error, ')}"


def parse_config(data: dict[str, Any]) -> StudyConfig:
    try:
        return StudyConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"bad config value: {_first_error(exc)}") from None


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The mapping of options in the YAML file ``path`` (empty for an empty file); a missing, unreadable,
    binary or malformed file is a one-line ConfigError."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    if not path.is_file():
        raise ConfigError(f"config file {path} is not a file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text (is it a YAML file?)") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    data = load_yaml(text, f"config file {path}")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of options, not a {type(data).__name__}")
    return data


def load_config(path: str | Path) -> StudyConfig:
    return parse_config(read_config_file(path))

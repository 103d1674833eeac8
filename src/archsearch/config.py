"""Pydantic models that describe a study completely; one YAML file or a set of flags makes one."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from archsearch.errors import ConfigError
from archsearch.objectives import Constraint, Objective


class Component(BaseModel):
    """A named space, strategy, evaluator or reward with its options."""

    model_config = ConfigDict(extra="forbid")
    name: str
    params: dict[str, Any] = Field(default_factory=dict)


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
SPACE_COMPANIONS: dict[str, dict[str, Any]] = {
    # NAS-Bench-201 is looked up in its table on a simulated clock; 12,000 s is the NB201 paper's budget
    "nb201": {
        "evaluator": {"name": "tabular", "params": {}},
        "clock": "cost",
        "max_time_s": 12_000.0,
        "n_trials": 1_000,
        "executor": "inline",
    },
    # recurrent cells train language models; Zoph & Le's reward c / ppl^2
    "rnn_cell": {
        "evaluator": {"name": "language_model", "params": {}},
        "reward": {"name": "ppl_inverse_square", "params": {}},
    },
}


class StudyConfig(BaseModel):
    """Everything a study needs; the built-in default is a NAS-RL search on digits."""

    model_config = ConfigDict(extra="forbid")
    seed: int = 0
    n_trials: int = Field(default=24, ge=1)
    max_time_s: float | None = Field(default=None, gt=0)
    clock: Literal["wall", "cost"] = Field(
        default="wall", description="what max_time_s counts: wall seconds, or the summed cost_s of results"
    )
    executor: Literal["inline", "pool", "ray"] = "pool"
    workers: int | None = Field(
        default=None, ge=1, description="pool size, or CPUs of a local Ray; default: all cores"
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
    space: Component = Field(default_factory=_default_space)
    strategy: Component = Field(default_factory=_default_strategy)
    evaluator: Component = Field(default_factory=_default_evaluator)
    reward: Component = Field(default_factory=_default_reward)
    objectives: list[Objective] = Field(
        default_factory=list,
        description='metrics to optimise jointly, e.g. ["val_acc:max", "latency_ms:min"] (multi-objective search)',
    )
    constraints: list[Constraint] = Field(
        default_factory=list, description='bounds on metrics, e.g. ["latency_ms <= 5"]'
    )


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "config"
    return f"{where}: {err['msg']}"


def parse_config(data: dict[str, Any]) -> StudyConfig:
    try:
        return StudyConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"bad config value: {_first_error(exc)}") from None


def load_config(path: str | Path) -> StudyConfig:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of options")
    return parse_config(data)

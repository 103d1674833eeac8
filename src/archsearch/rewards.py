"""Reward shaping: small pure functions from a Result to the scalar a strategy maximises."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from archsearch.errors import ConfigError
from archsearch.evaluators.base import Result


def best_recent(result: Result, metric: str, window: int, best: Callable[[Sequence[float]], float]) -> float:
    """``best`` (max or min) of the last ``window`` per-epoch values of ``metric``; the scalar metric
    when ``window`` is 0 or the result has no curve for it."""
    series = result.curve.get(metric) if window > 0 else None
    if series:
        return float(best(series[-window:]))
    if metric in result.metrics:
        return float(result.metrics[metric])
    raise ConfigError(f"reward metric {metric!r} is not in the result ({sorted(result.metrics)})")


@dataclass(frozen=True)
class WindowMaxPower:
    """R = (max of the last ``window`` values of the per-epoch ``metric``) ** ``power``.

    Zoph & Le 2017, section 4.1: the reward is the maximum validation accuracy of the last 5 epochs,
    cubed. A result without a curve falls back to the scalar metric. Failed trials get ``failed_reward``.
    """

    metric: str = "val_acc"
    window: int = 5
    power: float = 3.0
    failed_reward: float = 0.0

    def __call__(self, result: Result) -> float:
        if not result.ok:
            return self.failed_reward
        return best_recent(result, self.metric, self.window, max) ** self.power


@dataclass(frozen=True)
class InverseSquarePerplexity:
    """R = c / (validation perplexity)^2 with c = 80 (Zoph & Le 2017, section 4.2, Penn Treebank).

    By default (``window`` 0) the scalar ``val_ppl``, the best epoch's validation perplexity, counts; with
    ``window`` k > 0 the lowest perplexity of the last k epochs. Failed trials get ``failed_reward``.
    """

    metric: str = "val_ppl"
    c: float = 80.0
    window: int = 0
    failed_reward: float = 0.0

    def __call__(self, result: Result) -> float:
        if not result.ok:
            return self.failed_reward
        return self.c / best_recent(result, self.metric, self.window, min) ** 2


REWARDS: dict[str, type] = {"acc_cubed": WindowMaxPower, "ppl_inverse_square": InverseSquarePerplexity}


def make_reward(name: str, **kwargs: float | str | int) -> WindowMaxPower | InverseSquarePerplexity:
    """The reward function called ``name`` in a config."""
    if name not in REWARDS:
        raise ConfigError(f"unknown reward {name!r}; known: {', '.join(REWARDS)}")
    try:
        return REWARDS[name](**kwargs)  # type: ignore[no-any-return]
    except TypeError as exc:
        raise ConfigError(f"bad options for reward {name!r}: {exc}") from None

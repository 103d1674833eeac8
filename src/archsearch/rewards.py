"""Reward shaping: small pure functions from a Result to the scalar a strategy maximises.

A pruned result (stopped early by the study's pruner) is not a failure: its reward is the reward of what
it reached (its curve and its metrics, which hold the last reported value of each series). Only a failed
or timed-out result, or a pruned one stopped before it reported the metric, gets ``failed_reward``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from archsearch.core import Result
from archsearch.errors import ConfigError
from archsearch.objectives import default_direction


def scorable(result: Result, *metrics: str) -> bool:
    """Whether ``result`` has a reward: not failed or timed out (``Result.failed``), and when pruned,
    stopped after it reported each of ``metrics`` (a child stopped before its first report reached
    nothing to score, and the reward must not stop the study for want of a metric)."""
    if result.failed:
        return False
    if result.status == "pruned":
        return all(m in result.metrics or result.curve.get(m) for m in metrics)
    return True


def best_recent(result: Result, metric: str, window: int, best: Callable[[Sequence[float]], float]) -> float:
    """``best`` (max or min) of the last ``window`` per-epoch values of ``metric``; the scalar metric
    when ``window`` is 0 or the result has no curve for it."""
    series = result.curve.get(metric) if window > 0 else None
    if series:
        return float(best(series[-window:]))
    if metric in result.metrics:
        return float(result.metrics[metric])
    reported = ", ".join(sorted(result.metrics)) or "nothing"
    raise ConfigError(
        f"the reward's metric {metric!r} is not among the metrics the evaluation reported ({reported}); "
        f"name one: metric=... in archsearch.search, --reward metric --set reward.params.metric=..., "
        f"or reward: {{name: metric, params: {{metric: ...}}}} in YAML"
    )


@dataclass(frozen=True)
class WindowMaxPower:
    """R = (max of the last ``window`` values of the per-epoch ``metric``) ** ``power``.

    Zoph & Le 2017, section 4.1: the reward is the maximum validation accuracy of the last 5 epochs,
    cubed. A result without a curve falls back to the scalar metric. Failed trials get ``failed_reward``; a pruned one the reward of the
    epochs it reached.
    """

    metric: str = "val_acc"
    window: int = 5
    power: float = 3.0
    failed_reward: float = 0.0

    def __call__(self, result: Result) -> float:
        if not scorable(result, self.metric):
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
        if not scorable(result, self.metric):
            return self.failed_reward
        return self.c / best_recent(result, self.metric, self.window, min) ** 2


def mnasnet_reward(accuracy: float, latency: float, target: float, alpha: float, beta: float) -> float:
    """ACC * (LAT / T) ** w with w = alpha if LAT <= T else beta (Tan et al., MnasNet, CVPR 2019, eq. 2)."""
    exponent = alpha if latency <= target else beta
    return accuracy * (latency / target) ** exponent


@dataclass(frozen=True)
class MnasNetReward:
    """R = ACC(m) * (LAT(m) / T) ** w, w = ``alpha`` if LAT <= T else ``beta`` (MnasNet, SPEC.md 6.1).

    The soft constraint of the paper: alpha = beta = -0.07 (doubling the latency costs about 5% of
    relative accuracy, 2 ** -0.07 = 0.953). ``target`` is T in the unit of ``latency_metric`` (the paper's
    75 ms on a Pixel 1; choose one fitting the device). ACC is the scalar ``metric`` (or the best of the
    last ``window`` epochs). Failed trials get ``failed_reward``.
    """

    metric: str = "val_acc"
    latency_metric: str = "latency_ms"
    target: float = 75.0
    alpha: float = -0.07
    beta: float = -0.07
    window: int = 0
    failed_reward: float = 0.0

    def __post_init__(self) -> None:
        if not self.target > 0:
            raise ConfigError(f"the MnasNet latency target must be positive, got {self.target!r}")

    def __call__(self, result: Result) -> float:
        if not scorable(result, self.metric, self.latency_metric):
            return self.failed_reward
        accuracy = best_recent(result, self.metric, self.window, max)
        latency = best_recent(result, self.latency_metric, 0, min)
        return mnasnet_reward(accuracy, latency, self.target, self.alpha, self.beta)


@dataclass(frozen=True)
class MnasNetHardReward(MnasNetReward):
    """The MnasNet reward with the paper's hard constraint: alpha = 0, beta = -1 (no gain from being
    faster than T, a steep penalty above it)."""

    alpha: float = 0.0
    beta: float = -1.0


METRIC_MODES = ("max", "min")
# What a failed trial scores under MetricReward unless the user says otherwise (see its docstring).
METRIC_FAILED_REWARD = -1e6


@dataclass(frozen=True)
class MetricReward:
    """R = ``metric`` (``mode`` "max") or -``metric`` (``mode`` "min"): a user's own metric, no reward code.

    ``mode`` "auto" (the default) minimises what reads as a cost or an error (``rmse``, ``mae``, ``loss``,
    ``latency``, ``params``, ...; ``objectives.default_direction``) and maximises anything else.

    ``metric`` names any scalar of the result (``value`` is what a FunctionEvaluator reports for an
    objective that returns a number; ``val_f1``, ``val_rmse``, ... from the supervised evaluators). With
    ``window`` k > 0 the best (highest for max, lowest for min) of the last k values of the per-epoch
    curve of ``metric`` counts instead. A failed or timed-out trial (or a nan metric) gets ``failed_reward``: by default
    -1e6, below any metric of magnitude under a million in either mode, and finite because rewards are
    stored, exported and averaged (the REINFORCE baselines; an infinity there would be nan forever).
    A pruned trial scores what it reached (the last values it reported), as the other rewards.
    Evolution, local search, ASNG, Optuna, NSGA-II and LEMONADE skip failed trials whatever their reward;
    REINFORCE, PPO and categorical REINFORCE learn from it, so with them pass a ``failed_reward`` near the
    worst plausible reward (e.g. 0 for an accuracy maximised, -10 for an RMSE around 1 minimised): a
    penalty a million times the metric's scale swamps their moving-average baseline for many trials.
    """

    metric: str = "value"
    mode: str = "auto"
    window: int = 0
    failed_reward: float = METRIC_FAILED_REWARD

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or not self.metric:
            raise ConfigError(f"the metric reward needs a metric name, got {self.metric!r}")
        if self.mode == "auto":  # as objectives: min for costs and errors (rmse, loss, latency, ...)
            object.__setattr__(self, "mode", default_direction(self.metric))
        if self.mode not in METRIC_MODES:
            raise ConfigError(f"the metric reward's mode must be auto, max or min, got {self.mode!r}")
        if isinstance(self.window, bool) or not isinstance(self.window, int) or self.window < 0:
            raise ConfigError(f"the metric reward's window must be an integer >= 0, got {self.window!r}")
        failed = self.failed_reward
        if isinstance(failed, bool) or not isinstance(failed, int | float) or not math.isfinite(failed):
            raise ConfigError(f"the metric reward's failed_reward must be a finite number, got {failed!r}")

    def __call__(self, result: Result) -> float:
        if not scorable(result, self.metric):
            return float(self.failed_reward)
        if self.mode == "max":
            reward = best_recent(result, self.metric, self.window, max)
        else:
            reward = -best_recent(result, self.metric, self.window, min)
        # A nan or infinite metric of a trial that otherwise succeeded ranks with the failed ones.
        return reward if math.isfinite(reward) else float(self.failed_reward)


REWARDS: dict[str, type] = {
    "metric": MetricReward,
    "acc_cubed": WindowMaxPower,
    "ppl_inverse_square": InverseSquarePerplexity,
    "mnasnet": MnasNetReward,
    "mnasnet_hard": MnasNetHardReward,
}


def make_reward(name: str, **kwargs: float | str | int) -> Callable[[Result], float]:
    """The reward function called ``name`` in a config."""
    if name not in REWARDS:
        raise ConfigError(f"unknown reward {name!r}; known: {', '.join(REWARDS)}")
    try:
        return REWARDS[name](**kwargs)  # type: ignore[no-any-return]
    except TypeError as exc:
        raise ConfigError(f"bad options for reward {name!r}: {exc}") from None

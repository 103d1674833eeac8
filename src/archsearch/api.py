"""The one-call Python API: ``archsearch.search(space, evaluator, ...)`` runs a study and returns it;
``archsearch.load(directory)`` opens one again."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from archsearch.config import parse_config
from archsearch.core import Strategy
from archsearch.errors import ConfigError
from archsearch.study import Study, best_trial

log = logging.getLogger(__name__)


def search(
    space: Any,
    evaluator: Any,
    strategy: Any = "evolution",
    trials: int = 50,
    out: str | Path = "runs/search",
    *,
    seed: int = 0,
    executor: str | None = None,
    workers: int | None = None,
    reward: Any = None,
    metric: str | None = None,
    mode: str = "auto",
    objectives: Sequence[str] | None = None,
    constraints: Sequence[str] | None = None,
    max_time_s: float | None = None,
    overwrite: bool = False,
    progress: bool = True,
    strategy_params: Mapping[str, Any] | None = None,
    **config: Any,
) -> Study:
    """Search ``space`` with ``strategy``, scoring each architecture with ``evaluator``; the finished study.

    The study is stored in ``out`` like one the command line makes, so ``archsearch status|best|report|
    export|resume OUT`` work on it; it is returned with its run lock released (read it with ``.best()``,
    ``.store.trials()``; continue it with ``.run()`` or ``archsearch resume OUT``).

    - ``space``: an ``archsearch.ModelSpace``, an ``nn.Module`` subclass or a function returning a module
      (made a ``ModelSpace``), a ``DictSpace`` or a plain dict of choices (``{"width": [32, 64]}``), any
      ``SearchSpace``, or a name (``nb201``, ``mypackage.spaces:MyNet``).
    - ``evaluator``: a function ``fn(child, seed)`` or ``fn(child, seed, report)`` returning a number or a
      dict of metrics (made a ``FunctionEvaluator``), an ``Evaluator`` object, or a name / dotted path.
      A ``ClassificationEvaluator`` / ``RegressionEvaluator`` may hold its data as objects (``train=(x,
      y)`` of numpy arrays or tensors, a torch Dataset or DataLoader): the study copies such data into
      ``OUT/data/<split>.npz`` (a Dataset or DataLoader is read through once), so that it resumes from
      the command line, also once ``OUT`` is moved, and each worker reads the data once from there.
    - ``strategy``: a name (``evolution``, ``random``, ``reinforce``, ``ppo``, ``asng``, ``local_search``,
      ``categorical_reinforce``, ``optuna``, ``nsga2``, ``lemonade``), a dotted path, a ``Strategy``
      subclass (both made with ``strategy_params``) or a ``Strategy`` object built on ``space``.
    - ``trials``: the number of architectures evaluated; ``max_time_s``: stop starting trials after this
      many seconds (None: no limit); ``out``: the study directory (``overwrite`` replaces a study there).
    - ``seed``: the seed of the whole search (same seed, same trajectory).
    - ``executor``: "inline" (trials one by one in this process), "pool" (``workers`` processes) or
      "ray"; default: "pool" when ``workers`` is more than 1, else "inline". With "pool" the user's
      functions and classes are imported by the workers: define them at the top level of a module or of a
      script guarded by ``if __name__ == "__main__":``.
    - ``reward``: what the strategy maximises, a name (``acc_cubed``, ``metric``, ...), a dotted path, or a
      function or object taking a ``Result``. ``metric``: instead of a reward, the name of a metric to
      maximise (``mode`` "max") or minimise ("min"), e.g. ``metric="val_f1"``; ``mode`` "auto" (default)
      minimises errors and costs (``val_rmse``, ``loss``, ``params``, ``latency_ms``) and maximises the rest. Default: the first of
      ``objectives``; else the reward that suits the evaluator (``registry.reward_for``): a function's
      number, the metric ``value`` (by ``mode``); ``val_acc`` for ``ClassificationEvaluator``,
      ``val_rmse`` minimised for ``RegressionEvaluator``; validation accuracy cubed for the built-in
      training evaluator.
    - ``objectives``: metrics optimised jointly, e.g. ``["val_acc:max", "params:min"]`` (multi-objective
      strategies: ``nsga2``, ``lemonade``, ``optuna``); ``constraints``: e.g. ``["params <= 1e6"]``.
    - ``progress``: draw the command line's progress display (on stderr).
    - ``**config``: any other ``StudyConfig`` field (``max_concurrent``, ``keep_weights``, ...).

    Every mistake in what is given is a one-line ``ConfigError`` before anything is created; objects that
    cannot be imported again (a lambda, a function defined inside a function) are refused for every
    executor, because the study must be resumable.
    """
    data: dict[str, Any] = {
        "seed": seed,
        "n_trials": trials,
        "executor": executor or ("pool" if workers is not None and workers > 1 else "inline"),
        "workers": workers,
        "max_time_s": max_time_s,
        "objectives": list(objectives or []),
        "constraints": list(constraints or []),
        **config,
    }
    objects: dict[str, Any] = {}
    for kind, given in (("space", space), ("evaluator", evaluator)):
        if isinstance(given, str):
            data[kind] = {"name": given, "params": {}}
        else:
            objects[kind] = given
    params = dict(strategy_params or {})
    if isinstance(strategy, str):
        data["strategy"] = {"name": strategy, "params": params}
    elif isinstance(strategy, Strategy):
        if params:
            raise ConfigError("strategy_params apply to a strategy name or class, not to a strategy object")
        objects["strategy"] = strategy
    else:
        if params:  # the class is made with these (Study.create: the config's options of that kind)
            data["strategy"] = {"name": "random", "params": params}
        objects["strategy"] = strategy
    chosen = _reward(reward, metric, mode, objectives, evaluator)
    if isinstance(chosen, dict):
        data["reward"] = chosen
    elif chosen is not None:
        objects["reward"] = chosen
    study = Study.create(parse_config(data), out, overwrite, **objects)
    try:
        run(study, progress)
    except BaseException:
        study.close()
        raise
    return study


def _reward(
    reward: Any, metric: str | None, mode: str, objectives: Sequence[str] | None, evaluator: Any
) -> dict[str, Any] | Any:
    """The reward component (a config dict) or object ``search`` uses; None keeps the config default."""
    if reward is not None:
        if metric is not None:
            raise ConfigError("give reward or metric, not both")
        return {"name": reward, "params": {}} if isinstance(reward, str) else reward
    if metric is not None:
        return {"name": "metric", "params": {"metric": metric, "mode": mode}}
    if objectives:
        goal = parse_config({"objectives": [objectives[0]]}).objectives[0]
        return {"name": "metric", "params": {"metric": goal.metric, "mode": goal.direction}}
    if inspect.isfunction(evaluator) or type(evaluator).__name__ == "FunctionEvaluator":
        return {"name": "metric", "params": {"metric": "value", "mode": mode}}
    return None


def run(study: Study, progress: bool = True) -> None:
    """Run (or continue) ``study`` in this process, drawing the progress display when ``progress``; the
    run lock is released afterwards (the study stays open for reading). Ctrl-C stops it resumably."""
    from archsearch.report.columns import leading_metrics
    from archsearch.report.progress import RichProgress

    try:
        if progress:
            trials = study.store.trials()
            best = best_trial(trials)
            done = sum(t.finished for t in trials)
            reward = None if best is None else best.reward
            with RichProgress(study.config.n_trials, done, reward, metrics=leading_metrics(study)) as bar:
                study.run([bar])
        else:
            study.run()
    except KeyboardInterrupt:
        log.warning("interrupted; continue with `archsearch resume %s`", study.directory)
        raise
    finally:
        if study.lock is not None:
            study.lock.release()
            study.lock = None


def load(directory: str | Path) -> Study:
    """The study in ``directory``, opened for reading (``.best()``, ``.store.trials()``); ``.run()``
    continues it (taking its run lock)."""
    return Study.load(directory)

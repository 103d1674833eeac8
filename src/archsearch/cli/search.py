"""``archsearch search``: a study's config from a file, flags and ``--set`` pairs, then the search."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from archsearch.cli.apps import app
from archsearch.cli.options import registered_names
from archsearch.errors import ConfigError

if TYPE_CHECKING:  # the config's models are imported when a search starts, not for --help
    from archsearch.config import StudyConfig


def _set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = data
    for key in keys[:-1]:
        child = node.get(key)
        if child is None:  # an optional section not set (the pruner): --set makes it
            child = node[key] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {dotted}: {key!r} is not a section")
        node = child
    node[keys[-1]] = value


def build_config(
    config_file: Path | None,
    overrides: dict[str, Any],
    settings: list[str],
) -> StudyConfig:
    """The study config: the built-in default or a file, then flags, then ``--set key=value`` pairs."""
    from archsearch.config import StudyConfig, load_config, parse_config, parse_setting, space_companions
    from archsearch.registry import resolve, reward_for

    base = load_config(config_file) if config_file else StudyConfig()
    data = base.model_dump(mode="json")
    pairs: list[tuple[str, Any]] = [(k, v) for k, v in overrides.items() if v is not None]
    pairs += [parse_setting(item) for item in settings]
    explicit = {dotted for dotted, _ in pairs}
    space = next((value for dotted, value in pairs if dotted == "space.name"), None)
    if isinstance(space, str) and space != data["space"]["name"]:
        for key, value in space_companions(space).items():
            if (f"{key}.name" if isinstance(value, dict) else key) not in explicit:
                data[key] = value
    evaluator = next((value for dotted, value in pairs if dotted == "evaluator.name"), None)
    reward_given = "reward.name" in explicit or bool(config_file and "reward" in base.model_fields_set)
    chosen = evaluator if evaluator is not None else data["evaluator"]["name"]
    if not reward_given and isinstance(chosen, str) and chosen.strip():
        # the reward that suits the evaluator's metrics (a user's function: its "value"), unless the config
        # or --set reward.name=... names one
        data["reward"] = reward_for(resolve("evaluator", chosen), chosen) or data["reward"]
    # Choosing another space, strategy, evaluator or reward starts from its own defaults, not the old params.
    for dotted, value in pairs:
        section, _, field = dotted.partition(".")
        if field == "name" and isinstance(data.get(section), dict) and data[section].get("name") != value:
            data[section] = {"name": value, "params": {}}
    for dotted, value in pairs:
        _set_path(data, dotted, value)
    return parse_config(data)


@app.command()
def search(
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML file describing the study."),
    out_dir: Path = typer.Option(Path("runs/search"), "--out", "-o", help="Study directory."),
    overwrite: bool = typer.Option(False, help="Replace a study already in --out."),
    space: str | None = typer.Option(
        None,
        help=f"Search space: {registered_names('space')}, or your own as module:Name or file.py:Name "
        "(a SearchSpace, an nn.Module class or a dict of choices).",
    ),
    strategy: str | None = typer.Option(
        None,
        help=f"{registered_names('strategy')}, or module:Class (default reinforce).",
    ),
    evaluator: str | None = typer.Option(
        None,
        help=f"{registered_names('evaluator')} (default training), or your own as module:function "
        "(fn(child, seed) returning a number or a dict of metrics) or module:EvaluatorClass.",
    ),
    reward: str | None = typer.Option(
        None,
        help=f"What the strategy maximises: {registered_names('reward')}, or your own as module:function "
        "(of a Result); metric: --set reward.params.metric=f1, .mode=min; default: the evaluator's "
        "(acc_cubed for training, the metric value for a function).",
    ),
    pruner: str | None = typer.Option(
        None,
        help="Stop bad children early: median, successive_halving, asha or hyperband (options: --set "
        "pruner.params.reduction_factor=3; bohb brings hyperband).",
    ),
    metric: str | None = typer.Option(
        None,
        help="Maximise (or minimise) this metric of the evaluation: METRIC[:max|min], e.g. val_f1 or "
        "val_rmse:min (the metric reward; without a direction, errors and costs are minimised).",
    ),
    dataset: str | None = typer.Option(None, help="digits (built in), mnist, fashion-mnist, cifar10."),
    data_dir: Path | None = typer.Option(None, help="Directory holding the data set's files."),
    trials: int | None = typer.Option(None, help="Number of child networks to evaluate."),
    epochs: int | None = typer.Option(None, help="Training epochs per child network."),
    seed: int | None = typer.Option(None, help="Seed of the whole search."),
    executor: str | None = typer.Option(None, help="inline, pool or ray."),
    workers: int | None = typer.Option(None, help="Worker processes of the pool (default: all cores)."),
    ray_address: str | None = typer.Option(
        None, help="Ray cluster to join: auto or host:port (default: start a local Ray)."
    ),
    max_concurrent: int | None = typer.Option(None, help="Trials in flight at once (default: workers)."),
    device: str | None = typer.Option(
        None,
        help="auto, cpu or cuda; with --space nb201 a latency device such as pixel3 (reported as latency_ms).",
    ),
    timeout: float | None = typer.Option(None, help="Per-trial time limit in seconds."),
    max_time: float | None = typer.Option(None, help="Stop starting trials after this many seconds."),
    set_: list[str] = typer.Option([], "--set", help="Any config value, e.g. --set strategy.params.lr=0.01"),
    quiet: bool = typer.Option(False, help="No progress display."),
) -> None:
    """Start a search; the built-in default is NAS-RL (LSTM controller + REINFORCE) on digits."""
    metric_reward = _metric_reward(metric, reward)
    cfg = build_config(
        config,
        {
            "space.name": space,
            "strategy.name": strategy,
            "evaluator.name": evaluator,
            "reward.name": reward,
            "pruner.name": pruner,
            **metric_reward,
            "evaluator.params.dataset": dataset,
            "evaluator.params.data_dir": None if data_dir is None else str(data_dir),
            "evaluator.params.epochs": epochs,
            "evaluator.params.device": device,
            "evaluator.params.timeout_s": timeout,
            "n_trials": trials,
            "seed": seed,
            "executor": executor,
            "workers": workers,
            "ray_address": ray_address,
            "max_concurrent": max_concurrent,
            "max_time_s": max_time,
        },
        set_,
    )
    from archsearch.cli.runs import run_study  # imported here: runs.py's commands are listed after search
    from archsearch.study import Study

    study = Study.create(cfg, out_dir, overwrite=overwrite)
    run_study(study, quiet)


def _metric_reward(metric: str | None, reward: str | None) -> dict[str, Any]:
    """The config settings of ``--metric METRIC[:max|min]``: the metric reward on that metric."""
    if metric is None:
        return {}
    name, _, direction = metric.strip().partition(":")
    name, direction = name.strip(), direction.strip()
    if not name or direction not in ("", "max", "min"):
        raise ConfigError(f"--metric expects METRIC or METRIC:max or METRIC:min, got {metric!r}")
    if reward not in (None, "metric"):
        raise ConfigError(f"--metric chooses the metric reward; drop --reward {reward} or --metric")
    return {"reward.name": "metric", "reward.params.metric": name, "reward.params.mode": direction or "auto"}

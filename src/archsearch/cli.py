"""The archsearch command line: search, resume, status, best, report, export."""

from __future__ import annotations

import copy
import importlib
import json
import logging
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from archsearch.config import SPACE_COMPANIONS, StudyConfig, load_config, parse_config, parse_setting
from archsearch.core import TrialRecord
from archsearch.errors import ArchsearchError, ConfigError
from archsearch.registry import resolve, reward_for
from archsearch.study import Study, best_trial

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Neural architecture search: NAS-RL, evolution, one-shot methods and AutoML-Zero.",
)
# markup=False: paths, names and messages are the user's text and print literally ("runs[/old]" is a path)
out = Console(soft_wrap=True, markup=False)
err = Console(stderr=True, soft_wrap=True, markup=False)


def _set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = data
    for key in keys[:-1]:
        child = node.setdefault(key, {})
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
    base = load_config(config_file) if config_file else StudyConfig()
    data = base.model_dump(mode="json")
    pairs: list[tuple[str, Any]] = [(k, v) for k, v in overrides.items() if v is not None]
    pairs += [parse_setting(item) for item in settings]
    explicit = {dotted for dotted, _ in pairs}
    space = next((value for dotted, value in pairs if dotted == "space.name"), None)
    if isinstance(space, str) and space != data["space"]["name"]:
        for key, value in SPACE_COMPANIONS.get(space.replace("-", "_"), {}).items():
            if (f"{key}.name" if isinstance(value, dict) else key) not in explicit:
                data[key] = copy.deepcopy(value)
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
        help="Search space: nasrl_cnn, nb201, rnn-cell, nasnet-cell, darts-cell, or your own as "
        "module:Name or file.py:Name (a SearchSpace, an nn.Module class or a dict of choices).",
    ),
    strategy: str | None = typer.Option(
        None,
        help="reinforce, random, evolution, ppo, asng, local_search, categorical_reinforce, optuna, nsga2, "
        "lemonade, or module:Class.",
    ),
    evaluator: str | None = typer.Option(
        None,
        help="training (default), tabular, language_model, latency, or your own as module:function "
        "(fn(child, seed) returning a number or a dict of metrics) or module:EvaluatorClass.",
    ),
    reward: str | None = typer.Option(
        None,
        help="What the strategy maximises: acc_cubed, metric (--set reward.params.metric=f1, .mode=min), "
        "ppl_inverse_square, mnasnet, or your own as module:function (of a Result); default: the "
        "evaluator's (acc_cubed for training, the metric value for a function).",
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
    study = Study.create(cfg, out_dir, overwrite=overwrite)
    _run(study, quiet)


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


@app.command()
def resume(
    directory: Path = typer.Argument(..., help="Study directory."),
    trials: int | None = typer.Option(None, help="Raise the total number of trials."),
    quiet: bool = typer.Option(False, help="No progress display."),
) -> None:
    """Continue an interrupted study (even one killed with kill -9) where it stopped."""
    from archsearch.oneshot.run import is_oneshot_run

    if is_oneshot_run(directory):  # a one-shot run continues from its last finished epoch
        from archsearch.oneshot.cli import run_with_progress
        from archsearch.oneshot.run import OneShotRun

        if trials is not None:
            raise ConfigError(f"{directory} is a one-shot run: it has epochs, not trials; drop --trials")
        run_with_progress(OneShotRun.load(directory, lock=True), quiet)
        return
    study = Study.load(directory, lock=True)
    if trials is not None:
        if trials < study.store.count():
            raise ConfigError(f"--trials {trials} is below the {study.store.count()} trials already started")
        study.config = study.config.model_copy(update={"n_trials": trials})
        study.store.set_meta("config", study.config.model_dump(mode="json"))
    _run(study, quiet)


def _run(study: Study, quiet: bool) -> None:
    """Run the study; Ctrl-C or SIGTERM stop it (workers killed, the store consistent) with one line
    saying how to resume and exit code 130 or 143."""
    from archsearch.interrupt import resumable_run
    from archsearch.report.columns import leading_metrics
    from archsearch.report.progress import RichProgress

    with resumable_run(err, f"archsearch resume {study.directory}"):
        try:
            done = sum(t.finished for t in study.store.trials())
            best = best_trial(study.store.trials())
            if quiet:
                study.run()
            else:
                reward = None if best is None else best.reward
                metrics = leading_metrics(study)  # each trial's line shows the reward's and objectives' first
                with RichProgress(study.config.n_trials, done, reward, metrics=metrics) as progress:
                    study.run([progress])
            _print_best(study)
            err.print(f"next: archsearch report {study.directory}   |   archsearch export {study.directory}")
        finally:
            study.close()


BEST_METRICS = 10
"""The most metrics `status` and `best` print for the best trial (`best --json` prints all)."""


def _print_best(study: Study, record: TrialRecord | None = None) -> None:
    """The best trial (or ``record``) as a table: trial, architecture, reward and the study's metrics."""
    from archsearch.report.columns import format_metric, leading_metrics, metric_columns

    best = record if record is not None else study.best()
    if best is None:
        out.print("no successful trial yet")
        return
    table = Table(title=f"best of {study.store.count()} trials", show_header=False)
    table.add_column("key", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_row("trial", str(best.number))
    table.add_row("architecture", best.arch_str)
    table.add_row("reward", format_metric("reward", best.reward))
    # The study's own metrics: the reward's and the objectives' first (report/columns.py).
    for key in metric_columns([best.metrics], leading_metrics(study), limit=BEST_METRICS):
        table.add_row(key, format_metric(key, best.metrics[key]))
    out.print(table)


@app.command()
def status(directory: Path = typer.Argument(..., help="Study directory.")) -> None:
    """Trials finished, failed and running, and the best so far."""
    from archsearch.oneshot.run import is_oneshot_run

    if is_oneshot_run(directory):
        from archsearch.oneshot.cli import print_status

        print_status(directory)
        return
    study = Study.load(directory, read_only=True)
    try:
        trials = study.store.trials()
        counts: dict[str, int] = {}
        for t in trials:
            counts[t.status] = counts.get(t.status, 0) + 1
        out.print(
            f"{directory}: {len(trials)}/{study.config.n_trials} trials started; "
            + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        )
        if len(study.config.objectives) >= 2:
            from archsearch.cli_multiobjective import front_summary

            out.print(front_summary(trials, study.config.objectives, study.config.constraints))
        _print_best(study)
    finally:
        study.close()


@app.command()
def best(
    directory: Path = typer.Argument(..., help="Study directory."),
    as_json: bool = typer.Option(False, "--json", help="Print the best trial as JSON."),
    objective: str | None = typer.Option(
        None, help="Pick by this metric, METRIC[:min|max], e.g. val_acc (default: the reward)."
    ),
    max_latency: float | None = typer.Option(None, help="Only trials whose latency_ms is at most this."),
    constraint: list[str] = typer.Option(
        [], "--constraint", help='Only trials meeting this, e.g. "params <= 1e6" (repeatable).'
    ),
) -> None:
    """The best architecture found so far, or the best by --objective among trials meeting constraints
    (the study's own constraints, --max-latency and --constraint): a pick off the Pareto front."""
    from archsearch.front import pick
    from archsearch.objectives import parse_constraints, parse_objectives

    study = Study.load(directory, read_only=True)
    try:
        latency = [] if max_latency is None else [f"latency_ms <= {max_latency!r}"]
        constraints = parse_constraints([*study.config.constraints, *constraint, *latency])
        goal = None if objective is None else parse_objectives([objective])[0]
        picked = goal is not None or bool(constraints)
        record = pick(study.store.trials(), goal, constraints) if picked else study.best()
        if as_json:
            if record is None:
                raise ConfigError(f"{directory} has no successful trial yet")
            payload = {
                "number": record.number,
                "architecture": record.arch_str,
                "values": record.arch.to_dict()["values"],
                "reward": record.reward,
                "metrics": record.metrics,
            }
            out.print_json(json.dumps(payload))
        else:
            _print_best(study, record)
    finally:
        study.close()


@app.command()
def report(
    directory: Path = typer.Argument(..., help="Study directory."),
    out_dir: Path | None = typer.Option(None, "--out", "-o", help="Where to write (default DIR/report)."),
) -> None:
    """Write an HTML report with plots: rewards, best so far, choices over time, the best architecture."""
    from archsearch.report.html import write_report

    if out_dir is not None:
        check_output_dir(out_dir)
    index = write_report(directory, out_dir)
    out.print(f"report: {index}")


@app.command()
def export(
    directory: Path = typer.Argument(..., help="Study directory."),
    out_dir: Path | None = typer.Option(None, "--out", "-o", help="Where to write (default DIR/export)."),
    trial: int | None = typer.Option(None, help="Export this trial instead of the best."),
) -> None:
    """Write the best architecture as JSON, as a PyTorch module file and its trained weights (weights.pt,
    kept for the best trials of the study)."""
    from archsearch.oneshot.run import is_oneshot_run
    from archsearch.report.export import write_trial_export

    if out_dir is not None:
        check_output_dir(out_dir)
    if is_oneshot_run(directory):  # a one-shot run exports the cell it derived
        from archsearch.oneshot.cli import export_run

        if trial is not None:
            raise ConfigError(f"{directory} is a one-shot run: it has epochs, not trials; drop --trial")
        export_run(directory, out_dir)
        return
    study = Study.load(directory, read_only=True)
    try:
        done = write_trial_export(study, trial, out_dir)
        written = ", ".join(done.files) + (" (the trained weights)" if done.weights else "")
        out.print(
            f"exported trial {done.trial.number} ({done.trial.arch_str}) to {done.directory}: {written}"
        )
        for missing, why in (("model.py", done.no_model), ("weights.pt", done.no_weights)):
            if why is not None:
                out.print(f"no {missing}: {why}")
    finally:
        study.close()


def check_output_dir(path: Path, flag: str = "--out") -> None:
    """Refuse an output directory that is a file or lies under one, before any work is done."""
    for place in (path, *path.parents):
        if place.exists():
            if not place.is_dir():
                where = "is a file, not a directory" if place == path else f"lies under the file {place}"
                raise ConfigError(f"{flag} {path} {where}; choose another {flag}")
            return


bench_app = typer.Typer(no_args_is_help=True, help="Many seeded searches on tabular benchmarks.")
app.add_typer(bench_app, name="bench")

DEFAULT_BENCH_STRATEGIES = "random,evolution,reinforce,categorical_reinforce,ppo,asng,local_search"


def _split_names(text: str, flag: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ConfigError(f"{flag} needs at least one name")
    return names


@bench_app.command("nb201")
def bench_nb201(
    datasets: str = typer.Option(
        "cifar10,cifar100,imagenet16", help="Comma-separated: cifar10, cifar100, imagenet16."
    ),
    strategies: str = typer.Option(DEFAULT_BENCH_STRATEGIES, help="Comma-separated strategy names."),
    runs: int = typer.Option(10, help="Independent searches per strategy and dataset."),
    protocol: str = typer.Option(
        "nb201",
        help="nb201: search CIFAR-10 12,000 s, report on every data set; nats: search each, 20k/40k/120k s.",
    ),
    budget: float | None = typer.Option(None, help="Simulated seconds per search instead of the protocol's."),
    seed: int = typer.Option(0, help="Seed of the first run; run r uses seed + r."),
    workers: int | None = typer.Option(None, help="Processes (default: all cores)."),
    out_dir: Path = typer.Option(Path("runs/bench-nb201"), "--out", "-o", help="Where to write results."),
) -> None:
    """NAS-Bench-201 searches with the published protocol: a table like the paper's Table 5 and anytime curves."""
    from rich.progress import Progress

    from archsearch.bench.nb201 import optimum_row, plot_regret, run_benchmark, summarize, write_results

    names, sets = _split_names(strategies, "--strategies"), _split_names(datasets, "--datasets")
    check_output_dir(out_dir)
    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("searches", total=None)
        traces = run_benchmark(
            names,
            sets,
            runs,
            protocol,
            budget,
            seed,
            workers,
            lambda done, total: bar.update(task, completed=done, total=total),
        )
    rows = summarize(traces, sets)
    budgets = ", ".join(sorted({f"{t.dataset} {t.budget_s:,.0f} s" for t in traces}))
    table = Table(title=f"NAS-Bench-201, protocol {protocol}: {runs} searches per strategy ({budgets})")
    for column in ("dataset", "strategy", "validation (%)", "test (%)", "queries", "ms / search"):
        table.add_column(column, justify="left" if column in ("dataset", "strategy") else "right")
    for dataset in sets:
        for row in (r for r in rows if r.dataset == dataset):
            table.add_row(
                dataset,
                row.strategy,
                f"{row.val_mean:.2f} ± {row.val_std:.2f}",
                f"{row.test_mean:.2f} ± {row.test_std:.2f}",
                f"{row.queries_mean:.0f}",
                f"{row.wall_ms_mean:.1f}",
            )
        best = optimum_row(dataset)
        table.add_row(
            dataset,
            Text("optimal", style="bold"),
            f"{best['val']:.2f}",
            f"{best['test']:.2f}",
            "",
            "",
            end_section=True,
        )
    out.print(table)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_results(traces, rows, out_dir)
    plot_regret(traces, sets, out_dir / "regret.png")
    out.print(f"wrote {out_dir}/summary.csv, {out_dir}/traces.json and {out_dir}/regret.png")


# Commands that live beside their feature (archsearch zero, oneshot, ...): each module named here defines
# register(app, bench_app) and adds its commands. One line per module.
FEATURE_COMMANDS: list[str] = [
    "archsearch.oneshot.cli",
    "archsearch.cli_multiobjective",
    "archsearch.zero.cli",
]
for _module in FEATURE_COMMANDS:
    importlib.import_module(_module).register(app, bench_app)


def _print_stopped(signum: int) -> None:
    """The one line of a command stopped by a signal before any run began (so there is nothing to resume)."""
    err.print(f"interrupted by {signal.Signals(signum).name}", style="yellow", markup=False, highlight=False)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one red line and exit code 2, never a traceback."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from archsearch.interrupt import stop_on_signals

    args = sys.argv[1:] if argv is None else list(argv)
    for before, arg in zip(["archsearch", *args], args, strict=False):
        if not arg.strip():  # Path("") is ".", so `--out ""` would quietly mean the current directory
            _print_error(f"an empty argument after {before}; give a value or leave the option out")
        if any("\udc80" <= c <= "\udcff" for c in arg):  # bytes that are not UTF-8 (surrogateescape)
            _print_error(f"the argument after {before} is not UTF-8 text ({arg!r}); use a UTF-8 name")
    command = typer.main.get_command(app)
    try:
        with stop_on_signals() as stop:  # SIGTERM unwinds like Ctrl-C: finally blocks run, exit code 143
            code = command.main(args=args, prog_name="archsearch", standalone_mode=False)
        if code == 130 and stop.signum is not None:  # typer reports any interrupt as 130
            if not stop.reported:  # one before a run began (creating it, loading data): nothing to resume
                _print_stopped(stop.signum)
            code = 128 + stop.signum
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:  # a stop signal before a run began (creating it, loading data): nothing to resume
        signum = stop.signum or signal.SIGINT
        _print_stopped(signum)
        sys.exit(128 + signum)
    except typer.TyperException as exc:  # usage errors: bad flags, bad values, missing arguments
        message = exc.format_message()
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `archsearch`: the help text
            err.print(message, highlight=False)
            sys.exit(0)
        _print_error(message)
    except ArchsearchError as exc:
        _print_error(str(exc))
    except (OSError, sqlite3.Error) as exc:  # the file system or a database refused: the user can fix it
        _print_error(describe_os_error(exc))
    except MemoryError as exc:  # sizes the user chose (examples, population, batch) need more memory
        _print_error(f"out of memory: {exc or 'an allocation failed'}; lower the sizes you chose")
    sys.exit(code if isinstance(code, int) else 0)


def describe_os_error(exc: OSError | sqlite3.Error) -> str:
    """One line for a refusal from the file system or SQLite: what failed and on which path."""
    if isinstance(exc, sqlite3.Error):
        return f"database error: {exc}"
    paths = " -> ".join(str(p) for p in (exc.filename, exc.filename2) if p is not None)
    if exc.strerror:
        return f"{exc.strerror} ({paths})" if paths else exc.strerror
    return f"{type(exc).__name__}: {exc}"


def _print_error(message: str) -> NoReturn:
    """``error: message`` in red, on one line, the message printed literally; exit code 2."""
    line = Text("error:", style="red")
    line.append(" " + " ".join(message.split()))
    err.print(line, highlight=False, soft_wrap=True)
    sys.exit(2)


if __name__ == "__main__":
    main()

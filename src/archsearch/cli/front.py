"""Multi-objective commands: `archsearch front DIR` and `archsearch bench nb201-mo` (registered through
cli.entry.FEATURE_COMMANDS)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from archsearch.core import TrialRecord
from archsearch.errors import ConfigError
from archsearch.objectives import Constraint, Objective

DEFAULT_STRATEGIES = "nsga2,lemonade,optuna_nsga2,evolution,random"


def objectives_hint(trials: list[TrialRecord], first: Sequence[str] = ()) -> str:
    """An ``--objectives`` value built from the metrics the trials report (``f1:max,params:min``), for
    messages that ask for objectives; ``first`` are metrics to name first (the reward's)."""
    from archsearch.objectives import default_direction
    from archsearch.report.columns import metric_columns

    names = metric_columns((t.metrics for t in trials if t.status == "ok"), first, limit=2)
    if len(names) < 2:
        names = ["val_acc", "latency_ms"]
    return ",".join(f"{name}:{default_direction(name)}" for name in names)


def front_summary(
    trials: list[TrialRecord], objectives: list[Objective], constraints: list[Constraint]
) -> str:
    """One line on a multi-objective study's Pareto front for `status`: its size, or why it has none (an
    objective or constraint metric the trials never report)."""
    from archsearch.front import front

    goals = ", ".join(map(str, objectives))
    try:
        members = front(trials, objectives, constraints)
    except ConfigError as exc:
        return f"Pareto front ({goals}): {exc}"
    bounds = f" under {', '.join(map(str, constraints))}" if constraints else ""
    return f"Pareto front ({goals}){bounds}: {len(members)} trials; list them with archsearch front"


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    from archsearch.cli.options import check_output_dir, err, out
    from archsearch.cli.options import split_names as _names

    @app.command("front")
    def front_command(
        directory: Path = typer.Argument(..., help="Study directory."),
        objectives: str | None = typer.Option(
            None, help="Comma-separated METRIC:min|max (default: the study's objectives)."
        ),
    ) -> None:
        """The Pareto front of a study: its trials that no other feasible trial beats in every objective."""
        from archsearch.front import front
        from archsearch.objectives import parse_objectives
        from archsearch.report.columns import format_metric
        from archsearch.runs import open_run
        from archsearch.runs.study import StudyRun
        from archsearch.store.rundir import kind_name

        with open_run(directory, read_only=True) as run:  # the database and config: no torch, no study built
            if not isinstance(run, StudyRun):
                raise ConfigError(
                    f"{directory} holds {kind_name(run.kind)}, not a study: a Pareto front is of trials"
                )
            config = run.config
            goals = parse_objectives(_names(objectives, "--objectives")) if objectives else config.objectives
            trials = run.trials()
            if len(goals) < 2:
                raise ConfigError(
                    f"{directory} declares fewer than two objectives; pass e.g. --objectives "
                    f"{objectives_hint(trials, run.leading_metrics())}"
                )
            members = front(trials, goals, config.constraints)
        constraints = ", ".join(map(str, config.constraints)) or "none"
        table = Table(
            title=f"Pareto front of {directory}: {len(members)} trials (constraints: {constraints})"
        )
        for column in ("trial", *(str(g) for g in goals), "architecture"):
            table.add_column(column, justify="left" if column == "architecture" else "right")
        for t in members:
            values = (format_metric(g.metric, t.metrics[g.metric]) for g in goals)
            table.add_row(str(t.number), *values, t.arch_str)
        out.print(table)
        if members:
            err.print(f"export one with: archsearch export {directory} --trial N")

    @bench_app.command("nb201-mo")
    def bench_nb201_mo(
        device: str = typer.Option(
            "pixel3", help="HELP latency device(s), comma-separated, e.g. pixel3,eyeriss,raspi4."
        ),
        strategies: str = typer.Option(
            DEFAULT_STRATEGIES,
            help="Comma-separated: nsga2, lemonade, optuna_nsga2, optuna_tpe, random, or any strategy "
            "(single-objective ones maximise the MnasNet reward).",
        ),
        runs: int = typer.Option(10, help="Independent searches per strategy and device."),
        budget: float = typer.Option(30_000.0, help="Simulated training seconds per search."),
        objectives: str = typer.Option(
            "val_acc:max,latency_ms:min", help="Comma-separated METRIC:min|max of the table."
        ),
        seed: int = typer.Option(0, help="Seed of the first run; run r uses seed + r."),
        workers: int | None = typer.Option(None, help="Processes (default: all cores)."),
        out_dir: Path = typer.Option(Path("runs/bench-nb201-mo"), "--out", "-o", help="Where to write."),
    ) -> None:
        """Accuracy vs device latency on NAS-Bench-201: hypervolume of each strategy's found front
        over the true Pareto front of the table, against simulated time."""
        from rich.progress import Progress

        from archsearch.bench.nb201_mo import plot_curves, run_benchmark, summarize, write_results

        names, devices = _names(strategies, "--strategies"), _names(device, "--device")
        goals = _names(objectives, "--objectives")
        check_output_dir(out_dir)
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task("searches", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            traces = run_benchmark(names, devices, runs, budget, seed, workers, goals, progress)
        rows = summarize(traces)
        table = Table(
            title=f"NB201 CIFAR-10 multi-objective ({', '.join(goals)}): {runs} searches per strategy, "
            f"{budget:,.0f} simulated s"
        )
        columns: dict[str, Any] = {
            "device": "left",
            "strategy": "left",
            "HV / true HV": "right",
            "queries": "right",
            "front size": "right",
            "ms / search": "right",
        }
        for column, justify in columns.items():
            table.add_column(column, justify=justify)
        for row in rows:
            table.add_row(
                row.device,
                row.strategy,
                f"{row.hv_ratio_mean:.4f} ± {row.hv_ratio_std:.4f}",
                f"{row.queries_mean:.0f}",
                f"{row.front_size_mean:.1f}",
                f"{row.wall_ms_mean:.0f}",
            )
        out.print(table)
        write_results(traces, rows, out_dir)
        plot_curves(traces, devices, out_dir / "hypervolume.png")
        out.print(f"wrote {out_dir}/summary.csv, {out_dir}/traces.json and {out_dir}/hypervolume.png")

"""``archsearch zero``: run, resume, report and export AutoML-Zero searches (Real et al., ICML 2020)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from archsearch.cli.options import err, out
from archsearch.errors import ConfigError

if TYPE_CHECKING:
    from archsearch.runs.zero import ZeroRun


class ZeroProgress:
    """Live progress of a run: individuals, individuals/s, best fitness, FEC hit rate (rich)."""

    def __init__(self, total: int, done: int = 0, label: str = "zero") -> None:
        self._progress = Progress(
            TextColumn(f"[bold]{label}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=err,
        )
        self._task = self._progress.add_task(label, total=total, completed=done, status="starting workers")

    def __call__(self, snapshot: Any) -> None:
        best = "-" if snapshot.best_fitness is None else f"{snapshot.best_fitness:.6f}"
        hit = "-" if snapshot.fec_hit_rate is None else f"{snapshot.fec_hit_rate:.0%}"
        status = f"{snapshot.individuals_per_s:,.0f} individuals/s | best fitness {best} | FEC hits {hit}"
        self._progress.update(self._task, completed=snapshot.individuals, status=status)

    def __enter__(self) -> ZeroProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()


def check_max_time(max_time: float | None) -> None:
    """``--max-time`` is a positive number of seconds (or left out)."""
    if max_time is not None and not max_time > 0:
        raise ConfigError(f"--max-time must be a positive number of seconds, got {max_time}")


def run_experiment(experiment: Any, quiet: bool, max_time: float | None, label: str) -> Any:
    """Run (or continue) the experiment; Ctrl-C or SIGTERM stop it (island workers stopped) with one line
    saying how to resume and exit code 130 or 143."""
    from archsearch.interrupt import resumable_run

    progress = None if quiet else ZeroProgress(experiment.config.budget, experiment.individuals(), label)
    with resumable_run(err, f"archsearch zero resume {experiment.directory}"):
        if progress is None:
            return experiment.run(max_time_s=max_time)
        with progress:
            return experiment.run([progress], max_time_s=max_time)


def print_result(experiment: Any, result: Any) -> None:
    """The result of a finished run (its fitness on search, select and held-out tasks, and the program),
    or the line saying where a paused one stopped."""
    config = experiment.config
    if result is None:
        out.print(
            f"paused after {experiment.individuals():,} individuals; archsearch zero resume {experiment.directory}"
        )
        return
    table = Table(
        title=f"AutoML-Zero {config.task}, {config.strategy}: {experiment.individuals():,} individuals"
    )
    table.add_column("key", no_wrap=True)
    table.add_column("value")
    table.add_row("search fitness", f"{result.search_fitness:.6f}")
    table.add_row(f"select fitness ({config.select_tasks} tasks)", f"{result.select_fitness:.6f}")
    table.add_row(f"final fitness ({config.final_tasks} held-out tasks)", f"{result.final_fitness:.6f}")
    for key, value in result.metrics.items():
        table.add_row(
            key.replace("_", " "),
            "yes" if key == "solved" and value else ("no" if key == "solved" else f"{value:.3g}"),
        )
    out.print(table)
    out.print(result.program.pretty(), highlight=False)


def resume_zero(run: ZeroRun, budget: int | None, max_time: float | None, quiet: bool) -> None:
    """Continue an AutoML-Zero run (``budget``: raise its individuals first) and print its result."""
    check_max_time(max_time)
    experiment = run.experiment
    if budget is not None:
        run.set_budget(budget)
    result = run_experiment(experiment, quiet, max_time, experiment.config.strategy)
    print_result(experiment, result)


def zero_status(run: ZeroRun) -> None:
    """Individuals evaluated, the finished experiments, the best program so far and, when finished, its
    held-out numbers (``archsearch status`` and ``archsearch zero status``)."""
    experiment = run.experiment
    progress = experiment.progress()
    config = experiment.config
    last = progress[-1] if progress else None
    hits = "" if last is None or last.fec_hit_rate is None else f", FEC hit rate {last.fec_hit_rate:.0%}"
    out.print(
        f"{run.directory}: {config.task}, {config.strategy}, {experiment.individuals():,}/{config.budget:,}"
        f" individuals{hits}"
    )
    for finished in experiment.experiments():
        out.print(
            f"experiment {finished.experiment}: ended at {finished.individuals:,} individuals,"
            f" winner search fitness {finished.search_fitness:.6f},"
            f" select fitness {finished.select_fitness:.6f}"
        )
    final = experiment.final()
    if final is not None:
        print_result(experiment, final)
        return
    best = experiment.best()
    if best is not None:
        out.print(f"best search fitness {best[1]:.6f} after {best[0]:,} individuals")
        out.print(best[2].pretty(), highlight=False)


def _make(
    task: str,
    strategy: str | None,
    dataset: str | None,
    data_dir: Path | None,
    budget: int | None,
    population: int | None,
    tournament: int | None,
    mutate_prob: float | None,
    initial: str | None,
    workers: int | None,
    seed: int | None,
    fec: bool | None,
    n_train: int | None = None,
    n_valid: int | None = None,
    restart_every: int | None = None,
    engine: str | None = None,
    checkpoint_every: float | None = None,
) -> Any:
    from archsearch.zero.config import make_config

    return make_config(
        task,
        strategy=strategy,
        dataset=dataset,
        data_dir=None if data_dir is None else str(data_dir),
        budget=budget,
        population_size=population,
        tournament_size=tournament,
        mutate_prob=mutate_prob,
        initial=initial,
        workers=workers,
        seed=seed,
        fec=fec,
        n_train=n_train,
        n_valid=n_valid,
        experiment_individuals=restart_every,
        engine=engine,
        checkpoint_every_s=checkpoint_every,
    )


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add ``archsearch zero`` (run) with its ``resume``, ``status``, ``report`` and ``export`` commands."""
    zero_app = typer.Typer(
        invoke_without_command=True,
        no_args_is_help=False,
        help="AutoML-Zero: evolve whole learning algorithms (Setup/Predict/Learn) from basic math ops.",
    )

    @zero_app.callback()
    def zero(
        ctx: typer.Context,
        task: str = typer.Option("linear", help="linear, affine, nonlinear or projected-binary."),
        strategy: str | None = typer.Option(None, help="evolution (default) or random."),
        dataset: str | None = typer.Option(None, help="projected-binary: fashion-mnist, digits or cifar10."),
        data_dir: Path | None = typer.Option(None, help="Directory holding the data set's files."),
        budget: int | None = typer.Option(None, help="Individuals to evaluate, all workers together."),
        population: int | None = typer.Option(None, help="Population size P."),
        tournament: int | None = typer.Option(None, help="Tournament size T."),
        mutate_prob: float | None = typer.Option(None, help="Mutation probability U."),
        initial: str | None = typer.Option(None, help="Initial population: random or empty programs."),
        workers: int | None = typer.Option(None, help="Worker processes (islands with migration)."),
        seed: int | None = typer.Option(None, help="Seed of the run (tasks, search, everything)."),
        fec: bool | None = typer.Option(None, "--fec/--no-fec", help="Functional equivalence cache."),
        n_train: int | None = typer.Option(None, help="Training examples per task."),
        n_valid: int | None = typer.Option(None, help="Validation examples per task."),
        restart_every: int | None = typer.Option(
            None,
            help="Restart with new search tasks and a new population after this many individuals"
            " (each restart's winner competes in the final selection).",
        ),
        engine: str | None = typer.Option(
            None, help="compiled (default: the whole search loop in numba) or python (the reference engine)."
        ),
        baseline: bool = typer.Option(
            False, help="Then run random search with the same budget (DIR/random)."
        ),
        max_time: float | None = typer.Option(None, help="Pause after this many seconds (resume continues)."),
        checkpoint_every: float | None = typer.Option(
            None,
            help="Seconds between checkpoints (default 20; 0: after every round). A kill -9 loses at most"
            " this much search.",
        ),
        out_dir: Path = typer.Option(Path("runs/zero"), "--out", "-o", help="Run directory."),
        overwrite: bool = typer.Option(False, help="Replace a run already in --out."),
        quiet: bool = typer.Option(False, help="No progress display."),
    ) -> None:
        """Search for a learning algorithm; the default rediscovers linear regression trained by SGD."""
        if ctx.invoked_subcommand is not None:
            return
        from archsearch.zero.experiment import Experiment

        check_max_time(max_time)
        config = _make(
            task,
            strategy,
            dataset,
            data_dir,
            budget,
            population,
            tournament,
            mutate_prob,
            initial,
            workers,
            seed,
            fec,
            n_train,
            n_valid,
            restart_every,
            engine,
            checkpoint_every,
        )
        if baseline and config.strategy == "random":
            raise ConfigError(
                "--baseline adds a random search to an evolution run; this run is random search"
            )
        experiment = Experiment.create(config, out_dir, overwrite=overwrite)
        try:
            result = run_experiment(experiment, quiet, max_time, config.strategy)
            print_result(experiment, result)
            spent = experiment.individuals()
        finally:
            experiment.close()
        if baseline and result is not None:
            from archsearch.zero.experiment import BASELINE_DIR

            _run_baseline(config, out_dir / BASELINE_DIR, spent, quiet)
        err.print(f"next: archsearch zero report {out_dir}   |   archsearch zero export {out_dir}")

    @zero_app.command("resume")
    def resume(
        directory: Path = typer.Argument(..., help="Run directory."),
        budget: int | None = typer.Option(None, help="Raise the budget (individuals)."),
        max_time: float | None = typer.Option(None, help="Pause after this many seconds."),
        quiet: bool = typer.Option(False, help="No progress display."),
    ) -> None:
        """Continue an interrupted run (even one killed with kill -9) from its last checkpoint (as
        ``archsearch resume DIR``)."""
        from archsearch.runs.zero import ZeroRun

        check_max_time(max_time)
        with ZeroRun(directory, lock=True) as run:
            resume_zero(run, budget, max_time, quiet)

    @zero_app.command("status")
    def status(directory: Path = typer.Argument(..., help="Run directory.")) -> None:
        """Individuals evaluated, the best program so far and, when finished, its held-out numbers (as
        ``archsearch status DIR``)."""
        from archsearch.runs.zero import ZeroRun

        with ZeroRun(directory, read_only=True) as run:
            zero_status(run)

    @zero_app.command("report")
    def report(
        directories: list[Path] = typer.Argument(..., help="Run directories (a run's DIR/random is added)."),
        out_dir: Path | None = typer.Option(None, "--out", "-o", help="Where to write (default DIR/report)."),
    ) -> None:
        """Write best fitness vs individuals (PNG, evolution vs random search) and the best program (HTML, md)."""
        from archsearch.cli.options import check_output_dir
        from archsearch.zero.report import write_report

        if out_dir is not None:
            check_output_dir(out_dir)
        index = write_report(directories, out_dir)
        out.print(f"report: {index}")

    @zero_app.command("export")
    def export(
        directory: Path = typer.Argument(..., help="Run directory."),
        out_file: Path | None = typer.Option(
            None, "--out", "-o", help="File to write (default DIR/algorithm.py)."
        ),
    ) -> None:
        """Write the best program as a standalone numpy module (Algorithm class and fitness function), as
        ``archsearch export DIR``."""
        from archsearch.runs.zero import ZeroRun

        with ZeroRun(directory, read_only=True) as run:
            done = run.export(out_file)
        out.print(f"exported {done.subject} to {done.target}")

    app.add_typer(zero_app, name="zero")


def _run_baseline(config: Any, directory: Path, budget: int, quiet: bool) -> None:
    from archsearch.zero.experiment import Experiment

    baseline = config.model_copy(update={"strategy": "random", "budget": budget})
    experiment = Experiment.create(baseline, directory, overwrite=True)
    try:
        started = time.monotonic()
        result = run_experiment(experiment, quiet, None, "random")
        err.print(f"random search baseline: {budget:,} individuals in {time.monotonic() - started:.0f} s")
        print_result(experiment, result)
    finally:
        experiment.close()

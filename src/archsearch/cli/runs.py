"""The commands on a study directory: resume, status, best, report and export."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from archsearch.cli.apps import app
from archsearch.cli.options import check_output_dir, err, out
from archsearch.core import TrialRecord
from archsearch.errors import ConfigError
from archsearch.study import Study, best_trial


@app.command()
def resume(
    directory: Path = typer.Argument(..., help="Study directory."),
    trials: int | None = typer.Option(None, help="Raise the total number of trials."),
    quiet: bool = typer.Option(False, help="No progress display."),
) -> None:
    """Continue an interrupted study (even one killed with kill -9) where it stopped."""
    from archsearch.oneshot.run import is_oneshot_run

    if is_oneshot_run(directory):  # a one-shot run continues from its last finished epoch
        from archsearch.cli.oneshot import run_with_progress
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
    run_study(study, quiet)


def run_study(study: Study, quiet: bool) -> None:
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
            print_best(study)
            err.print(f"next: archsearch report {study.directory}   |   archsearch export {study.directory}")
        finally:
            study.close()


BEST_METRICS = 10
"""The most metrics `status` and `best` print for the best trial (`best --json` prints all)."""


def print_best(study: Study, record: TrialRecord | None = None) -> None:
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
        from archsearch.cli.oneshot import print_status

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
            from archsearch.cli.front import front_summary

            out.print(front_summary(trials, study.config.objectives, study.config.constraints))
        print_best(study)
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
            print_best(study, record)
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
        from archsearch.cli.oneshot import export_run

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

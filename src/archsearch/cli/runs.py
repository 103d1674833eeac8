"""The commands on any run directory, whatever its kind (a study of trials, a one-shot run, an AutoML-Zero
run): resume, status, best, report, export and trials, through ``archsearch.runs.open_run``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from archsearch.cli.apps import app
from archsearch.cli.options import check_output_dir, err, out
from archsearch.errors import ConfigError
from archsearch.store.rundir import kind_name

if TYPE_CHECKING:  # the runs and the study are imported by the commands that use them
    from archsearch.core import TrialRecord
    from archsearch.reporting import Report
    from archsearch.runs import Exported, Run
    from archsearch.runs.oneshot import OneShotRunAdapter
    from archsearch.runs.study import StudyRun
    from archsearch.runs.zero import ZeroRun
    from archsearch.study import Study

RUN_DIRECTORY = "Run directory: a study, a one-shot run or an AutoML-Zero run."


def _kind_name(run: Run) -> str:
    """The kind of ``run`` with its article, e.g. "an AutoML-Zero run"."""
    return kind_name(run.kind)


@app.command()
def resume(
    directory: Path = typer.Argument(..., help=RUN_DIRECTORY),
    trials: int | None = typer.Option(None, help="A study: raise the total number of trials."),
    budget: int | None = typer.Option(
        None, help="Raise the budget: trials of a study, individuals of an AutoML-Zero run."
    ),
    max_time: float | None = typer.Option(
        None, help="An AutoML-Zero run: pause after this many seconds (resume continues)."
    ),
    quiet: bool = typer.Option(False, help="No progress display."),
) -> None:
    """Continue an interrupted run of any kind (even one killed with kill -9) where it stopped.

    A study continues from its trials, a one-shot run from its last finished epoch, an AutoML-Zero run from
    its last checkpoint."""
    from archsearch.runs import open_run

    if trials is not None and budget is not None:
        raise ConfigError("--trials and --budget both raise the budget; give one (--budget)")
    with open_run(directory, lock=True) as run:
        if run.kind != "zero" and max_time is not None:
            raise ConfigError(f"--max-time pauses an AutoML-Zero run; {directory} is {_kind_name(run)}")
        if run.kind == "oneshot":
            from archsearch.cli.oneshot import run_with_progress

            if trials is not None or budget is not None:
                flag = "--trials" if trials is not None else "--budget"
                raise ConfigError(f"{directory} is a one-shot run: it has epochs, not trials; drop {flag}")
            run_with_progress(_oneshot(run).oneshot, quiet)
        elif run.kind == "zero":
            if trials is not None:
                raise ConfigError(
                    f"{directory} is an AutoML-Zero run: it counts individuals, not trials; use --budget"
                )
            from archsearch.cli.zero import resume_zero

            resume_zero(_zero(run), budget, max_time, quiet)
        else:
            study_run = _study(run)
            study = study_run.study  # built first: a study that cannot be built keeps its budget
            amount = trials if trials is not None else budget
            if amount is not None:
                study_run.set_budget(amount)
            run_study(study, quiet)


def run_study(study: Study, quiet: bool) -> None:
    """Run the study; Ctrl-C or SIGTERM stop it (workers killed, the store consistent) with one line
    saying how to resume and exit code 130 or 143."""
    from archsearch.interrupt import resumable_run
    from archsearch.report.columns import leading_metrics
    from archsearch.report.progress import RichProgress
    from archsearch.study import best_trial

    with resumable_run(err, f"archsearch resume {study.directory}"):
        try:
            trials = study.store.trials()
            done = sum(t.finished for t in trials)
            best = best_trial(trials)
            if quiet:
                study.run()
            else:
                reward = None if best is None else best.reward
                metrics = leading_metrics(study)  # each trial's line shows the reward's and objectives' first
                counts = _counts(trials)
                with RichProgress(
                    study.config.n_trials, done, reward, metrics=metrics, counts=counts
                ) as progress:
                    study.run([progress])
            trials = study.store.trials()
            print_best_trial(
                best_trial(trials),
                len(trials),
                leading_metrics(study),
                _pruned_hint(study.directory, trials),
            )
            err.print(f"next: archsearch report {study.directory}   |   archsearch export {study.directory}")
        finally:
            study.close()


BEST_METRICS = 10
"""The most metrics `status` and `best` print for the best trial (`best --json` prints all)."""


def print_best_trial(
    best: TrialRecord | None, count: int, leading: list[str], none_hint: str | None = None
) -> None:
    """The best trial of ``count`` as a table: trial, architecture, reward and its metrics, ``leading``
    (the study's own: its reward's and objectives') first; a pruned trial (asked for with
    ``--include-pruned``) says where it was stopped. ``none_hint`` follows "no successful trial yet"."""
    from archsearch.frames import reached, resource_text
    from archsearch.report.columns import format_metric, metric_columns

    if best is None:
        out.print("no successful trial yet" + (f" ({none_hint})" if none_hint else ""))
        return
    table = Table(title=f"best of {count} trials", show_header=False)
    table.add_column("key", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_row("trial", str(best.number))
    if best.status == "pruned":
        table.add_row(
            "status",
            f"pruned at {resource_text(reached(best))}: stopped early, its metrics are what it reached",
        )
    table.add_row("architecture", best.arch_str)
    table.add_row("reward", format_metric("reward", best.reward))
    for key in metric_columns([best.metrics], leading, limit=BEST_METRICS):
        if not (key == "resource" and best.status == "pruned"):  # said on its status row
            table.add_row(key, format_metric(key, best.metrics[key]))
    out.print(table)


def _counts(trials: list[TrialRecord]) -> dict[str, int]:
    """The trials by status."""
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial.status] = counts.get(trial.status, 0) + 1
    return counts


def _pruned_hint(directory: Path, trials: list[TrialRecord]) -> str | None:
    """What to say when no trial was trained to the end but some were pruned."""
    pruned = sum(t.status == "pruned" for t in trials)
    if not pruned:
        return None
    return f"{pruned} pruned: archsearch best {directory} --include-pruned"


# -- status ------------------------------------------------------------------------------------------------
@app.command()
def status(directory: Path = typer.Argument(..., help=RUN_DIRECTORY)) -> None:
    """How far a run is (a study, a one-shot or an AutoML-Zero run) and the best so far.

    A study's trials finished, failed and running; a one-shot run's epochs and derived cell; an AutoML-Zero
    run's individuals and best program."""
    from archsearch.runs import open_run

    with open_run(directory, read_only=True) as run:
        print_status(run)


def print_status(run: Run) -> None:
    """``archsearch status`` of ``run``, of any kind."""
    if run.kind == "oneshot":
        _oneshot_status(_oneshot(run))
    elif run.kind == "zero":
        from archsearch.cli.zero import zero_status

        zero_status(_zero(run))
    else:
        _study_status(_study(run))


CURVE_ROWS = 12
"""The trials whose curves `status` prints (the latest: the running ones and those just finished)."""
CURVE_POINTS = 6
"""The most values of one curve `status` prints (its last ones)."""


def _study_status(run: StudyRun) -> None:
    state = run.status()
    out.print(
        f"{run.directory}: {state.done}/{state.total} trials started; "
        + ", ".join(f"{n} {s}" for s, n in sorted(state.counts.items()))
    )
    config = run.config
    trials = run.trials()
    if len(config.objectives) >= 2:
        from archsearch.cli.front import front_summary

        out.print(front_summary(trials, config.objectives, config.constraints))
    leading = run.leading_metrics()
    reports = run.reports()
    if reports or config.pruner is not None or state.counts.get("pruned"):
        _print_pruning(run, trials, reports, leading)
    best = run.best()
    print_best_trial(
        None if best is None else best.source, state.done, leading, _pruned_hint(run.directory, trials)
    )


def _short(value: float) -> str:
    """A curve's value in 4 significant digits (the last 6 fit a line of 80 columns)."""
    return f"{value:.4g}"


def _print_pruning(
    run: StudyRun, trials: list[TrialRecord], reports: list[Report], leading: list[str]
) -> None:
    """Where the pruner stopped trials (the rungs as the store tells them), then the curves of the latest
    trials: how far each got ("stopped at 3" for a pruned one, "3 so far" for a running one, whose curve
    is the one it has reported so far) and its last values of the pruner's metric."""
    from archsearch.frames import curve_metric, metric_points, reached, reports_by_trial, resource_text, stops

    rungs = stops(trials, reports)
    if rungs:
        parts = [
            f"{resource_text(s.resource)}: {s.reached} reached"
            + (f", {s.stopped} pruned" if s.stopped else "")
            for s in rungs
        ]
        out.print("stopped early (resource: trials that reached it, pruned there): " + " | ".join(parts))
    pruner = run.config.pruner
    preferred = [str(pruner.params["metric"])] if pruner is not None and "metric" in pruner.params else []
    metric = curve_metric(trials, reports, [*preferred, *leading])
    if metric is None:
        return
    by_trial = reports_by_trial(reports)
    shown = trials[-CURVE_ROWS:]
    earlier = len(trials) - len(shown)
    title = f"curves of {metric}" + (
        f" (the last {len(shown)} trials; every one: archsearch trials {run.directory})" if earlier else ""
    )
    table = Table(title=title)
    table.add_column("trial", justify="right")
    table.add_column("status")
    table.add_column("reached", justify="right")
    table.add_column(metric, overflow="fold")
    for trial in shown:
        own = by_trial.get(trial.number, [])
        resource = reached(trial, own)
        far = resource_text(resource)
        if trial.status == "pruned" and resource is not None:
            far = f"stopped at {far}"
        elif trial.status == "running" and resource is not None:
            far = f"{far} so far"
        values = [_short(v) for _, v in metric_points(trial, metric, own)]
        curve = " ".join(values[-CURVE_POINTS:])
        if len(values) > CURVE_POINTS:
            curve = "… " + curve
        if trial.status == "pruned" and curve:
            curve += " x"
        table.add_row(str(trial.number), trial.status, far, curve or "-")
    out.print(table)


def _oneshot_status(run: OneShotRunAdapter) -> None:
    from archsearch.cli.oneshot import print_summary

    state = run.status()
    out.print(
        f"{run.directory}: one-shot {run.config['method']} run, {state.done}/{state.total} epochs finished"
    )
    summary = run.summary()
    if summary is not None:
        print_summary(summary)
        return
    epochs = run.epochs()
    if epochs:
        latest = epochs[-1]
        metrics = ", ".join(f"{key} {value:.4f}" for key, value in latest.metrics.items())
        out.print(f"after epoch {latest.epoch + 1}: {metrics}; derived cell {latest.arch_str}")


# -- best --------------------------------------------------------------------------------------------------
@app.command()
def best(
    directory: Path = typer.Argument(..., help=RUN_DIRECTORY),
    as_json: bool = typer.Option(False, "--json", help="Print it as JSON."),
    objective: str | None = typer.Option(
        None, help="A study: pick by this metric, METRIC[:min|max], e.g. val_acc (default: the reward)."
    ),
    max_latency: float | None = typer.Option(
        None, help="A study: only trials whose latency_ms is at most this."
    ),
    constraint: list[str] = typer.Option(
        [], "--constraint", help='A study: only trials meeting this, e.g. "params <= 1e6" (repeatable).'
    ),
    include_pruned: bool = typer.Option(
        False,
        "--include-pruned",
        help="A study: also consider the trials its pruner stopped early (by what they reached).",
    ),
) -> None:
    """The best found so far: a study's best trial, a one-shot run's derived cell, a zero run's program.

    In a study, --objective picks the best by that metric among the trials meeting the constraints (the
    study's own, --max-latency and --constraint): a pick off the Pareto front. A trial the study's pruner
    stopped early is never the best unless --include-pruned."""
    from archsearch.runs import open_run

    with open_run(directory, read_only=True) as run:
        if run.kind == "study":
            _study_best(_study(run), as_json, objective, max_latency, constraint, include_pruned)
            return
        flags = [
            flag
            for flag, given in (
                ("--objective", objective is not None),
                ("--max-latency", max_latency is not None),
                ("--constraint", bool(constraint)),
                ("--include-pruned", include_pruned),
            )
            if given
        ]
        if flags:
            raise ConfigError(
                f"{directory} is {_kind_name(run)}: {', '.join(flags)} pick among the trials of a study;"
                " drop them"
            )
        found = run.best()
        if as_json:
            if found is None:
                what = "derived cell" if run.kind == "oneshot" else "program"
                raise ConfigError(f"{directory} has no {what} yet")
            out.print_json(json.dumps(found.to_json()))
        elif run.kind == "oneshot":
            _print_oneshot_best(_oneshot(run))
        else:
            _print_zero_best(_zero(run))


def _study_best(
    run: StudyRun,
    as_json: bool,
    objective: str | None,
    max_latency: float | None,
    constraint: list[str],
    include_pruned: bool = False,
) -> None:
    from archsearch.objectives import parse_constraints, parse_objectives

    latency = [] if max_latency is None else [f"latency_ms <= {max_latency!r}"]
    constraints = parse_constraints([*run.config.constraints, *constraint, *latency])
    goal = None if objective is None else parse_objectives([objective])[0]
    found = run.pick(goal, constraints, include_pruned)
    hint = None if include_pruned else _pruned_hint(run.directory, run.trials())
    if as_json:
        if found is None:
            raise ConfigError(f"{run.directory} has no successful trial yet" + (f" ({hint})" if hint else ""))
        out.print_json(json.dumps(found.to_json()))
    else:
        record = None if found is None else found.source
        print_best_trial(record, run.store.count(), run.leading_metrics(), hint)


def _print_oneshot_best(run: OneShotRunAdapter) -> None:
    from archsearch.cli.oneshot import print_summary
    from archsearch.report.columns import format_metric

    summary = run.summary()
    if summary is not None:
        print_summary(summary)
        return
    found = run.best()
    if found is None:
        out.print("no finished epoch yet")
        return
    table = Table(
        title=f"derived after epoch {found.number} of {run.config['epochs']} (the run is unfinished)",
        show_header=False,
    )
    table.add_column("key", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_row("derived cell", found.label)
    for key, value in found.metrics.items():
        table.add_row(key, format_metric(key, value))
    out.print(table)


def _print_zero_best(run: ZeroRun) -> None:
    from archsearch.cli.zero import print_result

    final = run.final()
    if final is not None:
        print_result(run.experiment, final)
        return
    found = run.best()
    if found is None:
        out.print("no program yet")
        return
    out.print(
        f"best search fitness {found.score:.6f} after {found.number:,} individuals (the run is unfinished)"
    )
    out.print(found.label, highlight=False)


# -- report, export ----------------------------------------------------------------------------------------
@app.command()
def report(
    directory: Path = typer.Argument(..., help=RUN_DIRECTORY),
    out_dir: Path | None = typer.Option(None, "--out", "-o", help="Where to write (default DIR/report)."),
) -> None:
    """Write an HTML report with plots of a run of any kind.

    A study's rewards, best so far, choices over time and best architecture; a one-shot run's epochs and
    distribution over ops; an AutoML-Zero run's best fitness vs individuals (beside its random-search
    baseline) and best program."""
    from archsearch.runs import open_run

    if out_dir is not None:
        check_output_dir(out_dir)
    with open_run(directory, read_only=True) as run:
        index = run.report(out_dir)
    out.print(f"report: {index}")


@app.command()
def export(
    directory: Path = typer.Argument(..., help=RUN_DIRECTORY),
    out_dir: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Where to write (default DIR/export; an AutoML-Zero run: the file, default DIR/algorithm.py).",
    ),
    trial: int | None = typer.Option(None, help="A study: export this trial instead of the best."),
) -> None:
    """Write the best architecture (or program) of a run of any kind.

    A study's best trial as JSON, a PyTorch module file and its trained weights (weights.pt, kept for the
    best trials); a one-shot run's derived cell as JSON and a module file to retrain; an AutoML-Zero run's
    best program as a standalone numpy module."""
    from archsearch.runs import open_run

    if out_dir is not None:
        _check_export_target(directory, out_dir)
    with open_run(directory, read_only=True) as run:
        if run.kind != "study" and trial is not None:
            unit = "epochs" if run.kind == "oneshot" else "individuals"
            raise ConfigError(f"{directory} is {_kind_name(run)}: it has {unit}, not trials; drop --trial")
        done = _study(run).export(out_dir, trial) if run.kind == "study" else run.export(out_dir)
    print_exported(done)


def _check_export_target(directory: Path, out_dir: Path) -> None:
    """Refuse an --out that is a file or lies under one before any work is done; an AutoML-Zero run
    writes its module to a file, so there --out may be one."""
    from archsearch.errors import ArchsearchError
    from archsearch.store import run_kind

    try:
        check_output_dir(out_dir)
    except ConfigError as refusal:
        if not out_dir.is_file():
            raise
        try:
            kind = run_kind(directory)
        except ArchsearchError:
            raise refusal from None
        if kind != "zero":
            raise


def print_exported(done: Exported) -> None:
    """The line saying what ``Run.export`` wrote, and one per thing it left out."""
    written = f": {', '.join(done.files)}" if done.files else ""
    out.print(f"exported {done.subject} to {done.target}{written}")
    for note in done.notes:
        out.print(note)


# -- trials as data ----------------------------------------------------------------------------------------
TRIAL_FORMATS = ("csv", "json", "table")


@app.command("trials")
def trials_command(
    directory: Path = typer.Argument(..., help=RUN_DIRECTORY),
    output_format: str = typer.Option(
        "csv",
        "--format",
        help="csv (the default), json (a list of objects, one per row) or table (plain text, as wide as its columns).",
    ),
) -> None:
    """Every trial of a run as data (CSV by default) on standard output, one row per trial.

    Columns: number, status (ok, pruned, failed, timeout, running), reward, architecture, started_at,
    finished_at, duration_s, cost_s, seed, error, resource (how far it trained: epochs by default; where a
    pruned trial was stopped), then metric_<name>, decision_<name> and info_<name>. A one-shot run gives its epochs, an
    AutoML-Zero run its progress rounds. In Python: archsearch.open_run(DIR).trials_dataframe()."""
    from archsearch.runs import open_run

    if output_format not in TRIAL_FORMATS:
        raise ConfigError(f"--format expects one of {', '.join(TRIAL_FORMATS)}, got {output_format!r}")
    with open_run(directory, read_only=True) as run:
        frame = run.trials_dataframe()
    if output_format == "json":
        sys.stdout.write(frame.to_json(orient="records", date_format="iso", indent=1) + "\n")
    elif output_format == "csv":
        listed = frame.apply(lambda column: column.map(_cell))
        sys.stdout.write(listed.to_csv(index=False))
    else:  # pandas' plain text table: as wide as the columns, never wrapped
        sys.stdout.write(f"{run.directory}: {len(frame)} rows\n{frame.to_string(index=False)}\n")


def _cell(value: Any) -> Any:
    """A cell for CSV: a list or mapping (a links decision) as JSON, anything else as it is."""
    return json.dumps(value) if isinstance(value, list | dict | tuple) else value


# -- the adapters by kind ----------------------------------------------------------------------------------
def _study(run: Run) -> StudyRun:
    from archsearch.runs.study import StudyRun

    assert isinstance(run, StudyRun)
    return run


def _oneshot(run: Run) -> OneShotRunAdapter:
    from archsearch.runs.oneshot import OneShotRunAdapter

    assert isinstance(run, OneShotRunAdapter)
    return run


def _zero(run: Run) -> ZeroRun:
    from archsearch.runs.zero import ZeroRun

    assert isinstance(run, ZeroRun)
    return run

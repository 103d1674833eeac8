"""``archsearch oneshot``: ENAS, DARTS or ASNG-NAS on a supernet over real images, with progress and resume."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from archsearch.cli.options import err, out
from archsearch.errors import ConfigError

if TYPE_CHECKING:  # the run, torch and the data sets are imported by the commands that use them
    from archsearch.oneshot.run import OneShotRun
    from archsearch.store.sqlite import EpochRecord


class RichEpochProgress:
    """An EpochListener: a bar over the run's steps and one line per finished epoch with its loss,
    validation accuracy and the entropy of the architecture distribution (nats, mean over edges)."""

    def __init__(self, epochs: int, done: int, console: Console | None = None) -> None:
        self.console = console or err
        self.epochs = epochs
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=self.console,
        )
        self._task = self._progress.add_task(f"epoch {done + 1}/{epochs}", total=None, status="")

    def __enter__(self) -> RichEpochProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def epoch_started(self, epoch: int, steps: int) -> None:
        self._progress.update(
            self._task, description=f"epoch {epoch + 1}/{self.epochs}", total=steps, completed=0, status=""
        )

    def step_finished(self, epoch: int, step: int, metrics: dict[str, float]) -> None:
        loss = metrics.get("train_loss")
        status = "" if loss is None else f"loss {loss:.3f}"
        self._progress.update(self._task, completed=step + 1, status=status)

    def epoch_finished(self, record: EpochRecord) -> None:
        m = record.metrics
        parts = [f"epoch {record.epoch + 1}/{self.epochs}"]
        for key, label in (("train_loss", "loss"), ("valid_acc", "valid acc"), ("entropy", "entropy")):
            if key in m:
                parts.append(f"{label} {m[key]:.4f}")
        parts += [f"{record.wall_s:.1f} s", record.arch_str]
        self.console.print(" | ".join(parts), highlight=False, markup=False)


def _pairs(settings: list[str]) -> dict[str, Any]:
    """``--set supernet.channels=4 --set hyper.lr=0.1`` as nested options."""
    from archsearch.config import load_yaml

    options: dict[str, Any] = {"supernet": {}, "hyper": {}}
    for item in settings:
        key, sep, raw = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot or section not in options or not name:
            raise ConfigError(f"--set expects supernet.NAME=VALUE or hyper.NAME=VALUE, got {item!r}")
        options[section][name] = load_yaml(raw, f"--set {key.strip()}={raw}")
    return options


def run_with_progress(run: OneShotRun, quiet: bool) -> dict[str, Any]:
    """Run (or continue) ``run`` with a progress display; Ctrl-C or SIGTERM stop it with one line saying
    how to resume (exit code 130 or 143)."""
    from archsearch.interrupt import resumable_run

    with resumable_run(err, f"archsearch oneshot --resume {run.directory}"):
        try:
            if quiet:
                summary = run.run()
            else:
                with RichEpochProgress(run.config.epochs, run.completed_epochs()) as progress:
                    summary = run.run([progress])
        finally:
            run.close()
    print_summary(summary)
    err.print(f"next: archsearch report {run.directory}   |   archsearch export {run.directory}")
    return summary


def print_summary(summary: dict[str, Any]) -> None:
    """The derived cell, the method's own estimate, the collapse verdict and the NB201 table's truth."""
    table = Table(title=f"{summary['method']} after {summary['epochs']} epochs", show_header=False)
    table.add_column("key", no_wrap=True)
    table.add_column("value", overflow="fold")
    values = summary.get("values")  # a user's model space: the chosen value of every label
    if values is None:
        table.add_row("derived cell", summary["arch_str"])
    else:
        for label, value in values.items():
            table.add_row(f"derived {label}", str(value))
    table.add_row("one-shot estimate (valid)", f"{summary['estimate_valid_acc']:.4f}")
    if summary.get("estimate_test_acc") is not None:
        table.add_row("one-shot estimate (test)", f"{summary['estimate_test_acc']:.4f}")
    collapse = summary["collapse"]
    colour = (
        "red" if collapse["collapsed"] else "yellow" if collapse.get("parameter_free_dominated") else "green"
    )
    table.add_row("collapse check", Text(collapse["verdict"], style=colour))
    if summary.get("mean_epoch_s") is not None:
        table.add_row("wall time per epoch", f"{summary['mean_epoch_s']:.2f} s")
    out.print(table)
    truth = summary.get("nb201")
    if truth:
        check = Table(
            title=f"NAS-Bench-201 table: the true accuracies of cell {truth['index']} (200 epochs, %)"
        )
        for column in ("data set", "test", "valid", "12-epoch valid", "rank of 15,625", "best", "mean"):
            check.add_column(column, justify="left" if column == "data set" else "right")
        for dataset, row in truth.items():
            if dataset == "index":
                continue
            check.add_row(
                dataset,
                f"{row['test_acc_200ep']:.2f}",
                f"{row['val_acc_200ep']:.2f}",
                f"{row['val_acc_12ep']:.2f}",
                f"{row['rank']:,}",
                f"{row['optimum_test_acc_200ep']:.2f}",
                f"{row['mean_test_acc_200ep']:.2f}",
            )
        out.print(check)


def oneshot(
    method: str | None = typer.Option(None, help="enas, darts or asng (default asng)."),
    space: str | None = typer.Option(
        None,
        help="Supernet cell space, nb201 or darts (default nb201), or your model space as pkg.mod:Net "
        "(its constructor's options: --set supernet.NAME=VALUE).",
    ),
    dataset: str | None = typer.Option(None, help="digits (built in), mnist, fashion-mnist, cifar10."),
    train: str | None = typer.Option(
        None,
        help="Your training data instead of --dataset: an image folder (one subfolder per class), a CSV file "
        "or pkg.mod:load_data.",
    ),
    valid: str | None = typer.Option(None, help="With --train: your validation data (default: held out)."),
    test: str | None = typer.Option(None, help="With --train: your test data (default: none)."),
    target: str | None = typer.Option(None, help="With --train: the CSV label column (default target)."),
    data_dir: Path | None = typer.Option(None, help="Directory holding the data set's files."),
    train_limit: int | None = typer.Option(None, help="Use only the first N training images."),
    epochs: int | None = typer.Option(None, help="Search epochs (passes over the training half)."),
    batch_size: int | None = typer.Option(None, help="Images per batch, for weights and architecture."),
    order: int | None = typer.Option(None, help="DARTS only: 1 (first order) or 2 (second order)."),
    seed: int | None = typer.Option(None, help="Seed of the whole search."),
    device: str | None = typer.Option(None, help="cpu, cuda[:N] or auto (default cpu)."),
    threads: int | None = typer.Option(None, help="Torch CPU threads (default: torch's)."),
    set_: list[str] = typer.Option(
        [], "--set", help="supernet.NAME=VALUE or hyper.NAME=VALUE, e.g. hyper.lr=0.05"
    ),
    out_dir: Path | None = typer.Option(None, "--out", "-o", help="Run directory."),
    overwrite: bool = typer.Option(False, help="Replace a run already in --out."),
    resume: Path | None = typer.Option(None, help="Continue the interrupted run in this directory."),
    quiet: bool = typer.Option(False, help="No progress display."),
) -> None:
    """One-shot search (ENAS, DARTS, ASNG-NAS) with a shared-weight supernet of a cell space or of your
    own model space; NB201 cells are checked against the benchmark table."""
    from archsearch.oneshot.run import ARRAYS, USER_DATA, OneShotConfig, OneShotRun, parse_oneshot_config

    flags: dict[str, Any] = {
        "method": method,
        "space": space,
        "dataset": dataset,
        "data_dir": None if data_dir is None else str(data_dir),
        "train_limit": train_limit,
        "epochs": epochs,
        "batch_size": batch_size,
        "order": order,
        "seed": seed,
        "device": device,
        "threads": threads,
    }
    given = {key: value for key, value in flags.items() if value is not None}
    sources = {"train": train, "valid": valid, "test": test, "target": target}
    if resume is not None:
        extra = [f"--{key.replace('_', '-')}" for key in given]
        extra += [f"--{key}" for key, value in sources.items() if value is not None]
        extra += ["--set"] if set_ else []
        extra += ["--out"] if out_dir else []
        if extra or overwrite:
            raise ConfigError(
                f"--resume continues a run as it was configured; drop {', '.join(extra or ['--overwrite'])}"
            )
        run_with_progress(OneShotRun.load(resume, lock=True), quiet)
        return
    if out_dir is None:
        raise ConfigError("--out DIR is required (where the run's database, report and export go)")
    if train is not None:
        from archsearch.oneshot.user import data_sources

        if dataset is not None or train_limit is not None:
            raise ConfigError("--train is your own data: drop --dataset and --train-limit")
        given["dataset"] = USER_DATA
        given["data"] = data_sources(train, valid, test, target or "target", None, True)
    elif valid is not None or test is not None or target is not None:
        raise ConfigError("--valid, --test and --target go with --train (your own data)")
    if dataset in (ARRAYS, USER_DATA):  # only --train and search_model_space give these
        from archsearch.data.images import KNOWN_DATASETS

        raise ConfigError(f"unknown data set {dataset!r}; known: {', '.join(KNOWN_DATASETS)}")
    config: OneShotConfig = parse_oneshot_config({**given, **_pairs(set_)})
    run_with_progress(OneShotRun.create(config, out_dir, overwrite=overwrite), quiet)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add ``archsearch oneshot`` to the command line."""
    app.command("oneshot")(oneshot)

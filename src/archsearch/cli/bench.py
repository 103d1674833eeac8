"""``archsearch bench nb201``: many seeded searches on NAS-Bench-201 with the published protocol."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from archsearch.cli.apps import bench_app
from archsearch.cli.options import check_output_dir, err, out, split_names

DEFAULT_BENCH_STRATEGIES = "random,evolution,reinforce,categorical_reinforce,ppo,asng,local_search"


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

    names, sets = split_names(strategies, "--strategies"), split_names(datasets, "--datasets")
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

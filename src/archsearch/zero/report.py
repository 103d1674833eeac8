"""Report of AutoML-Zero runs: best fitness vs individuals (PNG), the best program, held-out numbers.

Real et al. (ICML 2020), figure 5 compares evolution with random search by how fast each finds good
programs; the plot shows every given run (and a run's ``random`` baseline directory) on one axis.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from archsearch.errors import ConfigError
from archsearch.zero.experiment import BASELINE_DIR, Experiment


def _runs(directories: list[Path]) -> list[Path]:
    runs: list[Path] = []
    for directory in directories:
        if not (directory / "study.db").exists():
            raise ConfigError(
                f"no AutoML-Zero run in {directory}; start one with `archsearch zero --out {directory}`"
            )
        runs.append(directory)
        baseline = directory / BASELINE_DIR
        if (baseline / "study.db").exists() and baseline not in runs and baseline not in directories:
            runs.append(baseline)
    return runs


def _label(experiment: Any) -> str:
    config = experiment.config
    return f"{config.strategy} ({config.task}, seed {config.seed}) - {experiment.directory}"


def plot_progress(experiments: list[Any], path: Path) -> None:
    """Best search fitness against individuals evaluated, one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 4.5))
    for experiment in experiments:
        snapshots = [s for s in experiment.progress() if s.best_fitness is not None]
        if not snapshots:
            continue
        style = "--" if experiment.config.strategy == "random" else "-"
        best = np.maximum.accumulate([s.best_fitness for s in snapshots])  # best so far, across restarts
        (line,) = axis.step(
            [0] + [s.individuals for s in snapshots],
            [best[0], *best],
            style,
            where="post",
            label=_label(experiment),
        )
        for finished in experiment.experiments():  # restarts: new search tasks and population
            axis.axvline(finished.individuals, color=line.get_color(), linestyle=":", linewidth=0.8)
    axis.set_xlabel("individuals evaluated")
    axis.set_ylabel("best fitness on the search tasks")
    axis.set_title("AutoML-Zero: best fitness vs individuals")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _summary(experiment: Any) -> tuple[list[tuple[str, str]], str]:
    config = experiment.config
    rows = [
        ("task", config.task),
        ("strategy", config.strategy),
        ("individuals", f"{experiment.individuals():,} of {config.budget:,}"),
        (
            "population / tournament / mutate prob",
            f"{config.population_size} / {config.tournament_size} / {config.mutate_prob}",
        ),
        ("initial population", config.initial),
        ("workers", str(config.workers)),
    ]
    progress = experiment.progress()
    if progress:
        last = progress[-1]
        if last.fec_hit_rate is not None:
            rows.append(("FEC hit rate", f"{last.fec_hit_rate:.1%}"))
        if last.elapsed_s > 0:
            rows.append(("individuals / s", f"{last.individuals / last.elapsed_s:,.0f}"))
    final = experiment.final()
    if final is not None:
        rows.append(("search fitness", f"{final.search_fitness:.6f}"))
        rows.append(("select fitness", f"{final.select_fitness:.6f}"))
        rows.append(("final (held-out) fitness", f"{final.final_fitness:.6f}"))
        rows.extend((key.replace("_", " "), f"{value:.4g}") for key, value in final.metrics.items())
        return rows, final.program.pretty()
    best = experiment.best()
    if best is None:
        return rows, "(no program yet)"
    rows.append(("search fitness (running)", f"{best[1]:.6f}"))
    return rows, best[2].pretty()


def write_report(directories: list[Path], out_dir: Path | None = None) -> Path:
    """Write ``progress.png``, ``report.md`` and ``index.html`` for the runs; returns the HTML path."""
    if not directories:
        raise ConfigError("report needs at least one run directory")
    runs = _runs([Path(d) for d in directories])
    target = out_dir or Path(directories[0]) / "report"
    experiments = [Experiment.load(run, read_only=True) for run in runs]  # a foreign file fails before mkdir
    target.mkdir(parents=True, exist_ok=True)
    try:
        plot_progress(experiments, target / "progress.png")
        markdown = ["# AutoML-Zero report", "", "![best fitness vs individuals](progress.png)", ""]
        page = [
            "<!doctype html><meta charset='utf-8'><title>AutoML-Zero report</title>",
            "<h1>AutoML-Zero report</h1><img src='progress.png' alt='best fitness vs individuals'>",
        ]
        for experiment in experiments:
            rows, program = _summary(experiment)
            markdown += [f"## {experiment.directory}", "", "| | |", "|---|---|"]
            markdown += [f"| {key} | {value} |" for key, value in rows]
            markdown += ["", "```python", program, "```", ""]
            page.append(f"<h2>{html.escape(str(experiment.directory))}</h2><table>")
            page += [f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows]
            page.append(f"</table><pre>{html.escape(program)}</pre>")
        (target / "report.md").write_text("\n".join(markdown))
        (target / "index.html").write_text("\n".join(page))
    finally:
        for experiment in experiments:
            experiment.close()
    return target / "index.html"

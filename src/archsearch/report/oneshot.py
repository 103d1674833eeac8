"""The report of a one-shot run: the architecture distribution over epochs as a heat map, the search's
curves, the derived cell with its collapse check and, for NB201, its true accuracies from the table.

Plots follow report/plots.py: a ``Figure`` built without pyplot, saved by the Agg renderer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from archsearch.report import plots
from archsearch.report.htmlkit import (
    cell,
    code,
    duration,
    escape,
    fields,
    html_page,
    image,
    note,
    number,
    number_cell,
    table,
)
from archsearch.store.epochs import EpochRecord, OneShotStore

HEATMAP_PNG = "distribution.png"
CURVES_PNG = "curves.png"
CURVES = (
    ("train_loss", "training loss"),
    ("valid_acc", "validation accuracy"),
    ("entropy", "entropy of the distribution (nats)"),
    ("skip_none_mass", "probability of skip/none"),
)


def distribution_over_epochs(epochs: Sequence[EpochRecord]) -> np.ndarray:
    """[epochs, edges, ops]: the distribution (or softmax of alpha) at the end of every epoch."""
    return np.asarray([record.probabilities for record in epochs], dtype=np.float64)


def plot_distribution_heatmap(
    epochs: Sequence[EpochRecord],
    op_names: Sequence[str],
    edge_names: Sequence[str],
    path: str | Path,
    choice_names: Sequence[Sequence[str]] | None = None,
) -> Path:
    """One panel per edge: ops (rows) x epochs (columns), coloured by probability from 0 to the largest.
    ``choice_names`` (a user's model space) names each decision's own candidates, the first K_d columns
    of its row; otherwise every edge has all ``op_names``."""
    if not epochs:
        return plots.placeholder(path, "Architecture distribution", "no finished epoch yet")
    history = distribution_over_epochs(epochs)
    edges = history.shape[1]
    columns = min(edges, 3 if edges <= 9 else 7)
    rows = math.ceil(edges / columns)
    figure = Figure(figsize=(3.4 * columns + 1.2, 0.32 * len(op_names) * rows + 1.0 * rows + 0.6))
    axes = figure.subplots(rows, columns, squeeze=False, sharex=True, sharey=choice_names is None)
    image = None
    # the colour scale ends at the largest probability seen, so that early, near-uniform DARTS softmax
    # weights still show their differences; the colour bar gives the scale
    top = float(max(history.max(), 1e-6))
    for edge in range(rows * columns):
        ax = axes[edge // columns][edge % columns]
        if edge >= edges:
            ax.set_visible(False)
            continue
        names = list(op_names) if choice_names is None else list(choice_names[edge])
        image = ax.imshow(
            history[:, edge, : len(names)].T,
            aspect="auto",
            origin="upper",
            vmin=0.0,
            vmax=top,
            cmap="viridis",
            interpolation="nearest",
            extent=(0.5, len(epochs) + 0.5, len(names) - 0.5, -0.5),
        )
        ax.set_title(edge_names[edge] if edge < len(edge_names) else f"edge {edge}", fontsize=9)
        ax.set_yticks(range(len(names)))
        ax.set_yticklabels(names, fontsize=7)
        ax.tick_params(axis="x", labelsize=7)
        _epoch_ticks(ax, len(epochs))
        if edge // columns == rows - 1:
            ax.set_xlabel("epoch", fontsize=8)
    where = "edge" if choice_names is None else "decision"
    figure.suptitle(f"Architecture distribution per {where} over the search", fontsize=11)
    figure.subplots_adjust(left=0.14, right=0.88, top=1 - 1.0 / figure.get_figheight(), hspace=0.45)
    if image is not None:
        bar = figure.add_axes((0.9, 0.15, 0.015, 0.7))
        figure.colorbar(image, cax=bar, label="probability")
    return plots.save_figure(figure, path)


def plot_curves(epochs: Sequence[EpochRecord], path: str | Path) -> Path:
    """Loss, validation accuracy, entropy and skip/none mass of each epoch."""
    if not epochs:
        return plots.placeholder(path, "Search curves", "no finished epoch yet")
    figure = Figure(figsize=(10, 3.2))
    axes = figure.subplots(1, len(CURVES))
    x = [record.epoch + 1 for record in epochs]
    for ax, (key, label) in zip(axes, CURVES, strict=True):
        values = [record.metrics.get(key, np.nan) for record in epochs]
        ax.plot(x, values, marker="o", markersize=3)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=7)
        _epoch_ticks(ax, len(epochs))
    figure.tight_layout()
    return plots.save_figure(figure, path)


def _epoch_ticks(ax: Axes, count: int) -> None:
    """Whole epochs 1..count on the x axis (every one while they fit)."""
    if count <= 12:
        ax.set_xticks(range(1, count + 1))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def write_oneshot_report(run_dir: str | Path, out_dir: str | Path) -> Path:
    """Write ``index.html`` with the heat map and curves of the one-shot run in ``run_dir``; its path."""
    run_dir, out = Path(run_dir), Path(out_dir)
    store = OneShotStore(run_dir, read_only=True)
    try:
        epochs = store.epochs()
        config = store.get_meta("oneshot_config")
        summary = store.get_meta("summary")
        op_names = store.get_meta("op_names")
        edge_names = store.get_meta("edge_names")
        choice_names = store.get_meta("choice_names")  # a user's model space: each decision's candidates
        elapsed_s = store.get_meta("elapsed_s")
    finally:
        store.close()
    out.mkdir(parents=True, exist_ok=True)
    heatmap = plot_distribution_heatmap(epochs, op_names, edge_names, out / HEATMAP_PNG, choice_names)
    curves = plot_curves(epochs, out / CURVES_PNG)
    title = f"archsearch one-shot run {run_dir}"
    sections = [
        f"<h1>{escape(title)}</h1>",
        "<h2>Summary</h2>",
        _summary(run_dir, config, len(epochs), elapsed_s),
        "<h2>Derived cell</h2>",
        _derived(summary, epochs),
        "<h2>Architecture distribution</h2>",
        image(
            heatmap,
            "Probability of each op on each edge at the end of every epoch "
            "(ASNG: the categorical distribution; DARTS: softmax of alpha; ENAS: the controller's marginals).",
        ),
        image(curves, "Training loss, validation accuracy, entropy and skip/none probability by epoch."),
        "<h2>Epochs</h2>",
        _epoch_table(epochs),
    ]
    index = out / "index.html"
    index.write_text(html_page(title, sections), encoding="utf-8")
    return index


def _summary(run_dir: Path, config: dict[str, Any], done: int, elapsed_s: float | None) -> str:
    method = config["method"] + (f" (order {config['order']})" if config.get("order") else "")
    rows = [
        ("Directory", code(str(run_dir))),
        ("Method", code(method)),
        ("Supernet", code(f"{config['space']}({config.get('supernet') or {}})")),
        (
            "Data",
            code(f"{config['dataset']}" + (f" from {config['data_dir']}" if config.get("data_dir") else "")),
        ),
        ("Seed", escape(str(config["seed"]))),
        ("Device", escape(str(config["device"]))),
        ("Epochs", escape(f"{done} of {config['epochs']} finished")),
        ("Wall time", escape(duration(elapsed_s))),
    ]
    if config.get("hyper"):
        rows.insert(2, ("Options", code(str(config["hyper"]))))
    return fields(rows)


def _derived(summary: dict[str, Any] | None, epochs: Sequence[EpochRecord]) -> str:
    if summary is None:
        if not epochs:
            return note("No finished epoch yet.")
        return (
            f'<p class="note">The run is unfinished; after epoch {epochs[-1].epoch + 1} the derived cell is '
            f"{code(epochs[-1].arch_str)}.</p>"
        )
    collapse = summary["collapse"]
    rows = [
        ("Cell", code(summary["arch_str"])),
        ("One-shot estimate, validation", escape(number(summary["estimate_valid_acc"]))),
        ("One-shot estimate, test", escape(number(summary["estimate_test_acc"]))),
        ("Collapse check", escape(collapse["verdict"])),
        ("Distribution converged", escape("yes" if summary["converged"] else "no")),
        ("Mean epoch time", escape(duration(summary.get("mean_epoch_s")))),
    ]
    parts = [fields(rows)]
    truth = summary.get("nb201")
    if truth:
        parts.append(
            f"<p>The cell's true accuracies in the NAS-Bench-201 table (index {truth['index']}; 200 epochs "
            "of training on the benchmark's own data, not on the search data), next to the best and the mean "
            "of all 15,625 cells:</p>"
        )
        header = ["Data set", "Test (%)", "Valid (%)", "12-epoch valid (%)", "Rank", "Best (%)", "Mean (%)"]
        table_rows = [
            [
                cell(escape(dataset)),
                number_cell(f"{row['test_acc_200ep']:.2f}"),
                number_cell(f"{row['val_acc_200ep']:.2f}"),
                number_cell(f"{row['val_acc_12ep']:.2f}"),
                number_cell(f"{row['rank']:,}"),
                number_cell(f"{row['optimum_test_acc_200ep']:.2f}"),
                number_cell(f"{row['mean_test_acc_200ep']:.2f}"),
            ]
            for dataset, row in truth.items()
            if dataset != "index"
        ]
        parts.append(table(header, table_rows))
    return "\n".join(parts)


def _epoch_table(epochs: Sequence[EpochRecord]) -> str:
    if not epochs:
        return note("No finished epoch yet.")
    header = ["Epoch", "Loss", "Valid acc", "Entropy", "Skip/none", "Time", "Derived cell"]
    rows = [
        [
            number_cell(str(record.epoch + 1)),
            number_cell(number(record.metrics.get("train_loss"))),
            number_cell(number(record.metrics.get("valid_acc"))),
            number_cell(number(record.metrics.get("entropy"))),
            number_cell(number(record.metrics.get("skip_none_mass"))),
            number_cell(duration(record.wall_s)),
            cell(code(record.arch_str)),
        ]
        for record in epochs
    ]
    return table(header, rows)

"""The report of a one-shot run: ``write_report`` finds the run's kind and writes the epochs' page."""

from __future__ import annotations

from pathlib import Path

from archsearch.core import Architecture
from archsearch.report.html import write_report
from archsearch.report.oneshot import CURVES_PNG, HEATMAP_PNG
from archsearch.store.sqlite import EpochRecord, Store

OPS = ["none", "skip_connect", "nor_conv_3x3"]
EDGES = ["1<-0", "2<-0"]


def oneshot_run(directory: Path, epochs: int) -> None:
    """A one-shot run's database as a finished search leaves it, without training anything."""
    store = Store(directory, create=True)
    try:
        store.set_meta("kind", "oneshot")
        config = {"method": "asng", "space": "nb201", "dataset": "digits", "seed": 3, "device": "cpu"}
        store.set_meta("oneshot_config", {**config, "epochs": epochs + 1})
        store.set_meta("op_names", OPS)
        store.set_meta("edge_names", EDGES)
        for epoch in range(epochs):
            record = EpochRecord(
                epoch=epoch,
                metrics={
                    "train_loss": 1.0 / (epoch + 1),
                    "valid_acc": 0.5,
                    "entropy": 1.0,
                    "skip_none_mass": 0.1,
                },
                probabilities=[[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]],
                arch=Architecture("nb201", ("nor_conv_3x3", "none")),
                arch_str="|nor_conv_3x3~0|+|none~0|",
                wall_s=2.5,
            )
            store.add_epoch(record, {"epoch": epoch})
    finally:
        store.close()


def test_a_oneshot_run_gets_its_heat_map_curves_and_epoch_table(tmp_path: Path) -> None:
    oneshot_run(tmp_path, epochs=2)
    index = write_report(tmp_path)
    page = index.read_text(encoding="utf-8")
    assert index == tmp_path / "report" / "index.html"
    assert f'<img src="{HEATMAP_PNG}"' in page and f'<img src="{CURVES_PNG}"' in page
    assert "archsearch one-shot run" in page and "2 of 3 finished" in page
    assert (
        "The run is unfinished; after epoch 2 the derived cell is <code>|nor_conv_3x3~0|+|none~0|</code>"
        in page
    )
    assert (tmp_path / "report" / HEATMAP_PNG).stat().st_size > 1000


def test_a_oneshot_run_with_no_epoch_says_so(tmp_path: Path) -> None:
    oneshot_run(tmp_path, epochs=0)
    page = write_report(tmp_path, tmp_path / "out").read_text(encoding="utf-8")
    assert page.count('<p class="note">No finished epoch yet.</p>') == 2

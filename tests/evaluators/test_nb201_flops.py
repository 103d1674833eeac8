"""NB201 FLOPs in closed form equal a hook count (``count_macs``) on the built network; the tabular evaluator reports
latency on a named HELP device."""

from __future__ import annotations

import numpy as np
import pytest

from archsearch.cli import main
from archsearch.errors import ConfigError
from archsearch.evaluators.latency import count_macs
from archsearch.evaluators.nb201_flops import flops, flops_m_table
from archsearch.evaluators.nb201_table import load_table
from archsearch.evaluators.tabular import TabularEvaluator
from archsearch.spaces.nb201 import NB201Space


@pytest.mark.parametrize(
    ("index", "shape", "classes", "channels", "cells"),
    [(6111, (3, 32, 32), 10, 8, 2), (857, (3, 16, 16), 120, 16, 1), (42, (1, 7, 9), 3, 4, 1)],
)
def test_closed_form_flops_equal_a_count_on_the_built_network(index, shape, classes, channels, cells):
    space = NB201Space(channels=channels, cells_per_stage=cells)
    arch = space.from_index(index)
    expected = count_macs(space.build(arch, shape, classes), shape)
    assert flops(arch.values, shape, classes, channels, cells) == expected


def test_flops_table_spans_nb201s_published_range():
    column = flops_m_table((3, 32, 32), 10)
    # NAS-Bench-201 reports 7.78 to 220.11 MFLOPs for CIFAR-10 cells.
    assert column.min() == pytest.approx(7.78304) and column.max() == pytest.approx(220.11968)


def test_tabular_evaluator_reports_latency_on_the_chosen_device():
    space = NB201Space()
    result = TabularEvaluator(device="eyeriss").evaluate(space, space.from_index(42), 0)
    assert result.metrics["latency_ms"] == pytest.approx(
        float(load_table("cifar10").latency_ms("eyeriss")[42])
    )
    assert "flops_m" in result.metrics
    assert len(load_table("cifar10").help_devices) == 27


def test_unknown_device_is_a_one_line_error_listing_devices(tmp_path, capsys):
    with pytest.raises(ConfigError, match="unknown latency device 'pixel9'.*pixel3"):
        TabularEvaluator(device="pixel9")
    with pytest.raises(SystemExit) as exit_info:
        main(["search", "--space", "nb201", "--device", "pixel9", "--quiet", "-o", str(tmp_path / "s")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "unknown latency device 'pixel9'" in err and len(err.splitlines()) == 1


def test_the_table_equals_the_formula_cell_by_cell():
    space, rng = NB201Space(), np.random.default_rng(0)
    column = flops_m_table((3, 16, 16), 120)
    for index in rng.integers(0, len(column), size=300):
        assert column[index] * 1e6 == pytest.approx(
            flops(space.from_index(int(index)).values, (3, 16, 16), 120)
        )

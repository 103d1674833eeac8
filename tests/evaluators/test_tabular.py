"""TabularEvaluator and NB201Table: the packaged NAS-Bench-201 data and the query protocol."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest

from archsearch.core import Result
from archsearch.errors import ConfigError
from archsearch.evaluators.nb201_table import DATASETS, NB201Table, Optimum, load_table, optimum
from archsearch.evaluators.tabular import TabularEvaluator
from archsearch.spaces.nb201 import NUM_ARCHS, NB201Space

SPACE = NB201Space()

# The optima table of ../shared/benchmarks/README.md (200-epoch seed means, percent).
KNOWN_OPTIMA = [
    ("cifar10", "val_acc_200ep", 6111, 91.6067),
    ("cifar10", "test_acc_200ep", 6111, 94.3733),
    ("cifar100", "val_acc_200ep", 9930, 73.4933),
    ("cifar100", "test_acc_200ep", 9930, 73.5133),
    ("imagenet16", "val_acc_200ep", 10676, 46.7333),
    ("imagenet16", "test_acc_200ep", 857, 47.3111),
    # 12-epoch maxima, from the SOURCE.md of nb201-merged.
    ("cifar10", "val_acc_12ep", 13714, 84.892),
    ("cifar10", "test_acc_12ep", 5374, 89.16),
    ("imagenet16", "val_acc_12ep", 2581, 38.6667),
]


def test_packaged_table_loads_without_the_shared_folder(tmp_path) -> None:
    # A fresh interpreter in an empty directory: only the installed package is there to read.
    code = "from archsearch.evaluators.tabular import optimum; print(optimum('cifar10').index)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "6111"


def test_known_optimum_6111_reports_cifar10_test_94_37() -> None:
    result = TabularEvaluator(dataset="cifar10").evaluate(SPACE, SPACE.from_index(6111), seed=0)
    assert result.ok
    assert round(result.metrics["test_acc"] * 100, 2) == 94.37
    assert round(result.metrics["test_acc"] * 100, 4) == 94.3733
    assert round(result.metrics["val_acc_200ep"] * 100, 4) == 91.6067


@pytest.mark.parametrize(("dataset", "metric", "index", "value"), KNOWN_OPTIMA)
def test_optima_of_the_benchmark_readme_come_back(
    dataset: str, metric: str, index: int, value: float
) -> None:
    best = optimum(dataset, metric)
    assert isinstance(best, Optimum)
    assert best.index == index
    assert round(best.value, 4) == value


def test_optimum_defaults_to_the_reported_number() -> None:
    assert optimum("cifar100") == optimum("cifar100", "test_acc_200ep")


def test_cost_is_12_of_200_epochs_of_training_time() -> None:
    table = load_table("cifar100")
    for epochs in (12, 200):
        evaluator = TabularEvaluator(dataset="cifar100", epochs=epochs)
        for index in (0, 1, 9930):
            result = evaluator.evaluate(SPACE, SPACE.from_index(index), seed=1)
            assert result.cost_s == pytest.approx(epochs / 200 * table.train_time_200ep_s[index], rel=1e-12)
    # Arch 1 on cifar10-valid: 10.8482 s per epoch in NATS (nb201-merged/SOURCE.md).
    assert load_table("cifar10").cost_s(1) == pytest.approx(12 * 10.8482, abs=1e-3)


def test_metrics_are_fractions_from_the_right_runs() -> None:
    table = load_table("imagenet16")
    result = TabularEvaluator(dataset="imagenet16", noise="none").evaluate(
        SPACE, SPACE.from_index(857), seed=5
    )
    assert result.metrics["val_acc"] == pytest.approx(table.val_acc_12ep[857] / 100)
    assert result.metrics["test_acc"] == pytest.approx(0.473111, abs=1e-6)
    assert result.metrics["params_mb"] == pytest.approx(table.params_mb[857])
    assert result.metrics["latency_s"] == pytest.approx(table.latency_s[857])
    assert all(0 <= result.metrics[k] <= 1 for k in ("val_acc", "test_acc", "val_acc_200ep"))


def test_cifar10_searches_on_cifar10_valid_and_reports_cifar10() -> None:
    # Arch 0, row 0 of nb201_cifar10.csv: valid 12ep 63.364 (cifar10-valid), test 200ep 85.863333 (cifar10).
    result = TabularEvaluator(noise="none").evaluate(SPACE, SPACE.from_index(0), seed=0)
    assert result.metrics["val_acc"] == pytest.approx(0.63364)
    assert result.metrics["test_acc"] == pytest.approx(0.85863333)


def test_same_seed_gives_the_same_result() -> None:
    evaluator = TabularEvaluator()
    arch = SPACE.from_index(1)
    assert evaluator.evaluate(SPACE, arch, 7) == evaluator.evaluate(SPACE, arch, 7)
    assert pickle.loads(pickle.dumps(evaluator)).evaluate(SPACE, arch, 7) == evaluator.evaluate(
        SPACE, arch, 7
    )


def test_seed_noise_draws_a_recorded_seed_around_the_12_epoch_mean() -> None:
    table = load_table("cifar10")
    index = 1  # 3 seeds: 200-epoch deviations +0.110667, -0.057333, -0.053333 from their mean
    evaluator = TabularEvaluator()
    values = np.array(
        [evaluator.evaluate(SPACE, SPACE.from_index(index), s).metrics["val_acc"] for s in range(3000)]
    )
    expected = (table.val_acc_12ep[index] + table.seed_deviation[index, :3]) / 100
    assert np.allclose(np.unique(values), np.sort(expected))
    counts = [np.sum(np.isclose(values, v)) for v in expected]
    assert min(counts) > 900  # each seed drawn about a third of the time
    assert np.mean(values) == pytest.approx(
        table.val_acc_12ep[index] / 100, abs=3 * np.std(values) / np.sqrt(3000)
    )
    # Over its seeds, the expected search signal is exactly the 12-epoch mean.
    assert np.mean(expected) == pytest.approx(table.val_acc_12ep[index] / 100, abs=1e-12)


def test_vectorised_seed_noise_averages_to_the_mean_of_every_cell() -> None:
    table = load_table("cifar100")
    indices = np.arange(NUM_ARCHS)
    rng = np.random.default_rng(0)
    draws = np.stack([table.search_signal(indices, 12, rng) for _ in range(64)])
    error = draws.mean(axis=0) - table.val_acc_12ep
    spread = np.nanstd(table.val_acc_200ep_seeds, axis=1)
    assert np.mean(np.abs(error) <= 3 * spread / np.sqrt(64) + 1e-9) > 0.99
    assert abs(np.mean(error)) < 0.01
    # Every draw is the 12-epoch mean plus one of the cell's recorded 200-epoch seed deviations.
    offsets = draws[0] - table.val_acc_12ep
    assert np.all(np.isclose(offsets[:, None], table.seed_deviation).any(axis=1))
    assert np.array_equal(table.search_signal(indices, 12), table.val_acc_12ep)


def test_200_epoch_signal_is_one_of_the_recorded_seeds() -> None:
    table = load_table("cifar10")
    evaluator = TabularEvaluator(epochs=200)
    for seed in range(20):
        value = evaluator.evaluate(SPACE, SPACE.from_index(6111), seed).metrics["val_acc"] * 100
        assert np.isclose(value, table.val_acc_200ep_seeds[6111]).any()
    mean = TabularEvaluator(epochs=200, noise="none").evaluate(SPACE, SPACE.from_index(6111), 0)
    assert round(mean.metrics["val_acc"] * 100, 4) == 91.6067


def test_latency_devices_are_reported_in_ms() -> None:
    table = load_table("cifar10")
    assert len(table.help_devices) == 27
    result = TabularEvaluator(latency_device=["pixel3", "fpga"]).evaluate(SPACE, SPACE.from_index(0), 0)
    assert result.metrics["latency_ms_pixel3"] == pytest.approx(3.60585, rel=1e-6)
    assert result.metrics["latency_ms_fpga"] == pytest.approx(2.57296, rel=1e-6)
    single = TabularEvaluator(latency_device="1080ti_1").evaluate(SPACE, SPACE.from_index(0), 0)
    assert single.metrics["latency_ms_1080ti_1"] == pytest.approx(10.7544, rel=1e-5)


def test_table_arrays_are_read_only_and_shared() -> None:
    table = load_table("cifar10")
    assert isinstance(table, NB201Table)
    assert load_table("cifar10") is table
    with pytest.raises(ValueError):
        table.test_acc_200ep[0] = 100.0
    assert table.val_acc_200ep_seeds.shape == (NUM_ARCHS, 3)
    assert set(np.unique(table.seed_count)) == {2, 3}


@pytest.mark.parametrize(
    "options",
    [
        {"dataset": "imagenet"},
        {"dataset": "cifar-10"},
        {"epochs": 50},
        {"epochs": True},
        {"noise": "gauss"},
        {"latency_device": "tpu"},
        {"latency_device": 3},
    ],
)
def test_bad_options_are_config_errors(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        TabularEvaluator(**options)  # type: ignore[arg-type]


def test_bad_dataset_or_metric_for_optimum_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cifar10, cifar100, imagenet16"):
        optimum("svhn")
    with pytest.raises(ConfigError, match="metric"):
        optimum("cifar10", "latency_s")


def test_other_spaces_are_a_config_error(toy_space) -> None:
    arch = toy_space.sample(np.random.default_rng(0))
    with pytest.raises(ConfigError, match="nb201"):
        TabularEvaluator().evaluate(toy_space, arch, 0)


def test_every_dataset_evaluates_every_index_range_end() -> None:
    for dataset in DATASETS:
        evaluator = TabularEvaluator(dataset=dataset)
        for index in (0, NUM_ARCHS - 1):
            result = evaluator.evaluate(SPACE, SPACE.from_index(index), seed=index)
            assert isinstance(result, Result) and result.ok and result.cost_s > 0

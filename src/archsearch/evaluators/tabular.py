"""NAS-Bench-201 as a tabular benchmark: look a cell up instead of training it, on a simulated clock.

Protocol of the published NB201 / NATS-Bench searches (Dong & Yang, ICLR 2020; Dong et al., TPAMI 2021;
AutoDL-Projects ``exps/NAS-Bench-201-algos/R_EA.py``), as recorded in ../shared/benchmarks/README.md:
the search signal is the 12-epoch ("hp=12") validation accuracy of one random training seed, each query
costs the simulated time of that 12-epoch training, and the reported number is the 200-epoch test
accuracy (seed mean) of the final cell. On CIFAR-10 the search signal and the cost come from the
``cifar10-valid`` run (trained on 25k images), the reported number from the ``cifar10`` run (trained on
50k, tested on the 10k test set).

The table itself (``NB201Table``, ``load_table``, ``optimum``) is ``nb201_table.py``'s; its names are
given here too, where they have always been imported from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from archsearch import reporting
from archsearch.core import Architecture, Evaluator, Result, SearchSpace
from archsearch.errors import ConfigError
from archsearch.evaluators.nb201_flops import flops_m_table
from archsearch.evaluators.nb201_table import (
    DATA_SHAPES,
    DATASETS,
    EPOCHS,
    NB201Table,
    Optimum,
    check_choice,
    load_table,
    optimum,
)
from archsearch.spaces.nb201 import NB201Space

__all__ = ["DATASETS", "NOISE_MODELS", "NB201Table", "Optimum", "TabularEvaluator", "load_table", "optimum"]

NOISE_MODELS = ("seed", "none")


class TabularEvaluator(Evaluator):
    """Looks NAS-Bench-201 cells up in the packaged table (Dong & Yang, ICLR 2020), on a simulated clock.

    ``dataset``: "cifar10", "cifar100" or "imagenet16" (ImageNet16-120). ``epochs``: 12 (the papers'
    search signal) or 200. ``noise``: "seed" draws one training seed per query with the trial seed, as the
    papers' searches do (``is_random=True``); "none" returns seed means. For 12 epochs only seed means exist,
    so "seed" adds the drawn seed's 200-epoch deviation from its seed mean (``NB201Table.search_signal``).
    ``latency_device``: one HELP device name or a list of them, each reported as ``latency_ms_<device>``.
    ``device``: the HELP device (e.g. ``pixel3``; ``load_table().help_devices`` lists the 27) whose latency is reported
    as ``latency_ms``, the metric multi-objective searches and the MnasNet reward use by default.

    Metrics (accuracies as fractions in [0, 1], like ``TrainingEvaluator``): ``val_acc`` (the search
    signal), ``test_acc`` (200-epoch test accuracy, seed mean: the number to report), ``val_acc_200ep``
    (seed mean), ``params_mb`` (millions of parameters), ``flops_m`` (millions of multiply-accumulates,
    closed form: ``nb201_flops.py``), ``latency_s`` (NATS). ``cost_s`` is the simulated
    training time, ``epochs / 200`` of the 200-epoch time (evaluation time left out). Results depend only
    on the cell and the seed.

    Multi-fidelity (a study with a pruner; resources are epochs, ``max_resource`` 200): the table has two
    fidelities, so a trial reports its 12-epoch ``val_acc`` at resource 12 and, unless the pruner stops it
    there (status "pruned", the 12-epoch metrics, cost the 12-epoch time), its 200-epoch ``val_acc`` (the
    same drawn training seed) at resource 200, which becomes its ``val_acc``; it then costs the 12-epoch
    time plus the 200-epoch time, as the 200-epoch run retrains from scratch (BOHB's and Hyperband's
    budgets on NB201 do). ``epochs`` is then not used. Without a pruner a trial is one lookup as above.
    """

    min_resource: ClassVar[float] = 12.0
    """The first resource a trial reports with a pruner: 12 epochs (the table's first fidelity; a
    pruner's rungs below it are all decided by that one report)."""
    max_resource: ClassVar[float] = 200.0
    """The resource of a fully trained cell: 200 epochs (the table's second fidelity)."""

    def __init__(
        self,
        dataset: str = "cifar10",
        epochs: int = 12,
        noise: str = "seed",
        latency_device: str | Sequence[str] | None = None,
        device: str | None = None,
    ) -> None:
        self.dataset = check_choice("dataset", dataset, DATASETS)
        self.epochs = check_choice("epochs", epochs, EPOCHS)
        self.noise = check_choice("noise", noise, NOISE_MODELS)
        if latency_device is None:
            devices: tuple[str, ...] = ()
        elif isinstance(latency_device, str):
            devices = (latency_device,)
        elif isinstance(latency_device, Sequence) and all(isinstance(d, str) for d in latency_device):
            devices = tuple(latency_device)
        else:
            raise ConfigError(
                f"latency_device must be a device name or a list of them, got {latency_device!r}"
            )
        self.latency_devices = devices
        self.device = device
        if device is not None and not isinstance(device, str):
            raise ConfigError(f"device must be a HELP device name, got {device!r}")
        if devices or device is not None:
            table = load_table(dataset)
            for name in (*devices, *([device] if device is not None else [])):
                table.latency_ms(name)  # a ConfigError naming the devices when unknown

    def prepare(self) -> None:
        load_table(self.dataset)

    def metric_column(self, metric: str) -> np.ndarray | None:
        """The noise-free value of ``metric`` for every cell (index order), as ``evaluate`` reports it;
        None for a metric it does not report. The true Pareto front is computed from these columns."""
        table = load_table(self.dataset)
        epochs_column = table.val_acc_12ep if self.epochs == 12 else table.val_acc_200ep
        columns = {
            "val_acc": lambda: epochs_column / 100,
            "test_acc": lambda: table.test_acc_200ep / 100,
            "val_acc_200ep": lambda: table.val_acc_200ep / 100,
            "params_mb": lambda: table.params_mb,
            "latency_s": lambda: table.latency_s,
            "flops_m": lambda: flops_m_table(*DATA_SHAPES[self.dataset]),
        }
        if self.device is not None:
            columns["latency_ms"] = lambda: table.latency_ms(self.device or "")
        for device in self.latency_devices:
            columns[f"latency_ms_{device}"] = lambda device=device: table.latency_ms(device)  # type: ignore[misc]
        return np.asarray(columns[metric](), dtype=np.float64) if metric in columns else None

    def data_shape(self) -> tuple[tuple[int, ...], int]:
        """Input shape and classes of the images the table's networks were trained on (for export)."""
        return DATA_SHAPES[self.dataset]

    def evaluate(self, space: SearchSpace, arch: Architecture, seed: int) -> Result:
        """Look ``arch`` up; the training seed (noise "seed") is drawn from ``seed`` and the cell index."""
        if not isinstance(space, NB201Space):
            raise ConfigError(
                f"the tabular evaluator looks up NAS-Bench-201 cells; use space nb201, not {space.name!r}"
            )
        index = space.index(arch)
        table = load_table(self.dataset)
        channel = reporting.current()
        if channel is not None and getattr(channel, "decides", True):
            return self._two_fidelities(index, seed)
        rng = self._rng(index, seed)
        metrics = self._metrics(index, float(table.search_signal(index, self.epochs, rng)) / 100)
        return Result(metrics=metrics, cost_s=float(table.cost_s(index, self.epochs)))

    def _rng(self, index: int, seed: int) -> np.random.Generator | None:
        """The draw of the training seed (noise "seed"), from ``seed`` and the cell index."""
        return np.random.default_rng([index, seed % 2**64]) if self.noise == "seed" else None

    def _metrics(self, index: int, val_acc: float) -> dict[str, float]:
        table = load_table(self.dataset)
        metrics = {
            "val_acc": val_acc,
            "test_acc": float(table.test_acc_200ep[index]) / 100,
            "val_acc_200ep": float(table.val_acc_200ep[index]) / 100,
            "params_mb": float(table.params_mb[index]),
            "latency_s": float(table.latency_s[index]),
        }
        metrics["flops_m"] = float(flops_m_table(*DATA_SHAPES[self.dataset])[index])
        if self.device is not None:
            metrics["latency_ms"] = float(table.latency_ms(self.device)[index])
        for device in self.latency_devices:
            metrics[f"latency_ms_{device}"] = float(table.latency_ms(device)[index])
        return metrics

    def _two_fidelities(self, index: int, seed: int) -> Result:
        """Report the 12-epoch signal at resource 12; stopped there: pruned; else the 200-epoch one."""
        table = load_table(self.dataset)
        early = float(table.search_signal(index, 12, self._rng(index, seed))) / 100
        cost_12 = float(table.cost_s(index, 12))
        if reporting.report(1, {"val_acc": early}, 12.0):
            metrics = {**self._metrics(index, early), "epochs": 12.0, "resource": 12.0}
            return Result(
                metrics=metrics,
                cost_s=cost_12,
                status="pruned",
                error="pruned after 12 of 200 epochs",
                curve={"val_acc": [early]},
            )
        final = float(table.search_signal(index, 200, self._rng(index, seed))) / 100
        reporting.report(2, {"val_acc": final}, 200.0)  # trained to the end: nothing left to stop
        metrics = {**self._metrics(index, final), "epochs": 200.0}
        return Result(
            metrics=metrics,
            cost_s=cost_12 + float(table.cost_s(index, 200)),
            curve={"val_acc": [early, final]},
        )

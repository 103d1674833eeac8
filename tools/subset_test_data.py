"""Cut the small real data sets that the test suite ships from the full files of ../shared.

Usage: ``python tools/subset_test_data.py [--shared ../shared] [--out tests/real_data]``

Writes
- ``fashion-mnist/``: the first TRAIN_PER_CLASS training and TEST_PER_CLASS test images of each class in
  CLASSES (in the order of the original files), as the four standard IDX files, gzipped (mtime 0, so the
  bytes are reproducible);
- ``nb201_index.csv``: ``arch_index``, ``arch_str`` and ``op_code`` of the NAS-Bench-201 rows in
  ``nb201_rows()`` (from ``benchmarks/nb201-merged/nb201_cifar10.csv``; no value changed).

Origins and licences are in the SOURCE.md beside the files; docs/data.md lists them.
"""

from __future__ import annotations

import argparse
import csv
import gzip
from pathlib import Path

import numpy as np

from archsearch.data.images import read_idx

CLASSES = (0, 1)
"""T-shirt/top and Trouser: the pair the AutoML-Zero task test separates."""
TRAIN_PER_CLASS = 200
TEST_PER_CLASS = 100
NB201_STRIDE = 25
NB201_NAMED = (296, 737, 857, 1459, 2581, 5374, 6111, 9930, 10165, 10676, 13714, 15624)
"""Cells the tests and the benchmark README name (optima, disputed parameter counts) and the last one."""


def nb201_rows() -> list[int]:
    """Every row of the first 125 (all values of the last three edges), one in NB201_STRIDE, and the named ones."""
    return sorted(set(range(125)) | set(range(0, 15625, NB201_STRIDE)) | set(NB201_NAMED))


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes((0, 0, 0x08, array.ndim)) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as handle:
        handle.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def subset_fashion_mnist(source: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for prefix, per_class in (("train", TRAIN_PER_CLASS), ("t10k", TEST_PER_CLASS)):
        images = read_idx(source / f"{prefix}-images-idx3-ubyte.gz", ndim=3)
        labels = read_idx(source / f"{prefix}-labels-idx1-ubyte.gz", ndim=1)
        keep = np.sort(np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in CLASSES]))
        write_idx(out / f"{prefix}-images-idx3-ubyte.gz", images[keep])
        write_idx(out / f"{prefix}-labels-idx1-ubyte.gz", labels[keep])


def subset_nb201(source: Path, out: Path) -> None:
    wanted = set(nb201_rows())
    with source.open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if int(row["arch_index"]) in wanted]
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["arch_index", "arch_str", "op_code"])
        writer.writerows([row["arch_index"], row["arch_str"], row["op_code"]] for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--out", type=Path, default=Path("tests/real_data"))
    args = parser.parse_args()
    subset_fashion_mnist(args.shared / "data" / "fashion-mnist", args.out / "fashion-mnist")
    subset_nb201(
        args.shared / "benchmarks" / "nb201-merged" / "nb201_cifar10.csv", args.out / "nb201_index.csv"
    )


if __name__ == "__main__":
    main()

"""CIFAR-10's python batches are pickles by format: they are read without running code."""

from __future__ import annotations

import os
import pickle
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from archsearch.data.images import CIFAR10_FILES, load_images
from archsearch.errors import DataError


def _batch(index: int) -> dict[bytes, Any]:
    data = np.random.default_rng(index).integers(0, 256, size=(2, 3072), dtype=np.uint8)
    name = CIFAR10_FILES[index].encode()
    return {
        b"batch_label": name,
        b"labels": [index % 10, 3],
        b"data": data,
        b"filenames": [b"a.png", b"b.png"],
    }


def _write_batches(directory: Path, protocol: int, numpy1_names: bool = False) -> None:
    for index, name in enumerate(CIFAR10_FILES):
        blob = pickle.dumps(_batch(index), protocol=protocol)
        if numpy1_names:  # the module numpy 1 (and the real batches) name: numpy.core, not numpy._core
            blob = blob.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
        (directory / name).write_bytes(blob)


@pytest.mark.parametrize(("protocol", "numpy1_names"), [(2, True), (2, False), (4, False), (5, False)])
def test_batches_of_every_pickle_protocol_load(tmp_path: Path, protocol: int, numpy1_names: bool) -> None:
    _write_batches(tmp_path, protocol, numpy1_names)
    data = load_images("cifar10", tmp_path)
    assert data.train_x.shape == (10, 3, 32, 32) and data.test_x.shape == (2, 3, 32, 32)
    assert data.train_y.tolist() == [0, 3, 1, 3, 2, 3, 3, 3, 4, 3]
    assert data.test_y.tolist() == [5, 3]


class _Open:
    """Unpickling it would create ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (open, (str(self.path), "w"))


class _System:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (os.system, (f"touch {self.path}",))


class _Subprocess:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (subprocess.call, (["touch", str(self.path)],))


@pytest.mark.parametrize("payload", [_Open, _System, _Subprocess])
@pytest.mark.parametrize("where", ["whole", "labels", "data"])
def test_a_batch_that_would_run_code_is_refused_and_runs_nothing(
    tmp_path: Path, payload: type, where: str
) -> None:
    _write_batches(tmp_path, protocol=2)
    target = tmp_path / "pwned"
    batch: Any = _batch(2)
    if where == "whole":
        batch = payload(target)
    elif where == "labels":
        batch[b"labels"] = [1, payload(target)]
    else:
        batch[b"data"] = payload(target)
    (tmp_path / CIFAR10_FILES[2]).write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(
        DataError, match=r"data_batch_3: not a CIFAR-10 python batch .*nothing else is loaded"
    ):
        load_images("cifar10", tmp_path)
    assert not target.exists()


def test_a_batch_that_is_not_a_dict_is_refused(tmp_path: Path) -> None:
    _write_batches(tmp_path, protocol=2)
    (tmp_path / CIFAR10_FILES[0]).write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(DataError, match="data_batch_1: not a CIFAR-10 python batch .*not a dict"):
        load_images("cifar10", tmp_path)

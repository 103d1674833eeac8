"""Image classification data sets as in-memory tensors: digits (built in), MNIST, Fashion-MNIST, CIFAR-10.

MNIST and Fashion-MNIST are read from the standard IDX files (LeCun et al. 1998; Xiao et al. 2017),
CIFAR-10 from the standard python batches (Krizhevsky 2009). Nothing is downloaded: the files are
given as a directory.
"""

from __future__ import annotations

import gzip
import math
import pickle
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from archsearch.data.locate import find_directory
from archsearch.errors import ConfigError, DataError

KNOWN_DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10")
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
CIFAR10_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
CIFAR10_SUBDIR = "cifar-10-batches-py"
# Where Debian's `dataset-fashion-mnist` package installs the four IDX files.
FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_HINT = "`apt-get install dataset-fashion-mnist` puts them in /usr/share/datasets/fashion-mnist"
NUM_CLASSES = 10
DIGITS_TEST_FRACTION = 0.2
DIGITS_SPLIT_SEED = 0
DIGITS_MAX_VALUE = 16.0
CIFAR10_SHAPE = (3, 32, 32)


@dataclass(frozen=True, eq=False)
class ImageData:
    """A classification data set: float32 images (N, C, H, W) normalised per channel, int64 labels.

    The mean and standard deviation of each channel come from the (possibly limited) training set and
    are applied to both sets. Instances are cached and shared within a process: do not modify the tensors.
    """

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    name: str

    @property
    def input_shape(self) -> tuple[int, int, int]:
        channels, height, width = self.train_x.shape[1:]
        return (int(channels), int(height), int(width))


def load_images(name: str, data_dir: str | Path | None = None, train_limit: int | None = None) -> ImageData:
    """Load data set ``name`` (one of KNOWN_DATASETS), keeping the first ``train_limit`` training images.

    ``digits`` is scikit-learn's built-in 8x8 digits with a fixed stratified 80/20 split (seed 0).
    ``mnist`` and ``fashion-mnist`` read the four IDX files (gzipped or not) from ``data_dir`` (or
    ``data_dir/<name>``); ``fashion-mnist`` defaults to /usr/share/datasets/fashion-mnist.
    ``cifar10`` reads ``data_batch_1..5`` and ``test_batch`` from ``data_dir`` or
    ``data_dir/cifar-10-batches-py``. Results are cached per process.
    """
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in KNOWN_DATASETS:
        raise ConfigError(f"unknown data set {name!r}; known: {', '.join(KNOWN_DATASETS)}")
    if train_limit is not None and (
        isinstance(train_limit, bool) or not isinstance(train_limit, int) or train_limit < 1
    ):
        raise ConfigError(f"train_limit must be a positive integer or None, got {train_limit!r}")
    directory = None if key == "digits" else str(_find_directory(key, data_dir))
    return _load_cached(key, directory, train_limit)


@lru_cache(maxsize=2)
def _load_cached(name: str, directory: str | None, train_limit: int | None) -> ImageData:
    if name == "digits":
        train_x, train_y, test_x, test_y = _read_digits()
    elif name == "cifar10":
        assert directory is not None
        train_x, train_y, test_x, test_y = _read_cifar10(Path(directory))
    else:
        assert directory is not None
        train_x, train_y, test_x, test_y = _read_idx_set(Path(directory))
    if train_limit is not None:
        train_x, train_y = train_x[:train_limit], train_y[:train_limit]
    return _as_image_data(name, train_x, train_y, test_x, test_y)


def _expected_files(name: str) -> tuple[str, ...]:
    return CIFAR10_FILES if name == "cifar10" else IDX_FILES


def _find_file(directory: Path, filename: str, allow_gzip: bool) -> Path | None:
    plain = directory / filename
    if plain.is_file():
        return plain
    zipped = directory / (filename + ".gz")
    if allow_gzip and zipped.is_file():
        return zipped
    return None


def _find_directory(name: str, data_dir: str | Path | None) -> Path:
    """The first candidate directory that holds every file of ``name``; DataError naming them otherwise."""
    expected = _expected_files(name)
    allow_gzip = name != "cifar10"
    hint = f"; {FASHION_MNIST_HINT}" if name == "fashion-mnist" else ""
    wanted = ", ".join(expected) + (" (each may be gzipped, .gz)" if allow_gzip else "")
    if data_dir is None:
        if name != "fashion-mnist":
            raise DataError(f"{name}: no data directory given; pass data_dir holding {wanted}")
        base = FASHION_MNIST_SYSTEM_DIR
    else:
        base = Path(data_dir).expanduser()
    subdir = CIFAR10_SUBDIR if name == "cifar10" else name
    return find_directory(
        name,
        base,
        [base, base / subdir],
        expected,
        lambda directory, filename: _find_file(directory, filename, allow_gzip) is not None,
        wanted,
        f"{subdir}/{hint}",
    )


def _read_digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / DIGITS_MAX_VALUE).astype(np.float32)[:, None, :, :]
    labels = digits.target.astype(np.int64)
    train_idx, test_idx = train_test_split(
        np.arange(len(labels)),
        test_size=DIGITS_TEST_FRACTION,
        stratify=labels,
        random_state=DIGITS_SPLIT_SEED,
    )
    return images[train_idx], labels[train_idx], images[test_idx], labels[test_idx]


def read_idx(path: str | Path, ndim: int) -> np.ndarray:
    """The uint8 array stored in IDX file ``path`` (gzipped when it ends in .gz), which must have ``ndim`` dims.

    IDX: magic number 0x00 0x00 0x08 (unsigned byte) ndim, then ndim big-endian uint32 sizes, then data.
    """
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                raw = handle.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read IDX file: {exc}") from exc
    magic = bytes((0, 0, 0x08, ndim))
    if raw[:4] != magic:
        raise DataError(
            f"{path}: not an IDX file of {ndim}-d unsigned bytes "
            f"(magic number 0x{raw[:4].hex()}, expected 0x{magic.hex()})"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: IDX header is truncated ({len(raw)} bytes)")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    size = math.prod(dims)
    if len(raw) - header != size:
        raise DataError(
            f"{path}: IDX header promises {dims} = {size} bytes of data, found {len(raw) - header}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _check_labels(path: Path, labels: np.ndarray, count: int) -> np.ndarray:
    if len(labels) != count:
        raise DataError(f"{path}: {len(labels)} labels for {count} images")
    if len(labels) and int(labels.max()) >= NUM_CLASSES:
        raise DataError(f"{path}: label {int(labels.max())} is outside 0..{NUM_CLASSES - 1}")
    return labels.astype(np.int64)


def _read_idx_set(directory: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    arrays: list[np.ndarray] = []
    for prefix in ("train", "t10k"):
        images_path = _find_file(directory, f"{prefix}-images-idx3-ubyte", allow_gzip=True)
        labels_path = _find_file(directory, f"{prefix}-labels-idx1-ubyte", allow_gzip=True)
        assert images_path is not None and labels_path is not None
        images = read_idx(images_path, ndim=3)
        labels = _check_labels(labels_path, read_idx(labels_path, ndim=1), len(images))
        arrays += [(images.astype(np.float32) / 255.0)[:, None, :, :], labels]
    train_x, train_y, test_x, test_y = arrays
    return train_x, train_y, test_x, test_y


# What CIFAR-10's python batches (dicts of bytes -> bytes, lists and uint8 arrays) need from find_class:
# numpy's array and dtype reconstruction, under its numpy 1 and 2 module names and for pickle protocols
# 2-5, and the bytes helper of protocol 2 pickles written by Python 3. Nothing else is ever imported.
_CIFAR_PICKLE_GLOBALS = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }
)


class _CifarUnpickler(pickle.Unpickler):
    """Reads a CIFAR-10 python batch (a pickle by its format) without running code: only the numpy array
    reconstruction in ``_CIFAR_PICKLE_GLOBALS`` may be named; any other global is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _CIFAR_PICKLE_GLOBALS:
            raise pickle.UnpicklingError(
                f"it names {module}.{name}; a CIFAR-10 batch holds only arrays, bytes, lists and dicts"
                " and nothing else is loaded"
            )
        return super().find_class(module, name)


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with path.open("rb") as handle:
            batch: Any = _CifarUnpickler(handle, encoding="bytes").load()
        if not isinstance(batch, dict):
            raise TypeError(f"it holds a {type(batch).__name__}, not a dict")
        data = np.asarray(batch[b"data"] if b"data" in batch else batch["data"])
        labels = np.asarray(batch[b"labels"] if b"labels" in batch else batch["labels"])
    except Exception as exc:  # a corrupt pickle raises almost any type
        raise DataError(f"{path}: not a CIFAR-10 python batch ({type(exc).__name__}: {exc})") from exc
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != math.prod(CIFAR10_SHAPE):
        raise DataError(
            f"{path}: b'data' must be uint8 of shape (N, 3072), got {data.dtype} {tuple(data.shape)}"
        )
    # Each row holds the red, then green, then blue 32x32 plane in row-major order.
    images = data.reshape(len(data), *CIFAR10_SHAPE)
    return images, _check_labels(path, labels.reshape(-1), len(images))


def _read_cifar10(directory: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    train = [_read_cifar_batch(directory / f) for f in CIFAR10_FILES[:-1]]
    test_images, test_y = _read_cifar_batch(directory / CIFAR10_FILES[-1])
    train_x = np.concatenate([images for images, _ in train]).astype(np.float32) / 255.0
    train_y = np.concatenate([labels for _, labels in train])
    return train_x, train_y, test_images.astype(np.float32) / 255.0, test_y


def _as_image_data(
    name: str, train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray
) -> ImageData:
    mean = train_x.mean(axis=(0, 2, 3), keepdims=True, dtype=np.float64).astype(np.float32)
    std = train_x.std(axis=(0, 2, 3), keepdims=True, dtype=np.float64).astype(np.float32)
    std = np.maximum(std, np.float32(1e-8))
    return ImageData(
        train_x=torch.from_numpy(np.ascontiguousarray((train_x - mean) / std, dtype=np.float32)),
        train_y=torch.from_numpy(np.ascontiguousarray(train_y, dtype=np.int64)),
        test_x=torch.from_numpy(np.ascontiguousarray((test_x - mean) / std, dtype=np.float32)),
        test_y=torch.from_numpy(np.ascontiguousarray(test_y, dtype=np.int64)),
        num_classes=NUM_CLASSES,
        name=name,
    )

"""Fashion-MNIST as numpy arrays, read from the four standard IDX files (gzipped or not).

The examples take a directory holding ``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
``t10k-images-idx3-ubyte[.gz]`` and ``t10k-labels-idx1-ubyte[.gz]``: the full set (Xiao et al. 2017,
github.com/zalandoresearch/fashion-mnist) or the 400-image slice that ships in ``tests/real_data``.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np

import archsearch

# Where the data lives when nothing is given: the full set beside the checkout, else the slice in the tests.
ROOT = Path(__file__).resolve().parents[1]
FULL_DATA = ROOT.parent / "shared" / "data" / "fashion-mnist"
SLICE_DATA = ROOT / "tests" / "real_data" / "fashion-mnist"
# Mean and standard deviation of Fashion-MNIST's training pixels (scaled to [0, 1]).
PIXEL_MEAN = 0.2860
PIXEL_STD = 0.3530


def default_directory(quick: bool) -> Path:
    """The slice for a quick run; otherwise the full files when they are beside the checkout, else the slice."""
    return SLICE_DATA if quick or not FULL_DATA.is_dir() else FULL_DATA


def read_idx(path: Path) -> np.ndarray:
    """One IDX file as an array: a 4-byte magic (two zero bytes, type 0x08 = uint8, number of dimensions),
    one big-endian int32 per dimension, then the data."""
    candidates = [path, path.with_name(path.name + ".gz")]
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        raise SystemExit(f"no {path.name}[.gz] in {path.parent}")
    raw = gzip.decompress(found.read_bytes()) if found.suffix == ".gz" else found.read_bytes()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_fashion_mnist(
    directory: str | Path, train_limit: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(train_x, train_y, test_x, test_y)``: float32 images of shape (N, 1, 28, 28), standardised, and
    int64 labels; ``train_limit`` keeps the first that many training images."""
    directory = Path(directory)
    train_x = read_idx(directory / "train-images-idx3-ubyte")[:train_limit]
    train_y = read_idx(directory / "train-labels-idx1-ubyte")[:train_limit]
    test_x = read_idx(directory / "t10k-images-idx3-ubyte")
    test_y = read_idx(directory / "t10k-labels-idx1-ubyte")

    def images(x: np.ndarray) -> np.ndarray:
        return ((x.astype(np.float32) / 255.0 - PIXEL_MEAN) / PIXEL_STD)[:, None]

    return images(train_x), train_y.astype(np.int64), images(test_x), test_y.astype(np.int64)


class FashionMNISTEvaluator(archsearch.ClassificationEvaluator):
    """``ClassificationEvaluator`` on the Fashion-MNIST files in ``data_dir``: the first ``train_limit``
    training images, the last fifth of them held out for validation, and the whole test set.

    A study stores how to make its evaluator again (``archsearch resume`` does). Arrays given to a plain
    ``ClassificationEvaluator`` are copied into the study's directory; this class instead reads the files
    itself and ``config()`` returns what it was made from (the directory and the options), which is what
    the search benchmark wants for its nine studies: nothing copied, and the pattern for any evaluator of
    your own.

    Args:
        data_dir: directory of the four IDX files.
        train_limit: keep the first that many training images (None: all 60,000).
        options: ``ClassificationEvaluator`` options (``epochs``, ``batch_size``, ``lr``, ``device``, ...).
    """

    def __init__(self, data_dir: str, train_limit: int | None = None, **options: Any) -> None:
        self.data_dir, self.train_limit, self.options = str(data_dir), train_limit, dict(options)
        train_x, train_y, test_x, test_y = load_fashion_mnist(data_dir, train_limit)
        cut = len(train_x) - len(train_x) // 5
        super().__init__(
            train=(train_x[:cut], train_y[:cut]),
            valid=(train_x[cut:], train_y[cut:]),
            test=(test_x, test_y),
            normalize=False,  # load_fashion_mnist standardised the pixels already
            **options,
        )

    def config(self) -> dict[str, Any]:
        return {"data_dir": self.data_dir, "train_limit": self.train_limit, **self.options}

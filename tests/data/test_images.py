from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from archsearch.data.images import CIFAR10_FILES, IDX_FILES, load_images, read_idx
from archsearch.errors import ConfigError, DataError

REPO_ROOT = Path(__file__).resolve().parents[2]
# Shipped with the tests: 200 training and 100 test images of classes 0 and 1 (tests/real_data/SOURCE.md).
SHIPPED_FASHION_MNIST = REPO_ROOT / "tests" / "real_data" / "fashion-mnist"
# The full files, where a checkout has ../shared beside it: extra coverage, never needed.
SHARED_FASHION_MNIST = REPO_ROOT / ".." / "shared" / "data" / "fashion-mnist"


def write_idx(path: Path, array: np.ndarray, gzipped: bool = False) -> None:
    header = bytes((0, 0, 0x08, array.ndim)) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if gzipped:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)


def write_mnist_like(directory: Path, gzipped: bool) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, size=(5, 6, 7), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.array([3, 1, 4, 1, 5], dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, size=(2, 6, 7), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.array([9, 2], dtype=np.uint8),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        write_idx(directory / name, array, gzipped)
    return arrays


def write_cifar_like(directory: Path) -> tuple[np.ndarray, list[int], np.ndarray, list[int]]:
    rng = np.random.default_rng(1)
    directory.mkdir(parents=True, exist_ok=True)
    train_data, train_labels = [], []
    for i, name in enumerate(CIFAR10_FILES):
        data = rng.integers(0, 256, size=(2, 3072), dtype=np.uint8)
        labels = [(2 * i) % 10, (2 * i + 1) % 10]
        batch = {b"batch_label": name.encode(), b"labels": labels, b"data": data, b"filenames": [b"a", b"b"]}
        with (directory / name).open("wb") as handle:
            pickle.dump(batch, handle, protocol=2)
        if name != "test_batch":
            train_data.append(data)
            train_labels += labels
        else:
            test_data, test_labels = data, labels
    return np.concatenate(train_data), train_labels, test_data, test_labels


def unnormalise(x: torch.Tensor, reference: np.ndarray) -> np.ndarray:
    """Map normalised images back to 0..1 using the statistics of ``reference`` (the raw train images)."""
    mean = reference.mean(axis=(0, 2, 3), keepdims=True)
    std = reference.std(axis=(0, 2, 3), keepdims=True)
    return x.numpy() * std + mean


def test_digits_has_fixed_stratified_80_20_split_of_8x8_images():
    data = load_images("digits")
    assert data.name == "digits" and data.num_classes == 10
    assert data.input_shape == (1, 8, 8)
    assert data.train_x.shape == (1437, 1, 8, 8) and data.test_x.shape == (360, 1, 8, 8)
    assert data.train_x.dtype == torch.float32 and data.train_y.dtype == torch.int64
    train_counts = torch.bincount(data.train_y, minlength=10).float()
    test_counts = torch.bincount(data.test_y, minlength=10).float()
    assert torch.all((test_counts / (train_counts + test_counts) - 0.2).abs() < 0.02)


def test_training_images_are_normalised_per_channel():
    data = load_images("digits")
    assert abs(data.train_x.mean().item()) < 1e-5
    assert abs(data.train_x.std().item() - 1.0) < 1e-3


def test_loading_twice_returns_the_cached_data():
    assert load_images("digits") is load_images("digits")


def test_train_limit_keeps_the_first_training_images():
    full = load_images("digits")
    limited = load_images("digits", train_limit=100)
    assert len(limited.train_x) == 100
    assert torch.equal(limited.train_y, full.train_y[:100])
    assert torch.equal(limited.test_y, full.test_y)


@pytest.mark.parametrize("limit", [0, -1, 2.5, True])
def test_bad_train_limit_raises_config_error(limit):
    with pytest.raises(ConfigError, match="train_limit"):
        load_images("digits", train_limit=limit)


def test_unknown_name_lists_the_known_data_sets():
    with pytest.raises(
        ConfigError, match="unknown data set 'imagenet'; known: digits, mnist, fashion-mnist, cifar10"
    ):
        load_images("imagenet")


@pytest.mark.parametrize("gzipped", [False, True])
def test_mnist_reader_loads_idx_files_with_their_values_and_labels(tmp_path, gzipped):
    arrays = write_mnist_like(tmp_path, gzipped)
    data = load_images("mnist", tmp_path)
    raw_train = arrays["train-images-idx3-ubyte"][:, None].astype(np.float64) / 255
    raw_test = arrays["t10k-images-idx3-ubyte"][:, None].astype(np.float64) / 255
    assert data.input_shape == (1, 6, 7)
    np.testing.assert_allclose(unnormalise(data.train_x, raw_train), raw_train, atol=1e-5)
    np.testing.assert_allclose(unnormalise(data.test_x, raw_train), raw_test, atol=1e-5)
    assert data.train_y.tolist() == [3, 1, 4, 1, 5]
    assert data.test_y.tolist() == [9, 2]


def test_idx_files_are_found_in_a_subdirectory_named_after_the_data_set(tmp_path):
    write_mnist_like(tmp_path / "fashion-mnist", gzipped=True)
    assert load_images("fashion-mnist", tmp_path).train_y.tolist() == [3, 1, 4, 1, 5]


def test_missing_idx_files_name_the_data_set_directory_and_files(tmp_path):
    with pytest.raises(DataError) as caught:
        load_images("mnist", tmp_path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("mnist:") and str(tmp_path) in message
    assert all(name in message for name in IDX_FILES)


def test_missing_fashion_mnist_explains_how_to_install_it(tmp_path):
    with pytest.raises(
        DataError, match="apt-get install dataset-fashion-mnist.*/usr/share/datasets/fashion-mnist"
    ):
        load_images("fashion-mnist", tmp_path / "nowhere")


def test_corrupt_magic_number_names_the_file(tmp_path):
    write_mnist_like(tmp_path, gzipped=False)
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(b"\x00\x00\x09\x01" + path.read_bytes()[4:])
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte: not an IDX file.*magic number 0x00000901"):
        load_images("mnist", tmp_path)


def test_truncated_idx_file_names_the_file(tmp_path):
    path = tmp_path / "images"
    write_idx(path, np.zeros((3, 4, 4), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(DataError, match="images: IDX header promises"):
        read_idx(path, ndim=3)


def test_labels_that_do_not_match_the_images_raise_data_error(tmp_path):
    write_mnist_like(tmp_path, gzipped=False)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([1, 2, 3], dtype=np.uint8))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte: 3 labels for 2 images"):
        load_images("mnist", tmp_path)


@pytest.mark.parametrize("subdir", ["", "cifar-10-batches-py"])
def test_cifar10_reader_loads_python_batches_as_rgb_planes(tmp_path, subdir):
    train_data, train_labels, test_data, test_labels = write_cifar_like(tmp_path / subdir)
    data = load_images("cifar10", tmp_path)
    assert data.input_shape == (3, 32, 32)
    assert data.train_y.tolist() == train_labels and data.test_y.tolist() == test_labels
    raw_train = train_data.reshape(-1, 3, 32, 32).astype(np.float64) / 255
    restored = unnormalise(data.train_x, raw_train)
    np.testing.assert_allclose(restored, raw_train, atol=1e-5)
    # Row layout: 1024 red values, then 1024 green, then 1024 blue, each 32x32 row-major.
    assert restored[0, 1, 0, 1] == pytest.approx(train_data[0, 1024 + 1] / 255, abs=1e-5)
    assert restored[0, 2, 1, 0] == pytest.approx(train_data[0, 2048 + 32] / 255, abs=1e-5)
    np.testing.assert_allclose(
        unnormalise(data.test_x, raw_train), test_data.reshape(-1, 3, 32, 32) / 255, atol=1e-5
    )


def test_corrupt_cifar10_batch_names_the_file(tmp_path):
    write_cifar_like(tmp_path)
    (tmp_path / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="data_batch_3: not a CIFAR-10 python batch"):
        load_images("cifar10", tmp_path)


def test_missing_cifar10_batches_name_the_files(tmp_path):
    with pytest.raises(
        DataError, match="cifar10: data directory .* holds none of the files; expected data_batch_1"
    ):
        load_images("cifar10", tmp_path)


REAL_FASHION_MNIST = [
    pytest.param(SHIPPED_FASHION_MNIST, 28, [200, 200] + [0] * 8, [100, 100] + [0] * 8, id="shipped-subset")
] + (
    [
        pytest.param(
            SHARED_FASHION_MNIST, 28, [6000] * 10, [1000] * 10, id="shared-full", marks=pytest.mark.slow
        )
    ]
    if SHARED_FASHION_MNIST.is_dir()
    else []
)


@pytest.mark.parametrize(("directory", "side", "train_counts", "test_counts"), REAL_FASHION_MNIST)
def test_real_fashion_mnist_loads_every_image_with_its_label(
    directory: Path, side: int, train_counts: list[int], test_counts: list[int]
):
    data = load_images("fashion-mnist", directory)
    assert data.train_x.shape == (sum(train_counts), 1, side, side)
    assert data.test_x.shape == (sum(test_counts), 1, side, side)
    assert torch.bincount(data.train_y, minlength=10).tolist() == train_counts
    assert torch.bincount(data.test_y, minlength=10).tolist() == test_counts
    # Real pictures, not blank pages: the average T-shirt and the average pair of trousers differ.
    shirts, trousers = data.train_x[data.train_y == 0].mean(0), data.train_x[data.train_y == 1].mean(0)
    assert float((shirts - trousers).abs().mean()) > 0.3

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader, TensorDataset

from archsearch.data.user import hold_out, load_user_data, read_csv, read_image_folder
from archsearch.errors import ConfigError


def write_csv(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def write_images(root: Path, classes: dict[str, int], size: tuple[int, int] = (6, 5), mode: str = "L") -> str:
    for name, count in classes.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            Image.new(mode, size, color=40 * i if mode == "L" else (40 * i, 0, 0)).save(
                root / name / f"{i}.png"
            )
    return str(root)


def test_a_csv_file_gives_numeric_features_and_its_target_column(tmp_path):
    path = write_csv(tmp_path / "d.csv", "a,label,b\n1,cat,2.5\n3,dog,-1\n")
    examples = read_csv(path, "label")
    assert examples.x.tolist() == [[1.0, 2.5], [3.0, -1.0]] and examples.y.tolist() == ["cat", "dog"]


def test_an_image_folder_gives_one_label_per_class_folder(tmp_path):
    root = write_images(tmp_path / "images", {"b": 2, "a": 3})
    examples, mode = read_image_folder(root)
    assert mode == "L" and examples.x.shape == (5, 1, 5, 6) and examples.y.tolist() == ["a"] * 3 + ["b"] * 2
    color = write_images(tmp_path / "color", {"x": 1, "y": 1}, mode="RGB")
    resized, mode = read_image_folder(color, image_size=(4, 3))
    assert mode == "RGB" and resized.x.shape == (2, 3, 4, 3) and resized.x.max() <= 1.0


def test_loaders_and_datasets_read_like_arrays_and_statistics_come_from_training_data():
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    y = np.arange(20) % 2
    loader = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=6)
    data = load_user_data("classification", loader, valid=(x[:4] + 100, y[:4]))
    assert data.train.x.shape == (20, 2) and data.valid.x.shape == (4, 2)
    assert np.allclose(data.train.x.mean(axis=0), 0, atol=1e-6) and data.valid.x.mean() > 3  # train's stats
    assert data.num_outputs == 2 and data.classes is None and data.test is None


def test_a_feature_constant_in_training_is_centred_not_blown_up():
    x = np.zeros((10, 2), dtype=np.float32)
    x[:, 1] = np.arange(10)
    data = load_user_data(
        "classification", (x, np.arange(10) % 2), valid=(np.ones((2, 2), np.float32), [0, 1])
    )
    assert data.valid.x[:, 0].tolist() == [1.0, 1.0]


def test_the_validation_hold_out_depends_only_on_the_split_seed():
    first, again = hold_out(10, 0.3, 7), hold_out(10, 0.3, 7)
    assert all((a == b).all() for a, b in zip(first, again, strict=True))
    assert len(first[1]) == 3 and sorted([*first[0], *first[1]]) == list(range(10))


def regression(train, **options):
    return load_user_data("regression", train, **options)


def classification(train, **options):
    return load_user_data("classification", train, **options)


X = np.zeros((10, 3), dtype=np.float32)
Y = np.arange(10) % 2


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: classification(str(p / "missing.csv")), "train: there is no CSV file '.*missing.csv'"),
        (
            lambda p: classification(write_csv(p / "d.csv", "a,b,y\n1,2,0\n"), target="label"),
            r"has no column 'label' \(its columns: a, b, y\); set target",
        ),
        (
            lambda p: classification(
                write_csv(p / "d.csv", "a,city,target\n1,Paris,0\n2,Rome,1\n"), target="target"
            ),
            "column 'city' of '.*d.csv' is not numeric \\(line 2: 'Paris'\\); drop or encode it",
        ),
        (
            lambda p: classification(write_csv(p / "d.csv", "a,target\n1,0\n,1\n")),
            "column 'a' of .* is not numeric \\(line 3: ''\\)",
        ),
        (
            lambda p: regression(write_csv(p / "d.csv", "a,target\n1,high\n2,low\n3,1\n")),
            "the regression target 'target' is not numeric \\(e.g. 'high'\\)",
        ),
        (
            lambda p: classification(write_images(p / "one", {"cats": 3})),
            "image folder '.*one' has 1 class \\('cats'\\); a classifier needs at least 2",
        ),
        (
            lambda p: classification(write_images(p / "none", {"cats": 0, "dogs": 0})),
            "image folder '.*none' holds no images",
        ),
        (
            lambda p: classification(
                write_images(p / "sizes", {"a": 1}) and write_images(p / "sizes", {"b": 1}, size=(9, 9))
            ),
            "is 9x9 pixels but .* is 6x5; set image_size to resize them",
        ),
        (lambda p: classification((X, Y[:7])), "train: x has 10 examples but y has 7; they must match"),
        (
            lambda p: classification((X[:1], Y[:1])),
            "holds out 1 of 1 training examples; the data set is too small",
        ),
        (
            lambda p: classification((X, Y), valid=(X[:, :2], Y)),
            r"valid: inputs of shape \(2,\), the training ones",
        ),
        (
            lambda p: classification((X, Y * 0)),
            "train: every example has the class 0; a classifier needs two",
        ),
        (
            lambda p: classification((X, Y + 0.5)),
            "classification targets must be class labels .*RegressionEvaluator",
        ),
        (
            lambda p: classification((X, np.array(["a", "b"] * 5)), valid=(X[:2], np.array(["a", "c"]))),
            "valid: class 'c' does not occur in the training data",
        ),
        (lambda p: classification((X.astype(str), Y)), "the inputs x are not numeric"),
        (lambda p: classification(42), "train must be an \\(x, y\\) pair, a torch Dataset .* got a int"),
        (
            lambda p: classification("not/a/path"),
            "is neither an image folder, a CSV or .npz file nor a dotted path",
        ),
        (lambda p: classification("archsearch_missing_mod:load"), "train data loader .*no module named"),
        (lambda p: classification({"training": (X, Y)}), "a dict of data must have the keys train"),
        (lambda p: classification(lambda: 1 / 0), "the data loader .*<lambda> failed \\(ZeroDivisionError"),
    ],
)
def test_bad_data_is_a_one_line_config_error(tmp_path, make, message):
    with pytest.raises(ConfigError, match=message) as caught:
        make(tmp_path)
    assert "\n" not in str(caught.value)


def test_an_npz_file_of_x_and_y_reads_like_the_arrays_and_bad_ones_are_one_line_errors(tmp_path):
    from archsearch.data.user import Examples, write_npz

    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.array(["cat", "dog"] * 5)
    write_npz(Examples(x, y), tmp_path / "d.npz")
    from_file = load_user_data("classification", str(tmp_path / "d.npz"), val_size=2)
    from_arrays = load_user_data("classification", (x, y), val_size=2)
    assert (from_file.train.x == from_arrays.train.x).all() and from_file.classes == ("cat", "dog")
    np.savez(tmp_path / "no_y.npz", x=x)
    np.savez(tmp_path / "objects.npz", x=x, y=np.array([{"a": 1}] * 10, dtype=object))
    for name, message in [
        ("no_y.npz", r"has no array 'y' \(it has x\)"),
        ("objects.npz", "cannot read .npz file"),
        ("missing.npz", "there is no .npz file"),
    ]:
        with pytest.raises(ConfigError, match=message) as caught:
            load_user_data("classification", str(tmp_path / name))
        assert "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match="the targets y are Python objects"):
        write_npz(Examples(x, np.array([None] * 10)), tmp_path / "e.npz")
    with pytest.raises(ConfigError, match="is a file of a study's run directory"):
        load_user_data("classification", "<run>/data/train.npz")

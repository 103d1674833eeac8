"""AutoML-Zero task families and the search / select / final split (SPEC.md 4.5)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from archsearch.errors import ConfigError
from archsearch.zero.tasks import HELD_OUT_PAIRS, SEARCH_PAIRS, make_tasks, split_tasks


@pytest.mark.parametrize("family", ["linear", "affine", "nonlinear"])
def test_synthetic_tasks_have_the_requested_shapes_and_repeat_from_their_seed(family):
    tasks = make_tasks(family, 3, 5, 20, 7, seed=4)
    again = make_tasks(family, 3, 5, 20, 7, seed=4)
    other = make_tasks(family, 3, 5, 20, 7, seed=5)
    for task, twin, stranger in zip(tasks, again, other, strict=True):
        assert task.kind == "regression" and task.family == family
        assert task.x_train.shape == (20, 5) and task.y_train.shape == (20,)
        assert task.x_valid.shape == (7, 5) and task.y_valid.shape == (7,)
        assert task.x_train.dtype == np.float64
        np.testing.assert_array_equal(task.x_train, twin.x_train)
        np.testing.assert_array_equal(task.y_valid, twin.y_valid)
        assert task.seed == twin.seed != stranger.seed
        assert not np.array_equal(task.y_train, stranger.y_train)
    assert len({task.seed for task in tasks}) == 3


def _least_squares_residual(x: np.ndarray, y: np.ndarray, intercept: bool) -> float:
    design = np.column_stack([x, np.ones(len(x))]) if intercept else x
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(np.abs(design @ coef - y).max())


def test_linear_affine_nonlinear_labels_follow_their_definitions():
    linear = make_tasks("linear", 1, 4, 50, 50, seed=0)[0]
    x = np.concatenate([linear.x_train, linear.x_valid])
    y = np.concatenate([linear.y_train, linear.y_valid])
    assert _least_squares_residual(x, y, intercept=False) < 1e-10  # y = u.x exactly
    affine = make_tasks("affine", 1, 4, 50, 50, seed=0)[0]
    assert _least_squares_residual(affine.x_train, affine.y_train, intercept=False) > 1e-3
    assert _least_squares_residual(affine.x_train, affine.y_train, intercept=True) < 1e-10
    nonlinear = make_tasks("nonlinear", 1, 4, 200, 10, seed=0)[0]
    assert _least_squares_residual(nonlinear.x_train, nonlinear.y_train, intercept=True) > 0.1


def test_projected_binary_tasks_from_the_built_in_digits():
    tasks = make_tasks("projected-binary", 3, 6, 100, 50, seed=0, dataset="digits", pairs=[(0, 1), (3, 8)])
    assert [task.info for task in tasks] == [
        "digits classes 0 vs 1",
        "digits classes 3 vs 8",
        "digits classes 0 vs 1",
    ]
    for task in tasks:
        assert task.kind == "classification"
        assert task.x_train.shape == (100, 6) and task.x_valid.shape == (50, 6)
        assert set(np.unique(task.y_train)) == {0.0, 1.0}
        np.testing.assert_allclose(task.x_train.mean(axis=0), 0.0, atol=1e-12)
        np.testing.assert_allclose(task.x_train.std(axis=0), 1.0, atol=1e-12)
    # Same pair, different projection and examples.
    assert not np.array_equal(tasks[0].x_train, tasks[2].x_train)
    again = make_tasks("projected-binary", 3, 6, 100, 50, seed=0, dataset="digits", pairs=[(0, 1), (3, 8)])
    np.testing.assert_array_equal(again[1].x_valid, tasks[1].x_valid)


def test_split_keeps_held_out_pairs_and_test_images_away_from_search():
    split = split_tasks(
        "projected-binary", 4, 60, 30, seed=1, dataset="digits", search_count=5, select_count=3, final_count=2
    )
    assert (len(split.search), len(split.select), len(split.final)) == (5, 3, 2)
    assert len(SEARCH_PAIRS) == 36 and len(HELD_OUT_PAIRS) == 9
    search_pairs = {task.info for task in split.search}
    held_out = {f"digits classes {a} vs {b}" for a, b in HELD_OUT_PAIRS}
    assert not search_pairs & held_out
    assert {task.info for task in split.select + split.final} <= held_out
    seeds = [task.seed for task in split.search + split.select + split.final]
    assert len(set(seeds)) == len(seeds)


def test_synthetic_split_draws_three_disjoint_task_sets():
    split = split_tasks("linear", 4, 10, 10, seed=0, search_count=4, select_count=2, final_count=2)
    seeds = [task.seed for task in split.search + split.select + split.final]
    assert len(set(seeds)) == 8
    assert [t.seed for t in split.search] == [t.seed for t in make_tasks("linear", 4, 4, 10, 10, seed=0)]


def test_bad_task_requests_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown task family 'quadratic'"):
        make_tasks("quadratic", 1, 4, 10, 10, seed=0)
    with pytest.raises(ConfigError, match="n_train"):
        make_tasks("linear", 1, 4, 0, 10, seed=0)
    with pytest.raises(ConfigError, match="takes no options"):
        make_tasks("linear", 1, 4, 10, 10, seed=0, dataset="digits")
    with pytest.raises(ConfigError, match="unknown image data set"):
        make_tasks("projected-binary", 1, 4, 10, 10, seed=0, dataset="svhn")
    with pytest.raises(ConfigError, match="names one class twice"):
        make_tasks("projected-binary", 1, 4, 10, 10, seed=0, dataset="digits", pairs=[(2, 2)])
    with pytest.raises(ConfigError, match="fewer than"):
        make_tasks("projected-binary", 1, 4, 1000, 10, seed=0, dataset="digits")


def test_missing_image_files_are_a_config_error_naming_them(tmp_path):
    with pytest.raises(ConfigError, match="train-images-idx3-ubyte"):
        make_tasks("projected-binary", 1, 4, 10, 10, seed=0, dataset="fashion-mnist", data_dir=tmp_path)
    with pytest.raises(ConfigError, match="data_batch_1"):
        make_tasks("projected-binary", 1, 4, 10, 10, seed=0, dataset="cifar10", data_dir=tmp_path / "none")


REPO_ROOT = Path(__file__).resolve().parents[2]
# 200 training and 100 test images of classes 0 and 1, shipped with the tests (tests/real_data/SOURCE.md).
SHIPPED_FASHION_MNIST = REPO_ROOT / "tests" / "real_data" / "fashion-mnist"
# The full files, where a checkout has ../shared beside it: extra coverage, never needed.
SHARED_FASHION_MNIST = REPO_ROOT / ".." / "shared" / "data" / "fashion-mnist"
FASHION_MNIST_DIRS = [pytest.param(SHIPPED_FASHION_MNIST, id="shipped-subset")] + (
    [pytest.param(SHARED_FASHION_MNIST, id="shared-full", marks=pytest.mark.slow)]
    if SHARED_FASHION_MNIST.is_dir()
    else []
)


@pytest.mark.parametrize("data_dir", FASHION_MNIST_DIRS)
def test_sgd_logistic_regression_separates_a_projected_fashion_mnist_pair(data_dir: Path):
    """End to end on real images: the SGD program of SPEC.md 4.8 is logistic regression on a classification
    task (s1 is the sigmoid when Learn runs), and it separates T-shirts from trousers after one epoch."""
    from archsearch.zero.interpreter import evaluate_each
    from archsearch.zero.program import MemoryConfig, Program, sgd_linear_regression

    tasks = make_tasks(
        "projected-binary",
        3,
        16,
        300,
        150,
        seed=0,
        data_dir=data_dir,
        pairs=[(0, 1)],
        valid_from="test",
    )
    assert all(task.info == "fashion-mnist classes 0 vs 1" for task in tasks)
    sgd = sgd_linear_regression(0.1)
    accuracy = evaluate_each(sgd, tasks, MemoryConfig(dim=16))
    assert np.all(accuracy > 0.85)  # 0.91..0.97 measured on either directory
    assert np.all(evaluate_each(Program(), tasks, MemoryConfig(dim=16)) < 0.6)  # constant class 0


def test_hand_written_affine_sgd_learns_affine_tasks_and_the_linear_one_cannot():
    from archsearch.zero.interpreter import evaluate_each
    from archsearch.zero.program import MemoryConfig, sgd_affine_regression, sgd_linear_regression
    from archsearch.zero.run import make_config, program_space
    from archsearch.zero.run import rmse_from_fitness as rmse

    space = program_space(make_config("affine"))
    tasks = make_tasks("affine", 10, 4, 1000, 100, seed=3)
    memory = MemoryConfig(5, 3, 1, 4)
    affine = rmse(evaluate_each(sgd_affine_regression(0.1), tasks, memory))
    linear = rmse(evaluate_each(sgd_linear_regression(0.1), tasks, memory))
    assert np.max(affine) < 1e-3  # weights and bias both learned
    assert np.mean(linear) > 0.1  # without a bias the offset a stays unexplained
    space.memory.validate(sgd_affine_regression())
    assert all(
        ins.op in space.ops[name]
        for name in ("setup", "predict", "learn")
        for ins in sgd_affine_regression().component(name)
    )

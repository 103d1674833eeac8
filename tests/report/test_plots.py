"""Study plots: each writes a readable PNG for real studies, empty ones, failures only and long searches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from archsearch.core import Architecture, SearchSpace, TrialRecord
from archsearch.report.plots import (
    best_so_far,
    choice_frequencies,
    draw_architecture,
    plot_best_so_far,
    plot_choice_distribution,
    plot_rewards,
)
from archsearch.spaces.nasrl_cnn import ConvLayer, NasRLCNNSpace
from archsearch.spaces.nasrl_cnn.layers import CLASSIFIER, IMAGE
from archsearch.study import Study
from conftest import ToyLayerSpace, toy_config

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path, min_bytes: int = 5_000) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, f"{path} is not a PNG"
    assert len(data) >= min_bytes, f"{path} is only {len(data)} bytes"


def all_plots(space: SearchSpace, trials: list[TrialRecord], directory: Path) -> list[Path]:
    return [
        plot_rewards(trials, directory / "rewards.png"),
        plot_best_so_far(trials, directory / "best.png"),
        plot_choice_distribution(space, trials, directory / "choices.png"),
    ]


def record(
    space: SearchSpace, arch: Architecture, number: int, status: str = "ok", reward: float = 0.5
) -> TrialRecord:
    ok = status == "ok"
    return TrialRecord(
        number=number,
        arch=arch,
        arch_str=space.encode(arch),
        seed=number,
        status=status,
        ask_event=2 * number,
        started_at=0.0,
        reward=reward if ok else 0.0,
        metrics={"val_acc": reward ** (1 / 3)} if ok else {},
        error=None if ok else "loss became nan",
        info={"baseline": 0.8 * reward},
        tell_event=2 * number + 1,
    )


def synthetic_trials(space: SearchSpace, count: int, fail_every: int = 9) -> list[TrialRecord]:
    """``count`` random architectures with random rewards; every ``fail_every``-th one fails."""
    rng = np.random.default_rng(0)
    return [
        record(space, space.sample(rng), n, "ok" if n % fail_every else "failed", float(rng.random()))
        for n in range(count)
    ]


@pytest.fixture
def toy_study_trials(tmp_path, toy_registry) -> list[TrialRecord]:
    """A short REINFORCE study of the toy space in which some children fail."""
    config = toy_config(n_trials=12, evaluator={"name": "toy", "params": {"fail_when_h1": True}})
    study = Study.create(config, tmp_path / "study")
    try:
        study.run()
        return study.store.trials()
    finally:
        study.close()


def test_every_plot_of_a_toy_study_is_a_valid_png(tmp_path, toy_study_trials):
    statuses = {t.status for t in toy_study_trials}
    assert statuses == {"ok", "failed"}
    assert any("baseline" in t.info for t in toy_study_trials)
    space = ToyLayerSpace()
    paths = all_plots(space, toy_study_trials, tmp_path / "plots")
    paths.append(draw_architecture(space, toy_study_trials[0].arch, tmp_path / "plots" / "arch.png"))
    for path in paths:
        assert_png(path)


def test_plots_say_so_when_no_trial_has_finished(tmp_path):
    space = ToyLayerSpace()
    running = record(space, space.sample(np.random.default_rng(0)), 0)
    running.status, running.reward, running.tell_event = "running", None, None
    for name, trials in (("empty", []), ("running", [running])):
        for path in all_plots(space, trials, tmp_path / name):
            assert_png(path, min_bytes=2_000)


def test_plots_cope_with_failed_trials_only(tmp_path):
    space = NasRLCNNSpace(num_layers=3)
    trials = synthetic_trials(space, 7, fail_every=1)
    assert all(t.status == "failed" for t in trials)
    for path in all_plots(space, trials, tmp_path):
        assert_png(path)


def test_plots_of_a_few_hundred_trials_are_valid_pngs(tmp_path):
    space = NasRLCNNSpace(num_layers=6, predict_strides=True)
    trials = synthetic_trials(space, 300)
    jobs = {
        "rewards": lambda p: plot_rewards(trials, p),
        "best": lambda p: plot_best_so_far(trials, p),
        "choices": lambda p: plot_choice_distribution(space, trials, p),
        "architecture": lambda p: draw_architecture(space, trials[-1].arch, p),
    }
    for name, job in jobs.items():
        assert_png(job(tmp_path / f"{name}.png"))


def test_architecture_drawings_of_nasrl_cnn_variants_are_valid_pngs(tmp_path):
    rng = np.random.default_rng(1)
    spaces = {
        "skips_and_strides": NasRLCNNSpace(num_layers=8, predict_strides=True),
        "chain": NasRLCNNSpace(num_layers=4, skip_connections=False),
        "one_layer": NasRLCNNSpace(num_layers=1),
    }
    for name, space in spaces.items():
        assert_png(draw_architecture(space, space.sample(rng), tmp_path / f"{name}.png"))


def test_nasrl_cnn_edges_follow_the_compile_rules():
    space = NasRLCNNSpace(num_layers=4)
    arch = space.from_layers(
        [
            ConvLayer(3, 3, 24),
            ConvLayer(5, 5, 36),  # no input: reads the image
            ConvLayer(3, 1, 48, inputs=(0,)),
            ConvLayer(1, 3, 64, inputs=(0, 2)),
        ]
    )
    # Layers 1 and 3 feed no later layer, so both go to the classifier.
    assert space.edges(arch) == [
        (IMAGE, 0),
        (IMAGE, 1),
        (0, 2),
        (0, 3),
        (2, 3),
        (1, CLASSIFIER),
        (3, CLASSIFIER),
    ]
    chain = NasRLCNNSpace(num_layers=3, skip_connections=False)
    chain_arch = chain.from_layers([ConvLayer(3, 3, 24)] * 3)
    assert chain.edges(chain_arch) == [(IMAGE, 0), (0, 1), (1, 2), (2, CLASSIFIER)]


def test_choice_frequencies_count_each_window_separately():
    space = ToyLayerSpace(num_layers=2)
    # Per layer: inputs, filter_h, filter_w.
    archs = [
        Architecture("toy", ((), 1, 3, (0,), 1, 3)),
        Architecture("toy", ((), 3, 3, (), 1, 7)),
        Architecture("toy", ((), 7, 7, (0,), 7, 7)),
    ]
    freq = choice_frequencies(space, archs, window=2)
    assert [list(w) for w in freq.windows] == [[0, 1], [2]]
    assert freq.choices["filter_h"] == (1, 3, 5, 7)
    np.testing.assert_allclose(freq.fractions["filter_h"], [[0.75, 0.25, 0, 0], [0, 0, 0, 1]])
    np.testing.assert_allclose(freq.fractions["filter_w"], [[0, 0.75, 0, 0.25], [0, 0, 0, 1]])
    # Window 0: 1 link over 4 layers; window 1: 1 link over 2 layers. Random: 1 possible link per 2 layers.
    np.testing.assert_allclose(freq.mean_links, [0.25, 0.5])
    np.testing.assert_allclose(freq.random_links, [0.25, 0.25])


def test_choice_frequencies_accept_architectures_shallower_than_the_space():
    space = NasRLCNNSpace(num_layers=4)
    shallow = space.from_layers([ConvLayer(3, 3, 24), ConvLayer(5, 5, 24, inputs=(0,))])
    freq = choice_frequencies(space, [shallow])
    np.testing.assert_allclose(freq.fractions["num_filters"], [[1, 0, 0, 0]])
    np.testing.assert_allclose(freq.mean_links, [0.5])


def test_best_so_far_is_the_running_maximum_skipping_missing_values():
    np.testing.assert_allclose(best_so_far([None, 0.2, None, 0.1, 0.5]), [np.nan, 0.2, 0.2, 0.2, 0.5])
    assert len(best_so_far([])) == 0

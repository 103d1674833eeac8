"""Finished runs of each kind (module-scoped: made once per test module), for the tests of archsearch.runs
and of the commands on run directories."""

from __future__ import annotations

from pathlib import Path

import pytest

from archsearch.runs import create_run
from user_study import run_study

ONESHOT_CONFIG = {
    "method": "asng",
    "dataset": "digits",
    "train_limit": 160,
    "batch_size": 32,
    "epochs": 2,
    "threads": 1,
    "supernet": {"channels": 2, "cells_per_stage": 1},
}


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory) -> Path:
    """A finished 8-trial study of a user's space (no torch), one trial failed."""
    directory = tmp_path_factory.mktemp("runs") / "study"
    run_study(directory, n_trials=8)
    return directory


@pytest.fixture(scope="module")
def oneshot_dir(tmp_path_factory) -> Path:
    """A finished 2-epoch one-shot run of a tiny NB201 supernet on 160 digits (the test_run stand-in
    method under the name "asng")."""
    import torch

    from archsearch.oneshot.base import METHODS
    from archsearch.oneshot.run import parse_oneshot_config
    from oneshot.test_run import GreedyCategorical

    directory = tmp_path_factory.mktemp("runs") / "oneshot"
    threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(METHODS, "asng", GreedyCategorical)
        run = create_run(parse_oneshot_config(ONESHOT_CONFIG), directory)  # a OneShotRun behind the protocol
        try:
            run.run()
        finally:
            run.close()
            torch.set_num_threads(threads)
    return directory


@pytest.fixture(scope="module")
def zero_dir(tmp_path_factory) -> Path:
    """A finished AutoML-Zero run of 200 individuals (the Python engine: no compilation)."""
    from archsearch.zero.config import make_config

    directory = tmp_path_factory.mktemp("runs") / "zero"
    config = make_config("linear", budget=200, population_size=20, engine="python", seed=2, workers=1)
    with create_run(config, directory) as run:  # a zero Experiment behind the protocol
        run.run()
    return directory


@pytest.fixture(params=["study", "oneshot", "zero"])
def run_dir(request) -> Path:
    """Each kind of run in turn."""
    return Path(request.getfixturevalue(f"{request.param}_dir"))

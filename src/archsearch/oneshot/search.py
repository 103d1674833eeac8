"""One-shot search of a user's own model space from Python: ``search_model_space`` and its result.

The supernet of the user's model space is ``oneshot/user.py``'s, the run that trains it ``oneshot/run.py``'s.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archsearch.core import Architecture
from archsearch.oneshot.user import as_model_space, data_sources, recorded_name, user_data_split


@dataclass(frozen=True)
class OneShotResult:
    """What a one-shot search of a user's model space found.

    ``architecture``: the derived ``Architecture`` of the space (``space.build(result.architecture)``
    gives the plain module to train); ``values``: the chosen value of every label; ``probabilities``:
    {label: {candidate: probability}} at the end (DARTS: softmax of alpha; ENAS: the controller's
    marginals; ASNG: the categorical distribution); ``history``: each epoch's metrics (``train_loss``,
    ``valid_acc``, ``entropy``, ...); ``estimate_valid_acc`` / ``estimate_test_acc``: the derived
    architecture's accuracy with the supernet's shared weights (test: None without test data);
    ``directory``: the run directory (None when the search ran without ``out``).
    """

    method: str
    architecture: Architecture
    values: dict[str, Any]
    probabilities: dict[str, dict[str, float]]
    history: list[dict[str, float]]
    estimate_valid_acc: float
    estimate_test_acc: float | None
    directory: Path | None


def search_model_space(
    space: Any,
    train: Any,
    valid: Any | None = None,
    *,
    test: Any | None = None,
    method: str = "darts",
    epochs: int = 10,
    batch_size: int = 64,
    seed: int = 0,
    out: str | Path | None = None,
    device: str = "cpu",
    valid_fraction: float = 0.5,
    order: int | None = None,
    hyper: dict[str, Any] | None = None,
    threads: int | None = None,
    target: str = "target",
    image_size: int | None = None,
    normalize: bool = True,
    overwrite: bool = False,
    resume: bool = False,
) -> OneShotResult:
    """One-shot search (DARTS, ENAS or ASNG-NAS) of a user's model space on the user's classification data.

    ``space``: a ``ModelSpace``, an nn.Module class or function returning one, or a dotted path
    ``pkg.mod:Net`` (``oneshot/user.py``'s docstring says what one-shot search can take). ``train``,
    ``valid``, ``test``: the splits as ``ClassificationEvaluator`` takes them: (inputs, labels) pairs of
    numpy arrays or tensors, torch Datasets or DataLoaders, image folders (one subfolder per class;
    ``image_size`` resizes), CSV files (labels in the column ``target``), or dotted paths to functions
    returning one; labels are integers or class names. Without ``valid``, ``valid_fraction`` of ``train``
    is held out for the architecture updates (DARTS: half); ``test`` (optional) only scores the result;
    ``normalize`` standardises the inputs with the training mean and std. ``method``: "darts", "enas" or
    "asng"; ``order``: DARTS' gradient order (1 or 2); ``hyper``: the method's hyper-parameters by name
    (the papers' values by default, e.g. ``{"controller_steps": 1}`` for a quick ENAS). ``epochs``:
    passes over the training half; ``batch_size``: examples per weight and architecture step; ``seed``:
    the seed of the whole search; ``device``: "cpu", "cuda[:N]" or "auto"; ``threads``: torch CPU threads.
    ``out``: a run directory that keeps every epoch (``archsearch report``/``status``/``export`` read it;
    ``overwrite`` replaces a run there; ``resume`` continues the one there, given the same space and
    data, as it was configured: the other options are its own); None runs in a temporary directory. Data
    given as paths are recorded, so ``archsearch oneshot --resume`` continues such a run too. Returns the
    ``OneShotResult``.
    """
    from archsearch.oneshot.run import ARRAYS, SPLIT_SEED, USER_DATA, OneShotRun, parse_oneshot_config

    model_space = as_model_space(space)
    name, kwargs = recorded_name(model_space)
    sources = data_sources(train, valid, test, target, image_size, normalize)
    config = parse_oneshot_config(
        {
            "method": method,
            "space": name,
            "dataset": ARRAYS if sources is None else USER_DATA,
            "data": sources,
            "epochs": epochs,
            "batch_size": batch_size,
            "valid_fraction": valid_fraction,
            "order": order,
            "seed": seed,
            "device": device,
            "threads": threads,
            "supernet": kwargs,
            "hyper": dict(hyper or {}),
        }
    )
    from archsearch.evaluators.common import resolve_device

    data = user_data_split(
        train,
        valid,
        test,
        valid_fraction=config.valid_fraction,
        device=resolve_device(config.device),
        target=target,
        image_size=image_size,
        normalize=normalize,
        split_seed=SPLIT_SEED,
    )
    if out is None:
        with tempfile.TemporaryDirectory(prefix="archsearch-oneshot-") as scratch:
            run = OneShotRun.create(config, Path(scratch) / "run", data=data, model_space=model_space)
            return _finish(run, None)
    if resume:
        run = OneShotRun.load(out, lock=True, data=data, model_space=model_space)
    else:
        run = OneShotRun.create(config, out, overwrite=overwrite, data=data, model_space=model_space)
    return _finish(run, Path(out))


def _finish(run: Any, directory: Path | None) -> OneShotResult:
    """Run ``run`` to its end and gather its result (the run is closed afterwards)."""
    try:
        summary = run.run()
        history = [dict(record.metrics) for record in run.store.epochs()]
    finally:
        run.close()
    return OneShotResult(
        method=str(summary["method"]),
        architecture=Architecture.from_dict(summary["arch"]),
        values=dict(summary["values"]),
        probabilities={label: dict(row) for label, row in summary["probabilities"].items()},
        history=history,
        estimate_valid_acc=float(summary["estimate_valid_acc"]),
        estimate_test_acc=summary["estimate_test_acc"],
        directory=directory,
    )

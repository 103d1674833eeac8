"""The examples in examples/ run, on reduced budgets, as a user runs them: a fresh Python from the repository
root (``python -m examples.NAME --quick``, ``archsearch search --config examples/...``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARCHSEARCH = Path(sys.executable).with_name("archsearch")


def run(command: list[str], timeout: float = 240) -> str:
    """Run ``command`` from the repository root; its stdout, or a failure showing both streams."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "200"}
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=environment)
    assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def example(name: str, *arguments: str) -> str:
    return run([sys.executable, "-m", f"examples.{name}", "--quick", *arguments])


def test_fashion_mnist_cnn_searches_exports_and_scores_the_export_in_a_fresh_process(tmp_path: Path) -> None:
    out = tmp_path / "cnn"
    printed = example("fashion_mnist_cnn", "--out", str(out))
    assert "exported model in a fresh process: test_acc" in printed
    assert {p.name for p in (out / "export").iterdir()} >= {"model.py", "weights.pt", "values.json"}
    best = json.loads(run([str(ARCHSEARCH), "best", str(out), "--json"]))
    assert best["architecture"].startswith("conv1=")
    assert "FashionCNN" in (out / "export" / "model.py").read_text()


def test_fashion_mnist_darts_derives_a_child_and_retrains_it(tmp_path: Path) -> None:
    printed = example("fashion_mnist_darts", "--out", str(tmp_path / "darts"))
    assert "DARTS chose conv1=" in printed
    assert "retrained from scratch" in printed


def test_function_objective_searches_a_dict_space(tmp_path: Path) -> None:
    out = tmp_path / "function"
    printed = example("function_objective", "--out", str(out))
    assert "best of 4 trials" in printed
    status = run([str(ARCHSEARCH), "status", str(out)])
    assert "val_acc" in status


def test_diabetes_mlp_runs_from_yaml_with_dotted_paths(tmp_path: Path) -> None:
    out = tmp_path / "diabetes"
    config = ROOT / "examples" / "diabetes_mlp" / "search.yaml"
    quick = ["--set", "n_trials=3", "--set", "evaluator.params.epochs=3", "--set", "executor=inline"]
    run([str(ARCHSEARCH), "search", "--config", str(config), "--out", str(out), *quick])
    best = json.loads(run([str(ARCHSEARCH), "best", str(out), "--json"]))
    assert best["metrics"]["val_rmse"] > 0
    run([str(ARCHSEARCH), "export", str(out), "--out", str(tmp_path / "export")])
    assert (tmp_path / "export" / "weights.pt").is_file()


@pytest.mark.slow
def test_fashion_mnist_cnn_on_worker_processes(tmp_path: Path) -> None:
    """The default executor of the example (2 worker processes) on the slice, 4 trials."""
    out = tmp_path / "cnn-pool"
    printed = run(
        [
            sys.executable,
            "-m",
            "examples.fashion_mnist_cnn",
            "--data",
            str(ROOT / "tests/real_data/fashion-mnist"),
        ]
        + ["--out", str(out), "--trials", "4", "--epochs", "1", "--train-limit", "400"]
    )
    assert "exported model in a fresh process" in printed

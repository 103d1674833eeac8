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


def tutorial_parts(markdown: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The code of docs/tutorial.md: files (blocks whose first line is ``# file: NAME``) and, in document
    order, the steps: each other Python block, and each line of the bash blocks after a ``<!-- run -->``."""
    files: dict[str, str] = {}
    steps: list[tuple[str, str]] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        fence = lines[i]
        if not fence.startswith("```") or fence == "```":
            i += 1
            continue
        language = fence[3:].strip()
        end = lines.index("```", i + 1)
        body = lines[i + 1 : end]
        marked = i > 0 and lines[i - 1].strip() == "<!-- run -->"
        if body and body[0].startswith("# file: "):
            files[body[0].removeprefix("# file: ").strip()] = "\n".join(body[1:]) + "\n"
        elif language == "python":
            steps.append(("python", "\n".join(body)))
        elif language == "bash" and marked:
            steps.extend(("bash", line) for line in body if line.strip() and not line.startswith("#"))
        i = end + 1
    return files, steps


# Runs the steps in one Python process (the blocks share their names, as in a reader's session); the shell
# commands run between them with the archsearch command of this interpreter.
TUTORIAL_DRIVER = """
import json, subprocess, sys
namespace = {"__name__": "__main__"}
for kind, code in json.load(open("steps.json")):
    print(f"--- {kind}: {code.splitlines()[0]}", flush=True)
    if kind == "python":
        exec(compile(code, "tutorial.md", "exec"), namespace)
    else:
        command = code.replace("archsearch ", sys.argv[1] + " ", 1)
        done = subprocess.run(command, shell=True, capture_output=True, text=True)
        print(done.stdout[-2000:], done.stderr[-2000:], flush=True)
        if done.returncode:
            sys.exit(f"exit {done.returncode}: {code}")
"""


@pytest.mark.slow
def test_every_code_block_of_the_tutorial_runs(tmp_path: Path) -> None:
    """About a minute of CPU: eight small searches, DARTS, and ten archsearch commands (each a fresh Python)."""
    files, steps = tutorial_parts((ROOT / "docs" / "tutorial.md").read_text())
    assert {"mynet.py", "mydata.py", "objectives.py", "study.yaml"} <= set(files)
    assert sum(kind == "bash" for kind, _ in steps) >= 5
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "steps.json").write_text(json.dumps(steps))
    (tmp_path / "driver.py").write_text(TUTORIAL_DRIVER)
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "driver.py", str(ARCHSEARCH)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=400,
        env=environment,
    )
    assert done.returncode == 0, f"{done.stdout[-6000:]}\n{done.stderr[-3000:]}"


@pytest.mark.slow
def test_the_readme_example_runs_and_the_commands_after_it_work(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Search your own model") : readme.index("## A short tour")]
    code = section[
        section.index("```python\n") + 10 : section.index("```", section.index("```python\n") + 10)
    ]
    code = code.replace("trials=12", "trials=3").replace("epochs=10", "epochs=2")
    (tmp_path / "mynet.py").write_text(code)
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "mynet.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
    )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    commands = section[section.index("```bash\n") + 8 : section.index("```", section.index("```bash\n") + 8)]
    for line in commands.splitlines():
        command = line.split("#")[0].split()
        assert command[0] == "archsearch"
        ran = subprocess.run(
            [str(ARCHSEARCH), *command[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            env=environment,
        )
        assert ran.returncode == 0, f"{line}\n{ran.stdout[-3000:]}\n{ran.stderr[-3000:]}"
    assert (tmp_path / "runs" / "mynet" / "export" / "weights.pt").is_file()

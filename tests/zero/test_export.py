"""The exported module is the readable interpreter: written to a file and imported, it gives the compiled
fitness to the bit, with no archsearch import."""

from __future__ import annotations

import importlib.util

import numpy as np

from archsearch.zero import readable
from archsearch.zero.export import export_source
from archsearch.zero.interpreter import evaluate_each
from archsearch.zero.ops import OPS
from archsearch.zero.tasks import Task, make_tasks
from zero.test_interpreter import SMALL, random_program


def test_every_op_has_one_readable_statement():
    assert sorted(readable.STATEMENTS) == [spec.code for spec in OPS]


def test_an_exported_file_reproduces_the_compiled_fitness_exactly(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((14, SMALL.dim))
    classification = Task("classification", x[:8], (x[:8, 0] > 0) * 1.0, x[8:], (x[8:, 0] > 0) * 1.0, seed=2)
    tasks = [*make_tasks("nonlinear", 2, SMALL.dim, 8, 6, seed=1), classification]
    for trial in range(20):
        program = random_program(rng, SMALL)
        path = tmp_path / f"exported_{trial}.py"
        path.write_text(export_source(program, SMALL, "test", module=path.stem))
        assert "archsearch" not in "".join(
            line for line in path.read_text().splitlines() if line.startswith(("import", "from"))
        )
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        got = [
            module.fitness(
                t.x_train,
                t.y_train,
                t.x_valid,
                t.y_valid,
                t.kind == "classification",
                module.task_seed(trial, i),
            )
            for i, t in enumerate(tasks)
        ]
        np.testing.assert_array_equal(
            got, evaluate_each(program, tasks, SMALL, rng_seed=trial), err_msg=program.pretty()
        )

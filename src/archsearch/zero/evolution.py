"""Searching over programs: regularized evolution, random search, and islands of workers with migration.

Real et al. (ICML 2020), section 4.1 and SPEC.md 4.6: regularized evolution keeps a population of P
programs; each cycle draws T members uniformly (with replacement), mutates a copy of the fittest with
probability U, evaluates it and inserts it while the oldest member leaves. Random search evaluates random
programs of the same space with the same budget. Both are deterministic given their seed and the fitness
function, and save their whole state (population, generator, FEC cache) for an exact resume. They draw
from the search's stream (``stream.Stream``) in the order of the compiled engine (``compiled.py``), so
either engine makes the same search from one seed.
"""

from __future__ import annotations

import bisect
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from archsearch.errors import ArchsearchError, ConfigError, StoreError
from archsearch.store.codec import decode_state, encode_state
from archsearch.zero.fec import FunctionalEquivalenceCache
from archsearch.zero.mutation import (
    Mutator,
    ProgramSpace,
    empty_program,
    random_program,
    random_sized_program,
)
from archsearch.zero.program import COMPONENTS, Instruction, MemoryConfig, Program
from archsearch.zero.stream import Stream

if TYPE_CHECKING:
    from archsearch.zero.interpreter import TaskBatch
    from archsearch.zero.tasks import Task


@dataclass(frozen=True)
class Individual:
    """A program and its fitness on the search tasks."""

    program: Program
    fitness: float


def individuals_state(individuals: Sequence[Individual]) -> dict[str, np.ndarray]:
    """Individuals as plain arrays, the form checkpoints store (no objects, exact): the instructions of
    all programs as in ``Program.arrays`` (codes (n, 4) int64, constants (n, 2) float64), each program's
    component sizes (setup, predict, learn) and the fitnesses."""
    arrays = [member.program.arrays for member in individuals]
    return {
        "codes": np.concatenate([a[0] for a in arrays] or [np.zeros((0, 4), np.int64)]),
        "constants": np.concatenate([a[1] for a in arrays] or [np.zeros((0, 2), np.float64)]),
        "sizes": np.array([np.diff(a[2]) for a in arrays], dtype=np.int64).reshape(-1, 3),
        "fitness": np.array([member.fitness for member in individuals], dtype=np.float64),
    }


def individuals_from_state(state: dict[str, Any]) -> list[Individual]:
    """The individuals ``individuals_state`` stored; StoreError when the arrays do not fit together."""
    try:
        codes, constants = state["codes"].tolist(), state["constants"].tolist()
        sizes, fitness = state["sizes"].tolist(), state["fitness"].tolist()
        if len(sizes) != len(fitness) or len(codes) != len(constants) or len(codes) != sum(map(sum, sizes)):
            raise ValueError("the arrays have inconsistent lengths")
        instructions = [
            Instruction(int(op), int(in1), int(in2), int(out), (float(d0), float(d1)))
            for (op, in1, in2, out), (d0, d1) in zip(codes, constants, strict=True)
        ]
        members, row = [], 0
        for (setup, predict, learn), value in zip(sizes, fitness, strict=True):
            bounds = np.cumsum([row, setup, predict, learn]).tolist()
            parts = [tuple(instructions[bounds[i] : bounds[i + 1]]) for i in range(3)]
            members.append(Individual(Program(*parts), float(value)))
            row = bounds[3]
        return members
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StoreError(f"the checkpoint's individuals are malformed ({exc})") from None


class ProgramFitness:
    """Fitness on the search tasks: the FEC signature first, the full evaluation only on a cache miss.

    ``cache=None`` evaluates every program in full. ``evaluations`` counts full evaluations (each runs
    the program on every task), ``fec_hits`` the programs answered by the cache.
    """

    def __init__(
        self,
        tasks: Sequence[Task] | TaskBatch,
        memory: MemoryConfig,
        *,
        combine: str = "mean",
        max_abs_error: float = 100.0,
        rng_seed: int = 0,
        cache: FunctionalEquivalenceCache | None = None,
        fec_train: int = 10,
        fec_valid: int = 10,
    ) -> None:
        self.tasks = tasks
        self.memory = memory
        self.combine = combine
        self.max_abs_error = max_abs_error
        self.rng_seed = rng_seed
        self.cache = cache
        self.fec_train = fec_train
        self.fec_valid = fec_valid
        self.evaluations = 0

    def __call__(self, program: Program) -> float:
        from archsearch.zero.interpreter import evaluate, fec_signature

        key = None
        if self.cache is not None:
            key = fec_signature(
                program,
                self.tasks,
                self.memory,
                n_train=self.fec_train,
                n_valid=self.fec_valid,
                rng_seed=self.rng_seed,
                max_abs_error=self.max_abs_error,
            )
            cached = self.cache.lookup(key)
            if cached is not None:
                return cached
        fitness = evaluate(
            program,
            self.tasks,
            self.memory,
            rng_seed=self.rng_seed,
            max_abs_error=self.max_abs_error,
            combine=self.combine,
        )
        self.evaluations += 1
        if key is not None and self.cache is not None:
            self.cache.insert(key, fitness)
        return fitness

    def state_dict(self) -> dict[str, Any]:
        return {
            "evaluations": self.evaluations,
            "cache": None if self.cache is None else self.cache.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.evaluations = int(state["evaluations"])
        if self.cache is not None and state["cache"] is not None:
            self.cache.load_state_dict(state["cache"])


Fitness = Callable[[Program], float]


class Searcher(Protocol):
    """One stream of individuals: evolution's population or random search."""

    @property
    def evaluated(self) -> int: ...
    @property
    def best(self) -> Individual | None: ...
    def run(self, count: int) -> None: ...
    def emigrants(self, count: int) -> list[Individual]: ...
    def immigrate(self, individuals: list[Individual]) -> None: ...
    def elite(self) -> list[Individual]: ...
    def members(self) -> list[Individual]: ...
    def stats(self) -> dict[str, float]: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class _Search:
    """Bookkeeping both searches share: generator, counts, the best and the elite (best distinct)."""

    def __init__(self, space: ProgramSpace, fitness: Fitness, seed: int, elite_size: int = 10) -> None:
        self.space = space
        self.fitness = fitness
        self.rng = Stream(seed)
        self.elite_size = elite_size
        self.evaluated = 0
        self.best: Individual | None = None
        self._elite: list[Individual] = []  # fittest first, distinct programs

    def _evaluate(self, program: Program) -> Individual:
        individual = Individual(program, float(self.fitness(program)))
        self.evaluated += 1
        if self.best is None or individual.fitness > self.best.fitness:
            self.best = individual
        self._remember(individual)
        return individual

    def _remember(self, individual: Individual) -> None:
        if len(self._elite) == self.elite_size and individual.fitness <= self._elite[-1].fitness:
            return
        if any(member.program == individual.program for member in self._elite):
            return
        keys = [-member.fitness for member in self._elite]
        self._elite.insert(bisect.bisect_right(keys, -individual.fitness), individual)
        del self._elite[self.elite_size :]

    def elite(self) -> list[Individual]:
        """The fittest distinct programs seen so far (up to ``elite_size``), fittest first."""
        return list(self._elite)

    def stats(self) -> dict[str, float]:
        result = {"evaluated": float(self.evaluated)}
        if self.best is not None:
            result["best_fitness"] = self.best.fitness
        if isinstance(self.fitness, ProgramFitness):
            result["full_evaluations"] = float(self.fitness.evaluations)
            if self.fitness.cache is not None:
                result["fec_hits"] = float(self.fitness.cache.hits)
                result["fec_lookups"] = float(self.fitness.cache.lookups)
        return result

    def _base_state(self) -> dict[str, Any]:
        return {
            "engine": "python",
            "rng": self.rng.getstate(),
            "evaluated": self.evaluated,
            "best": None if self.best is None else individuals_state([self.best]),
            "elite": individuals_state(self._elite),
            "fitness": self.fitness.state_dict() if isinstance(self.fitness, ProgramFitness) else None,
        }

    def _load_base(self, state: dict[str, Any]) -> None:
        if state.get("engine") == "compiled":
            raise ConfigError(
                "this checkpoint was written by the compiled search engine; resume it with engine=compiled"
            )
        rng = state.get("rng")
        if not isinstance(rng, np.ndarray) or rng.dtype != np.uint64 or rng.shape != (4,):
            raise ConfigError(
                "this checkpoint was written by the Python search engine of an earlier archsearch, whose"
                " random stream differs; start the run again in a new directory, or finish it with the"
                " archsearch version that wrote it"
            )
        self.rng.setstate(rng)
        self.evaluated = int(state["evaluated"])
        self.best = None if state["best"] is None else individuals_from_state(state["best"])[0]
        self._elite = individuals_from_state(state["elite"])
        if isinstance(self.fitness, ProgramFitness) and state["fitness"] is not None:
            self.fitness.load_state_dict(state["fitness"])


class RegularizedEvolution(_Search):
    """Regularized evolution over programs (Real et al. 2020, section 4.1; SPEC.md 3.2 and 4.6).

    ``population_size`` is P, ``tournament_size`` T, the mutator's ``mutate_prob`` U. The initial
    population is P empty programs (``initial="empty"``, the paper) or P random programs of the space's
    initial sizes (``initial="random"``, the authors' released demo); it is evaluated like any child.
    """

    def __init__(
        self,
        space: ProgramSpace,
        fitness: Fitness,
        mutator: Mutator,
        *,
        population_size: int = 1000,
        tournament_size: int = 10,
        initial: str = "random",
        seed: int = 0,
        elite_size: int = 10,
    ) -> None:
        if population_size < 1:
            raise ConfigError(f"population_size must be at least 1, got {population_size}")
        if tournament_size < 1:
            raise ConfigError(f"tournament_size must be at least 1, got {tournament_size}")
        if initial not in ("random", "empty"):
            raise ConfigError(f"initial population must be 'random' or 'empty', got {initial!r}")
        if initial == "empty" and any(space.min_sizes[name] > 0 for name in COMPONENTS):
            raise ConfigError("initial population 'empty' needs every component's minimum size to be 0")
        super().__init__(space, fitness, seed, elite_size)
        self.mutator = mutator
        self.population_size = population_size
        self.tournament_size = tournament_size
        self.initial = initial
        self.population: deque[Individual] = deque()  # oldest first

    def _newcomer(self) -> Program:
        if self.initial == "empty":
            return empty_program()
        return random_program(self.space, self.rng)

    def select(self) -> Individual:
        """Tournament: the fittest of T members drawn uniformly with replacement (earliest wins ties)."""
        best: Individual | None = None
        for _ in range(self.tournament_size):
            pick = self.population[self.rng.below(len(self.population))]
            if best is None or pick.fitness > best.fitness:
                best = pick
        assert best is not None
        return best

    def step(self) -> Individual:
        """Evaluate one individual: an initial member while the population fills, else a child."""
        if self.evaluated < self.population_size and len(self.population) < self.population_size:
            child = self._evaluate(self._newcomer())
        else:
            child = self._evaluate(self.mutator(self.select().program, self.rng))
        self.population.append(child)
        while len(self.population) > self.population_size:
            self.population.popleft()
        return child

    def run(self, count: int) -> None:
        for _ in range(count):
            self.step()

    def members(self) -> list[Individual]:
        """The population, oldest first."""
        return list(self.population)

    def emigrants(self, count: int) -> list[Individual]:
        """Tournament winners sent to another island (they stay here too)."""
        if not self.population:
            return []
        return [self.select() for _ in range(count)]

    def immigrate(self, individuals: list[Individual]) -> None:
        """Newcomers join as the youngest members; the oldest leave to keep P."""
        for individual in individuals:
            self.population.append(individual)
            self._remember(individual)
            if self.best is None or individual.fitness > self.best.fitness:
                self.best = individual
        while len(self.population) > self.population_size:
            self.population.popleft()

    def stats(self) -> dict[str, float]:
        result = super().stats()
        if self.population:
            result["population_mean"] = float(np.mean([member.fitness for member in self.population]))
        return result

    def state_dict(self) -> dict[str, Any]:
        return {**self._base_state(), "population": individuals_state(self.population)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._load_base(state)
        self.population = deque(individuals_from_state(state["population"]))


class RandomSearch(_Search):
    """Random search: each individual a fresh random program, sizes uniform within the space's bounds.

    The baseline of Real et al. (2020), figure 5: same space, same number of individuals evaluated.
    """

    def run(self, count: int) -> None:
        for _ in range(count):
            self._evaluate(random_sized_program(self.space, self.rng))

    def members(self) -> list[Individual]:
        return []

    def emigrants(self, count: int) -> list[Individual]:
        return []

    def immigrate(self, individuals: list[Individual]) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return self._base_state()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._load_base(state)


# -- islands ---------------------------------------------------------------------------------------------
SearcherFactory = Callable[[int], Searcher]  # island index -> a fresh searcher; picklable for spawn


class _LocalIsland:
    """An island in this process."""

    def __init__(self, factory: SearcherFactory, index: int) -> None:
        self.searcher = factory(index)

    def send(self, method: str, *args: Any) -> None:
        self._reply = getattr(self.searcher, method)(*args)

    def receive(self) -> Any:
        return self._reply

    def close(self, wait: bool = True) -> None:
        pass


def _island_main(connection: Connection, factory: SearcherFactory, index: int, driver_pid: int) -> None:
    from archsearch.executors.base import become_worker

    become_worker(driver_pid)  # Ctrl-C is the driver's to handle: it stops the islands
    try:
        searcher = factory(index)
    except Exception as exc:  # report, then exit: the driver raises it
        connection.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    connection.send(("ok", None))
    while True:
        try:
            method, args = connection.recv()
        except EOFError:
            return
        if method == "close":
            return
        try:
            connection.send(("ok", getattr(searcher, method)(*args)))
        except Exception as exc:
            connection.send(("error", f"{type(exc).__name__}: {exc}"))


class _ProcessIsland:
    """An island in a spawned worker process, driven over a pipe."""

    def __init__(self, factory: SearcherFactory, index: int) -> None:
        from archsearch.executors.base import interrupts_held

        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(
            target=_island_main, args=(child, factory, index, os.getpid()), daemon=True
        )
        with interrupts_held():  # the worker inherits the mask: no KeyboardInterrupt while it imports
            self._process.start()
        child.close()
        self.receive()

    def send(self, method: str, *args: Any) -> None:
        self._connection.send((method, args))

    def receive(self) -> Any:
        try:
            status, value = self._connection.recv()
        except EOFError:
            raise ArchsearchError("an AutoML-Zero worker process died") from None
        if status == "error":
            raise ArchsearchError(f"AutoML-Zero worker failed: {value}")
        return value

    def close(self, wait: bool = True) -> None:
        """Ask the worker to exit and wait up to 5 s for it; without ``wait`` (the run was interrupted,
        its state is in the last checkpoint) kill it at once instead of waiting for its round to end."""
        if wait:
            try:
                self._connection.send(("close", ()))
            except OSError:
                pass
            self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=5)


class Islands:
    """W searchers (one per worker process) that exchange individuals between rounds (migration).

    Each round every island runs its share of individuals in parallel; then island i sends ``migrants``
    tournament winners to island i + 1 (a ring), where they join as the youngest members (Real et al.
    2020, section 4.1: "periodically exchange"; frequency and fraction are ours). Rounds are
    synchronous, so the trajectory depends on the seed, W and the round length, never on timing.
    One island runs in this process.
    """

    def __init__(self, factory: SearcherFactory, workers: int = 1, migrants: int = 5) -> None:
        if workers < 1:
            raise ConfigError(f"workers must be at least 1, got {workers}")
        if migrants < 0:
            raise ConfigError(f"migrants must be >= 0, got {migrants}")
        self.migrants = migrants
        self._islands: list[_LocalIsland | _ProcessIsland] = []
        try:
            for index in range(workers):
                island_type = _LocalIsland if workers == 1 else _ProcessIsland
                self._islands.append(island_type(factory, index))
        except BaseException:
            self.close(wait=False)
            raise

    @property
    def workers(self) -> int:
        return len(self._islands)

    def _all(self, method: str, args: Sequence[tuple[Any, ...]] | None = None) -> list[Any]:
        for index, island in enumerate(self._islands):
            island.send(method, *(args[index] if args is not None else ()))
        return [island.receive() for island in self._islands]

    def run_round(self, counts: Sequence[int]) -> None:
        """Island i evaluates ``counts[i]`` individuals; then, with several islands, migration."""
        self._all("run", [(int(n),) for n in counts])
        if self.workers > 1 and self.migrants > 0:
            outgoing = self._all("emigrants", [(self.migrants,)] * self.workers)
            self._all("immigrate", [(outgoing[(i - 1) % self.workers],) for i in range(self.workers)])

    def stats(self) -> list[dict[str, float]]:
        return list(self._all("stats"))

    def elite(self) -> list[Individual]:
        """The elites of all islands, fittest first."""
        members = [member for elite in self._all("elite") for member in elite]
        return sorted(members, key=lambda member: -member.fitness)

    def state_dict(self) -> bytes:
        """Every island's state in the stored state format (``store/codec.py``, data only)."""
        return encode_state(self._all("state_dict"))

    def load_state_dict(self, blob: bytes) -> None:
        states = decode_state(blob)  # runs no code, whatever the blob holds
        if not isinstance(states, list) or not all(isinstance(state, dict) for state in states):
            raise StoreError("the checkpoint does not hold the islands' states")
        if len(states) != self.workers:
            raise ConfigError(f"checkpoint holds {len(states)} islands, this run has {self.workers} workers")
        self._all("load_state_dict", [(state,) for state in states])

    def close(self, wait: bool = True) -> None:
        for island in self._islands:
            island.close(wait)
        self._islands = []

    def __enter__(self) -> Islands:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.close(wait=exc_type is None)  # after an error or Ctrl-C the islands are killed, not awaited

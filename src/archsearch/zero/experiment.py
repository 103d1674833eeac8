"""An AutoML-Zero experiment: create, load, run and resume it (after kill -9 too), select and test its winner.

The search runs in rounds: each worker (island) evaluates ``round_size`` individuals, islands exchange
migrants, and one transaction records a progress snapshot, the best program if it improved and, every
``checkpoint_every_s`` seconds, the complete state of every island (population, generator, FEC cache).
A resumed experiment restarts from the last checkpoint and drops the snapshots written after it, so it
repeats exactly what the interrupted run would have done. At the end the elite of the search (the fittest
distinct programs) is evaluated on the select tasks; the winner is evaluated once on the final tasks,
never used for anything else (Real et al. 2020, section 4; SPEC.md 4.5).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from archsearch.errors import ConfigError, StoreError
from archsearch.store.base import RunStore
from archsearch.store.codec import LegacyStateError, StateFormatError, decode_state
from archsearch.store.runlock import HeldRun, RunLock
from archsearch.zero.config import ZeroConfig, parse_zero_config, program_space, task_split
from archsearch.zero.evolution import (
    Individual,
    Islands,
    ProgramFitness,
    RandomSearch,
    RegularizedEvolution,
    Searcher,
)
from archsearch.zero.fec import FunctionalEquivalenceCache
from archsearch.zero.mutation import Mutator
from archsearch.zero.program import MemoryConfig, Program
from archsearch.zero.record import (
    ZERO_TABLES,
    ExperimentResult,
    FinalResult,
    RunState,
    Snapshot,
    ZeroRecord,
    start_record,
)

log = logging.getLogger(__name__)

BASELINE_DIR = "random"
"""The folder inside a run directory that holds its random-search baseline run."""


def rmse_from_fitness(fitness: float | np.ndarray) -> Any:
    """Invert the regression fitness 1 - (2/pi) arctan(RMSE) (SPEC.md 4.4); fitness 0 maps to inf."""
    return np.tan((1.0 - np.asarray(fitness, dtype=np.float64)) * np.pi / 2.0)


def fitness_from_rmse(rmse: float) -> float:
    return 1.0 - 2.0 / math.pi * math.atan(rmse)


#: The select check (``sufficient_fitness``) runs on a new best program only from this search fitness on
#: (search RMSE 0.016): below it no program is near solving, and the check would only cost time.
SELECT_CHECK_FROM = 0.99


def select_fitness(config: ZeroConfig, program: Program, tasks: Any = None) -> float:
    """``program``'s fitness on the select tasks (``tasks``: the split's select set, built if None)."""
    from archsearch.zero.interpreter import combine_fitness, evaluate_each

    values = evaluate_each(
        program,
        task_split(config).select if tasks is None else tasks,
        config.memory_config(),
        rng_seed=config.seed,
        max_abs_error=config.max_abs_error,
    )
    return combine_fitness(values, config.combine)


def sufficient(config: ZeroConfig, program: Program, search_fitness: float, tasks: Any = None) -> bool:
    """Whether ``program`` (search fitness ``search_fitness``) ends the run: its select fitness exceeds
    ``sufficient_fitness`` (checked only from SELECT_CHECK_FROM on)."""
    stop = config.stop_fitness()
    if stop is None or search_fitness < min(stop, SELECT_CHECK_FROM):
        return False
    return select_fitness(config, program, tasks) > stop


def search_fitness(config: ZeroConfig, experiment: int = 0) -> ProgramFitness:
    from archsearch.zero.interpreter import task_batch

    split = task_split(config, experiment)
    cache = FunctionalEquivalenceCache(config.fec_capacity, config.fec_max_hits) if config.fec else None
    return ProgramFitness(
        task_batch(split.search),
        config.memory_config(),
        combine=config.combine,
        max_abs_error=config.max_abs_error,
        rng_seed=config.seed,
        cache=cache,
        fec_train=config.fec_train,
        fec_valid=config.fec_valid,
    )


def build_searcher(config_data: dict[str, Any], index: int, experiment: int = 0) -> Searcher:
    """The searcher of island ``index`` in experiment ``experiment`` (module level so that spawned workers
    can build their own): its own generator, the experiment's search tasks, an empty FEC cache."""
    config = parse_zero_config(config_data)
    space = program_space(config)
    entropy = [config.seed, index] if experiment == 0 else [config.seed, index, experiment]
    seed = int(np.random.SeedSequence(entropy).generate_state(1)[0])
    if config.engine == "compiled":
        from archsearch.zero.compiled import CompiledSearch
        from archsearch.zero.interpreter import task_batch

        return CompiledSearch(
            space,
            task_batch(task_split(config, experiment).search),
            space.memory,
            strategy=config.strategy,
            population_size=config.population_size,
            tournament_size=config.tournament_size,
            mutate_prob=config.mutate_prob,
            mutations=tuple(config.mutations),
            initial=config.initial,
            seed=seed,
            elite_size=config.elite_size,
            combine=config.combine,
            max_abs_error=config.max_abs_error,
            rng_seed=config.seed,
            fec=config.fec,
            fec_capacity=config.fec_capacity,
            fec_max_hits=config.fec_max_hits,
            fec_train=config.fec_train,
            fec_valid=config.fec_valid,
        )
    fitness = search_fitness(config, experiment)
    if config.strategy == "random":
        return RandomSearch(space, fitness, seed, config.elite_size)
    return RegularizedEvolution(
        space,
        fitness,
        Mutator(space, config.mutate_prob, tuple(config.mutations)),
        population_size=config.population_size,
        tournament_size=config.tournament_size,
        initial=config.initial,
        seed=seed,
        elite_size=config.elite_size,
    )


Listener = Callable[[Snapshot], None]


class Experiment(HeldRun):
    """An AutoML-Zero run in ``directory`` (its ``study.db``): create, load, run, resume, finish."""

    def __init__(self, directory: Path, store: RunStore, config: ZeroConfig) -> None:
        self.directory = directory
        self.store = store
        self.record = ZeroRecord(store)
        self.config = config
        self.lock: RunLock | None = None  # held while this process creates or runs the run

    @classmethod
    def create(cls, config: ZeroConfig, directory: str | Path, overwrite: bool = False) -> Experiment:
        """Start a run in ``directory``; a failed start removes only what it made (store/rundir.py), and
        ``overwrite`` replaces the old run's database and its random-search baseline, nothing else."""
        directory = Path(directory)
        program_space(config)  # bad op sets and size bounds fail here, before anything is written
        task_split(config)  # so do missing data files
        from archsearch.store.rundir import new_run

        occupied = f"{directory} already holds a run; resume it, or pass --overwrite"
        nested, tables = (BASELINE_DIR,), (ZERO_TABLES,)
        with new_run(directory, "zero", overwrite, occupied, nested, tables, store_class=RunStore) as staged:
            start_record(staged.store, config.model_dump(mode="json"))
            experiment = cls(directory, staged.publish(), config)
            experiment.lock = staged.lock
        return experiment

    @classmethod
    def load(cls, directory: str | Path, lock: bool = False, read_only: bool = False) -> Experiment:
        """The run in ``directory``; ``lock`` makes this process its one driver (to run it) at once;
        ``read_only`` opens its database without writing a byte (status, report, export)."""
        directory = Path(directory)
        from archsearch.store.rundir import (
            check_created,
            kind_name,
            open_run,
            unfinished,
            unfinished_error,
        )

        check_created(directory)
        if not (directory / "study.db").exists():
            raise StoreError(
                f"no AutoML-Zero run in {directory}; start one with `archsearch zero --out {directory}`"
            )
        tables = (ZERO_TABLES,)
        with open_run(directory, lock, read_only, tables, store_class=RunStore, kind="zero") as (store, held):
            data = ZeroRecord(store).config()
            if unfinished(store):
                raise unfinished_error(directory)
            if data is None or store.kind != "zero":
                raise StoreError(f"{directory} holds {kind_name(store.kind)}, not an AutoML-Zero run")
            experiment = cls(directory, store, parse_zero_config(data))
        experiment.lock = held
        return experiment

    def memory(self) -> MemoryConfig:
        return self.config.memory_config()

    def _finished(self, final: FinalResult) -> bool:
        """Whether the run that selected ``final`` has nothing left: its budget spent or its target met."""
        if self.individuals() >= self.config.budget:
            return True
        best = self.best()
        return best is not None and sufficient(self.config, best[2], best[1], task_split(self.config).select)

    def set_budget(self, budget: int) -> None:
        """Raise (never lower below what is done) the number of individuals of the run."""
        if budget < self.individuals():
            raise ConfigError(
                f"--budget {budget:,} is below the {self.individuals():,} individuals already evaluated"
            )
        self.config = self.config.model_copy(update={"budget": budget})
        self.record.save_config(self.config.model_dump(mode="json"))

    # -- reading ----------------------------------------------------------------------------------------
    def progress(self) -> list[Snapshot]:
        return self.record.progress()

    def best_history(self) -> list[tuple[int, float, Program]]:
        return self.record.best_history()

    def best(self) -> tuple[int, float, Program] | None:
        """The fittest program of the search so far (by search fitness): (individuals, fitness, program)."""
        history = self.best_history()
        return history[-1] if history else None

    def final(self) -> FinalResult | None:
        return self.record.final()

    def individuals(self) -> int:
        return self.record.individuals()

    def experiments(self) -> list[ExperimentResult]:
        """The finished experiments of a run with restarts, each with its winner (best search fitness)."""
        return self.record.experiments()

    # -- running ----------------------------------------------------------------------------------------
    def _budgets(self, state: RunState) -> list[int]:
        """Each worker's individuals in the experiment of ``state``."""
        budget, size, workers = self.config.budget, self.config.experiment_individuals, self.config.workers
        total = budget - state.before if size is None else min(size, budget - state.before)
        return [total // workers + (1 if i < total % workers else 0) for i in range(workers)]

    def run(
        self, listeners: list[Listener] | None = None, max_time_s: float | None = None
    ) -> FinalResult | None:
        """Search (or continue) until the budget is spent or the target reached, then select and test.

        With ``experiment_individuals`` the search restarts (new search tasks, new population, empty
        FEC cache) after that many individuals, as the released code's experiments; the winner of each
        finished experiment is kept and competes in the final selection. ``max_time_s`` pauses the
        search after that many seconds of this call (resume continues it); it returns None then.
        """
        self.take_lock()
        config = self.config
        started = time.monotonic()
        final = self.final()
        if final is not None and self._finished(final):
            return final  # nothing to continue (nor its checkpoint to read): the budget was not raised
        round_index, elapsed_before, state = self._checkpoint()
        self.record.forget_after(round_index)  # rows written after the checkpoint are redone
        best = self.best()
        global_best = None if best is None else best[1]
        select_tasks = task_split(config).select
        reached = best is not None and sufficient(config, best[2], best[1], select_tasks)
        while True:
            factory = partial(build_searcher, config.model_dump(mode="json"), experiment=state.experiment)
            with Islands(factory, config.workers, config.migrants) as islands:
                if state.islands is not None:
                    islands.load_state_dict(state.islands)
                budgets = self._budgets(state)
                stats = islands.stats()
                done = [int(s["evaluated"]) for s in stats]
                experiment_best = max((s.get("best_fitness", -math.inf) for s in stats), default=-math.inf)
                last_checkpoint = time.monotonic()
                next_state = state
                while sum(done) < sum(budgets) and not reached:
                    if max_time_s is not None and time.monotonic() - started >= max_time_s:
                        return None
                    tick = time.monotonic()
                    counts = [min(config.round_size, budgets[i] - done[i]) for i in range(config.workers)]
                    islands.run_round(counts)
                    round_index += 1
                    stats = islands.stats()
                    done = [int(s["evaluated"]) for s in stats]
                    elapsed = elapsed_before + time.monotonic() - started
                    rate = sum(counts) / max(time.monotonic() - tick, 1e-9)
                    snapshot = _snapshot(round_index, stats, elapsed, rate, state)
                    improved: Individual | None = None
                    island_best = max((s.get("best_fitness", -math.inf) for s in stats), default=-math.inf)
                    if island_best > experiment_best:
                        experiment_best = island_best
                        leader = islands.elite()[0]
                        reached = sufficient(config, leader.program, leader.fitness, select_tasks)
                        if global_best is None or leader.fitness > global_best:
                            improved, global_best = leader, leader.fitness
                    experiment_done = sum(done) >= sum(budgets)
                    if experiment_done and not reached:  # the released code checks each experiment's winner
                        winner = islands.elite()[0]
                        winner_select = select_fitness(config, winner.program, select_tasks)
                        stop = config.stop_fitness()
                        reached = stop is not None and winner_select > stop
                    finished = reached or (experiment_done and state.before + sum(done) >= config.budget)
                    restart = experiment_done and not finished
                    row = None
                    if restart:
                        next_state = state.next(sum(done), snapshot.full_evaluations)
                        row = (state.experiment, winner, winner_select)
                        saved: bytes | None = next_state.to_blob()
                    elif time.monotonic() - last_checkpoint >= config.checkpoint_every_s or finished:
                        saved = replace(state, islands=islands.state_dict()).to_blob()
                    else:
                        saved = None
                    self.record.write_round(
                        snapshot,
                        None if improved is None else (improved.fitness, improved.program),
                        saved,
                        None if row is None else (row[0], row[1].fitness, row[2], row[1].program),
                    )
                    if saved is not None:
                        last_checkpoint = time.monotonic()
                    for listener in listeners or []:
                        listener(snapshot)
                    if restart:
                        break
                candidates = islands.elite()
            if next_state is state or reached:
                break
            state = next_state
        earlier = [Individual(e.program, e.search_fitness) for e in self.experiments()]
        return self.finish(candidates[: config.elite_size] + earlier)

    def _checkpoint(self) -> tuple[int, float, RunState]:
        """(round, elapsed seconds, state) of the newest checkpoint that decodes; (0, 0, fresh) without one.

        A newest checkpoint that cannot be read falls back, with a warning, to the one before it (the rounds
        after it are redone); one pickled by an earlier archsearch is refused (LegacyStateError)."""
        error: StateFormatError | None = None
        for round_index, elapsed, blob in self.record.checkpoints():
            try:
                state = RunState.from_blob(blob)
                if state.islands is not None:
                    decode_state(state.islands)  # checked here, while the older checkpoint can still be used
                return round_index, elapsed, state
            except LegacyStateError:
                raise
            except StateFormatError as exc:
                log.warning(
                    "%s: the checkpoint of round %d cannot be read (%s)", self.directory, round_index, exc
                )
                error = error or exc
        if error is not None:
            raise error
        return 0, 0.0, RunState()

    def finish(self, candidates: list[Individual]) -> FinalResult:
        """Select the best of ``candidates`` (distinct programs; the search elite, then earlier experiments'
        winners) on the select tasks, evaluate it on the final tasks, store it."""
        from archsearch.zero.interpreter import combine_fitness, evaluate_each

        config = self.config
        split = task_split(config)
        memory = config.memory_config()
        unique: list[Individual] = []
        for member in candidates:
            if all(member.program != other.program for other in unique):
                unique.append(member)
        if not unique:
            raise ConfigError("the search evaluated no program; raise the budget")

        def score(program: Program, tasks: Any) -> np.ndarray:
            return evaluate_each(
                program, tasks, memory, rng_seed=config.seed, max_abs_error=config.max_abs_error
            )

        select = [combine_fitness(score(m.program, split.select), config.combine) for m in unique]
        winner_index = int(np.argmax(select))  # ties: the fitter on the search tasks (listed first)
        winner = unique[winner_index]
        final_each = score(winner.program, split.final)
        metrics: dict[str, float] = {}
        if config.classification:
            metrics["final_accuracy_mean"] = float(np.mean(final_each))
        else:
            rmse = rmse_from_fitness(final_each)
            metrics.update(
                final_rmse_mean=float(np.mean(rmse)),
                final_rmse_median=float(np.median(rmse)),
                final_rmse_max=float(np.max(rmse)),
            )
            if config.target_rmse is not None:
                metrics["solved"] = float(np.mean(rmse) < config.target_rmse)
        result = FinalResult(
            program=winner.program,
            search_fitness=winner.fitness,
            select_fitness=select[winner_index],
            final_fitness=combine_fitness(final_each, config.combine),
            final_per_task=[float(x) for x in final_each],
            candidates=len(unique),
            metrics=metrics,
        )
        self.record.save_final(result)
        return result


def _snapshot(
    round_index: int, stats: list[dict[str, float]], elapsed: float, rate: float, state: RunState
) -> Snapshot:
    """Progress after a round; individuals and full evaluations count earlier experiments too."""
    bests = [s["best_fitness"] for s in stats if "best_fitness" in s]
    means = [s["population_mean"] for s in stats if "population_mean" in s]
    lookups = sum(s.get("fec_lookups", 0.0) for s in stats)
    hits = sum(s.get("fec_hits", 0.0) for s in stats)
    return Snapshot(
        round=round_index,
        individuals=state.before + int(sum(s["evaluated"] for s in stats)),
        elapsed_s=elapsed,
        best_fitness=max(bests) if bests else None,
        population_mean=float(np.mean(means)) if means else None,
        fec_hit_rate=hits / lookups if lookups else None,
        full_evaluations=state.full_before
        + int(sum(s.get("full_evaluations", s["evaluated"]) for s in stats)),
        individuals_per_s=rate,
    )

"""The ``Run`` of an AutoML-Zero search (``archsearch zero``), around ``zero.Experiment``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archsearch.runs.base import Best, Exported, RunAdapter, RunKind, RunStatus

if TYPE_CHECKING:
    import pandas

    from archsearch.zero.experiment import Experiment
    from archsearch.zero.record import FinalResult


class ZeroRun(RunAdapter):
    """An AutoML-Zero run as a ``Run``; ``experiment`` is the run itself (light to load: no numba until
    it runs)."""

    kind: RunKind = "zero"

    def __init__(self, directory: str | Path, lock: bool = False, read_only: bool = False) -> None:
        from archsearch.zero.experiment import Experiment

        self.directory = Path(directory)
        self.experiment: Experiment = Experiment.load(self.directory, lock=lock, read_only=read_only)

    @classmethod
    def of(cls, experiment: Experiment) -> ZeroRun:
        """``experiment`` (just made or loaded) as a ``Run``."""
        run = cls.__new__(cls)
        run.directory, run.experiment = Path(experiment.directory), experiment
        return run

    def close(self) -> None:
        self.experiment.close()

    def final(self) -> FinalResult | None:
        """The selected program with its select and held-out fitness, once the run finished."""
        return self.experiment.final()

    def status(self) -> RunStatus:
        config = self.experiment.config
        return RunStatus(
            kind=self.kind,
            directory=self.directory,
            unit="individuals",
            done=self.experiment.individuals(),
            total=config.budget,
            finished=self.final() is not None,
        )

    def best(self) -> Best | None:
        """The selected program of a finished run (by its held-out fitness), else the fittest program of
        the search so far (by search fitness)."""
        final = self.final()
        if final is not None:
            metrics = {
                "search_fitness": final.search_fitness,
                "select_fitness": final.select_fitness,
                "final_fitness": final.final_fitness,
                **final.metrics,
            }
            return Best(
                kind=self.kind,
                label=final.program.pretty(),
                score_name="final_fitness",
                score=final.final_fitness,
                number=self.experiment.individuals(),
                values=final.program.to_json(),
                metrics=metrics,
                source=final,
            )
        best = self.experiment.best()
        if best is None:
            return None
        individuals, fitness, program = best
        return Best(
            kind=self.kind,
            label=program.pretty(),
            score_name="search_fitness",
            score=fitness,
            number=individuals,
            values=program.to_json(),
            metrics={"search_fitness": fitness},
            finished=False,
            source=best,
        )

    def trials_dataframe(self) -> pandas.DataFrame:
        """One row per recorded progress round (``frames.progress_frame``)."""
        from archsearch.frames import progress_frame

        return progress_frame(self.experiment.progress())

    def run(self, listeners: Sequence[Any] = (), max_time_s: float | None = None) -> FinalResult | None:
        """Continue from the last checkpoint; None when ``max_time_s`` paused it first."""
        return self.experiment.run(list(listeners), max_time_s=max_time_s)

    def set_budget(self, budget: int) -> None:
        """Raise the number of individuals (never below those already evaluated)."""
        self.experiment.set_budget(budget)

    def report(self, out: Path | None = None) -> Path:
        """best fitness vs individuals (with the run's random-search baseline, DIR/random, if any) and the
        best program (``zero.report.write_report``)."""
        from archsearch.zero.report import write_report

        return write_report([self.directory], out)

    def export(self, out: Path | None = None) -> Exported:
        """Write the best program as a standalone numpy module (default DIR/algorithm.py; ``out`` a file,
        or a folder to write algorithm.py in): the selected one of a finished run, else the fittest so far."""
        from archsearch.errors import ConfigError
        from archsearch.zero.export import export_source

        experiment = self.experiment
        final = experiment.final()
        if final is not None:
            program, fitness, where = final.program, final.final_fitness, "held-out fitness"
        else:
            best = experiment.best()
            if best is None:
                raise ConfigError(f"{self.directory} has no program yet; let the run go on for a round")
            _, fitness, program = best
            where = "search fitness (the run is not finished)"
        target = out or self.directory / "algorithm.py"
        if target.is_dir():  # a folder, as the other kinds take: the module goes inside it
            target = target / "algorithm.py"
        title = f"AutoML-Zero algorithm for {experiment.config.task} tasks ({where} {fitness:.6f})"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(export_source(program, experiment.memory(), title, module=target.stem))
        return Exported(target=target, subject="the best program")

"""The ``Run`` of a study of trials (``archsearch search``): reads its database and config alone, and
builds the ``Study`` (space, strategy, evaluator) only to run or export it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archsearch.core import TrialRecord
from archsearch.errors import ConfigError
from archsearch.runs.base import Best, Exported, RunAdapter, RunKind, RunStatus

if TYPE_CHECKING:
    import pandas

    from archsearch.core import SearchSpace
    from archsearch.objectives import Constraint, Objective
    from archsearch.reporting import Report
    from archsearch.study import Study


class StudyRun(RunAdapter):
    """A study of trials as a ``Run``. ``lock`` loads the whole study at once (the one process driving
    it); otherwise its database and config are read, and ``study`` is built on first use."""

    kind: RunKind = "study"

    def __init__(self, directory: str | Path, lock: bool = False, read_only: bool = False) -> None:
        from archsearch.store.rundir import open_run
        from archsearch.store.trials import StudyStore
        from archsearch.study import stored_config

        self.directory = Path(directory)
        self._study: Study | None = None
        with open_run(self.directory, lock, read_only, store_class=StudyStore) as (store, held):
            self.config = stored_config(store, self.directory)
        self.store, self.lock = store, held

    @classmethod
    def of(cls, study: Study) -> StudyRun:
        """``study`` (just made or loaded, with its lock if it holds one) as a ``Run``."""
        run = cls.__new__(cls)
        run.directory, run._study = Path(study.directory), study
        run.config, run.store, run.lock = study.config, study.store, study.lock
        return run

    @property
    def study(self) -> Study:
        """The whole study (its space, strategy, evaluator and reward built), on the same database and
        holding the same lock."""
        if self._study is None:
            from archsearch.study import Study

            try:
                self._study = Study(self.config, self.directory, self.store)
            except BaseException:
                self.close()
                raise
            self._study.lock = self.lock
        return self._study

    def close(self) -> None:
        if self._study is not None:
            self._study.close()
            return
        self.store.close()
        if self.lock is not None:
            self.lock.release()

    # -- reading ------------------------------------------------------------------------------------
    def trials(self) -> list[TrialRecord]:
        return self.store.trials()

    def reports(self, number: int | None = None) -> list[Report]:
        """The intermediate reports of trial ``number`` (every trial's when None), by trial and step: the
        curves as the trials reported them while running (a running trial's so far)."""
        return self.store.reports(number)

    def reward_fn(self) -> Any:
        """The study's reward function (built from its config, without the rest of the study)."""
        if self._study is not None:
            return self._study.reward_fn
        from archsearch.data.user import in_run
        from archsearch.registry import construct

        reward = self.config.reward
        return construct("reward", reward.name, in_run(reward.params, self.directory))

    def space(self) -> SearchSpace:
        """The study's search space (built from its config, without the rest of the study)."""
        if self._study is not None:
            return self._study.space
        from archsearch.data.user import in_run
        from archsearch.registry import construct

        space = self.config.space
        return construct("space", space.name, in_run(space.params, self.directory))  # type: ignore[no-any-return]

    def leading_metrics(self) -> list[str]:
        """The metrics the study is about: its reward's metric, then its objectives' (report/columns.py)."""
        from archsearch.report.columns import goal_metrics

        return goal_metrics(self.reward_fn(), self.config.objectives)

    def status(self) -> RunStatus:
        trials = self.trials()
        counts: dict[str, int] = {}
        for trial in trials:
            counts[trial.status] = counts.get(trial.status, 0) + 1
        return RunStatus(
            kind=self.kind,
            directory=self.directory,
            unit="trials",
            done=len(trials),
            total=self.config.n_trials,
            finished=len(trials) >= self.config.n_trials and all(t.finished for t in trials),
            counts=counts,
        )

    def best(self, include_pruned: bool = False) -> Best | None:
        """The best trial trained to the end (``include_pruned``: or stopped early by the pruner, ranked by
        the reward of what it reached)."""
        return self.pick(include_pruned=include_pruned)

    def pick(
        self,
        objective: Objective | None = None,
        constraints: Sequence[Constraint] = (),
        include_pruned: bool = False,
    ) -> Best | None:
        """The best trial by reward, or by ``objective`` among the trials meeting ``constraints`` (a pick
        off the Pareto front, ``archsearch.front.pick``); a pruned trial only with ``include_pruned`` (its
        metrics are those it reached when it was stopped)."""
        trials = self.trials()
        if objective is None and not constraints:
            from archsearch.study import best_trial

            record = best_trial(trials, include_pruned)
        else:
            from archsearch.front import pick

            # the front ranks successful trials; pruned ones join them as candidates when asked
            candidates = [
                replace(t, status="ok") if include_pruned and t.status == "pruned" else t for t in trials
            ]
            found = pick(candidates, objective, constraints)
            record = None if found is None else next(t for t in trials if t.number == found.number)
        return None if record is None else trial_best(record)

    def trials_dataframe(self) -> pandas.DataFrame:
        from archsearch.frames import trials_frame

        try:
            space: SearchSpace | None = self.space()
        except ConfigError:  # the user's module is gone: the decisions are named by position instead
            space = None
        return trials_frame(self.trials(), space, self.reports())

    # -- running and writing ------------------------------------------------------------------------
    def run(self, listeners: Sequence[Any] = ()) -> None:
        self.study.run(listeners)

    def set_budget(self, budget: int) -> None:
        """Raise the number of trials (never below the trials already started)."""
        started = self.store.count()
        if budget < started:
            raise ConfigError(f"a budget of {budget} trials is below the {started} trials already started")
        self.config = self.config.model_copy(update={"n_trials": budget})
        if self._study is not None:  # built already: its ledger counts to the new budget too
            self._study.config = self.config
        self.store.set_meta("config", self.config.model_dump(mode="json"))

    def report(self, out: Path | None = None) -> Path:
        from archsearch.report.html import write_report

        return write_report(self.directory, out)

    def export(self, out: Path | None = None, trial: int | None = None) -> Exported:
        """Write the best trial (or trial number ``trial``) as JSON, a PyTorch module file and its trained
        weights where kept (``report.export.write_trial_export``)."""
        from archsearch.report.export import write_trial_export

        done = write_trial_export(self.study, trial, out)
        files = [*done.files]
        if done.weights:
            files[-1] += " (the trained weights)"
        left_out = (("model.py", done.no_model), ("weights.pt", done.no_weights))
        return Exported(
            target=done.directory,
            subject=f"trial {done.trial.number} ({done.trial.arch_str})",
            files=files,
            notes=[f"no {name}: {why}" for name, why in left_out if why is not None],
        )


def trial_best(record: TrialRecord) -> Best:
    """A trial as the ``Best`` of a study."""
    return Best(
        kind="study",
        label=record.arch_str,
        score_name="reward",
        score=record.reward,
        number=record.number,
        values=record.arch.to_dict()["values"],
        metrics=dict(record.metrics),
        status=record.status,
        source=record,
    )

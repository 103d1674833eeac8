"""The ``Run`` of a one-shot search (``archsearch oneshot``): reads its database alone, and builds the
``OneShotRun`` (supernet, data) only to continue it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archsearch.errors import ConfigError
from archsearch.runs.base import Best, Exported, RunAdapter, RunKind, RunStatus

if TYPE_CHECKING:
    import pandas

    from archsearch.core import SearchSpace
    from archsearch.oneshot.run import OneShotRun
    from archsearch.store.sqlite import EpochRecord

ONESHOT_KIND = "oneshot"
"""meta.kind of a one-shot run's database."""


class OneShotRunAdapter(RunAdapter):
    """A one-shot run as a ``Run``. ``lock`` loads the whole run at once (the one process driving it);
    otherwise its database is read, and ``oneshot`` is built on first use."""

    kind: RunKind = "oneshot"

    def __init__(self, directory: str | Path, lock: bool = False, read_only: bool = False) -> None:
        self.directory = Path(directory)
        self._run: OneShotRun | None = None
        if lock:
            from archsearch.oneshot.run import OneShotRun

            self._run = OneShotRun.load(self.directory, lock=True, read_only=read_only)
            self.store = self._run.store
        else:
            from archsearch.store.epochs import OneShotStore
            from archsearch.store.rundir import open_run, unfinished, unfinished_error

            with open_run(self.directory, False, read_only, store_class=OneShotStore, kind=ONESHOT_KIND) as (
                store,
                _,
            ):
                if unfinished(store):
                    raise unfinished_error(self.directory)
            self.store = store
        self.config: dict[str, Any] = self.store.get_meta("oneshot_config")

    @classmethod
    def of(cls, run: OneShotRun) -> OneShotRunAdapter:
        """``run`` (just made or loaded) as a ``Run``."""
        adapter = cls.__new__(cls)
        adapter.directory, adapter._run, adapter.store = Path(run.directory), run, run.store
        adapter.config = run.store.get_meta("oneshot_config")
        return adapter

    @property
    def oneshot(self) -> OneShotRun:
        """The whole run (supernet, method and data loaded), on the same database."""
        if self._run is None:
            from archsearch.oneshot.run import OneShotRun, import_stored_dirs, parse_oneshot_config

            import_stored_dirs(self.store)
            self._run = OneShotRun(parse_oneshot_config(self.config), self.directory, self.store)
        return self._run

    def close(self) -> None:
        if self._run is not None:
            self._run.close()
        else:
            self.store.close()

    # -- reading ------------------------------------------------------------------------------------
    def epochs(self) -> list[EpochRecord]:
        return self.store.epochs()

    def summary(self) -> dict[str, Any] | None:
        """The summary recorded when the search finished (derived cell, estimates, collapse check)."""
        summary = self.store.get_meta("summary")
        return None if summary is None else dict(summary)

    def space(self) -> SearchSpace:
        """The normal space of the derived cells (a user's model space: that space)."""
        from archsearch.registry import construct
        from archsearch.resolve import import_again

        import_again(self.store.get_meta("import_dirs", []))  # where a user's model space was imported from
        return construct("space", self.store.get_meta("space_name"), self.store.get_meta("space_config", {}))  # type: ignore[no-any-return]

    def status(self) -> RunStatus:
        epochs = len(self.epochs())
        return RunStatus(
            kind=self.kind,
            directory=self.directory,
            unit="epochs",
            done=epochs,
            total=int(self.config["epochs"]),
            finished=self.summary() is not None,
        )

    def best(self) -> Best | None:
        """The derived cell: the finished search's (scored by the method's own validation estimate), or of
        an unfinished run the cell derived after its last finished epoch (with that epoch's metrics)."""
        summary = self.summary()
        if summary is not None:
            values = summary.get("values")  # a user's model space: the chosen value of every label
            return Best(
                kind=self.kind,
                label=summary["arch_str"],
                score_name="estimate_valid_acc",
                score=summary.get("estimate_valid_acc"),
                number=summary.get("epochs"),
                values=summary["arch"]["values"] if values is None else values,
                metrics={
                    key: summary[key]
                    for key in ("estimate_valid_acc", "estimate_test_acc", "mean_epoch_s")
                    if summary.get(key) is not None
                },
                source=summary,
            )
        epochs = self.epochs()
        if not epochs:
            return None
        latest = epochs[-1]
        return Best(
            kind=self.kind,
            label=latest.arch_str,
            score_name="valid_acc",
            score=latest.metrics.get("valid_acc"),
            number=latest.epoch + 1,
            values=latest.arch.to_dict()["values"],
            metrics=dict(latest.metrics),
            finished=False,
            source=latest,
        )

    def trials_dataframe(self) -> pandas.DataFrame:
        """One row per finished epoch (``frames.epochs_frame``)."""
        from archsearch.frames import epochs_frame

        try:
            space: SearchSpace | None = self.space()
        except ConfigError:  # the user's model space no longer imports: decisions named by position
            space = None
        return epochs_frame(self.epochs(), space)

    # -- running and writing ------------------------------------------------------------------------
    def run(self, listeners: Sequence[Any] = ()) -> dict[str, Any]:
        """Continue from the last finished epoch; the summary of the search."""
        return self.oneshot.run(listeners)

    def set_budget(self, budget: int) -> None:
        raise ConfigError(
            f"{self.directory} is a one-shot run: its {self.config['epochs']} epochs set its learning-rate"
            " schedule, so they cannot be raised; start a new run with more --epochs"
        )

    def report(self, out: Path | None = None) -> Path:
        from archsearch.report.html import write_report

        return write_report(self.directory, out)

    def export(self, out: Path | None = None) -> Exported:
        """Write the derived cell as ``architecture.json`` and a standalone ``model.py`` of the normal space
        at its default (paper) sizes, ready to be retrained from scratch by the training evaluator (a
        user's model space: also ``values.json``, and a model.py importing the space). An unfinished run
        exports the cell derived after its last finished epoch."""
        from archsearch.core import Architecture
        from archsearch.oneshot.run import is_model_space_path
        from archsearch.report.export import export_json, export_pytorch_source

        summary, epochs = self.summary(), self.epochs()
        shape, num_classes = self.store.get_meta("data_shape")
        space_name, space_config = self.store.get_meta("space_name"), self.store.get_meta("space_config", {})
        space = self.space()
        if summary is not None:
            arch, source = Architecture.from_dict(summary["arch"]), "the finished search"
        elif epochs:
            arch, source = epochs[-1].arch, f"epoch {epochs[-1].epoch + 1} (the run is unfinished)"
        else:
            raise ConfigError(f"{self.directory} has no finished epoch yet, so no derived cell to export")
        target = out or self.directory / "export"
        target.mkdir(parents=True, exist_ok=True)
        (target / "architecture.json").write_text(export_json(space, arch))
        files = ["architecture.json"]
        if is_model_space_path(space_name):  # a user's model space: its values and a model.py importing it
            from archsearch.oneshot.user import exported_model_source

            values = space.values(arch)  # type: ignore[attr-defined]
            (target / "values.json").write_text(json.dumps(values, indent=2) + "\n")
            files.append("values.json")
            text = exported_model_source(space_name, space_config, values, tuple(shape), int(num_classes))
        else:
            text = export_pytorch_source(space, arch, tuple(shape), int(num_classes))
        (target / "model.py").write_text(text)
        files.append("model.py")
        return Exported(
            target=target, subject=f"the architecture of {source} ({space.encode(arch)})", files=files
        )

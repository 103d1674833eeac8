"""One exception family: every error a user can cause is an ArchsearchError with a one-line message."""

from __future__ import annotations


class ArchsearchError(Exception):
    """Base of every error archsearch raises on purpose; the CLI prints it as one line and exits 2."""


class ConfigError(ArchsearchError):
    """A configuration value, flag or name is invalid."""


class ObjectiveError(ConfigError):
    """A user's objective broke its contract (returned None, a string, a dict with a non-number): every
    trial would fail the same way, so the study stops with this one line instead of recording failures.
    Raised inside an evaluation, it passes through the guards that turn a failing child into a failed
    trial (a nan or a crash stays a failed trial)."""


class InvalidArchitectureError(ArchsearchError):
    """An architecture does not belong to its search space."""


class DataError(ArchsearchError):
    """A data set is missing or malformed."""


class StoreError(ArchsearchError):
    """The experiment database is missing, corrupt or of another study."""


class TrialTimeoutError(ArchsearchError):
    """A child network exceeded its per-trial time limit."""


class TrialPruned(ArchsearchError):
    """Raised inside an evaluation to end its trial as pruned (the study's pruner told it to stop:
    ``archsearch.reporting.report`` returned True, or a user's objective's ``report.should_stop()``).
    The guards turn it into a Result with status "pruned" holding what the child reached; it never stops
    the study."""


class ChildReportError(ArchsearchError):
    """A child's intermediate report is malformed (a step that is not an integer, a value that is not a
    number): that trial fails with this line."""

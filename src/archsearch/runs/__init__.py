"""Every kind of run behind one protocol: ``open_run(DIR)`` gives a ``Run`` (runs/base.py) whatever the
run in DIR is (a study of trials, a one-shot run, an AutoML-Zero run), with status, best, run, report,
export and ``trials_dataframe`` (``archsearch.frames``: trials, epochs and progress rounds as pandas data
frames). Importing this package loads neither torch nor pandas."""

from archsearch.runs.base import RUN_KINDS, Best, Exported, Run, RunKind, RunStatus
from archsearch.runs.open import create_run, open_run

__all__ = ["RUN_KINDS", "Best", "Exported", "Run", "RunKind", "RunStatus", "create_run", "open_run"]

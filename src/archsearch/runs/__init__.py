"""Every kind of run behind one protocol: ``open_run(DIR)`` gives a ``Run`` (runs/base.py) whatever the
run in DIR is (a study of trials, a one-shot run, an AutoML-Zero run); ``runs.frames`` gives their trials
as pandas data frames."""

"""The HTML report and the live progress display of a study whose pruner stopped trials: pruned trials
counted apart from failed ones, drawn grey with an x where they stopped, listed with the rungs, never the
best trial; the progress display's counts and rungs line.

The study is written straight through its store (``pruned_study``): no pruner runs here."""

from __future__ import annotations

import html
import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from matplotlib.colors import to_rgba
from rich.console import Console

from archsearch.core import Architecture, TrialRecord
from archsearch.report import plots
from archsearch.report.html import write_report
from archsearch.report.progress import RichProgress, rungs_line
from archsearch.store.trials import StudyStore
from pruned_study import CURVES, REASON, make_pruned_study

TRIAL_1 = "act=gelu,width=16,dropout=0.25,cell=block1"  # pruned at 1 epoch
TRIAL_2 = "act=relu,width=32,dropout=0.0,cell=block2"  # pruned at 2 epochs, the highest reward


@pytest.fixture(scope="module")
def pruned_dir(tmp_path_factory) -> Path:
    return make_pruned_study(tmp_path_factory.mktemp("pruned") / "study")


def section(page: str, heading: str) -> str:
    """The HTML between ``<h2>heading</h2>`` and the next heading."""
    start = page.index(f"<h2>{heading}</h2>")
    end = page.find("<h2>", start + 1)
    return page[start : end if end >= 0 else len(page)]


def test_the_report_counts_lists_and_draws_pruned_trials_apart_from_failed_ones(pruned_dir, tmp_path):
    index = write_report(pruned_dir, tmp_path / "report")
    page = index.read_text(encoding="utf-8")
    text = html.unescape(page)
    assert "5 finished (2 ok, 2 pruned, 1 failed), 6 in total, 1 unfinished" in text
    best = section(text, "Best trial")
    assert "act=gelu,width=64,dropout=0.0,cell=block11" in best  # trial 4, not trial 2 (pruned, 0.95)
    top = section(text, "Top 10 trials by reward")
    assert TRIAL_2 not in top and TRIAL_1 not in top
    failed = section(text, "Failed trials")
    assert "cell=block3" in failed and "pruned at" not in failed and TRIAL_2 not in failed
    pruned = section(page, "Pruned trials")
    assert "2 trials were stopped early" in html.unescape(pruned)
    # the rungs: resource, trials that reached it, stopped there
    cells = [html.unescape(c.split("<")[0]) for c in pruned.split('class="num">')[1:]]
    assert cells[:9] == ["1", "6", "1", "2", "4", "1", "4", "2", "0"]
    for resource in (1, 2):
        assert REASON.format(r=resource) in html.unescape(pruned)
    # trial 2 first (the higher reward), stopped at 2 epochs
    assert html.unescape(pruned).index(TRIAL_2) < html.unescape(pruned).index(TRIAL_1)
    captions = html.unescape(section(page, "Plots"))
    assert "pruned trials in grey" in captions and "an x where the pruner stopped it" in captions
    assert (tmp_path / "report" / "learning_curves.png").stat().st_size > 0


def test_a_report_without_pruned_trials_has_no_pruned_section(tmp_path):
    directory = make_pruned_study(tmp_path / "study", {1: "ok", 2: "ok"})
    page = write_report(directory).read_text(encoding="utf-8")
    assert "<h2>Pruned trials</h2>" not in page and "4 ok, 1 failed" in html.unescape(page)


@pytest.fixture
def figures(monkeypatch) -> list:
    """The figures the plots save (captured as well as written)."""
    saved = []
    original = plots.save_figure

    def keep(figure, path):
        saved.append(figure)
        return original(figure, path)

    monkeypatch.setattr(plots, "save_figure", keep)
    return saved


def test_pruned_curves_are_grey_and_end_in_an_x_where_each_stopped(pruned_dir, tmp_path, figures):
    with StudyStore(pruned_dir, read_only=True) as store:
        trials = store.trials()
        reports = store.reports()
    ok = [t for t in trials if t.status == "ok"]
    pruned = [t for t in trials if t.status == "pruned"]
    resources = {n: [r.resource / 2 for r in reports if r.number == n] for n in range(6)}  # half epochs
    plots.plot_learning_curves(ok, tmp_path / "curves.png", ["f1"], pruned, resources)
    (figure,) = figures
    ax = figure.axes[0]
    assert (
        ax.get_ylabel() == "f1"
        and ax.get_xlabel() == ""
        and figure.axes[-1].get_xlabel().startswith("resource")
    )
    grey = to_rgba(plots.PRUNED_COLOR)
    lines = [line for line in ax.get_lines() if to_rgba(line.get_color()) == grey]
    crosses = [line for line in lines if line.get_marker() == "x"]
    assert len(lines) == 4 and len(crosses) == 2  # a line and an x per pruned trial
    ends = sorted((float(c.get_xdata()[0]), float(c.get_ydata()[0])) for c in crosses)
    assert ends == [(0.5, CURVES[1][-1]), (1.0, CURVES[2][-1])]  # where each stopped, at its resource
    coloured = [line for line in ax.get_lines() if line not in lines]
    assert sorted(line.get_label() for line in coloured) == ["trial 0", "trial 4"]
    assert list(coloured[0].get_xdata()) == [0.5, 1.0, 1.5, 2.0]
    assert figure._suptitle.get_text() == "Learning curves of the best 2 trials and 2 pruned"
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "pruned (2), x where stopped" in labels


def test_the_rewards_plot_shows_pruned_trials_apart_from_failed_ones(pruned_dir, tmp_path, figures):
    with StudyStore(pruned_dir, read_only=True) as store:
        trials = store.trials()
    plots.plot_rewards(trials, tmp_path / "rewards.png")
    labels = [text.get_text() for text in figures[0].axes[0].get_legend().get_texts()]
    assert labels == ["ok (2)", "pruned (2): reward of what it reached", "failed or timed out (1)"]


@dataclass(frozen=True)
class Rung:
    """As ``archsearch.pruners`` gives them (``PruningService.rungs``)."""

    resource: float
    reached: int
    stopped: int
    bracket: int = 0


def record(number: int, status: str, reward: float | None = None, **fields) -> TrialRecord:
    return TrialRecord(
        number, Architecture("toy", ()), f"arch{number}", number, status, ask_event=number, started_at=0.0,
        reward=reward, **fields,
    )  # fmt: skip


def test_the_progress_display_counts_pruned_trials_and_shows_the_rungs():
    log = io.StringIO()
    console = Console(file=log, width=200)
    rungs = [Rung(1.0, 9, 6), Rung(3.0, 3, 2), Rung(9.0, 1, 0)]
    with RichProgress(20, done=2, console=console, counts={"ok": 1, "failed": 1}) as progress:
        assert progress.lines() == []  # no pruner: no rungs line
        progress.rungs(lambda: rungs)
        assert progress.rung_lines() == [
            "rungs (resource: trials that reached it, stopped there): "
            "1: 9 reached, 6 stopped | 3: 3 reached, 2 stopped | 9: 1 reached"
        ]
        for number, status, reward in ((2, "ok", 0.5), (3, "pruned", 0.9), (4, "timeout", 0.0)):
            trial = record(number, status, reward)
            if status == "pruned":
                trial.metrics = {"f1": 0.9, "resource": 3.0}
                trial.error = "pruned at 3 epochs: f1 below the top third"
            progress.trial_started(trial)
            progress.trial_finished(trial)
        status = progress._status()
        assert status.startswith("2 ok, 1 pruned, 2 failed | best reward 0.5000 |")  # not the pruned 0.9
    printed = log.getvalue()
    line = next(line for line in printed.splitlines() if line.startswith("trial    3"))
    assert "pruned at 3: f1 0.9000 reward 0.9000 (pruned at 3 epochs: f1 below the top third)" in line


def test_rungs_lines_of_brackets_and_of_a_pruner_that_cannot_say():
    rungs = [Rung(1.0, 4, 3, bracket=0), Rung(3.0, 1, 0, bracket=0), Rung(3.0, 2, 1, bracket=1)]
    assert rungs_line(rungs) == (
        "rungs (resource: trials that reached it, stopped there): "
        "bracket 0 1: 4 reached, 3 stopped | bracket 0 3: 1 reached | bracket 1 3: 2 reached, 1 stopped"
    )
    assert rungs_line([Rung(float(r), 1, 0) for r in range(12)], limit=2).endswith("| ... 10 more")
    progress = RichProgress(5, console=Console(file=io.StringIO()))

    def broken() -> list[Rung]:
        raise RuntimeError("lock poisoned")

    progress.rungs(broken)
    assert progress.rung_lines() == []  # the display draws on


def test_the_summary_names_the_studys_pruner(tmp_path):
    directory = make_pruned_study(tmp_path / "study")
    with StudyStore(directory, read_only=False) as store:
        config = store.get_meta("config")
        config["pruner"] = {"name": "asha", "params": {"reduction_factor": 2}}
        store.set_meta("config", config)
    summary = section(html.unescape(write_report(directory).read_text(encoding="utf-8")), "Summary")
    assert "Pruner" in summary and "asha(reduction_factor=2)" in summary

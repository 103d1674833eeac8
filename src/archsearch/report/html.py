"""The study report: one self-contained HTML page with the study's summary, best trial, plots and tables."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from archsearch import __version__
from archsearch.config import Component
from archsearch.core import TrialRecord
from archsearch.report import plots
from archsearch.study import Study, best_trial

REPORT_DIR = "report"
"""Where ``write_report`` writes when no output directory is given, inside the study directory."""
INDEX = "index.html"
TOP_TRIALS = 10
MISSING = "\u2014"

REWARDS_PNG = "rewards.png"
BEST_SO_FAR_PNG = "best_so_far.png"
CHOICES_PNG = "choices.png"
BEST_ARCHITECTURE_PNG = "best_architecture.png"
PARETO_PNG = "pareto_front.png"

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; line-height: 1.4; }
h1 { font-size: 1.5em; word-break: break-all; }
h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #ddd; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f3f5f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .9em; word-break: break-all; }
.error { white-space: pre-wrap; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .85em;
         max-width: 40em; }
figure { margin: 1em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: .9em; }
.note { color: #666; }
"""


def write_report(study_dir: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write the report of the study in ``study_dir``: PNG plots and ``index.html`` in ``out_dir``.

    ``out_dir`` defaults to ``study_dir / "report"``. Returns the path of ``index.html``, which links
    its plots by relative paths, so the directory can be moved or served as it is.
    """
    study_dir = Path(study_dir)
    out = Path(out_dir) if out_dir is not None else study_dir / REPORT_DIR
    from archsearch.oneshot.run import is_oneshot_run  # one-shot runs have epochs, not trials

    if is_oneshot_run(study_dir):
        from archsearch.oneshot.report import write_oneshot_report

        return write_oneshot_report(study_dir, out)
    study = Study.load(study_dir, read_only=True)
    try:
        trials = study.store.trials()
        elapsed_s = study.store.get_meta("elapsed_s")
        out.mkdir(parents=True, exist_ok=True)
        metric = str(study.config.reward.params.get("metric", "val_acc"))
        best = best_trial(trials)
        figures = [
            (plots.plot_rewards(trials, out / REWARDS_PNG), "Reward of each trial; failed trials in red."),
            (
                plots.plot_best_so_far(trials, out / BEST_SO_FAR_PNG, metric=metric),
                f"Best reward and best {metric} found so far.",
            ),
            (
                plots.plot_choice_distribution(study.space, trials, out / CHOICES_PNG),
                "How often each choice was taken, in consecutive windows of trials.",
            ),
        ]
        goals = study.config.objectives
        if len(goals) >= 2:
            from archsearch.front import true_front

            figures.append(
                (
                    plots.plot_pareto_front(
                        trials,
                        goals,
                        out / PARETO_PNG,
                        true_front(study.evaluator, goals[:2]),
                        study.config.constraints,
                    ),
                    f"{goals[0]} against {goals[1]} of every trial, coloured by when it was told; the found "
                    "front in red, the true front of the table (tabular studies) in black.",
                )
            )
        drawing = None
        if best is not None:
            drawing = plots.draw_architecture(study.space, best.arch, out / BEST_ARCHITECTURE_PNG)
        page = _page(study, trials, elapsed_s, best, drawing, figures)
    finally:
        study.close()
    index = out / INDEX
    index.write_text(page, encoding="utf-8")
    return index


# -- the page ------------------------------------------------------------------------------------


def _page(
    study: Study,
    trials: Sequence[TrialRecord],
    elapsed_s: float | None,
    best: TrialRecord | None,
    drawing: Path | None,
    figures: Sequence[tuple[Path, str]],
) -> str:
    title = f"archsearch study {study.directory}"
    sections = [
        f"<h1>{_e(title)}</h1>",
        "<h2>Summary</h2>",
        _summary(study, trials, elapsed_s),
        "<h2>Best trial</h2>",
        _best(best, drawing, trials, _equations(study, best)),
        "<h2>Plots</h2>",
        *(_figure(path, caption) for path, caption in figures),
        f"<h2>Top {TOP_TRIALS} trials by reward</h2>",
        _top_table(trials),
        *_front_section(study, trials),
        "<h2>Failed trials</h2>",
        _failed_table(trials),
    ]
    return html_page(title, sections)


def _front_section(study: Study, trials: Sequence[TrialRecord]) -> list[str]:
    """The Pareto front members of a multi-objective study (none for a single-objective one)."""
    from archsearch.front import front

    goals, constraints = study.config.objectives, study.config.constraints
    if len(goals) < 2:
        return []
    members = front(trials, goals, constraints)
    heading = "<h2>Pareto front</h2>"
    if not members:
        return [heading, f'<p class="note">{_e(plots.NO_SUCCESSFUL_TRIALS.capitalize())}.</p>']
    note = f"Constraints: {', '.join(map(str, constraints))}. " if constraints else ""
    note += "Export a member with archsearch export DIR --trial N."
    rows = [
        [_num(str(t.number)), *(_num(f"{t.metrics[g.metric]:.4g}") for g in goals), _td(_code(t.arch_str))]
        for t in members
    ]
    return [
        heading,
        f'<p class="note">{_e(note)}</p>',
        _table(["Trial", *map(str, goals), "Architecture"], rows),
    ]


def html_page(title: str, sections: Sequence[str]) -> str:
    """A complete, self-contained page: ``sections`` (escaped HTML) in order, then the version note."""
    body = "\n".join([*sections, f'<p class="note">Written by archsearch {_e(__version__)}.</p>'])
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _summary(study: Study, trials: Sequence[TrialRecord], elapsed_s: float | None) -> str:
    config = study.config
    finished = sum(t.finished for t in trials)
    failed = sum(t.status in ("failed", "timeout") for t in trials)
    running = len(trials) - finished
    counts = f"{finished} finished ({finished - failed} ok, {failed} failed), {len(trials)} in total"
    if running:
        counts += f", {running} unfinished"
    rows = [
        ("Directory", _code(str(study.directory))),
        ("Space", _code(_component(config.space))),
        ("Strategy", _code(_component(config.strategy))),
        ("Evaluator", _code(_component(config.evaluator))),
        ("Reward", _code(_component(config.reward))),
        ("Seed", _e(str(config.seed))),
        ("Budget", _e(f"{config.n_trials} trials" + _time_budget(config.max_time_s))),
        ("Trials", _e(counts)),
        ("Wall time", _e(_duration(elapsed_s))),
    ]
    return _fields(rows)


SCORE_METRICS = ("val_acc", "test_acc", "val_ppl", "test_ppl")
"""The metrics shown for the best trial, where the evaluator reports them."""


def _best(
    best: TrialRecord | None,
    drawing: Path | None,
    trials: Sequence[TrialRecord],
    equations: str | None = None,
) -> str:
    if best is None:
        message = plots.NO_SUCCESSFUL_TRIALS if any(t.finished for t in trials) else plots.NO_FINISHED_TRIALS
        return f'<p class="note">{_e(message.capitalize())}.</p>'
    rows = [
        ("Trial", _e(str(best.number))),
        ("Architecture", _code(best.arch_str)),
        ("Reward", _e(_number(best.reward))),
    ]
    rows += [(key, _e(_number(best.metrics[key]))) for key in SCORE_METRICS if key in best.metrics]
    if "params" in best.metrics:
        rows.append(("Parameters", _e(_count(best.metrics["params"]))))
    rows.append(("Cost", _e(_duration(best.cost_s))))
    parts = [_fields(rows)]
    if drawing is not None:
        parts.append(_figure(drawing, f"The architecture of trial {best.number}."))
    if equations:
        parts.append(f"<p>As equations:</p>\n<pre>{_e(equations)}</pre>")
    return "\n".join(parts)


def _equations(study: Study, best: TrialRecord | None) -> str | None:
    """The best cell written as equations, for spaces that can (the recurrent cell space)."""
    render = getattr(study.space, "equations", None)
    return None if best is None or render is None else str(render(best.arch))


def _top_table(trials: Sequence[TrialRecord]) -> str:
    ok = [t for t in trials if t.status == "ok" and t.reward is not None]
    if not ok:
        return f'<p class="note">{_e(plots.NO_SUCCESSFUL_TRIALS.capitalize())}.</p>'
    # The same order as best_trial: highest reward first, earlier trial on ties.
    top = sorted(ok, key=lambda t: (-(t.reward or 0.0), t.number))[:TOP_TRIALS]
    with_params = any("params" in t.metrics for t in top)
    header = ["#", "Trial", "Reward", "val_acc", "test_acc"]
    header += ["Parameters"] if with_params else []
    header += ["Cost", "Architecture"]
    rows = []
    for rank, t in enumerate(top, start=1):
        cells = [
            _num(str(rank)),
            _num(str(t.number)),
            _num(_number(t.reward)),
            _num(_number(t.metrics.get("val_acc"))),
            _num(_number(t.metrics.get("test_acc"))),
        ]
        if with_params:
            cells.append(_num(_count(t.metrics.get("params"))))
        cells += [_num(_duration(t.cost_s)), _td(_code(t.arch_str))]
        rows.append(cells)
    return _table(header, rows)


def _failed_table(trials: Sequence[TrialRecord]) -> str:
    failed = [t for t in trials if t.status in ("failed", "timeout")]
    if not failed:
        return '<p class="note">No failed trials.</p>'
    rows = [
        [
            _num(str(t.number)),
            _td(_e(t.status)),
            _num(_duration(t.cost_s)),
            _td(f'<div class="error">{_e(t.error or "(no reason recorded)")}</div>'),
            _td(_code(t.arch_str)),
        ]
        for t in failed
    ]
    return _table(["Trial", "Status", "Cost", "Reason", "Architecture"], rows)


# -- pieces --------------------------------------------------------------------------------------


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _code(text: str) -> str:
    return f"<code>{_e(text)}</code>"


def _num(text: str) -> str:
    return f'<td class="num">{_e(text)}</td>'


def _td(content: str) -> str:
    """A table cell around ``content``, which must already be escaped HTML."""
    return f"<td>{content}</td>"


def _fields(rows: Sequence[tuple[str, str]]) -> str:
    """A two-column table of field names and their (escaped HTML) values."""
    body = "\n".join(f"<tr><th>{_e(name)}</th>{_td(value)}</tr>" for name, value in rows)
    return f"<table>\n{body}\n</table>"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table with a header row; ``rows`` hold finished ``<td>`` cells."""
    head = "".join(f"<th>{_e(name)}</th>" for name in header)
    body = "\n".join(f"<tr>{''.join(cells)}</tr>" for cells in rows)
    return f"<table>\n<tr>{head}</tr>\n{body}\n</table>"


def _figure(path: Path, caption: str) -> str:
    return (
        f'<figure><img src="{_e(path.name)}" alt="{_e(caption)}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _component(component: Component) -> str:
    """``name(key=value, ...)`` as a config would spell it."""
    params = ", ".join(f"{key}={value!r}" for key, value in sorted(component.params.items()))
    return f"{component.name}({params})"


def _number(value: Any) -> str:
    return MISSING if value is None else f"{float(value):.4f}"


def _count(value: Any) -> str:
    return MISSING if value is None else f"{int(value):,}"


def _time_budget(max_time_s: float | None) -> str:
    return "" if max_time_s is None else f" or {_duration(max_time_s)}, whichever comes first"


def _duration(seconds: float | None) -> str:
    """``0.05 s``, ``3.2 s``, ``4 min 05 s``, ``2 h 03 min``."""
    if seconds is None:
        return MISSING
    if seconds < 1:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"

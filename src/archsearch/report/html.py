"""The study report: one self-contained HTML page with the study's summary, best trial, plots and tables."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from archsearch.config import Component
from archsearch.core import Architecture, SearchSpace, TrialRecord
from archsearch.errors import ConfigError
from archsearch.frames import Stop, reached, reports_by_trial, resource_text, stops
from archsearch.report import plots
from archsearch.report.columns import format_metric, leading_metrics, metric_columns, metric_direction
from archsearch.report.htmlkit import (
    cell,
    code,
    duration,
    escape,
    fields,
    heat_cell,
    html_page,
    image,
    note,
    number,
    number_cell,
    sentence,
    table,
    value_text,
)
from archsearch.reporting import Report
from archsearch.store import run_kind
from archsearch.study import Study, best_trial

REPORT_DIR = "report"
"""Where ``write_report`` writes when no output directory is given, inside the study directory."""
INDEX = "index.html"
TOP_TRIALS = 10
TABLE_METRICS = 5
"""Metric columns of the top-trials table (the study's own metrics: reward's and objectives' first)."""
BEST_METRICS = 12
"""Metrics listed for the best trial."""
CURVE_TRIALS = 5
"""The best trials whose learning curves are drawn."""
PRUNED_CURVES = 50
"""The most pruned trials whose curves are drawn behind them (those with the highest rewards)."""
PRUNED_ROWS = 20
"""The most pruned trials the pruned trials table lists (those with the highest rewards)."""
CHOICE_WINDOWS = 10
"""About how many windows of trials the choices tables have."""
MAX_CHOICE_TABLES = 60
"""The most decisions the choices tables show."""

REWARDS_PNG = "rewards.png"
BEST_SO_FAR_PNG = "best_so_far.png"
CHOICES_PNG = "choices.png"
CURVES_PNG = "learning_curves.png"
BEST_ARCHITECTURE_PNG = "best_architecture.png"
PARETO_PNG = "pareto_front.png"


def write_report(study_dir: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write the report of the study in ``study_dir``: PNG plots and ``index.html`` in ``out_dir``.

    ``out_dir`` defaults to ``study_dir / "report"``. Returns the path of ``index.html``, which links
    its plots by relative paths, so the directory can be moved or served as it is.
    """
    study_dir = Path(study_dir)
    out = Path(out_dir) if out_dir is not None else study_dir / REPORT_DIR
    if run_kind(study_dir) == "oneshot":  # one-shot runs have epochs, not trials
        from archsearch.report.oneshot import write_oneshot_report

        return write_oneshot_report(study_dir, out)
    study = Study.load(study_dir, read_only=True)
    try:
        trials = study.store.trials()
        reports = study.store.reports()
        elapsed_s = study.store.get_meta("elapsed_s")
        out.mkdir(parents=True, exist_ok=True)
        leading = leading_metrics(study)
        metric = (leading or metric_columns(t.metrics for t in trials if t.status == "ok") or ["val_acc"])[0]
        direction = metric_direction(study, metric)
        best = best_trial(trials)
        per_decision = not _built_in(study.space)
        figures = [
            (
                plots.plot_rewards(trials, out / REWARDS_PNG),
                "Reward of each trial; failed trials in red"
                + ("; pruned trials in grey, rewarded for what they reached." if _pruned(trials) else "."),
            ),
            (
                plots.plot_best_so_far(trials, out / BEST_SO_FAR_PNG, metric, direction),
                f"Best reward and best {metric} ({'lowest' if direction == 'min' else 'highest'}) found so far.",
            ),
            (
                plots.plot_choice_distribution(
                    study.space, trials, out / CHOICES_PNG, per_decision=per_decision
                ),
                "How often each choice was taken, in consecutive windows of trials.",
            ),
        ]
        curves = _curve_figure(trials, out, leading, reports)
        figures += [curves] if curves is not None else []
        goals = study.config.objectives
        front_problem = _front_problem(trials, study)
        if len(goals) >= 2 and front_problem is None:
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
        if best is not None and plots.can_draw(study.space):
            drawing = plots.draw_architecture(study.space, best.arch, out / BEST_ARCHITECTURE_PNG)
        page = _page(
            study, trials, elapsed_s, best, drawing, figures, leading, per_decision, front_problem, reports
        )
    finally:
        study.close()
    index = out / INDEX
    index.write_text(page, encoding="utf-8")
    return index


def _built_in(space: SearchSpace) -> bool:
    """Whether ``space`` is one of archsearch's paper spaces, whose decisions repeat a kind per layer (the
    choices are counted by kind); a user's space or a dict space is counted decision by decision."""
    module = type(space).__module__
    return module.startswith("archsearch.spaces.") and module != "archsearch.spaces.dict_space"


def _pruned(trials: Sequence[TrialRecord]) -> list[TrialRecord]:
    """The trials the study's pruner stopped early, highest reward (of what they reached) first."""
    pruned = [t for t in trials if t.status == "pruned"]
    return sorted(pruned, key=lambda t: (-(t.reward if t.reward is not None else -math.inf), t.number))


def _curve_figure(
    trials: Sequence[TrialRecord], out: Path, leading: Sequence[str], reports: Sequence[Report] = ()
) -> tuple[Path, str] | None:
    """The learning curves of the best few trials, when any of them recorded a per-epoch curve, with those
    of the pruned trials behind them (grey, an x where each was stopped)."""
    ok = [t for t in trials if t.status == "ok" and t.reward is not None]
    top = sorted(ok, key=lambda t: (-(t.reward or 0.0), t.number))[:CURVE_TRIALS]
    pruned = _pruned(trials)[:PRUNED_CURVES]
    if not plots.curve_metrics([*top, *pruned]):
        return None
    resources = {n: [r.resource for r in own] for n, own in reports_by_trial(reports).items()}
    path = plots.plot_learning_curves(top, out / CURVES_PNG, leading, pruned, resources)
    caption = f"Per-epoch curves of the {len(top)} best trials by reward, as their evaluator reported them"
    if pruned:
        caption += (
            f"; in grey the {len(pruned)} pruned trials"
            + (" with the highest rewards" if len(pruned) < len(_pruned(trials)) else "")
            + ", each ending in an x where the pruner stopped it"
        )
    return path, caption + "."


def _front_problem(trials: Sequence[TrialRecord], study: Study) -> str | None:
    """Why a multi-objective study's front cannot be shown (an objective or constraint metric its trials
    never report), or None."""
    from archsearch.front import front

    goals = study.config.objectives
    if len(goals) < 2:
        return None
    try:
        front(trials, goals, study.config.constraints)
    except ConfigError as exc:
        return str(exc)
    return None


# -- the page ------------------------------------------------------------------------------------


def _page(
    study: Study,
    trials: Sequence[TrialRecord],
    elapsed_s: float | None,
    best: TrialRecord | None,
    drawing: Path | None,
    figures: Sequence[tuple[Path, str]],
    leading: Sequence[str] = (),
    per_decision: bool = False,
    front_problem: str | None = None,
    reports: Sequence[Report] = (),
) -> str:
    title = f"archsearch study {study.directory}"
    sections = [
        f"<h1>{escape(title)}</h1>",
        "<h2>Summary</h2>",
        _summary(study, trials, elapsed_s),
        "<h2>Best trial</h2>",
        _best(best, drawing, trials, _equations(study, best), leading, study.space),
        "<h2>Plots</h2>",
        *(image(path, caption) for path, caption in figures),
        f"<h2>Top {TOP_TRIALS} trials by reward</h2>",
        _top_table(trials, leading),
        *_front_section(study, trials, front_problem),
        *_pruned_section(trials, reports, leading),
        "<h2>Choices over time</h2>",
        _choices_section(study.space, trials, per_decision),
        "<h2>Failed trials</h2>",
        _failed_table(trials),
    ]
    return html_page(title, sections)


def _front_section(study: Study, trials: Sequence[TrialRecord], problem: str | None = None) -> list[str]:
    """The Pareto front members of a multi-objective study (none for a single-objective one)."""
    from archsearch.front import front

    goals, constraints = study.config.objectives, study.config.constraints
    if len(goals) < 2:
        return []
    heading = "<h2>Pareto front</h2>"
    if problem is not None:
        return [heading, note(sentence(problem))]
    members = front(trials, goals, constraints)
    if not members:
        return [heading, note(sentence(plots.NO_SUCCESSFUL_TRIALS))]
    hint = f"Constraints: {', '.join(map(str, constraints))}. " if constraints else ""
    hint += "Export a member with archsearch export DIR --trial N."
    rows = [
        [
            number_cell(str(t.number)),
            *(number_cell(format_metric(g.metric, t.metrics[g.metric])) for g in goals),
            cell(code(t.arch_str)),
        ]
        for t in members
    ]
    return [
        heading,
        note(hint),
        table(["Trial", *map(str, goals), "Architecture"], rows),
    ]


def _summary(study: Study, trials: Sequence[TrialRecord], elapsed_s: float | None) -> str:
    config = study.config
    finished = sum(t.finished for t in trials)
    failed = sum(t.status in ("failed", "timeout") for t in trials)
    pruned = sum(t.status == "pruned" for t in trials)
    running = len(trials) - finished
    outcomes = f"{finished - failed - pruned} ok, " + (f"{pruned} pruned, " if pruned else "")
    counts = f"{finished} finished ({outcomes}{failed} failed), {len(trials)} in total"
    if running:
        counts += f", {running} unfinished"
    rows = [
        ("Directory", code(str(study.directory))),
        ("Space", code(_component(config.space))),
        ("Strategy", code(_component(config.strategy))),
        ("Evaluator", code(_component(config.evaluator))),
        ("Reward", code(_component(config.reward))),
        *([("Pruner", code(_component(config.pruner)))] if config.pruner is not None else []),
        ("Seed", escape(str(config.seed))),
        ("Budget", escape(f"{config.n_trials} trials" + _time_budget(config.max_time_s))),
        ("Trials", escape(counts)),
        ("Wall time", escape(duration(elapsed_s))),
    ]
    return fields(rows)


def _best(
    best: TrialRecord | None,
    drawing: Path | None,
    trials: Sequence[TrialRecord],
    equations: str | None = None,
    leading: Sequence[str] = (),
    space: SearchSpace | None = None,
) -> str:
    if best is None:
        message = plots.NO_SUCCESSFUL_TRIALS if any(t.finished for t in trials) else plots.NO_FINISHED_TRIALS
        return note(sentence(message))
    rows = [
        ("Trial", escape(str(best.number))),
        ("Architecture", code(best.arch_str)),
        ("Reward", escape(number(best.reward))),
    ]
    names = metric_columns([best.metrics], leading, limit=BEST_METRICS)
    rows += [(name, escape(format_metric(name, best.metrics[name]))) for name in names]
    rows.append(("Cost", escape(duration(best.cost_s))))
    parts = [fields(rows)]
    if drawing is not None:
        parts.append(image(drawing, f"The architecture of trial {best.number}."))
    elif space is not None:
        values = decision_values(space, best.arch)
        if values:
            parts.append(
                f"<p>Its decisions:</p>\n{fields([(name, code(value_text(v))) for name, v in values])}"
            )
    if equations:
        parts.append(f"<p>As equations:</p>\n<pre>{escape(equations)}</pre>")
    return "\n".join(parts)


def decision_values(space: SearchSpace, arch: Architecture) -> list[tuple[str, object]]:
    """The value of each decision of ``arch`` by its name (a model space's labels, a dict space's keys);
    positions ``#0``, ``#1``... for what the space can no longer name (its code changed since)."""
    named = getattr(space, "values", None)
    if callable(named):
        try:
            values = named(arch)
            if isinstance(values, dict):
                return [(str(name), value) for name, value in values.items()]
        except Exception:  # the user's space code; fall back on the decisions it walks
            pass
    decided = plots.safely_decided(space, arch.values)
    pairs: list[tuple[str, object]] = [(d.name, value) for d, value in decided]
    pairs += [(f"#{k}", value) for k, value in enumerate(arch.values) if k >= len(decided)]
    return pairs


def _equations(study: Study, best: TrialRecord | None) -> str | None:
    """The best cell written as equations, for spaces that can (the recurrent cell space)."""
    render = getattr(study.space, "equations", None)
    return None if best is None or render is None else str(render(best.arch))


def _top_table(trials: Sequence[TrialRecord], leading: Sequence[str] = ()) -> str:
    ok = [t for t in trials if t.status == "ok" and t.reward is not None]
    if not ok:
        return note(sentence(plots.NO_SUCCESSFUL_TRIALS))
    # The same order as best_trial: highest reward first, earlier trial on ties.
    top = sorted(ok, key=lambda t: (-(t.reward or 0.0), t.number))[:TOP_TRIALS]
    names = metric_columns((t.metrics for t in top), leading, limit=TABLE_METRICS)
    header = ["#", "Trial", "Reward", *names, "Cost", "Architecture"]
    rows = [
        [
            number_cell(str(rank)),
            number_cell(str(t.number)),
            number_cell(number(t.reward)),
            *(number_cell(format_metric(name, t.metrics.get(name))) for name in names),
            number_cell(duration(t.cost_s)),
            cell(code(t.arch_str)),
        ]
        for rank, t in enumerate(top, start=1)
    ]
    return table(header, rows)


def _choices_section(space: SearchSpace, trials: Sequence[TrialRecord], per_decision: bool) -> str:
    """Per decision (or decision kind), the share of each value in consecutive windows of finished trials:
    a table shaded like a heat map."""
    done = plots.finished_trials(trials)
    if not done:
        return note(sentence(plots.NO_FINISHED_TRIALS))
    window = max(-(-len(done) // CHOICE_WINDOWS), 1)
    freq = plots.choice_frequencies(space, [t.arch for t in done], window, per_decision)
    if not freq.fractions:
        return note(f"Space {space.name} has no decisions with choices to show.")
    spans = [
        f"{done[w.start].number}" if len(w) == 1 else f"{done[w.start].number}\u2013{done[w.stop - 1].number}"
        for w in freq.windows
    ]
    parts = [
        '<p class="note">The share of the finished trials of each window (trial numbers in the header) '
        "that took each value; darker is more often.</p>"
    ]
    for key, fractions in list(freq.fractions.items())[:MAX_CHOICE_TABLES]:
        rows = [
            [cell(code(value_text(choice))), *(heat_cell(float(f)) for f in fractions[:, column])]
            for column, choice in enumerate(freq.choices[key])
        ]
        shares = table(["Value", *(f"trials {span}" for span in spans)], rows)
        parts.append(f"<details open><summary><code>{escape(key)}</code></summary>\n{shares}\n</details>")
    more = len(freq.fractions) - MAX_CHOICE_TABLES
    if more > 0:
        parts.append(f'<p class="note">{more} more decisions not shown.</p>')
    return "\n".join(parts)


def _pruned_section(
    trials: Sequence[TrialRecord], reports: Sequence[Report], leading: Sequence[str] = ()
) -> list[str]:
    """Where the pruner stopped trials (the rungs as the store tells them: per resource, the trials that
    reached it and those stopped there) and the pruned trials with the highest rewards: where each was
    stopped, what it reached and why; nothing when no trial was pruned."""
    pruned = _pruned(trials)
    if not pruned:
        return []
    by_trial = reports_by_trial(reports)
    rungs = stops(trials, reports)
    names = metric_columns((t.metrics for t in pruned), leading, limit=2)
    names = [n for n in names if n != "resource"]
    rows = [
        [
            number_cell(str(t.number)),
            number_cell(resource_text(reached(t, by_trial.get(t.number, ())))),
            number_cell(number(t.reward)),
            *(number_cell(format_metric(name, t.metrics.get(name))) for name in names),
            number_cell(duration(t.cost_s)),
            cell(escape(t.error or "")),
            cell(code(t.arch_str)),
        ]
        for t in pruned[:PRUNED_ROWS]
    ]
    shown = "" if len(pruned) <= PRUNED_ROWS else f" The {PRUNED_ROWS} with the highest rewards:"
    return [
        "<h2>Pruned trials</h2>",
        note(
            f"{len(pruned)} trials were stopped early by the study's pruner; each is rewarded for what it "
            "reached, and none of them is the best trial (archsearch best DIR --include-pruned counts "
            "them)."
        ),
        _rungs_table(rungs),
        *([note(shown.strip())] if shown else []),
        table(["Trial", "Stopped at", "Reward", *names, "Cost", "Reason", "Architecture"], rows),
    ]


def _rungs_table(rungs: Sequence[Stop]) -> str:
    """Per resource at which trials were stopped (and the largest one reached): how many trials reached
    it and how many were stopped there."""
    rows = [
        [number_cell(resource_text(s.resource)), number_cell(str(s.reached)), number_cell(str(s.stopped))]
        for s in rungs
    ]
    return table(["Resource (epochs)", "Trials that reached it", "Stopped there"], rows)


def _failed_table(trials: Sequence[TrialRecord]) -> str:
    """The trials that failed or timed out (not the pruned ones: they ended as the pruner decided)."""
    failed = [t for t in trials if t.status in ("failed", "timeout")]
    if not failed:
        return '<p class="note">No failed trials.</p>'
    rows = [
        [
            number_cell(str(t.number)),
            cell(escape(t.status)),
            number_cell(duration(t.cost_s)),
            cell(f'<div class="error">{escape(t.error or "(no reason recorded)")}</div>'),
            cell(code(t.arch_str)),
        ]
        for t in failed
    ]
    return table(["Trial", "Status", "Cost", "Reason", "Architecture"], rows)


# -- pieces --------------------------------------------------------------------------------------


def _component(component: Component) -> str:
    """``name(key=value, ...)`` as a config would spell it."""
    params = ", ".join(f"{key}={value!r}" for key, value in sorted(component.params.items()))
    return f"{component.name}({params})"


def _time_budget(max_time_s: float | None) -> str:
    return "" if max_time_s is None else f" or {duration(max_time_s)}, whichever comes first"

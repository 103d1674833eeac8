"""Study plots written as PNG files: rewards, best so far, how choices evolve, learning curves, one
architecture's drawing.

Every function builds a ``matplotlib.figure.Figure`` directly (no pyplot, so no global figure state and
no GUI backend) and saves it with the Agg renderer. Each copes with an empty or all-failed study by
drawing a figure that says so.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from archsearch.core import Architecture, Decision, SearchSpace, TrialRecord
from archsearch.objectives import Constraint, Objective
from archsearch.spaces.drawing import DPI as DPI
from archsearch.spaces.drawing import draw_encoding
from archsearch.spaces.drawing import save_figure as save_figure
from archsearch.spaces.hooks import Draws

NO_FINISHED_TRIALS = "no finished trials yet"
NO_SUCCESSFUL_TRIALS = "no successful trials yet"
MAX_CHOICE_PANELS = 12
"""The most decisions the choices plot draws (the report's tables show every one)."""
STACKED_CHOICES = 8
"""A decision with more choices than this is drawn as a heat map, not a stacked area."""
MAX_CURVE_PANELS = 4
"""The most per-epoch metrics the learning-curve plot draws."""
PRUNED_COLOR = "0.55"
"""Pruned trials (stopped early by the study's pruner) are drawn grey."""

log = logging.getLogger(__name__)


# -- data behind the plots (pure) ----------------------------------------------------------------


def finished_trials(trials: Sequence[TrialRecord]) -> list[TrialRecord]:
    """The trials that have a result (ok, pruned, failed or timed out), by trial number."""
    return sorted((t for t in trials if t.finished), key=lambda t: t.number)


def best_so_far(values: Sequence[float | None], direction: str = "max") -> np.ndarray:
    """The running maximum of ``values`` (minimum when ``direction`` is "min"), skipping ``None``; NaN
    until the first value."""
    array = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    best = np.fmin if direction == "min" else np.fmax
    return best.accumulate(array) if len(array) else array


def default_window(count: int) -> int:
    """Trials per window for ``count`` trials: about 20 windows, but at least 5 trials in each."""
    return max(math.ceil(count / 20), min(count, 5), 1)


def windows(count: int, window: int) -> list[range]:
    """Consecutive index ranges of ``window`` items covering ``range(count)`` (the last may be shorter)."""
    return [range(start, min(start + window, count)) for start in range(0, count, window)]


def decided_values(space: SearchSpace, values: tuple[Any, ...]) -> Iterator[tuple[Decision, Any]]:
    """Each value of an architecture with the decision it answers.

    Like ``space.walk`` but without requiring the architecture to be complete: a depth curriculum
    (Zoph & Le 2017, section 4) yields architectures shorter than the space's full decision sequence.
    """
    for position, value in enumerate(values):
        decision = space.decisions(values[:position])
        if decision is None:
            return
        yield decision, value


def safely_decided(space: SearchSpace, values: tuple[Any, ...]) -> list[tuple[Decision, Any]]:
    """``decided_values``, stopping where the space's own code fails: a report of a user's space shows
    what it can of an architecture the space no longer accepts (its code changed since the search)."""
    decided: list[tuple[Decision, Any]] = []
    try:
        decided.extend(decided_values(space, values))
    except Exception as exc:  # the user's space code: any error, shown as far as it got
        log.warning("space %s stopped reading %r after %d values: %s", space.name, values, len(decided), exc)
    return decided


@dataclass(frozen=True)
class ChoiceFrequencies:
    """How often each choice of each categorical decision (or decision kind) was taken, window by window.

    ``fractions[key]`` has one row per window and one column per entry of ``choices[key]``; a row
    sums to 1 (or 0 when no architecture of the window had that decision); a key is a decision's kind or,
    per decision, its name.
    ``mean_links`` and ``random_links`` are, per window, the mean number of input links per layer
    chosen and the mean a uniformly random choice would give (each link present with probability 1/2);
    both are empty when the space has no LINKS decisions.
    """

    windows: list[range]
    choices: dict[str, tuple[Any, ...]]
    fractions: dict[str, np.ndarray]
    mean_links: np.ndarray
    random_links: np.ndarray


def choice_frequencies(
    space: SearchSpace,
    archs: Sequence[Architecture],
    window: int | None = None,
    per_decision: bool = False,
) -> ChoiceFrequencies:
    """Choice frequencies of ``archs`` in consecutive windows of ``window`` architectures.

    ``per_decision`` counts each decision by its name (a user's space: one entry per choice in the
    model); otherwise decisions of one kind count together (the built-in spaces repeat a kind per layer).
    """
    decided = [safely_decided(space, arch.values) for arch in archs]
    if per_decision:
        named: dict[str, Decision] = {}
        for pairs in decided:
            for decision, _ in pairs:
                named.setdefault(decision.name, decision)
        representatives = named
    else:
        representatives = space.kinds()
    has_links = any(d.is_links for d in representatives.values())
    choices = {key: tuple(d.choices) for key, d in representatives.items() if not d.is_links}
    spans = windows(len(archs), window or default_window(len(archs)))
    counts = {key: np.zeros((len(spans), len(c))) for key, c in choices.items()}
    links = np.zeros(len(spans))
    possible_links = np.zeros(len(spans))
    anchors = np.zeros(len(spans))
    for row, span in enumerate(spans):
        for index in span:
            for decision, value in decided[index]:
                key = decision.name if per_decision else decision.kind
                if decision.is_links:
                    links[row] += len(value)
                    possible_links[row] += decision.num_links
                    anchors[row] += 1
                elif key in choices and value in choices[key]:
                    counts[key][row, choices[key].index(value)] += 1
    fractions = {}
    for kind, table in counts.items():
        totals = table.sum(axis=1, keepdims=True)
        fractions[kind] = np.divide(table, totals, out=np.zeros_like(table), where=totals > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_links = links / anchors if has_links else np.zeros(0)
        random_links = possible_links / 2 / anchors if has_links else np.zeros(0)
    return ChoiceFrequencies(spans, choices, fractions, mean_links, random_links)


# -- the plots -----------------------------------------------------------------------------------


def plot_rewards(trials: Sequence[TrialRecord], path: str | Path) -> Path:
    """Reward per trial: successful trials as dots, pruned ones (stopped early, rewarded for what they
    reached) as grey triangles, failed and timed-out ones as red crosses.

    The controller's moving baseline (``info["baseline"]``, the REINFORCE EMA of Zoph & Le 2017, eq. 3)
    is drawn as a line when the strategy recorded one. A failed trial's reward far below the successful
    ones (the metric reward's -1e6) is drawn at the bottom edge, so the successful ones keep the scale.
    """
    done = finished_trials(trials)
    if not done:
        return placeholder(path, "Reward per trial", NO_FINISHED_TRIALS)
    figure = Figure(figsize=(9, 4), layout="constrained")
    ax = figure.add_subplot()
    ok = [t for t in done if t.status == "ok"]
    pruned = [t for t in done if t.status == "pruned"]
    bad = [t for t in done if t.status not in ("ok", "pruned")]
    scale = reward_axis([_reward(t) for t in ok + pruned], [_reward(t) for t in bad])
    off_scale = scale is not None
    groups: tuple[tuple[list[TrialRecord], dict[str, Any]], ...] = (
        (ok, {"s": 14, "color": "tab:blue", "alpha": 0.8, "label": f"ok ({len(ok)})", "zorder": 2}),
        (
            pruned,
            {
                "s": 14,
                "marker": "v",
                "color": PRUNED_COLOR,
                "alpha": 0.7,
                "label": f"pruned ({len(pruned)}): reward of what it reached",
                "zorder": 1,
            },
        ),
        (
            bad,
            {
                "s": 28,
                "marker": "x",
                "color": "tab:red",
                "label": f"failed or timed out ({len(bad)})"
                + (", off the scale at the bottom" if off_scale else ""),
                "zorder": 3,
            },
        ),
    )
    for group, style in groups:
        if group:
            rewards = [_reward(t) for t in group]
            if scale is not None and group is bad:
                rewards = [r if scale[0] <= r <= scale[1] else scale[0] for r in rewards]
            ax.scatter([t.number for t in group], rewards, **style)
    # The baseline is recorded after each result in the order results arrived; the k-th result is
    # drawn at x = k so the line stays monotone in x even when a pool finished trials out of order.
    told = sorted(done, key=lambda t: t.tell_event if t.tell_event is not None else t.number)
    baseline = [(k, t.info["baseline"]) for k, t in enumerate(told) if "baseline" in t.info]
    if baseline:
        xs, ys = zip(*baseline, strict=True)
        ax.plot(xs, ys, color="tab:orange", linewidth=1.8, label="controller baseline", zorder=4)
    if scale is not None:
        ax.set_ylim(
            *scale
        )  # a baseline dragged down by failed trials leaves the axes rather than squash them
    ax.set_title(f"Reward per trial ({len(done)} finished)")
    ax.set_xlabel("trial")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("reward")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return save_figure(figure, path)


def plot_best_so_far(
    trials: Sequence[TrialRecord], path: str | Path, metric: str = "val_acc", direction: str = "max"
) -> Path:
    """Best reward so far and best ``metric`` so far against trial number (successful trials only); the
    best ``metric`` is the highest, or the lowest when ``direction`` is "min" (an RMSE, a perplexity)."""
    done = finished_trials(trials)
    if not done:
        return placeholder(path, "Best so far", NO_FINISHED_TRIALS)
    figure = Figure(figsize=(9, 5.5), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True)
    numbers = [t.number for t in done]
    series = [
        (top, "reward", [_reward(t) if t.status == "ok" else None for t in done], "tab:blue", "max"),
        (
            bottom,
            metric,
            [
                _as_float(t.metrics.get(metric)) if t.status == "ok" and metric in t.metrics else None
                for t in done
            ],
            "tab:green",
            direction,
        ),
    ]
    for ax, name, values, color, way in series:
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        present = [(n, v) for n, v in zip(numbers, values, strict=True) if v is not None]
        if not present:
            any_ok = any(t.status == "ok" for t in done)
            _say(ax, f"no successful trial recorded {name}" if any_ok else NO_SUCCESSFUL_TRIALS)
            continue
        xs, ys = zip(*present, strict=True)
        ax.scatter(xs, ys, s=10, color=color, alpha=0.3, label=f"{name} of each trial")
        best = best_so_far(values, way)
        # One step past the last trial, so the last value shows as a segment even for a single trial.
        ax.step(
            [*numbers, numbers[-1] + 1],
            np.append(best, best[-1]),
            where="post",
            color=color,
            linewidth=2,
            label=f"best {name} so far",
        )
        finite = best[np.isfinite(best)]
        ax.set_title(f"Best {name} so far: {finite[-1]:.4g}")
        ax.legend(loc="upper right" if way == "min" else "lower right", fontsize="small")
    bottom.set_xlabel("trial")
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    bottom.set_xlim(numbers[0] - 0.5, numbers[-1] + 0.5)
    return save_figure(figure, path)


def plot_choice_distribution(
    space: SearchSpace,
    trials: Sequence[TrialRecord],
    path: str | Path,
    window: int | None = None,
    per_decision: bool = False,
) -> Path:
    """How the frequency of each choice evolves over the search, one subplot per decision kind (or, with
    ``per_decision``, per decision; at most ``MAX_CHOICE_PANELS``).

    Windows hold ``window`` consecutive finished trials (about 20 windows by default). A decision with a
    few choices is a stacked area; one with more than ``STACKED_CHOICES`` (a layer choice among many
    candidates) a heat map. Spaces with anchor points get one more subplot: the mean number of input links
    per layer in each window.
    """
    done = finished_trials(trials)
    title = "Choices over the search"
    if not done:
        return placeholder(path, title, NO_FINISHED_TRIALS)
    freq = choice_frequencies(space, [t.arch for t in done], window, per_decision)
    shown = dict(list(freq.fractions.items())[:MAX_CHOICE_PANELS])
    panels = len(shown) + int(len(freq.mean_links) > 0)
    if panels == 0:
        return placeholder(path, title, f"space {space.name!r} has no decisions to show")
    heights = [_panel_height(freq.choices[key]) for key in shown] + [2.0] * int(len(freq.mean_links) > 0)
    height = 0.9 + sum(heights)
    figure = Figure(figsize=(10, height))
    # Fixed margins, not constrained layout: the layout pass costs a whole extra draw.
    figure.subplots_adjust(left=0.07, right=0.85, bottom=0.55 / height, top=1 - 0.5 / height, hspace=0.3)
    axes = np.atleast_1d(figure.subplots(panels, 1, sharex=True, gridspec_kw={"height_ratios": heights}))
    # Windows span the trial numbers of their trials, so the x axis means the same as in the other plots.
    lefts = np.array([done[s.start].number for s in freq.windows], dtype=float)
    widths = np.array([done[s.stop - 1].number + 1 for s in freq.windows], dtype=float) - lefts
    edges = np.append(lefts, lefts[-1] + widths[-1])
    for ax, (key, fractions) in zip(axes, shown.items(), strict=False):
        labels = [str(choice) for choice in freq.choices[key]]
        if len(labels) > STACKED_CHOICES:
            _heat_map(ax, figure, edges, fractions, labels)
        else:
            _stacked_area(ax, edges, fractions, labels)
        ax.set_xlim(edges[0], edges[-1])
        ax.set_title(key, loc="left", fontsize="medium")
    if len(freq.mean_links):
        ax = axes[-1]
        centres = lefts + widths / 2
        ax.plot(centres, freq.mean_links, marker="o", color="tab:purple", label="chosen")
        ax.plot(centres, freq.random_links, "--_", color="0.5", markersize=12, label="random")
        ax.set_ylim(0, 1.15 * np.nanmax(np.concatenate([freq.mean_links, freq.random_links, [0.1]])))
        ax.set_ylabel("links per layer")
        ax.set_title("mean number of input links per layer", loc="left", fontsize="medium")
        ax.grid(alpha=0.3)
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
    axes[-1].set_xlabel("trial")
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    size = freq.windows[0].stop - freq.windows[0].start
    plural = "" if size == 1 else "s"
    more = len(freq.fractions) - len(shown)
    rest = f"; {more} more decisions in the report's tables" if more > 0 else ""
    figure.suptitle(f"{title} (windows of {size} finished trial{plural}{rest})")
    return save_figure(figure, path)


def _panel_height(choices: tuple[Any, ...]) -> float:
    """Inches for a stacked area, or for a heat map with one row per choice."""
    return 2.0 if len(choices) <= STACKED_CHOICES else min(6.0, 0.6 + 0.16 * len(choices))


def _stacked_area(ax: Axes, edges: np.ndarray, fractions: np.ndarray, labels: list[str]) -> None:
    """A stepped stacked area: one polygon per choice, fast even with hundreds of windows."""
    stacked = np.vstack([fractions, fractions[-1:]]).T
    ax.stackplot(
        edges,
        stacked,
        step="post",
        colors=_palette(len(labels)),
        labels=labels,
        edgecolor="white",
        linewidth=0.4,
    )
    ax.set_ylim(0, 1)
    ax.set_ylabel("fraction")
    handles, names = ax.get_legend_handles_labels()
    # Reversed, so the legend reads top to bottom like the stack.
    ax.legend(handles[::-1], names[::-1], loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")


def _heat_map(ax: Axes, figure: Figure, edges: np.ndarray, fractions: np.ndarray, labels: list[str]) -> None:
    """One row per choice, one column per window, darker where the choice was taken more often."""
    mesh = ax.pcolormesh(edges, np.arange(len(labels) + 1), fractions.T, cmap="Blues", vmin=0, vmax=1)
    ax.set_yticks(np.arange(len(labels)) + 0.5, labels, fontsize=6 if len(labels) > 20 else 8)
    ax.set_ylim(len(labels), 0)
    # The colour bar sits where the other panels have their legend, so every panel keeps its width.
    figure.colorbar(mesh, cax=ax.inset_axes((1.01, 0.0, 0.015, 1.0)), label="fraction")


def curve_metrics(trials: Sequence[TrialRecord], first: Sequence[str] = ()) -> list[str]:
    """The per-epoch metrics in ``trials``' curves, ``first`` first, at most ``MAX_CURVE_PANELS``."""
    seen = dict.fromkeys(name for t in trials for name, series in t.curve.items() if series)
    ordered = [name for name in first if name in seen] + list(seen)
    return list(dict.fromkeys(ordered))[:MAX_CURVE_PANELS]


def curve_x(trial: TrialRecord, length: int, resources: Mapping[int, Sequence[float]] | None) -> np.ndarray:
    """Where a curve of ``length`` points of ``trial`` lies on the x axis: at the resources of its
    intermediate reports (``resources`` by trial number, in step order) when there is one per point, else
    at 1, 2, ... (one point per epoch or reported step)."""
    given = (resources or {}).get(trial.number, ())
    if len(given) == length:
        return np.array(given, dtype=float)
    return np.arange(1, length + 1, dtype=float)


def plot_learning_curves(
    trials: Sequence[TrialRecord],
    path: str | Path,
    first: Sequence[str] = (),
    pruned: Sequence[TrialRecord] = (),
    resources: Mapping[int, Sequence[float]] | None = None,
) -> Path:
    """The per-epoch curves of ``trials`` (the report passes its best few), one line per trial: one subplot
    per metric the evaluator reported per epoch or step, whatever its name (``first`` first).

    ``pruned`` trials (stopped early by the study's pruner) are drawn behind them as thin grey lines, each
    ending in an x where it was stopped. ``resources`` (trial number -> the resource of each report, from
    the study's intermediate reports) put each point at the resource it was reported at (fractions of an
    epoch with several reports per epoch); without them a curve's points lie at 1, 2, ..."""
    title = "Learning curves"
    names = curve_metrics([*trials, *pruned], first)
    if not names:
        return placeholder(path, title, "no trial recorded a per-epoch curve")
    figure = Figure(figsize=(9, 0.8 + 2.4 * len(names)), layout="constrained")
    axes = np.atleast_1d(figure.subplots(len(names), 1, sharex=True))
    for ax, name in zip(axes, names, strict=True):
        labelled = False
        for trial in pruned:
            series = np.array([_as_float(v) for v in trial.curve.get(name, [])], dtype=float)
            if not len(series):
                continue
            xs = curve_x(trial, len(series), resources)
            label = None if labelled else f"pruned ({len(pruned)}), x where stopped"
            ax.plot(xs, series, color=PRUNED_COLOR, linewidth=0.8, alpha=0.7, label=label, zorder=1)
            ax.plot(xs[-1:], series[-1:], "x", color=PRUNED_COLOR, markersize=6, zorder=1)
            labelled = True
        for trial in trials:
            series = np.array([_as_float(v) for v in trial.curve.get(name, [])], dtype=float)
            if len(series):
                marker = "o" if len(series) <= 30 else None
                xs = curve_x(trial, len(series), resources)
                ax.plot(
                    xs,
                    series,
                    marker=marker,
                    markersize=3,
                    linewidth=1.4,
                    label=f"trial {trial.number}",
                    zorder=2,
                )
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
    axes[-1].set_xlabel("resource (epochs)" if resources else "epoch (or reported step)")
    if all(float(x).is_integer() for xs in (resources or {}).values() for x in xs):
        axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    plural = "" if len(trials) == 1 else "s"
    stopped = f" and {len(pruned)} pruned" if pruned else ""
    figure.suptitle(f"{title} of the best {len(trials)} trial{plural}{stopped}")
    return save_figure(figure, path)


def plot_pareto_front(
    trials: Sequence[TrialRecord],
    objectives: Sequence[Objective],
    path: str | Path,
    true_front: np.ndarray | None = None,
    constraints: Sequence[Constraint] = (),
) -> Path:
    """The first two objectives of every successful trial (x: the second, y: the first), coloured by
    the time it finished (summed ``cost_s`` of the trials told before it: simulated seconds for tables,
    wall seconds for trained children); the found Pareto front (feasible trials) as a staircase and,
    for tabular studies, the true front of the whole table (``true_front``, metric values (K, 2+))."""
    from archsearch.front import front

    x_goal, y_goal = objectives[1], objectives[0]
    ok = [t for t in finished_trials(trials) if t.status == "ok"]
    ok = [t for t in ok if x_goal.metric in t.metrics and y_goal.metric in t.metrics]
    if not ok:
        return placeholder(path, "Pareto front", NO_SUCCESSFUL_TRIALS)
    told = sorted(
        finished_trials(trials), key=lambda t: t.tell_event if t.tell_event is not None else t.number
    )
    clock = dict(zip((t.number for t in told), np.cumsum([t.cost_s or 0.0 for t in told]), strict=True))
    figure = Figure(figsize=(8, 5.5), layout="constrained")
    ax = figure.add_subplot()
    if true_front is not None and len(true_front):
        order = np.argsort(true_front[:, 1])
        ax.step(
            true_front[order, 1],
            true_front[order, 0],
            where="post",
            color="0.2",
            linewidth=1.2,
            label=f"true front of the table ({len(true_front)} cells)",
            zorder=1,
        )
    points = ax.scatter(
        [t.metrics[x_goal.metric] for t in ok],
        [t.metrics[y_goal.metric] for t in ok],
        c=[clock[t.number] for t in ok],
        cmap="viridis",
        s=16,
        alpha=0.85,
        zorder=2,
        label=f"trials ({len(ok)})",
    )
    figure.colorbar(points, ax=ax, label="time when told (s, summed cost)")
    members = front(trials, [y_goal, x_goal], constraints)
    if members:
        xs = [t.metrics[x_goal.metric] for t in members]
        ys = [t.metrics[y_goal.metric] for t in members]
        order = np.argsort(xs)
        ax.step(
            np.array(xs)[order],
            np.array(ys)[order],
            where="post",
            color="tab:red",
            linewidth=1.8,
            zorder=3,
            label=f"found front ({len(members)} trials)",
        )
        ax.scatter(xs, ys, s=40, facecolors="none", edgecolors="tab:red", zorder=4)
    for c in constraints:
        if c.metric == x_goal.metric:
            ax.axvline(c.bound, color="tab:orange", linestyle="--", label=str(c))
        elif c.metric == y_goal.metric:
            ax.axhline(c.bound, color="tab:orange", linestyle="--", label=str(c))
    ax.set_xlabel(f"{x_goal.metric} ({x_goal.direction})")
    ax.set_ylabel(f"{y_goal.metric} ({y_goal.direction})")
    ax.set_title(f"Pareto front: {y_goal} against {x_goal}")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return save_figure(figure, path)


# -- helpers -------------------------------------------------------------------------------------


def _reward(trial: TrialRecord) -> float:
    return trial.reward if trial.reward is not None else 0.0


def reward_axis(ok: Sequence[float], failed: Sequence[float]) -> tuple[float, float] | None:
    """The reward axis when some ``failed`` reward lies further from the ``ok`` ones than their own spread
    (the metric reward's -1e6): the ok rewards and the failed ones near them, padded; None (matplotlib's
    own axis) when every reward is near the others (the built-in rewards: failed trials at 0)."""
    if not ok:
        return None
    low, high = min(ok), max(ok)
    reach = max(high - low, 0.1 * max(abs(low), abs(high)), 1e-9)
    near = [r for r in failed if low - reach <= r <= high + reach]
    if len(near) == len(failed):
        return None
    low, high = min([low, *near]), max([high, *near])
    pad = 0.08 * max(high - low, 1e-9)
    return low - pad, high + pad


def _as_float(value: Any) -> float:
    """A stored curve value as a number; one that is none (a user's evaluator reported text) as NaN."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _palette(count: int) -> list[Any]:
    """Ordered colours for ordered choices (filter sizes, counts): light to dark."""
    from matplotlib import colormaps

    return [colormaps["viridis"](x) for x in np.linspace(0.95, 0.1, count)]


def _say(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=13, color="0.4", transform=ax.transAxes)


def placeholder(path: str | Path, title: str, message: str) -> Path:
    """A PNG at ``path`` that shows ``title`` and ``message`` instead of a plot (nothing to draw yet)."""
    figure = Figure(figsize=(7, 2.5), layout="constrained")
    ax = figure.add_subplot()
    ax.set_axis_off()
    ax.set_title(title)
    _say(ax, message)
    return save_figure(figure, path)


def can_draw(space: SearchSpace) -> bool:
    """Whether ``space`` has a drawing of its own (a ``draw`` hook, ``archsearch.spaces.hooks``); the
    report lists the decision values of the other spaces' architectures."""
    return isinstance(space, Draws) and space.draw is not None


def draw_architecture(space: SearchSpace, arch: Architecture, path: str | Path) -> Path:
    """A drawing of ``arch``: the space's own (its ``draw`` hook), otherwise its encoding in a box."""
    if can_draw(space):
        return Path(space.draw(arch, path))  # type: ignore[attr-defined]
    return draw_encoding(space, arch, path)

"""stop_on_signals: SIGINT and SIGTERM become one Interrupted exception; handlers are put back."""

from __future__ import annotations

import os
import signal

import pytest

from archsearch.interrupt import Interrupted, exit_code, resume_hint, stop_on_signals


def _raise_now(signum: int) -> None:
    os.kill(os.getpid(), signum)
    signal.pthread_sigmask(signal.SIG_BLOCK, [])  # a C call: Python runs the handler before it returns


def test_sigterm_inside_the_block_raises_interrupted_and_the_handlers_come_back():
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with pytest.raises(Interrupted) as caught, stop_on_signals() as stop:
        _raise_now(signal.SIGTERM)
    assert caught.value.signum == signal.SIGTERM and stop.signum == signal.SIGTERM
    assert isinstance(caught.value, KeyboardInterrupt)  # code that stops on Ctrl-C stops on SIGTERM too
    assert {s: signal.getsignal(s) for s in before} == before


def test_signals_after_the_first_are_ignored_while_the_run_winds_down():
    cleaned_up = False
    with pytest.raises(Interrupted) as caught, stop_on_signals():
        try:
            _raise_now(signal.SIGINT)
        finally:  # the cleanup is not broken by a second Ctrl-C or a SIGTERM
            _raise_now(signal.SIGINT)
            _raise_now(signal.SIGTERM)
            cleaned_up = True
    assert cleaned_up and caught.value.signum == signal.SIGINT


def test_a_sigterm_that_came_with_the_first_sigint_is_what_the_request_reports():
    with pytest.raises(Interrupted), stop_on_signals() as stop:
        try:
            _raise_now(signal.SIGINT)
        finally:
            _raise_now(signal.SIGTERM)
    assert stop.signum == signal.SIGTERM


def test_a_nested_block_shares_the_outer_handlers_and_request():
    with stop_on_signals() as outer, stop_on_signals() as inner:
        assert inner is outer


def test_a_signal_the_process_was_started_ignoring_stays_ignored():
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        with stop_on_signals():
            assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
            _raise_now(signal.SIGTERM)  # nothing happens
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_the_exit_code_and_the_line_name_the_signal():
    assert exit_code(Interrupted(signal.SIGINT)) == 130
    assert exit_code(Interrupted(signal.SIGTERM)) == 143
    assert exit_code(KeyboardInterrupt()) == 130
    assert resume_hint(Interrupted(signal.SIGTERM), "archsearch resume runs/a") == (
        "interrupted by SIGTERM; continue with: archsearch resume runs/a"
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_while_workers_start_is_delivered_when_they_have_started(signum):
    from archsearch.executors.base import interrupts_held

    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    reached_the_end = False
    with pytest.raises(Interrupted) as caught, stop_on_signals():
        with interrupts_held():
            _raise_now(signum)
            _raise_now(signum)  # a second one is the same request, raised once
            reached_the_end = True  # a worker's start is never cut in half
    assert reached_the_end and caught.value.signum == signum
    assert {s: signal.getsignal(s) for s in before} == before

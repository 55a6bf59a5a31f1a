"""Snapshot tests: what the monitor shows for the sample logs, at 120x40, with time frozen."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from test_tui_support import (
    ROOT,
    SAMPLES,
    SEED000,
    SEED001,
    SIZE,
    caught_up,
    frozen_clock,
    wait_for,
)

from bertmon.analyzers import LogParser
from bertmon.tui.app import BertmonApp, tail_specs


# the wall clock of every snapshot, and the sample logs' last write an hour and a bit before it:
# the header says how long a log has been quiet, which must not depend on the checkout's time
NOW = 1_796_300_635.0  # 2026-12-03 12:23:55 UTC
LAST_WRITE = NOW - 3_845


@pytest.fixture(autouse=True)
def _from_the_repository_root(monkeypatch) -> None:
    """The header shows the path as given: relative paths keep the snapshots clone-independent."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(autouse=True)
def _sample_logs_written_at_a_fixed_time():
    """Each sample log's mtime is set for the test and given back after it."""
    saved = {p: (p.stat().st_atime, p.stat().st_mtime) for p in SAMPLES.glob("*.log")}
    for path in saved:
        os.utime(path, (LAST_WRITE, LAST_WRITE))
    yield
    for path, times in saved.items():
        os.utime(path, times)


def app_for(*paths: Path) -> BertmonApp:
    return BertmonApp(
        tail_specs([p.relative_to(ROOT) for p in paths]), clock=frozen_clock, wall=lambda: NOW
    )


def records_in(path: Path) -> int:
    parser = LogParser()
    parser.feed((ROOT / path).read_bytes())
    parser.close()
    return parser.records


def settled(app: BertmonApp):
    async def run_before(pilot) -> None:
        for slot, spec in enumerate(app.specs):
            total = records_in(Path(spec.label))
            await wait_for(pilot, caught_up(app, slot, records=total))
        await pilot.pause(1.0)  # longer than the charts' 0.3 s redraw debounce

    return run_before


@pytest.mark.parametrize(
    "log",
    [SEED000, SEED001, SAMPLES / "keras3_nan_pty.log", SAMPLES / "hf_trainer_file.log"],
    ids=lambda p: p.stem,
)
def test_monitor_on_sample_log(snap_compare, log: Path) -> None:
    app = app_for(log)
    assert snap_compare(app, terminal_size=SIZE, run_before=settled(app))


def test_monitor_comparison(snap_compare) -> None:
    app = app_for(SEED000, SEED001)
    assert snap_compare(app, terminal_size=SIZE, run_before=settled(app))


def test_monitor_smoothed(snap_compare) -> None:
    app = app_for(SAMPLES / "keras3_verbose1_pty.log")

    async def run_before(pilot) -> None:
        await settled(app)(pilot)
        await pilot.press("m")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)

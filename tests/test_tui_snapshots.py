"""Snapshot tests: what the monitor shows for the sample logs, at 120x40, with time frozen."""

from __future__ import annotations

from pathlib import Path

import pytest
from bertmon.tui.app import BertmonApp, tail_specs
from test_tui_support import SAMPLES, SEED000, SEED001, SIZE, caught_up, frozen_clock, wait_for


def app_for(*paths: Path) -> BertmonApp:
    return BertmonApp(tail_specs(list(paths)), clock=frozen_clock)


def settled(app: BertmonApp):
    async def run_before(pilot) -> None:
        for slot in range(len(app.specs)):
            await wait_for(pilot, caught_up(app, slot))
        await pilot.pause(0.2)

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

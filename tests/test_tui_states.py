"""Pilot tests: the monitor tells the truth about the run it shows, in each state a run can be in.

Idle (a log nobody writes to any more), finished, stopped and crashed (from the log and the run
directory's status.json), and a rotated log that holds a second run (findings of that run only).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from test_tui_support import SAMPLES, SEED000, SIZE, caught_up, frozen_clock, wait_for

from bertmon.tui.app import BertmonApp, tail_specs
from bertmon.tui.widgets.header import clock_time

KERAS = SAMPLES / "keras3_verbose1_pty.log"


def tail_app(*paths: Path) -> BertmonApp:
    return BertmonApp(tail_specs(list(paths)), clock=frozen_clock)


def header_text(app) -> str:
    return str(app.screen.query_one("#header").render())


def findings_title(app) -> str:
    return str(app.screen.query_one("#findings").border_title)


def run_dir(root: Path, log_bytes: bytes, status: dict, finished: int | None = None) -> Path:
    """A run directory as `bertmon train` leaves it (real log bytes, the contract's files)."""
    root.mkdir()
    (root / "train.log").write_bytes(log_bytes)
    (root / "config.json").write_text(json.dumps({"framework": "tf", "batch_size": 16}))
    (root / "status.json").write_text(json.dumps(status))
    if finished is not None:
        rows = "".join(json.dumps({"epoch": e}) + "\n" for e in range(1, finished + 1))
        (root / "metrics.jsonl").write_text(rows)
    return root / "train.log"


async def test_a_log_that_stopped_growing_goes_idle(tmp_path: Path) -> None:
    log = tmp_path / "quiet.log"
    data = SEED000.read_bytes()
    log.write_bytes(data[: data.index(b"Epoch 4/20")])  # written just now: running
    app = tail_app(log)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, caught_up(app))
        assert " RUNNING " in header_text(app) and "idle" not in header_text(app)
        last = time.time() - 4 * 60 - 5  # nothing written for four minutes
        os.utime(log, (last, last))
        await wait_for(pilot, lambda: " IDLE " in header_text(app), timeout=5)
        text = header_text(app)
        assert f"idle for 4m · last write {clock_time(last, time.time())}" in text
        assert "RUNNING" not in text and "ETA" not in text
        # elapsed is the log's own epoch times, not the time this monitor has been open
        assert "elapsed 0:10:" in text  # epochs 1-3 took 211 + 201 + 199 s


async def test_a_finished_run_dir_is_finished_with_its_own_times(tmp_path: Path) -> None:
    status = {"status": "finished", "exit_code": 0, "best_epoch": 3, "best": {},
              "started": "2026-12-03T08:00:00Z", "ended": "2026-12-03T08:02:05Z"}
    log = run_dir(tmp_path / "done", KERAS.read_bytes(), status, finished=3)
    app = tail_app(log)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, caught_up(app))
        await wait_for(pilot, lambda: " FINISHED " in header_text(app))
        text = header_text(app)
        assert "elapsed 0:02:05" in text and "ETA" not in text and "idle" not in text


async def test_a_stopped_run_dir_is_stopped(tmp_path: Path) -> None:
    data = KERAS.read_bytes()
    cut = data.index(b"Epoch 3/3")
    for _ in range(4):  # a few frames into epoch 3, as a graceful stop leaves it
        cut = data.index(b"\r", cut + 1)
    status = {"status": "stopped", "exit_code": 130, "best_epoch": 2, "best": {},
              "started": "2026-12-03T08:00:00Z", "ended": "2026-12-03T08:01:00Z"}
    log = run_dir(tmp_path / "cut", data[:cut], status, finished=2)
    app = tail_app(log)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, caught_up(app))
        await wait_for(pilot, lambda: " STOPPED " in header_text(app))
        text = header_text(app)
        assert "(by you)" not in text  # nobody here asked it to stop
        assert "RUNNING" not in text and "ETA" not in text and "elapsed 0:01:00" in text
        # the epoch the stop cut (a row in the log, none in metrics.jsonl) is not an epoch
        assert [e.epoch for e in app.screen.primary.run.epochs] == [1, 2]
        assert "epoch 2/3" in text
        await pilot.press("q")
    summary = app.summary or ""
    assert summary.startswith("bertmon: cut STOPPED")
    assert f"log: {log}" in summary


async def test_a_crashed_log_is_crashed() -> None:
    app = tail_app(SAMPLES / "keras3_crash_file.log")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, caught_up(app))
        await wait_for(pilot, lambda: " CRASHED " in header_text(app))
        text = header_text(app)
        assert "ETA" not in text and "idle" not in text
        assert app.screen.primary.run.error and app.screen.primary.run.error in text


async def test_a_rotated_log_shows_the_findings_of_its_new_run(tmp_path: Path) -> None:
    log = tmp_path / "train.out"
    log.write_bytes(SEED000.read_bytes())  # 18 epochs: early_peak at epoch 7 and more
    app = tail_app(log)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, caught_up(app))
        await wait_for(pilot, lambda: any(f.rule == "early_peak"
                                          for f in app.screen.primary.findings))
        os.rename(log, tmp_path / "train.out.1")  # rotated; a new run writes the new file
        log.write_bytes(KERAS.read_bytes())
        await wait_for(pilot, lambda: len(app.screen.primary.runs) == 2)
        await wait_for(pilot, caught_up(app))
        snap = app.screen.primary
        assert snap.run.index == 1 and [e.epoch for e in snap.run.epochs] == [1, 2, 3]
        assert [f.rule for f in snap.findings] == [f.rule for f in snap.runs[1].findings]
        assert not any(f.epoch and f.epoch > 3 for f in snap.findings)
        await wait_for(pilot, lambda: "run 2 of 2" in findings_title(app))
        shown = " ".join(str(s.render()) for s in app.screen.query(".finding"))
        assert "early_peak" not in shown
        await pilot.press("left_square_bracket")  # the first run, with its own findings
        await wait_for(pilot, lambda: "run 1 of 2" in findings_title(app))
        shown = " ".join(str(s.render()) for s in app.screen.query(".finding"))
        assert "early_peak" in shown


async def test_a_shows_every_redraw_and_back() -> None:
    app = tail_app(SAMPLES / "tqdm_loop_pty.log")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, caught_up(app))
        await pilot.pause(0.5)  # the pane writes in batches
        pane = app.screen.query_one("#logpane")
        collapsed = pane.lines
        assert "redraws collapsed" in str(pane.border_title)
        await pilot.press("a")
        await pilot.pause(0.2)
        every = pane.lines
        assert len(every) > len(collapsed) and "every redraw" in str(pane.border_title)
        assert every[-1] == collapsed[-1]
        await pilot.press("a")
        await pilot.pause(0.2)
        assert pane.lines == collapsed

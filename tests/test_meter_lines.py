"""The PyTorch ImageNet example's meters (`formats/meter.py`), printed by a real training loop
with pytorch/examples' own `AverageMeter` and `ProgressMeter` (tests/emitters/meter_loop.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bertmon.analyzers import LogParser, parse_bytes

EMITTER = Path(__file__).resolve().parent / "emitters" / "meter_loop.py"


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> tuple[bytes, dict]:
    out = tmp_path_factory.mktemp("meter") / "truth.json"
    log = subprocess.run([sys.executable, str(EMITTER), "--out", str(out)], check=True,
                         capture_output=True, timeout=300).stdout
    return log, json.loads(out.read_text())


def test_each_epoch_has_its_train_means_and_its_evaluation(capture):
    log, truth = capture
    (run,) = parse_bytes(log).runs
    assert run.formats == ["meters"] and run.status == "finished"
    assert [row.epoch for row in run.epochs] == [e["epoch"] for e in truth["epochs"]] == [0, 1, 2]
    for row, want in zip(run.epochs, truth["epochs"]):
        assert row.metrics["Loss"] == float(want["train"]["Loss"])  # the last running mean
        assert row.metrics["Acc@1"] == float(want["train"]["Acc@1"])
        assert row.metrics["val_Acc@1"] == float(want["val_Acc@1"])  # the ` * ` summary
        assert "Time" not in row.metrics and "Data" not in row.metrics
    train_lines = log.count(b"Epoch: [")
    assert len(run.series["Loss"]) == train_lines  # each printed batch's own value
    assert run.series["val_Acc@1"].epochs.tolist() == [0.0, 1.0, 2.0]  # one point an evaluation
    assert run.roles["train_loss"] == "Loss" and run.roles["dev_acc"] == "val_Acc@1"


def test_any_chunking_reads_the_same(capture):
    log, _ = capture
    whole = parse_bytes(log).runs[0]
    parser = LogParser()
    for k in range(0, len(log), 37):
        parser.feed(log[k:k + 37])
    (run,) = parser.close().runs
    assert [(r.epoch, r.metrics) for r in run.epochs] == [(r.epoch, r.metrics)
                                                          for r in whole.epochs]


def test_a_log_cut_inside_an_epoch_s_training_drops_that_epoch(capture):
    log, _ = capture
    cut = log[: log.rindex(b"Test: [")]  # the last epoch's evaluation never came
    cut = cut[: cut.rindex(b"Epoch: [")]
    (run,) = parse_bytes(cut).runs
    assert [row.epoch for row in run.epochs] == [0, 1]


def test_a_flattened_capture_reads_as_the_original(capture):
    log, _ = capture
    flat = re.sub(rb"[\r\n]+", b" ", log)  # a paste that lost every line break
    (whole,), (pasted,) = parse_bytes(log).runs, parse_bytes(flat).runs
    assert [(r.epoch, r.metrics) for r in pasted.epochs] == [(r.epoch, r.metrics)
                                                             for r in whole.epochs]
    assert pasted.series["Loss"].values.tolist() == whole.series["Loss"].values.tolist()

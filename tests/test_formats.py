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


# --- Keras callback lines name an epoch but open none ---------------------------------------
@pytest.mark.parametrize("line", [
    "Epoch 00000: val_acc improved from -inf to 0.51000, saving model to weights.h5",  # Keras 1
    "Epoch 00001: val_acc did not improve",
    "Epoch 1: early stopping",
    "Epoch 00001: ReduceLROnPlateau reducing learning rate to 0.0001.",
    "Restoring model weights from the end of the best epoch: 1.",
])
def test_keras_callback_lines_are_no_headers(line):
    text = (f"Epoch 1/3\n - 4s - loss: 0.7 - acc: 0.5 - val_loss: 0.69 - val_acc: 0.51\n{line}\n"
            "Epoch 2/3\n - 4s - loss: 0.6 - acc: 0.6 - val_loss: 0.65 - val_acc: 0.6\n")
    run = one_run(text)
    assert [row.epoch for row in run.epochs] == [1, 2]
    assert run.epochs[1].metrics["val_acc"] == 0.6


# --- Hugging Face Trainer forms -------------------------------------------------------------
def _hf_truth(name: str) -> dict:
    return json.loads((LOGS / f"{name}.truth.json").read_text(encoding="utf-8"))


def test_transformers4_dicts_are_numbers_read_like_strings():
    """transformers 4.x wrote `str(logs)` (numbers, not strings): the same log_history printed
    that way reads to the same values as transformers 5's string form."""
    history = _hf_truth("hf_trainer_file")["log_history"]
    lines = [str({k: v for k, v in entry.items() if k not in ("step", "total_flos")})
             for entry in history]
    run = one_run("\n".join(lines) + "\n")
    losses = [e["loss"] for e in history if "loss" in e]
    assert run.series["loss"].values.tolist() == losses
    evals = [e for e in history if "eval_loss" in e]
    assert [row.epoch for row in run.epochs] == sorted({round(e["epoch"]) for e in evals})
    for e in evals:
        assert run.epochs[round(e["epoch"]) - 1].metrics["eval_loss"] == e["eval_loss"]
    assert "train_runtime" in run.series  # the summary is kept, as a series


def test_tftrainer_dicts_with_float32_reprs_and_step_behind_a_logging_prefix():
    """TFTrainer logged `{**logs, 'step': global_step}` through `logging` with numpy float32
    values: built here with real numpy and the real logging module."""
    import io
    import logging

    import numpy as np

    history = [e for e in _hf_truth("hf_trainer_file")["log_history"] if "loss" in e]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(
        "[%(levelname)s|%(filename)s:%(lineno)s] %(asctime)s >> %(message)s"))
    log = logging.getLogger("bertmon-test-tftrainer")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        for e in history:
            log.info({"loss": np.float32(e["loss"]),
                      "learning_rate": np.float32(e["learning_rate"]),
                      "epoch": e["epoch"], "step": e["step"]})
    finally:
        log.removeHandler(handler)
    run = one_run(stream.getvalue())
    loss = run.series["loss"]
    assert loss.values.tolist() == [float(str(np.float32(e["loss"]))) for e in history]
    assert loss.steps.tolist() == [e["step"] for e in history]
    assert "step" not in run.series


def test_train_metrics_block_is_a_summary_not_an_epoch():
    data = (LOGS / "hf_trainer_log_metrics_file.log").read_bytes()
    truth = _hf_truth("hf_trainer_log_metrics_file")
    run = one_run(data)
    assert [row.epoch for row in run.epochs] == [1, 2]
    assert "train_loss" not in run.epochs[-1].metrics  # the run's mean loss is no epoch's
    final = truth["train_output_metrics"]
    assert run.series["train_loss"].values.tolist()[-1] == float(f"{final['train_loss']:.4f}")
    evals = truth["eval_metrics"]
    assert run.series["eval_loss"].values.tolist()[-1] == float(f"{evals['eval_loss']:.4f}")


# --- structure real pastes break (real captures, cut, joined or quoted as a paste does) -----
def _epochs(data: bytes) -> list:
    return [(row.epoch, row.metrics) for row in one_run(data).epochs]


@pytest.mark.parametrize("name", ["keras2_callbacks_v1_file", "keras2_callbacks_v2_file",
                                  "keras3_verbose1_pty", "keras3_verbose2_file"])
def test_a_paste_quoted_with_gt_reads_as_the_log(name):
    data = (LOGS / f"{name}.log").read_bytes()
    quoted = b"\n".join(b"> " + line for line in data.split(b"\n"))
    assert _epochs(quoted) == _epochs(data)


@pytest.mark.parametrize("name", ["keras2_callbacks_v1_file", "keras2_callbacks_v2_file",
                                  "keras3_verbose1_pty", "keras3_verbose2_file"])
def test_a_paste_that_lost_its_line_breaks_around_headers(name):
    data = (LOGS / f"{name}.log").read_bytes()
    before = data.replace(b"\r\nEpoch", b"Epoch").replace(b"\nEpoch", b"Epoch")  # `0.57Epoch 2/8`
    after = data.replace(b"/8\n", b"/8").replace(b"/3\r\n", b"/3").replace(b"/3\n", b"/3")
    assert _epochs(before) == _epochs(data)
    assert _epochs(after) == _epochs(data)  # `Epoch 2/812/12 [====`


def test_a_paste_that_starts_mid_epoch_takes_its_number_from_the_next_header():
    data = (LOGS / "keras2_callbacks_v1_file.log").read_bytes()
    start = data.index(b"Epoch 2: val_acc")  # after epoch 2's header and first frame
    epochs = _epochs(data[start:])
    assert epochs == _epochs(data)[1:]
    assert epochs[0][0] == 2


def test_an_epoch_cut_before_its_last_frame_is_no_epoch():
    data = (LOGS / "keras2_callbacks_v1_file.log").read_bytes()
    cut = data.index(b"\r", data.index(b"Epoch 3/8"))  # into epoch 3's bar, before its end
    cut = data.index(b"\r", cut + 1)
    run = one_run(data[:cut + 1])
    assert [row.epoch for row in run.epochs] == [1, 2]
    assert run.status == "running"  # ended mid-epoch 3 of 8: not finished


def test_notebook_traceback_reports_the_exception_not_a_frame():
    data = (LOGS / "keras3_crash_ipython_file.log").read_bytes()
    run = one_run(data)
    assert run.status == "crashed"
    assert run.error == "RuntimeError: bertmon test emitter: simulated crash in epoch 2"
    assert set(run.series) <= {"loss", "accuracy", "val_loss", "val_accuracy"}  # no source line
    cut = data[:data.rindex(b"RuntimeError: bertmon")]  # the paste ends before the exception
    run = one_run(cut)
    assert run.status == "crashed" and run.error == "RuntimeError"  # named in the header


# --- key/value forms people print -----------------------------------------------------------
@pytest.mark.parametrize("line,metrics", [
    ("Train Loss : 0.512  Validation Accuracy : 0.81", {"Train Loss": 0.512,
                                                        "Validation Accuracy": 0.81}),
    ("train loss 0.512 val acc 0.81", {"train loss": 0.512, "val acc": 0.81}),
    ("Validation accuracy: 0.81.", {"Validation accuracy": 0.81}),
    ("loss=1.95e+4, acc=0.5,", {"loss": 19500.0, "acc": 0.5}),
    ("I1120 10:12:34.123456 140234 train.py:124] loss = 0.512, accuracy = 0.81",
     {"loss": 0.512, "accuracy": 0.81}),
])
def test_key_value_forms(line, metrics):
    run = one_run(f"Epoch 1/2\n{line}\n")
    assert run.epochs[0].metrics == metrics


def test_names_with_spaces_keep_their_roles():
    run = one_run("Epoch 1/2\nTrain Loss : 0.512\nValidation Accuracy : 0.81\n"
                  "Epoch 2/2\nTrain Loss : 0.4\nValidation Accuracy : 0.85\n")
    assert run.roles["train_loss"] == "Train Loss"
    assert run.roles["dev_acc"] == "Validation Accuracy"


def test_eval_results_logged_one_key_a_line_behind_a_logging_prefix():
    """The old example scripts (run_glue.py) logged `***** Eval results *****` then
    `logger.info("  %s = %s", key, value)` with their logging format; made here with the real
    logging module and the Trainer's own eval record."""
    import io
    import logging

    history = _hf_truth("hf_trainer_file")["log_history"]
    evals = [e for e in history if "eval_loss" in e]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s - %(levelname)s - %(name)s -   %(message)s",
                                           datefmt="%m/%d/%Y %H:%M:%S"))
    log = logging.getLogger("__main__.bertmon_test")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        for e in evals:
            log.info("***** Eval results *****")
            for key in sorted(e):
                if key != "step":
                    log.info("  %s = %s", key, e[key])
    finally:
        log.removeHandler(handler)
    run = one_run(stream.getvalue())
    assert [row.epoch for row in run.epochs] == [round(e["epoch"]) for e in evals]
    for row, e in zip(run.epochs, evals):
        assert row.metrics["eval_loss"] == e["eval_loss"]
        assert row.metrics["eval_accuracy"] == e["eval_accuracy"]


def test_bertmon_train_tf_one_epoch_is_one_epoch():
    """`bertmon train --framework tf --epochs 1`: Keras prints no header for one epoch; the
    epoch is read, with the values the trainer wrote to metrics.jsonl at Keras's precision."""
    run = one_run((LOGS / "bertmon_train_tf_epochs1.log").read_bytes())
    metrics = (LOGS / "bertmon_train_tf_epochs1.metrics.jsonl").read_text()
    record = json.loads(metrics.splitlines()[0])
    assert [row.epoch for row in run.epochs] == [record["epoch"]] and run.epochs_planned == 1
    assert run.status == "finished"
    for name in ("loss", "accuracy", "val_loss", "val_accuracy", "val_f1"):
        assert run.epochs[0].metrics[name] == float(f"{record[name]:.4f}"), name


def test_suffixed_dev_names_and_nll_losses_take_their_roles():
    run = one_run("Epoch: 0000 nll_train: 93185.77 kl_train: 195.29 acc_train: 0.0915 "
                  "nll_val: 104181.94 acc_val: 0.0 time: 866.2107s\n"
                  "Epoch: 0001 nll_train: 40856.01 kl_train: 204.92 acc_train: 0.0893 "
                  "nll_val: 75632.86 acc_val: 0.1 time: 713.4318s\n")
    assert [row.epoch for row in run.epochs] == [0, 1]
    assert run.roles["train_loss"] == "nll_train" and run.roles["dev_loss"] == "nll_val"
    assert run.roles["train_acc"] == "acc_train" and run.roles["dev_acc"] == "acc_val"
    assert run.epochs[1].seconds == 713.4318


def test_tqdm_description_values_and_bars_without_cells():
    """`pbar.set_description(f"Train Epoch: {e} Loss: {loss}")`, copied from a notebook's text
    output where the bar's cells are gone (`100% 2785/2785 [00:53<00:00, 52.28it/s]`)."""
    import io

    from tqdm import tqdm

    stream = io.StringIO()
    for epoch, loss in ((16, 0.35977894), (17, 0.34)):
        bar = tqdm(range(4), file=stream, mininterval=0, ascii=False)
        for _ in bar:
            bar.set_description(f"Train Epoch: {epoch} Loss: {loss}")
        bar.close()
    text = stream.getvalue()
    cellless = "".join(c for c in text if c not in "█▏▎▍▌▋▊▉|")  # what the notebook kept
    for data in (text, cellless):
        run = one_run(data.encode())
        assert [(row.epoch, row.metrics.get("Loss")) for row in run.epochs] == [
            (16, 0.35977894), (17, 0.34)]


def test_training_stopped_early_is_finished_not_stopped():
    run = one_run("epoch 1: loss=0.5 dev_acc=0.7\nTraining stopped early at epoch 1 (patience 0)\n")
    assert run.status == "finished"


def test_a_look_back_summary_is_understood_not_unmatched():
    run = one_run((LOGS / "bertmon_train_tf_epochs1.log").read_bytes())
    assert run.coverage.unmatched_metric_like == 0  # `best epoch 1 with val_f1 0.3732`
    assert set(run.epochs[0].metrics) == {"loss", "accuracy", "val_loss", "val_accuracy", "val_f1"}


def test_lightning_graceful_shutdown_is_a_stop():
    """Lightning's own message on Ctrl-C (lightning/pytorch/trainer/call.py), after the bar."""
    data = (LOGS / "lightning_tqdm_pty.log").read_bytes()
    cut = data.index(b"Epoch 2:")
    stop = b"\r\nDetected KeyboardInterrupt, attempting graceful shutdown ...\r\n"
    run = one_run(data[:cut] + stop)
    assert run.status == "stopped" and run.error == "KeyboardInterrupt"
    assert [row.epoch for row in run.epochs] == [0, 1]


def test_a_bar_whose_count_is_no_number_is_no_bar():
    """`[\\d.]+` in the bar's pattern also takes `2.1.0` (found by fuzzing real logs)."""
    from analyzers.formats.tqdm import read_bar

    for record in ("Epoch 1:  50%|#####     | 5/2.1.0 [00:01<00:01, 1.00it/s]",
                   " 50%|#####     | 1.2.3/10 [00:01<00:01, 1.00it/s]"):
        assert read_bar(record) is None
        assert parse_bytes(record.encode() + b"\n").runs == []


PREFIXES = [b"[2023-05-01 12:00:00] ", b"2023-05-01 12:00:00,123 - root - INFO - ",
            b"2023-05-01T12:00:00.000Z ", b"INFO:__main__:",
            b"2019-11-22 15:36:56.690 | INFO     | train:fit:86 - "]


@pytest.mark.parametrize("prefix", PREFIXES, ids=lambda p: p.decode()[:12])
@pytest.mark.parametrize("name", ["keras3_single_epoch_v2_file", "keras3_verbose2_file",
                                  "tsv_loop_file", "fastai2_one_cycle_file", "hf_trainer_file",
                                  "tqdm_loop_pty", "seed001_frozen_cola"])
def test_a_log_passed_through_a_logger_reads_as_the_log(prefix, name):
    """A logger, job scheduler or log service put its prefix before every line."""
    data = (LOGS / f"{name}.log").read_bytes()
    lines = data.replace(b"\r\n", b"\n").split(b"\n")
    prefixed = b"\n".join(prefix + line if line.strip() else line for line in lines)
    want = [(e.epoch, e.metrics) for r in parse_bytes(data).runs for e in r.epochs]
    assert want
    assert [(e.epoch, e.metrics) for r in parse_bytes(prefixed).runs for e in r.epochs] == want


def test_tensorflows_own_log_lines_stay_noise():
    data = (b"2026-11-20 10:12:33.123456: W tensorflow/core/framework/op_kernel.cc:1830] "
            b"loss = 0.5, step = 3\n"
            b"I0000 00:00:1796287424.520247   11113 port.cc:153] oneDNN: set "
            b"TF_ENABLE_ONEDNN_OPTS=0\n")
    assert all(not r.series for r in parse_bytes(data).runs)


@pytest.mark.parametrize("path", [LOGS / "keras2_callbacks_v2_file.log",
                                  LOGS / "seed001_frozen_cola.log",
                                  LOGS / "public" / "hf_card_table_sst2.txt",
                                  LOGS / "public" / "print_mccormick_epochs.txt"],
                         ids=lambda p: p.name)
def test_a_log_copied_with_no_break_spaces_reads_as_the_log(path):
    data = path.read_bytes()
    want = [(e.epoch, e.metrics) for r in parse_bytes(data).runs for e in r.epochs]
    copied = data.replace(b" ", "\u00a0".encode())
    assert want
    assert [(e.epoch, e.metrics) for r in parse_bytes(copied).runs for e in r.epochs] == want


# --- step lines that name their epoch (`Epoch 8 Batch 0 Loss ...`) -------------------------
TF_TUTORIAL = LOGS / "public" / "print_tf_transformer_batches.txt"  # URL in sample_logs/README.md


def test_an_epoch_with_batch_lines_but_no_summary_yet_is_under_way():
    """The TF transformer tutorial prints `Epoch k Batch n Loss ...` and then `Epoch k Loss ...`
    at each epoch's end; a paste that ends after epoch 8's first batch line has 7 epochs."""
    data = TF_TUTORIAL.read_bytes()
    run = one_run(data)
    assert [r.epoch for r in run.epochs] == list(range(1, 8))
    assert run.epochs[-1].metrics == {"Loss": 1.2905, "Accuracy": 0.246}  # the summary's
    assert 1.2689 in run.series["Loss"].values  # epoch 8's batch value stays in the series
    assert run.status == "running"
    whole = data[: data.index(b"\nEpoch 8 Batch 0")] + b"\n"  # cut where epoch 7 ended
    run = one_run(whole)
    assert [r.epoch for r in run.epochs] == list(range(1, 8)) and run.status == "finished"


def test_batch_lines_alone_still_give_each_epoch_its_last_values():
    """Without the summaries (`Epoch k Loss ...` lines cut out) nothing says an epoch is over
    but the next one: each epoch keeps its last batch line's values, the last one included."""
    lines = TF_TUTORIAL.read_bytes().splitlines(True)
    kept = b"".join(line for line in lines if b" Batch " in line)
    run = one_run(kept)
    assert [r.epoch for r in run.epochs] == list(range(1, 9))
    assert run.epochs[0].metrics == {"Loss": 3.6211, "Accuracy": 0.0405}
    assert run.epochs[-1].metrics == {"Loss": 1.2689, "Accuracy": 0.2669}


def test_an_epoch_that_printed_nothing_before_a_crash_is_no_row():
    """`finetune` in a notebook (sample_logs/public/tqdm_finetune_oom_notebook.txt): `Epoch 1/5`
    bars with no metric, then an out-of-memory traceback: crashed, 5 planned, no epoch row."""
    run = one_run((LOGS / "public" / "tqdm_finetune_oom_notebook.txt").read_bytes())
    assert run.status == "crashed" and run.epochs_planned == 5
    assert run.epochs == []
    assert run.error.startswith("ResourceExhaustedError")


# --- a dict cut before its closing brace ------------------------------------------------------
def test_a_cut_dict_that_names_its_epoch_gives_its_whole_entries():
    """fairseq prints `{"epoch": 23, "train_loss": "766.352", ...}` with the epoch first; the paste
    in sample_logs/public/fairseq_json_epoch_stats.txt is cut inside epoch 23's dict."""
    run = one_run((LOGS / "public" / "fairseq_json_epoch_stats.txt").read_bytes())
    assert [r.epoch for r in run.epochs] == [21, 22, 23]
    assert run.epochs[-1].metrics == {"train_loss": 766.352, "train_ntokens": 9392.23}
    assert run.series["train_nsentences"].values[-1] == 87.1935  # epoch 22's; 23's is cut


def test_a_cut_trainer_dict_gives_nothing():
    """The Trainer prints `'epoch'` last: a dict cut before it has no place for its values."""
    lines = (LOGS / "hf_trainer_file.log").read_bytes().split(b"\n")
    line = next(x for x in lines if x.startswith(b"{'loss'"))
    cut = line[: line.index(b", 'epoch'")]  # `{'loss': '0.6924', ..., 'learning_rate': '0.0004375'`
    assert parse_bytes(cut + b"\n").runs == []
    (run,) = parse_bytes(line + b"\n").runs
    assert list(run.series["loss"].values) == [0.6924]


# --- absl printing a Python log line a second time -------------------------------------------
def test_a_line_absl_prints_again_is_read_once():
    """TF 1's retrain.py with both handlers on (sample_logs/public/tf_logging_doubled_steps.txt):
    `INFO:tensorflow:...: Step 280: Cross entropy = 0.011189`, then the same message behind
    `I0423 05:08:17.335031 47836397217664 tf_logging.py:115] `: each step once."""
    data = (LOGS / "public" / "tf_logging_doubled_steps.txt").read_bytes()
    run = one_run(data)
    assert list(run.series["Cross entropy"].values) == [0.012275, 0.011189, 0.009747]
    assert [p.step for p in run.series["Validation accuracy"]] == [270, 280]
    assert run.roles["train_loss"] == "Cross entropy"
    # the absl copies alone (no `INFO:tensorflow:` twin) are read, each step once
    absl = b"".join(x for x in data.splitlines(True) if x.startswith(b"I0423"))
    run = one_run(absl)
    assert list(run.series["Cross entropy"].values) == [0.012275, 0.011189, 0.009747]
    assert list(run.series["Train accuracy"].values) == [1.0, 1.0]


# --- `Batch i/N` lines under an epoch header (AllenNLP 0.x) -----------------------------------
ALLENNLP = LOGS / "public" / "allennlp_batches_cut.txt"  # URL in sample_logs/README.md


def test_batch_lines_short_of_their_total_leave_the_epoch_under_way():
    """`Epoch 0/139`, then `Batch 567/17168: accuracy: 0.42, loss: 1.32 ||` every 10 s: a paste
    that ends at batch 2271 of 17168 holds no whole epoch; the values are the epoch's series."""
    run = one_run(ALLENNLP.read_bytes())
    assert run.epochs == [] and run.status == "running"
    assert [p.step for p in run.series["loss"]] == [1, 567, 1128, 1701]
    assert list(run.series["loss"].values) == [6.66, 1.32, 1.17, 1.09]


def test_pairs_before_a_name_awaiting_its_value_are_read():
    """The paste's last line is cut after `loss:`: its `accuracy: 0.51` is read all the same."""
    run = one_run(ALLENNLP.read_bytes())
    assert [(p.step, p.value) for p in run.series["accuracy"]][-1] == (2271, 0.51)
    assert 2271 not in [p.step for p in run.series["loss"]]  # its loss is cut


# --- print loops as pasted: mixed separators, a cut last line, a line printed twice ----------
PAIRNORM = LOGS / "public" / "print_pairnorm_epoch_gap.txt"  # URLs in sample_logs/README.md


def test_names_with_and_without_a_colon_on_one_line():
    """`Epoch 1268: train loss 0.158 train acc: 0.979, val loss: 1.063 val acc 0.718.`"""
    run = one_run(PAIRNORM.read_bytes())
    assert run.epochs[0].epoch == 1268
    assert run.epochs[0].metrics == {"train loss": 0.158, "train acc": 0.979, "val loss": 1.063,
                                     "val acc": 0.718}


def test_a_last_line_cut_short_of_the_names_before_it_drops_its_last_value():
    """The paste ends `Epoch 1285: train loss 0.0` with no line end, where every line before
    printed four values: `0.0` may be cut (`0.083`), and epoch 1285 is no row. With its line end
    the same text is a line as printed, read as it stands."""
    data = PAIRNORM.read_bytes()
    assert not data.endswith(b"\n")
    run = one_run(data)
    assert run.epochs[-1].epoch == 1284 and 0.0 not in run.series["train loss"].values
    run = one_run(data + b"\n")
    assert run.epochs[-1].epoch == 1285 and run.epochs[-1].metrics == {"train loss": 0.0}
    # a last line as long as the ones before it is whole (print_automap_epoch_valloss.txt)
    automap = (LOGS / "public" / "print_automap_epoch_valloss.txt").read_bytes()
    assert not automap.endswith(b"\n") and one_run(automap).epochs[-1].epoch == 99


def test_a_step_line_printed_twice_is_read_once():
    """TF-Slim through two handlers (sample_logs/public/tf_slim_steps_doubled.txt): each
    `INFO:tensorflow:global step N: loss = ...` twice in a row; any chunking reads each once."""
    data = (LOGS / "public" / "tf_slim_steps_doubled.txt").read_bytes()
    want = [79.3501, 72.8609, 67.3308, 64.2655, 62.5264, 60.8808, 59.8181, 57.9715]
    assert list(one_run(data).series["loss"].values) == want
    parser = LogParser()
    for k in range(0, len(data), 97):  # a copy may open the next chunk
        parser.feed(data[k : k + 97])
    (run,) = parser.close().runs
    assert list(run.series["loss"].values) == want


# --- a section line opens the epoch; a line that opens with the dev split names its values -----
ESIM = LOGS / "public" / "print_esim_train_valid.txt"  # URL in sample_logs/README.md


def test_section_lines_open_epochs_and_a_valid_line_names_the_dev_values():
    """ESIM's script: `* Training epoch 2:`, a bar, `-> Training time: 855.3887s, loss = 0.4858,
    accuracy: 81.1468%`, `* Validation for epoch 2:`, `-> Valid. time: 3.0217s, loss: 0.3845,
    accuracy: 85.4095%`: the same names, told apart by the line's opening word."""
    run = one_run(ESIM.read_bytes())
    assert [r.epoch for r in run.epochs] == [2, 3, 4, 5]
    assert run.epochs[0].metrics == {"loss": 0.4858, "accuracy": 0.811468, "val_loss": 0.3845,
                                     "val_accuracy": pytest.approx(0.854095)}
    assert run.epochs[-1].metrics == {"loss": 0.3917, "accuracy": 0.853156}  # its valid is cut
    assert (run.roles["dev_loss"], run.roles["dev_acc"]) == ("val_loss", "val_accuracy")


def test_a_sentence_naming_an_epoch_opens_none():
    """`Saving checkpoint for epoch 5 at ./checkpoints/train/ckpt-1` (the TF tutorial) and
    `Time taken for 1 epoch: 630.24 secs` name no epoch of their own."""
    run = one_run(TF_TUTORIAL.read_bytes())
    assert [r.epoch for r in run.epochs] == list(range(1, 8))
    assert run.epochs[4].metrics == {"Loss": 1.6701, "Accuracy": 0.2036}


def test_a_metric_named_before_a_colon_and_its_head_after_it():
    """JiGen / RSC print `Accuracies on val: class : 96.75` and `Accuracies on test: ...`
    (sample_logs/public/print_rsc_epoch_of_val_test.txt): the val one is the dev accuracy, the
    test one a held-out score outside the epoch table."""
    run = one_run((LOGS / "public" / "print_rsc_epoch_of_val_test.txt").read_bytes())
    assert [r.epoch for r in run.epochs] == [28, 29, 30] and run.epochs_planned == 30
    assert run.epochs[0].metrics == {"acc class": 100.0, "Accuracies on val class": 96.75}
    assert list(run.series["Accuracies on test class"].values) == [80.35, 81.27, 80.33]
    assert run.roles["train_acc"] == "acc class"
    assert run.roles["dev_acc"] == "Accuracies on val class"



def test_the_split_a_line_opens_with_prefixes_its_bare_names_only():
    """`val_`, `dev_`, `eval_` for bare names; names that already say their split keep them."""
    from bertmon.analyzers.formats.kv import key_values_in

    line = ESIM.read_bytes().decode().split("\n")[4]  # `-> Valid. time: 3.0217s, loss: ...`
    assert key_values_in(line, ws_ok=False).pairs == [("val_loss", 0.3845),
                                                      ("val_accuracy", pytest.approx(0.854095))]
    for lead, prefix in (("Eval:", "eval_"), ("Evaluation -", "eval_"), ("Dev:", "dev_")):
        kv = key_values_in(f"{lead} loss: 0.5, train_acc: 0.7", ws_ok=False)
        assert kv.pairs == [(prefix + "loss", 0.5), ("train_acc", 0.7)], lead
    assert key_values_in("Validation Loss: 0.42", ws_ok=False).pairs == [("Validation Loss", 0.42)]


@pytest.mark.parametrize("name", ["lightning_rich_pty", "keras3_verbose1_pty", "keras3_nan_pty",
                                  "keras3_restart_file"])
def test_a_log_whose_escape_bytes_were_lost_reads_as_the_log(name):
    """A copy that dropped the ESC bytes leaves `[1m12/12[0m [32m━━[0m` in the text."""
    data = (LOGS / f"{name}.log").read_bytes()
    want = [(e.epoch, e.metrics) for r in parse_bytes(data).runs for e in r.epochs]
    lost = data.replace(b"\x1b", b"")
    assert want and b"[0m" in lost
    assert repr([(e.epoch, e.metrics) for r in parse_bytes(lost).runs for e in r.epochs]) == \
        repr(want)

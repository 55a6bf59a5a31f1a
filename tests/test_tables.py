"""Results tables printed or pasted as text (analyzers/formats/tables.py).

Fixtures are real: the Trainer's notebook table (transformers' NotebookProgressCallback HTML,
turned into the text a browser copies by tests/emitters/html_copy.py) and its model card
(TrainingSummary.to_model_card), fastai's console table (fastprogress, captured in a terminal and
in a file), Keras's CSVLogger file, and model cards published in public repositories (URLs in
sample_logs/README.md). Each test compares the reading with the library's own record
(log_history, recorder.values, History.history) or, for a public card, with its own summary of
the final evaluation and the cells of its table.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bertmon.analyzers import LogParser, parse_bytes, parse_path

LOGS = Path(__file__).resolve().parent.parent / "sample_logs"


def truth(name: str) -> dict:
    return json.loads((LOGS / name).read_text())


def close(a: float, b: float, decimals: int) -> bool:
    return abs(a - b) <= 0.5 * 10 ** -decimals + 1e-12


def evaluations(log_history: list[dict]) -> list[tuple[dict, float | None]]:
    """(eval entry, the last training loss logged before it) in order: the table's rows as the
    Trainer builds them (`No log` when no loss was logged yet)."""
    rows, loss = [], None
    for entry in log_history:
        if "loss" in entry:
            loss = entry["loss"]
        if "eval_loss" in entry:
            rows.append((entry, loss))
    return rows


def assert_trainer_rows(run, log_history: list[dict], decimals: int, whole_only: bool) -> None:
    expected = [(e, loss) for e, loss in evaluations(log_history)
                if not whole_only or e["epoch"] == int(e["epoch"])]
    assert [r.epoch for r in run.epochs] == [int(e["epoch"]) for e, _ in expected]
    for row, (entry, loss) in zip(run.epochs, expected):
        assert close(row.metrics["Validation Loss"], entry["eval_loss"], decimals)
        assert close(row.metrics["Accuracy"], entry["eval_accuracy"], decimals)
        assert close(row.metrics["F1"], entry["eval_f1"], decimals)
        if loss is None:
            assert "Training Loss" not in row.metrics  # `No log`
        else:
            assert close(row.metrics["Training Loss"], loss, decimals)
    assert run.roles == {"train_loss": "Training Loss", "train_acc": None,
                         "dev_loss": "Validation Loss", "dev_acc": "Accuracy", "dev_score": "F1"}


# --- the Trainer's notebook table --------------------------------------------------------------
def _variants(data: bytes) -> dict[str, bytes]:
    """The browser copy (tabs) and what pasting it elsewhere makes of the tabs."""
    return {"tabs": data, "two spaces": data.replace(b"\t", b"  "),
            "one space": data.replace(b"\t", b" ")}


@pytest.mark.parametrize("variant", ["tabs", "two spaces", "one space"])
def test_notebook_table_by_epoch(variant: str) -> None:
    data = _variants((LOGS / "hf_notebook_epoch.txt").read_bytes())[variant]
    (run,) = parse_bytes(data).runs
    assert run.formats == ["table"] and run.status == "finished"
    assert run.epochs_planned == 4  # from the label `[128/128 00:01, Epoch 4/4]`
    assert_trainer_rows(run, truth("hf_tables_epoch.truth.json")["log_history"], 6, False)


def test_notebook_table_by_step_takes_epochs_from_the_label() -> None:
    (run,) = parse_path(LOGS / "hf_notebook_steps.txt").runs
    log_history = truth("hf_tables_steps.truth.json")["log_history"]
    assert_trainer_rows(run, log_history, 6, True)
    evals = [e for e, _ in evaluations(log_history)]
    got = [(p.step, p.value) for p in run.series["Validation Loss"]]
    assert [s for s, _ in got] == [e["step"] for e in evals]  # every evaluation is a value
    assert [p.epoch for p in run.series["Validation Loss"]] == [e["epoch"] for e in evals]


def test_step_table_without_its_label_numbers_the_evaluations() -> None:
    data = (LOGS / "hf_notebook_steps.txt").read_bytes().split(b"\n", 1)[1]
    (run,) = parse_bytes(data).runs
    evals = [e for e, _ in evaluations(truth("hf_tables_steps.truth.json")["log_history"])]
    assert [r.epoch for r in run.epochs] == list(range(1, len(evals) + 1))
    assert [r.metrics["Validation Loss"] for r in run.epochs] == [
        round(e["eval_loss"], 6) for e in evals]
    assert "table_rows" in run.hints  # the report's JSON says what the rows are


# --- the model card's "Training results" ------------------------------------------------------
def test_model_card_by_epoch() -> None:
    (run,) = parse_path(LOGS / "hf_model_card_epoch.md").runs
    assert "table" in run.formats
    assert_trainer_rows(run, truth("hf_tables_epoch.truth.json")["log_history"], 4, False)


def test_model_card_by_steps_has_rows_at_whole_epochs_only() -> None:
    (run,) = parse_path(LOGS / "hf_model_card_steps.md").runs
    log_history = truth("hf_tables_steps.truth.json")["log_history"]
    assert_trainer_rows(run, log_history, 4, True)
    epochs = [p.epoch for p in run.series["Validation Loss"]]
    assert epochs == [e["epoch"] for e, _ in evaluations(log_history)]  # 0.5, 1.0, 1.5, ...


def _md_table(text: str) -> tuple[list[str], list[list[str]]]:
    """The printed cells of a card's results table, split on the pipes, for comparison."""
    lines = text.split("### Training results", 1)[1].strip().splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = []
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return header, rows


@pytest.mark.parametrize("name, epoch_from", [
    ("paste_hf_model_card_mrpc.md", 1), ("paste_hf_model_card_cola.md", 1),
    ("paste_keras_model_card.md", 0),
])
def test_public_model_cards(name: str, epoch_from: int) -> None:
    text = (LOGS / name).read_text()
    header, rows = _md_table(text)
    (run,) = parse_path(LOGS / name).runs
    assert "table" in run.formats
    epoch_col = header.index("Epoch")
    assert [r.epoch for r in run.epochs] == [
        int(float(cells[epoch_col])) + 1 - epoch_from for cells in rows]
    for row, cells in zip(run.epochs, rows):
        for col, cell in zip(header, cells):
            if col in ("Epoch", "Step"):
                continue
            if cell == "No log":
                assert col not in row.metrics
            else:
                assert row.metrics[col] == float(cell), (row.epoch, col)
    # the card's own summary of the evaluation it kept (the last, or the best with
    # load_best_model_at_end) is one of the rows read
    summary = text.split("evaluation set:\n", 1)[1].split("\n\n", 1)[0]
    kept = {}
    for line in summary.splitlines():
        col, value = line[2:].split(": ")
        kept[{"Loss": "Validation Loss"}.get(col, col)] = float(value)
    assert any(all(row.metrics.get(c, v) == v for c, v in kept.items() if c != "Epoch")
               for row in run.epochs)


# --- fastai ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["fastai2_fit_pty", "fastai2_one_cycle_file"])
def test_fastai_console_table_is_recorder_values(name: str) -> None:
    (run,) = parse_path(LOGS / f"{name}.log").runs
    record = truth(f"{name}.truth.json")
    columns = record["metric_names"][1:-1]  # between `epoch` and `time`
    assert run.formats == ["table"]
    assert [r.epoch for r in run.epochs] == list(range(1, len(record["values"]) + 1))
    assert run.epochs_planned == len(record["values"])  # fastprogress's `Epoch k/N`
    for row, values in zip(run.epochs, record["values"]):
        assert set(row.metrics) == set(columns)
        for col, value in zip(columns, values):
            assert close(row.metrics[col], value, 6), (row.epoch, col)
        assert row.seconds is not None
    assert run.roles["train_loss"] == "train_loss" and run.roles["dev_loss"] == "valid_loss"
    assert run.roles["dev_acc"] == "accuracy"  # fastai's metrics are the validation set's


def test_fastai_csvlogger_file_is_recorder_values() -> None:
    (run,) = parse_path(LOGS / "fastai2_history.csv").runs
    record = truth("fastai2_history.truth.json")
    columns = record["metric_names"][1:-1]
    for row, values in zip(run.epochs, record["values"], strict=True):
        assert [row.metrics[c] for c in columns] == values
        assert row.seconds in (0, 1)  # `00:01`, `00:00`


# --- Keras CSVLogger printed, tab rows ---------------------------------------------------------
def test_keras_log_then_its_csv_printed() -> None:
    """A paste of the console log and then `cat training.log`: two runs, both `History`."""
    data = (LOGS / "keras3_files.log").read_bytes() + (LOGS / "keras3_csvlogger.csv").read_bytes()
    runs = parse_bytes(data).runs
    assert [r.formats for r in runs] == [["keras"], ["table"]]
    history = truth("keras3_files.truth.json")["runs"][0]["history"]
    for name, values in history.items():
        assert [r.metrics[name] for r in runs[1].epochs] == values
        assert all(close(r.metrics[name], v, 4) for r, v in zip(runs[0].epochs, values))


def test_any_chunking_gives_the_same_table() -> None:
    data = (LOGS / "fastai2_fit_pty.log").read_bytes()
    whole = parse_bytes(data).runs
    parser = LogParser()
    for i in range(0, len(data), 37):
        parser.feed(data[i:i + 37])
    assert [(r.epoch, r.metrics) for r in parser.close().runs[0].epochs] == [
        (r.epoch, r.metrics) for r in whole[0].epochs]


def test_a_table_ends_where_its_rows_do() -> None:
    """What follows a table is read as before: the Keras run after a printed CSV."""
    data = (LOGS / "keras3_csvlogger.csv").read_bytes()
    log = (LOGS / "keras3_verbose2_file.log").read_bytes()
    runs = parse_bytes(b"training.log:\n" + data + log).runs
    assert [r.formats for r in runs] == [["table"], ["keras"]]
    (alone,) = parse_path(LOGS / "keras3_verbose2_file.log").runs
    assert runs[1].epochs == alone.epochs
    assert all(math.isfinite(v) for r in runs for row in r.epochs for v in row.metrics.values())


def test_tab_rows_under_a_header_printed_once() -> None:
    (run,) = parse_path(LOGS / "tsv_loop_file.log").runs
    record = truth("tsv_loop_file.truth.json")["scalars"]
    names = {"Loss/train": "train_loss", "Loss/val": "val_loss", "Accuracy/val": "val_acc"}
    assert run.formats == ["table"]
    for item in record:
        row = run.epochs[item["step"]]
        assert row.epoch == item["step"] + 1  # printed from 1
        assert close(row.metrics[names[item["tag"]]], item["value"], 4)
    assert run.roles["dev_acc"] == "val_acc" and run.roles["train_loss"] == "train_loss"


def test_fastai_v1_table_with_spaces_in_its_names() -> None:
    """fastai 1.0's `epoch  train loss  valid loss  error_rate` with `(00:18)` after each row,
    as published in the course notes (URL in sample_logs/README.md)."""
    text = (LOGS / "paste_fastai1_lesson1.md").read_text()
    lines = text.split("epoch  train loss  valid loss  error_rate\n", 1)[1].split("```")[0]
    printed = [line.split() for line in lines.strip().splitlines()]
    (run,) = parse_path(LOGS / "paste_fastai1_lesson1.md").runs
    assert [r.epoch for r in run.epochs] == [int(cells[0]) for cells in printed]
    for row, cells in zip(run.epochs, printed):
        assert [row.metrics["train loss"], row.metrics["valid loss"],
                row.metrics["error_rate"]] == [float(c) for c in cells[1:4]]
        assert row.seconds == int(cells[4][4:6])
    assert run.roles["train_loss"] == "train loss" and run.roles["dev_loss"] == "valid loss"


def _unpiped(text: str, sep: str) -> bytes:
    """A card's results table as a rendered page copies it (tabs) or as a paste that lost them
    (single spaces): the pipes and the rule line gone, the cells joined by `sep`."""
    out = []
    for line in text.splitlines():
        if line.startswith("|:"):
            continue
        if line.startswith("|"):
            line = sep.join(c.strip() for c in line.strip().strip("|").split("|"))
        out.append(line)
    return ("\n".join(out) + "\n").encode()


@pytest.mark.parametrize("sep", ["\t", " "])
@pytest.mark.parametrize("name", ["paste_hf_model_card_mrpc.md", "paste_hf_model_card_cola.md",
                                  "paste_keras_model_card.md"])
def test_public_model_cards_without_their_pipes(name: str, sep: str) -> None:
    (piped,) = parse_path(LOGS / name).runs
    (run,) = parse_bytes(_unpiped((LOGS / name).read_text(), sep)).runs
    assert [(r.epoch, r.metrics) for r in run.epochs] == [
        (r.epoch, r.metrics) for r in piped.epochs]


@pytest.mark.parametrize("variant", ["tabs", "two spaces", "one space"])
def test_rows_left_out_as_dots_do_not_end_the_table(variant: str) -> None:
    """A paste that elides rows with a `...` line (as the Keras card in sample_logs/public/
    keras_card_table_elided.txt does) keeps the rows after it."""
    lines = _variants((LOGS / "hf_notebook_epoch.txt").read_bytes())[variant].splitlines(True)
    data = b"".join(lines[:4] + [b"...\n"] + lines[5:])  # label, header, epochs 1-2, `...`, 4
    (run,) = parse_bytes(data).runs
    assert [r.epoch for r in run.epochs] == [1, 2, 4]
    history = truth("hf_tables_epoch.truth.json")["log_history"]
    last = [e for e in history if e.get("epoch") == 4 and "eval_loss" in e][0]
    assert close(run.epochs[-1].metrics["Validation Loss"], last["eval_loss"], 6)


def test_one_letter_precision_recall_f_columns_make_a_table() -> None:
    """spaCy 2's `train_textcat.py` prints `LOSS  P  R  F` once, then one row an iteration, with
    no epoch column (sample_logs/public/spacy2_textcat_stuck.txt): each row is an epoch."""
    (run,) = parse_path(LOGS / "public" / "spacy2_textcat_stuck.txt").runs
    assert "table" in run.formats
    assert [r.epoch for r in run.epochs] == list(range(1, 21))
    assert run.epochs[0].metrics == {"LOSS": 184.5, "P": 0.505, "R": 1.0, "F": 0.671}
    assert run.roles["train_loss"] == "LOSS"
    # prose with one-letter words in runs of spaces is still no header
    assert not parse_bytes(b"Plan  A  or  B  then  F\n1  2  3  4  5  6\n").runs


# --- pandas DataFrames printed (`print(pd.DataFrame(history.history))`, `log_history`) -------
def _frame_text(records: list[dict] | dict) -> str:
    import pandas as pd

    with pd.option_context("display.width", 400, "display.max_columns", 50):
        return str(pd.DataFrame(records)) + "\n"


def test_a_printed_keras_history_frame_reads_each_epoch_from_its_row_label():
    """pandas prints the row label (0, 1, ...) under a blank header cell: epoch 1, 2, ..."""
    history = truth("keras3_verbose2_file.truth.json")["runs"][0]["history"]
    text = _frame_text(history)
    run = parse_bytes(text.encode()).runs[0]
    assert [row.epoch for row in run.epochs] == [1, 2, 3]
    for k, row in enumerate(run.epochs):  # pandas prints 6 significant digits
        for name, values in history.items():
            assert math.isclose(row.metrics[name], values[k], rel_tol=1e-5), (name, k)
    assert run.roles["dev_acc"] == "val_accuracy" and run.roles["train_loss"] == "loss"


def test_a_printed_log_history_frame_reads_as_the_trainers_log():
    """`pd.DataFrame(trainer.state.log_history)`: its own epoch column, NaN where a row logged
    no such value (no NaN loss, no divergence)."""
    log_history = truth("hf_trainer_file.truth.json")["log_history"]
    columns = ["epoch", "step", "loss", "eval_loss", "eval_accuracy"]
    text = _frame_text([{k: entry.get(k) for k in columns} for entry in log_history
                        if "loss" in entry or "eval_loss" in entry])
    assert "NaN" in text
    run = parse_bytes(text.encode()).runs[0]
    log = parse_path(LOGS / "hf_trainer_file.log").runs[0]
    assert [row.epoch for row in run.epochs] == [row.epoch for row in log.epochs] == [1, 2, 3]
    for got, want in zip(run.epochs, log.epochs):
        for name in ("loss", "eval_loss", "eval_accuracy"):
            assert close(got.metrics[name], want.metrics[name], 4), (name, got.epoch)
    from bertmon.analyzers import analyze

    analyze(run)
    assert run.status == "finished" and "diverged" not in {f.rule for f in run.findings}
    assert {f.rule for f in run.findings} >= {"stalled_loss", "chance_level"}  # as the log's

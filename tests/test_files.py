"""Structured files users already have: trainer_state.json, metrics CSVs, TensorBoard events.

Every fixture in sample_logs/ was written by the real library (see sample_logs/README.md); each
test compares bertmon's reading with what the same library recorded in the same process
(`trainer.state.log_history`, Keras `History.history`, Lightning's `log_metrics` calls, the
values handed to `SummaryWriter`), kept in the `.truth.json` beside the files.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bertmon.analyzers import LogParser, analyze, parse_path, resolve_log
from bertmon.analyzers.structured import find_in_dir, sniff

LOGS = Path(__file__).resolve().parent.parent / "sample_logs"
HF_OUT = LOGS / "hf_trainer_output"
HF_TRUTH = json.loads((LOGS / "hf_trainer_output.truth.json").read_text())
KERAS_TRUTH = json.loads((LOGS / "keras3_files.truth.json").read_text())
LIGHTNING_TRUTH = json.loads((LOGS / "lightning_files.truth.json").read_text())
TB_LOOP_TRUTH = json.loads((LOGS / "torch_tensorboard.truth.json").read_text())


def bertmon(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bertmon", *args], input=stdin,
                          capture_output=True, timeout=120, check=False)


def analyze_json(target: str | Path, stdin: bytes | None = None) -> dict:
    out = bertmon("analyze", "--format", "json", str(target), stdin=stdin)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def same(a: float, b: float, rel: float = 0.0) -> bool:
    return a == b or math.isclose(a, b, rel_tol=rel)


# --- trainer_state.json -------------------------------------------------------------------
def _state_entries(path: Path) -> list[dict]:
    """The truth's log_history entries that this checkpoint's file holds (saved at its step)."""
    step = json.loads(path.read_text())["global_step"]
    return [e for e in HF_TRUTH["log_history"] if e["step"] <= step and "train_runtime" not in e]


@pytest.mark.parametrize("target, checkpoint", [
    (HF_OUT, "checkpoint-24"),  # an output dir: the latest checkpoint (24 > 8, not by name)
    (HF_OUT / "checkpoint-16", "checkpoint-16"),
    (HF_OUT / "checkpoint-8" / "trainer_state.json", "checkpoint-8"),
])
def test_trainer_state_series_and_rows_are_log_history(target: Path, checkpoint: str) -> None:
    state_path = HF_OUT / checkpoint / "trainer_state.json"
    assert resolve_log(target) == state_path
    (run,) = parse_path(target).runs
    assert run.formats == ["trainer-state"]
    entries = _state_entries(state_path)
    # every value the Trainer logged, at its epoch and step, in order
    for name in {k for e in entries for k in e if k not in ("epoch", "step")}:
        want = [(e["epoch"], e["step"], e[name]) for e in entries if name in e]
        assert [tuple(p) for p in run.series[name]] == want, name
    # a row per whole epoch reached: the last training values in it and its evaluation
    whole = sorted({int(e["epoch"]) for e in entries if e["epoch"] == int(e["epoch"])})
    assert [row.epoch for row in run.epochs] == whole
    for row in run.epochs:
        inside = [e for e in entries if row.epoch - 1 < e["epoch"] <= row.epoch]
        train = [e for e in inside if "loss" in e]
        evals = [e for e in inside if "eval_loss" in e]
        assert row.metrics["loss"] == train[-1]["loss"]
        assert row.metrics["eval_accuracy"] == evals[0]["eval_accuracy"]
        assert row.metrics["eval_loss"] == evals[0]["eval_loss"]
    assert run.epochs_planned == HF_TRUTH["epochs_planned"]
    assert run.roles["train_loss"] == "loss" and run.roles["dev_acc"] == "eval_accuracy"
    last = checkpoint == "checkpoint-24"
    assert run.status == ("finished" if last else "running")  # a snapshot mid-training
    assert run.coverage.records == run.coverage.with_metrics == len(entries)


def test_trainer_state_reads_like_the_trainers_own_log() -> None:
    """The same run's printed dict lines (4 significant digits) give the same epoch table."""
    (printed,) = parse_path(LOGS / "hf_trainer_file.log").runs
    (state,) = parse_path(HF_OUT).runs
    assert [r.epoch for r in printed.epochs] == [r.epoch for r in state.epochs]
    for a, b in zip(printed.epochs, state.epochs):
        for name in ("loss", "eval_loss", "eval_accuracy"):
            assert math.isclose(a.metrics[name], b.metrics[name], rel_tol=5e-4), name
    assert printed.roles == state.roles


def test_trainer_state_any_chunking_and_stdin() -> None:
    data = (HF_OUT / "checkpoint-24" / "trainer_state.json").read_bytes()
    parser = LogParser("-")
    for i in range(0, len(data), 97):
        parser.feed(data[i:i + 97])
        parser.runs  # read while it arrives, as the monitor does
    (run,) = parser.close().runs
    (whole,) = parse_path(HF_OUT).runs
    assert [(r.epoch, r.metrics) for r in run.epochs] == [(r.epoch, r.metrics) for r in whole.epochs]
    doc = analyze_json("-", stdin=data)
    assert doc["runs"][0]["formats"] == ["trainer-state"] and len(doc["runs"][0]["epochs"]) == 3


def test_a_rewritten_state_is_read_from_its_last_version() -> None:
    """A followed file rewritten in place arrives again from its start after the old bytes."""
    old = (HF_OUT / "checkpoint-8" / "trainer_state.json").read_bytes()
    new = (HF_OUT / "checkpoint-24" / "trainer_state.json").read_bytes()
    parser = LogParser("-")
    parser.feed(old)
    assert len(parser.runs[0].epochs) == 1
    parser.feed(new[:1000])  # the rewrite half-written: the old version still stands
    assert len(parser.runs[0].epochs) == 1
    parser.feed(new[1000:])
    assert len(parser.close().runs[0].epochs) == 3


def test_other_json_is_still_read_as_a_log() -> None:
    log = (LOGS / "keras3_verbose2_file.log").read_bytes()
    parser = LogParser("-")
    parser.feed(b'{"note": "not a trainer state"}\n' + log)
    runs = parser.close().runs
    (alone,) = parse_path(LOGS / "keras3_verbose2_file.log").runs
    assert [r.epochs for r in runs] == [alone.epochs]


# --- CSV ----------------------------------------------------------------------------------
def test_keras_csvlogger_is_history() -> None:
    (run,) = parse_path(LOGS / "keras3_csvlogger.csv").runs
    history = KERAS_TRUTH["runs"][0]["history"]
    assert run.formats == ["csv"] and run.status == "finished"
    assert [r.epoch for r in run.epochs] == list(range(1, len(history["loss"]) + 1))
    for name, values in history.items():
        assert [r.metrics[name] for r in run.epochs] == values, name
    assert run.roles["dev_acc"] == "val_accuracy" and run.roles["train_loss"] == "loss"


def test_keras_csv_and_printed_log_compare_equal() -> None:
    (printed,) = parse_path(LOGS / "keras3_files.log").runs
    (csv_run,) = parse_path(LOGS / "keras3_csvlogger.csv").runs
    assert printed.roles == csv_run.roles
    for a, b in zip(printed.epochs, csv_run.epochs, strict=True):
        assert a.epoch == b.epoch
        for name, value in a.metrics.items():
            assert abs(value - b.metrics[name]) <= 5e-5, name  # printed with 4 decimals


def _lightning_epochs() -> dict[int, dict[str, float]]:
    """Lightning's own log_metrics calls: each metric's last value in each epoch (from 1)."""
    rows: dict[int, dict[str, float]] = {}
    for call in LIGHTNING_TRUTH["log_metrics_calls"]:
        metrics = dict(call["metrics"])
        epoch = int(metrics.pop("epoch"))
        rows.setdefault(epoch + 1, {}).update(metrics)
    return rows


@pytest.mark.parametrize("target", [
    LOGS / "lightning_logs",  # the latest version_*/metrics.csv under it
    LOGS / "lightning_logs" / "csv" / "version_0" / "metrics.csv",
    LOGS / "lightning_logs" / "tb",
])
def test_lightning_files_are_its_log_metrics_calls(target: Path) -> None:
    (run,) = parse_path(target).runs
    expected = _lightning_epochs()
    assert [r.epoch for r in run.epochs] == sorted(expected)
    rel = 1e-6 if target.name == "tb" else 0.0  # event files keep float32
    for row in run.epochs:
        assert set(row.metrics) == set(expected[row.epoch])
        for name, value in expected[row.epoch].items():
            assert same(row.metrics[name], value, rel), (row.epoch, name)
    steps = [c["step"] for c in LIGHTNING_TRUTH["log_metrics_calls"] if "train_loss_step" in c["metrics"]]
    assert list(run.series["train_loss_step"].steps) == steps
    assert run.roles["dev_acc"] == "val_acc" and run.roles["dev_loss"] == "val_loss"


# --- TensorBoard --------------------------------------------------------------------------
def test_keras_tensorboard_dir_is_history() -> None:
    (run,) = parse_path(LOGS / "keras3_tensorboard").runs
    history = KERAS_TRUTH["runs"][0]["history"]
    assert run.formats == ["tensorboard"]
    assert [r.epoch for r in run.epochs] == list(range(1, len(history["loss"]) + 1))
    for name, values in history.items():
        tag = f"validation/epoch_{name[4:]}" if name.startswith("val_") else f"train/epoch_{name}"
        got = [r.metrics[tag] for r in run.epochs]
        assert all(same(g, v, 1e-6) for g, v in zip(got, values, strict=True)), name
    assert run.roles["dev_acc"] == "validation/epoch_accuracy"
    assert run.roles["train_loss"] == "train/epoch_loss"


def test_trainer_tensorboard_events_are_log_history() -> None:
    (run,) = parse_path(HF_OUT / "runs").runs
    entries = HF_TRUTH["log_history"]
    evals = {int(e["epoch"]): e for e in entries if "eval_loss" in e}
    assert [r.epoch for r in run.epochs] == sorted(evals)
    for row in run.epochs:
        assert same(row.metrics["eval/accuracy"], evals[row.epoch]["eval_accuracy"], 1e-6)
        assert "train/train_runtime" not in row.metrics  # the summary is no epoch's value
    losses = [(e["step"], e["loss"]) for e in entries if "loss" in e]
    got = [(p.step, p.value) for p in run.series["train/loss"]]
    assert [s for s, _ in got] == [s for s, _ in losses]
    assert all(same(a, b, 1e-6) for (_, a), (_, b) in zip(got, losses))


def test_a_per_epoch_summarywriter_loop() -> None:
    (run,) = parse_path(LOGS / "torch_tensorboard").runs
    for item in TB_LOOP_TRUTH["scalars"]:
        row = run.epochs[item["step"]]
        assert row.epoch == item["step"] + 1
        assert same(row.metrics[item["tag"]], item["value"], 1e-6)


def test_event_file_alone_and_tail_style_feeding() -> None:
    (event_file,) = (LOGS / "keras3_tensorboard" / "validation").iterdir()
    (run,) = parse_path(event_file).runs
    assert [r.epoch for r in run.epochs] == [1, 2, 3, 4]
    assert "epoch_accuracy" in run.epochs[0].metrics  # one TensorBoard run: tags as they are
    parser = LogParser(str(event_file))  # what the monitor does: bytes fed, named by the path
    parser.feed(event_file.read_bytes())
    assert [r.epoch for r in parser.close().runs[0].epochs] == [1, 2, 3, 4]


def test_sniffing_and_directories(tmp_path: Path) -> None:
    assert sniff("x", (HF_OUT / "checkpoint-8" / "trainer_state.json").read_bytes()) == "json"
    assert sniff("training.log", (LOGS / "keras3_csvlogger.csv").read_bytes()) == "csv"
    assert sniff("-", (LOGS / "keras3_verbose2_file.log").read_bytes()) is None
    assert sniff("-", (LOGS / "hf_trainer_file.log").read_bytes()) is None
    assert find_in_dir(tmp_path) is None
    (tmp_path / "train.log").write_bytes(b"")
    assert resolve_log(tmp_path) == tmp_path / "train.log"  # a bertmon run dir stays one


# --- the commands -------------------------------------------------------------------------
@pytest.mark.parametrize("target, fmt", [
    (HF_OUT, "trainer-state"), (LOGS / "keras3_csvlogger.csv", "csv"),
    (LOGS / "lightning_logs", "csv"), (LOGS / "keras3_tensorboard", "tensorboard"),
])
def test_analyze_reads_them(target: Path, fmt: str) -> None:
    doc = analyze_json(target)
    (run,) = doc["runs"]
    assert run["formats"] == [fmt] and run["status"] == "finished" and run["epochs"]
    assert parse_path(target).coverage.with_metrics > 0  # the report says how much was read


def test_compare_a_log_with_its_event_files() -> None:
    out = bertmon("compare", "-f", "json", str(LOGS / "keras3_files.log"),
                  str(LOGS / "keras3_tensorboard"))
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert [r["epoch"] for r in doc["rows"]] == [1, 2, 3, 4]
    for row in doc["rows"]:  # the same run, printed with 4 decimals vs stored as float32
        for role in ("train_loss", "train_acc", "dev_loss", "dev_acc"):
            assert abs(row["delta"][role]) <= 5e-5, (row["epoch"], role)


def test_bad_structured_inputs_are_one_line(tmp_path: Path) -> None:
    out = bertmon("analyze", str(tmp_path))
    assert out.returncode == 2 and out.stderr.count(b"\n") == 1
    assert b"without train.log, trainer_state.json" in out.stderr
    event_file = next((LOGS / "torch_tensorboard").iterdir())
    out = bertmon("analyze", "-", stdin=event_file.read_bytes())
    assert out.returncode == 2 and b"give its path" in out.stderr and b"Traceback" not in out.stderr


def test_missing_tensorboard_extra_is_one_line(tmp_path: Path) -> None:
    """Without the extra installed: shadow `tensorboard` with a package that fails to import."""
    fake = tmp_path / "site" / "tensorboard"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('no tensorboard here')\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "site"))
    out = subprocess.run([sys.executable, "-m", "bertmon", "analyze",
                          str(LOGS / "keras3_tensorboard")], capture_output=True, env=env,
                         timeout=120, check=False)
    assert out.returncode == 2, out.stderr
    assert out.stderr.decode().strip().endswith("pip install 'bertmon[tensorboard]'")
    assert out.stderr.count(b"\n") == 1


def test_findings_run_on_structured_runs() -> None:
    analysis = parse_path(HF_OUT)
    analyze(analysis)
    rules = {f.rule for f in analysis.runs[0].findings}
    (printed,) = parse_path(LOGS / "hf_trainer_file.log").runs
    analyze(printed)
    assert rules == {f.rule for f in printed.findings}


async def test_tail_follows_a_rewritten_trainer_state(tmp_path: Path) -> None:
    from test_tui_support import SIZE, frozen_clock, wait_for

    from bertmon.tui.app import BertmonApp, tail_specs

    state = tmp_path / "trainer_state.json"
    state.write_bytes((HF_OUT / "checkpoint-8" / "trainer_state.json").read_bytes())
    app = BertmonApp(tail_specs([state]), clock=frozen_clock)
    async with app.run_test(size=SIZE) as pilot:
        def epochs() -> int:
            view = app.screen.primary
            return len(view.run.epochs) if view and view.run else 0

        await wait_for(pilot, lambda: epochs() == 1)
        tmp = tmp_path / "new.json"  # the Trainer writes the file anew at each save
        tmp.write_bytes((HF_OUT / "checkpoint-24" / "trainer_state.json").read_bytes())
        os.replace(tmp, state)
        await wait_for(pilot, lambda: epochs() == 3)


def test_reading_event_files_imports_no_framework() -> None:
    """tensorboard would import TensorFlow for its record reader when it is installed (seconds,
    and C++ log noise); the reader selects tensorboard's own pure-Python one."""
    code = ("import sys; from bertmon.analyzers import parse_path; "
            f"parse_path({str(LOGS / 'keras3_tensorboard')!r}); "
            "print(' '.join(m for m in ('tensorflow', 'torch', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == "", out.stdout

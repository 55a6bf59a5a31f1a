"""The parser against real Keras 3, tqdm and Hugging Face Trainer output.

Every log here was printed by the real library (tests/emitters/, run by the `real_log` fixture, or
the captures kept in sample_logs/), and every expected number is what that library recorded in the
same process: Keras `History.history`, `trainer.state.log_history`, the tqdm loop's own values.
The only tolerance allowed is the precision the library printed with.
"""

from __future__ import annotations

import json
import math
import random
from collections import defaultdict
from pathlib import Path

import pytest
from bertmon.analyzers import LogParser, parse_bytes

SAMPLE_LOGS = Path(__file__).resolve().parent.parent / "sample_logs"

KERAS_EPOCHS, KERAS_STEPS = 3, 12
TQDM_EPOCHS = 3
HF_EPOCHS = 3


# --- precision helpers ---------------------------------------------------------------------------

def _as_float(value) -> float:
    """Truth files keep non-finite values as strings ('nan', 'inf')."""
    return float(value)


def keras_printed(value: float) -> float:
    """What Keras 3's Progbar shows for `value`: `%.4f`, or `%.4e` when |value| <= 1e-3."""
    return float(f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}")


def sig_printed(value: float, digits: int) -> float:
    """`value` rounded to `digits` significant digits (Trainer: 4, tqdm's format_num: 3)."""
    return float(f"{value:.{digits}g}")


def assert_printed(parsed: float | None, true, shown: float | None = None, *,
                   what: str = "") -> None:
    """`parsed` must be what the log printed for the library's `true` value.

    `shown` is the printed rounding of `true`; a parse may differ from it only by float noise.
    NaN must parse as NaN, inf as inf.
    """
    true = _as_float(true)
    assert parsed is not None, f"{what}: missing (expected {true!r})"
    if math.isnan(true):
        assert math.isnan(parsed), f"{what}: expected nan, parsed {parsed!r}"
        return
    if math.isinf(true):
        assert parsed == true, f"{what}: expected {true!r}, parsed {parsed!r}"
        return
    if shown is None:
        shown = true
    assert math.isclose(parsed, shown, rel_tol=1e-9, abs_tol=1e-12), (
        f"{what}: parsed {parsed!r}, the log shows {shown!r} (library value {true!r})")


def points_by_epoch(series) -> dict[float | None, list]:
    grouped: dict[float | None, list] = defaultdict(list)
    for point in series:
        grouped[point.epoch].append(point)
    return grouped


def _run_summary(run) -> str:
    rows = "; ".join(f"{row.epoch}: {row.metrics}" for row in run.epochs)
    return (f"run {run.index}: formats={run.formats} status={run.status} "
            f"planned={run.epochs_planned} epochs=[{rows}] series="
            f"{ {k: len(v) for k, v in run.series.items()} }")


def _analysis_summary(analysis) -> str:
    return "\n".join(_run_summary(run) for run in analysis.runs) or "(no runs)"


# --- checkers: one per emitter, shared by live captures and sample_logs/ --------------------------

def check_keras(analysis, truth: dict) -> None:
    """Every fit() call is one run whose epoch table is History.history at printed precision."""
    summary = _analysis_summary(analysis)
    runs = truth["runs"]
    assert len(analysis.runs) == len(runs), summary
    for run, record in zip(analysis.runs, runs):
        history = record["history"]
        completed = record["epochs_completed"]
        assert "keras" in run.formats, summary
        assert run.epochs_planned == record["epochs"], summary
        table = {row.epoch: row for row in run.epochs}
        # Epochs as printed: from 1. A crashed run may also hold the epoch it died in.
        assert [row.epoch for row in run.epochs][:completed] == list(range(1, completed + 1)), \
            summary
        assert len(run.epochs) <= completed + 1, summary
        for i in range(completed):
            row = table[i + 1]
            assert set(row.metrics) == set(history), (
                f"epoch {i + 1}: metric names {sorted(row.metrics)} != History's "
                f"{sorted(history)}\n{summary}")
            for name, values in history.items():
                true = _as_float(values[i])
                shown = keras_printed(true) if math.isfinite(true) else true
                assert_printed(row.metrics.get(name), true, shown,
                               what=f"run {run.index} epoch {i + 1} {name}")

        loss = run.series.get("loss")
        assert loss is not None and len(loss) > 0, summary
        by_epoch = points_by_epoch(loss)
        for e in range(1, completed + 1):
            pts = by_epoch.get(e, [])
            assert pts, f"no loss observation in epoch {e}\n{summary}"
            true = _as_float(history["loss"][e - 1])
            shown = keras_printed(true) if math.isfinite(true) else true
            assert_printed(pts[-1].value, true, shown,
                           what=f"run {run.index} last loss observation of epoch {e}")
            if truth["verbose"] == 1:
                # Keras redraws at most every 0.05 s and the emitter's steps take 0.06 s.
                assert len(pts) > 1, f"verbose 1 bar gave {len(pts)} loss point(s) in epoch {e}"
            else:
                assert len(pts) == 1, f"verbose 2 prints one line per epoch, got {len(pts)}"

    last = analysis.runs[-1]
    if truth["crashed"]:
        assert last.status == "crashed", summary
        assert last.error and "RuntimeError" in last.error, f"error={last.error!r}"
        for run in analysis.runs[:-1]:
            assert run.status == "finished", summary
    else:
        for run, record in zip(analysis.runs, runs):
            losses = [_as_float(v) for v in record["history"]["loss"]]
            expected = "diverged" if any(not math.isfinite(v) for v in losses) else "finished"
            assert run.status == expected, summary


def check_tqdm(analysis, truth: dict) -> None:
    """Postfix `loss` per frame, summary-line metrics per epoch; the eval bar is no epoch."""
    summary = _analysis_summary(analysis)
    n = truth["epochs_planned"]
    assert len(analysis.runs) == 1, summary
    run = analysis.runs[0]
    assert "tqdm" in run.formats, summary
    assert "kv" in run.formats, summary  # `epoch 3: train_loss=0.41 dev_acc=0.80 ...`
    assert run.epochs_planned == n, summary  # from desc="Epoch e/N"
    assert run.status not in ("crashed", "diverged"), summary
    # The "Evaluating" bar neither opens an epoch nor a run, nor turns its rate into a metric.
    assert [row.epoch for row in run.epochs] == list(range(1, n + 1)), summary
    allowed = {"loss", "lr", "train_loss", "dev_acc", "dev_f1"}
    assert set(run.series) <= allowed, f"unexpected series {set(run.series) - allowed}\n{summary}"

    for row, record in zip(run.epochs, truth["epochs"]):
        for name, true in record["summary"].items():
            assert_printed(row.metrics.get(name), true, float(f"{true:.4f}"),
                           what=f"epoch {row.epoch} {name}")

    loss = run.series.get("loss")
    assert loss is not None and len(loss) > 0, f"no postfix loss series\n{summary}"
    by_epoch = points_by_epoch(loss)
    for record in truth["epochs"]:
        e = record["epoch"]
        pts = by_epoch.get(e, [])
        assert pts, f"no postfix loss observed in epoch {e}\n{summary}"
        shown_values = {float(p["loss_shown"]) for p in record["postfixes"]}
        for p in pts:
            assert any(math.isclose(p.value, s, rel_tol=1e-9) for s in shown_values), (
                f"epoch {e}: loss {p.value!r} was never shown by set_postfix")
        final = record["final_postfix"]
        assert_printed(pts[-1].value, final["loss"], float(final["loss_shown"]),
                       what=f"last postfix loss of epoch {e}")
        # set_postfix refreshes the bar, so every postfix is drawn at least once.
        assert len(pts) >= len(record["postfixes"]), (
            f"epoch {e}: {len(pts)} loss points for {len(record['postfixes'])} postfixes")


def check_hf(analysis, truth: dict) -> None:
    """Trainer dict lines: logging-step losses with their epochs, eval metrics per whole epoch."""
    summary = _analysis_summary(analysis)
    assert len(analysis.runs) == 1, summary
    run = analysis.runs[0]
    assert "hf-trainer" in run.formats, summary
    assert run.status == "finished", summary
    history = truth["log_history"]
    train_logs = [h for h in history if "loss" in h]
    eval_logs = [h for h in history if "eval_loss" in h]

    loss = run.series.get("loss")
    assert loss is not None, summary
    points = list(loss)
    assert len(points) == len(train_logs), (
        f"{len(points)} loss points for {len(train_logs)} logging steps\n{summary}")
    for point, entry in zip(points, train_logs):
        assert_printed(point.value, entry["loss"], sig_printed(entry["loss"], 4),
                       what=f"loss at step {entry['step']}")
        assert point.epoch is not None and math.isclose(point.epoch, entry["epoch"]), (
            f"loss at step {entry['step']}: epoch {point.epoch!r} != {entry['epoch']!r}")

    whole = sorted({round(h["epoch"]) for h in eval_logs})
    assert [row.epoch for row in run.epochs] == whole, summary
    table = {row.epoch: row for row in run.epochs}
    for entry in eval_logs:
        row = table[round(entry["epoch"])]
        for name in ("eval_loss", "eval_accuracy"):
            assert_printed(row.metrics.get(name), entry[name], sig_printed(entry[name], 4),
                           what=f"epoch {row.epoch} {name}")
    eval_loss = run.series.get("eval_loss")
    assert eval_loss is not None and len(eval_loss) == len(eval_logs), summary


def check_lightning(analysis, truth: dict) -> None:
    """Lightning's tqdm bars: one run (a crash's closing redraw starts none), each epoch as
    printed (0-based) with `trainer.callback_metrics` at tqdm's 3 significant digits."""
    summary = _analysis_summary(analysis)
    assert len(analysis.runs) == 1, summary
    run = analysis.runs[0]
    assert ("tqdm" if "--bar" not in truth["argv"] else "lightning-rich") in run.formats, summary
    assert run.epochs_planned in (None, truth["epochs_planned"]), summary
    table = {row.epoch: row for row in run.epochs}
    for record in truth["epochs"]:
        row = table.get(record["epoch"])
        assert row is not None, f"no epoch {record['epoch']}\n{summary}"
        for name, value in record.items():
            if name == "epoch":
                continue
            true = _as_float(value)
            shown = sig_printed(true, 3) if math.isfinite(true) else true
            assert_printed(row.metrics.get(name), true, shown,
                           what=f"epoch {record['epoch']} {name}")
    if truth["crashed"]:
        assert run.status == "crashed" and truth["error"] in (run.error or ""), summary
    else:
        nan = any(not math.isfinite(_as_float(v)) for r in truth["epochs"] for k, v in r.items()
                  if k == "train_loss")
        assert run.status == ("diverged" if nan else "finished"), summary
        assert [row.epoch for row in run.epochs] == [r["epoch"] for r in truth["epochs"]], summary


CHECKERS = {"keras_fit": check_keras, "tqdm_loop": check_tqdm, "hf_trainer": check_hf,
            "lightning_fit": check_lightning}


def check(data: bytes, truth: dict, source: str = "x"):
    analysis = parse_bytes(data, source=source)
    CHECKERS[truth["emitter"]](analysis, truth)
    return analysis


# --- the kept captures in sample_logs/ (fast: no training) -----------------------------------------

def _console_capture(truth_path: Path) -> bool:
    """A truth beside the console log it checks (other truths describe structured files or
    tables, checked in test_files.py and test_tables.py)."""
    log_path = truth_path.with_name(truth_path.name.replace(".truth.json", ".log"))
    emitter = json.loads(truth_path.read_text(encoding="utf-8")).get("emitter")
    return log_path.exists() and emitter in CHECKERS


# the rule cases' captures (case_*) come from other emitters; tests/test_rules.py checks them
SAMPLE_TRUTHS = [p for p in sorted(SAMPLE_LOGS.glob("*.truth.json"))
                 if _console_capture(p) and not p.name.startswith("case_")]


@pytest.mark.parametrize("truth_path", SAMPLE_TRUTHS, ids=lambda p: p.name.split(".")[0])
def test_sample_log_matches_its_truth(truth_path: Path) -> None:
    log_path = truth_path.with_name(truth_path.name.replace(".truth.json", ".log"))
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    check(log_path.read_bytes(), truth, source=log_path.name)


# --- live captures: Keras 3 -------------------------------------------------------------------------

MODES = ("file", "pty")


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("verbose", ("1", "2"))
def test_keras_fit_epochs_equal_history(real_log, verbose: str, mode: str) -> None:
    cap = real_log("keras_fit.py", "--verbose", verbose, "--epochs", str(KERAS_EPOCHS),
                   "--steps", str(KERAS_STEPS), mode=mode)
    assert cap.returncode == 0
    check(cap.data, cap.truth)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_keras_crash_ends_run_as_crashed(real_log, mode: str) -> None:
    cap = real_log("keras_fit.py", "--verbose", "1", "--epochs", str(KERAS_EPOCHS),
                   "--crash-at-epoch", "1", mode=mode)
    assert cap.returncode == 1 and cap.truth["crashed"]
    assert b"Traceback (most recent call last):" in cap.data
    check(cap.data, cap.truth)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_keras_nan_loss_is_diverged(real_log, mode: str) -> None:
    cap = real_log("keras_fit.py", "--verbose", "1", "--epochs", str(KERAS_EPOCHS), "--nan",
                   mode=mode)
    assert cap.returncode == 0
    history = cap.truth["runs"][0]["history"]["loss"]
    assert math.isnan(float(history[-1])), f"the emitter's own History has no NaN loss: {history}"
    assert b"loss: nan" in cap.data
    analysis = check(cap.data, cap.truth)
    assert math.isnan(analysis.runs[0].epochs[-1].metrics["loss"])


@pytest.mark.slow
def test_keras_restarted_fit_is_two_runs(real_log) -> None:
    cap = real_log("keras_fit.py", "--verbose", "1", "--epochs", str(KERAS_EPOCHS), "--restart",
                   "--restart-epochs", "2", "--metric-name", "acc", mode="file")
    assert cap.returncode == 0
    analysis = check(cap.data, cap.truth)
    assert [len(run.epochs) for run in analysis.runs] == [KERAS_EPOCHS, 2]
    assert "acc" in analysis.runs[1].epochs[-1].metrics


# --- live captures: tqdm ----------------------------------------------------------------------------

TQDM_VARIANTS = {
    "plain": (),
    "nested": ("--nested",),
    "unknown_total": ("--unknown-total",),
}


def _tqdm_params(modes: tuple[str, ...]) -> list:
    """The plain loop runs in the quick suite (about 5 s each); the variants are marked slow."""
    return [pytest.param(variant, mode, id=f"{variant}-{mode}",
                         marks=() if variant == "plain" else pytest.mark.slow)
            for variant in sorted(TQDM_VARIANTS) for mode in modes]


@pytest.mark.parametrize(("variant", "mode"), _tqdm_params(MODES))
def test_tqdm_loop_postfix_and_summary(real_log, variant: str, mode: str) -> None:
    cap = real_log("tqdm_loop.py", "--epochs", str(TQDM_EPOCHS), *TQDM_VARIANTS[variant],
                   mode=mode)
    assert cap.returncode == 0
    if variant == "nested" and mode == "pty":
        assert b"\x1b[A" in cap.data  # the cursor-up codes this variant exists for
    check(cap.data, cap.truth)


# --- live captures: Hugging Face Trainer ------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_hf_trainer_losses_and_eval(real_log, mode: str) -> None:
    pytest.importorskip("accelerate", reason="transformers.Trainer needs accelerate>=1.1")
    cap = real_log("hf_trainer.py", "--epochs", str(HF_EPOCHS), mode=mode)
    assert cap.returncode == 0
    check(cap.data, cap.truth)


# --- streaming: random chunking changes nothing -----------------------------------------------------

def _fingerprint(analysis) -> list[dict]:
    def norm(v: float):
        return "nan" if math.isnan(v) else v

    return [{
        "formats": sorted(run.formats),
        "status": run.status,
        "epochs_planned": run.epochs_planned,
        "epochs": [(row.epoch, {k: norm(v) for k, v in sorted(row.metrics.items())})
                   for row in run.epochs],
        "series": {name: len(series) for name, series in sorted(run.series.items())},
        "series_last": {name: (series.last.epoch, series.last.step, norm(series.last.value))
                        for name, series in sorted(run.series.items()) if len(series)},
    } for run in analysis.runs]


def _parse_in_chunks(data: bytes, rng: random.Random, max_chunk: int) -> object:
    parser = LogParser(source="x")
    i = 0
    while i < len(data):
        size = rng.randint(1, max_chunk)
        parser.feed(data[i:i + size])
        i += size
    return parser.close()


def assert_chunking_invariant(data: bytes) -> None:
    whole = _fingerprint(parse_bytes(data, source="x"))
    assert whole, "the one-shot parse found no run"
    for seed, max_chunk in ((0, 1), (1, 7), (2, 64), (3, 4096)):
        chunked = _fingerprint(_parse_in_chunks(data, random.Random(seed), max_chunk))
        assert chunked == whole, f"chunks of 1..{max_chunk} bytes (seed {seed}) parse differently"


PTY_SAMPLES = sorted(p for p in SAMPLE_LOGS.glob("*_pty.log"))


@pytest.mark.parametrize("log_path", PTY_SAMPLES, ids=lambda p: p.stem)
def test_chunked_parse_equals_one_shot_on_sample_pty_logs(log_path: Path) -> None:
    assert_chunking_invariant(log_path.read_bytes())


@pytest.mark.parametrize(("variant", "mode"), _tqdm_params(("pty",)))
def test_chunked_parse_equals_one_shot_tqdm_pty(real_log, variant: str, mode: str) -> None:
    cap = real_log("tqdm_loop.py", "--epochs", str(TQDM_EPOCHS), *TQDM_VARIANTS[variant],
                   mode=mode)
    assert_chunking_invariant(cap.data)


@pytest.mark.slow
@pytest.mark.parametrize("args", [
    ("keras_fit.py", "--verbose", "1", "--epochs", str(KERAS_EPOCHS), "--steps", str(KERAS_STEPS)),
    ("keras_fit.py", "--verbose", "1", "--epochs", str(KERAS_EPOCHS), "--crash-at-epoch", "1"),
    ("keras_fit.py", "--verbose", "1", "--epochs", str(KERAS_EPOCHS), "--nan"),
    ("hf_trainer.py", "--epochs", str(HF_EPOCHS)),
], ids=["keras_v1", "keras_crash", "keras_nan", "hf_trainer"])
def test_chunked_parse_equals_one_shot_live_pty(real_log, args: tuple[str, ...]) -> None:
    if args[0] == "hf_trainer.py":
        pytest.importorskip("accelerate", reason="transformers.Trainer needs accelerate>=1.1")
    cap = real_log(*args, mode="pty")
    assert_chunking_invariant(cap.data)

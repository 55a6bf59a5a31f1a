"""The trainer under SIGINT, SIGTERM and SIGKILL mid-epoch, sent to `bertmon train` or to the
trainer process itself: the run directory stays consistent.

After each: status.json says `stopped` or `crashed` (never `running` once the processes are
gone), metrics.jsonl holds whole JSON lines only, the checkpoint loads, train.log ends as the
trainer left it, and `bertmon analyze runs/<name>` reads it. The real CLI trains the tiny random
BERT of tests/test_trainers.py; marked slow. Also: two trainers given one --name never share a
directory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from bertmon.analyzers.runstatus import pid_alive, read_run_status
from bertmon.trainers import rundir

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
       "HF_HUB_DISABLE_PROGRESS_BARS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}


def start_train(runs: Path, name: str, model: Path, data: Path, epochs: int = 30,
                out: Path | None = None) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "bertmon", "train", "--no-tui", "--model", str(model),
            "--data", str(data), "--max-len", "24", "--batch-size", "4", "--epochs", str(epochs),
            "--runs-dir", str(runs), "--name", name]
    out = out or runs / f"{name}.out"
    sink = open(out, "wb")  # noqa: SIM115 - closed below
    err = open(out.with_suffix(".err"), "wb")  # noqa: SIM115 - closed below
    try:
        return subprocess.Popen(args, stdout=sink, stderr=err, env=ENV)
    finally:
        sink.close()
        err.close()


def wait_until(ready, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.05)
    pytest.fail(what)


def check_consistent(run: Path, statuses: tuple[str, ...], analyzed: str | None = None) -> dict:
    """The run directory after the processes ended; `analyzed`: what analyze must call it
    (default: what status.json says)."""
    status = json.loads((run / "status.json").read_text())
    assert status["status"] in statuses, status
    raw = (run / "metrics.jsonl").read_bytes()
    assert raw.endswith(b"\n")
    rows = [json.loads(line) for line in raw.decode().splitlines()]  # whole lines only
    assert [r["epoch"] for r in rows] == list(range(1, len(rows) + 1)) and rows
    # the checkpoint loads with the library's own loader, and so does the head
    code = ("import sys, transformers, safetensors.numpy as s\n"
            "m = transformers.AutoModel.from_pretrained(sys.argv[1])\n"
            "h = s.load_file(sys.argv[1] + '/head.safetensors')\n"
            "print(m.config.hidden_size, sorted(h))")
    res = subprocess.run([sys.executable, "-c", code, str(run / "checkpoint")],
                         capture_output=True, text=True, env=ENV, timeout=120, check=False)
    assert res.returncode == 0 and res.stdout.startswith("32 "), res.stderr[-2000:]
    assert not (run / "checkpoint.old").exists()
    # `bertmon analyze runs/<name>` reads it and agrees with status.json
    res = subprocess.run([sys.executable, "-m", "bertmon", "analyze", "-f", "json", str(run)],
                         capture_output=True, text=True, env=ENV, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    parsed = json.loads(res.stdout)["runs"][-1]
    assert parsed["status"] == (analyzed or status["status"]), (parsed["status"], status)
    finished = [e["epoch"] for e in parsed["epochs"] if e.get("seconds") is not None]
    assert finished[: len(rows)] == [r["epoch"] for r in rows]
    return status


CASES = [  # (who gets the signal, signal, the status it must leave)
    ("bertmon", signal.SIGINT, ("stopped",)),
    ("bertmon", signal.SIGTERM, ("stopped",)),
    ("bertmon", signal.SIGKILL, ("stopped",)),  # the trainer stops with its parent
    ("trainer", signal.SIGINT, ("stopped",)),
    ("trainer", signal.SIGTERM, ("stopped",)),
    ("trainer", signal.SIGKILL, ("crashed",)),
]


@pytest.mark.slow
@pytest.mark.parametrize(("target", "sig", "statuses"), CASES,
                         ids=[f"{t}-{s.name}" for t, s, _ in CASES])
def test_a_signal_mid_epoch_leaves_a_consistent_run(tmp_path, tiny_model, small_data, target,
                                                    sig, statuses) -> None:
    proc = start_train(tmp_path, "r", tiny_model, small_data)
    run = tmp_path / "r"
    try:
        wait_until(lambda: (run / "checkpoint" / "head.safetensors").exists(), 180,
                   "the trainer never saved its first epoch")
        time.sleep(0.3)  # mid-epoch 2
        child = json.loads((run / "status.json").read_text())["pid"]
        assert child != proc.pid
        os.kill(proc.pid if target == "bertmon" else child, sig)
        wait_until(lambda: proc.poll() is not None and not pid_alive(child), 120,
                   "the processes did not end")
    finally:
        if proc.poll() is None:
            proc.kill()
    status = check_consistent(run, statuses)
    log = (run / "train.log").read_text()
    if statuses == ("stopped",):
        assert status["exit_code"] == 130
        assert log.rstrip().endswith("training stopped"), log[-500:]  # the log is whole
        assert "stopping after the current step" in log
    else:
        assert status["exit_code"] == 128 + 9
    if target == "bertmon" and sig != signal.SIGKILL:
        out = (tmp_path / "r.out").read_bytes()
        assert (run / "train.log").read_bytes() in out  # every byte was streamed
        assert proc.returncode == 128 + sig


@pytest.mark.slow
def test_a_writer_killed_without_a_word_reads_as_crashed(tmp_path, tiny_model, small_data):
    """Both `bertmon train` and the trainer SIGKILLed at once: status.json still says running;
    its pid is dead, so analyze, the report and the monitor call the run crashed."""
    proc = start_train(tmp_path, "k", tiny_model, small_data)
    run = tmp_path / "k"
    try:
        wait_until(lambda: (run / "checkpoint" / "head.safetensors").exists(), 180,
                   "no first epoch")
        child = json.loads((run / "status.json").read_text())["pid"]
        os.kill(child, signal.SIGSTOP)  # no chance to react to its parent's death
        os.kill(proc.pid, signal.SIGKILL)
        os.kill(child, signal.SIGKILL)
        wait_until(lambda: proc.poll() is not None and not pid_alive(child), 60, "not dead")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert json.loads((run / "status.json").read_text())["status"] == "running"
    assert read_run_status(run)["status"] == "crashed"
    check_consistent(run, ("running",), analyzed="crashed")
    from bertmon.tui.sources import FileTail, SourceEvent

    events = []
    for item in FileTail(run / "train.log", tick=0.01):
        if isinstance(item, SourceEvent) and item.level == "error":
            events.append(item.text)
            break
    assert "gone" in events[0] and str(child) in events[0]


def _claim(args: tuple[str, bool]) -> str | None:
    root, suffix = args
    try:
        return rundir.create(root, "same", suffix=suffix).name
    except FileExistsError:
        return None


@pytest.mark.parametrize("suffix", [False, True], ids=["--name", "default-name"])
def test_runs_racing_for_one_name_never_share_a_directory(tmp_path, suffix) -> None:
    with ProcessPoolExecutor(8) as pool:
        got = list(pool.map(_claim, [(str(tmp_path), suffix)] * 16))
    claimed = [g for g in got if g]
    assert len(claimed) == len(set(claimed))  # nobody shares
    if suffix:
        assert sorted(claimed) == sorted(["same", *(f"same-{n}" for n in range(2, 17))])
    else:
        assert claimed == ["same"]


@pytest.mark.slow
def test_two_trainers_with_one_name(tmp_path, tiny_model, small_data) -> None:
    a = start_train(tmp_path, "twin", tiny_model, small_data, epochs=1, out=tmp_path / "a.out")
    b = start_train(tmp_path, "twin", tiny_model, small_data, epochs=1, out=tmp_path / "b.out")
    codes = sorted([a.wait(timeout=300), b.wait(timeout=300)])
    assert codes == [0, 2], codes
    loser = next(p for p in ((a, "a.out"), (b, "b.out")) if p[0].returncode == 2)
    text = (tmp_path / loser[1]).with_suffix(".err").read_text().strip()
    assert "already exists" in text and len(text.splitlines()) == 1
    assert json.loads((tmp_path / "twin" / "status.json").read_text())["status"] == "finished"
    assert (tmp_path / "twin" / "train.log").read_text().count("bertmon trainer:") == 1


def test_status_json_settles_the_last_run(tmp_path) -> None:
    """A run directory's log read with its status.json: a dead writer's `running` is crashed,
    `stopped` wins over a log that looks finished, a live writer keeps it running."""
    from bertmon.analyzers import parse_bytes
    from bertmon.analyzers.runstatus import apply_run_status

    log = b"Epoch 1/3\nepoch 1: loss=0.5 acc=0.7 dev_acc=0.6\n"
    dead = subprocess.Popen(["true"])
    dead.wait()
    rd = rundir.RunDir(tmp_path)
    for written, pid, expected in (("running", dead.pid, "crashed"),
                                   ("running", os.getpid(), "running"),
                                   ("stopped", None, "stopped"), ("crashed", None, "crashed")):
        rd.write_status(written, **({"pid": pid} if pid else {}))
        analysis = parse_bytes(log)
        apply_run_status(analysis, tmp_path)
        assert analysis.runs[-1].status == expected, (written, pid)
    rd.write_status("running", pid=dead.pid)
    analysis = parse_bytes(log)
    apply_run_status(analysis, tmp_path)
    assert "gone" in analysis.runs[-1].error

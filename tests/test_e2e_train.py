"""End to end: the installed `bertmon train` in a real terminal (tmux): `s` stops the trainer
gracefully, `q` quits, and the terminal is left with the run's summary and its directory, whose
report.md the trainer wrote at its own end."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from test_e2e_tail import BERTMON, tmux, wait_screen

from bertmon.trainers.data import DEMO_DATA
from bertmon.trainers.models import demo_vocab, make_random_bert

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
    pytest.mark.skipif(not BERTMON.exists(), reason="bertmon is not installed in this venv"),
    pytest.mark.skipif(
        __import__("importlib").util.find_spec("torch") is None, reason="needs torch"
    ),
]


def test_train_s_then_q_leaves_summary_and_report(tmp_path: Path) -> None:
    model = make_random_bert(tmp_path / "bert", demo_vocab(), hidden=32, layers=2, heads=2,
                             intermediate=64, max_positions=64, seed=1)
    data = tmp_path / "small.csv"
    data.write_text("\n".join(DEMO_DATA.read_text(encoding="utf-8").splitlines()[:241]) + "\n")
    runs = tmp_path / "runs"
    session = f"bertmon-e2e-{uuid.uuid4().hex[:8]}"
    tmux("new-session", "-d", "-s", session, "-x", "140", "-y", "45", "-e", "PS1=E2E$ ",
         "bash", "--norc", "--noprofile")
    try:
        wait_screen(session, lambda s: "E2E$" in s)
        command = (f"{BERTMON} train --model {model} --data {data} --epochs 50 --batch-size 4 "
                   f"--max-len 24 --runs-dir {runs} --name e2e; echo EXIT=$?")
        tmux("send-keys", "-t", session, command, "Enter")
        # the monitor shows the run going; epoch 1 is scored before the stop
        wait_screen(session, lambda s: " RUNNING " in s and "epoch 2/50" in s, timeout=180)
        tmux("send-keys", "-t", session, "s")
        screen = wait_screen(session, lambda s: "STOPPED (by you)" in s, timeout=120)
        assert "exit code" not in screen and "exited with" not in screen
        # the trainer wrote report.md at its own end, before anyone quit the monitor
        run = runs / "e2e"
        report = run / "report.md"
        assert report.exists()
        assert "stopped" in report.read_text(encoding="utf-8")
        tmux("send-keys", "-t", session, "q")
        screen = wait_screen(session, lambda s: re.search(r"EXIT=\d", s), timeout=60)
        assert tmux("display", "-p", "-t", session, "#{alternate_on}").strip() == "0"
        text = " ".join(screen.split())  # tmux wraps the paragraph at the pane's width
        assert "bertmon: e2e STOPPED (by you)" in text
        assert "best dev_f1" in text
        assert f"run directory: {run} (report.md)" in text
        assert "EXIT=130" in text
        status = json.loads((run / "status.json").read_text())
        assert status["status"] == "stopped" and status["exit_code"] == 130
        assert status["started"] and status["ended"]
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, check=False)

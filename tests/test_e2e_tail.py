"""End to end: the installed `bertmon tail` in a real terminal (tmux) on a growing log."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from test_tui_support import SEED000

BERTMON = Path(sys.executable).parent / "bertmon"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
    pytest.mark.skipif(not BERTMON.exists(), reason="bertmon is not installed in this venv"),
]


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def wait_screen(session: str, predicate, timeout: float = 30.0) -> str:
    end = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < end:
        screen = tmux("capture-pane", "-p", "-t", session)
        if predicate(screen):
            return screen
        time.sleep(0.2)
    raise AssertionError(f"timed out; the screen was:\n{screen}")


def test_tail_in_tmux_sees_epochs_and_findings_then_quits(tmp_path: Path) -> None:
    log = tmp_path / "growing.log"
    data = SEED000.read_bytes()
    cut = data.index(b"Epoch 4/20")
    session = f"bertmon-e2e-{uuid.uuid4().hex[:8]}"
    env = {"PS1": "E2E$ ", "TERM": "xterm-256color", "HOME": os.environ.get("HOME", "/tmp")}
    tmux(
        "new-session",
        "-d",
        "-s",
        session,
        "-x",
        "120",
        "-y",
        "40",
        "-e",
        f"PS1={env['PS1']}",
        "bash",
        "--norc",
        "--noprofile",
    )
    try:
        wait_screen(session, lambda s: "E2E$" in s)
        tmux("send-keys", "-t", session, f"{BERTMON} tail {log}", "Enter")
        wait_screen(session, lambda s: "waiting for" in s)  # not created yet: waited for
        with open(log, "ab") as out:
            out.write(data[:cut])
        wait_screen(session, lambda s: "epoch 3/20" in s)
        assert tmux("display", "-p", "-t", session, "#{alternate_on}").strip() == "1"
        # the log grows an epoch at a time; the later epochs overfit and the rules say so
        rest = data[cut:]
        for start in range(0, len(rest), 600):
            with open(log, "ab") as out:
                out.write(rest[start : start + 600])
            time.sleep(0.05)
        # the findings panel follows the rules, which run at most once a second on a busy box
        wait_screen(
            session,
            lambda s: "epoch 18/20" in s and "findings (3)" in s and "WARNING early_peak" in s,
        )
        tmux("send-keys", "-t", session, "q")
        wait_screen(session, lambda s: "epoch 18/20" not in s and "E2E$" in s)
        assert tmux("display", "-p", "-t", session, "#{alternate_on}").strip() == "0"
        # the terminal is usable again: typed input echoes and runs (canonical mode, echo on)
        tmux(
            "send-keys",
            "-t",
            session,
            "echo restored-$((20+22)); stty -a | grep -o -- ' -\\?icanon'",
            "Enter",
        )
        def stty_answered(s: str) -> bool:  # grep's own line, not the typed command's text
            return "restored-42" in s and any(
                line.strip() in ("icanon", "-icanon") for line in s.splitlines())

        screen = wait_screen(session, stty_answered)
        answer = [line.strip() for line in screen.splitlines()
                  if line.strip() in ("icanon", "-icanon")]
        assert answer == ["icanon"]
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, check=False)

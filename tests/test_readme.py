"""Every `$ bertmon ...` example in the README prints what the README shows.

An example is a fenced block whose first line is `$ bertmon ...`; the lines after it are the
expected output. A line that is `...` (or indented `...`) stands for lines left out; inside a
line `...` stands for text left out: the pieces between must appear in one output line, in
order, the first at its start. Every other line must be an output line exactly (trailing
blanks aside), and the expected lines must come in the output's order. So an example may leave lines out, but never show a line or a number the command does
not print today.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SLOW_COMMANDS = ("parity", "train")  # load torch and TensorFlow, or train


def examples() -> list[tuple[str, list[str]]]:
    """(command line, expected lines) for each README block that starts with `$ bertmon`."""
    found = []
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", README.read_text(), re.M | re.S):
        lines = block.rstrip("\n").split("\n")
        if lines and lines[0].startswith("$ bertmon "):
            found.append((lines[0][2:], lines[1:]))
    return found


def _params():
    out = []
    for command, expected in examples():
        slow = any(word in command.split()[1:2] for word in SLOW_COMMANDS)
        marks = [pytest.mark.slow] if slow else []
        out.append(pytest.param(command, expected, id=command[:60], marks=marks))
    return out


def test_readme_has_examples() -> None:
    assert len(examples()) >= 2


def line_matches(want: str, line: str) -> bool:
    """`line` is `want`, where each `...` in `want` stands for any text."""
    pieces = want.split("...")
    if len(pieces) == 1:
        return line == want
    if not line.startswith(pieces[0]):
        return False
    at = len(pieces[0])
    for piece in pieces[1:-1]:
        at = line.find(piece, at)
        if at < 0:
            return False
        at += len(piece)
    return line.endswith(pieces[-1]) and len(line) - len(pieces[-1]) >= at


def match_lines(expected: list[str], actual: list[str]) -> str | None:
    """None when `expected` (with `...` elisions) appears in `actual` in order, else why not."""
    i = 0
    for want in expected:
        want = want.rstrip()
        if want.strip() == "..." or not want.strip():
            continue
        while i < len(actual):
            line = actual[i].rstrip()
            i += 1
            if line_matches(want, line):
                break
        else:
            return f"README line not printed (in this order): {want!r}"
    return None


@pytest.mark.parametrize(("command", "expected"), _params())
def test_readme_example_is_true(command: str, expected: list[str]) -> None:
    argv = shlex.split(command)
    proc = subprocess.run([sys.executable, "-m", "bertmon", *argv[1:]], cwd=ROOT,
                          capture_output=True, text=True, timeout=600,
                          env={"PATH": "/usr/bin:/bin", "COLUMNS": "100", "NO_COLOR": "1"})
    actual = proc.stdout.splitlines()
    problem = match_lines(expected, actual)
    assert problem is None, f"{command}: {problem}\n--- printed:\n{proc.stdout}{proc.stderr}"


def test_matcher_rejects_a_changed_number() -> None:
    actual = ["  epoch  loss", "      1  0.7012", "      2  0.5"]
    assert match_lines(["  epoch  loss", "...", "      2  0.5"], actual) is None
    assert match_lines(["      1  0.661"], actual) is not None
    assert match_lines(["      2  0.5", "      1  0.7012"], actual) is not None  # order
    assert match_lines(["      1  0.70..."], actual) is None
    assert match_lines(["  ep... loss"], actual) is None
    assert match_lines(["  ep...0.7012"], actual) is not None  # pieces stay within one line

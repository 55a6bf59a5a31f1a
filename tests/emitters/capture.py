"""Run an emitter script and capture its bytes the two ways a training log is usually kept.

* ``file``: stdout and stderr merged into one file, as ``python x.py > log 2>&1`` does (the child's
  stdout is then block-buffered and not a terminal).
* ``pty``: the child's stdin/stdout/stderr are the slave side of a pseudo-terminal of a fixed window
  size, and every byte is read from the master until EOF: Keras's ``\\b``/``\\r`` redraws and ANSI
  colours, tqdm's ``\\r`` frames and ``\\x1b[A`` moves, and the terminal's ``\\n`` -> ``\\r\\n``
  translation arrive exactly as a terminal (or ``script``/tmux) would receive them.

Used by tests/conftest.py and, from the command line, to refresh the captures in sample_logs/:

    python tests/emitters/capture.py --mode pty --log sample_logs/x.log [--truth t.json] \\
        keras_fit.py --verbose 1
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import json
import os
import select
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path
from typing import NamedTuple

EMITTERS = Path(__file__).resolve().parent
COLUMNS, ROWS = 120, 40
TIMEOUT_S = 300.0


class Capture(NamedTuple):
    data: bytes  # the exact bytes the log holds
    truth: dict  # what the framework recorded in the same process
    returncode: int
    mode: str  # "file" or "pty"
    command: list[str]


def emitter_env() -> dict[str, str]:
    """The real environment, less what would make a capture depend on who runs it."""
    env = dict(os.environ)
    for var in ("COLUMNS", "LINES", "PYTHONUNBUFFERED", "TQDM_DISABLE", "TQDM_MININTERVAL",
                "FORCE_COLOR", "NO_COLOR"):
        env.pop(var, None)
    env.update({
        "TF_CPP_MIN_LOG_LEVEL": "2",  # only the cpu_feature_guard line; other TF noise stays
        "KERAS_BACKEND": "tensorflow",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "OMP_NUM_THREADS": "1",  # the machine's 2 cores are shared
        "PYTHONHASHSEED": "0",
    })
    return env


def _command(script: str, truth_path: Path, args: tuple[str, ...]) -> list[str]:
    return [sys.executable, str(EMITTERS / script), "--out", str(truth_path), *args]


def run_to_file(script: str, args: tuple[str, ...], workdir: Path) -> Capture:
    workdir.mkdir(parents=True, exist_ok=True)
    log_path, truth_path = workdir / "out.log", workdir / "truth.json"
    cmd = _command(script, truth_path, args)
    env = emitter_env()
    env["TERM"] = "dumb"
    with open(log_path, "wb") as log:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                              env=env, cwd=workdir, timeout=TIMEOUT_S, check=False)
    return Capture(log_path.read_bytes(), _read_truth(truth_path), proc.returncode, "file", cmd)


def run_in_pty(script: str, args: tuple[str, ...], workdir: Path,
               columns: int = COLUMNS, rows: int = ROWS) -> Capture:
    workdir.mkdir(parents=True, exist_ok=True)
    truth_path = workdir / "truth.json"
    cmd = _command(script, truth_path, args)
    env = emitter_env()
    env["TERM"] = "xterm-256color"
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    try:
        proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env,
                                cwd=workdir, close_fds=True, start_new_session=True)
    finally:
        os.close(slave)  # only the child holds the slave now: EOF (EIO) once it exits
    chunks: list[bytes] = []
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while True:
            if time.monotonic() > deadline:
                proc.kill()
                raise TimeoutError(f"{script} {' '.join(args)}: no EOF after {TIMEOUT_S:.0f} s")
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError as exc:  # Linux reports the slave's last close as EIO
                if exc.errno == errno.EIO:
                    break
                raise
            if not chunk:
                break
            chunks.append(chunk)
        returncode = proc.wait(timeout=60)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    data = b"".join(chunks)
    (workdir / "out.log").write_bytes(data)
    return Capture(data, _read_truth(truth_path), returncode, "pty", cmd)


def _read_truth(path: Path) -> dict:
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def capture(script: str, args: tuple[str, ...], mode: str, workdir: Path) -> Capture:
    if mode == "file":
        return run_to_file(script, args, workdir)
    if mode == "pty":
        return run_in_pty(script, args, workdir)
    raise ValueError(f"mode must be 'file' or 'pty', not {mode!r}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=("file", "pty"), required=True)
    ap.add_argument("--log", required=True, type=Path, help="where to write the captured bytes")
    ap.add_argument("--truth", type=Path, help="where to copy the ground-truth JSON")
    ap.add_argument("script", help="an emitter in tests/emitters/, e.g. keras_fit.py")
    ap.add_argument("args", nargs=argparse.REMAINDER, help="options for the emitter")
    ns = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bertmon-capture-") as tmp:
        cap = capture(ns.script, tuple(ns.args), ns.mode, Path(tmp))
    ns.log.write_bytes(cap.data)
    if ns.truth:
        ns.truth.write_text(json.dumps(cap.truth, indent=1) + "\n", encoding="utf-8")
    print(f"{ns.log}: {len(cap.data)} bytes, exit status {cap.returncode}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

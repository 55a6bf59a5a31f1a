"""The trainer child process: `python -m bertmon.trainers.run RUN_DIR`.

`bertmon train` writes RUN_DIR/config.json and starts this; its stdout and stderr are the log.
A crash prints the traceback and leaves status "crashed" with the metrics and checkpoint intact.
However it ends (finished, stopped, crashed), the trainer itself writes report.md, so the run
directory is complete with `--no-tui` and when the monitor that started it was killed.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path

from bertmon.trainers.common import env_rank
from bertmon.trainers.rundir import RunDir

ENV_DEFAULTS = {  # nothing reaches the network: the model is a local folder, always
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "KERAS_BACKEND": "tensorflow",
    "PYTHONUNBUFFERED": "1",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m bertmon.trainers.run RUN_DIR", file=sys.stderr)
        return 2
    for key, value in ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)
    rd = RunDir(Path(argv[0]))
    main_rank = env_rank()[0] == 0
    try:
        # until the trainer installs its stop flag, SIGTERM stops like a second Ctrl-C
        signal.signal(signal.SIGTERM, _interrupt)
        _stop_with_parent()
        framework = json.loads((rd.path / "config.json").read_text())["framework"]
        if framework == "tf":
            from bertmon.trainers.tf_trainer import train
        else:
            from bertmon.trainers.torch_trainer import train
        code = train(rd.path)
        last = "training stopped" if code == 130 else "training finished"
    except KeyboardInterrupt:  # a second Ctrl-C while stopping
        if not main_rank:
            return 130
        _say(sys.stdout, "\ninterrupted\n")
        _finish(rd, "stopped", 130)
        code, last = 130, "interrupted"
    except Exception:  # noqa: BLE001 - any crash: keep the log, mark the run crashed
        text = traceback.format_exc()
        _say(sys.stderr, text)
        if not main_rank:
            return 1
        _finish(rd, "crashed", 1)
        code, last = 1, text.rstrip().splitlines()[-1]
    if main_rank:
        write_report(rd.path, last)
    return code


def _say(stream, text: str) -> None:
    """Write to our output, which may be gone (the monitor that read it was killed): the status
    and the report are still written then."""
    try:
        stream.write(text)
        stream.flush()
    except (OSError, ValueError):
        pass


def _log_has(log: Path, last: str, timeout: float) -> None:
    """Wait (at most `timeout`) until the parent has copied our last line into train.log: our
    output reaches the log through `bertmon`'s pipe, so it lands a moment after we print it."""
    end = time.monotonic() + timeout
    want = last.strip().encode()
    while time.monotonic() < end and os.getppid() != 1:  # no parent left: nobody copies
        try:
            with open(log, "rb") as fh:
                fh.seek(max(0, os.fstat(fh.fileno()).st_size - 4096))
                if fh.read().rstrip().endswith(want):
                    return
        except OSError:
            pass
        time.sleep(0.05)


def write_report(run_dir: Path, last: str = "", timeout: float = 3.0) -> bool:
    """report.md (`bertmon analyze --format markdown` of the run directory); whether written.

    A report failure never changes how the run ended: it is one line on stderr."""
    log = Path(run_dir) / "train.log"
    if last:
        _log_has(log, last, timeout)
    try:
        from bertmon.analyzers import analyze, parse_path
        from bertmon.analyzers.report import render
        from bertmon.analyzers.runstatus import settle

        analysis = settle(parse_path(run_dir), run_dir)
        analyze(analysis)
        tmp = Path(run_dir) / f".report.md.{os.getpid()}.tmp"
        tmp.write_text(render(analysis, "markdown"), encoding="utf-8")
        os.replace(tmp, Path(run_dir) / "report.md")
        return True
    except Exception as exc:  # noqa: BLE001 - the run is over; the report is a courtesy
        print(f"bertmon: could not write {Path(run_dir) / 'report.md'}: {exc}", file=sys.stderr,
              flush=True)
        return False


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop_with_parent() -> None:
    """Have the kernel send SIGTERM when `bertmon` (the parent) dies, even by SIGKILL: the
    trainer then stops after its step as on Ctrl-C, and writes the end of the log itself.

    Linux only (prctl PR_SET_PDEATHSIG); torchrun's workers are left to torchrun.
    """
    parent = os.environ.get("BERTMON_PARENT_PID")
    if not parent or sys.platform != "linux" or "LOCAL_RANK" in os.environ:
        return
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return
    pr_set_pdeathsig = 1
    prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != int(parent):  # it died before the prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _finish(rd: RunDir, status: str, code: int) -> None:
    old = rd.read_status() or {}
    extra = {k: old[k] for k in ("started",) if k in old}
    rd.write_status(status, code, old.get("best_epoch"), old.get("best") or {},
                    ended=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **extra)


if __name__ == "__main__":
    sys.exit(main())

"""The trainer child process: `python -m bertmon.trainers.run RUN_DIR`.

`bertmon train` writes RUN_DIR/config.json and starts this; its stdout and stderr are the log.
A crash prints the traceback and leaves status "crashed" with the metrics and checkpoint intact.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
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
        return train(rd.path)
    except KeyboardInterrupt:  # a second Ctrl-C while stopping
        if main_rank:
            print("\ninterrupted", flush=True)
            _finish(rd, "stopped", 130)
        return 130
    except Exception:  # noqa: BLE001 - any crash: keep the log, mark the run crashed
        traceback.print_exc()
        sys.stderr.flush()
        if main_rank:
            _finish(rd, "crashed", 1)
        return 1


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
    rd.write_status(status, code, old.get("best_epoch"), old.get("best") or {})


if __name__ == "__main__":
    sys.exit(main())

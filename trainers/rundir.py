"""`runs/<name>/` as ../shared/contract/run-dir.md says: config, log, metrics, status, checkpoint."""

from __future__ import annotations

import ctypes
import json
import math
import os
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

STATUSES = ("running", "finished", "crashed", "stopped")


def default_name(framework: str) -> str:
    return f"{framework}-{time.strftime('%Y%m%d-%H%M%S')}"


def create(runs_dir: str | Path, name: str, *, suffix: bool = False) -> Path:
    """A new run directory, claimed atomically: two trainers started at once never share one.

    The claim is `config.json` created with O_EXCL (the trainer rewrites it later), so of two
    processes racing for one name exactly one wins. A taken name is an error (no silent
    overwrite), or with `suffix` (a default name, which two runs started in the same second
    share) the next free `name-2`, `name-3`, ...
    """
    root = Path(runs_dir)
    root.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000 if suffix else 2):
        path = root / (name if n == 1 else f"{name}-{n}")
        if path.exists() and not path.is_dir():
            continue
        path.mkdir(exist_ok=True)
        if not any(p.name != "config.json" for p in path.iterdir()):
            try:
                os.close(os.open(path / "config.json", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                return path
            except FileExistsError:
                pass
    raise FileExistsError(f"run directory {root / name} already exists; pick another --name")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    if sys.platform != "linux":
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


@contextmanager
def swapped_in(out: Path) -> Iterator[Path]:
    """An empty folder beside `out` to write a checkpoint into; it replaces `out` when the block
    ends without an error, so `out` is never half-written (an error leaves the old one).

    On Linux the two folders are exchanged in one step, so a SIGKILL at any moment leaves a
    whole `out`; elsewhere there is a moment with `out.old` and no `out`.
    """
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    yield tmp
    if out.exists() and _exchange(tmp, out):
        shutil.rmtree(tmp, ignore_errors=True)  # now the old checkpoint
        return
    old = out.with_name(out.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/inf; keep it visible rather than invalid
    return value


class RunDir:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def log(self) -> Path:
        return self.path / "train.log"

    @property
    def checkpoint(self) -> Path:
        return self.path / "checkpoint"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.jsonl"

    def write_config(self, config: dict[str, Any]) -> None:
        _atomic_write(self.path / "config.json", json.dumps(config, indent=2, default=str) + "\n")

    def append_metrics(self, epoch: int, metrics: dict[str, float]) -> None:
        """One `write` of a whole line on an O_APPEND descriptor: a kill leaves whole lines."""
        row = {"epoch": epoch, **{k: _clean(float(v)) for k, v in metrics.items()}}
        line = (json.dumps(row) + "\n").encode("utf-8")
        fd = os.open(self.metrics, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def read_status(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.path / "status.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None

    def write_status(self, status: str, exit_code: int | None = None,
                     best_epoch: int | None = None, best: dict[str, float] | None = None,
                     **extra: Any) -> None:
        assert status in STATUSES, status
        data = {"status": status, "exit_code": exit_code, "best_epoch": best_epoch,
                "best": {k: _clean(v) for k, v in (best or {}).items()}, **extra}
        if status == "running":  # readers check the writer is alive (a SIGKILL says nothing)
            data.setdefault("pid", os.getpid())
            data.setdefault("host", socket.gethostname())
        _atomic_write(self.path / "status.json", json.dumps(data, indent=2) + "\n")

"""`runs/<name>/` as ../shared/contract/run-dir.md says: config, log, metrics, status, checkpoint."""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

STATUSES = ("running", "finished", "crashed", "stopped")


def default_name(framework: str) -> str:
    return f"{framework}-{time.strftime('%Y%m%d-%H%M%S')}"


def create(runs_dir: str | Path, name: str) -> Path:
    """A new, empty run directory; an existing non-empty one is an error (no silent overwrite)."""
    path = Path(runs_dir) / name
    if path.exists() and any(path.iterdir()):
        raise FileExistsError(f"run directory {path} already exists; pick another --name")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@contextmanager
def swapped_in(out: Path) -> Iterator[Path]:
    """An empty folder beside `out` to write a checkpoint into; it replaces `out` when the block
    ends without an error, so `out` is never half-written (an error leaves the old one)."""
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    yield tmp
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
        row = {"epoch": epoch, **{k: _clean(float(v)) for k, v in metrics.items()}}
        with open(self.metrics, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

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
        _atomic_write(self.path / "status.json", json.dumps(data, indent=2) + "\n")

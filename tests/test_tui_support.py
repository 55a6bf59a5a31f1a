"""Helpers shared by the TUI tests (this module holds no tests of its own)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_logs"
SEED000 = SAMPLES / "seed000_tf_reference.log"
SEED001 = SAMPLES / "seed001_frozen_cola.log"
SIZE = (120, 40)


def frozen_clock() -> float:
    """A clock that never moves, so no elapsed time reaches a snapshot."""
    return 0.0


async def wait_for(pilot, predicate: Callable[[], object], timeout: float = 15.0) -> None:
    """Let the app run until `predicate()` holds; fail with the screen's state if it never does."""
    waited = 0.0
    while waited < timeout:
        if predicate():
            await pilot.pause()
            return
        await pilot.pause(0.05)
        waited += 0.05
    raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")


def analyze_json(path: Path) -> dict:
    """What `bertmon analyze --format json` says about `path` (the real command)."""
    out = subprocess.run(
        [sys.executable, "-m", "bertmon", "analyze", "--format", "json", str(path)],
        capture_output=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout)


def caught_up(app, slot: int = 0, records: int | None = None) -> Callable[[], bool]:
    """True once the slot's snapshot has findings brought up to date after reading it all."""

    def check() -> bool:
        screen = app.screen
        snap = getattr(screen, "primary" if slot == 0 else "secondary", None)
        if snap is None or snap.run is None:
            return False
        if records is not None and snap.records < records:
            return False
        return screen.feeds[slot] is not None and screen.feeds[slot]._rules_records == snap.records

    return check


KERAS_SCRIPT = r"""
import signal, sys, time
stop = []
signal.signal(signal.SIGINT, lambda *a: stop.append(1))
epochs = int(sys.argv[1]); delay = float(sys.argv[2])
for e in range(1, epochs + 1):
    print(f"Epoch {e}/{epochs}", flush=True)
    for s in (10, 20):
        end = "\n" if s == 20 else ""
        loss = 0.7 - 0.05 * e
        line = f"{s}/20 [==============================] - 1s 50ms/step - loss: {loss:.4f} - accuracy: {0.5 + 0.04 * e:.4f}"
        if s == 20:
            line += f" - val_loss: {0.6 + 0.02 * e:.4f} - val_accuracy: {0.55 + (0.01 if e % 2 else -0.01):.4f}"
        sys.stdout.write("\r" + line + end); sys.stdout.flush()
        time.sleep(delay)
    if stop:
        print("stopped by request", flush=True); sys.exit(130)
"""

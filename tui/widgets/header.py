"""The header: which run, from where, on what, and how far along it is."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from bertmon.tui.feed import RunView, Snapshot

STATUS_STYLE = {
    "running": "bold green",
    "finished": "bold cyan",
    "crashed": "bold red",
    "diverged": "bold red",
}
FRAMEWORK_FROM_FORMAT = {"keras": "Keras/TensorFlow", "tqdm": "PyTorch", "hf-trainer": "PyTorch"}


def run_name(label: str) -> str:
    """A run directory's name for `runs/<name>/train.log`, else the log's file name."""
    path = Path(label)
    if path.name == "train.log" and path.parent.name:
        return path.parent.name
    return path.name or label


def hms(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "–"
    s = round(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def mean_epoch_seconds(run: RunView) -> float | None:
    secs = [row.seconds for row in run.epochs if row.seconds]
    return sum(secs) / len(secs) if secs else None


GENERIC_FOLDERS = {"model", "models", "checkpoint", "weights", "snapshot", "init_model"}


def model_name(model: str) -> str:
    """A model folder's name (`…/bert-base-uncased` → `bert-base-uncased`; a generic `…/pkg/model`
    → `pkg/model`), else as given."""
    path = Path(model)
    if path.name in GENERIC_FOLDERS and path.parent.name:
        return f"{path.parent.name}/{path.name}"
    return path.name or model


def eta_seconds(run: RunView, steps_per_second: float | None, mean: float | None) -> float | None:
    """Time left: steps still to go at the live rate, else whole epochs at the mean epoch time."""
    planned = run.epochs_planned
    if not planned:
        return None
    spe = run.steps_per_epoch
    if steps_per_second and spe and run.step is not None:
        first = run.epochs[0].epoch if run.epochs else 1
        total = (planned - first + 1) * spe
        return max(0, total - run.step) / steps_per_second
    done = run.current_epoch
    if mean and done is not None:
        return max(0, planned - done) * mean
    return None


def describe_source(snap: Snapshot) -> tuple[str, str]:
    """(words, style) for what the screen has of a source, for when there is no run to show."""
    if snap.notice and snap.notice_level == "error":
        return snap.notice, "bold red"
    if snap.records == 0 and snap.bytes_read == 0:
        return snap.notice or "waiting for output", "yellow"
    run = snap.run
    if run is None or not run.has_metrics():
        if snap.live and not snap.ended and snap.notice is None:  # a trainer still starting up
            words = f"waiting for the first training metrics ({snap.records:,} log lines so far)"
            return words, "yellow"
        words = (
            f"no recognisable training metrics in {snap.records:,} log records "
            f"({snap.bytes_read:,} bytes) read so far"
        )
        return words, "bold yellow"
    return snap.notice or "", "dim"


class RunHeader(Static):
    """Run name, source, framework/model/device, status, epoch, step, elapsed, ETA, throughput."""

    primary: reactive[Snapshot | None] = reactive(None, always_update=True, repaint=False)
    secondary: reactive[Snapshot | None] = reactive(None, always_update=True, repaint=False)

    def __init__(self, clock: Callable[[], float] = time.monotonic, **kwargs) -> None:
        super().__init__(**kwargs)
        self.clock = clock

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        snap = self.primary
        if snap is not None and snap.live:
            self.refresh_text()

    def watch_primary(self) -> None:
        self.refresh_text()

    def watch_secondary(self) -> None:
        self.set_class(self.secondary is not None, "-compare")
        self.refresh_text()

    def refresh_text(self) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.primary is None:
            text.append("bertmon", style="bold")
            text.append("  starting…", style="dim")
            self.update(text, layout=False)
            return
        self._describe(text, self.primary, "A" if self.secondary else "")
        if self.secondary is not None:
            text.append("\n")
            self._describe(text, self.secondary, "B")
        self.update(text, layout=False)

    def _describe(self, text: Text, snap: Snapshot, tag: str) -> None:
        run = snap.run
        if tag:
            text.append(f"{tag} ", style="bold reverse")
        text.append(run_name(snap.label), style="bold")
        meta = dict(snap.meta)
        if "framework" not in meta and run is not None:
            guesses = [FRAMEWORK_FROM_FORMAT[f] for f in run.formats if f in FRAMEWORK_FROM_FORMAT]
            if guesses:
                meta["framework"] = guesses[0]
        hints = run.hints if run is not None else {}
        for key in ("model", "device"):
            if key not in meta and hints.get(key):
                meta[key] = hints[key]
        if meta.get("framework"):
            text.append(f"  {meta['framework']}", style="italic")
        if meta.get("model"):
            text.append(f"  {model_name(str(meta['model']))}", style="italic")
            if meta.get("pretrained") is True:
                text.append(" (pretrained)", style="dim")
            elif meta.get("pretrained") is False:
                text.append(" RANDOMLY INITIALISED", style="bold red")
        if meta.get("device"):
            text.append(f"  on {meta['device']}", style="italic")
        if len(snap.runs) > 1:
            text.append(f"  run {snap.shown + 1} of {len(snap.runs)}", style="bold")
            if snap.chosen is not None:
                text.append(" (] for the latest)", style="dim")
        text.append(f"  {snap.label}", style="dim")
        text.append("\n")
        words, style = describe_source(snap)
        if run is None or not run.has_metrics():
            text.append(words or "no data yet", style=style)
            return
        status = run.status
        if snap.exit_code is not None and status in ("running", "finished"):
            # the log may say training is over; the trainer's exit code says how it ended
            status = "stopped" if snap.exit_code else "finished"
        text.append(
            f" {status.upper()} ", style=STATUS_STYLE.get(status, "bold yellow") + " reverse"
        )
        done = run.current_epoch
        planned = run.epochs_planned
        text.append(f"  epoch {done if done is not None else '–'}/{planned or '?'}")
        if run.step is not None:
            text.append(f"  step {run.step:,}")
            if run.steps_per_epoch:
                text.append(f" ({run.steps_per_epoch:,}/epoch)", style="dim")
        mean = mean_epoch_seconds(run)
        log_secs = sum(row.seconds or 0.0 for row in run.epochs)
        elapsed = log_secs or None
        if snap.live:
            live = self.clock() - snap.started_at
            if live > 0:
                elapsed = max(elapsed or 0.0, live)
        text.append(f"  elapsed {hms(elapsed)}")
        rate = snap.steps_per_second
        if rate is None and mean and run.steps_per_epoch:
            rate = run.steps_per_epoch / mean
        eta = None
        if status == "running":
            eta = eta_seconds(run, snap.steps_per_second, mean)
        text.append(f"  ETA {hms(eta)}")
        if rate:
            text.append(f"  {rate:.2f} steps/s")
            batch = (snap.config or {}).get("batch_size")
            if isinstance(batch, int) and batch > 0:
                text.append(f" ({rate * batch:,.0f} examples/s)", style="dim")
        if run.error:
            text.append(f"  {run.error}", style="bold red")
        elif words:
            text.append(f"  {words}", style=style)

"""The header: which run, from where, on what, and how far along it is."""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from bertmon.tui.feed import RunView, Snapshot

STATUS_STYLE = {
    "running": "bold green",
    "idle": "bold yellow",
    "finished": "bold cyan",
    "stopped": "bold magenta",
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


def span(seconds: float) -> str:
    """A pause in words, as coarse as a glance needs: 45s, 4m, 2h 05m, 3d."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h {s // 60 % 60:02d}m"
    return f"{s // 86400}d"


def clock_time(when: float, now: float) -> str:
    """Local wall time: 12:03:55 today, else with the date."""
    t, today = time.localtime(when), time.localtime(now)
    if t[:3] == today[:3]:
        return time.strftime("%H:%M:%S", t)
    return time.strftime("%Y-%m-%d %H:%M", t)


def iso_seconds(text: object) -> float | None:
    """status.json's `2026-12-03T08:12:51Z` as a wall time."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def shown_status(snap: Snapshot, run: RunView, now: float) -> str:
    """running, idle, finished, stopped, crashed or diverged, from the best witness at hand:
    the trainer's exit, the run directory's status.json, the parser's reading of the log, and
    for a log nobody says has ended, how long ago it last grew."""
    status = run.status
    ended = snap.run_ended_by_dir
    if ended in ("stopped", "crashed") or (ended == "finished" and status == "running"):
        status = ended
    if snap.exit_code is not None and status in ("running", "finished"):
        # the log may say training is over; the trainer's exit code says how it ended
        code = snap.exit_code
        status = "finished" if code == 0 else "stopped" if code == 130 else "crashed"
    if snap.stopped_by_user and status in ("running", "finished"):
        status = "stopped"
    if status == "running" and not snap.ended and snap.last_write is not None:
        if now - snap.last_write >= snap.quiet_after:
            status = "idle"
    return status


def elapsed_time(
    snap: Snapshot, run: RunView, status: str, now: float, watched: float
) -> tuple[float | None, str]:
    """(seconds, label): the run directory's start and end, else the log's epoch times, else the
    time this monitor has watched (labelled so: it is not the run's time)."""
    if snap.shown == len(snap.runs) - 1:
        started = iso_seconds(snap.dir_status.get("started"))
        if started is not None:
            end = iso_seconds(snap.dir_status.get("ended"))
            if end is None:
                live = status == "running" and not snap.ended
                end = now if live else (snap.last_write or now)
            return max(0.0, end - started), "elapsed"
    log_secs = sum(row.seconds or 0.0 for row in run.epochs)
    if log_secs:
        return log_secs, "elapsed"
    if snap.live and watched > 0:
        return watched, "watched"
    return None, "elapsed"


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

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.clock = clock
        self.wall = wall

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        snap = self.primary
        if snap is not None and (snap.live or not snap.ended):
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
        now = self.wall()
        status = shown_status(snap, run, now)
        by_you = status == "stopped" and snap.stopped_by_user  # asked for: not an error code
        badge = "STOPPED (by you)" if by_you else status.upper()
        text.append(f" {badge} ", style=STATUS_STYLE.get(status, "bold yellow") + " reverse")
        done = run.current_epoch
        planned = run.epochs_planned
        text.append(f"  epoch {done if done is not None else '–'}/{planned or '?'}")
        if run.step is not None:
            text.append(f"  step {run.step:,}")
            if run.steps_per_epoch:
                text.append(f" ({run.steps_per_epoch:,}/epoch)", style="dim")
        if status == "idle" and snap.last_write is not None:
            text.append(
                f"  idle for {span(now - snap.last_write)} · last write "
                f"{clock_time(snap.last_write, now)}",
                style="yellow",
            )
        mean = mean_epoch_seconds(run)
        elapsed, label = elapsed_time(snap, run, status, now, self.clock() - snap.started_at)
        text.append(f"  {label} {hms(elapsed)}")
        live = status == "running"
        rate = snap.steps_per_second if live else None
        if rate is None and mean and run.steps_per_epoch:
            rate = run.steps_per_epoch / mean
        if live:
            text.append(f"  ETA {hms(eta_seconds(run, snap.steps_per_second, mean))}")
        if rate:
            text.append(f"  {rate:.2f} steps/s")
            batch = (snap.config or {}).get("batch_size")
            if isinstance(batch, int) and batch > 0:
                text.append(f" ({rate * batch:,.0f} examples/s)", style="dim")
        if run.error:
            text.append(f"  {run.error}", style="bold red")
        elif words:
            text.append(f"  {words}", style=style)

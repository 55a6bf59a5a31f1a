"""The incremental parser behind one source, and the immutable snapshots the screen draws.

A `Feed` lives in a worker thread: it feeds bytes to `LogParser`, runs the rule registry at most
once a second (and at once when the source has caught up), and copies what the widgets need into
a `Snapshot`. The UI thread only ever sees snapshots, never the parser, so nothing here needs to
be thread-safe except export, which takes the lock. No Textual import.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bertmon.analyzers.model import SEVERITY_RANK, Analysis, EpochRow, Finding, Point, Run
from bertmon.analyzers.report_json import series_columns
from bertmon.analyzers.roles import step_name
from bertmon.tui.plotdata import minmax_downsample

LOG_LINES = 1000  # cleaned records kept for the log pane
DRAW_BUCKETS = 160  # the step chart keeps min and max of this many buckets (~2 per column)
RULES_EVERY = 1.0  # seconds between rule runs while data streams in...
RULES_SHARE = 0.2  # ...or longer, so that rules take at most this share of the time
RULES_SHARE_CATCHING_UP = 0.05  # ...while reading what a log already holds
HEAD_BYTES = 64 << 10  # the start of the log, where trainers say what runs where
CONFIG_EVERY = 1.0  # seconds between looks at the run directory's config.json and status.json
QUIET_AFTER = 60.0  # seconds without a write before a live log counts as idle...
QUIET_GAPS = 3.0  # ...or this many times the longest pause between writes seen so far
RATE_WINDOW = 60.0  # seconds of step progress behind the live throughput

# what the bundled trainers (and many scripts) print before the first step
_HEAD_PATTERNS = {
    "framework": re.compile(rb"^bertmon trainer: framework=(\w+)", re.MULTILINE),
    "device": re.compile(rb"^device: *([^\r\n]+)", re.MULTILINE),
    "model": re.compile(
        rb"^model: *(\S+)(?: \((pretrained|RANDOMLY INITIALISED)[^\r\n]*)?", re.MULTILINE
    ),
}
FRAMEWORK_NAMES = {
    "torch": "PyTorch",
    "pytorch": "PyTorch",
    "tf": "TensorFlow",
    "tensorflow": "TensorFlow",
    "keras": "Keras/TensorFlow",
}


def run_meta(config: dict[str, object], head: dict[str, str]) -> dict[str, object]:
    """framework, model, pretrained and device: config.json first, the log's preamble second.

    `bertmon train` writes config.json before the trainer has picked a device ("pending"); the
    trainer rewrites it and prints `device:` and `model:` lines, which win over a placeholder.
    """
    meta: dict[str, object] = {}
    framework = config.get("framework") or head.get("framework")
    if framework:
        meta["framework"] = FRAMEWORK_NAMES.get(str(framework).lower(), str(framework))
    model = config.get("model_path") or config.get("model") or head.get("model")
    if model:
        meta["model"] = str(model)
    pretrained = config.get("pretrained")
    if not isinstance(pretrained, bool) and "pretrained" in head:
        pretrained = head["pretrained"] == "pretrained"
    if isinstance(pretrained, bool):
        meta["pretrained"] = pretrained
    device = config.get("device")
    if not device or device == "pending":  # not chosen yet: the trainer says when it knows
        device = head.get("device")
    if device:
        meta["device"] = str(device)
    return meta


@dataclass(frozen=True, eq=False)
class RunView:
    """What the widgets show of one run, copied out of the parser."""

    index: int
    status: str
    formats: tuple[str, ...]
    epochs_planned: int | None
    epochs: tuple[EpochRow, ...]
    roles: dict[str, str | None]
    step: int | None
    steps_per_epoch: int | None
    error: str | None
    hints: dict[str, object]
    findings: tuple[Finding, ...]
    best: tuple[str, int, float] | None
    step_x: np.ndarray  # train loss per step, downsampled for drawing
    step_y: np.ndarray
    loss_points: int  # observations of the train loss (not downsampled)
    last_loss: Point | None
    metric_names: tuple[str, ...]

    @property
    def current_epoch(self) -> int | None:
        return self.epochs[-1].epoch if self.epochs else None

    def epoch_values(self, name: str | None) -> list[tuple[int, float]]:
        if name is None:
            return []
        return [(row.epoch, row.metrics[name]) for row in self.epochs if name in row.metrics]

    def role_values(self, role: str) -> list[tuple[int, float]]:
        return self.epoch_values(self.roles.get(role))

    def has_metrics(self) -> bool:
        return bool(self.epochs) or bool(self.metric_names)


@dataclass(frozen=True, eq=False)
class Snapshot:
    """One source's state at one moment; replaced wholesale, never mutated."""

    label: str
    records: int
    bytes_read: int
    runs: tuple[RunView, ...]
    log_tail: tuple[str, ...]
    taken_at: float
    started_at: float
    live: bool  # more may come (a tail or a running trainer)
    ended: bool = False
    notice: str | None = None  # the latest word about the source (waiting, rotated, ...)
    notice_level: str = "info"
    exit_code: int | None = None
    config: dict[str, object] = field(default_factory=dict)
    meta: dict[str, object] = field(default_factory=dict)  # framework, model, pretrained, device
    steps_per_second: float | None = None  # live throughput over the last minute, if measured
    chosen: int | None = None  # the run the user picked ([ and ]); None: the latest
    last_write: float | None = None  # wall time the log last grew (file mtime, else arrival)
    quiet_after: float = 0.0  # seconds without a write after which the source counts as idle
    dir_status: dict[str, object] = field(default_factory=dict)  # a run directory's status.json
    stopped_by_user: bool = False  # the trainer was asked to stop from this monitor (`s`)

    @property
    def shown(self) -> int:
        """The position in `runs` of the run the screen shows (-1 when there is none)."""
        if self.chosen is not None and 0 <= self.chosen < len(self.runs):
            return self.chosen
        return len(self.runs) - 1

    @property
    def run(self) -> RunView | None:
        """The run the screen shows: the one picked, else the latest one."""
        return self.runs[self.shown] if self.runs else None

    @property
    def findings(self) -> list[Finding]:
        """The findings of the run on screen only: after a restart, truncation or rotation the
        earlier runs' findings are about another run (`[` shows them with their run)."""
        run = self.run
        found = list(run.findings) if run is not None else []
        return sorted(found, key=lambda f: -SEVERITY_RANK.get(f.severity, 0))

    @property
    def run_ended_by_dir(self) -> str | None:
        """How the run directory says the run ended (finished, stopped, crashed), for the log's
        last run only; None while it runs or for a plain log."""
        word = self.dir_status.get("status")
        if word in ("finished", "stopped", "crashed") and self.shown == len(self.runs) - 1:
            return str(word)
        return None


def _step_axis(series, steps_per_epoch: int | None) -> tuple[np.ndarray, np.ndarray]:
    """x = global step where the log gives one, else epoch * steps_per_epoch + batch, else index."""
    values = np.frombuffer(series.values, dtype=np.float64).copy()
    n = len(values)
    if n == 0:
        return np.arange(n, dtype=np.float64), values
    steps = np.frombuffer(series.steps, dtype=np.int64)[:n].astype(np.float64)
    epochs = np.frombuffer(series.epochs, dtype=np.float64)[:n].copy()
    if np.all(steps >= 0):
        if np.all(np.diff(steps) >= 0):
            return steps, values
        if steps_per_epoch and np.all(np.isfinite(epochs)):
            first = np.floor(np.nanmin(epochs))
            return (np.floor(epochs) - first) * steps_per_epoch + steps, values
    return np.arange(n, dtype=np.float64), values


class Feed:
    """One source's parser, fed in a worker thread."""

    def __init__(
        self,
        label: str,
        *,
        live: bool,
        config: dict[str, object] | None = None,
        config_path: Path | None = None,
        log_path: Path | None = None,
        clock=time.monotonic,
        wall=time.time,
    ):
        from bertmon.analyzers import LogParser  # looked up late: the parser is its own wing

        self.label = label
        self.live = live
        self.config = config or {}
        self.config_path = config_path
        self.status_path = config_path.with_name("status.json") if config_path else None
        self.dir_status: dict[str, object] = {}
        self._dir_finished: int | None = None  # a stopped run's last finished epoch (metrics.jsonl)
        self._status_seen: tuple[int, int] | None = None
        self.log_path = log_path
        self.wall = wall
        self.last_write: float | None = None
        self._arrived: float | None = None  # the feed clock when bytes last arrived
        self._longest_gap = 0.0
        self.stopped_by_user = False
        self._outside_seen: tuple[object, object] | None = None
        self._config_seen: tuple[int, int] | None = None
        self._config_at = 0.0
        self._head = b""
        self._head_meta: dict[str, str] = {}
        self.realtime = False  # bytes arrive as they are written: step rates mean something
        self._rate: deque[tuple[float, int]] = deque()
        self.parser = LogParser(source=label)
        self.lock = threading.Lock()
        self.bytes_read = 0
        self.started_at = clock()  # the screen's clock: tests freeze it
        self.analysis: Analysis | None = None
        self.notice: str | None = None
        self.notice_level = "info"
        self.exit_code: int | None = None
        self.ended = False
        self._log: deque[str] = deque(maxlen=LOG_LINES)
        self._records_logged = 0
        self._rules_at = 0.0
        self._rules_every = RULES_EVERY
        self._rules_records = -1
        self._draw_cache: dict[int, tuple[int, float, np.ndarray, np.ndarray]] = {}

    # --- called from the worker thread -------------------------------------------------------
    def feed(self, data: bytes) -> None:
        with self.lock:
            now = time.monotonic()
            if self.realtime and self._arrived is not None:
                self._longest_gap = max(self._longest_gap, now - self._arrived)
            self._arrived = now
            self.last_write = self.wall()
            if self.bytes_read < HEAD_BYTES:
                self._take_head(data[: HEAD_BYTES - self.bytes_read])
            self.parser.feed(data)
            self.bytes_read += len(data)

    def _take_head(self, data: bytes) -> None:
        self._head += data
        for key, pattern in _HEAD_PATTERNS.items():
            if key not in self._head_meta:
                m = pattern.search(self._head)
                if m and m.end() < len(self._head):  # a whole line, not one still arriving
                    self._head_meta[key] = m[1].decode("utf-8", "replace").strip()
                    if key == "model" and m[2]:
                        self._head_meta["pretrained"] = m[2].decode()

    def _reload_config(self, now: float) -> None:
        """Read config.json again when it changed (the trainer rewrites it once it knows more)."""
        if self.config_path is None or now - self._config_at < CONFIG_EVERY:
            return
        self._config_at = now
        try:
            st = self.config_path.stat()
            seen = (st.st_mtime_ns, st.st_size)
            if seen == self._config_seen:
                return
            data = json.loads(self.config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        self._config_seen = seen
        if isinstance(data, dict):
            self.config = data

    def _reload_status(self) -> None:
        """status.json of a run directory: how the run ended, when it started and ended."""
        if self.status_path is None:
            return
        try:
            st = self.status_path.stat()
            seen = (st.st_mtime_ns, st.st_size)
            if seen == self._status_seen:
                return
            data = json.loads(self.status_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        self._status_seen = seen
        if isinstance(data, dict):
            self.dir_status = data
            self._dir_finished = None
            if data.get("status") in ("stopped", "crashed") and self.config_path is not None:
                from bertmon.analyzers.runstatus import finished_epochs

                finished = finished_epochs(self.config_path.parent)
                self._dir_finished = max(finished, default=0) if finished is not None else None

    def outside_changed(self) -> bool:
        """Whether the log's mtime or the run directory's status.json changed since the last
        snapshot (checked on idle ticks: a quiet log must still go idle, a run still end)."""
        with self.lock:
            seen = (self._last_write(), self._stat(self.status_path))
            changed = seen != self._outside_seen
            return changed

    @staticmethod
    def _stat(path: Path | None) -> tuple[int, int] | None:
        if path is None:
            return None
        try:
            st = path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _last_write(self) -> float | None:
        """The file's mtime where there is a file (it says when the writer last wrote, also for
        bytes read long after), else when the bytes last arrived."""
        if self.log_path is not None:
            try:
                return self.log_path.stat().st_mtime
            except OSError:
                pass
        return self.last_write

    def _throughput(self, now: float, runs) -> float | None:
        """Steps per second over the last RATE_WINDOW seconds, when read as it was written."""
        step = runs[-1].step if runs else None
        if not self.realtime or step is None:
            self._rate.clear()
            return None
        rate = self._rate
        if rate and step < rate[-1][1]:  # a new run started over
            rate.clear()
        if not rate or step != rate[-1][1]:
            rate.append((now, step))
        while len(rate) > 2 and now - rate[1][0] > RATE_WINDOW:
            rate.popleft()
        (t0, s0), (t1, s1) = rate[0], rate[-1]
        if s1 <= s0 or t1 - t0 < 2.0:
            return None
        return (s1 - s0) / (t1 - t0)

    def close(self) -> None:
        """The source ended: flush the parser's partial tail and analyse the final runs."""
        with self.lock:
            if self.analysis is None:
                from bertmon.analyzers import analyze

                self.analysis = self.parser.close()
                if self.config_path is not None:  # a run directory: its status.json has the say
                    from bertmon.analyzers.runstatus import settle

                    settle(self.analysis, self.config_path.parent)
                analyze(self.analysis)  # as `bertmon analyze` does on the finished log
                self._rules_records = self.parser.records
            self.ended = True
            self.live = False

    def refresh_findings(self, *, now: bool = False) -> bool:
        """Run the rules over the runs if new records came in and a rule tick is due (or `now`);
        whether they ran."""
        with self.lock:
            records = self.parser.records
            if (
                self.analysis is not None
                or records == self._rules_records
                or not (now or time.monotonic() - self._rules_at >= self._rules_every)
            ):
                return False
            from bertmon.analyzers import analyze

            t0 = time.perf_counter()
            for run in self.parser.runs:
                analyze(run)
            cost = time.perf_counter() - t0
            # catching up on what a log already holds, findings are provisional and the
            # reading comes first; once the bytes arrive as they are written, rules may take
            # a larger share
            share = RULES_SHARE if self.realtime else RULES_SHARE_CATCHING_UP
            self._rules_every = max(RULES_EVERY, cost / share)
            self._rules_at = time.monotonic()
            self._rules_records = records
            return True

    def snapshot(self) -> Snapshot:
        """What the screen shows now, with the findings of the last `refresh_findings`."""
        with self.lock:
            runs = self.analysis.runs if self.analysis is not None else self.parser.runs
            records = self.parser.records
            now = time.monotonic()
            self._take_log(records)
            due = now - self._config_at >= CONFIG_EVERY or self.ended
            self._reload_config(now)
            if due or self._status_seen is None:
                self._reload_status()
            rate = self._throughput(now, runs)
            views = tuple(
                self._view(run, self._dir_finished if i == len(runs) - 1 else None)
                for i, run in enumerate(runs)
            )
            last_write = self._last_write()
            self._outside_seen = (last_write, self._stat(self.status_path))
            return Snapshot(
                label=self.label,
                records=records,
                bytes_read=self.bytes_read,
                runs=views,
                log_tail=tuple(self._log),
                taken_at=now,
                started_at=self.started_at,
                live=self.live,
                ended=self.ended,
                notice=self.notice,
                notice_level=self.notice_level,
                exit_code=self.exit_code,
                config=self.config,
                meta=run_meta(self.config, self._head_meta),
                steps_per_second=rate,
                last_write=last_write,
                quiet_after=max(QUIET_AFTER, QUIET_GAPS * self._longest_gap),
                dir_status=dict(self.dir_status),
                stopped_by_user=self.stopped_by_user,
            )

    def _take_log(self, records: int) -> None:
        new = records - self._records_logged
        if new > 0:
            self._log.extend(self.parser.tail_lines(min(new, LOG_LINES)))
            self._records_logged = records

    def _view(self, run: Run, through: int | None = None) -> RunView:
        """`through`: a stopped run directory's last finished epoch; the cut one is not shown."""
        loss_name = step_name(run, "train_loss")
        series = run.series.get(loss_name) if loss_name else None
        n = len(series) if series is not None else 0
        x, y = self._draw_points(run.index, series, run.steps_per_epoch)
        return RunView(
            index=run.index,
            status=run.status,
            formats=tuple(run.formats),
            epochs_planned=run.epochs_planned,
            epochs=tuple(
                EpochRow(r.epoch, dict(r.metrics), r.seconds)
                for r in run.epochs
                if through is None or r.epoch <= through
            ),
            roles=dict(run.roles),
            step=run.step,
            steps_per_epoch=run.steps_per_epoch,
            error=run.error,
            hints=dict(run.hints),
            findings=tuple(copy.deepcopy(run.findings)),
            best=run.best_dev(),
            step_x=x,
            step_y=y,
            loss_points=n,
            last_loss=series.last if series is not None else None,
            metric_names=tuple(run.metric_names()),
        )

    def _draw_points(self, index: int, series, spe: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Downsample the train-loss series, again only when it grew and not too often."""
        if series is None or len(series) == 0:
            return np.empty(0), np.empty(0)
        n = len(series)
        cached = self._draw_cache.get(index)
        now = time.monotonic()
        if cached is not None:
            n_was, next_at, cx, cy = cached
            if n_was == n or (now < next_at and not self.ended):
                return cx, cy
        t0 = time.perf_counter()
        x, y = _step_axis(series, spe)
        x, y = minmax_downsample(x, y, DRAW_BUCKETS)
        cost = time.perf_counter() - t0
        self._draw_cache[index] = (n, now + 4 * cost, x, y)
        return x, y

    # --- export (from a worker thread of its own) --------------------------------------------
    def export(self, directory: Path, stem: str, plot: bool = False) -> list[Path]:
        """The series as CSV and JSON, the report as Markdown and, with `plot` (matplotlib
        installed), the run's figure as PNG; returns the files written."""
        from bertmon.analyzers import analyze

        directory.mkdir(parents=True, exist_ok=True)
        with self.lock:
            if self.analysis is not None:
                analysis = self.analysis
            else:
                for run in self.parser.runs:
                    analyze(run)
                analysis = Analysis(source=self.label, runs=list(self.parser.runs))
            csv_path = directory / f"{stem}-series.csv"
            with open(csv_path, "w", encoding="utf-8") as out:
                out.write("run,metric,epoch,step,value\n")
                for run in analysis.runs:
                    for name, series in run.series.items():
                        out.writelines(
                            f"{run.index},{_csv(name)},{_num(p.epoch)},"
                            f"{'' if p.step is None else p.step},{_num(p.value)}\n"
                            for p in series
                        )
            json_path = directory / f"{stem}-series.json"
            doc = {
                "source": analysis.source,
                "runs": [
                    {
                        "index": run.index,
                        "series": {name: series_columns(series)  # as analyze's JSON
                                   for name, series in run.series.items()},
                    }
                    for run in analysis.runs
                ],
            }
            json_path.write_text(json.dumps(doc, allow_nan=False), encoding="utf-8")
            from bertmon.analyzers.report import render

            md_path = directory / f"{stem}-report.md"
            md_path.write_text(render(analysis, "markdown"), encoding="utf-8")
            written = [csv_path, json_path, md_path]
            if plot and analysis.runs:
                from bertmon.plots import pick_run
                from bertmon.plots.figure import plot_run

                figure = plot_run(pick_run(analysis.runs), analysis.source)
                written.append(figure.save(directory / f"{stem}-plot.png"))
        return written


def _num(v: float | None) -> str:
    return "" if v is None else repr(v)


def _csv(text: str) -> str:
    if any(c in text for c in ',"\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


SNAPSHOT_EVERY = 0.15  # seconds between snapshots while bytes stream in
OUTSIDE_EVERY = 1.0  # seconds between looks at the log's mtime and status.json while quiet
SNAPSHOT_SHARE = 0.1  # ... or more, so that making snapshots takes at most this share of time
CATCH_UP_EVERY = 0.5  # ... and at least this while reading what a log already holds
QUIET = 0.3  # seconds without bytes after which the source counts as caught up


def drive(
    source,
    feed: Feed,
    *,
    on_snapshot,
    on_event,
    cancelled,
    every: float = SNAPSHOT_EVERY,
) -> None:
    """Run `source` into `feed` until it ends or `cancelled()`; report through the callbacks.

    Snapshots are throttled to one per `every` seconds while data flows, and one goes out at once
    (with fresh findings) whenever the source has caught up or gone idle, so the screen is
    complete as soon as the reading is.
    """
    from bertmon.tui.sources import SourceEvent

    def post_findings(now: bool = False) -> None:
        # snapshots carry the numbers first; when a rule tick is due (or `now`), the findings
        # follow in a second one, so that rule runs never delay values reaching the screen
        if feed.refresh_findings(now=now):
            on_snapshot(feed.snapshot())

    dirty = True  # bytes or news not yet in a posted snapshot
    rules_stale = True  # bytes not yet seen by a rule run made while the source was quiet
    last = 0.0
    looked = 0.0  # when the log's mtime and status.json were last looked at
    last_data = 0.0
    gap = every
    feed.realtime = getattr(source, "realtime", False)
    for item in source:
        if cancelled():
            return
        now = time.monotonic()
        if isinstance(item, bytes):
            feed.feed(item)
            dirty = rules_stale = True
            last_data = now
            if now - last >= gap:
                t0 = time.perf_counter()
                on_snapshot(feed.snapshot())
                # a snapshot of a huge log costs more: keep them to a share of the reading
                # (rules keep to their own share)
                floor = every if feed.realtime else max(every, CATCH_UP_EVERY)
                gap = max(floor, (time.perf_counter() - t0) / SNAPSHOT_SHARE)
                post_findings()
                last = time.monotonic()
                dirty = False
            continue
        if isinstance(item, SourceEvent):
            feed.notice, feed.notice_level = item.text, item.level
            if item.caught_up and feed.live:  # from now on bytes come as the run writes them
                feed.realtime = True
            if item.exit_code is not None:
                feed.exit_code = item.exit_code
            feed.stopped_by_user = feed.stopped_by_user or item.by_user
            on_event(item)
            if item.ended:
                feed.close()
                feed.refresh_findings(now=True)
                on_snapshot(feed.snapshot())
                return
            dirty = True
        # an idle tick or an event: flush what is pending; once the source has gone quiet,
        # bring the findings up to date at once rather than at the next rule tick
        quiet = now - last_data >= QUIET
        if quiet and now - looked >= OUTSIDE_EVERY:
            looked = now
            dirty = dirty or feed.outside_changed()
        if (dirty and now - last >= every) or (rules_stale and quiet):
            on_snapshot(feed.snapshot())
            post_findings(now=quiet)
            last = time.monotonic()
            dirty = False
            rules_stale = rules_stale and not quiet

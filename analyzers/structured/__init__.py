"""Structured files users already have, read into the same runs a log gives.

- `trainer_state.json` (the Hugging Face `Trainer`'s `log_history`; also a checkpoint folder
  holding one, or an output directory of `checkpoint-*` folders: the latest is read),
- a metrics `.csv` with an epoch column (Keras/fastai `CSVLogger`, Lightning's `metrics.csv`),
- TensorBoard event files or a log directory of them (needs the `tensorboard` extra).

Wherever a log is accepted: `series.resolve_log` asks `find_in_dir` what a directory holds,
`series.parse_path` hands TensorBoard paths to `read_path`, and `LogParser` hands its input to a
`StructuredParser` when its first bytes are one of these files (by name or content), so tailing
and standard input work too. A file is read whole again whenever bytes arrive: these files are
small and rewritten in place (the Trainer and Lightning write them anew each time).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..model import Analysis, Coverage, Run

KINDS = ("trainer-state", "csv", "tensorboard")
_JSON_START = re.compile(rb"^\s*\{\s*\"")
_CSV_HEAD = re.compile(
    rb"^\s*([A-Za-z_][\w./ -]*(?:,[A-Za-z_][\w./ -]*)+)\r?\n([-+\w.,: ]*)(?:\r?\n|$)")
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
_VERSION = re.compile(r"version_(\d+)")
_LOG_SUFFIXES = {".log", ".txt", ".out", ".csv", ".json", ".jsonl", ".md"}
_MAX_UNDECIDED = 64 << 20  # a '{"' input that is still no JSON document by then is a log


class UnreadableFile(OSError):
    """A structured file that cannot be read (its message is the one line the CLI prints)."""


# --- finding the file --------------------------------------------------------------------------
def find_in_dir(directory: Path) -> Path | None:
    """What to read in a directory without a `train.log`: a trainer_state.json (the latest
    checkpoint's), a metrics.csv (the latest Lightning version's, up to two folders down), or the
    directory itself when it is a TensorBoard log directory; None when it is none of these."""
    state = directory / "trainer_state.json"
    if state.is_file():
        return state
    checkpoints = sorted(
        (int(m[1]), p) for p in directory.iterdir()
        if (m := _CHECKPOINT.match(p.name)) and (p / "trainer_state.json").is_file())
    if checkpoints:
        return checkpoints[-1][1] / "trainer_state.json"
    csvs = [p for pattern in ("metrics.csv", "version_*/metrics.csv", "*/version_*/metrics.csv")
            for p in directory.glob(pattern) if p.is_file()]
    if csvs:
        def version(p: Path) -> tuple[int, float]:
            m = _VERSION.search(p.parent.name)
            return (int(m[1]) if m else -1, p.stat().st_mtime)
        return max(csvs, key=version)
    from .tensorboard_events import event_files

    # a TensorBoard log directory holds event folders, not logs of its own beside them (a folder
    # of assorted logs is no one run)
    loose = any(p.suffix.lower() in _LOG_SUFFIXES and p.is_file() for p in directory.iterdir())
    if not loose and event_files(directory):
        return directory
    return None


def is_tensorboard_path(path: Path) -> bool:
    """A TensorBoard log directory (as `find_in_dir` returns it) or an event file."""
    from .tensorboard_events import event_files

    return path.is_dir() and bool(event_files(path)) or "tfevents" in path.name and path.is_file()


def event_files_newest(directory: Path) -> Path | None:
    """The event file under `directory` written last (what `bertmon tail` follows)."""
    from .tensorboard_events import event_files

    files = event_files(directory)
    return max(files, key=lambda p: p.stat().st_mtime) if files else None


def read_path(path: Path, source: str) -> Analysis:
    """Read a TensorBoard event file or log directory."""
    from .tensorboard_events import MissingExtra
    from .tensorboard_events import read as read_events

    try:
        runs = read_events(path)
    except MissingExtra as exc:
        raise UnreadableFile(str(exc)) from None
    return analysis(source, runs)


def analysis(source: str, runs: list[Run]) -> Analysis:
    """An Analysis whose coverage adds up its runs' (what the file held, read or not)."""
    total = Coverage()
    for run in runs:
        total.records += run.coverage.records
        total.with_metrics += run.coverage.with_metrics
    return Analysis(source, runs, coverage=total)


# --- recognising the bytes ---------------------------------------------------------------------
def sniff(name: str, head: bytes) -> str | None:
    """Which structured kind `head` (the first bytes of input `name`) starts, if any: `json` (a
    JSON object: a trainer_state.json, or else read as a log), `csv` or `tensorboard`."""
    lower = name.lower()
    if "tfevents" in lower or b"brain.Event:" in head[:64]:
        return "tensorboard"
    if _JSON_START.match(head):
        return "json"
    if lower.endswith(".csv"):
        return "csv"
    m = _CSV_HEAD.match(head)
    if m:
        cells = [c.strip().lower() for c in m[1].split(b",")]
        values = m[2].split(b",")
        numeric = all(_is_number(v) or not v.strip() for v in values) and len(values) == len(cells)
        if (b"epoch" in cells or b"step" in cells) and numeric and any(v.strip() for v in values):
            return "csv"
    return None


def _is_number(text: bytes) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class StructuredParser:
    """`LogParser`'s counterpart for a structured file: bytes in, runs out, read whole again
    when bytes arrived (from the file itself when `source` names one, else from what was fed)."""

    def __init__(self, kind: str, source: str) -> None:
        self.kind = kind
        self.source = source
        self._path = _file(source)
        self._buffer = bytearray()
        self._runs: list[Run] = []
        self._stale = False
        self._closed = False
        self._fallback = None  # the LogParser reading a '{"' input that is no trainer_state.json

    # the LogParser interface ---------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        if self._fallback is not None:
            self._fallback.feed(data)
            return
        if self._path is None or self.kind == "json":
            self._buffer += data
        self._stale = True
        if self.kind == "json":
            self._settle_json(final=False)

    def close(self) -> Analysis:
        self._closed = True
        self._stale = True
        if self._fallback is None and self.kind == "json":
            self._settle_json(final=True)
        if self._fallback is not None:
            return self._fallback.close()
        return analysis(self.source, self.runs)

    @property
    def runs(self) -> list[Run]:
        if self._fallback is not None:
            return self._fallback.runs
        if self._stale:
            self._stale = False
            self._runs = self._read()
        for run in self._runs:
            if not self._closed and run.status == "finished" and self.kind != "json":
                run.status = "running"  # a CSV or event file still being followed
        return self._runs

    def tail_lines(self, n: int) -> list[str]:
        if self._fallback is not None:
            return self._fallback.tail_lines(n)
        if self.kind == "tensorboard" or not n:
            return []
        return self._text().splitlines()[-n:]

    @property
    def dropped_bytes(self) -> int:
        return 0

    # reading -------------------------------------------------------------------------------
    def _bytes(self) -> bytes:
        if self._path is not None:
            try:
                return self._path.read_bytes()
            except OSError:
                return bytes(self._buffer)
        return bytes(self._buffer)

    def _text(self) -> str:
        return self._bytes().decode("utf-8", "replace")

    def _read(self) -> list[Run]:
        if self.kind == "tensorboard":
            assert self._path is not None
            return read_path(self._path, self.source).runs
        if self.kind == "csv":
            from .csv_file import read as read_csv

            return [read_csv(self._text())]
        from .trainer_state import read as read_state

        doc = _last_document(self._text())
        return [] if doc is None else [read_state(doc, finished_hint=self._closed)]

    def _settle_json(self, *, final: bool) -> None:
        """Decide, as soon as the first JSON document is whole, whether this is a trainer
        state; anything else (or no JSON at all) is read as a log, as before."""
        text = self._buffer.decode("utf-8", "replace")
        try:
            doc, _ = json.JSONDecoder().raw_decode(text.lstrip())
        except ValueError:
            if final or len(self._buffer) > _MAX_UNDECIDED:
                self._fall_back()
            return
        from .trainer_state import looks_like

        if not looks_like(doc):
            self._fall_back()

    def _fall_back(self) -> None:
        from ..series import LogParser

        parser = LogParser(self.source)
        parser._sniffed = True  # noqa: SLF001 - it is the log reader for these same bytes
        parser.feed(bytes(self._buffer))
        self._buffer = bytearray()
        self._fallback = parser


def _last_document(text: str) -> dict | None:
    """The last whole trainer-state document in `text` (a followed file rewritten in place is
    fed again from its start, so several may follow each other; a half-written one is skipped)."""
    decoder = json.JSONDecoder()
    pos, found = 0, None
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return found
        try:
            doc, pos = decoder.raw_decode(text, pos)
        except ValueError:
            return found
        from .trainer_state import looks_like

        if looks_like(doc):
            found = doc


def parser_for(source: str, head: bytes) -> StructuredParser | None:
    """A StructuredParser when the input named `source` starting with `head` is a structured
    file, else None (read it as a log)."""
    kind = sniff(source, head)
    if kind is None or kind == "tensorboard" and _file(source) is None:
        return None  # event files are read from their path (the CLI says so for standard input)
    return StructuredParser(kind, source)


def _file(source: str) -> Path | None:
    path = Path(source)
    try:
        return path if source not in ("-", "<stdin>") and path.is_file() else None
    except (OSError, ValueError):  # a label that is no usable path
        return None


__all__ = ["KINDS", "StructuredParser", "UnreadableFile", "event_files_newest", "find_in_dir",
           "is_tensorboard_path",
           "parser_for", "read_path", "sniff"]

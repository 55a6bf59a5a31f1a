"""Runs and findings to text, Markdown or JSON (the JSON document: `report_json.py`).

Reports are written as a stream (`writer(...)`, then `add(run)` as each run is finished, then
`end()`): a log of thousands of runs never holds them all. Text and Markdown show the last
`FULL_RUNS` runs in full and the earlier ones one line each, spooled to a temporary file.

Colour in the text report is plain ANSI, written only when asked (the CLI asks when stdout is a
terminal): this module must stay free of Rich and Textual.
"""

from __future__ import annotations

import io
import math
import tempfile
from collections import deque
from typing import TextIO

from bertmon import __version__

from .model import SEVERITY_RANK, Analysis, Coverage, Run
from .report_json import SERIES_MODES, JsonWriter, SeriesMode
from .report_json import num as _num  # noqa: F401 (compare.py reads it from here)

FORMATS = ("text", "markdown", "json")
_COLOURS = {"error": "\x1b[1;31m", "warning": "\x1b[33m", "info": "\x1b[36m", "best": "\x1b[1;32m",
            "dim": "\x1b[2m", "bold": "\x1b[1m"}
_RESET = "\x1b[0m"


FULL_RUNS = 10  # a log of many runs: the last ones shown in full ...
SUMMARISE_OVER = 20  # ... once it holds more than this many
__all__ = ["FORMATS", "SERIES_MODES", "render", "writer"]


def render(analysis: Analysis, fmt: str = "text", color: bool = False,
           series: SeriesMode = "all") -> str:
    buf = io.StringIO()
    w = writer(buf, analysis.source, fmt, color=color, series=series)
    for run in analysis.runs:
        w.add(run)
    w.end(analysis.coverage)
    return buf.getvalue()


def writer(out: TextIO, source: str, fmt: str = "text", color: bool = False,
           series: SeriesMode = "all") -> JsonWriter | HumanWriter:
    """A report written run by run: `add(run)` for each finished run, then `end()`."""
    if fmt == "json":
        return JsonWriter(out, source, series)
    return HumanWriter(out, source, markdown=fmt == "markdown", color=color)


# --- shared pieces of the human reports ---------------------------------------------------
def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.3e}"
    return f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) < 1e3 else f"{value:.1f}"


def table_columns(run: Run) -> list[str]:
    """Role metrics first (train loss, train acc, dev loss, dev acc, dev score), then the rest."""
    names: list[str] = []
    for role in ("train_loss", "train_acc", "dev_loss", "dev_acc", "dev_score"):
        name = run.roles.get(role)
        if name and name not in names:
            names.append(name)
    for row in run.epochs:
        for name in row.metrics:
            if name not in names:
                names.append(name)
    return names


def summary_lines(run: Run) -> list[str]:
    epochs = f"{len(run.epochs)} epoch{'s' if len(run.epochs) != 1 else ''}"
    if run.epochs_planned:
        epochs += f" of {run.epochs_planned} planned"
    formats = ", ".join(run.formats) or "none recognised"
    lines = [f"formats: {formats}   status: {run.status}   {epochs}"]
    best = run.best_dev()
    if best:
        name, epoch, value = best
        last = run.epochs[-1].epoch if run.epochs else epoch
        since = f", {last - epoch} epoch{'s' if last - epoch != 1 else ''} ago" if last > epoch else ""
        lines.append(f"best dev {name}: {_fmt(value)} at epoch {epoch}{since}")
    if run.error:
        lines.append(f"ended with: {run.error}")
    return lines


def coverage_lines(coverage: Coverage) -> list[str]:
    """How much of the log was understood, in words: records that gave metrics, and lines that
    look like metrics but that no format reader took (the first few of them, quoted)."""
    lines = [f"understood: {coverage.with_metrics:,} of {coverage.records:,} lines gave metrics"]
    if coverage.unmatched_metric_like:
        n = coverage.unmatched_metric_like
        lines[0] += (f"; {n:,} line{'s' if n != 1 else ''} that look{'s' if n == 1 else ''} "
                     f"like metrics {'was' if n == 1 else 'were'} not read")
        lines.extend(f"  not read: {example}" for example in coverage.unmatched_examples)
    return lines


NOTHING_READ = ("Nothing was read: no training metrics were recognised in this log (Keras, tqdm, "
                "Trainer, Lightning, results tables, name=value lines, trainer_state.json, CSV or "
                "TensorBoard files). No diagnosis is possible.")
NO_EPOCH = "No epoch was read from this run, so it could not be diagnosed."
# ... but its series gave findings (a NaN at an evaluation between epochs)
NO_EPOCH_BUT = ("No whole epoch was read from this run, so it could not be diagnosed as a whole; "
                "what its values show:")


def _no_epoch(findings: list) -> str:
    return NO_EPOCH_BUT if findings else NO_EPOCH


def _sorted_findings(run: Run):
    return sorted(run.findings, key=lambda f: (-SEVERITY_RANK[f.severity], f.epoch or 0))


# --- text and Markdown ----------------------------------------------------------------
class HumanWriter:
    """The text or Markdown report, run by run. Up to SUMMARISE_OVER runs are all shown in
    full; beyond that the earlier runs become one table row each (spooled to a temporary
    file, so a log of 100,000 runs holds only the last few Run objects)."""

    def __init__(self, out: TextIO, source: str, markdown: bool = False,
                 color: bool = False) -> None:
        self.out = out
        self.source = source
        self.markdown = markdown
        self.color = color and not markdown
        self._recent: deque[Run] = deque()
        self._table: tempfile.SpooledTemporaryFile | None = None
        self._summarised = 0
        self._total = 0

    def c(self, style: str, text: str) -> str:
        return f"{_COLOURS[style]}{text}{_RESET}" if self.color else text

    def add(self, run: Run) -> None:
        self._total += 1
        self._recent.append(run)
        if len(self._recent) > SUMMARISE_OVER:
            self._summarise(self._recent.popleft())

    def _summarise(self, run: Run) -> None:
        if self._table is None:
            self._table = tempfile.SpooledTemporaryFile(max_size=1 << 20, mode="w+",
                                                         encoding="utf-8")
        self._summarised += 1
        cells = _summary_cells(run)
        if self.markdown:
            self._table.write("| " + " | ".join(cells) + " |\n")
        else:
            number, status, epochs, best, findings = cells
            self._table.write(f"  {number:>7}  {status:<9}  {epochs:>10}  {best:<34}  {findings}"
                              .rstrip() + "\n")

    def end(self, coverage: Coverage | None = None) -> None:
        """Write the report; `coverage` (the whole log's) is shown when no run was found."""
        if self._summarised:
            while len(self._recent) > FULL_RUNS:
                self._summarise(self._recent.popleft())
        out = self.out
        if self.markdown:
            out.write(f"# bertmon report: `{self.source}`\n\n")
            if not self._total:
                out.write(f"**{NOTHING_READ}**\n\n")
                if coverage is not None:
                    out.write("\n".join(_md_coverage(coverage)) + "\n")
        else:
            out.write(self.c("bold", f"bertmon {__version__} — {self.source}") + "\n")
            if not self._total:
                out.write(self.c("warning", NOTHING_READ) + "\n")
                if coverage is not None:
                    out.write("".join(f"  {line}\n" for line in coverage_lines(coverage)))
        if self._table is not None:
            self._write_table()
        for i, run in enumerate(self._recent):
            if self.markdown and i:
                out.write("\n")
            lines = (_markdown_run(run, self._total) if self.markdown
                     else _text_run(run, self._total, self.c))
            out.write("\n".join(lines) + "\n")
        self._recent.clear()

    def _write_table(self) -> None:
        assert self._table is not None
        n = self._summarised
        title = (f"Runs 1-{n} of {self._total}, one line each "
                 f"(the last {self._total - n} follow in full)")
        if self.markdown:
            self.out.write(f"## {title}\n\n| run | status | epochs | best dev | findings |\n"
                           "|---:|---|---:|---|---|\n")
        else:
            self.out.write("\n" + self.c("bold", title) + "\n")
            self.out.write(f"  {'run':>7}  {'status':<9}  {'epochs':>10}  {'best dev':<34}  "
                           "findings\n")
        self._table.seek(0)
        while block := self._table.read(1 << 16):
            self.out.write(block)
        self._table.close()
        self._table = None
        if self.markdown:
            self.out.write("\n")


def _summary_cells(run: Run) -> list[str]:
    epochs = str(len(run.epochs))
    if run.epochs_planned:
        epochs += f" of {run.epochs_planned}"
    best = run.best_dev()
    best_text = f"{best[0]} {_fmt(best[2])} at {best[1]}" if best else ""
    counts: dict[str, int] = {}
    for f in _sorted_findings(run):
        counts[f.rule] = counts.get(f.rule, 0) + 1
    findings = ", ".join(rule if k == 1 else f"{rule} x{k}" for rule, k in counts.items())
    return [str(run.index + 1), run.status, epochs, best_text, findings or "-"]


def _text_run(run: Run, total: int, c) -> list[str]:
    out = ["", c("bold", f"Run {run.index + 1} of {total}")]
    out.extend("  " + line for line in summary_lines(run))
    out.extend("  " + line for line in coverage_lines(run.coverage))
    if run.epochs:
        out.append("")
        out.extend("  " + line for line in _text_table(run, c))
    out.append("")
    findings = _sorted_findings(run)
    out.append("  " + findings_line(run))
    if not run.epochs:
        out.append("  " + c("warning", _no_epoch(findings)))
    elif not findings:
        out.append("  " + c("best", "No problems found."))
    for f in findings:
        where = f" (epoch {f.epoch})" if f.epoch is not None else ""
        out.append("  " + c(f.severity, f"{f.severity.upper():7}") + f" {f.rule}{where}")
        out.append(f"          {f.message}")
        if f.remedy:
            out.append(f"          remedy: {f.remedy}")
        if f.basis:
            out.append(c("dim", f"          basis: {f.basis}"))
        if f.evidence:
            evidence = ", ".join(f"{k}={_short(v)}" for k, v in f.evidence.items())
            out.append(c("dim", f"          evidence: {evidence}"))
    return out


def findings_line(run: Run) -> str:
    """One line saying what the verdict rests on: how many findings, what the log printed
    (epochs seen, of how many planned, from where), and what was inferred rather than read."""
    counts = {sev: sum(f.severity == sev for f in run.findings)
              for sev in ("error", "warning", "info")}
    said = ", ".join(f"{n} {sev}{'s' if n != 1 else ''}"
                     for sev, n in counts.items() if n) or "none"
    if not run.epochs:
        return f"findings: {said}; no epoch could be read, so nothing is judged healthy"
    first, last = run.epochs[0].epoch, run.epochs[-1].epoch
    seen = f"epochs {first}-{last}" if first != last else f"epoch {first}"
    if run.epochs_planned and (last < run.epochs_planned or first > 3):
        seen += f" of {run.epochs_planned}"
    if first > 3:
        seen += " (a fragment: judged on what it shows)"
    names = [run.roles[role] for role in ("train_loss", "train_acc", "dev_loss", "dev_acc",
                                          "dev_score") if run.roles.get(role)]
    rests = f"printed {', '.join(dict.fromkeys(names)) or 'no role metrics'} for {seen}"
    hints = run.hints if isinstance(run.hints, dict) else {}
    if isinstance(hints.get("num_classes"), int):
        rests += f"; {hints['num_classes']} classes printed"
    inferred = sorted({f.basis.split("inferred", 1)[1].split(";")[0].strip()
                       for f in run.findings if "inferred" in f.basis})
    if inferred:
        rests += "; inferred " + "; ".join(inferred)
    if run.status in ("crashed", "diverged", "stopped", "running"):
        rests += f"; status {run.status}"
    return f"findings: {said}; rests on {rests}"


def _short(value: object) -> str:
    if isinstance(value, float):
        return _fmt(value)
    if isinstance(value, (list, tuple)) and len(value) > 8:
        return "[" + ", ".join(_short(v) for v in value[:8]) + ", …]"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return str(value)


def _text_table(run: Run, c) -> list[str]:
    columns = table_columns(run)
    header = ["epoch", "time"] + columns
    best = run.best_dev()
    rows = []
    for row in run.epochs:
        cells = [str(row.epoch), f"{row.seconds:.0f}s" if row.seconds is not None else ""]
        cells += [_fmt(row.metrics.get(name)) for name in columns]
        rows.append((row.epoch, cells))
    widths = [max(len(h), *(len(cells[i]) for _, cells in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths))]
    for epoch, cells in rows:
        line = "  ".join(v.rjust(w) for v, w in zip(cells, widths))
        if best and epoch == best[1]:
            line = c("best", line + "  ← best")
        lines.append(line)
    return lines


def _md_coverage(coverage: Coverage) -> list[str]:
    first, *_ = coverage_lines(coverage)
    quoted = [example.replace("`", "'") for example in coverage.unmatched_examples]
    return [f"- {first}"] + [f"  - not read: `{example}`" for example in quoted]


def _markdown_run(run: Run, total: int) -> list[str]:
    out = [f"## Run {run.index + 1} of {total}", ""]
    out.extend(f"- {line}" for line in summary_lines(run))
    out.extend(_md_coverage(run.coverage))
    out.append("")
    if run.epochs:
        columns = table_columns(run)
        best = run.best_dev()
        out.append("| epoch | time | " + " | ".join(columns) + " |")
        out.append("|---:|---:|" + "---:|" * len(columns))
        for row in run.epochs:
            mark = " **(best)**" if best and row.epoch == best[1] else ""
            seconds = f"{row.seconds:.0f}s" if row.seconds is not None else ""
            cells = [_fmt(row.metrics.get(n)) for n in columns]
            out.append(f"| {row.epoch}{mark} | {seconds} | " + " | ".join(cells) + " |")
        out.append("")
    out.append("### Findings")
    out.append("")
    line = findings_line(run)
    out.append(line[0].upper() + line[1:] + ".")
    out.append("")
    findings = _sorted_findings(run)
    if not run.epochs:
        out.append(f"**{_no_epoch(findings)}**")
    elif not findings:
        out.append("No problems found.")
    for f in findings:
        where = f" (epoch {f.epoch})" if f.epoch is not None else ""
        out.append(f"- **{f.severity}** `{f.rule}`{where}: {f.message}")
        if f.remedy:
            out.append(f"  - remedy: {f.remedy}")
        if f.basis:
            out.append(f"  - basis: {f.basis}")
        if f.evidence:
            evidence = ", ".join(f"{k}={_short(v)}" for k, v in f.evidence.items())
            out.append(f"  - evidence: {evidence}")
    return out

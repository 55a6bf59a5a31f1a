"""Runs and findings to text, Markdown or JSON (the JSON is ../shared/contract/analyze-json.md).

Colour in the text report is plain ANSI, written only when asked (the CLI asks when stdout is a
terminal): this module must stay free of Rich and Textual.
"""

from __future__ import annotations

import json
import math

from bertmon import __version__

from .model import SEVERITY_RANK, Analysis, Run

FORMATS = ("text", "markdown", "json")
_COLOURS = {"error": "\x1b[1;31m", "warning": "\x1b[33m", "info": "\x1b[36m", "best": "\x1b[1;32m",
            "dim": "\x1b[2m", "bold": "\x1b[1m"}
_RESET = "\x1b[0m"


def render(analysis: Analysis, fmt: str = "text", color: bool = False) -> str:
    if fmt == "json":
        return json.dumps(to_json(analysis), indent=2, allow_nan=False) + "\n"
    if fmt == "markdown":
        return _markdown(analysis)
    return _text(analysis, color)


# --- JSON ---------------------------------------------------------------------------------
def _num(value: float | int | None) -> float | int | str | None:
    """Strict JSON: NaN and infinities as strings, integral epochs as integers."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
    return value


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (int, float)) or value is None:
        return _num(value)
    return str(value)


def _epoch_number(epoch: float | None) -> float | int | None:
    if epoch is None:
        return None
    return int(epoch) if float(epoch).is_integer() else epoch


def run_to_json(run: Run) -> dict:
    return {
        "index": run.index,
        "formats": list(run.formats),
        "status": run.status,
        "epochs_planned": run.epochs_planned,
        "roles": dict(run.roles),
        "epochs": [
            {"epoch": row.epoch, "seconds": _num(row.seconds),
             "metrics": {k: _num(v) for k, v in row.metrics.items()}}
            for row in run.epochs
        ],
        "series": {
            name: [{"epoch": _epoch_number(p.epoch), "step": p.step, "value": _num(p.value)}
                   for p in series]
            for name, series in run.series.items()
        },
        "findings": [
            {"rule": f.rule, "severity": f.severity, "epoch": f.epoch, "message": f.message,
             "evidence": _jsonable(f.evidence), "remedy": f.remedy}
            for f in run.findings
        ],
        "error": run.error,
        "best": _best_json(run),
        "hints": _jsonable(run.hints),
    }


def _best_json(run: Run) -> dict | None:
    best = run.best_dev()
    if best is None:
        return None
    name, epoch, value = best
    return {"metric": name, "epoch": epoch, "value": _num(value)}


def to_json(analysis: Analysis) -> dict:
    return {"bertmon": __version__, "source": analysis.source,
            "runs": [run_to_json(run) for run in analysis.runs]}


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


def _sorted_findings(run: Run):
    return sorted(run.findings, key=lambda f: (-SEVERITY_RANK[f.severity], f.epoch or 0))


# --- text -------------------------------------------------------------------------------
def _text(analysis: Analysis, color: bool) -> str:
    def c(style: str, text: str) -> str:
        return f"{_COLOURS[style]}{text}{_RESET}" if color else text

    out = [c("bold", f"bertmon {__version__} — {analysis.source}")]
    if not analysis.runs:
        out.append("No training metrics recognised in this log (Keras, tqdm, Trainer or "
                   "name=value lines).")
    for run in analysis.runs:
        out.append("")
        out.append(c("bold", f"Run {run.index + 1} of {len(analysis.runs)}"))
        out.extend("  " + line for line in summary_lines(run))
        if run.epochs:
            out.append("")
            out.extend("  " + line for line in _text_table(run, c))
        out.append("")
        findings = _sorted_findings(run)
        out.append("  " + findings_line(run))
        if not findings:
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
    return "\n".join(out) + "\n"


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


# --- Markdown ---------------------------------------------------------------------------
def _markdown(analysis: Analysis) -> str:
    out = [f"# bertmon report: `{analysis.source}`", ""]
    if not analysis.runs:
        out.append("No training metrics recognised in this log.")
    for run in analysis.runs:
        out.append(f"## Run {run.index + 1} of {len(analysis.runs)}")
        out.append("")
        out.extend(f"- {line}" for line in summary_lines(run))
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
        out.append(findings_line(run)[0].upper() + findings_line(run)[1:] + ".")
        out.append("")
        findings = _sorted_findings(run)
        if not findings:
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
        out.append("")
    return "\n".join(out)

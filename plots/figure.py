"""The figure of one run, or of two overlaid: loss, accuracy/score, best epoch, NaN/inf, findings.

Built with matplotlib's object API on an Agg canvas (no pyplot, no global state), so it can be
drawn from the monitor's export worker thread. The figure is returned with every mark it drew
(best epoch, non-finite values, findings) and its coordinates, which is what the tests check the
saved image against.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bertmon.analyzers.model import SEVERITY_RANK, Finding, Run
from bertmon.analyzers.report import _fmt
from bertmon.tui.plotdata import minmax_downsample, smooth

from .data import MAX_STEP_POINTS, epoch_points, finite_or_nan, nonfinite, step_points

SEVERITY_COLOR = {"error": "#d62728", "warning": "#e69f00", "info": "#7f7f7f"}
BEST_COLOR = "#9467bd"
NONFINITE_COLOR = "#d62728"
NONFINITE_Y = 0.95  # axes fraction where NaN/inf are marked
ROLE_COLOR = {"train_loss": "#1f77b4", "dev_loss": "#ff7f0e", "train_acc": "#1f77b4",
              "dev_acc": "#ff7f0e", "dev_score": "#2ca02c"}
ROLE_STYLE = {"train_loss": "-", "dev_loss": "--", "train_acc": "-", "dev_acc": "--",
              "dev_score": "-."}
RUN_COLOR = ("#1f77b4", "#d62728")  # A, B in an overlay
PANELS = {"loss": ("train_loss", "dev_loss"), "metrics": ("train_acc", "dev_acc", "dev_score")}
SIZE_IN = (10.0, 7.0)
DPI = 100


@dataclass
class Mark:
    """Something the figure marks at an epoch: where it is, in which panel, drawn how."""

    kind: str  # "best", "nonfinite", "finding"
    label: str
    x: float
    y: float | None  # data y; None for a mark at a fixed height of the panel
    panel: str
    color: str
    y_axes: float | None = None  # axes fraction, for marks drawn at a fixed height


@dataclass
class RunFigure:
    figure: Figure
    axes: dict[str, Axes]
    marks: list[Mark] = field(default_factory=list)

    def save(self, path: str | Path) -> Path:
        """Write PNG, SVG or PDF (by suffix) at the figure's own dpi, so marks keep their
        pixel positions (no tight bounding box)."""
        path = Path(path)
        self.figure.savefig(path, dpi=self.figure.dpi)
        return path

    def pixel(self, mark: Mark) -> tuple[float, float]:
        """(column, row) of a mark in the saved PNG (row 0 at the top)."""
        ax = self.axes[mark.panel]
        if mark.y is None:
            xd, yd = ax.get_xaxis_transform().transform((mark.x, mark.y_axes or 0.0))
        else:
            xd, yd = ax.transData.transform((mark.x, mark.y))
        height = self.figure.bbox.height
        return float(xd), float(height - yd)


def plot_run(run: Run, source: str = "") -> RunFigure:
    """One run: per-role colours, per-step train loss lightly smoothed, best epoch, findings."""
    fig, axes = _frame([run])
    result = RunFigure(fig, axes)
    _draw_run(result, run, prefix="", colors=ROLE_COLOR, steps_color=ROLE_COLOR["train_loss"])
    _draw_findings(result, [("", run)])
    _finish(result, [run], f"{source}\n{_run_title(run)}" if source else _run_title(run))
    return result


def plot_comparison(a: Run, b: Run, labels: tuple[str, str] = ("A", "B"),
                    title: str = "") -> RunFigure:
    """Two runs overlaid: colour says which run, line style which role."""
    fig, axes = _frame([a, b])
    result = RunFigure(fig, axes)
    for run, label, color in zip((a, b), ("A", "B"), RUN_COLOR):
        _draw_run(result, run, prefix=f"{label} ", colors=dict.fromkeys(ROLE_COLOR, color),
                  steps_color=color)
    _draw_findings(result, [("A: ", a), ("B: ", b)])
    head = title or f"A: {labels[0]}  vs  B: {labels[1]}"
    _finish(result, [a, b], head)
    return result


# --- pieces ------------------------------------------------------------------------------------
def _findings_of(run: Run) -> list[Finding]:
    return sorted(run.findings, key=lambda f: (f.epoch is None, f.epoch or 0,
                                               -SEVERITY_RANK[f.severity]))


def _frame(runs: list[Run]) -> tuple[Figure, dict[str, Axes]]:
    n_findings = sum(len(r.findings) for r in runs)
    strip = max(0.35, 0.16 * n_findings)
    fig = Figure(figsize=(SIZE_IN[0], SIZE_IN[1] + max(0.0, strip - 0.7)), dpi=DPI,
                 layout="constrained")
    FigureCanvasAgg(fig)
    loss, metrics, findings = fig.subplots(
        3, 1, sharex=True, gridspec_kw={"height_ratios": [1.0, 1.0, strip]})
    loss.set_ylabel("loss")
    metrics.set_ylabel("accuracy / score")
    findings.set_ylabel("findings")
    findings.set_yticks([])
    findings.set_xlabel("epoch")
    findings.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in (loss, metrics, findings):
        ax.grid(True, alpha=0.25)
    for ax in (loss, metrics):
        ax.margins(y=0.1)  # room for the best-epoch star at either end
    return fig, {"loss": loss, "metrics": metrics, "findings": findings}


def _draw_run(result: RunFigure, run: Run, *, prefix: str, colors: dict[str, str],
              steps_color: str) -> None:
    axes = result.axes
    steps = step_points(run, "train_loss")
    if steps is not None:
        name, x, y = steps
        xd, yd = minmax_downsample(x, y, MAX_STEP_POINTS // 2)
        axes["loss"].plot(xd, finite_or_nan(yd), color=steps_color, alpha=0.18, lw=0.8,
                          label=f"{prefix}{name} per step")
        smoothed = np.where(np.isfinite(y), smooth(finite_or_nan(y), "ema"), np.nan)
        axes["loss"].plot(x, smoothed, color=steps_color, alpha=0.55,
                          lw=1.2, label=f"{prefix}{name} per step, EMA 0.6")
        _mark_nonfinite(result, "loss", f"{prefix}{name}", x, y, per_step=True)
    for panel, roles in PANELS.items():
        for role in roles:
            name = run.roles.get(role)
            if not name:
                continue
            x, y = epoch_points(run, name)
            if not len(x):
                continue
            axes[panel].plot(x, finite_or_nan(y), ROLE_STYLE[role], color=colors[role],
                             marker="o", ms=3.5, lw=1.6, label=f"{prefix}{name}")
            _mark_nonfinite(result, panel, f"{prefix}{name}", x, y, per_step=False)
    best = run.best_dev()
    if best is not None:
        metric, epoch, value = best
        panel = "loss" if metric == run.roles.get("dev_loss") else "metrics"
        color = BEST_COLOR if not prefix else colors["dev_score"]
        for ax in (axes["loss"], axes["metrics"]):
            ax.axvline(epoch, color=color, ls=":", lw=1.4, alpha=0.9)
        axes[panel].plot([epoch], [value], marker="*", ms=17, color=color, mec="black", mew=0.8,
                         ls="none", zorder=5,
                         label=f"{prefix}best {metric} {_fmt(value)} @ epoch {epoch}")
        result.marks.append(Mark("best", f"{prefix}{metric}", float(epoch), float(value), panel,
                                 color))


def _mark_nonfinite(result: RunFigure, panel: str, name: str, x: np.ndarray, y: np.ndarray,
                    *, per_step: bool) -> None:
    bad = nonfinite(x, y)
    if not bad:
        return
    ax = result.axes[panel]
    trans = ax.get_xaxis_transform()
    xs = [b[0] for b in bad]
    height = NONFINITE_Y - (0.07 if per_step else 0.0)
    kinds = sorted({k for _, k in bad})
    ax.scatter(xs, [height] * len(xs), marker="x" if per_step else "X",
               s=22 if per_step else 70, color=NONFINITE_COLOR, transform=trans, zorder=6,
               clip_on=False, label=f"{name} {'/'.join(kinds)} ({len(bad)})")
    if not per_step:
        for xi, kind in bad:
            ax.annotate(kind, (xi, height), xycoords=trans, xytext=(6, -3),
                        textcoords="offset points", color=NONFINITE_COLOR, fontsize=8,
                        va="top")
    for xi, kind in bad:
        result.marks.append(Mark("nonfinite", f"{name} {kind}", xi, None, panel,
                                 NONFINITE_COLOR, y_axes=height))


def _draw_findings(result: RunFigure, runs: list[tuple[str, Run]]) -> None:
    strip = result.axes["findings"]
    rows = [(prefix, run, f) for prefix, run in runs for f in _findings_of(run)]
    if not rows:
        strip.text(0.5, 0.5, "no problems found", transform=strip.transAxes, ha="center",
                   va="center", color="#555555")
        strip.set_ylim(0, 1)
        return
    lo, hi = _epoch_span([run for _, run in runs])
    n = len(rows)
    strip.set_ylim(n - 0.4, -0.6)
    for i, (prefix, run, f) in enumerate(rows):
        where = f.epoch if f.epoch is not None else (run.current_epoch or hi)
        color = SEVERITY_COLOR[f.severity]
        for panel in ("loss", "metrics"):
            result.axes[panel].axvline(where, color=color, ls=(0, (2, 3)), lw=1.0, alpha=0.8)
        strip.plot([where], [i], marker="v", ms=9, color=color, mec="black", mew=0.5)
        at = "" if f.epoch is not None else " (whole run)"
        text = f"{prefix}{f.severity} {f.rule}{at}"
        right = where > (lo + hi) / 2
        strip.annotate(text, (where, i), xytext=(-9 if right else 9, 0),
                       textcoords="offset points", ha="right" if right else "left",
                       va="center", fontsize=9, color="black",
                       bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": color, "lw": 0.8})
        result.marks.append(Mark("finding", f"{prefix}{f.rule}", float(where), float(i),
                                 "findings", color))


def _epoch_span(runs: list[Run]) -> tuple[float, float]:
    epochs = [row.epoch for run in runs for row in run.epochs]
    if not epochs:
        return 0.0, 1.0
    return float(min(epochs)), float(max(epochs))


def _finish(result: RunFigure, runs: list[Run], title: str) -> None:
    lo, hi = _epoch_span(runs)
    has_steps = any(step_points(run) is not None for run in runs)
    left = min(lo - 1.0, 0.0) if has_steps else lo - 0.5
    pad = max(0.3, 0.02 * (hi - left))
    result.axes["findings"].set_xlim(left, hi + pad)
    loss = result.axes["loss"]
    values = np.concatenate([np.asarray(line.get_ydata(), dtype=float)
                             for line in loss.get_lines()] or [np.zeros(0)])
    finite = values[np.isfinite(values)]
    if len(finite) and finite.min() > 0 and finite.max() / finite.min() > 1e3:
        loss.set_yscale("log")  # a loss that blew up would flatten everything else
    for name in ("loss", "metrics"):
        ax = result.axes[name]
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="best", framealpha=0.85)
        else:
            ax.text(0.5, 0.5, f"no {'loss' if name == 'loss' else 'accuracy or score'} printed",
                    transform=ax.transAxes, ha="center", va="center", color="#555555")
    result.figure.suptitle(title, fontsize=11)


def _run_title(run: Run) -> str:
    epochs = f"{len(run.epochs)} epoch{'s' if len(run.epochs) != 1 else ''}"
    best = run.best_dev()
    tail = f"; best {best[0]} {_fmt(best[2])} at epoch {best[1]}" if best else ""
    return f"{run.status}, {epochs}{tail}"

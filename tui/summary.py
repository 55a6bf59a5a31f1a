"""The paragraph the monitor leaves behind on the terminal when it quits (as `htop`-style tools
leave a line): which run, how it ended, how far it got, its best dev score and its findings.

No Textual import: `bertmon train` and `bertmon tail` print it after the app has exited.
"""

from __future__ import annotations

from collections.abc import Sequence

from bertmon.analyzers.model import SEVERITY_RANK, Finding

MAX_FINDINGS = 4


DEV_PREFIXES = ("dev", "val", "eval", "valid", "test")


def dev_label(metric: str) -> str:
    """`dev_f1` and `val_accuracy` say they are dev scores; `final_score` needs the word."""
    return metric if metric.lower().startswith(DEV_PREFIXES) else f"dev {metric}"


def status_words(status: str, stopped_by_user: bool = False) -> str:
    """`STOPPED (by you)` for a stop the user asked for; the status in capitals otherwise."""
    if status == "stopped" and stopped_by_user:
        return "STOPPED (by you)"
    return status.upper()


def summary_paragraph(
    name: str,
    status: str,
    *,
    epochs_done: int,
    epochs_planned: int | None,
    best: tuple[str, int, float] | None,
    findings: Sequence[Finding],
    error: str | None = None,
    where: str | None = None,
    stopped_by_user: bool = False,
    run_of: tuple[int, int] | None = None,
) -> str:
    """One paragraph: `bertmon: <name> FINISHED, 3 of 3 epochs; best dev_f1 0.81 at epoch 2; ...`."""
    parts = [f"bertmon: {name}"]
    if run_of is not None and run_of[1] > 1:
        parts[0] += f" (run {run_of[0]} of {run_of[1]})"
    epochs = f"{epochs_done} epoch{'s' if epochs_done != 1 else ''}"
    if epochs_planned:
        epochs = f"{epochs_done} of {epochs_planned} epochs"
    parts[0] += f" {status_words(status, stopped_by_user)}, {epochs}"
    if best is not None:
        metric, epoch, value = best
        parts.append(f"best {dev_label(metric)} {value:.4f} at epoch {epoch}")
    else:
        parts.append("no dev score")
    ranked = sorted(findings, key=lambda f: (-SEVERITY_RANK.get(f.severity, 0), f.epoch or 0))
    if ranked:
        shown = ", ".join(
            f"{f.severity.upper()} {f.rule}" + (f" (epoch {f.epoch})" if f.epoch else "")
            for f in ranked[:MAX_FINDINGS]
        )
        more = f" and {len(ranked) - MAX_FINDINGS} more" if len(ranked) > MAX_FINDINGS else ""
        parts.append(f"{len(ranked)} finding{'s' if len(ranked) != 1 else ''}: {shown}{more}")
    else:
        parts.append("no findings")
    if error:
        parts.append(f"ended with: {error}")
    text = "; ".join(parts) + "."
    if where:
        text += f"\n{where}"
    return text

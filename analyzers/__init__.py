"""bertmon's headless core: log bytes -> records -> format readers -> runs -> findings.

Imports neither Textual, Rich, torch nor TensorFlow (tests/test_import_hygiene.py holds it).
"""

from __future__ import annotations

from .model import SEVERITY_RANK, Analysis, Coverage, EpochRow, Finding, Point, Run, Series
from .roles import infer_roles, step_name
from .series import LogParser, parse_bytes, parse_path, resolve_log


def analyze(target: Analysis | Run, overrides: dict[str, dict] | None = None) -> list:
    """Run every registered rule; store the findings on each run and return them."""
    from .rules import check_run

    runs = target.runs if isinstance(target, Analysis) else [target]
    found = []
    for run in runs:
        run.findings = check_run(run, overrides)
        found.extend(run.findings)
    return found


__all__ = [
    "SEVERITY_RANK", "Analysis", "Coverage", "EpochRow", "Finding", "LogParser", "Point", "Run", "Series",
    "analyze", "infer_roles", "parse_bytes", "parse_path", "resolve_log", "step_name",
]

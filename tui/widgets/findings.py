"""The findings panel: what the rules say about the run, most severe first, as they fire."""

from __future__ import annotations

import json

from rich.text import Text
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from bertmon.analyzers.model import Finding
from bertmon.tui.feed import Snapshot

SEVERITY_STYLE = {"error": "bold red", "warning": "bold yellow", "info": "bold cyan"}


def finding_text(finding: Finding, tag: str = "") -> Text:
    text = Text()
    text.append(f"{finding.severity.upper():7}", style=SEVERITY_STYLE.get(finding.severity, "bold"))
    if tag:
        text.append(f" [{tag}]", style="bold")
    text.append(f" {finding.rule}", style="bold")
    if finding.epoch is not None:
        text.append(f" (epoch {finding.epoch})", style="dim")
    text.append(f"\n{finding.message}")
    if finding.remedy:
        text.append("\nremedy: ", style="bold green")
        text.append(finding.remedy)
    if finding.evidence:
        evidence = json.dumps(finding.evidence, default=str)
        text.append("\nevidence: ", style="dim bold")
        text.append(evidence, style="dim")
    return text


class FindingsPanel(VerticalScroll):
    """One Static per finding, with a severity class the stylesheet colours."""

    primary: reactive[Snapshot | None] = reactive(None, always_update=True, repaint=False)
    secondary: reactive[Snapshot | None] = reactive(None, always_update=True, repaint=False)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown: object = None
        self.border_title = "findings"

    def watch_primary(self) -> None:
        self.rebuild()

    def watch_secondary(self) -> None:
        self.rebuild()

    def rebuild(self) -> None:
        items: list[tuple[str, Finding]] = []
        both = self.secondary is not None
        for tag, snap in (("A", self.primary), ("B", self.secondary)):
            if snap is not None:
                items += [(tag if both else "", f) for f in snap.findings]
        which = ""
        snap = self.primary
        if not both and snap is not None and len(snap.runs) > 1:
            which = f" · run {snap.shown + 1} of {len(snap.runs)}"  # whose findings these are
        key = (which, tuple((tag, f.rule, f.severity, f.epoch, f.message) for tag, f in items))
        if key == self._shown or not self.is_mounted:
            return
        self._shown = key
        self.border_title = f"findings ({len(items)}){which}"
        self.remove_children()
        if not items:
            ready = self.primary is not None and self.primary.run is not None
            words = "no findings so far" if ready else "findings appear here as the rules fire"
            self.mount(Static(words, classes="finding -none"))
            return
        self.mount_all(
            Static(finding_text(f, tag), classes=f"finding -{f.severity}") for tag, f in items
        )

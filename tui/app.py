"""The bertmon monitor app: screens and bindings. Entry points for `bertmon tail` and `train`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual.actions import parse as parse_action
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from bertmon.tui.dialogs import ConfirmScreen, PasteScreen
from bertmon.tui.monitor import MonitorScreen, SourceSpec
from bertmon.tui.sources import ChildProcess, FileTail, ProcessSource, TextSource


class BertmonApp(App[int]):
    """Watches one or two logs, a trainer, or pasted text."""

    CSS_PATH = "bertmon.tcss"
    TITLE = "bertmon"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit_monitor", "quit"),
        Binding("p", "paste", "paste a log"),
    ]

    def __init__(
        self,
        specs: list[SourceSpec],
        *,
        process: ChildProcess | None = None,
        export_dir: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.specs = specs
        self.process = process
        self.export_dir = export_dir
        self.clock = clock
        self.wall = wall
        self.summary: str | None = None  # left on the terminal after quitting (`bertmon tail`)

    def get_default_screen(self) -> Screen:
        return MonitorScreen(
            self.specs,
            process=self.process,
            export_dir=self.export_dir,
            clock=self.clock,
            wall=self.wall,
        )

    @property
    def monitor(self) -> MonitorScreen:
        """The main monitor (the bottom of the stack)."""
        return self.screen_stack[0]  # type: ignore[return-value]

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The palette offers every key binding's action, under the footer's words."""
        yield from super().get_system_commands(screen)
        yield SystemCommand("Paste a log", "Analyse pasted text (p)", self.action_paste)
        if isinstance(screen, MonitorScreen):
            for binding in MonitorScreen.BINDINGS:
                name, arguments = parse_action(binding.action)[1:]
                if binding.show and screen.check_action(name, arguments):
                    action = partial(screen.run_action, binding.action)
                    yield SystemCommand(
                        binding.description.capitalize(), f"key: {binding.key}", action
                    )

    def action_paste(self) -> None:
        def analyse(text: str | None) -> None:
            if text:
                spec = SourceSpec(TextSource(text), "pasted text", live=False)
                self.push_screen(
                    MonitorScreen(
                        [spec],
                        export_dir=self.export_dir,
                        closable=True,
                        clock=self.clock,
                        wall=self.wall,
                    )
                )

        self.push_screen(PasteScreen(), analyse)

    async def action_quit(self) -> None:
        """ctrl+q and the palette's Quit ask first too, while a trainer runs."""
        self.action_quit_monitor()

    def action_quit_monitor(self) -> None:
        if self.monitor.trainer_running:

            def answered(yes: bool | None) -> None:
                if yes:
                    self.process.stop()
                    self.exit(0)

            self.push_screen(
                ConfirmScreen("The trainer is still running. Stop it and quit?"), answered
            )
            return
        self.summary = self.monitor.exit_summary()
        self.exit(0)


def _config_near(path: Path) -> dict[str, object]:
    """A run directory's config.json, for the header (framework, model, device)."""
    config = path.parent / "config.json"
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _config_path(path: Path) -> Path | None:
    """config.json beside a run directory's train.log (the only place bertmon writes one)."""
    return path.parent / "config.json" if path.name == "train.log" else None


def tail_specs(paths: list[Path]) -> list[SourceSpec]:
    return [
        SourceSpec(
            FileTail(p), str(p), live=True, config=_config_near(p), config_path=_config_path(p)
        )
        for p in paths
    ]


def run_tail_monitor(paths: list[str | Path]) -> int:
    """`bertmon tail`: follow one log, or two overlaid as a comparison."""
    app = BertmonApp(tail_specs([Path(p) for p in paths]))
    app.run()
    if app.summary:
        print(app.summary, flush=True)
    return 0 if app.return_code in (None, 0) else app.return_code


def train_app(process: ChildProcess, run_dir: str | Path) -> BertmonApp:
    run_dir = Path(run_dir)
    log = run_dir / "train.log"
    spec = SourceSpec(
        ProcessSource(process, label=str(log)),
        str(log),
        live=True,
        config=_config_near(log),
        config_path=_config_path(log),
    )
    return BertmonApp([spec], process=process, export_dir=run_dir)


def run_train_monitor(process: ChildProcess, run_dir: str | Path) -> int:
    """`bertmon train`: watch the child trainer; returns the trainer's exit status."""
    app = train_app(process, run_dir)
    try:
        app.run()
    except BaseException:
        process.stop()
        raise
    if app.return_code not in (0, None):  # the monitor itself failed: do not orphan the run
        process.stop()
    return process.wait()

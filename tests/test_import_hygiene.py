"""The headless core must not drag in a UI or a framework: `bertmon analyze` starts fast."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

HEAVY = ("textual", "rich", "torch", "tensorflow", "keras", "transformers")


def loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return {name.split(".")[0] for name in out.stdout.split()}


def test_parser_rules_and_report_import_no_ui_or_framework():
    loaded = loaded_after(
        "import bertmon.analyzers, bertmon.analyzers.rules, bertmon.analyzers.report"
    )
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_cli_analyze_imports_no_ui_or_framework(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("Epoch 1/1\n1/1 [==============================] - 1s 1ms/step - loss: 0.5\n")
    loaded = loaded_after(
        f"from bertmon.cli import main; main(['analyze', '--format', 'json', {str(log)!r}])"
    )
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_a_log_of_bars_is_read_without_pyparsing(tmp_path):
    """pyparsing (~0.1 s of start-up) is imported only for the lines it reads (dicts, free
    key/value text), and an `except` that names its exception still works."""
    bars = tmp_path / "bars.log"
    bars.write_bytes((ROOT / "sample_logs" / "keras3_verbose1_pty.log").read_bytes())
    loaded = loaded_after(f"from bertmon.cli import main; main(['analyze', {str(bars)!r}])")
    assert "pyparsing" not in loaded
    loaded = loaded_after(
        "from bertmon.analyzers.formats.trainer import trainer_dict; "
        "assert trainer_dict(\"{'loss': , 'x'}\") is None; "
        "assert trainer_dict(\"{'loss': '0.5'}\") == {'loss': 0.5}")
    assert "pyparsing" in loaded


def test_no_bare_top_level_packages_installed():
    for bare in ("tui", "analyzers", "trainers"):
        code = f"import importlib.util, sys; sys.path = [p for p in sys.path if p]; " \
               f"print(importlib.util.find_spec({bare!r}) is None)"
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                             text=True, cwd="/")
        assert out.stdout.strip() == "True", bare

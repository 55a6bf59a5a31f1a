"""Nothing reaches the network, and no user file is unpickled or evaluated.

`analyze` and a tiny `train` run in a network namespace (`unshare -n`: only a loopback that is
down) with every offline variable removed from their environment, so the trainer must set them
itself; and the source is searched for what would load code from a user's file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bertmon.trainers.data import DEMO_DATA
from bertmon.trainers.models import demo_vocab, make_random_bert
from bertmon.trainers.run import ENV_DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("analyzers", "bertmon", "trainers", "tui")
OFFLINE = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")


def no_network_prefix() -> list[str]:
    """`unshare -n` (as root) or `unshare -rn` (a user namespace), if this machine allows it."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare(1) is not installed")
    for prefix in (["unshare", "-n"], ["unshare", "-rn"]):
        if subprocess.run([*prefix, "true"], capture_output=True, check=False).returncode == 0:
            return prefix
    pytest.skip("this machine allows no network namespace (unshare -n and -rn both refused)")


def bare_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if k not in OFFLINE and not k.startswith(("HF_", "TRANSFORMERS_"))}


def test_the_namespace_really_has_no_network() -> None:
    """The check below proves something only if a connection attempt fails in there."""
    prefix = no_network_prefix()
    code = ("import socket\ntry:\n    socket.create_connection(('1.1.1.1', 443), timeout=3)\n"
            "except OSError as e:\n    print('refused', e.errno)\nelse:\n    print('connected')")
    res = subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=False)
    assert res.stdout.startswith("refused"), res.stdout + res.stderr


def test_the_trainers_set_the_offline_switches() -> None:
    for key in OFFLINE:
        assert ENV_DEFAULTS.get(key) == "1", key


def test_analyze_without_a_network() -> None:
    prefix = no_network_prefix()
    res = subprocess.run([*prefix, sys.executable, "-m", "bertmon", "analyze", "-f", "json",
                          str(ROOT / "sample_logs" / "keras3_verbose2_file.log")],
                         capture_output=True, text=True, env=bare_env(), timeout=120, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    assert '"epochs"' in res.stdout


@pytest.mark.slow
def test_a_tiny_train_without_a_network(tmp_path: Path) -> None:
    prefix = no_network_prefix()
    model = make_random_bert(tmp_path / "bert", demo_vocab(), hidden=32, layers=2, heads=2,
                             intermediate=64, max_positions=64, seed=1)
    lines = DEMO_DATA.read_text(encoding="utf-8").splitlines()[:121]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = subprocess.run([*prefix, sys.executable, "-m", "bertmon", "train", "--no-tui",
                          "--model", str(model), "--data", str(tmp_path / "d.csv"), "--epochs",
                          "1", "--max-len", "24", "--runs-dir", str(tmp_path / "runs"),
                          "--name", "offline"],
                         capture_output=True, text=True, env=bare_env(), timeout=300,
                         check=False)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert (tmp_path / "runs" / "offline" / "checkpoint" / "model.safetensors").exists()


# --- the source: no eval, no pickle ---------------------------------------------------------
FORBIDDEN = {
    r"(?<![\w.])eval\(": "eval",
    r"(?<![\w.])exec\(": "exec",
    r"\bimport pickle\b|\bpickle\.": "pickle",
    r"\b(cPickle|dill|joblib|shelve|marshal)\b": "a pickle-like loader",
    r"allow_pickle\s*=\s*True": "numpy allow_pickle",
    r"yaml\.load\(": "yaml.load",
}


def source_lines():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            for n, line in enumerate(text.splitlines(), 1):
                yield path.relative_to(ROOT), n, line, text


def test_no_eval_and_no_pickle_in_the_source() -> None:
    found = [f"{path}:{n}: {what}: {line.strip()}"
             for path, n, line, _ in source_lines()
             for pattern, what in FORBIDDEN.items() if re.search(pattern, line)]
    assert not found, "\n".join(found)


def test_weights_load_as_safetensors_only() -> None:
    """torch.load only with weights_only=True; every model load asks for safetensors."""
    calls = 0
    for path, n, line, text in source_lines():
        if "torch.load(" in line:
            call = text.splitlines()[n - 1 : n + 3]
            assert "weights_only=True" in " ".join(call), f"{path}:{n}"
        if re.search(r"Model\w*\.from_pretrained\(", line) and "tokenizer" not in line.lower():
            calls += 1
            assert "use_safetensors=True" in line, f"{path}:{n}: {line.strip()}"
    assert calls >= 2  # the search looks where the loads are

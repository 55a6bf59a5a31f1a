"""Every subcommand given bad arguments: exit 2, one line on stderr, no traceback, no run left.

Each case runs the real `bertmon` in a subprocess, as a user would; the cases and how many held
are recorded in the README's reliability section.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
       "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
LOG = Path(__file__).resolve().parent.parent / "sample_logs" / "keras3_verbose2_file.log"


def bertmon(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bertmon", *args], capture_output=True,
                          text=True, env=ENV, cwd=cwd, timeout=timeout, check=False,
                          stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("bad")
    (d / "notarun").mkdir()
    (d / "notarun" / "notes.txt").write_text("hello\n")
    (d / "bad.toml").write_text("[train\nlr = \n")
    (d / "wrongtype.toml").write_text('epochs = "three"\n')
    (d / "nolabel.csv").write_text("text,stars\ngood,5\nbad,1\n")
    (d / "norows.csv").write_text("text,label\n")
    (d / "empty.jsonl").write_text("")
    (d / "afile").write_text("x")
    return d


TRAIN = ["train", "--no-tui", "--runs-dir", "runs", "--name", "bad"]
# (id, argv, a word the message must hold); paths are relative to the `files` folder
CASES = [
    ("analyze-missing", ["analyze", "nope.log"], "no such file"),
    ("analyze-not-a-run-dir", ["analyze", "notarun"], "train.log"),
    ("analyze-bad-format", ["analyze", "-f", "yaml", str(LOG)], "yaml"),
    ("analyze-no-arg", ["analyze"], "LOG"),
    ("analyze-bad-set", ["analyze", "--set", "nosuchrule.x=1", str(LOG)], "set"),
    ("analyze-unknown-flag", ["analyze", "--frobnicate", str(LOG)], "frobnicate"),
    ("compare-missing", ["compare", "nope.log", str(LOG)], "nope.log"),
    ("compare-not-a-run-dir", ["compare", "notarun", str(LOG)], "notarun"),
    ("compare-one-arg", ["compare", str(LOG)], "B"),
    ("tail-not-a-run-dir", ["tail", "notarun"], "train.log"),
    ("tail-three-logs", ["tail", str(LOG), str(LOG), str(LOG)], "two"),
    ("tail-missing-folder", ["tail", "no/such/folder/x.log"], "no/such/folder"),
    ("train-malformed-toml", [*TRAIN, "--config", "bad.toml"], "TOML"),
    ("train-toml-wrong-type", [*TRAIN, "--config", "wrongtype.toml"], "epochs"),
    ("train-missing-toml", [*TRAIN, "--config", "nope.toml"], "nope.toml"),
    ("train-missing-data", [*TRAIN, "--data", "nope.csv"], "nope.csv"),
    ("train-data-is-dir", [*TRAIN, "--data", "notarun"], "directory"),
    ("train-no-label-column", [*TRAIN, "--data", "nolabel.csv"], "label"),
    ("train-no-rows", [*TRAIN, "--data", "norows.csv"], "no examples"),
    ("train-empty-jsonl", [*TRAIN, "--data", "empty.jsonl"], "empty"),
    ("train-negative-lr", [*TRAIN, "--lr", "-1"], "lr"),
    ("train-nan-lr", [*TRAIN, "--lr", "nan"], "lr"),
    ("train-zero-epochs", [*TRAIN, "--epochs", "0"], "epochs"),
    ("train-zero-batch", [*TRAIN, "--batch-size", "0"], "batch_size"),
    ("train-text-epochs", [*TRAIN, "--epochs", "three"], "three"),
    ("train-unknown-model", [*TRAIN, "--model", "bert-base-uncased"], "bert-base-uncased"),
    ("train-unknown-framework", [*TRAIN, "--framework", "jax"], "jax"),
    ("train-name-with-slash", ["train", "--no-tui", "--runs-dir", "runs", "--name", "a/../../b"],
     "name"),
    ("train-runs-dir-is-a-file", ["train", "--no-tui", "--runs-dir", "afile", "--name", "x"],
     "afile"),
    ("parity-missing-model", ["parity", "--model", "nope"], "nope"),
    ("parity-bad-max-len", ["parity", "--max-len", "1"], "max-len"),
    ("parity-negative-tol", ["parity", "--tol", "-1"], "tol"),
    ("no-command", [], "command"),
    ("unknown-command", ["frobnicate"], "frobnicate"),
]


@pytest.mark.parametrize(("argv", "word"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_arguments_exit_2_with_one_line(files: Path, argv: list[str], word: str) -> None:
    res = bertmon(*argv, cwd=files)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2, (res.returncode, res.stderr[-2000:])
    assert len(lines) == 1, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    assert lines[0].startswith("bertmon"), lines[0]
    assert word.lower() in lines[0].lower(), lines[0]
    assert res.stdout == "", res.stdout[-500:]
    assert not (files / "runs" / "bad").exists()  # bad input leaves no run directory behind
    assert not (files / "b").exists()


def test_an_internal_error_is_one_line_and_exit_3(tmp_path: Path) -> None:
    """A bug some input meets (here: the stack cut short under 300 glued tqdm frames) ends in
    one line naming it and exit 3, not a traceback; BERTMON_DEBUG=1 shows the traceback."""
    frame = "Epoch 1/1:  50%|#####     | {n}/5000 [00:01<00:01, 99.00it/s, loss={v:.4f}]"
    log = tmp_path / "glued.log"
    log.write_text(" ".join(frame.format(n=n, v=1 / n) for n in range(1, 300)) + "\n")
    code = ("import sys; from bertmon.cli import main; sys.setrecursionlimit(80); "
            f"sys.exit(main(['analyze', {str(log)!r}]))")
    for debug in ("", "1"):
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**ENV, "BERTMON_DEBUG": debug}, timeout=120, check=False)
        lines = res.stderr.strip().splitlines()
        if debug:
            assert res.returncode == 1 and "Traceback" in res.stderr
            continue
        assert res.returncode == 3, res.stderr[-2000:]
        assert len(lines) == 1 and "Traceback" not in res.stderr
        assert lines[0].startswith("bertmon analyze: internal error: RecursionError")

"""`bertmon compare`: epochs lined up across frameworks, config diff ranked, bad input exit 2."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bertmon.analyzers.compare import CompareError, compare_paths, diff_configs, render

from bertmon.cli import main

LOGS = Path(__file__).resolve().parent.parent / "sample_logs"
KERAS = LOGS / "keras3_verbose1_pty.log"
TQDM = LOGS / "tqdm_loop_pty.log"
BASE_CONFIG = {
    "framework": "tf", "max_len": 128, "batch_size": 16, "lr": 2e-5, "epochs": 3,
    "optimizer": "adamw", "head": "cls", "freeze_encoder": False, "precision": "fp32",
    "seed": 42, "name": "x", "runs_dir": "runs", "model_path": "/m", "argv": ["bertmon"],
}


def make_run_dir(root: Path, name: str, log: Path, **changes: object) -> Path:
    run = root / name
    run.mkdir()
    shutil.copyfile(log, run / "train.log")
    config = {**BASE_CONFIG, "name": name, "argv": ["bertmon", "train", "--name", name],
              **changes}
    (run / "config.json").write_text(json.dumps(config, indent=2))
    return run


def test_run_dirs_differing_only_in_max_len_name_max_len(tmp_path: Path) -> None:
    a = make_run_dir(tmp_path, "a", KERAS)
    b = make_run_dir(tmp_path, "b", LOGS / "keras3_verbose2_file.log", max_len=32)
    cmp = compare_paths(a, b)
    assert cmp.config_source == "config.json"
    assert [d.key for d in cmp.config_diffs] == ["max_len"]  # name, argv are not differences
    assert (cmp.config_diffs[0].a, cmp.config_diffs[0].b) == (128, 32)
    text = render(cmp, "text")
    assert "max_len: 128 -> 32" in text
    data = json.loads(render(cmp, "json"))
    assert data["config_diff"][0]["key"] == "max_len"


def stopped_copy(root: Path, name: str, log: Path, stop_in: int) -> Path:
    """A run directory whose log a graceful stop cut a few frames into epoch `stop_in`: the
    real emitter's bytes up to there, status.json and metrics.jsonl as the trainer leaves them."""
    run = make_run_dir(root, name, log)
    data = log.read_bytes()
    start = data.index(f"Epoch {stop_in}/".encode())
    cut = start
    for _ in range(4):  # a few frames into the epoch: the parser has a row for it
        cut = data.index(b"\r", cut + 1)
    (run / "train.log").write_bytes(data[:cut] + b"\ntraining stopped\n")
    (run / "status.json").write_text(json.dumps(
        {"status": "stopped", "exit_code": 130, "best_epoch": 1, "best": {}}))
    (run / "metrics.jsonl").write_text(
        "".join(json.dumps({"epoch": e}) + "\n" for e in range(1, stop_in)))
    return run


def test_a_stopped_run_is_stopped_and_its_half_epoch_is_no_epoch(tmp_path: Path) -> None:
    a = make_run_dir(tmp_path, "a", KERAS)
    b = stopped_copy(tmp_path, "b", KERAS, stop_in=3)
    from bertmon.analyzers import parse_path

    assert [e.epoch for e in parse_path(b).runs[-1].epochs] == [1, 2]  # the cut epoch is none
    cmp = compare_paths(a, b)
    assert (cmp.a.run.status, cmp.b.run.status) == ("finished", "stopped")
    assert [e.epoch for e in cmp.b.run.epochs] == [1, 2]
    text = render(cmp, "text")
    assert "stopped; 2 epochs" in text
    # same config, but one run was cut short: that is not "noise"
    assert "the gap is noise" not in text
    assert "runs ended differently (A finished after 3 of 3 epochs, B stopped after 2 of 3" in text


def test_who_is_ahead_is_decided_on_dev_scores_only() -> None:
    seeds = [LOGS / "seed000_tf_reference.log", LOGS / "seed001_frozen_cola.log"]
    cmp = compare_paths(*seeds)
    assert cmp.key_role is None and all(r.ahead is None for r in cmp.rows)
    assert "train_loss" not in cmp.verdict
    assert cmp.verdict.startswith("no dev score common to both runs")


def test_config_diff_ranked_by_impact() -> None:
    b = {**BASE_CONFIG, "seed": 1, "batch_size": 32, "lr": 1e-3, "head": "pooler"}
    keys = [d.key for d in diff_configs(BASE_CONFIG, b)]
    assert keys == ["lr", "head", "batch_size", "seed"]


def test_logs_from_different_frameworks_line_up_by_epoch() -> None:
    cmp = compare_paths(KERAS, TQDM)
    assert [r.epoch for r in cmp.rows] == [1, 2, 3]
    # Keras' val_accuracy and the loop's dev_acc are the same role, so they share a column
    assert "dev_acc" in cmp.roles and cmp.key_role == "dev_acc"
    assert cmp.rows[0].a["dev_acc"] == pytest.approx(0.4375)
    assert cmp.rows[0].b["dev_acc"] == pytest.approx(0.6875)
    assert [r.ahead for r in cmp.rows] == ["B", "B", "B"]
    assert cmp.verdict.startswith("B is ahead")
    assert cmp.config_source == "none"
    md = render(cmp, "markdown")
    assert "| epoch | A train_loss |" in md and "## Findings" in md
    data = json.loads(render(cmp, "json"))
    assert data["rows"][0]["delta"]["dev_acc"] == pytest.approx(0.25)
    assert data["b"]["best"] == {"metric": "dev_f1", "epoch": 3, "value": 0.84}


def test_findings_side_by_side() -> None:
    cmp = compare_paths(LOGS / "seed000_tf_reference.log", LOGS / "seed001_frozen_cola.log")
    text = render(cmp, "text")
    assert "early_peak" in text and "dev_above_train" in text
    assert text.index("A: 3 finding") < text.index("B: 1 finding")


def test_log_with_no_epochs_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "noise.log"
    empty.write_text("hello\nnothing to see\n")
    with pytest.raises(CompareError, match="no epochs"):
        compare_paths(empty, KERAS)


@pytest.mark.parametrize("case", ["missing", "empty_dir", "no_epochs", "bad_config"])
def test_bad_input_one_line_exit_2(tmp_path: Path, capsys, case: str) -> None:
    if case == "missing":
        a = tmp_path / "nope"
    elif case == "empty_dir":
        a = tmp_path / "run"
        a.mkdir()
    elif case == "no_epochs":
        a = tmp_path / "noise.log"
        a.write_text("Loading model...\n")
    else:
        a = make_run_dir(tmp_path, "a", KERAS)
        (a / "config.json").write_text("{not json")
        b = make_run_dir(tmp_path, "b", KERAS)
        assert main(["compare", str(a), str(b)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "config.json" in err
        return
    assert main(["compare", str(a), str(KERAS)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bertmon compare: ") and err.count("\n") == 1


def test_cli_compare_runs_without_heavy_imports() -> None:
    code = (f"import sys; from bertmon.cli import main; rc = main(['compare', {str(KERAS)!r}, {str(TQDM)!r}, '-f', 'json'])"
            "; bad = [m for m in ('torch', 'tensorflow', 'textual', 'rich') if m in sys.modules]"
            "; assert not bad, bad; sys.exit(rc)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads(res.stdout)["rows"][2]["epoch"] == 3


def test_analyze_calls_a_stopped_run_dir_stopped(tmp_path: Path, capsys) -> None:
    """`bertmon analyze` reads the run directory's status.json and metrics.jsonl too."""
    run = stopped_copy(tmp_path, "b", KERAS, stop_in=3)
    assert main(["analyze", str(run)]) == 0
    out = capsys.readouterr().out
    assert "status: stopped   2 epochs of 3 planned" in out


def test_analyze_list_rules_needs_no_log(capsys) -> None:
    assert main(["analyze", "--list-rules"]) == 0
    assert "train_dev_gap" in capsys.readouterr().out
    assert main(["analyze"]) == 2
    assert "give a LOG" in capsys.readouterr().err

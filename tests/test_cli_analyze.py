"""`bertmon analyze` as a user runs it: the installed console script, in a subprocess."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

LOGS = Path(__file__).resolve().parent.parent / "sample_logs"
BERTMON = shutil.which("bertmon", path=os.path.dirname(sys.executable)) or "bertmon"


def bertmon(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([BERTMON, *args], input=stdin, capture_output=True, timeout=120)


def analyze_json(path: Path | str, *extra: str) -> dict:
    out = bertmon("analyze", "--format", "json", *extra, str(path))
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)  # exactly one JSON document on stdout


def test_json_contract_on_seed000():
    doc = analyze_json(LOGS / "seed000_full_post.txt")
    assert doc["bertmon"] == "0.2.0" and doc["source"].endswith("seed000_full_post.txt")
    (run,) = doc["runs"]
    assert set(run) >= {"index", "formats", "status", "epochs_planned", "roles", "epochs",
                        "series", "findings"}
    assert run["formats"] == ["keras", "tqdm", "kv"] and run["status"] == "finished"
    assert run["epochs_planned"] == 20
    assert run["roles"]["dev_score"] == "final_score"
    assert run["epochs"][0] == {"epoch": 1, "seconds": 211.0, "metrics": {
        "loss": 1.5204, "acc": 0.5936, "final_score": 0.4637266561611361,
        "self.best_score": 0.4637266561611361}}
    loss = run["series"]["loss"]
    assert (loss["epoch"][0], loss["step"][0], loss["value"][0]) == (1, 875, 1.5204)
    assert set(run["coverage"]) == {"records", "with_metrics", "unmatched_metric_like",
                                    "unmatched_examples"}
    for f in run["findings"]:
        assert set(f) >= {"rule", "severity", "epoch", "message", "evidence"}
        assert f["severity"] in ("info", "warning", "error")


def test_seed000_diagnosis():
    (run,) = analyze_json(LOGS / "seed000_full_post.txt")["runs"]
    rules = {f["rule"] for f in run["findings"]}
    assert {"train_dev_gap", "unstable_dev"} <= rules
    text = json.dumps(run["findings"])
    assert "0.5294" in text and "epoch 7" in text
    assert run["best"] == {"metric": "final_score", "epoch": 7, "value": 0.5293800811021452}


def test_seed001_diagnosis_points_at_lr_and_frozen_encoder():
    """Two epochs of a frozen encoder (the post says `trainable = False`): dev accuracy 0.785
    above train 0.61 while both improve: underfitting, not chance level."""
    (run,) = analyze_json(LOGS / "seed001_full_post.txt")["runs"]
    rules = {f["rule"] for f in run["findings"]}
    assert {"dev_above_train", "frozen_encoder"} <= rules
    assert not rules & {"chance_level", "train_dev_gap", "diverged", "crashed"}
    text = " ".join(f["message"] + " " + f.get("remedy", "") for f in run["findings"])
    assert "2e-5" in text and "1e-3" in text and "frozen" in text.lower()


def test_nan_is_written_as_a_string_and_json_stays_strict():
    doc = analyze_json(LOGS / "keras3_nan_pty.log")
    (run,) = doc["runs"]
    assert run["status"] == "diverged"
    assert run["epochs"][1]["metrics"]["loss"] == "NaN"
    assert "diverged" in {f["rule"] for f in run["findings"]}
    json.loads(json.dumps(doc), parse_constant=lambda c: pytest.fail(f"non-strict {c}"))


def test_series_are_columns_that_pandas_loads():
    import pandas

    doc = analyze_json(LOGS / "keras3_verbose1_pty.log")
    series = doc["runs"][0]["series"]
    frame = pandas.DataFrame(series["loss"])
    assert list(frame.columns) == ["epoch", "step", "value"]
    truth = json.loads((LOGS / "keras3_verbose1_pty.truth.json").read_text())
    history = truth["runs"][0]["history"]
    # each epoch's last observation is the epoch's value in History.history
    last = frame.groupby("epoch")["value"].last().tolist()
    assert last == pytest.approx(history["loss"], abs=1e-4)
    assert frame["step"].is_monotonic_increasing and len(frame) > 3 * 12


def test_series_all_epochs_none():
    log = LOGS / "hf_trainer_file.log"
    full = analyze_json(log)["runs"][0]
    epochs = analyze_json(log, "--series", "epochs")["runs"][0]
    none = analyze_json(log, "--series", "none")["runs"][0]
    assert none["series"] == {} and none["epochs"] == full["epochs"]
    assert set(epochs["series"]) == set(full["series"])
    loss = epochs["series"]["loss"]
    # one observation per epoch: the Trainer's last loss log at or before each whole epoch
    assert loss["epoch"] == [1, 2, 3] and len(full["series"]["loss"]["epoch"]) > 3
    for name, cols in full["series"].items():
        assert len(cols["epoch"]) == len(cols["step"]) == len(cols["value"]), name


def test_nan_in_series_columns_is_a_string(tmp_path):
    doc = analyze_json(LOGS / "keras3_nan_pty.log")
    values = doc["runs"][0]["series"]["loss"]["value"]
    assert "NaN" in values and all(isinstance(v, (float, int, str)) for v in values)
    strict = bertmon("analyze", "--format", "json", str(LOGS / "keras3_nan_pty.log")).stdout
    json.loads(strict, parse_constant=lambda c: pytest.fail(f"non-strict {c}"))


def test_many_runs_text_summarises_json_keeps_all(tmp_path):
    one = (LOGS / "keras3_verbose2_file.log").read_bytes()
    log = tmp_path / "many.log"
    log.write_bytes(one * 30)
    doc = analyze_json(log)
    assert [r["index"] for r in doc["runs"]] == list(range(30))
    assert all(len(r["epochs"]) == 3 for r in doc["runs"])
    text = bertmon("analyze", str(log)).stdout.decode()
    assert "Runs 1-20 of 30, one line each (the last 10 follow in full)" in text
    assert text.count("\nRun ") == 10 and "Run 30 of 30" in text and "Run 20 of 30" not in text
    row = next(line for line in text.splitlines() if line.split()[:2] == ["7", "finished"])
    assert "3 of 3" in row and "val_accuracy 0.75 at 3" in row
    md = bertmon("analyze", "-f", "markdown", str(log)).stdout.decode()
    assert "| 7 | finished | 3 of 3 |" in md and md.count("## Run ") == 10


def test_text_report_plain_when_piped():
    out = bertmon("analyze", str(LOGS / "seed000_tf_reference.log"))
    assert out.returncode == 0
    text = out.stdout.decode()
    assert "\x1b[" not in text
    assert "best dev final_score: 0.5294 at epoch 7" in text
    assert "train_dev_gap" in text and "remedy:" in text


def test_markdown_report():
    out = bertmon("analyze", "--format", "markdown", str(LOGS / "seed001_frozen_cola.log"))
    md = out.stdout.decode()
    assert md.startswith("# bertmon report") and "| epoch |" in md and "**(best)**" in md


def test_stdin_dash_reads_a_pasted_log():
    data = (LOGS / "seed001_frozen_cola.log").read_bytes()
    out = bertmon("analyze", "--format", "json", "-", stdin=data)
    assert out.returncode == 0
    doc = json.loads(out.stdout)
    assert doc["source"] == "<stdin>" and len(doc["runs"][0]["epochs"]) == 2


def test_fail_on_sets_exit_status_1():
    log = str(LOGS / "seed000_tf_reference.log")
    assert bertmon("analyze", "--fail-on", "warning", log).returncode == 1
    assert bertmon("analyze", "--fail-on", "error", log).returncode == 0


def test_threshold_override_changes_the_verdict():
    log = str(LOGS / "seed000_tf_reference.log")
    base = {f["rule"] for f in analyze_json(log)["runs"][0]["findings"]}
    assert "train_dev_gap" in base
    out = bertmon("analyze", "--format", "json", "--set", "train_dev_gap.min_gap=0.9", log)
    assert "train_dev_gap" not in {f["rule"] for f in json.loads(out.stdout)["runs"][0]["findings"]}


@pytest.mark.parametrize("args,message", [
    (["/no/such/log"], "no such file"),
    ([str(LOGS)], "directory without train.log"),
    (["--set", "nodot=1", str(LOGS / "seed001_frozen_cola.log")], "RULE.NAME=VALUE"),
])
def test_bad_input_one_line_exit_2(args, message):
    out = bertmon("analyze", *args)
    assert out.returncode == 2
    err = out.stderr.decode()
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert out.stdout == b""


def test_unknown_rule_in_set_is_a_usage_error():
    out = bertmon("analyze", "--set", "no_such_rule.x=1", str(LOGS / "seed001_frozen_cola.log"))
    assert out.returncode == 2 and b"Traceback" not in out.stderr


@pytest.mark.parametrize("content", [
    b"", os.urandom(200_000), b"\xff\xfe\x00garbage\x80" * 1000, b"no metrics at all\n" * 100,
], ids=["empty", "random", "invalid-utf8", "no-metrics"])
def test_odd_content_is_analysed_not_fatal(tmp_path, content):
    log = tmp_path / "odd.log"
    log.write_bytes(content)
    out = bertmon("analyze", "--format", "json", str(log))
    assert out.returncode == 0, out.stderr
    json.loads(out.stdout)
    text = bertmon("analyze", str(log))
    assert text.returncode == 0 and b"Traceback" not in text.stderr


def test_a_50mb_line_without_newline(tmp_path):
    log = tmp_path / "long.log"
    with open(log, "wb") as fh:
        fh.write(b"Epoch 1/1\n1/1 [====] - 1s 1ms/step - loss: 0.5 - acc: 0.7\n")
        for _ in range(50):
            fh.write(b"x" * (1 << 20))
    doc = analyze_json(log)
    assert doc["runs"][0]["epochs"][0]["metrics"] == {"loss": 0.5, "acc": 0.7}


def test_run_directory_reads_train_log(tmp_path):
    (tmp_path / "train.log").write_bytes((LOGS / "seed001_frozen_cola.log").read_bytes())
    assert len(analyze_json(tmp_path)["runs"][0]["epochs"]) == 2


def test_run_directory_config_gives_the_class_count(tmp_path: Path) -> None:
    """A flat loss at 0.89 says nothing about chance on its own (no ln K is near it); the run
    directory's config.json printing `num_labels` makes accuracy 0.51 read as chance level."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shutil.copy(LOGS / "case_stalled_keras.log", run_dir / "train.log")
    (before,) = analyze_json(run_dir)["runs"]
    assert "chance_level" not in {f["rule"] for f in before["findings"]}
    (run_dir / "config.json").write_text(json.dumps({"model": {"num_labels": 2}}))
    (after,) = analyze_json(run_dir)["runs"]
    assert after["hints"]["num_classes"] == 2
    rules = {f["rule"]: f for f in after["findings"]}
    assert {"stalled_loss", "chance_level"} <= set(rules)
    source = rules["chance_level"]["evidence"]["num_classes_from"]
    assert source == "printed (config.json num_labels)"


def test_text_report_has_a_findings_line_and_a_basis_for_each():
    out = bertmon("analyze", str(LOGS / "case_overfit_keras.log"))
    text = out.stdout.decode()
    assert "  findings: 1 warning, 1 info; rests on printed loss, accuracy, val_loss, " \
           "val_accuracy for epochs 1-30" in text
    assert "          basis: printed accuracy, val_accuracy for epochs 1-30" in text


def test_a_run_with_findings_but_no_whole_epoch_says_both():
    # a pasted trainer_state.json: evaluations at epochs 6.33, 12.66, 18.99, eval_loss NaN
    out = bertmon("analyze", str(LOGS / "public" / "hf_trainer_state_pasted_nan.txt"))
    text = out.stdout.decode()
    assert "could not be diagnosed as a whole; what its values show:" in text
    assert "could not be diagnosed.\n" not in text
    assert text.index("what its values show:") < text.index("ERROR   diverged")

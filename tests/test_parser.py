"""Records -> events -> runs, on the seeds' real logs, real captures and each line form."""

import json
import math
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bertmon.analyzers import LogParser, parse_bytes, parse_path

LOGS = Path(__file__).resolve().parent.parent / "sample_logs"


def one_run(text: str | bytes):
    data = text.encode() if isinstance(text, str) else text
    runs = parse_bytes(data).runs
    assert len(runs) == 1, [r.epochs for r in runs]
    return runs[0]


# --- the seeds ----------------------------------------------------------------------------
SEED000_SCORES = [0.4637266561611361, 0.4715278770706616, 0.48631696631087207, 0.4927837543840665,
                  0.4603489827324962, 0.5136259654205074, 0.5293800811021452, 0.4566600972331969,
                  0.484445120332004, 0.46480710031858224, 0.4820417457316996, 0.5076002583300518,
                  0.4855591258396087, 0.47588983392087264, 0.49583256897288686, 0.4645668699854448,
                  0.4835244217626551, 0.5069050625288192]


@pytest.mark.parametrize("name", ["seed000_tf_reference.log", "seed000_full_post.txt"])
def test_seed000_keras_bars_tqdm_eval_and_value_on_next_line(name):
    run = one_run((LOGS / name).read_bytes())
    assert run.formats == ["keras", "tqdm", "kv"]
    assert run.epochs_planned == 20
    assert [row.epoch for row in run.epochs] == list(range(1, 19))
    assert [row.metrics["final_score"] for row in run.epochs] == SEED000_SCORES
    assert run.epochs[0].metrics["loss"] == 1.5204 and run.epochs[0].metrics["acc"] == 0.5936
    assert run.epochs[17].metrics["acc"] == 0.9860
    assert run.epochs[0].seconds == 211.0 and run.epochs[16].seconds == 200.0
    assert run.roles == {"train_loss": "loss", "train_acc": "acc", "dev_loss": None,
                         "dev_acc": None, "dev_score": "final_score"}
    assert run.best_dev() == ("final_score", 7, 0.5293800811021452)
    assert run.status == "finished"
    # the tqdm bar after each Keras epoch is the evaluation, not training
    assert sorted(run.hints["eval_seconds"]) == list(range(1, 19))
    assert run.hints["eval_seconds"][1] == 87.0


@pytest.mark.parametrize("name", ["seed001_frozen_cola.log", "seed001_full_post.txt"])
def test_seed001_keras2_per_sample_lines(name):
    run = one_run((LOGS / name).read_bytes())
    assert run.formats == ["keras"]
    assert [row.metrics for row in run.epochs] == [
        {"loss": 0.6531, "accuracy": 0.5792, "val_loss": 0.5296, "val_accuracy": 0.7675},
        {"loss": 0.6288, "accuracy": 0.6119, "val_loss": 0.5020, "val_accuracy": 0.7850},
    ]
    assert [row.seconds for row in run.epochs] == [177.0, 172.0]
    assert run.roles["dev_acc"] == "val_accuracy" and run.roles["train_acc"] == "accuracy"


# --- real captures against what the library itself recorded ----------------------------
def truth(name: str) -> dict:
    return json.loads((LOGS / f"{name}.truth.json").read_text())


def close(a: float, b: float) -> bool:
    """Keras prints %.4f (or %.4e below 1e-3)."""
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= 5e-5 + 5e-4 * abs(b)


@pytest.mark.parametrize("name", ["keras3_verbose1_pty", "keras3_verbose2_file", "keras3_nan_pty",
                                  "keras3_restart_file"])
def test_keras3_captures_equal_history(name):
    t = truth(name)
    runs = parse_path(LOGS / f"{name}.log").runs
    assert len(runs) == len(t["runs"])
    for run, expected in zip(runs, t["runs"]):
        assert run.epochs_planned == expected["epochs"]
        history = expected["history"]
        assert len(run.epochs) == len(next(iter(history.values())))
        for name_, values in history.items():
            got = [row.metrics[name_] for row in run.epochs]
            assert all(close(a, b) for a, b in zip(got, values)), (name_, got, values)
    if "nan" in name:
        assert runs[0].status == "diverged"


def test_keras3_pty_capture_keeps_every_intermediate_running_average():
    run = one_run((LOGS / "keras3_verbose1_pty.log").read_bytes())
    steps = truth("keras3_verbose1_pty")["runs"][0]["steps"]
    loss = list(run.series["loss"])
    assert len(loss) >= 3 * 2  # more than one observation an epoch
    assert {p.epoch for p in loss} == {1, 2, 3}
    assert max(p.step for p in loss) == 3 * steps  # global step across epochs


def test_crash_capture_ends_crashed_with_the_exception_line():
    run = one_run((LOGS / "keras3_crash_file.log").read_bytes())
    assert run.status == "crashed"
    assert run.error.startswith("RuntimeError: bertmon test emitter: simulated crash")
    assert run.epochs[0].metrics["val_loss"] == pytest.approx(0.8178)


def test_tqdm_loop_capture():
    t = truth("tqdm_loop_pty")
    run = one_run((LOGS / "tqdm_loop_pty.log").read_bytes())
    assert "tqdm" in run.formats and "kv" in run.formats
    assert run.epochs_planned == t["epochs_planned"]
    for row, expected in zip(run.epochs, t["epochs"], strict=True):
        for key, value in expected["summary"].items():
            assert row.metrics[key] == pytest.approx(value, abs=5e-5)
    assert len(run.series["loss"]) >= t["steps"]  # postfix values, one per redraw
    assert run.roles["dev_acc"] == "dev_acc" and run.roles["dev_score"] == "dev_f1"
    assert not any(name.startswith("eval_") and name != "eval_loss" for name in run.series)


@pytest.mark.parametrize("name", ["hf_trainer_file", "hf_trainer_pty"])
def test_hf_trainer_captures_equal_log_history(name):
    t = truth(name)
    run = one_run((LOGS / f"{name}.log").read_bytes())
    assert "hf-trainer" in run.formats
    evals = [h for h in t["log_history"] if "eval_loss" in h]
    assert [row.epoch for row in run.epochs] == [round(h["epoch"]) for h in evals]
    for row, h in zip(run.epochs, evals):
        assert row.metrics["eval_loss"] == pytest.approx(h["eval_loss"], abs=5e-5)
    logged = [h for h in t["log_history"] if "loss" in h and "eval_loss" not in h]
    series = list(run.series["loss"])
    assert [p.value for p in series] == pytest.approx([h["loss"] for h in logged], abs=5e-5)
    assert [p.epoch for p in series] == pytest.approx([h["epoch"] for h in logged], abs=5e-4)
    assert run.roles["train_loss"] == "loss" and run.roles["dev_loss"] == "eval_loss"
    if name.endswith("pty"):  # in a terminal tqdm.write redraws the bar at the logged step
        assert [p.step for p in series] == [h["step"] for h in logged]


# --- line forms ---------------------------------------------------------------------------
def test_keras2_verbose2_and_scientific_notation():
    run = one_run("Epoch 1/2\n875/875 - 211s - loss: 1.5204e-04 - acc: 0.5936 - val_loss: nan"
                  " - 211s/epoch - 241ms/step\nEpoch 2/2\n875/875 - 199s - loss: 0.9490 -"
                  " acc: 0.7278 - val_loss: 0.8\n")
    assert run.epochs[0].metrics["loss"] == 1.5204e-04
    assert math.isnan(run.epochs[0].metrics["val_loss"])
    assert [row.seconds for row in run.epochs] == [211.0, 199.0]
    assert run.status == "finished"  # a NaN dev loss is not divergence


def test_keras_unknown_total_and_us_per_step():
    run = one_run("Epoch 1/3\n     50/Unknown 5s 97us/step - loss: 0.6931\n")
    assert run.epochs[0].metrics == {"loss": 0.6931}
    assert run.steps_per_epoch is None


def test_hf_trainer_string_numbers_glued_to_a_bar_frame():
    run = one_run(
        " 50%|█████     | 10/20 [00:01<00:01,  8.50it/s]{'loss': '0.6928', 'grad_norm': "
        "'1.2', 'learning_rate': '2.5e-05', 'epoch': '0.5'}\n"
        "{'eval_loss': '0.61', 'eval_accuracy': '0.71', 'epoch': '1.0'}\n"
        "{'loss': 'nan', 'epoch': '1.5'}\n"
    )
    assert run.series["loss"][0].value == 0.6928 and run.series["loss"][0].step == 10
    assert run.epochs[0].epoch == 1
    assert run.epochs[0].metrics["eval_accuracy"] == 0.71
    assert run.epochs[0].metrics["loss"] == 0.6928
    assert run.status == "diverged"


def test_key_value_forms():
    run = one_run(
        "lr=2e-05 max_len=32 batch_size=16\n"
        "epoch 1 train_loss 0.61 dev_acc 0.70\n"
        "Epoch 2/10 - loss: 0.41 - val_acc: 0.80\n"
        "epoch 3: train_loss=0.35, dev_acc=81.5%, time=12.3s\n"
        "final_score = \n0.4637266561611361\n"
    )
    assert run.hints == {"lr": 2e-05, "max_len": 32.0, "batch_size": 16.0}
    assert [row.epoch for row in run.epochs] == [1, 2, 3]
    assert run.epochs[0].metrics == {"train_loss": 0.61, "dev_acc": 0.70}
    assert run.epochs[1].metrics == {"loss": 0.41, "val_acc": 0.80}
    assert run.epochs[2].metrics == {"train_loss": 0.35, "dev_acc": 0.815,
                                     "final_score": 0.4637266561611361}
    assert run.epochs[2].seconds == 12.3
    assert run.epochs_planned == 10
    assert run.formats == ["kv"]


def test_noise_is_not_taken_for_metrics():
    run_log = parse_bytes(
        b"2021-09-19 16:34:15.721296: I tensorflow/stream_executor/cuda/cuda_blas.cc:1760] x\n"
        b'  File "/x.py", line 123, in <module>\n'
        b"/usr/lib/python3.11/site-packages/keras/adapter.py:121: UserWarning: call super\n"
        b"Created device /job:localhost/replica:0/task:0/device:GPU:0 with 78000 MB memory\n"
        b"Type an opinion: \n42\n"
    )
    assert run_log.runs == []


def test_restart_starts_a_new_run():
    text = "Epoch 1/2\nloss: 0.5\nEpoch 2/2\nloss: 0.4\nEpoch 1/3\nloss: 0.6\n"
    runs = parse_bytes(text.encode()).runs
    assert [len(r.epochs) for r in runs] == [2, 1]
    assert [r.epochs_planned for r in runs] == [2, 3]
    assert runs[0].status == "finished"


@pytest.mark.parametrize("tail,error", [
    ("RuntimeError: CUDA out of memory. Tried to allocate 20.00 MiB", "RuntimeError: CUDA out"),
    ("Killed", "Killed"),
])
def test_fatal_endings(tail, error):
    run = one_run(f"Epoch 1/3\n1/10 [==>....] - ETA: 9s - loss: 0.7\n{tail}\n")
    assert run.status == "crashed" and run.error.startswith(error)


def test_a_traceback_followed_by_more_training_is_not_a_crash():
    run = one_run("Epoch 1/2\nloss: 0.7\nTraceback (most recent call last):\n  File \"a.py\", "
                  "line 1\nValueError: tokenizer warning\nEpoch 2/2\nloss: 0.6\n")
    assert run.status == "finished" and run.error == "ValueError: tokenizer warning"


def test_live_status_is_running_until_closed():
    p = LogParser("x")
    p.feed(b"Epoch 1/3\n 5/10 [==>...] - ETA: 3s - loss: 0.7")
    p.feed(b"\n")
    assert p.runs[0].status == "running"
    assert p.close().runs[0].status == "running"  # ended mid-epoch 1 of 3: not finished


# --- incremental = one-shot; never raises -------------------------------------------------
def snapshot(analysis) -> str:
    """A comparable picture of every run (repr, so that NaN equals NaN)."""
    return repr([(r.formats, r.status, r.epochs_planned, r.roles, r.error,
                  [(row.epoch, row.metrics, row.seconds) for row in r.epochs],
                  {k: [tuple(p) for p in s] for k, s in r.series.items()}) for r in analysis.runs])


@pytest.mark.parametrize("path", sorted(LOGS.glob("*.log")), ids=lambda p: p.name)
def test_random_chunking_equals_one_shot(path):
    data = path.read_bytes()
    expected = snapshot(parse_bytes(data))
    rng = random.Random(path.name)
    for _ in range(3):
        p = LogParser()
        pos = 0
        while pos < len(data):
            size = rng.choice([1, 2, 3, 7, 64, 1000])
            p.feed(data[pos : pos + size])
            pos += size
        assert snapshot(p.close()) == expected


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(data):
    parse_bytes(data)


FRAGMENTS = [b"Epoch 1/3\n", b" 3/10 [==>...] - ETA: 3s - loss: nan", b"\x08\x08\r", b"\r",
             b"{'loss': '0.5', 'epoch': 1.0}", b"final_score = \n", b"0.5\n", b"\x1b[32m",
             b"Traceback (most recent call last):\n", b"Eval:  50%|##  | 5/10 [00:01<00:01, 1.2it/s, acc=0.5]",
             b"epoch 2 loss 0.3\n", b"\xff", b"\n"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40), st.integers(1, 17))
def test_log_like_fragments_parse_the_same_in_any_chunking(parts, size):
    data = b"".join(parts)
    p = LogParser()
    for i in range(0, len(data), size):
        p.feed(data[i : i + size])
    assert snapshot(p.close()) == snapshot(parse_bytes(data))


def parse_both(data: bytes) -> tuple[str, str]:
    """The batch path for mid-epoch Keras frames, and the frame-by-frame one."""
    from bertmon.analyzers.formats.keras import KerasBar

    pictures = []
    for batch in (True, False):
        KerasBar.batch = batch
        try:
            p = LogParser()
            p.feed(data)
            analysis = p.close()
        finally:
            KerasBar.batch = True
        pictures.append(snapshot(analysis) + repr(
            [(r.step, r.steps_per_epoch) for r in analysis.runs]))
    return pictures[0], pictures[1]


@pytest.mark.parametrize("path", sorted(LOGS.glob("*.log")), ids=lambda p: p.name)
def test_keras_batch_path_reads_sample_logs_as_the_general_path(path):
    fast, general = parse_both(path.read_bytes())
    assert fast == general


BAR = "\r{} \u2501\u2501\u2501 {} 10ms/step".format
KERAS_FRAGMENTS = [
    b"Epoch 1/2\n", b"Epoch 2/2\n", b"\n", b"a warning\n", b"\x08\x08\x08",
    BAR(" 3/10", "2s").encode() + b" - acc: 0.5000 - loss: 0.6931",
    BAR(" 3/10", "1s").encode() + b" - acc: 0.5000 - loss: 0.6931",  # same step, new ETA
    BAR(" 3/10", "1s").encode() + b" - acc: 0.5 - loss: 0.69310",  # same numbers, other text
    BAR(" 4/10", "1s").encode() + b" - acc: 0.5000 - loss: 0.6000",
    BAR(" 4/10", "1s").encode() + b" - acc: 0.5000 - loss: 1e999",  # overflows to infinity
    BAR(" 5/10", "1s").encode() + b" - acc: 0.5000 - loss: nan",
    BAR(" 5/10", "1s").encode() + b" - acc: -0.0 - loss: 6.1e-05",
    BAR(" 6/10", "1s").encode() + b" - acc: 0.5000",  # another shape
    BAR(" 6/12", "1s").encode() + b" - acc: 0.5000 - loss: 0.5",  # another target
    BAR("10/10", "3s").encode() + b" - acc: 0.6 - loss: 0.5 - val_acc: 0.5 - val_loss: 0.7\n",
    b"\r 7/10 [=====>....] - ETA: 3s - loss: 0.4000 - acc: 0.7000",
    b"\r 7/10 [=====>....] - ETA: 2s - loss: 0.4000 - acc: 0.7000",
    b"\r 8/10 [======>...] - ETA: 1:23 - loss: 0.3900 - acc: 0.7100",
    b"\r 8/10 [======>...] - ETA: 59s - loss: 0.3900 - acc: 0.7100 ",  # padded to the last width
    b"\r 9/10 [=======>..] - ETA: 0s - loss: 0.3800 - acc: 0.7200",
    b"\r 9/10 [=======>..] - ETA: 3 - loss: 0.3800 - acc: 0.7200",
    b"\r 8/10 [======>...] 1s 10ms/step - acc: 0.5000 - loss: 0.6000",
    b"\r 9/Unknown 1s 10ms/step - acc: 0.5000 - loss: 0.6000",
    b"\r 2/5 \xe2\x94\x81 1s 3ms/step - loss: 0.4",  # an evaluate bar after the epoch
    b"Traceback (most recent call last):\n", b"ValueError: boom\n",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(KERAS_FRAGMENTS), max_size=60))
def test_keras_batch_path_equals_the_general_path(parts):
    fast, general = parse_both(b"".join(parts))
    assert fast == general


def test_keras_batch_path_reads_a_long_epoch_exactly():
    frames = [b"Epoch 1/1\n"] + [
        BAR(f"{i:3d}/500", f"{(500 - i) // 9}s").encode() + f" - acc: {i / 600:.4f} - loss: {1 / i:.4e}".encode()
        for i in range(1, 500)] + [b"\n"]
    live = LogParser("x")
    live.feed(b"".join(frames))
    run = live.runs[0]  # live: the epoch being drawn has its row (closed, a cut epoch has none)
    assert run.series["loss"].steps.tolist() == list(range(1, 500))
    assert run.series["loss"].values.tolist() == [float(f"{1 / i:.4e}") for i in range(1, 500)]
    assert run.epochs[0].metrics == {"acc": float(f"{499 / 600:.4f}"), "loss": float(f"{1 / 499:.4e}")}
    assert live.close().runs[0].epochs == []  # cut before its last frame: no epoch
    fast, general = parse_both(b"".join(frames))
    assert fast == general


def test_configuration_hints_from_prints_and_code():
    run = one_run(b"bert_model.trainable = False\nconfig: lr=0.001 max_len=32 head=cls\n"
                  b"data: train=2400 examples, labels=['negative', 'positive']\n"
                  b"Epoch 1/1\n1/1 [====] - 1s 1ms/step - loss: 0.69\n")
    assert run.hints == {"frozen": True, "lr": 0.001, "max_len": 32.0, "num_classes": 2.0}
    seed = one_run((LOGS / "seed001_full_post.txt").read_bytes())
    assert seed.hints.get("frozen") is True  # the post's code sets bert_model.trainable = False


# Lines as the best-known hand-rolled loops print them (the PyTorch tutorial's
# `print('Epoch [{}/{}], Step [{}/{}], Loss: {:.4f}'...)`, Python logging with a prefix, the
# Hugging Face no-Trainer scripts' `accelerator.print(f"epoch {epoch}: {eval_metric}")`).
@pytest.mark.parametrize("text,epochs,planned", [
    ("Epoch [1/2], Step [100/600], Loss: 0.2345\nEpoch [1/2], Step [200/600], Loss: 0.1345\n"
     "Epoch [2/2], Step [100/600], Loss: 0.1045\n", [(1, {"Loss": 0.1345}), (2, {"Loss": 0.1045})], 2),
    ("2024-01-01 12:00:00,123 - INFO - Epoch 1/3 - loss: 0.5 - acc: 0.8\n"
     "2024-01-01 12:01:00,123 - INFO - Epoch 2/3 - loss: 0.4 - acc: 0.85\n",
     [(1, {"loss": 0.5, "acc": 0.8}), (2, {"loss": 0.4, "acc": 0.85})], 3),
    ("epoch 0: {'accuracy': 0.84, 'f1': 0.88}\nepoch 1: {'accuracy': 0.86, 'f1': 0.89}\n",
     [(0, {"accuracy": 0.84, "f1": 0.88}), (1, {"accuracy": 0.86, "f1": 0.89})], None),
], ids=["pytorch-tutorial", "logging-prefix", "no-trainer-dict"])
def test_hand_rolled_loop_formats(text, epochs, planned):
    run = one_run(text)
    assert [(row.epoch, row.metrics) for row in run.epochs] == epochs
    assert run.epochs_planned == planned


SHAPES = [
    "{{'loss': {0}, 'grad_norm': {1}, 'learning_rate': {2}, 'epoch': {3}}}",
    "{{'eval_loss': '{0}', 'eval_f1': '{1}', 'epoch': '{2}'}}",
    "epoch {i}: train_loss={0} dev_acc={1}% time={2}s",
    "Step {i}: loss = {0}, lr = {1}, top5_acc: {2}",
    "epoch {i} train_loss {0} dev_f1 {1}",
]
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32).map(repr),
    st.integers(0, 10**6).map(str),
    st.sampled_from(["nan", "inf", "-inf", "1e-05", "2.5E+03", ".5"]),
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SHAPES), st.lists(numbers, min_size=4, max_size=4), st.integers(0, 99))
def test_shape_cache_gives_what_pyparsing_gives(shape, values, i):
    from bertmon.analyzers.formats import kv, trainer

    first = shape.format("1.0", "2.0", "3.0", "4.0", i=1)
    if first.startswith("{"):  # the shape is now cached
        trainer.trainer_dict(first)
    else:
        kv.key_values_in(first, ws_ok=True)
    line = shape.format(*values, i=i)
    if line.startswith("{"):
        via_cache, parser_only = trainer.DICTS(line), trainer.dict_entries(line)
    else:
        via_cache = kv.KV_LINES(line) or kv.WS_LINES(line)
        parser_only = kv.kv_pairs(line) or kv.ws_pairs(line)
    assert via_cache == parser_only, line


def test_shape_cache_learns_no_position_from_a_line_with_a_number_twice():
    """`step 12: loss=12`: the loss is the second 12, not the first; a shape learnt from such a
    line read the step as the loss on every later line of that shape (a hypothesis find)."""
    from bertmon.analyzers.formats import kv
    from bertmon.analyzers.grammar import ShapeCache

    cache = ShapeCache(kv.kv_pairs)
    assert cache("step 12: loss=12 lr=0.5") == kv.kv_pairs("step 12: loss=12 lr=0.5")
    for line in ("step 7: loss=0.25 lr=1e-05", "step 8: loss=8 lr=8", "step 9: loss=0.5 lr=2"):
        assert cache(line) == kv.kv_pairs(line), line


@pytest.mark.parametrize("name", ["keras3_evaluate_v1_pty", "keras3_evaluate_v2_pty"])
def test_keras_evaluate_after_fit_is_not_an_epoch(name):
    t = truth(name)
    run = one_run((LOGS / f"{name}.log").read_bytes())
    history = t["runs"][0]["history"]
    assert [row.metrics["loss"] for row in run.epochs] == pytest.approx(history["loss"], abs=5e-5)
    assert run.series["eval_loss"].last.value == pytest.approx(t["evaluate"]["loss"], abs=5e-5)


def test_data_preparation_bars_before_a_trainer_are_not_the_training_bar(tmp_path):
    from tqdm import tqdm  # real tqdm output, as `datasets.map` and shard loading draw it

    out = tmp_path / "log"
    with open(out, "w", encoding="utf-8") as fh:
        for _ in tqdm(range(300), desc="Map", unit=" examples", file=fh, mininterval=0):
            pass
        for _ in tqdm(range(2), desc="Loading checkpoint shards", file=fh, mininterval=0):
            pass
        bar = tqdm(total=20, file=fh, mininterval=0)
        for step in range(1, 21):
            bar.update(1)
            if step % 5 == 0:
                bar.write(str({"loss": f"{1 / step:.4f}", "epoch": f"{step / 20:.2f}"}), file=fh)
        bar.close()
    run = one_run(out.read_bytes())
    assert [p.step for p in run.series["loss"]] == [5, 10, 15, 20]
    assert run.step == 20


def test_a_stop_line_ends_the_run_even_mid_epoch():
    text = ("Epoch 1/3\n 5/10 [==>...] - ETA: 3s - loss: 0.7\n"
            "training stopped at epoch 1 step 5/10: epoch 1 is incomplete (no dev scores)\n")
    p = LogParser()
    p.feed(text.encode())
    assert p.runs[0].status == "stopped"  # said over while the log is still open
    run = p.close().runs[0]
    assert run.status == "stopped" and run.epochs == []  # epoch 1 was cut: no epoch


def test_training_finished_is_not_a_stop():
    run = one_run("Epoch 1/1\n10/10 [====] - 1s - loss: 0.7\ntraining finished\n")
    assert run.status == "finished"


PATHOLOGICAL = {  # each once took seconds to minutes at these sizes (quadratic retries)
    "np-dicts": repr([{"label": "POSITIVE", "score": "np.float32(0.99)"}] * 4000),
    "token-batch": repr({"input_ids": [[101, *range(1000, 61000), 102]]}),
    "braces": "{'" * 100_000,
    "name-chain": "ab " * 70_000 + "=",
    "kv-pairs": "loss=0.5 " * 25_000,
    "keras-metrics": "8/8 - 1s - 121ms/step" + " - loss: 0.5" * 20_000,
}


@pytest.mark.parametrize("line", PATHOLOGICAL.values(), ids=PATHOLOGICAL.keys())
def test_long_odd_lines_cost_linear_time(line):
    # no timing assertion (benchmarks measure speed); a quadratic path makes this test hang
    parse_bytes(line.encode() + b"\n")


def test_roles_prefer_names_the_epoch_table_has():
    run = one_run("Training:  50%|#####     | 1/2 [00:00<00:00, 9.9it/s, loss=0.7]\n"
                  "Training: 100%|##########| 2/2 [00:00<00:00, 9.9it/s, loss=0.68]\n"
                  "epoch 1: train_loss=0.69 dev_acc=0.51\n"
                  "Training:  50%|#####     | 1/2 [00:00<00:00, 9.9it/s, loss=0.6]\n"
                  "Training: 100%|##########| 2/2 [00:00<00:00, 9.9it/s, loss=0.58]\n"
                  "epoch 2: train_loss=0.59 dev_acc=0.61\n")
    # the once-an-epoch summary, not the running postfix value
    assert run.roles["train_loss"] == "train_loss"
    # the bar had no epoch in it: its values belong to the epoch the summary after it names
    assert [row.metrics["loss"] for row in run.epochs] == [0.68, 0.58]
    assert [p.epoch for p in run.series["loss"]] == [1, 1, 2, 2]


def test_tensorflow_allocator_warning_is_not_a_crash():
    run = one_run(
        "Epoch 1/1\n8/8 - 1s - 121ms/step - loss: 0.5\n"
        "2026-11-20 10:12:33.123456: W tensorflow/tsl/framework/bfc_allocator.cc:291] Allocator "
        "(GPU_0_bfc) ran out of memory trying to allocate 2.14GiB with freed_by_count=0. The "
        "caller indicates that this is not a failure, but this may mean that there could be "
        "performance gains if more memory were available.\n")
    assert run.status == "finished" and run.error is None


def test_cpp_logging_is_skipped_but_python_glog_style_metrics_are_read():
    run = one_run(
        "I0000 00:00:1763633553.123456   12345 gpu_device.cc:2020] Created device "
        "/job:localhost/replica:0/task:0/device:GPU:0 with 78000 MB memory: loss=3 step=9\n"
        "2026-11-20 10:12:33.123456: W tensorflow/core/kernels/x.cc:404] epoch 9: loss=1.0\n"
        "I1123 10:00:00.123456 140 train.py:88] epoch 1: train_loss=0.61 dev_acc=0.70\n"
        "I1123 10:01:00.123456 140 train.py:88] epoch 2: train_loss=0.52 dev_acc=0.74\n")
    assert [(row.epoch, row.metrics) for row in run.epochs] == [
        (1, {"train_loss": 0.61, "dev_acc": 0.70}), (2, {"train_loss": 0.52, "dev_acc": 0.74})]
    crash = one_run("epoch 1: loss=0.6\n2026-11-20 10:12:33.123456: E external/xla/x.cc:12] "
                    "CUDA_ERROR_OUT_OF_MEMORY: out of memory\n")
    assert crash.status == "crashed" and "OUT_OF_MEMORY" in crash.error


def test_a_test_score_printed_after_training_stays_out_of_the_epoch_table():
    run = one_run(
        "Epoch 1/2\n10/10 [====] - 1s 9ms/step - loss: 0.6 - accuracy: 0.7 - val_accuracy: 0.7\n"
        "Epoch 2/2\n10/10 [====] - 1s 9ms/step - loss: 0.5 - accuracy: 0.8 - val_accuracy: 0.75\n"
        "Test accuracy: 0.80\ntest_loss = 0.51\n")
    assert run.epochs[-1].metrics == {"loss": 0.5, "accuracy": 0.8, "val_accuracy": 0.75}
    assert run.series["Test accuracy"].values.tolist() == [0.8]
    assert run.series["test_loss"].values.tolist() == [0.51]
    assert run.status == "finished"


def test_a_rerun_after_a_crash_is_a_new_run():
    runs = parse_bytes(
        b"Epoch 1/3\n1/8 [==>....] - ETA: 9s - loss: 0.7\n"
        b"RuntimeError: CUDA out of memory. Tried to allocate 20.00 MiB\n"
        b"Epoch 1/3\n8/8 [========] - 1s 9ms/step - loss: 0.6\n").runs
    assert [r.status for r in runs] == ["crashed", "finished"]
    assert runs[1].epochs[0].metrics == {"loss": 0.6}


@pytest.mark.parametrize("name", ["keras3_evaluate_same_size_v1_file",
                                  "keras3_evaluate_same_size_v2_file"])
def test_evaluate_with_as_many_steps_as_an_epoch_leaves_the_epochs_alone(name):
    history, (eval_loss, eval_acc) = json.loads((LOGS / f"{name}.hist.json").read_text())
    run = one_run((LOGS / f"{name}.log").read_bytes())
    assert [row.metrics["loss"] for row in run.epochs] == pytest.approx(history["loss"], abs=5e-5)
    assert [row.metrics["accuracy"] for row in run.epochs] == pytest.approx(
        history["accuracy"], abs=5e-5)
    assert run.series["eval_loss"].last.value == pytest.approx(eval_loss, abs=5e-5)
    assert run.series["eval_accuracy"].last.value == pytest.approx(eval_acc, abs=5e-5)


@pytest.mark.parametrize("prefix", ["", "2024-05-01 10:00:00,123 | INFO | ", "INFO:root:",
                                    "[2024-05-01 10:00:00] "])
def test_epoch_and_pairs_after_a_logging_prefix(prefix):
    run = one_run(f"{prefix}Epoch 0 | Step 100/300 | loss 0.6667\n"
                  f"{prefix}epoch 0: train_loss=0.6, dev_acc=72.00%\n"
                  f"{prefix}epoch 1: train_loss=0.5, dev_acc=75.00%\n"
                  f"{prefix}Best dev_acc: 0.75 at epoch 1\n")
    assert [(row.epoch, row.metrics.get("dev_acc")) for row in run.epochs] == [(0, 0.72), (1, 0.75)]
    assert run.series["loss"][0].value == 0.6667
    assert "Best dev_acc" not in str(run.epochs[0].metrics)


def test_tqdm_frames_cut_at_the_terminal_width():
    # tqdm(range(100), desc=f"Epoch {e}/2 [train]", ncols=80) with set_postfix(loss=..., acc=...,
    # lr=..., grad_norm=...): the frame ends `..., acc=0.712, grad_no` with no `]`
    run = one_run((LOGS / "tqdm_ncols80_file.log").read_bytes())
    assert run.epochs_planned == 2 and [row.epoch for row in run.epochs] == [1, 2]
    assert run.step == 200 and len(run.series["acc"]) >= 100
    assert "grad_no" not in run.series and "grad_nor" not in run.series


def test_trainer_evaluate_after_training_keeps_the_epochs_own_evaluation():
    run = one_run("{'eval_loss': '0.61', 'eval_accuracy': '0.70', 'epoch': '1.0'}\n"
                  "{'eval_loss': '0.55', 'eval_accuracy': '0.74', 'epoch': '2.0'}\n"
                  "{'train_runtime': '10.0', 'train_loss': '0.6', 'epoch': '2.0'}\n"
                  "{'eval_loss': '0.80', 'eval_accuracy': '0.66', 'epoch': '2.0'}\n")
    assert run.epochs[1].metrics["eval_accuracy"] == 0.74
    assert run.series["eval_accuracy"].last.value == 0.66  # still an observation


def test_fit_epochs_1_in_a_loop_with_the_summary_after_each():
    history = json.loads((LOGS / "keras3_fit_epoch_loop_file.hist.json").read_text())
    run = one_run((LOGS / "keras3_fit_epoch_loop_file.log").read_bytes())
    assert [row.epoch for row in run.epochs] == [1, 2, 3, 4]
    assert [row.metrics["loss"] for row in run.epochs] == pytest.approx(
        [h["loss"][0] for h in history], abs=5e-5)
    assert all("dev_acc" in row.metrics for row in run.epochs)
    assert {p.epoch for p in run.series["loss"]} == {1, 2, 3, 4}


def test_trange_epoch_loop_with_written_summaries():
    run = one_run((LOGS / "tqdm_trange_write_file.log").read_bytes())
    assert run.epochs_planned == 3
    assert [(row.epoch, row.metrics["dev_acc"]) for row in run.epochs] == [
        (1, 0.6), (2, 0.65), (3, 0.7)]
    assert run.roles["train_loss"] == "train_loss"
    assert len(run.series["loss"]) == 300 and {p.epoch for p in run.series["loss"]} == {1, 2, 3}


def test_a_line_about_an_earlier_epoch_restarts_nothing():
    run = one_run("epoch 1: train_loss=0.6 dev_f1=0.70\nepoch 2: train_loss=0.5 dev_f1=0.74\n"
                  "epoch 3: train_loss=0.4 dev_f1=0.72\nbest epoch 2 with dev_f1 0.7400\n"
                  "epoch 2 (best): dev_f1=0.74\ntraining finished\n")
    assert [row.epoch for row in run.epochs] == [1, 2, 3]
    assert run.status == "finished"


def test_per_step_train_loss_is_the_running_value_beside_an_epoch_summary():
    # bertmon's own PyTorch log: a tqdm bar with `loss=` each step, then `epoch k/N: train_loss=`
    from bertmon.analyzers.rules.base import role_series
    from bertmon.analyzers.roles import step_name

    def epoch(e: int, train_loss: float, dev_acc: float) -> str:
        bar = "".join(f"\rEpoch {e}/2: {10 * s}%|#| {s}/10 [00:01<00:01, 9.9it/s, "
                      f"loss={1 / (s + e):.4f}]" for s in range(1, 11))
        return f"{bar}\nepoch {e}/2: train_loss={train_loss} dev_acc={dev_acc}\n"

    run = one_run(epoch(1, 0.40, 0.7) + epoch(2, 0.30, 0.8))
    assert run.roles["train_loss"] == "train_loss"  # the epoch table's name
    assert step_name(run, "train_loss") == "loss"
    assert len(role_series(run, "train_loss")) == 20

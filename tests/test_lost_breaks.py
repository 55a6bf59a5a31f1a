"""Pastes whose line breaks were lost (a forum, a chat, a copy from a rendered page): real
captures from sample_logs/ with every `\\r`, `\\n` and `\\b` turned into a space read as the
original does, epoch by epoch, and a thousand frames glued into one line do not exhaust the
stack."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analyzers import parse_bytes
from analyzers.series import MAX_DEPTH, _epochs_in_one

LOGS = Path(__file__).resolve().parent.parent / "sample_logs"


def flattened(name: str) -> bytes:
    return re.sub(rb"[\r\n\x08]+", b" ", (LOGS / name).read_bytes())


def epochs(data: bytes) -> list[tuple[int, dict[str, float]]]:
    return [(row.epoch, row.metrics) for run in parse_bytes(data).runs for row in run.epochs]


@pytest.mark.parametrize("name", [
    "seed001_frozen_cola.log",  # Keras 2, one line an epoch
    "seed000_tf_reference.log",  # Keras 2 bars with `\b` redraws
    "keras3_verbose2_file.log",
    "keras3_verbose1_pty.log",
    "hf_trainer_file.log",  # Trainer dicts glued to each other and to the bar
    "tqdm_loop_pty.log",
    "case_healthy_long_keras.log",
    "lightning_tqdm_pty.log",  # `max_epochs=3` glued before the last redraw is no epoch
    "case_healthy_lightning.log",
])
def test_a_flattened_log_reads_the_epochs_of_the_original(name):
    original = epochs((LOGS / name).read_bytes())
    assert len(original) >= 2
    assert epochs(flattened(name)) == original


@pytest.mark.parametrize("name", ["keras2_callbacks_v1_file.log", "case_unstable_tqdm.log"])
def test_a_flattened_log_keeps_its_epochs_and_their_values(name):
    original, pasted = epochs((LOGS / name).read_bytes()), epochs(flattened(name))
    assert [e for e, _ in pasted] == [e for e, _ in original]
    for (_, want), (_, got) in zip(original, pasted):  # `lr` may be read as a setting instead
        shared = want.keys() & got.keys()
        assert len(shared) >= 3 and {k: got[k] for k in shared} == {k: want[k] for k in shared}


def test_frames_glued_past_the_recursion_limit_are_all_read():
    frame = "Epoch 1/1:  50%|#####     | {n}/5000 [00:01<00:01, 99.00it/s, loss={v:.4f}]"
    line = " ".join(frame.format(n=n, v=1 / n) for n in range(1, 3000)) + "\n"
    assert 3000 > 10 * MAX_DEPTH
    run = parse_bytes(line.encode()).runs[0]
    assert run.series["loss"].values.tolist() == [float(f"{1 / n:.4f}") for n in range(1, 3000)]


@pytest.mark.parametrize("record", [
    "Epoch 2/10 - loss: 0.5 (best so far: Epoch 1/10)",  # out of order: one line
    "Epoch 3/10 - loss: 0.5",
    "Epoch 1/3: 100%|##| 2/2 [00:00<00:00] Epoch 1/3 done",  # one epoch
    "Epoch 1/3 - loss: 0.5 Epoch 2/5 - loss: 0.4",  # two bars of different lengths
])
def test_a_line_of_one_epoch_is_not_cut(record):
    assert _epochs_in_one(record) is None


def test_a_line_of_several_epochs_is_cut_before_each():
    assert _epochs_in_one("Train on 8 Epoch 1/2 8/8 - loss: 0.6 Epoch 2/2 8/8 - loss: 0.5") == [
        "Train on 8 ", "Epoch 1/2 8/8 - loss: 0.6 ", "Epoch 2/2 8/8 - loss: 0.5"]

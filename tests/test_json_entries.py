"""A dict printed one `"name": value,` entry a line (`formats/trainer.JsonEntries`): a real
`trainer_state.json` pasted into an issue as text reads as the file does."""

from __future__ import annotations

from pathlib import Path

import pytest

from bertmon.analyzers import parse_bytes, parse_path

LOGS = Path(__file__).resolve().parent.parent / "sample_logs"
STATE = LOGS / "hf_trainer_output" / "checkpoint-24" / "trainer_state.json"


def _picture(analysis) -> list:
    return [(r.status, [(row.epoch, row.metrics) for row in r.epochs],
             {name: s.values.tolist() for name, s in r.series.items()}) for r in analysis.runs]


@pytest.mark.parametrize("paste", [
    lambda data: b"Here is my trainer_state.json:\n" + data,
    lambda data: data[data.index(b"\n") + 1:],  # its opening brace cut off
    lambda data: b"".join(b"> " + line for line in data.splitlines(keepends=True)),  # quoted
])
def test_a_pasted_trainer_state_reads_as_the_file(paste):
    data = STATE.read_bytes()
    pasted = parse_bytes(paste(data))
    assert _picture(pasted) == _picture(parse_path(STATE))
    assert [row.epoch for row in pasted.runs[0].epochs] == [1, 2, 3]
    assert pasted.runs[0].formats == ["hf-trainer"]


def test_a_printed_config_dict_is_no_run_and_leaves_the_log_as_it_reads():
    config = b'{\n  "learning_rate": 2e-05,\n  "num_train_epochs": 3,\n  "seed": 42\n}\n'
    log = (LOGS / "keras3_verbose2_file.log").read_bytes()
    assert _picture(parse_bytes(config + log)) == _picture(parse_bytes(log))

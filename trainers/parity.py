"""Where do the PyTorch and TensorFlow models disagree? Layer by layer, on the same inputs.

Seed 000 lost days to two silent differences between its implementations: an extra pooler layer
in one head and a smaller `maxlen` in one tokenizer call. This module loads one checkpoint into
both trainers' models (transformers `BertModel` + the torch head; the Keras BERT + the Keras
head), tokenizes the texts once, checks both frameworks receive identical inputs, runs both in
fp32 eval mode and reports the maximum absolute difference of embeddings, every encoder layer,
the pooler and the head, over unpadded positions only (padded positions are garbage by design).

`diff_checkpoints` compares two local checkpoints tensor by tensor (numpy + safetensors only).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from bertmon.trainers.common import HEAD_FILE, head_init
from bertmon.trainers.models import ModelError, check_model_dir, encode, load_tokenizer

DEFAULT_TEXTS = ("the food was great and the staff were friendly",
                 "the plot was hardly boring, but the ending felt rushed")
DEFAULT_TOL = 1e-4
HEAD_MEANING = {
    "cls": "a linear layer on the raw [CLS] vector",
    "pooler": "a linear layer on BERT's pooler output (dense + tanh on [CLS], pretrained for NSP)",
    "cls-dense": "an extra, freshly initialised dense + tanh on [CLS] before the linear layer",
}


class ParityError(ValueError):
    """A model folder or checkpoint parity cannot use: one line, exit 2."""


@dataclass
class LayerDiff:
    layer: str
    max_abs: float
    max_rel: float  # max |torch - tf| / max |torch| over the compared values
    ok: bool
    note: str = ""


@dataclass
class TensorDiff:
    name: str
    layer: str
    problem: str  # "differs", "shape", "only in A", "only in B"
    max_abs: float | None = None


@dataclass
class ParityReport:
    model: str
    tf_model: str
    head: str
    tf_head: str
    tol: float
    texts: list[str]
    tokenization: list[str] = field(default_factory=list)  # problems; empty = identical
    layers: list[LayerDiff] = field(default_factory=list)
    first_divergence: str | None = None
    explanation: str = ""
    tensors: list[TensorDiff] | None = None  # with --against

    @property
    def ok(self) -> bool:
        return (not self.tokenization and self.first_divergence is None
                and not self.tensors)

    def to_json(self) -> dict:
        return {**asdict(self), "ok": self.ok}


# --- checkpoints ------------------------------------------------------------------------------
def check_checkpoint(path: str | Path, label: str = "model") -> Path:
    """A BERT folder both frameworks can load (safetensors), else ParityError."""
    try:
        info = check_model_dir(path)
    except ModelError as exc:
        raise ParityError(str(exc)) from None
    if not (info.path / "model.safetensors").exists():
        raise ParityError(f"{info.path} has only pytorch_model.bin: PyTorch can load it, the "
                          "Keras BERT cannot (it reads model.safetensors); re-save it with "
                          "save_pretrained(safe_serialization=True)")
    return info.path


def layer_of(name: str) -> str:
    """`bert.encoder.layer.3.output.dense.weight` -> `encoder.layer.3`; embeddings, pooler, head."""
    name = name.removeprefix("bert.")
    m = re.match(r"encoder\.layer\.(\d+)\.", name)
    if m:
        return f"encoder.layer.{m.group(1)}"
    for part in ("embeddings", "pooler"):
        if name.startswith(part + "."):
            return part
    return "head"


def _load_tensors(path: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    tensors = {k.removeprefix("bert."): v for k, v in load_file(str(path / "model.safetensors"))
               .items()}
    if (path / HEAD_FILE).exists():
        tensors.update({f"head.{k}": v for k, v in load_file(str(path / HEAD_FILE)).items()})
    return tensors


def diff_checkpoints(a: Path, b: Path, tol: float = 0.0) -> list[TensorDiff]:
    """Every tensor that differs by more than `tol`, is missing on one side, or changed shape."""
    ta, tb = _load_tensors(a), _load_tensors(b)
    out = []
    for name in sorted(set(ta) | set(tb), key=_weight_order):
        if name not in tb:
            out.append(TensorDiff(name, layer_of(name), "only in A"))
        elif name not in ta:
            out.append(TensorDiff(name, layer_of(name), "only in B"))
        elif ta[name].shape != tb[name].shape:
            out.append(TensorDiff(name, layer_of(name), "shape"))
        else:
            d = float(np.max(np.abs(ta[name].astype(np.float64) - tb[name].astype(np.float64)),
                             initial=0.0))
            if d > tol:
                out.append(TensorDiff(name, layer_of(name), "differs", d))
    return out


def _weight_order(name: str) -> tuple:
    layer = layer_of(name)
    m = re.match(r"encoder\.layer\.(\d+)", layer)
    rank = {"embeddings": (0, 0), "pooler": (2, 0), "head": (3, 0)}.get(layer)
    return (rank or (1, int(m.group(1))) if m else rank or (4, 0), name)


# --- inputs -----------------------------------------------------------------------------------
def tokenize(path: Path, texts: list[str], max_len: int) -> dict[str, np.ndarray]:
    """The trainers' own tokenization: bertmon's WordPiece, truncation, dynamic padding."""
    from bertmon.trainers.common import pad_batch

    enc = encode(load_tokenizer(path), list(texts), None, max_len)
    return pad_batch(enc, np.arange(len(texts)))


def compare_inputs(a: dict[str, np.ndarray], b: dict[str, np.ndarray],
                   names: tuple[str, str] = ("PyTorch", "TensorFlow")) -> list[str]:
    """Why two batches are not the same input, one line each; empty when identical."""
    problems = []
    for key in ("input_ids", "attention_mask", "token_type_ids"):
        x, y = np.asarray(a[key]), np.asarray(b[key])
        if x.shape != y.shape:
            problems.append(f"{key}: {names[0]} shape {x.shape}, {names[1]} {y.shape} "
                            "(different max_len or padding)")
        elif not np.array_equal(x.astype(np.int64), y.astype(np.int64)):
            rows, cols = np.nonzero(x.astype(np.int64) != y.astype(np.int64))
            problems.append(f"{key}: differ at {len(rows)} position(s), first example "
                            f"{rows[0]} position {cols[0]}: {x[rows[0], cols[0]]} vs "
                            f"{y[rows[0], cols[0]]}")
    lengths = (np.asarray(a["attention_mask"]).sum(1), np.asarray(b["attention_mask"]).sum(1))
    if lengths[0].shape == lengths[1].shape and (lengths[0] != lengths[1]).any():
        problems.append(f"unpadded lengths: {names[0]} {lengths[0].tolist()}, {names[1]} "
                        f"{lengths[1].tolist()} (truncation differs)")
    return problems


def reference_tokenization(path: Path, texts: list[str], max_len: int,
                           batch: dict[str, np.ndarray]) -> list[str]:
    """transformers' tokenizer for the folder vs the trainers' one (skipped if it cannot load)."""
    try:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(path))
        ref = tok(list(texts), truncation=True, max_length=max_len, padding=True,
                  return_tensors="np")
    except Exception:  # noqa: BLE001 - the reference is optional; the trainers' check stands
        return []
    ref = {k: ref[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in ref}
    if len(ref) < 3:
        return []
    return [f"vs transformers' tokenizer: {p}"
            for p in compare_inputs(batch, ref, ("bertmon", "transformers"))]


# --- models -----------------------------------------------------------------------------------
def _n_labels(path: Path) -> int:
    head = path / HEAD_FILE
    if head.exists():
        from safetensors.numpy import load_file

        return int(load_file(str(head))["classifier.weight"].shape[0])
    return 2


def _head_weights(path: Path, hidden: int, n_labels: int, head: str, seed: int) -> dict:
    if (path / HEAD_FILE).exists():
        from safetensors.numpy import load_file

        weights = load_file(str(path / HEAD_FILE))
        if ("dense.weight" in weights) == (head == "cls-dense"):
            return weights
    return head_init(hidden, n_labels, head == "cls-dense", seed)


def torch_layers(path: Path, batch: dict[str, np.ndarray], head: str, n_labels: int,
                 seed: int) -> dict[str, np.ndarray]:
    import torch
    from bertmon.trainers.torch_trainer import BertClassifier
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    encoder = AutoModel.from_pretrained(str(path), dtype=torch.float32, use_safetensors=True)
    model = BertClassifier(encoder, n_labels, head, 0.0, seed).eval()
    hidden = encoder.config.hidden_size
    model.head_module().load_state_dict(
        {k: torch.from_numpy(np.asarray(v)) for k, v in
         _head_weights(path, hidden, n_labels, head, seed).items()})
    inputs = {k: torch.from_numpy(v) for k, v in batch.items()}
    with torch.no_grad():
        out = encoder(**inputs, output_hidden_states=True)
        logits = model(**inputs)
    states = out.hidden_states
    layers = {"embeddings": states[0].numpy()}
    layers.update({f"encoder.layer.{i}": s.numpy() for i, s in enumerate(states[1:])})
    layers["pooler"] = out.pooler_output.numpy()
    layers["head"] = logits.numpy()
    return layers


def tf_layers(path: Path, batch: dict[str, np.ndarray], head: str, n_labels: int,
              seed: int) -> dict[str, np.ndarray]:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from bertmon.trainers.keras_bert import MASK_BIAS, load_encoder
    from bertmon.trainers.tf_trainer import KerasClassifier
    from keras import ops

    encoder = load_encoder(path)
    model = KerasClassifier(encoder, n_labels, head, 0.0)
    inputs = {k: v.astype("int32") for k, v in batch.items()}
    model(inputs)  # build the head
    model.set_head(_head_weights(path, encoder.cfg["hidden_size"], n_labels, head, seed))
    # The encoder's own call, unrolled to keep every layer's output.
    mask = ops.cast(inputs["attention_mask"], "float32")
    mask_bias = (1.0 - mask)[:, None, None, :] * MASK_BIAS
    x = encoder.embeddings(inputs["input_ids"], inputs["token_type_ids"], training=False)
    layers = {"embeddings": ops.convert_to_numpy(x)}
    for i, block in enumerate(encoder.blocks):
        x = block(x, mask_bias, training=False)
        layers[f"encoder.layer.{i}"] = ops.convert_to_numpy(x)
    layers["pooler"] = ops.convert_to_numpy(encoder.pooler(x[:, 0]))
    layers["head"] = ops.convert_to_numpy(model(inputs, training=False))
    return layers


def _max_positions(path: Path) -> int:
    try:
        return int(json.loads((path / "config.json").read_text(encoding="utf-8"))
                   .get("max_position_embeddings", 512))
    except (OSError, ValueError, TypeError):
        return 512


def _diff(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None) -> tuple[float, float]:
    if mask is not None:
        a, b = a[mask], b[mask]
    a, b = a.astype(np.float64), b.astype(np.float64)
    max_abs = float(np.max(np.abs(a - b), initial=0.0))
    scale = float(np.max(np.abs(a), initial=0.0))
    return max_abs, max_abs / scale if scale else max_abs


def run_parity(model: str | Path, texts: list[str] | None = None, head: str = "cls",
               tf_head: str | None = None, max_len: int | None = None, tf_max_len: int | None = None,
               tol: float = DEFAULT_TOL, against: str | Path | None = None,
               seed: int = 42) -> ParityReport:
    """Load `model` in PyTorch and (`against` or `model`) in TensorFlow; compare layer by layer."""
    path = check_checkpoint(model)
    tf_path = check_checkpoint(against) if against else path
    texts = list(texts or DEFAULT_TEXTS)
    tf_head = tf_head or head
    limit = min(_max_positions(path), _max_positions(tf_path))
    max_len = max_len or min(128, limit)
    tf_max_len = tf_max_len or max_len
    if max(max_len, tf_max_len) > limit:
        raise ParityError(f"max_len {max(max_len, tf_max_len)} exceeds the model's "
                          f"max_position_embeddings {limit}")
    report = ParityReport(str(path), str(tf_path), head, tf_head, tol, texts)
    if against:
        report.tensors = diff_checkpoints(path, tf_path)
    batch = tokenize(path, texts, max_len)
    tf_batch = tokenize(tf_path, texts, tf_max_len)
    report.tokenization = compare_inputs(batch, tf_batch)
    report.tokenization += reference_tokenization(path, texts, max_len, batch)
    if compare_inputs(batch, tf_batch):
        report.explanation = ("the two frameworks were given different inputs, so their outputs "
                              "cannot be compared; fix the tokenization first (max_len, vocab, "
                              "lowercasing, padding)")
        report.first_divergence = "inputs"
        return report
    n_labels = _n_labels(path)
    try:
        pt = torch_layers(path, batch, head, n_labels, seed)
    except Exception as exc:  # noqa: BLE001 - a checkpoint one framework cannot load
        raise ParityError(f"PyTorch cannot load {path}: {exc}".splitlines()[0]) from None
    try:
        tf = tf_layers(tf_path, batch, tf_head, n_labels, seed)
    except Exception as exc:  # noqa: BLE001
        raise ParityError(f"TensorFlow cannot load {tf_path}: {exc}".splitlines()[0]) from None
    mask = batch["attention_mask"].astype(bool)
    for name in pt:
        if name not in tf:
            report.layers.append(LayerDiff(name, float("nan"), float("nan"), False,
                                           "missing in TensorFlow (different layer count)"))
            continue
        seq = pt[name].ndim == 3
        max_abs, max_rel = _diff(pt[name], tf[name], mask if seq else None)
        report.layers.append(LayerDiff(name, max_abs, max_rel, max_abs <= tol,
                                       "unpadded tokens" if seq else "per example"))
    bad = next((d for d in report.layers if not d.ok), None)
    report.first_divergence = bad.layer if bad else None
    report.explanation = _explain(report)
    return report


def _explain(report: ParityReport) -> str:
    if report.first_divergence is None:
        return f"every layer agrees within {report.tol:g}"
    if report.head != report.tf_head and report.first_divergence == "head":
        return (f"the encoders agree; the heads differ by design: PyTorch uses {report.head} "
                f"({HEAD_MEANING[report.head]}), TensorFlow uses {report.tf_head} "
                f"({HEAD_MEANING[report.tf_head]}). Their logits are different functions of the "
                "same encoder output, not a numeric bug; use the same head in both to compare.")
    if report.tensors:
        layers = sorted({t.layer for t in report.tensors}, key=lambda n: _weight_order(n + ".x"))
        return (f"the checkpoints differ in {len(report.tensors)} tensor(s) ({', '.join(layers)}); "
                f"outputs first diverge at {report.first_divergence}")
    return (f"outputs first diverge at {report.first_divergence}: check that layer's weights and "
            "its implementation (GELU variant, LayerNorm epsilon, attention mask)")


# --- rendering --------------------------------------------------------------------------------
def render(report: ParityReport, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps(report.to_json(), indent=2, default=str) + "\n"
    out = [(f"bertmon parity: PyTorch {report.model} (head {report.head}) vs TensorFlow "
           f"{report.tf_model} (head {report.tf_head}), tolerance {report.tol:g}"), ""]
    out.append("tokenization: " + ("identical ids, attention mask, token types and padding"
                                   if not report.tokenization else "MISMATCH"))
    out.extend(f"  {p}" for p in report.tokenization)
    if report.layers:
        out.append("")
        width = max(len(d.layer) for d in report.layers)
        out.append(f"  {'layer'.ljust(width)}  {'max abs':>10}  {'max rel':>10}")
        for d in report.layers:
            mark = "ok" if d.ok else "DIVERGES"
            out.append(f"  {d.layer.ljust(width)}  {d.max_abs:10.3e}  {d.max_rel:10.3e}  "
                       f"{mark}  ({d.note})")
    if report.tensors is not None:
        out.append("")
        out.append(f"checkpoint tensors: {len(report.tensors)} differ" if report.tensors
                   else "checkpoint tensors: identical")
        for t in report.tensors:
            size = f" max abs {t.max_abs:.3e}" if t.max_abs is not None else ""
            out.append(f"  {t.name} [{t.layer}]: {t.problem}{size}")
    out.append("")
    if report.first_divergence:
        out.append(f"first divergence: {report.first_divergence}")
    out.append(report.explanation)
    return "\n".join(out) + "\n"

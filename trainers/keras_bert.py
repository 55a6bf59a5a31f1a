"""A Keras 3 BERT encoder that loads a Hugging Face checkpoint's safetensors by name.

transformers 5 has no TensorFlow models, and keras-hub's BertBackbone uses the tanh GELU (3e-3 off
the PyTorch model) and pulls in the full `tensorflow` wheel; this ~150-line encoder matches
PyTorch's `BertModel` to about 1e-6 on unpadded positions. Post-LayerNorm BERT, exact GELU,
absolute positions. Weights export back under the same names, so a checkpoint the TensorFlow
trainer saves loads in `transformers.AutoModel` too.
"""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
from keras import layers, ops

MASK_BIAS = -1e4  # exp() of it is exactly 0 in float16, bfloat16 and float32 alike


def _gelu(x):
    return keras.activations.gelu(x, approximate=False)


class BertEmbeddings(layers.Layer):
    def __init__(self, cfg: dict, **kwargs) -> None:
        super().__init__(**kwargs)
        h = cfg["hidden_size"]
        self.word = layers.Embedding(cfg["vocab_size"], h, name="word_embeddings")
        self.position = layers.Embedding(cfg["max_position_embeddings"], h,
                                         name="position_embeddings")
        self.token_type = layers.Embedding(cfg.get("type_vocab_size", 2), h,
                                           name="token_type_embeddings")
        self.norm = layers.LayerNormalization(epsilon=cfg.get("layer_norm_eps", 1e-12),
                                              name="LayerNorm")
        self.drop = layers.Dropout(cfg.get("hidden_dropout_prob", 0.1))

    def call(self, input_ids, token_type_ids, training=False):
        positions = ops.arange(ops.shape(input_ids)[1])
        x = self.word(input_ids) + self.position(positions)[None] + self.token_type(token_type_ids)
        return self.drop(self.norm(x), training=training)


class BertLayer(layers.Layer):
    def __init__(self, cfg: dict, **kwargs) -> None:
        super().__init__(**kwargs)
        h = cfg["hidden_size"]
        self.heads = cfg["num_attention_heads"]
        self.head_dim = h // self.heads
        eps = cfg.get("layer_norm_eps", 1e-12)
        self.query = layers.Dense(h, name="query")
        self.key = layers.Dense(h, name="key")
        self.value = layers.Dense(h, name="value")
        self.attn_out = layers.Dense(h, name="attention_output")
        self.attn_norm = layers.LayerNormalization(epsilon=eps, name="attention_LayerNorm")
        self.intermediate = layers.Dense(cfg["intermediate_size"], activation=_gelu,
                                         name="intermediate")
        self.out = layers.Dense(h, name="output")
        self.out_norm = layers.LayerNormalization(epsilon=eps, name="output_LayerNorm")
        self.attn_drop = layers.Dropout(cfg.get("attention_probs_dropout_prob", 0.1))
        self.drop = layers.Dropout(cfg.get("hidden_dropout_prob", 0.1))

    def _split(self, x):
        b, t = ops.shape(x)[0], ops.shape(x)[1]
        return ops.transpose(ops.reshape(x, (b, t, self.heads, self.head_dim)), (0, 2, 1, 3))

    def call(self, x, mask_bias, training=False):
        q, k, v = self._split(self.query(x)), self._split(self.key(x)), self._split(self.value(x))
        scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) / math.sqrt(self.head_dim)
        probs = ops.softmax(scores + ops.cast(mask_bias, scores.dtype), axis=-1)
        ctx = ops.matmul(self.attn_drop(probs, training=training), v)
        b, t = ops.shape(x)[0], ops.shape(x)[1]
        ctx = ops.reshape(ops.transpose(ctx, (0, 2, 1, 3)), (b, t, self.heads * self.head_dim))
        a = self.attn_norm(x + self.drop(self.attn_out(ctx), training=training))
        return self.out_norm(a + self.drop(self.out(self.intermediate(a)), training=training))


class BertEncoder(keras.Model):
    """(sequence output, pooled output) from a dict of input_ids, token_type_ids, attention_mask."""

    def __init__(self, cfg: dict, **kwargs) -> None:
        super().__init__(**kwargs)
        self.cfg = cfg
        self.embeddings = BertEmbeddings(cfg, name="embeddings")
        self.blocks = [BertLayer(cfg, name=f"layer_{i}") for i in range(cfg["num_hidden_layers"])]
        self.pooler = layers.Dense(cfg["hidden_size"], activation="tanh", name="pooler")

    def call(self, inputs, training=False):
        mask = ops.cast(inputs["attention_mask"], "float32")
        mask_bias = (1.0 - mask)[:, None, None, :] * MASK_BIAS
        x = self.embeddings(inputs["input_ids"], inputs["token_type_ids"], training=training)
        for block in self.blocks:
            x = block(x, mask_bias, training=training)
        return x, self.pooler(x[:, 0])

    def build_weights(self) -> None:
        """Create the variables by calling on a dummy batch."""
        dummy = {k: np.zeros((1, 2), np.int32)
                 for k in ("input_ids", "token_type_ids", "attention_mask")}
        dummy["attention_mask"][:] = 1
        self(dummy)

    def weight_map(self) -> list[tuple[str, keras.Variable, bool]]:
        """(Hugging Face name, variable, transpose?) for every weight."""
        out: list[tuple[str, keras.Variable, bool]] = []

        def dense(name: str, layer: layers.Dense) -> None:
            out.append((f"{name}.weight", layer.kernel, True))
            out.append((f"{name}.bias", layer.bias, False))

        def norm(name: str, layer: layers.LayerNormalization) -> None:
            out.append((f"{name}.weight", layer.gamma, False))
            out.append((f"{name}.bias", layer.beta, False))

        e = self.embeddings
        for name, emb in (("word", e.word), ("position", e.position),
                          ("token_type", e.token_type)):
            out.append((f"embeddings.{name}_embeddings.weight", emb.embeddings, False))
        norm("embeddings.LayerNorm", e.norm)
        for i, blk in enumerate(self.blocks):
            p = f"encoder.layer.{i}"
            dense(f"{p}.attention.self.query", blk.query)
            dense(f"{p}.attention.self.key", blk.key)
            dense(f"{p}.attention.self.value", blk.value)
            dense(f"{p}.attention.output.dense", blk.attn_out)
            norm(f"{p}.attention.output.LayerNorm", blk.attn_norm)
            dense(f"{p}.intermediate.dense", blk.intermediate)
            dense(f"{p}.output.dense", blk.out)
            norm(f"{p}.output.LayerNorm", blk.out_norm)
        dense("pooler.dense", self.pooler)
        return out

    def load_hf_weights(self, tensors: dict[str, np.ndarray], strict_pooler: bool = False) -> None:
        """Assign every weight from HF-named arrays (with or without a `bert.` prefix)."""
        if not self.built:
            self.build_weights()
        prefix = "bert." if any(k.startswith("bert.") for k in tensors) else ""
        missing = []
        for name, var, transpose in self.weight_map():
            value = tensors.get(prefix + name)
            if value is None:
                if name.startswith("pooler.") and not strict_pooler:
                    continue  # a checkpoint saved without its pooler: keep the random init
                missing.append(name)
                continue
            value = value.T if transpose else value
            if tuple(value.shape) != tuple(var.shape):
                raise ValueError(f"{name}: checkpoint shape {value.shape}, model {var.shape}")
            var.assign(value.astype(np.float32))
        if missing:
            raise ValueError(f"checkpoint lacks {len(missing)} weights, e.g. {missing[0]}")

    def hf_weights(self) -> dict[str, np.ndarray]:
        out = {}
        for name, var, transpose in self.weight_map():
            value = np.asarray(keras.ops.convert_to_numpy(var), np.float32)
            out[name] = np.ascontiguousarray(value.T if transpose else value)
        return out


def load_encoder(path: str | Path) -> BertEncoder:
    """A BertEncoder with the weights of the Hugging Face folder `path` (safetensors)."""
    import json

    from safetensors.numpy import load_file

    path = Path(path)
    cfg = json.loads((path / "config.json").read_text())
    weights = path / "model.safetensors"
    if not weights.exists():
        raise FileNotFoundError(f"{path} has no model.safetensors (the TensorFlow trainer reads "
                                "safetensors only)")
    encoder = BertEncoder(cfg, name="bert")
    encoder.build_weights()
    encoder.load_hf_weights(load_file(str(weights)))
    return encoder

"""The TensorFlow trainer: Keras 3 `model.fit` on our Keras BERT, with a dev-score callback.

Its log is Keras's own: `Epoch k/N` and the progress bar, whose epoch-end line carries the dev
metrics (`val_loss`, `val_accuracy`, `val_f1`) the callback adds. Mixed precision on a GPU,
`tf.distribute.MirroredStrategy` when there are several.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from bertmon.trainers.common import (
    HEAD_FILE,
    TOKENIZER_FILES,
    BestTracker,
    StopFlag,
    bucket_batches,
    config_record,
    epoch_batches,
    head_init,
    load_run,
    macro_f1,
    pad_batch,
    preamble,
    prepare_data,
    versions,
)
from bertmon.trainers.config import TrainConfig
from bertmon.trainers.keras_bert import BertEncoder, load_encoder
from bertmon.trainers.keras_optim import LinearWarmupDecay, make_optimizer
from bertmon.trainers.rundir import RunDir, swapped_in

INPUT_KEYS = ("input_ids", "token_type_ids", "attention_mask")


class KerasClassifier(keras.Model):
    """The same heads as the PyTorch trainer: cls, pooler, cls-dense."""

    def __init__(self, encoder: BertEncoder, n_labels: int, head: str, dropout: float,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.encoder = encoder
        self.head = head
        hidden = encoder.cfg["hidden_size"]
        self.dense = layers.Dense(hidden, activation="tanh", name="dense") \
            if head == "cls-dense" else None
        self.drop = layers.Dropout(dropout)
        self.classifier = layers.Dense(n_labels, name="classifier", dtype="float32")

    def call(self, inputs, training=False):
        seq, pooled = self.encoder(inputs, training=training)
        h = pooled if self.head == "pooler" else seq[:, 0]
        if self.dense is not None:
            h = self.dense(h)
        return self.classifier(self.drop(h, training=training))

    def head_layers(self) -> dict[str, layers.Dense]:
        out = {"classifier": self.classifier}
        if self.dense is not None:
            out["dense"] = self.dense
        return out

    def set_head(self, weights: dict[str, np.ndarray]) -> None:
        for name, layer in self.head_layers().items():
            layer.kernel.assign(weights[f"{name}.weight"].T)
            layer.bias.assign(weights[f"{name}.bias"])

    def get_head(self) -> dict[str, np.ndarray]:
        out = {}
        for name, layer in self.head_layers().items():
            out[f"{name}.weight"] = np.ascontiguousarray(
                np.asarray(ops.convert_to_numpy(layer.kernel), np.float32).T)
            out[f"{name}.bias"] = np.asarray(ops.convert_to_numpy(layer.bias), np.float32)
        return out


def save_checkpoint(model: KerasClassifier, out: Path, source: Path, meta: dict) -> None:
    """Hugging Face names in safetensors: loadable by this trainer and by `AutoModel` alike."""
    from safetensors.numpy import save_file

    with swapped_in(out) as tmp:
        save_file(model.encoder.hf_weights(), str(tmp / "model.safetensors"),
                  metadata={"format": "pt"})
        save_file(model.get_head(), str(tmp / HEAD_FILE))
        shutil.copy(source / "config.json", tmp / "config.json")
        for name in TOKENIZER_FILES:
            if (source / name).exists():
                shutil.copy(source / name, tmp / name)
        (tmp / "bertmon.json").write_text(json.dumps(meta, indent=2) + "\n")


class EpochClock(keras.callbacks.Callback):
    """Tells the training dataset which epoch Keras starts, so its batches are
    `epoch_batches(..., epoch)` however many iterators Keras makes (under MirroredStrategy it
    pulls a batch to build the model before the first epoch)."""

    def __init__(self) -> None:
        super().__init__()
        self.epoch = 1

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1


def make_dataset(enc, labels: np.ndarray, batch_size: int, seed: int | None,
                 clock: EpochClock | None = None) -> tf.data.Dataset:
    """Length-bucketed, dynamically padded batches; with `seed`, epoch k's are
    `epoch_batches(lengths, batch_size, seed, k)`, the PyTorch trainer's epoch k batches.

    `clock` says which epoch it is; without one, each pass over the dataset is the next epoch.
    Shapes are (None, None), so Keras traces its train step once whatever the batch length.
    """
    lengths = [len(x) for x in enc.input_ids]
    n_batches = len(bucket_batches(lengths, batch_size, None))
    passes = [0]

    def generate():
        passes[0] += 1
        if seed is None:
            batches = bucket_batches(lengths, batch_size, None)
        else:
            epoch = clock.epoch if clock is not None else passes[0]
            batches = epoch_batches(lengths, batch_size, seed, epoch)
        for idx in batches:
            batch = pad_batch(enc, idx)
            yield {k: batch[k].astype(np.int32) for k in INPUT_KEYS}, labels[idx].astype(np.int32)

    spec = ({k: tf.TensorSpec((None, None), tf.int32) for k in INPUT_KEYS},
            tf.TensorSpec((None,), tf.int32))
    ds = tf.data.Dataset.from_generator(generate, output_signature=spec)
    return ds.apply(tf.data.experimental.assert_cardinality(n_batches)).prefetch(2)


class DevScore(keras.callbacks.Callback):
    """Scores dev after every epoch (loss, accuracy, macro-F1) into the epoch's logs, so the
    progress bar prints them; keeps the best checkpoint; early stopping and a graceful stop
    through the shared `BestTracker`.

    `y_dev` is in `dev_ds`'s order (length-bucketed), the order `predict` returns."""

    def __init__(self, cfg: TrainConfig, rd: RunDir, dev_ds, y_dev: np.ndarray, n_labels: int,
                 source: Path, label_names: list[str], stop: StopFlag,
                 tracker: BestTracker) -> None:
        super().__init__()
        self.cfg, self.rd, self.dev_ds, self.y_dev = cfg, rd, dev_ds, y_dev
        self.n_labels, self.source, self.label_names, self.stop = (n_labels, source,
                                                                   label_names, stop)
        self.tracker = tracker
        self.messages: list[str] = []
        self.started = 0.0
        self.epoch = self.step = 0

    @property
    def stopped_at(self) -> tuple[int, int, int] | None:
        return self.tracker.stopped_at

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()
        self.epoch, self.step = epoch + 1, 0
        self.tracker.epoch = self.epoch

    def on_train_batch_end(self, batch, logs=None):
        self.step = batch + 1
        # a stop on an epoch's last step lets that epoch finish: scored, saved, then stopped
        if self.stop.requested and self.step < self.params["steps"]:
            self.tracker.stop_mid_epoch(self.epoch, self.step, self.params["steps"])
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if self.tracker.stopped or logs is None:
            return
        epoch += 1
        logits = self.model.predict(self.dev_ds, verbose=0).astype(np.float64)
        shifted = logits - logits.max(-1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
        pred = logits.argmax(-1)
        logs["val_loss"] = float(-logp[np.arange(len(self.y_dev)), self.y_dev].mean())
        logs["val_accuracy"] = float(np.mean(pred == self.y_dev))
        logs["val_f1"] = macro_f1(self.y_dev, pred, self.n_labels)
        seconds = time.perf_counter() - self.started
        self.rd.append_metrics(epoch, {**{k: v for k, v in logs.items()
                                          if isinstance(v, (int, float))}, "time": seconds})
        scores = {"dev_f1": logs["val_f1"], "dev_acc": logs["val_accuracy"]}
        if self.tracker.epoch_end(epoch, scores):
            save_checkpoint(self.model, self.rd.checkpoint, self.source,
                            _meta(self.cfg, self.label_names, epoch, dict(logs)))
            self.messages.append(self.tracker.saved_line(self.rd.checkpoint))
        early = self.tracker.early_stop_line(epoch)
        if early:
            self.model.stop_training = True
            self.messages.append(early)
        elif self.stop.requested:
            self.tracker.stop_after_epoch(epoch)
            self.model.stop_training = True


class Progbar(keras.callbacks.ProgbarLogger):
    """Keras's progress bar, except that an epoch cut short by a stop ends at the step it reached.

    Keras ends every epoch with a finished frame at the full step count (`600/600 ...`), even when
    `stop_training` cut it short at step 147: a log reader takes that for a completed epoch with
    no dev scores. Here the bar's line just ends at 147/600, and `train` says where it stopped.
    """

    def __init__(self, dev_score: DevScore) -> None:
        super().__init__()
        self.dev_score = dev_score

    def on_epoch_end(self, epoch, logs=None):
        if self.dev_score.stopped_at is not None:
            print(flush=True)  # end the bar's line at the step it reached
            return
        super().on_epoch_end(epoch, logs)


class AfterProgbar(keras.callbacks.Callback):
    """Prints the dev-score callback's messages once Keras has finished its epoch line."""

    def __init__(self, dev_score: DevScore) -> None:
        super().__init__()
        self.dev_score = dev_score

    def on_epoch_end(self, epoch, logs=None):
        for line in self.dev_score.messages:
            print(line, flush=True)
        self.dev_score.messages.clear()


def describe_device(gpus: list, replicas: int) -> str:
    if not gpus:
        return f"cpu (tensorflow {tf.__version__}, {os.cpu_count()} cores)"
    text = f"gpu ({len(gpus)} x {gpus[0].name})"
    return text + (f", MirroredStrategy replicas={replicas}" if replicas > 1 else "")


def policy_for(precision: str, gpus: list) -> tuple[str, str]:
    if precision == "auto":
        precision = "fp16" if gpus else "fp32"
    if precision == "fp16" and not gpus:
        print("note: fp16 needs a GPU; training in fp32 on the CPU")
        precision = "fp32"
    policy = {"fp32": "float32", "fp16": "mixed_float16", "bf16": "mixed_bfloat16"}[precision]
    return policy, precision


def train(run_dir: Path) -> int:
    rd, cfg, model_info = load_run(run_dir)
    stop = StopFlag().install()
    keras.utils.set_random_seed(cfg.seed)

    task, train_enc, dev_enc, y_train, y_dev, n_labels = prepare_data(cfg, model_info.path)

    gpus = tf.config.list_physical_devices("GPU")
    strategy = tf.distribute.MirroredStrategy() if len(gpus) > 1 else None
    replicas = strategy.num_replicas_in_sync if strategy else 1
    policy, precision = policy_for(cfg.precision, gpus)
    keras.mixed_precision.set_global_policy(policy)
    libs = versions("tensorflow-cpu", "tensorflow", "keras", "tokenizers")
    device = describe_device(gpus, replicas)
    rd.write_config(config_record(cfg, model_info, device, task, libs, precision_used=precision,
                                  world_size=replicas, n_truncated_train=train_enc.n_truncated,
                                  n_truncated_dev=dev_enc.n_truncated))
    preamble(cfg, model_info, device, task, train_enc, dev_enc, libs)

    clock = EpochClock()
    train_ds = make_dataset(train_enc, y_train, cfg.batch_size, cfg.seed, clock)
    dev_ds = make_dataset(dev_enc, y_dev, cfg.batch_size * 2, None)
    n_batches = math.ceil(len(y_train) / cfg.batch_size)
    total = n_batches * cfg.epochs  # Keras feeds the schedule batches, accumulated or not
    schedule = LinearWarmupDecay(cfg.lr, int(cfg.warmup_ratio * total), total)

    with strategy.scope() if strategy else contextlib.nullcontext():
        encoder = load_encoder(model_info.path)
        model = KerasClassifier(encoder, n_labels, cfg.head, cfg.dropout, name="classifier")
        model(next(iter(dev_ds))[0])  # build
        model.set_head(head_init(model_info.config["hidden_size"], n_labels,
                                 cfg.head == "cls-dense", cfg.seed))
        if cfg.freeze_encoder:
            encoder.trainable = False
        elif cfg.head != "pooler":
            encoder.pooler.trainable = False  # unused by the head: keep it as loaded
        optimizer = make_optimizer(cfg.optimizer, schedule, cfg.weight_decay, cfg.grad_accum)
        model.compile(optimizer=optimizer,
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
    n_trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    n_total = sum(int(np.prod(w.shape)) for w in model.weights)
    print(f"parameters: {n_trainable:,} trainable of {n_total:,}"
          + (" (encoder frozen)" if cfg.freeze_encoder else ""), flush=True)

    tracker = BestTracker(rd, score="dev_f1", label="val_f1", epochs=cfg.epochs,
                          patience=cfg.patience)
    tracker.begin()
    # predict() returns dev in the dataset's length-bucketed order: line the labels up with it
    dev_order = np.concatenate(bucket_batches([len(x) for x in dev_enc.input_ids],
                                              cfg.batch_size * 2, None))
    dev_score = DevScore(cfg, rd, dev_ds, y_dev[dev_order], n_labels, model_info.path,
                         task.label_names, stop, tracker)
    callbacks = [clock, dev_score, Progbar(dev_score), AfterProgbar(dev_score)]
    model.fit(train_ds, epochs=cfg.epochs, callbacks=callbacks, verbose=1, shuffle=False)

    unsaved = tracker.unsaved_stop_line(rd.checkpoint)
    lines = tracker.closing_lines()
    if unsaved:
        save_checkpoint(model, rd.checkpoint, model_info.path,
                        _meta(cfg, task.label_names, None, {}))
        lines.insert(1, unsaved)
    for line in lines:
        print(line, flush=True)
    print(tracker.last_line(), flush=True)
    return tracker.finish()


def _meta(cfg: TrainConfig, labels: list[str], epoch: int | None, metrics: dict) -> dict:
    clean = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}
    return {"framework": "tf", "head": cfg.head, "dropout": cfg.dropout, "labels": labels,
            "max_len": cfg.max_len, "epoch": epoch, "metrics": clean}

"""Keras `fit` on small synthetic data, set up to show one training behaviour a rule must judge.

    python tests/emitters/keras_behaviour.py --out truth.json --behaviour overfit [--verbose 2]

Each behaviour is made by the data and the optimiser, never by editing numbers:

* `healthy`: a learnable task, a modest learning rate, many epochs: the loss keeps falling a
  little each epoch to the end (the tail of a long healthy run).
* `overfit`: few training examples, many features and a wide layer: train accuracy reaches 1
  while dev accuracy stays far lower and the dev loss climbs.
* `unstable`: a linear model (it cannot memorise) under Adam with a large learning rate
  (0.3) and a tiny dev set: dev accuracy and loss jump up and down between epochs.
* `chance`: labels independent of the inputs and a linear model: the loss drops to ln K within
  the first epoch and stays there (stalled at chance level from the first epoch).
* `stalled`: a learnable task with a learning rate of 1e-6: the loss barely moves.
* `diverged`: SGD with a huge learning rate on unscaled inputs: the loss becomes nan.
* `explode`: a large learning rate with no NaN: the loss grows to huge finite values.

The ground truth written to --out is `History.history` (what Keras recorded) and the settings.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BEHAVIOURS = ("healthy", "overfit", "unstable", "chance", "stalled", "diverged", "explode")


def _jsonable(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--behaviour", required=True, choices=BEHAVIOURS)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--classes", type=int, default=2)
    ap.add_argument("--verbose", type=int, default=2, choices=(1, 2))
    ap.add_argument("--metric-name", default="accuracy", choices=("accuracy", "acc"))
    ap.add_argument("--lr", type=float, default=None, help="override the behaviour's learning rate")
    ap.add_argument("--print-config", action="store_true",
                    help="print `num_labels=K` before training, as many scripts do")
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args(argv)

    import keras
    import numpy as np
    import tensorflow as tf

    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    b, k = args.behaviour, args.classes
    n_features = {"overfit": 200}.get(b, 16)
    n_train = {"overfit": 80, "unstable": 1024}.get(b, 512)
    n_val = {"unstable": 40}.get(b, 256)
    w_true = rng.normal(size=(n_features, k))
    noise = {"overfit": 4.0}.get(b, 1.0)
    scale = {"diverged": 50.0, "explode": 1.0}.get(b, 1.0)

    def make(n):
        x = rng.normal(size=(n, n_features)).astype("float32")
        if b == "chance":
            y = rng.integers(0, k, size=n)
        else:
            y = (x @ w_true + rng.normal(scale=noise, size=(n, k))).argmax(axis=1)
        return x * scale, (y.astype("float32") if k == 2 else y)

    x_train, y_train = make(n_train)
    x_val, y_val = make(n_val)
    width = {"overfit": 512}.get(b, 32)
    lr = args.lr if args.lr is not None else {
        "healthy": 3e-4, "overfit": 1e-3, "unstable": 0.3, "chance": 1e-2, "stalled": 1e-6,
        "diverged": 5.0, "explode": 1.03}[b]
    if b == "explode":
        optimizer = keras.optimizers.SGD(lr)
    elif b == "diverged":
        optimizer = keras.optimizers.SGD(lr, momentum=0.9)
    else:
        optimizer = keras.optimizers.Adam(lr)
    if k == 2:
        head, loss = keras.layers.Dense(1, activation="sigmoid"), "binary_crossentropy"
    else:
        head, loss = keras.layers.Dense(k, activation="softmax"), "sparse_categorical_crossentropy"
    layers = [keras.Input(shape=(n_features,)), keras.layers.Dense(width, activation="relu")]
    if b in ("unstable", "chance"):  # linear: nothing to memorise
        layers = [keras.Input(shape=(n_features,))]
    if b == "explode":  # no activation to saturate: the loss grows without turning nan
        layers = [keras.Input(shape=(n_features,))]
        head, loss = keras.layers.Dense(1), "mse"
    model = keras.Sequential([*layers, head])
    metrics = [] if b == "explode" else [args.metric_name]
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    if args.print_config:
        print(f"num_labels={k}", flush=True)
    history = model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=args.epochs,
                        batch_size=32, verbose=args.verbose, shuffle=True)
    truth = {
        "emitter": "keras_behaviour",
        "argv": sys.argv[1:],
        "versions": {"keras": keras.__version__, "tensorflow": tf.__version__,
                     "numpy": np.__version__, "python": platform.python_version()},
        "behaviour": b,
        "classes": k,
        "lr": lr,
        "history": {name: [_jsonable(float(v)) for v in values]
                    for name, values in history.history.items()},
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(truth, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Train a tiny Keras 3 model and let Keras print its own progress bars.

Run as a subprocess by tests/conftest.py:

    python tests/emitters/keras_fit.py --out truth.json [--verbose 1|2] [--epochs N] ...

stdout/stderr carry exactly what Keras (and TensorFlow) print; the ground truth written to
--out is what Keras itself recorded in this process (`History.history`, `params`), so a test can
compare the parser's reading of the log with the framework's own numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _jsonable(value):
    """History values are Python floats; NaN/inf are kept as strings so the JSON stays strict."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # 'nan', 'inf', '-inf'
    return value


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True, help="where to write the ground-truth JSON")
    ap.add_argument("--verbose", type=int, default=1, choices=(1, 2))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--steps", type=int, default=12, help="train batches per epoch")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--classes", type=int, default=2, choices=(2, 3))
    ap.add_argument("--metric-name", default="accuracy", choices=("accuracy", "acc"),
                    help='the name given in metrics=[...]; "acc" is printed as acc')
    ap.add_argument("--nan", action="store_true",
                    help="poison the output layer's bias with NaN mid-way through --nan-epoch")
    ap.add_argument("--nan-epoch", type=int, default=2, help="1-based epoch the loss turns NaN in")
    ap.add_argument("--terminate-on-nan", action="store_true",
                    help="add keras.callbacks.TerminateOnNaN (it prints its own message)")
    ap.add_argument("--crash-at-epoch", type=int, default=None, metavar="K",
                    help="after epoch K completes, raise RuntimeError on the next epoch's 2nd batch")
    ap.add_argument("--restart", action="store_true",
                    help="call fit a second time in the same process (two runs in one log)")
    ap.add_argument("--restart-epochs", type=int, default=None)
    ap.add_argument("--step-delay", type=float, default=0.06,
                    help="seconds to sleep after each train batch, so that Keras (which redraws at "
                         "most every 0.05 s) prints intermediate bars as a real BERT run would")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--evaluate", action="store_true",
                    help="after fit, model.evaluate on the validation data (its own bar)")
    ap.add_argument("--csv-logger", default=None, metavar="PATH",
                    help="add keras.callbacks.CSVLogger(PATH): the epoch table as a .csv file")
    ap.add_argument("--tensorboard", default=None, metavar="DIR",
                    help="add keras.callbacks.TensorBoard(DIR): epoch scalars as event files")
    args = ap.parse_args(argv)

    import keras
    import numpy as np
    import tensorflow as tf

    keras.utils.set_random_seed(args.seed)
    truth: dict = {
        "emitter": "keras_fit",
        "argv": sys.argv[1:],
        "versions": {"keras": keras.__version__, "tensorflow": tf.__version__,
                     "numpy": np.__version__, "python": platform.python_version()},
        "verbose": args.verbose,
        "metric_name": args.metric_name,
        "runs": [],
        "crashed": False,
        "error": None,
    }

    n_train = args.steps * args.batch_size
    n_val = 4 * args.batch_size
    n_features = 16
    rng = np.random.default_rng(args.seed)
    w_true = rng.normal(size=(n_features, args.classes))

    def make(n):
        x = rng.normal(size=(n, n_features)).astype("float32")
        logits = x @ w_true + rng.normal(scale=1.5, size=(n, args.classes))
        y = logits.argmax(axis=1)
        if args.classes == 2:
            y = y.astype("float32")
        return x, y

    x_train, y_train = make(n_train)
    x_val, y_val = make(n_val)

    def build():
        if args.classes == 2:
            head, loss = (keras.layers.Dense(1, activation="sigmoid", name="head"),
                          "binary_crossentropy")
        else:
            head, loss = (keras.layers.Dense(args.classes, activation="softmax", name="head"),
                          "sparse_categorical_crossentropy")
        model = keras.Sequential([
            keras.Input(shape=(n_features,)),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            head,
        ])
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss,
                      metrics=[args.metric_name])
        return model

    class Slow(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            time.sleep(args.step_delay)

    class Poison(keras.callbacks.Callback):
        """Make the loss NaN the way a blown-up update would: the weights become non-finite.

        The output layer's bias, not a hidden kernel: NaN + x is NaN on every CPU, where an
        inf hidden kernel gives NaNs that some oneDNN ReLU kernels turn into zeros."""

        def __init__(self):
            super().__init__()
            self.epoch = -1

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if self.epoch + 1 == args.nan_epoch and batch == args.steps // 2:
                bias = self.model.get_layer("head").bias
                bias.assign(np.full(bias.shape, np.nan, dtype="float32"))

    class Crash(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epoch = -1

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if self.epoch == args.crash_at_epoch and batch == 1:
                raise RuntimeError(
                    f"bertmon test emitter: simulated crash in epoch {self.epoch + 1}")

    def evaluate(model):
        result = model.evaluate(x_val, y_val, batch_size=args.batch_size // 2,
                                verbose=args.verbose, return_dict=True)
        truth["evaluate"] = {k: _jsonable(float(v)) for k, v in result.items()}

    def fit(model, epochs):
        history = keras.callbacks.History()  # ours, so it survives a crash
        callbacks: list = [history]
        if args.step_delay > 0:
            callbacks.append(Slow())
        if args.nan:
            callbacks.append(Poison())
        if args.terminate_on_nan:
            callbacks.append(keras.callbacks.TerminateOnNaN())
        if args.crash_at_epoch is not None:
            callbacks.append(Crash())
        if args.csv_logger:
            callbacks.append(keras.callbacks.CSVLogger(args.csv_logger))
        if args.tensorboard:
            callbacks.append(keras.callbacks.TensorBoard(args.tensorboard, histogram_freq=0,
                                                         write_graph=False))
        record = {"epochs": epochs, "steps": args.steps, "history": {}, "params": None,
                  "epochs_completed": 0}
        truth["runs"].append(record)
        try:
            model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=epochs,
                      batch_size=args.batch_size, verbose=args.verbose, callbacks=callbacks,
                      shuffle=True)
        finally:
            record["history"] = {k: [_jsonable(float(v)) for v in vs]
                                 for k, vs in history.history.items()}
            record["params"] = dict(history.params or {})
            record["epochs_completed"] = len(history.epoch)

    def write():
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(truth, f, indent=1)

    try:
        model = build()
        fit(model, args.epochs)
        if args.evaluate:
            evaluate(model)
        if args.restart:
            print("Restarting training with a fresh model", flush=True)
            fit(build(), args.restart_epochs or args.epochs)
    except BaseException as exc:
        truth["crashed"] = True
        truth["error"] = f"{type(exc).__name__}: {exc}"
        raise  # uncaught: the interpreter prints the real traceback and exits 1
    finally:
        write()
    return 0

if __name__ == "__main__":
    sys.exit(main())

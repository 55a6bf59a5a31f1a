"""Train a tiny model with Keras 2 (`tf_keras`, the Keras 2 line kept for TensorFlow) and let
it print its own bars and callback messages.

    python tests/emitters/keras2_fit.py --out truth.json [--verbose 1|2] [--epochs N]

Keras 2 draws `12/12 [==============================] - 1s 5ms/step - loss: ...` and its callbacks
print `Epoch 3: val_loss improved from 0.69 to 0.65, saving model to ...`, `Epoch 5: early
stopping`, `Epoch 4: ReduceLROnPlateau reducing learning rate to ...`: lines that name an epoch
but open none. The truth is `History.history` from the same process.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["TF_USE_LEGACY_KERAS"] = "1"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--verbose", type=int, default=1, choices=(1, 2))
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args(argv)

    import numpy as np
    import tf_keras as keras

    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    w = rng.normal(size=16)

    def make(n):
        x = rng.normal(size=(n, 16)).astype("float32")
        return x, ((x @ w + rng.normal(scale=1.5, size=n)) > 0).astype("float32")

    x, y = make(args.steps * 8)
    xv, yv = make(32)
    model = keras.Sequential([keras.layers.Dense(16, activation="relu", input_shape=(16,)),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(3e-2), loss="binary_crossentropy",
                  metrics=["acc"])
    with tempfile.TemporaryDirectory(prefix="bertmon-keras2-") as tmp:
        callbacks = [
            keras.callbacks.ModelCheckpoint(os.path.join(tmp, "best.h5"), monitor="val_acc",
                                            save_best_only=True, verbose=1),
            keras.callbacks.ReduceLROnPlateau(monitor="val_loss", patience=1, verbose=1),
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, verbose=1),
        ]
        history = model.fit(x, y, batch_size=8, epochs=args.epochs, verbose=args.verbose,
                            validation_data=(xv, yv), callbacks=callbacks)
    truth = {"emitter": "keras_fit", "argv": sys.argv[1:], "verbose": args.verbose,
             "versions": {"tf_keras": keras.__version__, "python": platform.python_version()},
             "metric_name": "acc", "crashed": False, "error": None,
             "runs": [{"epochs": args.epochs, "epochs_completed": len(history.history["loss"]),
                       "history": {k: [v if math.isfinite(v) else str(v) for v in map(float, vs)]
                                   for k, vs in history.history.items()}}]}
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(truth, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

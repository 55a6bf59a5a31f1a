"""Train a tiny classifier with the real Lightning `Trainer` and its `CSVLogger` / `TensorBoardLogger`.

    python tests/emitters/lightning_loggers.py --out truth.json --log-dir DIR [--epochs N]

Lightning writes DIR/csv/version_0/metrics.csv (sparse rows: each `log_metrics` call fills only
the columns it logged) and, with --tensorboard, DIR/tb/version_0/events.out.tfevents.*. The
ground truth written to --out is every `log_metrics(metrics, step)` call Lightning made to its
loggers, recorded by a third logger in the same process: exactly what the files were written from.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys

os.environ.setdefault("PL_DISABLE_FORK", "1")


def _jsonable(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--log-dir", required=True)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--steps", type=int, default=8, help="train batches per epoch")
    ap.add_argument("--log-every", type=int, default=2)
    ap.add_argument("--tensorboard", action="store_true", help="add a TensorBoardLogger too")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)

    import lightning as L
    import torch
    from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger
    from lightning.pytorch.utilities import rank_zero_only

    L.seed_everything(args.seed, verbose=False)
    n_features, batch = 16, 8
    g = torch.Generator().manual_seed(args.seed)
    w_true = torch.randn(n_features, 2, generator=g)

    def make(n):
        x = torch.randn(n, n_features, generator=g)
        y = (x @ w_true + 1.5 * torch.randn(n, 2, generator=g)).argmax(1)
        return torch.utils.data.TensorDataset(x, y)

    train = torch.utils.data.DataLoader(make(args.steps * batch), batch_size=batch, shuffle=True)
    val = torch.utils.data.DataLoader(make(4 * batch), batch_size=batch)

    class Tiny(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Linear(n_features, 16), torch.nn.ReLU(),
                                           torch.nn.Linear(16, 2))

        def training_step(self, b, i):
            x, y = b
            loss = torch.nn.functional.cross_entropy(self.net(x), y)
            self.log("train_loss", loss, on_step=True, on_epoch=True)
            return loss

        def validation_step(self, b, i):
            x, y = b
            logits = self.net(x)
            self.log("val_loss", torch.nn.functional.cross_entropy(logits, y))
            self.log("val_acc", (logits.argmax(1) == y).float().mean())

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-2)

    class Recorder(Logger):
        """Keeps every call Lightning makes to its loggers."""

        def __init__(self):
            super().__init__()
            self.calls: list[dict] = []

        @property
        def name(self):
            return "recorder"

        @property
        def version(self):
            return 0

        @rank_zero_only
        def log_hyperparams(self, params, *a, **k):
            pass

        @rank_zero_only
        def log_metrics(self, metrics, step=None):
            self.calls.append({"step": step,
                               "metrics": {k: _jsonable(float(v)) for k, v in metrics.items()}})

    recorder = Recorder()
    loggers = [CSVLogger(args.log_dir, name="csv"), recorder]
    if args.tensorboard:
        loggers.append(TensorBoardLogger(args.log_dir, name="tb", default_hp_metric=False))
    trainer = L.Trainer(max_epochs=args.epochs, logger=loggers, log_every_n_steps=args.log_every,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu", devices=1,
                        num_sanity_val_steps=0)
    trainer.fit(Tiny(), train, val)
    truth = {
        "emitter": "lightning_loggers",
        "argv": sys.argv[1:],
        "versions": {"lightning": L.__version__, "torch": torch.__version__,
                     "python": platform.python_version()},
        "epochs_planned": args.epochs,
        "log_metrics_calls": recorder.calls,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(truth, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

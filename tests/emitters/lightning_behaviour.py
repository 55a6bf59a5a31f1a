"""A real PyTorch Lightning `Trainer.fit` on a small synthetic task, with its own progress bar.

    python tests/emitters/lightning_behaviour.py --out truth.json [--epochs N] [--crash-at-epoch K]

The module logs `train_loss` with `on_step=True, on_epoch=True, prog_bar=True`, so the bar shows
`train_loss_step` (the last batch) beside `train_loss_epoch` (the epoch's mean), and `val_loss`,
`val_acc` once an epoch, as most Lightning BERT scripts do. `--behaviour chance` makes the labels
independent of the inputs. The ground truth written to --out is what Lightning itself recorded:
`trainer.callback_metrics` after each epoch (`logged_metrics` of the epoch end).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys

os.environ.setdefault("PL_DISABLE_FORK", "1")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--behaviour", default="healthy", choices=("healthy", "chance"))
    ap.add_argument("--crash-at-epoch", type=int, default=None, metavar="K",
                    help="raise RuntimeError in training_step in (1-based) epoch K")
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args(argv)

    import lightning as L
    import torch

    L.seed_everything(args.seed, verbose=False)
    n_features = 12
    w_true = torch.randn(n_features, 2)

    def make(n):
        x = torch.randn(n, n_features)
        y = (x @ w_true + 0.8 * torch.randn(n, 2)).argmax(1)
        if args.behaviour == "chance":
            y = torch.randint(0, 2, (n,))
        return torch.utils.data.TensorDataset(x, y)

    train, val = make(384), make(128)
    records: list[dict] = []

    class Classifier(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Linear(n_features, 32), torch.nn.ReLU(),
                                           torch.nn.Linear(32, 2))

        def training_step(self, batch, batch_idx):
            if args.crash_at_epoch is not None and self.current_epoch + 1 == args.crash_at_epoch \
                    and batch_idx == 3:
                raise RuntimeError(f"bertmon test emitter: simulated crash in epoch "
                                   f"{self.current_epoch + 1}")
            x, y = batch
            loss = torch.nn.functional.cross_entropy(self.net(x), y)
            self.log("train_loss", loss, on_step=True, on_epoch=True, prog_bar=True)
            return loss

        def validation_step(self, batch, batch_idx):
            x, y = batch
            out = self.net(x)
            self.log("val_loss", torch.nn.functional.cross_entropy(out, y), prog_bar=True)
            self.log("val_acc", (out.argmax(1) == y).float().mean(), prog_bar=True)

        def on_train_epoch_end(self):
            records.append({"epoch": self.current_epoch + 1,
                            **{k: float(v) for k, v in self.trainer.callback_metrics.items()}})

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=3e-3)

    # the classic tqdm bar (with rich installed Lightning 2.6 draws a Rich bar instead)
    trainer = L.Trainer(max_epochs=args.epochs, accelerator="cpu", devices=1, logger=False,
                        enable_checkpointing=False, log_every_n_steps=4,
                        callbacks=[L.pytorch.callbacks.TQDMProgressBar()])
    error = None
    try:
        trainer.fit(Classifier(), torch.utils.data.DataLoader(train, batch_size=32, shuffle=True),
                    torch.utils.data.DataLoader(val, batch_size=64))
    except RuntimeError as exc:
        error = exc
    truth = {
        "emitter": "lightning_fit",
        "argv": sys.argv[1:],
        "versions": {"lightning": L.__version__, "torch": torch.__version__,
                     "python": platform.python_version()},
        "epochs": [{k: (v if math.isfinite(v) else str(v)) for k, v in r.items()}
                   for r in records],
        "crashed": error is not None,
        "error": f"{type(error).__name__}: {error}" if error is not None else None,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(truth, f, indent=1)
    if error is not None:
        raise error
    return 0


if __name__ == "__main__":
    sys.exit(main())

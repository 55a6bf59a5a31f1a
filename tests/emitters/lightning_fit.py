"""Train a tiny LightningModule and let Lightning print its own tqdm progress bars.

Run as a subprocess by tests/conftest.py:

    python tests/emitters/lightning_fit.py --out truth.json [--epochs N] [--nan]
        [--crash-at-epoch K] [--bar tqdm|rich]

stdout/stderr carry exactly what Lightning prints (its `TQDMProgressBar`: `Epoch 0: 100%|...|
12/12 [..., v_num=0, train_loss=0.693, val_loss=0.690, val_acc=0.500]`, 0-based epochs); the
ground truth written to --out is what Lightning itself recorded in this process:
`trainer.callback_metrics` at each validation epoch's end.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import tempfile


def _jsonable(value):
    value = float(value)
    return value if math.isfinite(value) else str(value)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--nan", action="store_true",
                    help="poison the weights with inf half-way through epoch index 1")
    ap.add_argument("--crash-at-epoch", type=int, default=None, metavar="K",
                    help="raise RuntimeError on the 2nd batch of 0-based epoch K")
    ap.add_argument("--bar", choices=("tqdm", "rich"), default="tqdm",
                    help="TQDMProgressBar (Lightning's default without rich) or RichProgressBar")
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args(argv)

    import lightning as L
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    L.seed_everything(args.seed, verbose=False)
    n_features = 16
    g = torch.Generator().manual_seed(args.seed)
    w = torch.randn(n_features, generator=g)

    def make(n):
        x = torch.randn(n, n_features, generator=g)
        y = ((x @ w + 1.5 * torch.randn(n, generator=g)) > 0).float()
        return TensorDataset(x, y)

    train = DataLoader(make(args.steps * args.batch_size), batch_size=args.batch_size)
    val = DataLoader(make(4 * args.batch_size), batch_size=args.batch_size)
    records: list[dict] = []

    class Model(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Linear(n_features, 16), torch.nn.ReLU(),
                                           torch.nn.Linear(16, 1))

        def training_step(self, batch, i):
            if args.nan and self.current_epoch == 1 and i == args.steps // 2:
                with torch.no_grad():
                    self.net[0].weight.fill_(float("inf"))
            if args.crash_at_epoch == self.current_epoch and i == 1:
                raise RuntimeError(
                    f"bertmon test emitter: simulated crash in epoch {self.current_epoch}")
            x, y = batch
            loss = torch.nn.functional.binary_cross_entropy_with_logits(self.net(x).squeeze(1), y)
            self.log("train_loss", loss, prog_bar=True, on_step=True, on_epoch=False)
            return loss

        def validation_step(self, batch, i):
            x, y = batch
            logits = self.net(x).squeeze(1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
            acc = ((logits > 0).float() == y).float().mean()
            self.log("val_loss", loss, prog_bar=True)
            self.log("val_acc", acc, prog_bar=True)

        def on_validation_epoch_end(self):
            if not self.trainer.sanity_checking:
                records.append({"epoch": self.current_epoch,
                                **{k: _jsonable(v) for k, v in
                                   self.trainer.callback_metrics.items()}})

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-2)

    truth = {"emitter": "lightning_fit", "argv": sys.argv[1:],
             "versions": {"lightning": L.__version__, "torch": torch.__version__,
                          "python": platform.python_version()},
             "epochs_planned": args.epochs, "steps": args.steps, "epochs": records,
             "crashed": False, "error": None}
    with tempfile.TemporaryDirectory(prefix="bertmon-lightning-") as root:
        from lightning.pytorch.callbacks import RichProgressBar, TQDMProgressBar

        bar = TQDMProgressBar() if args.bar == "tqdm" else RichProgressBar()
        trainer = L.Trainer(max_epochs=args.epochs, accelerator="cpu", devices=1, callbacks=[bar],
                            default_root_dir=root, logger=False, enable_checkpointing=False,
                            enable_model_summary=False, num_sanity_val_steps=0,
                            log_every_n_steps=1)
        try:
            trainer.fit(Model(), train, val)
        except RuntimeError as exc:
            truth["crashed"], truth["error"] = True, f"RuntimeError: {exc}"
            with open(args.out, "w", encoding="utf-8") as f:
                json.dump(truth, f, indent=1)
            raise
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(truth, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

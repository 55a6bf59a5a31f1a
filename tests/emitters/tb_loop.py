"""A hand-rolled PyTorch loop that logs per-epoch scalars with `torch.utils.tensorboard`.

    python tests/emitters/tb_loop.py --out truth.json --log-dir DIR [--epochs N] [--print-tsv]

As the PyTorch tutorials do: `writer.add_scalar("Loss/train", loss, epoch)` and
`writer.add_scalar("Accuracy/val", acc, epoch)` with the epoch (from 0) as the step. The ground
truth written to --out is every (tag, step, value) handed to the real `SummaryWriter` (and,
with --print-tsv, printed as a tab-separated table under a header printed once).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--log-dir", default=None, help="write the scalars with SummaryWriter here")
    ap.add_argument("--print-tsv", action="store_true",
                    help="print a tab-separated header once, then one row per epoch (4 decimals)")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args(argv)

    import torch
    from torch.utils.tensorboard import SummaryWriter

    torch.manual_seed(args.seed)
    x = torch.randn(128, 8)
    y = (x.sum(1) > 0).long()
    xv = torch.randn(32, 8)
    yv = (xv.sum(1) > 0).long()
    model = torch.nn.Linear(8, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    writer = SummaryWriter(args.log_dir) if args.log_dir else None
    written = []
    if args.print_tsv:
        print("epoch\ttrain_loss\tval_loss\tval_acc", flush=True)
    for epoch in range(args.epochs):
        total = 0.0
        for i in range(0, 128, 16):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[i:i + 16]), y[i:i + 16])
            loss.backward()
            opt.step()
            total += loss.item()
        with torch.no_grad():
            logits = model(xv)
            val_loss = torch.nn.functional.cross_entropy(logits, yv).item()
            val_acc = (logits.argmax(1) == yv).float().mean().item()
        for tag, value in (("Loss/train", total / 8), ("Loss/val", val_loss),
                           ("Accuracy/val", val_acc)):
            if writer is not None:
                writer.add_scalar(tag, value, epoch)
            written.append({"tag": tag, "step": epoch, "value": value})
        if args.print_tsv:
            print(f"{epoch + 1}\t{total / 8:.4f}\t{val_loss:.4f}\t{val_acc:.4f}", flush=True)
    if writer is not None:
        writer.close()
    truth = {"emitter": "tb_loop", "argv": sys.argv[1:],
             "versions": {"torch": torch.__version__, "python": platform.python_version()},
             "scalars": written}
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(truth, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

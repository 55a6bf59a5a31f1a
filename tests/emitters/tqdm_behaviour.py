"""A hand-rolled PyTorch loop with real tqdm bars, set up to show one training behaviour.

    python tests/emitters/tqdm_behaviour.py --out truth.json --behaviour explode

Per epoch: a train bar `tqdm(loader, desc=f"Epoch {e}/{N}")` with `set_postfix(loss=...)`, then
one summary line printed with `print` (flushed). Behaviours, made by data and optimiser only:

* `healthy`: a learnable task and Adam 1e-3; summary `train_loss dev_loss dev_acc`.
* `overfit`: 48 noisy examples, 300 features, a wide layer, many epochs; summary
  `train_loss dev_loss` only: the dev loss climbs while the train loss falls.
* `explode`: a noisy linear regression under SGD with too large a learning rate (0.55): the
  postfix loss swings, then grows by orders of magnitude (tqdm prints `1.95e+4`) without
  becoming nan.
* `unstable`: noisy labels, 48 dev examples, SGD at 0.3 with momentum 0.9: the dev accuracy
  jumps between epochs while the train loss stays finite.
* `one_class`: inputs that carry no signal, so the model can only learn the class prior and
  predicts the majority class; summary `dev_loss dev_precision dev_recall` only (no train loss
  printed): dev loss stuck at ln 2 with recall 1.0.

The ground truth written to --out holds the summary values at full precision.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys

BEHAVIOURS = ("healthy", "overfit", "explode", "one_class", "unstable")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--behaviour", required=True, choices=BEHAVIOURS)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)

    import torch
    import tqdm as tqdm_module
    from tqdm import tqdm

    torch.manual_seed(args.seed)
    b = args.behaviour
    n_features = {"overfit": 300}.get(b, 12)
    n_train = {"overfit": 48}.get(b, 320)
    n_dev = 48 if b == "unstable" else 160
    w_true = torch.randn(n_features, 2)

    def make(n):
        x = torch.randn(n, n_features)
        noise = {"overfit": 3.0, "unstable": 1.5}.get(b, 0.8)
        y = (x @ w_true + noise * torch.randn(n, 2)).argmax(1)
        if b == "one_class":
            x = torch.zeros(n, n_features)
            y = (torch.rand(n) < 0.52).long()
        if b == "explode":
            y = x @ w_true[:, 0] * 100 + 30 * torch.randn(n)
        return x, y

    x_train, y_train = make(n_train)
    x_dev, y_dev = make(n_dev)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x_train, y_train),
                                         batch_size=16, shuffle=True)
    if b == "explode":
        model = torch.nn.Linear(n_features, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.55)
        loss_fn = lambda out, y: torch.nn.functional.mse_loss(out.squeeze(1), y)  # noqa: E731
    else:
        width = 512 if b == "overfit" else 32
        model = torch.nn.Sequential(torch.nn.Linear(n_features, width), torch.nn.ReLU(),
                                    torch.nn.Linear(width, 2))
        optimizer = (torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9) if b == "unstable"
                     else torch.optim.Adam(model.parameters(), lr=1e-3))
        loss_fn = torch.nn.functional.cross_entropy
    summaries = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        total, seen = 0.0, 0
        bar = tqdm(loader, desc=f"Epoch {epoch}/{args.epochs}", mininterval=0)
        for x, y in bar:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            total += float(loss) * len(y)
            seen += len(y)
            if b != "one_class":
                bar.set_postfix(loss=float(loss))
        model.eval()
        with torch.no_grad():
            out = model(x_dev)
            dev_loss = float(loss_fn(out, y_dev))
        summary = {"epoch": epoch}
        if b == "one_class":
            pred = out.argmax(1)
            tp = int(((pred == 1) & (y_dev == 1)).sum())
            summary.update(dev_loss=dev_loss,
                           dev_precision=tp / max(1, int((pred == 1).sum())),
                           dev_recall=tp / max(1, int((y_dev == 1).sum())))
        elif b == "explode":
            summary.update(train_loss=total / seen, dev_loss=dev_loss)
        elif b == "overfit":
            summary.update(train_loss=total / seen, dev_loss=dev_loss)
        else:
            acc = float((out.argmax(1) == y_dev).float().mean())
            summary.update(train_loss=total / seen, dev_loss=dev_loss, dev_acc=acc)
        summaries.append(summary)
        print(f"epoch {epoch}: " + " ".join(f"{k}={v:.4f}" for k, v in summary.items()
                                            if k != "epoch"), flush=True)
    truth = {
        "emitter": "tqdm_behaviour",
        "argv": sys.argv[1:],
        "versions": {"torch": torch.__version__, "tqdm": tqdm_module.__version__,
                     "python": platform.python_version()},
        "behaviour": b,
        "summaries": [{k: (v if math.isfinite(v) else str(v)) for k, v in s.items()}
                      for s in summaries],
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(truth, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

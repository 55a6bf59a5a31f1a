"""A hand-rolled PyTorch training loop with real tqdm bars, as many BERT fine-tuning scripts have.

Run as a subprocess by tests/conftest.py:

    python tests/emitters/tqdm_loop.py --out truth.json [--epochs N] [--nested] [--unknown-total]

Per epoch it shows a train bar `tqdm(loader, desc=f"Epoch {e}/{N}")` with
`set_postfix(loss=..., lr=...)`, then an eval bar (desc "Evaluating"), then prints a summary line
`epoch 3: train_loss=0.4100 dev_acc=0.8000 dev_f1=0.7800`. tqdm writes to stderr (its default),
the summary goes to stdout. The ground truth written to --out holds every postfix value set, the
values of each bar's final frame and the summary values, as printed and at full precision.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20, help="train batches per epoch")
    ap.add_argument("--eval-steps", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--step-delay", type=float, default=0.02,
                    help="seconds per train batch, so tqdm (mininterval 0.1 s) shows several frames")
    ap.add_argument("--nested", action="store_true",
                    help="an outer epoch bar (position=0) and inner bars with position=1, "
                         "leave=False: tqdm moves the cursor with \\x1b[A")
    ap.add_argument("--unknown-total", action="store_true",
                    help="wrap a generator (no len), so the train bar has no total")
    ap.add_argument("--buffered-print", action="store_true",
                    help="print summaries without flush=True: redirected to a file they then "
                         "land after the stderr bars, as `python x.py > log 2>&1` really does")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)

    import torch
    import tqdm as tqdm_module
    from tqdm import tqdm

    torch.manual_seed(args.seed)
    n_features, n_classes = 12, 2
    n_train, n_dev = args.steps * args.batch_size, args.eval_steps * args.batch_size
    w_true = torch.randn(n_features, n_classes)
    x_train = torch.randn(n_train, n_features)
    y_train = (x_train @ w_true + 0.8 * torch.randn(n_train, n_classes)).argmax(1)
    x_dev = torch.randn(n_dev, n_features)
    y_dev = (x_dev @ w_true + 0.8 * torch.randn(n_dev, n_classes)).argmax(1)
    train_set = torch.utils.data.TensorDataset(x_train, y_train)
    dev_set = torch.utils.data.TensorDataset(x_dev, y_dev)
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    dev_loader = torch.utils.data.DataLoader(dev_set, batch_size=args.batch_size)

    model = torch.nn.Sequential(torch.nn.Linear(n_features, 16), torch.nn.ReLU(),
                                torch.nn.Linear(16, n_classes))
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)
    total_steps = args.epochs * args.steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: max(0.0, 1.0 - step / total_steps))
    loss_fn = torch.nn.CrossEntropyLoss()

    truth: dict = {
        "emitter": "tqdm_loop",
        "argv": sys.argv[1:],
        "versions": {"tqdm": tqdm_module.__version__, "torch": torch.__version__,
                     "python": platform.python_version()},
        "epochs_planned": args.epochs,
        "steps": args.steps,
        "nested": args.nested,
        "unknown_total": args.unknown_total,
        "epochs": [],
    }

    def batches():  # a generator has no len(): tqdm shows "12it [00:01, 9.5it/s]"
        yield from train_loader

    outer = tqdm(range(1, args.epochs + 1), desc="Training", position=0) if args.nested else None
    epoch_iter = outer if outer is not None else range(1, args.epochs + 1)
    for epoch in epoch_iter:
        model.train()
        source = batches() if args.unknown_total else train_loader
        bar_kwargs = {"position": 1, "leave": False} if args.nested else {}
        bar = tqdm(source, desc=f"Epoch {epoch}/{args.epochs}", **bar_kwargs)
        postfixes = []
        losses = []
        for x, y in bar:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
            lr = scheduler.get_last_lr()[0]
            bar.set_postfix(loss=loss.item(), lr=lr)
            postfixes.append({"loss": loss.item(), "lr": lr,
                              "loss_shown": tqdm.format_num(loss.item()),
                              "lr_shown": tqdm.format_num(lr)})
            time.sleep(args.step_delay)
        bar.close()

        model.eval()
        correct = tp = fp = fn = 0
        with torch.no_grad():
            eval_kwargs = {"position": 1, "leave": False} if args.nested else {}
            for x, y in tqdm(dev_loader, desc="Evaluating", **eval_kwargs):
                pred = model(x).argmax(1)
                correct += int((pred == y).sum())
                tp += int(((pred == 1) & (y == 1)).sum())
                fp += int(((pred == 1) & (y == 0)).sum())
                fn += int(((pred == 0) & (y == 1)).sum())
                time.sleep(args.step_delay)
        train_loss = sum(losses) / len(losses)
        dev_acc = correct / len(dev_set)
        dev_f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        line = f"epoch {epoch}: train_loss={train_loss:.4f} dev_acc={dev_acc:.4f} dev_f1={dev_f1:.4f}"
        if outer is not None:
            tqdm.write(line)  # what nested-bar scripts do so the summary doesn't tear the bars
        else:
            print(line, flush=not args.buffered_print)
        truth["epochs"].append({
            "epoch": epoch,
            "summary": {"train_loss": train_loss, "dev_acc": dev_acc, "dev_f1": dev_f1},
            "summary_line": line,
            "postfixes": postfixes,
            "final_postfix": postfixes[-1],
        })
    if outer is not None:
        outer.close()

    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(truth, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

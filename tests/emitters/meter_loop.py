"""A PyTorch training loop printing with the ImageNet example's meters, as many scripts do.

`AverageMeter` and `ProgressMeter` below are pytorch/examples' `imagenet/main.py` (BSD-3-Clause,
Copyright (c) 2017 The PyTorch Contributors), their printing code unchanged: each batch every
`--print-freq` prints `Epoch: [e][ i/N]` and the tab-separated meters (`Loss 6.9117e-01
(6.9312e-01)`), each evaluation `Test: [ i/N]` lines and a ` * Acc@1 ... Acc@5 ...` summary.
A tiny linear classifier learns synthetic data, so the numbers are a real run's.

    python tests/emitters/meter_loop.py --out truth.json [--epochs N]

The ground truth written to --out holds, per epoch, the last printed running averages of the
training meters and the summary's values.
"""

from __future__ import annotations

import argparse
import json
import time


class AverageMeter:
    """Computes and stores the average and current value"""

    def __init__(self, name, fmt=":f"):
        self.name = name
        self.fmt = fmt
        self.reset()

    def reset(self):
        self.val = 0
        self.avg = 0
        self.sum = 0
        self.count = 0

    def update(self, val, n=1):
        self.val = val
        self.sum += val * n
        self.count += n
        self.avg = self.sum / self.count

    def __str__(self):
        fmtstr = "{name} {val" + self.fmt + "} ({avg" + self.fmt + "})"
        return fmtstr.format(**self.__dict__)


class ProgressMeter:
    def __init__(self, num_batches, meters, prefix=""):
        self.batch_fmtstr = self._get_batch_fmtstr(num_batches)
        self.meters = meters
        self.prefix = prefix

    def display(self, batch):
        entries = [self.prefix + self.batch_fmtstr.format(batch)]
        entries += [str(meter) for meter in self.meters]
        print("\t".join(entries), flush=True)

    def _get_batch_fmtstr(self, num_batches):
        num_digits = len(str(num_batches // 1))
        fmt = "{:" + str(num_digits) + "d}"
        return "[" + fmt + "/" + fmt.format(num_batches) + "]"


def accuracy(output, target, topk=(1,)):
    """Computes the accuracy over the k top predictions for the specified values of k"""
    import torch

    with torch.no_grad():
        maxk = max(topk)
        batch_size = target.size(0)
        _, pred = output.topk(maxk, 1, True, True)
        pred = pred.t()
        correct = pred.eq(target.view(1, -1).expand_as(pred))
        res = []
        for k in topk:
            correct_k = correct[:k].reshape(-1).float().sum(0, keepdim=True)
            res.append(correct_k.mul_(100.0 / batch_size))
        return res


def _measure(model, criterion, images, target, losses, top1, top5):
    """One batch through the model, its loss and accuracies into the meters (as main.py's
    `train` and `validate` both do); the loss."""
    output = model(images)
    loss = criterion(output, target)
    acc1, acc5 = accuracy(output, target, topk=(1, 5))
    losses.update(loss.item(), images.size(0))
    top1.update(acc1[0], images.size(0))
    top5.update(acc5[0], images.size(0))
    return loss


def main(argv: list[str] | None = None) -> int:
    import torch

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batches", type=int, default=24)
    ap.add_argument("--print-freq", type=int, default=5)
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    classes, dim = 6, 16
    centers = torch.randn(classes, dim) * 0.6
    def batch(n=16):
        y = torch.randint(0, classes, (n,))
        return centers[y] + torch.randn(n, dim), y
    train = [batch() for _ in range(args.batches)]
    val = [batch() for _ in range(8)]
    model = torch.nn.Linear(dim, classes)
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    truth: dict = {"epochs": []}
    for epoch in range(args.epochs):
        batch_time = AverageMeter("Time", ":6.3f")
        data_time = AverageMeter("Data", ":6.3f")
        losses = AverageMeter("Loss", ":.4e")
        top1 = AverageMeter("Acc@1", ":6.2f")
        top5 = AverageMeter("Acc@5", ":6.2f")
        progress = ProgressMeter(len(train), [batch_time, data_time, losses, top1, top5],
                                 prefix="Epoch: [{}]".format(epoch))
        end = time.time()
        printed = {}
        for i, (images, target) in enumerate(train):
            data_time.update(time.time() - end)
            loss = _measure(model, criterion, images, target, losses, top1, top5)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            batch_time.update(time.time() - end)
            end = time.time()
            if i % args.print_freq == 0:
                progress.display(i)
                printed = {"Loss": f"{losses.avg:.4e}", "Acc@1": f"{float(top1.avg):6.2f}"}
        v_time = AverageMeter("Time", ":6.3f")
        v_losses = AverageMeter("Loss", ":.4e")
        v_top1 = AverageMeter("Acc@1", ":6.2f")
        v_top5 = AverageMeter("Acc@5", ":6.2f")
        v_progress = ProgressMeter(len(val), [v_time, v_losses, v_top1, v_top5], prefix="Test: ")
        with torch.no_grad():
            end = time.time()
            for i, (images, target) in enumerate(val):
                _measure(model, criterion, images, target, v_losses, v_top1, v_top5)
                v_time.update(time.time() - end)
                end = time.time()
                if i % args.print_freq == 0:
                    v_progress.display(i)
            print(" * Acc@1 {top1.avg:.3f} Acc@5 {top5.avg:.3f}".format(top1=v_top1, top5=v_top5),
                  flush=True)
        truth["epochs"].append({"epoch": epoch, "train": printed,
                                "val_Acc@1": f"{float(v_top1.avg):.3f}",
                                "val_Acc@5": f"{float(v_top5.avg):.3f}"})
    with open(args.out, "w") as fh:
        json.dump(truth, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

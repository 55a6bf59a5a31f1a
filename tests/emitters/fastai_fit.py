"""Train a tiny classifier with the real fastai `Learner` and let fastprogress print its table.

    python tests/emitters/fastai_fit.py --out truth.json [--epochs N] [--csv PATH] [--one-cycle]

fastai is not in the project's environment (it pins its own torch); the captures in sample_logs/
were made in a separate venv (`pip install fastai torch==2.9.1 torchvision==0.24.1`), see
sample_logs/README.md. Outside a notebook fastprogress prints the results table as text: a
header `epoch     train_loss  valid_loss  accuracy  time`, then one row per epoch, with its
progress bars drawn between them. The ground truth written to --out is `learn.recorder.values`
(one [train_loss, valid_loss, metric...] list per epoch) with `learn.recorder.metric_names`.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys


def _jsonable(value):
    value = float(value)
    return value if math.isfinite(value) else str(value)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--csv", default=None, help="add fastai's CSVLogger writing this file")
    ap.add_argument("--one-cycle", action="store_true", help="fit_one_cycle instead of fit")
    ap.add_argument("--f1", action="store_true", help="add F1Score() to the metrics")
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args(argv)

    import fastai
    import torch
    from fastai.basics import CrossEntropyLossFlat, DataLoaders, Learner, accuracy
    from fastai.callback.all import CSVLogger
    from fastai.metrics import F1Score
    from fastai.torch_core import set_seed

    set_seed(args.seed)
    g = torch.Generator().manual_seed(args.seed)

    def make(n):
        x = torch.randn(n, 8, generator=g)
        y = ((x[:, :4].sum(1) + 0.8 * torch.randn(n, generator=g)) > 0).long()
        return list(zip(x, y))

    dls = DataLoaders.from_dsets(make(512), make(128), bs=32, device="cpu")
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    cbs = [CSVLogger(fname=args.csv)] if args.csv else []
    metrics = [accuracy] + ([F1Score()] if args.f1 else [])
    learn = Learner(dls, model, loss_func=CrossEntropyLossFlat(), metrics=metrics, cbs=cbs)
    if args.one_cycle:
        learn.fit_one_cycle(args.epochs, 1e-2)
    else:
        learn.fit(args.epochs, 1e-2)
    truth = {
        "emitter": "fastai_fit",
        "argv": sys.argv[1:],
        "versions": {"fastai": fastai.__version__, "torch": torch.__version__,
                     "python": platform.python_version()},
        "metric_names": list(learn.recorder.metric_names),
        "values": [[_jsonable(v) for v in row] for row in learn.recorder.values],
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(truth, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

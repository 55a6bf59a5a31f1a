"""`bertmon parity [--model DIR] [--text TEXT ...] [--head H] [--against DIR]`: PyTorch vs TF."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bertmon.cli import UsageError

HEADS = ("cls", "pooler", "cls-dense")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "parity",
        help="load one checkpoint in PyTorch and TensorFlow and find the first layer that differs",
        description="Tokenize the texts once, check both frameworks get identical inputs, run "
        "both models in fp32 eval mode and report the max absolute and relative difference of "
        "the embeddings, each encoder layer, the pooler and the head over unpadded positions. "
        "Exit 1 when a layer exceeds the tolerance or the inputs differ. --against DIR loads DIR "
        "into TensorFlow instead and lists the checkpoint tensors that differ.",
    )
    p.add_argument("--model", metavar="DIR", default=None,
                   help="BERT folder (default: the installed MiniLM, else a tiny random BERT)")
    p.add_argument("--text", action="append", default=None, metavar="TEXT",
                   help="an input text (repeatable; default: two sample sentences)")
    p.add_argument("--head", choices=HEADS, default="cls", help="head of both models")
    p.add_argument("--tf-head", choices=HEADS, default=None,
                   help="a different head for the TensorFlow model (e.g. seed 000's pooler)")
    p.add_argument("--max-len", type=int, default=None,
                   help="truncate inputs to this many tokens (default: 128, or the model's limit)")
    p.add_argument("--tf-max-len", type=int, default=None,
                   help="a different max_len for the TensorFlow inputs (seed 000's mistake)")
    p.add_argument("--tol", type=float, default=1e-4, help="max absolute difference allowed")
    p.add_argument("--against", metavar="DIR", default=None,
                   help="a second checkpoint: loaded into TensorFlow, tensors diffed with --model")
    p.add_argument("--format", "-f", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    from bertmon.trainers.models import ModelError, resolve_model
    from bertmon.trainers.parity import ParityError, render, run_parity

    for name in ("max_len", "tf_max_len"):
        value = getattr(args, name)
        if value is not None and not 2 <= value <= 512:
            raise UsageError(f"--{name.replace('_', '-')} must be between 2 and 512, not {value}")
    if not args.tol >= 0:
        raise UsageError(f"--tol must be non-negative, not {args.tol}")
    if args.text is not None and not all(t.strip() for t in args.text):
        raise UsageError("--text must not be empty")
    with tempfile.TemporaryDirectory(prefix="bertmon-parity-") as tmp:
        try:
            model = resolve_model(args.model, Path(tmp) / "random-bert").path
            report = run_parity(model, args.text, args.head, args.tf_head, args.max_len,
                                args.tf_max_len, args.tol, args.against)
        except (ModelError, ParityError) as exc:
            raise UsageError(str(exc)) from None
    sys.stdout.write(render(report, args.format))
    sys.stdout.flush()
    return 0 if report.ok else 1

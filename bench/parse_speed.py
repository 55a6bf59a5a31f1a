"""Parse speed and memory of bertmon's parser on a large realistic log, against a floor.

Generates (once, cached in the temp dir) a log of realistic mixed content: Keras 3 progress bars
as a terminal receives them (ANSI colours, `\\b` runs and `\\r` redraws, one frame per step),
tqdm evaluation bars redrawn with `\\r`, Hugging Face `Trainer` dict lines, key/value summary
lines, and framework noise (TensorFlow/absl warnings, Python warnings, prints).

Prints, in one run:
- bertmon: MB/s of `parse_path` and the peak RSS of a fresh process doing only that;
- baseline: a plain Python loop that splits the same bytes into records and applies one compiled
  regex to each (the floor for a pure-Python parser); and the ratio.

    .venv/bin/python bench/parse_speed.py [--mb 200]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NOISE = [
    "2026-11-20 10:12:33.123456: W tensorflow/core/framework/local_rendezvous.cc:404] Local "
    "rendezvous is aborting with status: OUT_OF_RANGE: End of sequence\n",
    "/usr/lib/python3.11/site-packages/keras/src/trainers/data_adapters/py_dataset_adapter.py:121:"
    " UserWarning: Your `PyDataset` class should call `super().__init__(**kwargs)`\n",
    "  self._warn_if_super_not_called()\n",
    "I0000 00:00:1763633553.123456   12345 gpu_device.cc:2020] Created device /job:localhost/"
    "replica:0/task:0/device:GPU:0 with 78000 MB memory\n",
    "Some weights of BertForSequenceClassification were not initialized from the model checkpoint"
    " at bert-base-uncased and are newly initialized: ['classifier.bias', 'classifier.weight']\n",
    "saving checkpoint to runs/demo/checkpoint\n",
]


def keras_frame(step: int, target: int, loss: float, acc: float, final: bool) -> str:
    width = 20
    done = int(width * step / target)
    bar = f"\x1b[1m{step:>{len(str(target))}}/{target}\x1b[0m "
    if done:
        bar += "\x1b[32m" + "━" * done + "\x1b[0m"
    bar += "\x1b[37m" + "━" * (width - done) + "\x1b[0m"
    timing = " \x1b[1m211s\x1b[0m 228ms/step" if final else f" \x1b[1m{(target - step) // 4}s\x1b[0m 228ms/step"
    text = f"{bar}{timing} - acc: {acc:.4f} - loss: {loss:.4f}"
    if final:
        text += f" - val_acc: {acc - 0.1:.4f} - val_loss: {loss + 0.2:.4f}\n"
    return text


def generate(path: Path, megabytes: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    limit = megabytes * 1_000_000
    written = 0
    epoch = 0
    with open(path, "w", encoding="utf-8", newline="") as fh:
        while written < limit:
            epoch += 1
            parts = [f"Epoch {epoch}/1000000\n"]
            target, prev = 200, 0
            loss, acc = 1.0 / epoch + 0.3, 0.5 + 0.4 * (1 - 1 / epoch)
            for step in range(1, target + 1):
                frame = keras_frame(step, target, loss + rng.random() * 0.01, acc, step == target)
                parts.append("\b" * prev + "\r" + frame)
                prev = len(frame)
                if rng.random() < 0.02:
                    parts.append("\n" + rng.choice(NOISE))
                    prev = 0
            for n in range(0, 51, 5):  # a tqdm evaluation bar
                pct = n * 2
                bar = "█" * (pct // 10) + " " * (10 - pct // 10)
                parts.append(f"\rEvaluating: {pct:3d}%|{bar}| {n}/50 [00:0{n // 10}<00:05, 16.07it/s]")
            parts.append("\n")
            parts.append(f"{{'loss': {loss:.4f}, 'grad_norm': 1.23, 'learning_rate': 2e-05, "
                         f"'epoch': {epoch}.0}}\n")
            parts.append(f"epoch {epoch}: train_loss={loss:.4f} dev_acc={acc:.4f} dev_f1={acc:.4f}\n")
            parts.append("final_score = \n" f"{acc - 0.05!r}\n")
            parts.extend(rng.choice(NOISE) for _ in range(3))
            chunk = "".join(parts)
            fh.write(chunk)
            written += len(chunk.encode())


RECORD = re.compile(r"\r\n|[\r\n]|\x08+")
ONE_REGEX = re.compile(r" - \w+: [\d.]+")


def baseline(path: Path) -> float:
    """The floor: split into records (as bertmon does) and one compiled regex on each."""
    t0 = time.perf_counter()
    hits = 0
    tail = b""
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            buf = tail + chunk
            cut = max(buf.rfind(b"\n"), buf.rfind(b"\r"), buf.rfind(b"\x08"))
            head, tail = buf[: cut + 1], buf[cut + 1 :]
            for record in RECORD.split(head.decode("utf-8", "replace")):
                if ONE_REGEX.search(record):
                    hits += 1
    return time.perf_counter() - t0


CHILD = """
import resource, sys, time
from bertmon.analyzers import parse_path
t0 = time.perf_counter()
a = parse_path(sys.argv[1])
dt = time.perf_counter() - t0
obs = sum(len(s) for r in a.runs for s in r.series.values())
print(dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, obs, len(a.runs[0].epochs))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs of each")
    ap.add_argument("--log", type=Path, default=None, help="use this log instead of generating")
    args = ap.parse_args()
    path = args.log or Path(tempfile.gettempdir()) / f"bertmon-bench-{args.mb}MB.log"
    if args.log is None and not path.exists():
        t = time.perf_counter()
        generate(path, args.mb)
        print(f"generated {path} in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    size = path.stat().st_size / 1e6
    runs = []
    for _ in range(args.repeat):  # best of N, interleaved: the machine may be shared
        out = subprocess.run([sys.executable, "-c", CHILD, str(path)], check=True,
                             capture_output=True, text=True).stdout.split()
        runs.append((float(out[0]), int(out[1]), int(out[2]), int(out[3]), baseline(path)))
    seconds = min(r[0] for r in runs)
    rss_kb = max(r[1] for r in runs)
    observations, epochs = runs[0][2], runs[0][3]
    base = min(r[4] for r in runs)
    print(f"log: {size:.0f} MB, {epochs} epochs, {observations:,} observations")
    print(f"bertmon:  {seconds:6.1f} s  {size / seconds:6.1f} MB/s  peak RSS {rss_kb / 1024:.0f} MB")
    print(f"baseline: {base:6.1f} s  {size / base:6.1f} MB/s  (split into records + one regex each)")
    print(f"ratio:    {seconds / base:.2f}x the baseline (target <= 2x); best of {args.repeat}")
    print(f"machine:  {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"pid RSS now {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()

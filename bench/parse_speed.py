"""Speed and peak memory of `bertmon analyze` on several shapes of log, against one floor.

Each shape is generated once (cached in the temp dir) with the bytes the real emitters write
(sample_logs/ holds captures of each; the generators below follow them and the libraries' own
formatting code: Keras 3's and Keras 2's `Progbar`, tqdm's `format_meter` and `format_num`,
Lightning's `TQDMProgressBar.BAR_FORMAT`, the Trainer's dict lines):

- `seed000`: seed 000's shape: Keras 3 bars redrawn with a run of `\\b` and a `\\r` before each
  frame (875 frames an epoch, `acc` and `loss`), a tqdm evaluation bar, and `final_score = `
  with its value on the next line, each epoch;
- `keras2`: Keras 2 bars (`[=====>....] - ETA: 1:23 - loss: ...`), `\\b` runs, val metrics;
- `tqdm`: a loop with `tqdm(desc="Epoch e/N")` and `set_postfix(loss=, lr=)` every step, an
  `Evaluating` bar and an `epoch e: ...` summary line;
- `lightning`: Lightning's one `\\r`-redrawn bar (`Epoch 0:  45%|...| 450/1000 [..., v_num=0,
  train_loss=0.693]`) and its nested `Validation DataLoader 0` bar;
- `trainer`: the Trainer's bar with a dict line every 10 steps and an eval dict each epoch;
- `lines`: 10 million short lines (`step 12: loss=0.6931`, a summary every 1,000);
- `runs`: `sample_logs/keras3_verbose1_pty.log` repeated (thousands of small Keras runs).

For each shape and output format it runs `bertmon analyze --format F LOG > /dev/null` in a
subprocess and reads its peak RSS from `wait4`, and measures in the same run the floor: a plain
Python loop that splits the same bytes into records and applies one compiled regex to each.

    .venv/bin/python bench/parse_speed.py [--mb 100] [--shapes seed000,keras2,...] [--repeat 1]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSION = 2  # bump when a generator changes (the cache key)
NOISE = [
    "2026-11-20 10:12:33.123456: W tensorflow/core/framework/local_rendezvous.cc:404] Local "
    "rendezvous is aborting with status: OUT_OF_RANGE: End of sequence\n",
    "/usr/lib/python3.11/site-packages/keras/src/trainers/data_adapters/py_dataset_adapter.py:121:"
    " UserWarning: Your `PyDataset` class should call `super().__init__(**kwargs)`\n",
    "  self._warn_if_super_not_called()\n",
]


# --- Keras (the formatting of keras.utils.Progbar, Keras 3 and tf.keras 2) ----------------
def _eta(seconds: float) -> str:
    if seconds > 3600:
        return "%d:%02d:%02d" % (seconds // 3600, (seconds % 3600) // 60, seconds % 60)
    if seconds > 60:
        return "%d:%02d" % (seconds // 60, seconds % 60)
    return "%ds" % seconds


def _avg(value: float) -> str:
    return f" {value:.4f}" if abs(value) > 1e-3 else f" {value:.4e}"


class Keras3Bar:
    """Keras 3 `Progbar(verbose=1)` as it writes to a file or terminal on POSIX."""

    def __init__(self, target: int, width: int = 20) -> None:
        self.target, self.width, self.prev = target, width, 0

    def frame(self, current: int, metrics: dict[str, float], finalize: bool,
              elapsed: float, per_step: float) -> str:
        msg = "\b" * self.prev + "\r"
        digits = int(math.log10(self.target)) + 1
        bar = f"\x1b[1m{current:>{digits}d}/{self.target}\x1b[0m "
        special = 8
        done = int(self.width * current / self.target)
        if done > 0:
            bar += "\x1b[32m" + "━" * done + "\x1b[0m"
            special += 9
        bar += "\x1b[37m" + "━" * (self.width - done) + "\x1b[0m"
        special += 9
        if not finalize:
            info = f" \x1b[1m{_eta(per_step * (self.target - current))}\x1b[0m"
        else:
            info = f" \x1b[1m{elapsed:.0f}s\x1b[0m"
            special += 8
        info += f" {per_step * 1e3:.0f}ms/step"
        for k, v in metrics.items():
            info += f" - {k}:" + _avg(v)
        total = len(bar) + len(info) - special
        pad = " " * (self.prev - total) if self.prev > total else ""
        self.prev = total
        return msg + bar + info + pad + ("\n" if finalize else "")


class Keras2Bar:
    """tf.keras 2 `Progbar(verbose=1)`: `[====>....]`, ` - ETA: ...` mid-epoch."""

    def __init__(self, target: int, width: int = 30) -> None:
        self.target, self.width, self.prev = target, width, 0

    def frame(self, current: int, metrics: dict[str, float], finalize: bool,
              elapsed: float, per_step: float) -> str:
        msg = "\b" * self.prev + "\r"
        digits = int(math.log10(self.target)) + 1
        bar = f"{current:>{digits}d}/{self.target} ["
        done = int(self.width * current / self.target)
        if done > 0:
            bar += "=" * (done - 1) + (">" if current < self.target else "=")
        bar += "." * (self.width - done) + "]"
        if current < self.target:
            info = " - ETA: " + _eta(per_step * (self.target - current))
        else:
            info = f" - {elapsed:.0f}s {per_step * 1e3:.0f}ms/step"
        for k, v in metrics.items():
            info += f" - {k}:" + _avg(v)
        total = len(bar) + len(info)
        if self.prev > total:
            info += " " * (self.prev - total)
        self.prev = total
        return msg + bar + info + ("\n" if finalize else "")


def _tqdm_printer():
    """tqdm's status printer: `\\r` + frame, padded over a longer previous frame."""
    last = [0]

    def show(s: str) -> str:
        out = "\r" + s + " " * max(last[0] - len(s), 0)
        last[0] = len(s)
        return out
    return show


def _postfix(**values: float) -> str:
    from tqdm import tqdm

    return ", ".join(f"{k}={str(tqdm.format_num(v)).strip()}" for k, v in values.items())


def _meter(n: int, total: int, elapsed: float, **kw) -> str:
    from tqdm import tqdm

    return tqdm.format_meter(n, total, elapsed, **kw)


# --- shapes ----------------------------------------------------------------------------------
def gen_seed000(fh, limit: int, rng: random.Random) -> None:
    epochs = max(1, round(limit / 204_000))
    for epoch in range(1, epochs + 1):
        fh.write(f"Epoch {epoch}/{epochs}\n")
        bar = Keras3Bar(875)
        loss, acc = 0.3 + 1.2 / epoch, 0.95 - 0.4 / epoch
        parts = []
        for step in range(1, 876):
            metrics = {"acc": acc + rng.random() * 0.01, "loss": loss + rng.random() * 0.01}
            parts.append(bar.frame(step, metrics, False, step * 0.228, 0.228))
        parts.append(bar.frame(875, metrics, True, 211, 0.228))
        show = _tqdm_printer()
        for n in range(0, 1402, 20):
            parts.append(show(_meter(min(n, 1401), 1401, n / 16.07)))
        parts.append(show(_meter(1401, 1401, 87.0)) + "\n")
        score = 0.45 + 0.08 * rng.random()
        parts.append(f"final_score = \n{score!r}\nself.best_score = \n{score!r}\n")
        fh.write("".join(parts))


def gen_keras2(fh, limit: int, rng: random.Random) -> None:
    epochs = max(1, round(limit / 143_000))
    for epoch in range(1, epochs + 1):
        fh.write(f"Epoch {epoch}/{epochs}\n")
        bar = Keras2Bar(875)
        loss, acc = 0.3 + 1.2 / epoch, 0.95 - 0.4 / epoch
        parts = []
        for step in range(1, 875):
            metrics = {"loss": loss + rng.random() * 0.01, "acc": acc + rng.random() * 0.01}
            parts.append(bar.frame(step, metrics, False, step * 0.228, 0.228 * (1 + epoch)))
        metrics |= {"val_loss": loss + 0.2, "val_acc": acc - 0.1}
        parts.append(bar.frame(875, metrics, True, 211, 0.228))
        if rng.random() < 0.3:
            parts.append(rng.choice(NOISE))
        fh.write("".join(parts))


def gen_tqdm(fh, limit: int, rng: random.Random) -> None:
    epochs = max(1, round(limit / 97_000))
    for epoch in range(1, epochs + 1):
        show, parts, steps = _tqdm_printer(), [], 1000
        desc = f"Epoch {epoch}/{epochs}"
        parts.append(show(_meter(0, steps, 0, prefix=desc)))
        for n in range(steps):
            elapsed = n / 40.0
            post = _postfix(loss=0.3 + 1.0 / epoch + rng.random() * 0.05, lr=2e-5 * (1 - n / steps))
            parts.append(show(_meter(n, steps, elapsed, prefix=desc, postfix=post)))
        parts.append(show(_meter(steps, steps, steps / 40.0, prefix=desc, postfix=post)) + "\n")
        show = _tqdm_printer()
        for n in range(0, 101, 10):
            parts.append(show(_meter(n, 100, n / 90, prefix="Evaluating")))
        parts.append("\n")
        acc = 0.9 - 0.3 / epoch
        parts.append(f"epoch {epoch}: train_loss={0.3 + 1.0 / epoch:.4f} dev_acc={acc:.4f} "
                     f"dev_f1={acc - 0.02:.4f}\n")
        fh.write("".join(parts))


LIGHTNING = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_noinv_fmt}{postfix}]"


def gen_lightning(fh, limit: int, rng: random.Random) -> None:
    epochs = max(1, round(limit / 125_000))
    show, steps = _tqdm_printer(), 1000
    fh.write("GPU available: False, used: False\nTPU available: False, using: 0 TPU cores\n")
    val = ""
    for epoch in range(epochs):
        parts, desc = [], f"Epoch {epoch}"
        for n in range(steps + 1):
            post = _postfix(v_num=0, train_loss=0.3 + 1.0 / (epoch + 1) + rng.random() * 0.05)
            parts.append(show(_meter(n, steps, n / 44.0, prefix=desc,
                                     postfix=post + val, bar_format=LIGHTNING)))
        vshow, vdesc = _tqdm_printer(), "Validation DataLoader 0"
        for n in range(0, 51, 5):  # position 1: down a line, draw, back up
            parts.append("\n" + vshow(_meter(n, 50, n / 80.0, prefix=vdesc,
                                            bar_format=LIGHTNING)) + "\x1b[A")
        parts.append("\n" + vshow("") + "\r\x1b[A")
        val_loss = 0.4 + 0.8 / (epoch + 1)
        val = ", " + _postfix(val_loss=val_loss, val_acc=0.9 - 0.3 / (epoch + 1))
        parts.append(show(_meter(steps, steps, steps / 44.0, prefix=desc, postfix=post + val,
                                 bar_format=LIGHTNING)))
        fh.write("".join(parts))
    fh.write("\n`Trainer.fit` stopped: `max_epochs=%d` reached.\n" % epochs)


def gen_trainer(fh, limit: int, rng: random.Random) -> None:
    per_epoch, log_every = 1000, 10
    epochs = max(1, round(limit / 78_000))
    total = per_epoch * epochs
    show = _tqdm_printer()
    clear = "\r" + " " * 46 + "\r"
    for step in range(1, total + 1):
        parts = [show(_meter(step, total, step / 90.0))]
        if step % log_every == 0:
            epoch = step / per_epoch
            parts.append(clear + "{'loss': '%.4g', 'grad_norm': '%.4g', 'learning_rate': '%.4g', "
                         "'epoch': '%.4g'}\n" % (0.3 + 0.5 / (1 + epoch) + rng.random() * 0.05,
                                                 rng.random() * 2, 5e-4 * (1 - step / total),
                                                 epoch))
        if step % per_epoch == 0:
            e = step // per_epoch
            parts.append(clear + "{'eval_loss': '%.4g', 'eval_accuracy': '%.4g', 'eval_runtime': "
                         "'0.013', 'eval_samples_per_second': '2458', 'eval_steps_per_second': "
                         "'307.2', 'epoch': '%d'}\n" % (0.4 + 0.5 / e, 0.9 - 0.3 / e, e))
        fh.write("".join(parts))
    fh.write("\n{'train_runtime': '100.5', 'train_samples_per_second': '9.5', "
             "'train_steps_per_second': '1.2', 'train_loss': '0.45', 'epoch': '%d'}\n" % epochs)


def gen_lines(fh, limit: int, rng: random.Random, lines: int = 10_000_000) -> None:
    per_epoch = 1000
    for start in range(0, lines, per_epoch):
        epoch = start // per_epoch + 1
        loss = 0.3 + 1.0 / epoch
        block = [f"step {s}: loss={loss + rng.random() * 0.05:.4f}\n"
                 for s in range(start + 1, start + per_epoch)]
        block.append(f"epoch {epoch}: dev_acc={0.9 - 0.3 / epoch:.4f}\n")
        fh.write("".join(block))


def gen_runs(fh, limit: int, rng: random.Random) -> None:
    one = (ROOT / "sample_logs" / "keras3_verbose1_pty.log").read_text("utf-8", "surrogateescape")
    fh.write(one * max(1, round(limit / len(one.encode()))))


SHAPES = {"seed000": gen_seed000, "keras2": gen_keras2, "tqdm": gen_tqdm,
          "lightning": gen_lightning, "trainer": gen_trainer, "lines": gen_lines,
          "runs": gen_runs}


def log_for(shape: str, mb: int) -> Path:
    size = "10M-lines" if shape == "lines" else f"{mb}MB"
    path = Path(tempfile.gettempdir()) / f"bertmon-bench-v{VERSION}-{shape}-{size}.log"
    if not path.exists():
        t = time.perf_counter()
        tmp = path.with_suffix(".part")
        with open(tmp, "w", encoding="utf-8", newline="", errors="surrogateescape") as fh:
            SHAPES[shape](fh, mb * 1_000_000, random.Random(0))
        tmp.rename(path)
        print(f"generated {path} in {time.perf_counter() - t:.0f}s", file=sys.stderr)
    return path


# --- the floor and the measured command ------------------------------------------------------
RECORD = re.compile(r"\r\n|[\r\n]|\x08+")
ONE_REGEX = re.compile(r" - \w+: [\d.]+")


def floor(path: Path) -> float:
    """Split into records (as bertmon does) and one compiled regex on each."""
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


def bertmon(path: Path, fmt: str) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of `bertmon analyze --format FMT LOG > /dev/null`."""
    exe = shutil.which("bertmon", path=os.path.dirname(sys.executable)) or "bertmon"
    with open(os.devnull, "wb") as null:
        t0 = time.perf_counter()
        proc = subprocess.Popen([exe, "analyze", "--format", fmt, str(path)], stdout=null)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"bertmon analyze failed on {path} (exit {proc.returncode})")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=100, help="size of each generated log")
    ap.add_argument("--shapes", default=",".join(SHAPES), help="comma-separated, of: "
                    + ", ".join(SHAPES))
    ap.add_argument("--formats", default="text,json")
    ap.add_argument("--repeat", type=int, default=1, help="best of N runs of each")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
          f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC")
    print(f"{'shape':<10} {'MB':>5} {'format':<6} {'seconds':>8} {'floor s':>8} {'ratio':>6} "
          f"{'peak RSS':>9} {'RSS/log':>8}")
    for shape in args.shapes.split(","):
        path = log_for(shape, args.mb)
        size = path.stat().st_size / 1e6
        for fmt in args.formats.split(","):
            best, base, rss = math.inf, math.inf, 0.0
            for _ in range(args.repeat):  # interleaved: the machine may be shared
                base = min(base, floor(path))
                seconds, peak = bertmon(path, fmt)
                best, rss = min(best, seconds), max(rss, peak)
            print(f"{shape:<10} {size:5.0f} {fmt:<6} {best:8.1f} {base:8.1f} {best / base:5.2f}x "
                  f"{rss:6.0f} MB {rss / size:7.0%}", flush=True)


if __name__ == "__main__":
    main()

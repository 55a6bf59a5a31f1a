"""Training speed: bertmon's trainers against bare loops, transformers.Trainer, and max_len 512.

    .venv/bin/python bench/train_speed.py                    # MiniLM (or a random BERT), demo data
    .venv/bin/python bench/train_speed.py --tiny --n-train 800 --epochs 3   # quick, small

Each measurement runs in its own process (same threads, no import cost in the timings) and
reports steady-state samples/s over epochs 2..N (epoch 1 carries warm-up and, for Keras, the
graph trace), each epoch timed as its training pass plus one dev pass, checkpoint saves excluded.

- trainer vs bare loop (same framework, same model, the same work): bertmon's overhead (tqdm,
  logging, metric bookkeeping); target <= 3%. The bare loops take epoch k's batches from
  `trainers.common.epoch_batches(lengths, batch_size, seed, k)` as both trainers do, with the
  trainers' optimizer and warmup/decay schedule (`torch_trainer.make_optimizer` and
  `linear_schedule`; for TensorFlow `keras_optim.make_optimizer`, the torch-AdamW-exact Adam,
  and `LinearWarmupDecay`) and the trainers' input pipeline (`pad_batch`; `make_dataset`).
- PyTorch trainer vs `transformers.Trainer` (BertForSequenceClassification, default sampler and
  dynamic padding); target: at least as fast.
- max_len 512 vs 128 with bucketing on the demo data (PyTorch trainer); target <= 1.2x the time.

`--repeat N` runs every measurement N times, interleaved (one round of all of them, then the next,
so a passing load spike hits each alike), and reports the median samples/s of each and the median
of the per-round 512/128 ratios.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
       "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": "tensorflow", "PYTHONUNBUFFERED": "1"}


def steady(times: list[float], n: int) -> float:
    """Samples/s over epochs 2..N (all epochs when there is only one)."""
    use = times[1:] or times
    return n * len(use) / sum(use)


# --- workers: each prints one JSON line {"epoch_times": [...]} --------------------------------
def _task(spec: dict):
    from bertmon.trainers.data import load_task
    from bertmon.trainers.models import encode, load_tokenizer

    task = load_task(spec["data"], None, spec["dev_ratio"], spec["seed"])
    tok = load_tokenizer(Path(spec["model"]))
    return (task, encode(tok, task.train.texts, None, spec["max_len"]),
            encode(tok, task.dev.texts, None, spec["max_len"]))


def worker_bare_torch(spec: dict) -> dict:
    import numpy as np
    import torch
    import torch.nn.functional as F

    from bertmon.trainers.common import bucket_batches, epoch_batches, pad_batch
    from bertmon.trainers.config import TrainConfig
    from bertmon.trainers.torch_trainer import linear_schedule, load_classifier, make_optimizer

    task, tr, dv = _task(spec)
    y = np.asarray(task.label_ids(task.train), np.int64)
    torch.manual_seed(spec["seed"])
    model = load_classifier(Path(spec["model"]), len(task.label_names), "cls", 0.1, spec["seed"])
    for p in model.encoder.pooler.parameters():
        p.requires_grad = False
    cfg = TrainConfig(lr=spec["lr"], batch_size=spec["batch_size"], seed=spec["seed"])
    opt = make_optimizer(model, cfg)
    lengths = [len(x) for x in tr.input_ids]
    total = -(-len(lengths) // cfg.batch_size) * spec["epochs"]
    sched = linear_schedule(opt, int(cfg.warmup_ratio * total), total)
    times = []
    for epoch in range(1, spec["epochs"] + 1):
        t0 = time.perf_counter()
        model.train()
        # the trainer's batches: epoch k's from epoch_batches(seed, k)
        for idx in epoch_batches(lengths, cfg.batch_size, cfg.seed, epoch):
            b = {k: torch.from_numpy(v) for k, v in pad_batch(tr, idx).items()}
            loss = F.cross_entropy(model(**b), torch.from_numpy(y[idx]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
        model.eval()
        with torch.no_grad():
            for idx in bucket_batches([len(x) for x in dv.input_ids], cfg.batch_size * 2, None):
                model(**{k: torch.from_numpy(v) for k, v in pad_batch(dv, idx).items()})
        times.append(time.perf_counter() - t0)
    return {"epoch_times": times, "n_train": len(lengths)}


def worker_bare_tf(spec: dict) -> dict:
    import keras
    import numpy as np
    import tensorflow as tf

    from bertmon.trainers.common import head_init
    from bertmon.trainers.config import TrainConfig
    from bertmon.trainers.keras_bert import load_encoder
    from bertmon.trainers.keras_optim import LinearWarmupDecay, make_optimizer
    from bertmon.trainers.tf_trainer import EpochClock, KerasClassifier, make_dataset

    task, tr, dv = _task(spec)
    y, yd = (np.asarray(task.label_ids(d), np.int64) for d in (task.train, task.dev))
    cfg = TrainConfig(lr=spec["lr"], batch_size=spec["batch_size"], seed=spec["seed"])
    keras.utils.set_random_seed(cfg.seed)
    encoder = load_encoder(spec["model"])
    model = KerasClassifier(encoder, len(task.label_names), "cls", 0.1)
    # the trainer's pipeline: epoch k's batches are epoch_batches(lengths, batch, seed, k)
    clock = EpochClock()
    train_ds = make_dataset(tr, y, cfg.batch_size, cfg.seed, clock)
    dev_ds = make_dataset(dv, yd, cfg.batch_size * 2, None)
    model(next(iter(dev_ds))[0])
    model.set_head(head_init(encoder.cfg["hidden_size"], len(task.label_names), False,
                             spec["seed"]))
    encoder.pooler.trainable = False
    total = -(-len(y) // cfg.batch_size) * spec["epochs"]
    schedule = LinearWarmupDecay(cfg.lr, int(cfg.warmup_ratio * total), total)
    opt = make_optimizer(cfg.optimizer, schedule, cfg.weight_decay, cfg.grad_accum)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function(reduce_retracing=True)
    def step(x, yb):
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    @tf.function(reduce_retracing=True)
    def predict(x):
        return model(x, training=False)

    times = []
    for epoch in range(1, spec["epochs"] + 1):
        clock.epoch = epoch
        t0 = time.perf_counter()
        for x, yb in train_ds:
            step(x, yb)
        for x, _ in dev_ds:
            predict(x).numpy()
        times.append(time.perf_counter() - t0)
    return {"epoch_times": times, "n_train": len(y)}


def worker_hf_trainer(spec: dict) -> dict:
    import numpy as np
    import torch
    from transformers import (
        BertForSequenceClassification,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    from bertmon.trainers.common import pad_batch

    task, tr, dv = _task(spec)
    y, yd = (task.label_ids(d) for d in (task.train, task.dev))

    def rows(enc, labels):
        return [{"i": i, "labels": labels[i]} for i in range(len(labels))]

    def collate(enc):
        def fn(items):
            idx = np.asarray([it["i"] for it in items])
            batch = {k: torch.from_numpy(v) for k, v in pad_batch(enc, idx).items()}
            batch["labels"] = torch.tensor([it["labels"] for it in items])
            return batch
        return fn

    marks: list[float] = []

    class Clock(TrainerCallback):
        def on_epoch_begin(self, args, state, control, **kw):
            marks.append(time.perf_counter())

        def on_train_end(self, args, state, control, **kw):
            marks.append(time.perf_counter())

    model = BertForSequenceClassification.from_pretrained(spec["model"],
                                                          num_labels=len(task.label_names))
    out = tempfile.mkdtemp()
    args = TrainingArguments(output_dir=out, per_device_train_batch_size=spec["batch_size"],
                             per_device_eval_batch_size=spec["batch_size"] * 2,
                             num_train_epochs=spec["epochs"], learning_rate=spec["lr"],
                             warmup_steps=0.1, weight_decay=0.01, eval_strategy="epoch",
                             save_strategy="no", logging_strategy="epoch", report_to=[],
                             disable_tqdm=True, use_cpu=not torch.cuda.is_available(),
                             seed=spec["seed"], remove_unused_columns=False)

    class Collated(Trainer):
        def get_eval_dataloader(self, eval_dataset=None):
            self.data_collator = collate(dv)
            return super().get_eval_dataloader(eval_dataset)

        def get_train_dataloader(self):
            self.data_collator = collate(tr)
            return super().get_train_dataloader()

    trainer = Collated(model=model, args=args, train_dataset=rows(tr, y),
                       eval_dataset=rows(dv, yd), data_collator=collate(tr),
                       callbacks=[Clock()])
    trainer.train()
    return {"epoch_times": [b - a for a, b in itertools.pairwise(marks)], "n_train": len(y)}


WORKERS = {"bare-torch": worker_bare_torch, "bare-tf": worker_bare_tf,
           "hf-trainer": worker_hf_trainer}


# --- driver ----------------------------------------------------------------------------------
def run_worker(kind: str, spec: dict) -> dict:
    res = subprocess.run([sys.executable, __file__, "--worker", kind, json.dumps(spec)],
                         capture_output=True, text=True, env=ENV, check=False)
    if res.returncode:
        raise RuntimeError(f"{kind} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def run_trainer(framework: str, spec: dict, runs: Path, name: str, max_len: int) -> dict:
    cmd = [sys.executable, "-m", "bertmon", "train", "--no-tui", "--framework", framework,
           "--model", spec["model"], "--data", spec["data"], "--epochs", str(spec["epochs"]),
           "--batch-size", str(spec["batch_size"]), "--lr", str(spec["lr"]),
           "--max-len", str(max_len), "--seed", str(spec["seed"]), "--runs-dir", str(runs),
           "--name", name]
    res = subprocess.run(cmd, capture_output=True, text=True, env=ENV, check=False)
    if res.returncode:
        raise RuntimeError(f"bertmon train failed:\n{res.stdout[-2000:]}{res.stderr[-2000:]}")
    rows = [json.loads(x) for x in (runs / name / "metrics.jsonl").read_text().splitlines()]
    config = json.loads((runs / name / "config.json").read_text())
    return {"epoch_times": [r["time"] for r in rows], "n_train": config["n_train"],
            "device": config["device"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("spec", nargs="?", help=argparse.SUPPRESS)
    ap.add_argument("--model", help="BERT folder (default: the MiniLM, else a random BERT)")
    ap.add_argument("--tiny", action="store_true", help="a random 2-layer hidden-128 BERT")
    ap.add_argument("--n-train", type=int, default=0, help="demo examples to use (0: all)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--frameworks", default="torch,tf")
    ap.add_argument("--threads", type=int, default=1,
                    help="CPU threads per measurement (1 keeps figures steady on a shared box)")
    ap.add_argument("--skip", default="", help="comma list of: hf-trainer,max-len")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run every measurement N times, interleaved; report medians")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker](json.loads(args.spec))))
        return

    if args.threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
            ENV[var] = str(args.threads)
        ENV["TF_NUM_INTEROP_THREADS"] = "1"
    from bertmon.trainers.data import DEMO_DATA
    from bertmon.trainers.models import default_model_path, demo_vocab, make_random_bert

    tmp = Path(tempfile.mkdtemp(prefix="bertmon-bench-"))
    model = args.model or (None if args.tiny else default_model_path())
    if model is None:
        model = make_random_bert(tmp / "tiny", demo_vocab(), hidden=128, layers=2, heads=2)
    data = DEMO_DATA
    if args.n_train:
        lines = DEMO_DATA.read_text(encoding="utf-8").splitlines()
        data = tmp / "data.csv"
        data.write_text("\n".join(lines[: int(args.n_train / 0.8) + 1]) + "\n")
    spec = {"model": str(model), "data": str(data), "epochs": args.epochs, "lr": 2e-5,
            "batch_size": args.batch_size, "seed": 42, "dev_ratio": 0.2, "max_len": 128}
    skip = set(args.skip.split(","))
    runs = tmp / "runs"
    print(f"model {model}\ndata {data}; epochs {args.epochs}, batch {args.batch_size}; "
          f"samples/s over epochs 2..{args.epochs}; cpu count {os.cpu_count()}, "
          f"threads {args.threads or 'default'}; repeat {args.repeat}; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    fws = args.frameworks.split(",")
    rates: dict[str, list[float]] = {}
    ratios: list[float] = []
    devices: dict[str, str] = {}

    def record(label: str, result: dict) -> None:
        rates.setdefault(label, []).append(steady(result["epoch_times"], result["n_train"]))

    def steady_time(result: dict) -> float:
        return sum(result["epoch_times"][1:] or result["epoch_times"])

    for r in range(1, args.repeat + 1):
        started = time.perf_counter()
        for fw in fws:
            record(f"{fw}: bare loop", run_worker(f"bare-{fw}", spec))
            trained = run_trainer(fw, spec, runs, f"{fw}-128-r{r}", 128)
            record(f"{fw}: bertmon trainer", trained)
            devices[fw] = trained["device"]
            if fw == "torch" and "hf-trainer" not in skip:
                record("torch: transformers.Trainer", run_worker("hf-trainer", spec))
            if fw == "torch" and "max-len" not in skip:
                long = run_trainer(fw, spec, runs, f"{fw}-512-r{r}", 512)
                ratios.append(steady_time(long) / steady_time(trained))
        if args.repeat > 1:
            print(f"round {r}/{args.repeat} ({time.perf_counter() - started:.0f}s): "
                  + ", ".join(f"{k} {v[-1]:.1f}" for k, v in rates.items())
                  + (f", 512/128 {ratios[-1]:.2f}x" if ratios else ""), flush=True)

    def median(label: str) -> float:
        return statistics.median(rates[label])

    def line(label: str, rate_of: str, base_of: str | None = None) -> None:
        rate = median(rate_of)
        spread = f" (min {min(rates[rate_of]):.1f}, max {max(rates[rate_of]):.1f})" \
            if args.repeat > 1 else ""
        extra = "" if base_of is None else \
            f"   {100 * (median(base_of) / rate - 1):+.1f}% time vs reference"
        print(f"{label:<44} {rate:8.1f} samples/s{spread}{extra}", flush=True)

    print(f"\n{'median of ' + str(args.repeat) + ' runs' if args.repeat > 1 else 'one run'}:")
    for fw in fws:
        line(f"{fw}: bare loop", f"{fw}: bare loop")
        line(f"{fw}: bertmon trainer (vs bare loop)", f"{fw}: bertmon trainer", f"{fw}: bare loop")
        if fw == "torch" and "hf-trainer" not in skip:
            line("torch: transformers.Trainer", "torch: transformers.Trainer")
            line("torch: bertmon trainer (vs Trainer)", "torch: bertmon trainer",
                 "torch: transformers.Trainer")
        if fw == "torch" and ratios:
            print(f"torch: max_len 512 / max_len 128 time (bucketed){statistics.median(ratios):9.2f}x"
                  + (f" (min {min(ratios):.2f}, max {max(ratios):.2f})" if len(ratios) > 1 else ""),
                  flush=True)
        print(f"  device: {devices[fw]}", flush=True)

if __name__ == "__main__":
    main()

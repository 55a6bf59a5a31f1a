"""The PyTorch trainer: transformers `AutoModel` + a head, AdamW, linear warmup/decay, tqdm logs.

Runs alone or under `torchrun` (DistributedDataParallel: NCCL on GPUs, gloo on CPU; rank 0 alone
writes the log, the metrics and the checkpoint). Its log is what PyTorch users write: a tqdm bar per
epoch with loss and lr in the postfix, a tqdm evaluation bar, and one summary line per epoch.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from bertmon.trainers.common import (
    HEAD_FILE,
    TOKENIZER_FILES,
    BestTracker,
    StopFlag,
    bucket_batches,
    config_record,
    env_rank,
    epoch_batches,
    head_init,
    load_run,
    macro_f1,
    pad_batch,
    preamble,
    prepare_data,
    versions,
)
from bertmon.trainers.config import TrainConfig
from bertmon.trainers.rundir import swapped_in


class BertClassifier(nn.Module):
    """Encoder + head: `cls` (dropout, linear on [CLS]), `pooler` (on BERT's pooler output) or
    `cls-dense` (an extra dense+tanh on [CLS] before it, as in seed 000)."""

    def __init__(self, encoder: nn.Module, n_labels: int, head: str, dropout: float,
                 seed: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head
        hidden = encoder.config.hidden_size
        self.dense = nn.Linear(hidden, hidden) if head == "cls-dense" else None
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden, n_labels)
        init = head_init(hidden, n_labels, self.dense is not None, seed)
        self.head_module().load_state_dict({k: torch.from_numpy(v) for k, v in init.items()})

    def head_module(self) -> nn.Module:
        parts = nn.Module()
        if self.dense is not None:
            parts.dense = self.dense
        parts.classifier = self.classifier
        return parts

    def forward(self, input_ids, attention_mask, token_type_ids):
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                           token_type_ids=token_type_ids)
        h = out.pooler_output if self.head == "pooler" else out.last_hidden_state[:, 0]
        if self.dense is not None:
            h = torch.tanh(self.dense(h))
        return self.classifier(self.dropout(h))


def load_classifier(path: Path, n_labels: int, head: str, dropout: float, seed: int,
                    dtype: torch.dtype = torch.float32) -> BertClassifier:
    from transformers import AutoModel

    encoder = AutoModel.from_pretrained(str(path), dtype=dtype, use_safetensors=True)
    model = BertClassifier(encoder, n_labels, head, dropout, seed)
    if (path / HEAD_FILE).exists():  # a bertmon checkpoint: restore its head too
        from safetensors.torch import load_file

        model.head_module().load_state_dict(load_file(str(path / HEAD_FILE)))
    return model


def save_checkpoint(model: BertClassifier, out: Path, source: Path, meta: dict) -> None:
    """Written beside `out` and swapped in, so `checkpoint/` is never half-written."""
    from safetensors.torch import save_file

    with swapped_in(out) as tmp:
        model.encoder.save_pretrained(str(tmp))
        head = {k: v.detach().float().cpu().contiguous()
                for k, v in model.head_module().state_dict().items()}
        save_file(head, str(tmp / HEAD_FILE))
        for name in TOKENIZER_FILES:
            if (source / name).exists():
                shutil.copy(source / name, tmp / name)
        (tmp / "bertmon.json").write_text(json.dumps(meta, indent=2) + "\n")


def pick_device(local_rank: int) -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def describe_device(device: torch.device, world: int) -> str:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        text = f"cuda ({name})"
    else:
        text = f"cpu ({torch.get_num_threads()} threads)"
    return text + (f", DistributedDataParallel world_size={world}" if world > 1 else "")


def autocast_dtype(precision: str, device: torch.device) -> tuple[torch.dtype | None, str]:
    """The autocast dtype (None: fp32) and the precision actually used."""
    if device.type == "cuda":
        if precision == "auto":
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    elif precision in ("auto", "fp16"):
        if precision == "fp16":
            print("note: fp16 needs a GPU; training in fp32 on the CPU")
        precision = "fp32"
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision], precision


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if cfg.optimizer == "adam":
        if cfg.weight_decay:
            print(f"note: optimizer=adam ignores weight_decay={cfg.weight_decay}")
        return torch.optim.Adam([p for _, p in params], lr=cfg.lr, eps=1e-8)
    no_decay = ("bias", "LayerNorm.weight", "LayerNorm.bias")
    groups = [
        {"params": [p for n, p in params if not n.endswith(no_decay)],
         "weight_decay": cfg.weight_decay},
        {"params": [p for n, p in params if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, eps=1e-8)


def linear_schedule(optimizer: torch.optim.Optimizer, warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def to_device(batch: dict[str, np.ndarray], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(v).to(device, non_blocking=True) for k, v in batch.items()}


def evaluate(model: nn.Module, enc, labels: np.ndarray, batch_size: int, device: torch.device,
             amp: torch.dtype | None, n_labels: int, show: bool) -> dict[str, float]:
    model.eval()
    batches = bucket_batches([len(x) for x in enc.input_ids], batch_size * 2, None)
    loss_sum, preds, golds = 0.0, [], []
    with torch.no_grad():
        for idx in tqdm(batches, desc="Evaluating", disable=not show):
            batch = to_device(pad_batch(enc, idx), device)
            y = torch.from_numpy(labels[idx]).to(device)
            with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                logits = model(**batch)
            loss_sum += F.cross_entropy(logits.float(), y, reduction="sum").item()
            preds.append(logits.argmax(-1).cpu().numpy())
            golds.append(labels[idx])
    model.train()
    pred, gold = np.concatenate(preds), np.concatenate(golds)
    return {"dev_loss": loss_sum / len(gold), "dev_acc": float(np.mean(pred == gold)),
            "dev_f1": macro_f1(gold, pred, n_labels)}


def train(run_dir: Path) -> int:
    rd, cfg, model_info = load_run(run_dir)
    rank, local_rank, world = env_rank()
    ddp = world > 1
    main = rank == 0
    if not main:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - rank 0 alone writes the log
    device = pick_device(local_rank)
    if ddp:
        import torch.distributed as dist

        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    stop = StopFlag().install()
    set_seed(cfg.seed)

    task, train_enc, dev_enc, y_train, y_dev, n_labels = prepare_data(cfg, model_info.path)
    amp, precision = autocast_dtype(cfg.precision, device)
    libs = versions("torch", "transformers", "tokenizers")
    dev_text = describe_device(device, world)
    if main:
        rd.write_config(config_record(cfg, model_info, dev_text, task, libs,
                                      precision_used=precision, world_size=world,
                                      n_truncated_train=train_enc.n_truncated,
                                      n_truncated_dev=dev_enc.n_truncated))
        preamble(cfg, model_info, dev_text, task, train_enc, dev_enc, libs)

    model = load_classifier(model_info.path, n_labels, cfg.head, cfg.dropout, cfg.seed)
    if cfg.freeze_encoder:
        for p in model.encoder.parameters():
            p.requires_grad = False
    elif cfg.head != "pooler" and getattr(model.encoder, "pooler", None) is not None:
        for p in model.encoder.pooler.parameters():  # unused by the head: keep it as loaded
            p.requires_grad = False
    model.to(device)
    n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    n_total = sum(p.numel() for p in model.parameters())
    if main:
        print(f"parameters: {n_trainable:,} trainable of {n_total:,}"
              + (" (encoder frozen)" if cfg.freeze_encoder else ""), flush=True)
    net: nn.Module = model
    if ddp:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[local_rank] if device.type == "cuda"
                                      else None)

    lengths = [len(x) for x in train_enc.input_ids]
    n_batches = math.ceil(len(lengths) / cfg.batch_size) // world
    updates_per_epoch = math.ceil(n_batches / cfg.grad_accum)
    total = updates_per_epoch * cfg.epochs
    optimizer = make_optimizer(model, cfg)
    scheduler = linear_schedule(optimizer, int(cfg.warmup_ratio * total), total)
    scaler = torch.amp.GradScaler(device.type, enabled=amp is torch.float16)

    tracker = BestTracker(rd if main else None, score="dev_f1", label="dev_f1",
                          epochs=cfg.epochs, patience=cfg.patience)
    tracker.begin()
    net.train()
    for epoch in range(1, cfg.epochs + 1):
        started = time.perf_counter()
        batches = epoch_batches(lengths, cfg.batch_size, cfg.seed, epoch)
        batches = batches[: n_batches * world][rank::world]
        loss_sum, correct, seen = 0.0, 0, 0
        bar = tqdm(batches, desc=f"Epoch {epoch}/{cfg.epochs}", disable=not main)
        for step, idx in enumerate(bar):
            batch = to_device(pad_batch(train_enc, idx), device)
            y = torch.from_numpy(y_train[idx]).to(device)
            last = (step + 1) % cfg.grad_accum == 0 or step + 1 == len(batches)
            sync = contextlib.nullcontext() if (last or not ddp) else net.no_sync()
            with sync:
                with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                    logits = net(**batch)
                loss = F.cross_entropy(logits.float(), y)
                scaler.scale(loss / cfg.grad_accum).backward()
            if last:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            loss_sum += loss.item() * len(idx)
            correct += int((logits.argmax(-1) == y).sum())
            seen += len(idx)
            # refresh=False: redrawn at tqdm's own pace, not once per step (the log stays small)
            bar.set_postfix(loss=f"{loss_sum / seen:.4f}", lr=f"{scheduler.get_last_lr()[0]:.2e}",
                            refresh=False)
            # a stop on an epoch's last step lets that epoch finish: scored, saved, then stopped
            if step + 1 < len(batches) and _stop_requested(stop, ddp, device):
                tracker.stop_mid_epoch(epoch, step + 1, len(batches))
                break
        bar.close()
        if tracker.stopped:
            break
        totals = torch.tensor([loss_sum, correct, seen], dtype=torch.float64)
        if ddp:
            import torch.distributed as dist

            dist.all_reduce(totals)
        loss_sum, correct, seen = totals.tolist()
        scores = evaluate(model, dev_enc, y_dev, cfg.batch_size, device, amp, n_labels, main)
        seconds = time.perf_counter() - started
        metrics = {"train_loss": loss_sum / seen, "train_acc": correct / seen, **scores}
        if main:
            print(f"epoch {epoch}/{cfg.epochs}: "
                  + " ".join(f"{k}={v:.4f}" for k, v in metrics.items())
                  + f" time={seconds:.1f}s", flush=True)
            rd.append_metrics(epoch, {**metrics, "time": seconds})
        if tracker.epoch_end(epoch, {"dev_f1": metrics["dev_f1"], "dev_acc": metrics["dev_acc"]}):
            if main:
                save_checkpoint(model, rd.checkpoint, model_info.path,
                                _meta(cfg, task.label_names, epoch, metrics))
                print(tracker.saved_line(rd.checkpoint), flush=True)
        early = tracker.early_stop_line(epoch)
        if early:
            if main:
                print(early, flush=True)
            break
        if _stop_requested(stop, ddp, device):
            tracker.stop_after_epoch(epoch)
            break

    code = tracker.code
    if main:
        unsaved = tracker.unsaved_stop_line(rd.checkpoint)
        lines = tracker.closing_lines()
        if unsaved:
            save_checkpoint(model, rd.checkpoint, model_info.path,
                            _meta(cfg, task.label_names, None, {}))
            lines.insert(1, unsaved)
        for line in lines:
            print(line, flush=True)
        print(tracker.last_line(), flush=True)
        code = tracker.finish()
    if ddp:
        import torch.distributed as dist

        dist.destroy_process_group()
    return code


def _stop_requested(stop: StopFlag, ddp: bool, device: torch.device) -> bool:
    """Every rank stops at the same step: the flag is all-reduced under DDP."""
    if not ddp:
        return stop.requested
    import torch.distributed as dist

    flag = torch.tensor([1.0 if stop.requested else 0.0], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


def _meta(cfg: TrainConfig, labels: list[str], epoch: int | None, metrics: dict) -> dict:
    return {"framework": "torch", "head": cfg.head, "dropout": cfg.dropout, "labels": labels,
            "max_len": cfg.max_len, "epoch": epoch, "metrics": metrics}

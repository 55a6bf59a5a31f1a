"""Fine-tune a tiny randomly initialised BERT with the real Hugging Face `Trainer`.

Run as a subprocess by tests/conftest.py:

    python tests/emitters/hf_trainer.py --out truth.json [--epochs N] [--logging-steps K]

Nothing is downloaded: the model is built from a `BertConfig` (hidden 32, 2 layers, 2 heads,
vocabulary 100) and fed random token ids. The Trainer prints its own tqdm bar and its dict lines
(`{'loss': ..., 'grad_norm': ..., 'learning_rate': ..., 'epoch': ...}`); the ground truth written to
--out is `trainer.state.log_history`, what the Trainer itself recorded.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _jsonable(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


class _kept:
    """A context manager standing in for TemporaryDirectory: the directory stays."""

    def __init__(self, path: str):
        os.makedirs(path, exist_ok=True)
        self.path = path

    def __enter__(self) -> str:
        return self.path

    def __exit__(self, *exc) -> None:
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--train-size", type=int, default=64)
    ap.add_argument("--eval-size", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--seq-len", type=int, default=16)
    ap.add_argument("--logging-steps", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--output-dir", default=None,
                    help="keep the Trainer's output directory here (checkpoints' trainer_state.json,"
                         " TensorBoard events); default: a temporary directory, removed")
    ap.add_argument("--save-strategy", default="no", choices=("no", "epoch", "steps"))
    ap.add_argument("--report-to", default="none", help='"none" or "tensorboard"')
    ap.add_argument("--tb-dir", default=None,
                    help="the TensorBoard log directory (TENSORBOARD_LOGGING_DIR), else the "
                         "Trainer's default under --output-dir")
    ap.add_argument("--states-only", action="store_true",
                    help="afterwards keep only each checkpoint's trainer_state.json (small "
                         "fixtures: no weights, optimizer or RNG state)")
    ap.add_argument("--eval-steps", type=int, default=None,
                    help='evaluate every N steps (eval_strategy="steps") instead of each epoch')
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--f1", action="store_true", help="compute_metrics adds a binary f1")
    ap.add_argument("--notebook-html", default=None, metavar="PATH",
                    help="train with transformers' NotebookProgressCallback (needs IPython) in "
                         "place of the console bar and write the HTML it last displayed")
    ap.add_argument("--model-card", default=None, metavar="PATH",
                    help="write TrainingSummary.from_trainer(trainer).to_model_card() (the "
                         "README.md push_to_hub writes, with its 'Training results' table)")
    ap.add_argument("--log-metrics", action="store_true",
                    help="after training, trainer.log_metrics('train', ...) and an evaluate() "
                         "with log_metrics('eval', ...): the `***** train metrics *****` blocks")
    ap.add_argument("--num-labels", type=int, default=2)
    ap.add_argument("--first-token-labels", action="store_true",
                    help="label from the first token's id (what [CLS]-side pooling sees at once): "
                         "an easy task the tiny model learns in a few epochs")
    ap.add_argument("--random-labels", action="store_true",
                    help="labels independent of the tokens: nothing to learn (chance level)")
    ap.add_argument("--poison-at-step", type=int, default=None, metavar="S",
                    help="after optimiser step S set a weight to inf, as an fp16 overflow or a "
                         "blown-up update would: the loss and grad_norm become nan")
    ap.add_argument("--crash-at-step", type=int, default=None, metavar="S",
                    help="raise RuntimeError in a callback after step S (an uncaught traceback)")
    args = ap.parse_args(argv)
    if args.tb_dir:
        os.environ["TENSORBOARD_LOGGING_DIR"] = args.tb_dir

    import numpy as np
    import torch
    import transformers
    from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

    torch.manual_seed(args.seed)
    vocab = 100
    config = BertConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64,
                        num_labels=args.num_labels)
    model = BertForSequenceClassification(config)

    class RandomTokens(torch.utils.data.Dataset):
        """Random token ids whose label is learnable: whether token 7 occurs more than token 9."""

        def __init__(self, n: int, seed: int):
            g = torch.Generator().manual_seed(seed)
            self.ids = torch.randint(1, vocab, (n, args.seq_len), generator=g)
            if args.random_labels:
                self.labels = torch.randint(0, args.num_labels, (n,), generator=g)
            elif args.first_token_labels:
                self.labels = (self.ids[:, 0] * args.num_labels // vocab).long()
            else:  # how many tokens are below 50, in num_labels bands
                below = (self.ids < 50).sum(1).float() - args.seq_len / 2
                edges = torch.linspace(-2, 2, args.num_labels + 1)[1:-1]
                self.labels = torch.bucketize(below, edges).long()

        def __len__(self):
            return len(self.ids)

        def __getitem__(self, i):
            return {"input_ids": self.ids[i],
                    "attention_mask": torch.ones(args.seq_len, dtype=torch.long),
                    "labels": self.labels[i]}

    def compute_metrics(eval_pred):
        logits, labels = eval_pred
        pred = np.argmax(logits, axis=-1)
        out = {"accuracy": float((pred == labels).mean())}
        if args.f1:
            tp = float(((pred == 1) & (labels == 1)).sum())
            fp, fn = float(((pred == 1) & (labels == 0)).sum()), float(((pred == 0) & (labels == 1)).sum())
            out["f1"] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
        return out

    keep = args.output_dir is not None
    with (tempfile.TemporaryDirectory(prefix="bertmon-hf-") if not keep
          else _kept(args.output_dir)) as out_dir:
        training_args = TrainingArguments(
            output_dir=out_dir,
            num_train_epochs=args.epochs,
            per_device_train_batch_size=args.batch_size,
            per_device_eval_batch_size=args.batch_size,
            learning_rate=args.lr,
            logging_strategy="steps",
            logging_steps=args.logging_steps,
            eval_strategy="steps" if args.eval_steps else "epoch",
            eval_steps=args.eval_steps,
            save_strategy=args.save_strategy,
            report_to=args.report_to,
            disable_tqdm=False,
            use_cpu=True,
            seed=args.seed,
            dataloader_num_workers=0,
        )
        class Fault(transformers.TrainerCallback):
            def on_step_end(self, targs, state, control, **kwargs):
                if args.poison_at_step is not None and state.global_step == args.poison_at_step:
                    with torch.no_grad():
                        model.classifier.weight.fill_(float("inf"))
                if args.crash_at_step is not None and state.global_step == args.crash_at_step:
                    raise RuntimeError(
                        f"bertmon test emitter: simulated crash after step {state.global_step}")

        trainer = Trainer(model=model, args=training_args, callbacks=[Fault()],
                          train_dataset=RandomTokens(args.train_size, args.seed),
                          eval_dataset=RandomTokens(args.eval_size, args.seed + 1),
                          compute_metrics=compute_metrics)
        notebook = None
        if args.notebook_html:
            from transformers.trainer_callback import PrinterCallback, ProgressCallback
            from transformers.utils.notebook import NotebookProgressCallback

            class Notebook(NotebookProgressCallback):
                """The real callback; keeps the HTML it displayed last (the finished table)."""

                html = ""

                def on_train_end(self, *a, **k):
                    tracker = self.training_tracker
                    super().on_train_end(*a, **k)
                    self.html = tracker.html_code

            trainer.remove_callback(ProgressCallback)
            trainer.remove_callback(PrinterCallback)
            notebook = Notebook()
            trainer.add_callback(notebook)
        error = None
        try:
            train_output = trainer.train()
        except RuntimeError as exc:  # written to the truth, then raised again: a real traceback
            error, train_output = exc, None
        if notebook is not None:
            with open(args.notebook_html, "w", encoding="utf-8") as f:
                f.write(notebook.html)
        if args.model_card:
            from transformers.modelcard import TrainingSummary

            card = TrainingSummary.from_trainer(trainer, model_name="tiny-bert").to_model_card()
            with open(args.model_card, "w", encoding="utf-8") as f:
                f.write(card)
        if keep and args.states_only:
            for root, _, files in os.walk(out_dir):
                if os.path.basename(root).startswith("checkpoint-"):
                    for name in files:
                        if name != "trainer_state.json":
                            os.remove(os.path.join(root, name))
        eval_metrics = None
        if args.log_metrics and train_output is not None:
            trainer.log_metrics("train", train_output.metrics)
            eval_metrics = trainer.evaluate()
            trainer.log_metrics("eval", eval_metrics)

    truth = {
        "emitter": "hf_trainer",
        "argv": sys.argv[1:],
        "versions": {"transformers": transformers.__version__, "torch": torch.__version__,
                     "python": platform.python_version()},
        "epochs_planned": args.epochs,
        "max_steps": trainer.state.max_steps,
        "logging_steps": args.logging_steps,
        "log_history": [{k: _jsonable(v) for k, v in entry.items()}
                        for entry in trainer.state.log_history],
        "train_output_metrics": {k: _jsonable(v) for k, v in train_output.metrics.items()}
        if train_output is not None else None,
        "crashed": error is not None,
        "error": f"{type(error).__name__}: {error}" if error is not None else None,
        "eval_metrics": ({k: _jsonable(v) for k, v in eval_metrics.items()}
                         if eval_metrics is not None else None),
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(truth, f, indent=1)
    if error is not None:
        raise error
    return 0


if __name__ == "__main__":
    sys.exit(main())

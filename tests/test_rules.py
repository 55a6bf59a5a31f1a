"""The analyzer rules, tested with logs: every labelled log in sample_logs/cases.json (real
captures from Keras, tqdm, transformers' Trainer and Lightning, and the seed logs) goes through
`LogParser` and the rules, and must draw exactly the contract findings a careful reader of its
numbers would report, and no warning at all when the run is healthy.

A smaller table of hand-built runs stays for what logs cannot pin down cheaply: one threshold at
a time (a gap just below `min_gap`), the configuration hints, overrides and odd data.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass

import pytest
from pathlib import Path

from bertmon.analyzers import LogParser, analyze
from bertmon.analyzers.model import SEVERITY_RANK, EpochRow, Finding, Run, Series
from bertmon.analyzers.report import render
from bertmon.analyzers.rules import REGISTRY, check_run, describe_rules, get_rule
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

NAMES = {
    "train_loss": "loss",
    "train_acc": "acc",
    "dev_loss": "val_loss",
    "dev_acc": "val_acc",
    "dev_score": "final_score",
}
REQUIRED = {
    "train_dev_gap",
    "unstable_dev",
    "stalled_loss",
    "diverged",
    "crashed",
    "early_peak",
    "dev_above_train",
    "chance_level",
    "loss_spike",
    "eval_dominates",
}
ALL = frozenset(REGISTRY)
NAN, INF = math.nan, math.inf


def make_run(
    *,
    loss: list[float] | None = None,
    acc: list[float] | None = None,
    val_loss: list[float] | None = None,
    val_acc: list[float] | None = None,
    score: list[float] | None = None,
    names: dict[str, str] | None = None,
    planned: int | None = None,
    status: str = "finished",
    error: str | None = None,
    hints: dict[str, object] | None = None,
    seconds: list[float] | None = None,
    steps: list[float] | None = None,
    steps_per_epoch: int = 50,
) -> Run:
    """A Run as the parser would build it: the epoch table plus one series point per value.

    `steps` replaces the train loss series with per-step observations (global step numbers).
    """
    by_role = {
        "train_loss": loss,
        "train_acc": acc,
        "dev_loss": val_loss,
        "dev_acc": val_acc,
        "dev_score": score,
    }
    role_names = {**NAMES, **(names or {})}
    run = Run(
        status=status,
        epochs_planned=planned,
        error=error,  # type: ignore[arg-type]
        hints=dict(hints or {}),
        formats=["keras"],
    )
    n = max((len(v) for v in by_role.values() if v), default=0)
    for i in range(n):
        row = EpochRow(epoch=i + 1, seconds=seconds[i] if seconds and i < len(seconds) else None)
        for role, values in by_role.items():
            if values and i < len(values):
                row.metrics[role_names[role]] = values[i]
        run.epochs.append(row)
    for role, values in by_role.items():
        if not values:
            continue
        name = role_names[role]
        run.roles[role] = name
        series = run.series.setdefault(name, Series(name))
        if role == "train_loss" and steps is not None:
            continue
        for i, value in enumerate(values):
            series.append(i + 1, None, value)
    if steps is not None:
        name = role_names["train_loss"]
        run.roles["train_loss"] = name
        series = run.series.setdefault(name, Series(name))
        for i, value in enumerate(steps):
            series.append(i // steps_per_epoch + 1, i + 1, value)
    return run


def wobble(level: list[float], per_epoch: int = 50, amp: float = 0.1) -> list[float]:
    """A per-step series around each epoch's level, with deterministic +-amp relative noise."""
    return [
        v * (1 + amp * math.sin(1.7 * (e * per_epoch + i)))
        for e, v in enumerate(level)
        for i in range(per_epoch)
    ]


# --- the runs ----------------------------------------------------------------------------------

HEALTHY = {
    "loss": [0.60, 0.48, 0.40, 0.34, 0.30, 0.27, 0.25, 0.23],
    "acc": [0.70, 0.78, 0.83, 0.86, 0.88, 0.90, 0.91, 0.92],
    "val_loss": [0.62, 0.52, 0.46, 0.42, 0.40, 0.385, 0.375, 0.37],
    "val_acc": [0.68, 0.74, 0.78, 0.81, 0.83, 0.845, 0.855, 0.86],
    "planned": 8,
    "seconds": [200.0] * 8,
    "hints": {"lr": 3e-5, "max_len": 128, "eval_seconds": {e: 20.0 for e in range(1, 9)}},
}


def healthy(**changes: object) -> Run:
    return make_run(**{**HEALTHY, **changes})  # type: ignore[arg-type]


SAMPLES = Path(__file__).resolve().parent.parent / "sample_logs"
CONTRACT = ("train_dev_gap", "unstable_dev", "stalled_loss", "diverged", "crashed")


def parsed(name: str) -> list[Run]:
    """The runs of a log in sample_logs/, read by the parser in 64 KiB chunks."""
    parser = LogParser(name)
    data = (SAMPLES / name).read_bytes()
    for i in range(0, len(data), 1 << 16):
        parser.feed(data[i : i + (1 << 16)])
    return parser.close().runs


def parsed_run(name: str, **hints: object) -> Run:
    """The single run of a log, with configuration hints as a printed config line would add."""
    (run,) = parsed(name)
    run.hints.update(hints)
    return run


@dataclass
class Case:
    name: str
    build: Callable[[], Run]
    present: dict[str, str | None] = field(default_factory=dict)  # rule id -> severity or None
    absent: frozenset[str] | set[str] = frozenset()


def spikes() -> list[float]:
    values = wobble([0.6, 0.5, 0.45], amp=0.05)
    values[120] = 2.0
    return values


def per_batch(spike_from: int | None = None, sigma: float = 1.0) -> list[float]:
    """Per-batch losses as a tqdm postfix prints them: several-fold batch-to-batch noise."""
    rng = random.Random(7)
    values = []
    for i in range(450):
        level = 0.69 * math.exp(-3 * i / 450) + 0.05
        if spike_from is not None and spike_from <= i < spike_from + 30:
            level *= 8
        values.append(level * math.exp(rng.gauss(0, sigma)))
    return values


def late_noise() -> list[float]:
    values = [0.7 * math.exp(-i / 30) + 0.02 for i in range(150)]
    for i in range(100, 150, 7):
        values[i] = 0.2
    return values


CASES = [
    Case("healthy", healthy, {}, ALL),
    Case("healthy_with_steps", lambda: healthy(steps=wobble(HEALTHY["loss"])), {}, ALL),
    Case(
        "slow_start_while_dev_improves",  # near ln 2 for 3 epochs, but dev up 0.10: learning
        lambda: make_run(loss=[0.69, 0.68, 0.67], val_acc=[0.55, 0.60, 0.65]),
        {},
        {"stalled_loss", "chance_level"},
    ),
    Case(
        "stuck_at_ln2_while_dev_wiggles",  # dev accuracy 0.49-0.515 is noise around chance
        lambda: make_run(loss=[0.693, 0.692, 0.693, 0.692, 0.693],
                         val_acc=[0.50, 0.49, 0.51, 0.50, 0.515]),
        {"stalled_loss": "warning", "chance_level": "warning"},
        {"unstable_dev", "early_peak"},
    ),
    Case(
        "explosion_in_steps_only",  # a tqdm postfix 1.95e+4 -> 1.35e+5, epochs only 2x apart
        lambda: make_run(loss=[2.0e4, 4.0e4],
                         steps=[1.95e4 * (0.97 ** i) for i in range(30)]
                         + [1.5e4 * (1.08 ** i) for i in range(30)]),
        {"diverged": "error"},
        {"stalled_loss", "loss_spike"},
    ),
    Case(
        "one_inf_grad_norm_mid_run_is_no_divergence",  # fp16 loss scaling skips such a step
        lambda: _with_series(make_run(loss=[0.6, 0.4, 0.3]), "grad_norm",
                             [1.0, 2.0, INF, 1.5, 1.2, 1.1]),
        {},
        {"diverged"},
    ),
    Case(
        "grad_norm_nan_at_the_end",
        lambda: _with_series(make_run(loss=[0.6, 0.4, 0.0]), "grad_norm", [1.0, 2.0, NAN]),
        {"diverged": "error"},
    ),
    Case(
        "seed001_trainable_encoder",
        lambda: parsed_run("seed001_frozen_cola.log", frozen=False),
        {"dev_above_train": "warning"},
        {"frozen_encoder", "high_lr", "stalled_loss", "chance_level"},
    ),
    Case(
        "seed001_with_hints",
        lambda: parsed_run("seed001_frozen_cola.log", lr=1e-3, frozen=True),
        {"high_lr": "warning", "frozen_encoder": "info", "dev_above_train": "warning"},
    ),
    # train_dev_gap
    Case(
        "acc_gap",
        lambda: make_run(
            acc=[0.70, 0.80, 0.88, 0.93, 0.96, 0.97, 0.98, 0.99],
            val_acc=[0.68, 0.72, 0.74, 0.75, 0.75, 0.755, 0.75, 0.752],
        ),
        {"train_dev_gap": "warning"},
        {"dev_above_train", "unstable_dev"},
    ),
    Case(
        "acc_gap_percent",
        lambda: make_run(
            acc=[70.0, 80.0, 88.0, 93.0, 96.0], val_acc=[0.68, 0.72, 0.74, 0.75, 0.75]
        ),
        {"train_dev_gap": None},
        {"dev_above_train"},
    ),
    Case(
        "acc_vs_mcc_steady_offset",
        lambda: make_run(
            acc=[0.75, 0.82, 0.87, 0.90, 0.92, 0.93],
            score=[0.45, 0.50, 0.53, 0.55, 0.56, 0.57],
            names={"dev_score": "mcc"},
        ),
        {},
        {"train_dev_gap", "unstable_dev"},
    ),
    Case(
        "acc_gap_below_threshold",
        lambda: make_run(
            acc=[0.70, 0.75, 0.80, 0.85, 0.88, 0.90], val_acc=[0.62, 0.67, 0.72, 0.77, 0.80, 0.82]
        ),
        {},
        {"train_dev_gap"},
    ),
    Case(
        "acc_gap_too_early",
        lambda: make_run(acc=[0.80, 0.90, 0.95], val_acc=[0.60, 0.65, 0.66], planned=20),
        {},
        {"train_dev_gap"},
    ),
    Case(
        "dev_loss_rises",
        lambda: make_run(
            loss=[0.60, 0.40, 0.30, 0.20, 0.12, 0.08, 0.05],
            val_loss=[0.55, 0.45, 0.42, 0.44, 0.48, 0.53, 0.60],
        ),
        {"train_dev_gap": "warning"},
    ),
    Case(
        "dev_loss_flat_after_min",
        lambda: make_run(
            loss=[0.60, 0.40, 0.30, 0.20, 0.12, 0.08, 0.05],
            val_loss=[0.55, 0.45, 0.42, 0.425, 0.43, 0.428, 0.43],
        ),
        {},
        {"train_dev_gap"},
    ),
    # unstable_dev
    Case(
        "zigzag_dev_acc",
        lambda: make_run(
            acc=[0.70, 0.75, 0.78, 0.80, 0.81, 0.82, 0.82, 0.83],
            val_acc=[0.70, 0.76, 0.71, 0.77, 0.72, 0.78, 0.73, 0.79],
        ),
        {"unstable_dev": "warning"},
    ),
    Case(
        "uneven_monotone_dev_acc",
        lambda: make_run(val_acc=[0.60, 0.70, 0.71, 0.72, 0.80, 0.81, 0.82, 0.83]),
        {},
        {"unstable_dev"},
    ),
    Case(
        "zigzag_dev_loss",
        lambda: make_run(val_loss=[0.50, 0.60, 0.48, 0.62, 0.47, 0.63]),
        {"unstable_dev": "warning"},
    ),
    Case(
        "too_few_epochs_to_swing",
        lambda: make_run(val_acc=[0.70, 0.80, 0.70, 0.80]),
        {},
        {"unstable_dev"},
    ),
    # early_peak
    Case(
        "early_peak_drop",
        lambda: make_run(val_acc=[0.78, 0.83, 0.85, 0.83, 0.82, 0.81, 0.80, 0.80]),
        {"early_peak": "warning"},
    ),
    Case(
        "plateau_is_info",
        lambda: make_run(val_acc=[0.80, 0.84, 0.86, 0.862, 0.861, 0.861, 0.860]),
        {"early_peak": "info"},
    ),
    Case(
        "dev_loss_min_early",
        lambda: make_run(val_loss=[0.50, 0.40, 0.45, 0.50, 0.55, 0.60]),
        {"early_peak": "warning"},
    ),
    Case(  # a dev metric that never moved is stuck, not past a peak (a public paste's)
        "flat_dev_is_no_peak",
        lambda: make_run(acc=[0.7, 0.8, 0.7, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8],
                         val_acc=[0.5] * 10),
        {},
        {"early_peak"},
    ),
    # dev_above_train
    Case(
        "dev_above_train_sustained",
        lambda: make_run(
            acc=[0.60, 0.65, 0.68, 0.70, 0.71, 0.72, 0.73, 0.74],
            val_acc=[0.64, 0.70, 0.74, 0.77, 0.78, 0.79, 0.80, 0.80],
        ),
        {"dev_above_train": "warning"},
        {"train_dev_gap"},
    ),
    Case(
        "dev_above_train_early_only",
        lambda: make_run(
            acc=[0.60, 0.70, 0.78, 0.83, 0.86, 0.88], val_acc=[0.65, 0.72, 0.77, 0.80, 0.82, 0.83]
        ),
        {},
        {"dev_above_train"},
    ),
    Case(
        "dev_above_train_small_short",
        lambda: make_run(acc=[0.70, 0.80], val_acc=[0.75, 0.83]),
        {},
        {"dev_above_train"},
    ),
    # chance_level / stalled_loss
    Case(
        "loss_at_ln2",
        lambda: make_run(loss=[0.70, 0.695, 0.693, 0.694, 0.692]),
        {"chance_level": "warning", "stalled_loss": "warning"},
    ),
    Case(
        "constant_dev_acc_alone_is_no_chance",  # a converged model on a small dev set
        lambda: make_run(loss=[0.50, 0.45, 0.42, 0.40], val_acc=[0.6912, 0.6912, 0.6912, 0.6912]),
        {},
        {"chance_level"},
    ),
    Case(
        "acc_at_chance_3_classes",
        lambda: make_run(acc=[0.34, 0.35, 0.34], hints={"num_classes": 3}),
        {"chance_level": "warning"},
    ),
    Case(
        "acc_at_majority",
        lambda: make_run(acc=[0.69, 0.70, 0.70], hints={"majority_rate": 0.70}),
        {"chance_level": "warning"},
    ),
    Case(
        "acc_rising_past_chance_is_learning",
        lambda: make_run(acc=[0.50, 0.51, 0.53], hints={"num_classes": 2}),
        {},
        {"chance_level"},
    ),
    Case(
        "printed_class_count_as_float",  # `num_labels=3` reaches the hints as 3.0
        lambda: make_run(loss=[1.12, 1.10, 1.10, 1.099, 1.099], hints={"num_classes": 3.0}),
        {"chance_level": "warning", "stalled_loss": "warning"},
    ),
    Case(
        "printed_class_count_beats_first_loss",  # ln 3 = 1.10 but 5 classes: chance is ln 5
        lambda: make_run(loss=[1.12, 1.10, 1.10, 1.099, 1.099], hints={"num_classes": 5}),
        {"stalled_loss": "warning"},
        {"chance_level"},
    ),
    Case(
        "crf_loss_is_no_class_count",  # ln 306: no plausible K, so nothing about chance
        lambda: make_run(loss=[5.72, 5.70, 5.70, 5.69, 5.69]),
        {"stalled_loss": "warning"},
        {"chance_level"},
    ),
    Case(
        "high_plateau",
        lambda: make_run(loss=[1.2, 0.9, 0.80, 0.79, 0.788, 0.787]),
        {"stalled_loss": "warning"},
        {"chance_level"},
    ),
    Case(
        "two_epochs_flat_steps",
        lambda: make_run(loss=[0.91, 0.90], steps=wobble([0.91, 0.90], amp=0.03)),
        {"stalled_loss": "warning"},
        {"chance_level"},
    ),
    Case(
        "two_epochs_falling",
        lambda: make_run(loss=[0.60, 0.40]),
        {},
        {"stalled_loss", "chance_level"},
    ),
    Case(
        "two_epochs_slow_far_from_chance",
        lambda: make_run(loss=[0.30, 0.295]),
        {},
        {"stalled_loss", "chance_level"},
    ),
    Case(
        "plateau_after_halving",
        lambda: make_run(loss=[0.6, 0.4, 0.3, 0.30, 0.298, 0.297]),
        {},
        {"stalled_loss"},
    ),
    Case(
        "converged_plateau",
        lambda: make_run(loss=[0.6, 0.3, 0.1, 0.05, 0.049, 0.0488, 0.0487]),
        {},
        {"stalled_loss"},
    ),
    # diverged
    Case(
        "nan_loss", lambda: make_run(loss=[0.6, 0.5, NAN], status="diverged"), {"diverged": "error"}
    ),
    Case(
        "nan_dev_loss_in_epoch_table_only",
        lambda: _without_series(make_run(loss=[0.6, 0.5], val_loss=[0.5, NAN])),
        {"diverged": "error"},
    ),
    Case(
        "status_diverged",
        lambda: make_run(loss=[0.6, 0.5], status="diverged"),
        {"diverged": "error"},
    ),
    Case(
        "inf_in_steps",
        lambda: make_run(loss=[0.6, 0.5], steps=[0.6] * 60 + [INF] + [0.5] * 39),
        {"diverged": "error"},
    ),
    Case("exploding_loss", lambda: make_run(loss=[0.6, 0.4, 0.3, 2.5]), {"diverged": "error"}),
    Case("low_loss_wobble", lambda: make_run(loss=[0.05, 0.01, 0.03]), {}, {"diverged"}),
    # crashed
    Case(
        "cuda_oom",
        lambda: make_run(
            loss=[0.6],
            status="crashed",
            error="RuntimeError: CUDA out of memory. Tried to allocate 20.00 MiB",
        ),
        {"crashed": "error"},
    ),
    Case(
        "killed",
        lambda: make_run(loss=[0.6], status="crashed", error="Killed"),
        {"crashed": "error"},
    ),
    Case("finished_not_crashed", lambda: make_run(loss=[0.6], error="Killed"), {}, {"crashed"}),
    # loss_spike
    Case(
        "loss_spike",
        lambda: make_run(loss=[0.6, 0.5, 0.45], steps=spikes()),
        {"loss_spike": "warning"},
    ),
    Case(  # BERT fits its training set while dev holds steady ~0.1 below: no warning
        "bert_fits_train_dev_steady",
        lambda: make_run(loss=[0.45, 0.2, 0.08, 0.04], acc=[0.80, 0.95, 0.985, 0.995],
                         val_loss=[0.36, 0.33, 0.34, 0.35], val_acc=[0.86, 0.875, 0.88, 0.88]),
        {"train_dev_gap": "info"},
        {"unstable_dev", "early_peak", "dev_above_train", "stalled_loss", "chance_level"},
    ),
    Case(
        "per_batch_noise_no_spike",
        lambda: make_run(loss=[0.5, 0.25, 0.12], steps=per_batch()),
        {},
        {"loss_spike"},
    ),
    Case(
        "per_batch_sustained_spike",
        lambda: make_run(loss=[0.5, 0.25, 0.12], steps=per_batch(spike_from=250)),
        {"loss_spike": "warning"},
    ),
    Case(
        "late_noise_no_spike",
        lambda: make_run(loss=[0.4, 0.1, 0.05], steps=late_noise()),
        {},
        {"loss_spike"},
    ),
    # eval_dominates
    Case(
        "eval_slow",
        lambda: make_run(
            loss=[0.6, 0.5],
            seconds=[200.0, 200.0],
            hints={"eval_seconds": {"1": 300.0, "2": 310.0}},
        ),
        {"eval_dominates": "info"},
    ),
    Case(
        "eval_fast",
        lambda: make_run(
            loss=[0.6, 0.5], seconds=[200.0, 200.0], hints={"eval_seconds": {1: 80.0, 2: 80.0}}
        ),
        {},
        {"eval_dominates"},
    ),
    # configuration hints
    Case("high_lr", lambda: make_run(loss=[0.6], hints={"lr": 1e-3}), {"high_lr": "warning"}),
    # a model trained from scratch at its own rate: the loss falls, the rate is only noted
    Case("high_lr_learning", lambda: make_run(loss=[2.3, 1.1, 0.6, 0.4], hints={"lr": 8e-4}),
         {"high_lr": "info"}),
    Case("high_lr_stalled", lambda: make_run(loss=[0.69, 0.66, 0.65, 0.65], hints={"lr": 1e-3}),
         {"high_lr": "warning"}),
    Case("bert_lr", lambda: make_run(loss=[0.6], hints={"learning_rate": "3e-5"}), {}, {"high_lr"}),
    Case(
        "short_max_len",
        lambda: make_run(loss=[0.6], hints={"maxlen": 32}),
        {"short_max_len": "info"},
    ),
    Case(
        "long_max_len", lambda: make_run(loss=[0.6], hints={"max_len": 128}), {}, {"short_max_len"}
    ),
    Case(
        "frozen", lambda: make_run(loss=[0.6], hints={"frozen": True}), {"frozen_encoder": "info"}
    ),
    # odd data
    Case("empty_run", Run, {}, ALL),
    Case(
        "one_epoch",
        lambda: make_run(loss=[0.69], acc=[0.5], val_loss=[0.7], val_acc=[0.5]),
        {},
        ALL,
    ),
    Case("roles_unknown", lambda: _without_roles(healthy()), {}, ALL),
]


def _with_series(run: Run, name: str, values: list[float]) -> Run:
    series = run.series.setdefault(name, Series(name))
    for i, value in enumerate(values):
        series.append(1 + i / len(values) * len(run.epochs), i + 1, value)
    return run


def _without_series(run: Run) -> Run:
    run.series.clear()
    return run


def _without_roles(run: Run) -> Run:
    run.roles = dict.fromkeys(run.roles)
    return run


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_rule_cases(case: Case) -> None:
    findings = check_run(case.build())
    got = {f.rule: f for f in findings}
    assert not [f for f in findings if f.evidence.get("internal_error")]
    for rule_id, severity in case.present.items():
        assert rule_id in got, f"{case.name}: expected {rule_id}, got {sorted(got)}"
        if severity is not None:
            assert got[rule_id].severity == severity, got[rule_id]
    unexpected = set(case.absent) & set(got)
    assert not unexpected, f"{case.name}: unexpected {[got[r].message for r in unexpected]}"


def test_cases_cover_every_rule_both_ways() -> None:
    fired = {rule for case in CASES for rule in case.present}
    fired |= {rule for case in LOG_CASES for rule in case["expect"] + case["also"]}
    quiet = {rule for case in CASES if case.absent is not ALL for rule in case.absent}
    assert fired == set(REGISTRY)
    assert quiet == set(REGISTRY)


# --- the seeds ---------------------------------------------------------------------------------


def test_early_peak_back_at_its_best_says_nothing_overfit() -> None:
    findings = check_run(make_run(val_acc=[0.70, 0.80, 0.75, 0.74, 0.78, 0.80]))
    peak = next(f for f in findings if f.rule == "early_peak")
    assert peak.severity == "info" and peak.evidence["drop"] == 0
    assert "added nothing" in peak.message and "not the best" not in peak.message


def test_seed000_names_the_best_dev_score() -> None:
    findings = check_run(parsed_run("seed000_tf_reference.log"))
    gap = next(f for f in findings if f.rule == "train_dev_gap")
    assert "train acc 0.986 vs dev final_score 0.507" in gap.message
    assert gap.epoch == 18
    for rule_id in ("unstable_dev", "early_peak"):
        f = next(f for f in findings if f.rule == rule_id)
        assert f.evidence["best_epoch"] == 7 and f.evidence["best"] == pytest.approx(0.5294)
        assert "0.5294 at epoch 7" in f.message
    peak = next(f for f in findings if f.rule == "early_peak")
    assert peak.evidence["epochs_since_best"] == 11 and "monitor='final_score'" in peak.remedy


def test_seed001_points_at_frozen_encoder_not_at_chance() -> None:
    """Two epochs of a frozen encoder: train loss 0.653 -> 0.629 while dev accuracy rises to
    0.785. Underfitting, not a stall (dev still improves) and not chance (dev is far above)."""
    findings = check_run(parsed_run("seed001_frozen_cola.log"))
    by_rule = {f.rule: f for f in findings}
    assert set(by_rule) == {"dev_above_train"}
    dev = by_rule["dev_above_train"]
    assert "dev val_accuracy 0.7850" in dev.message and "train accuracy 0.6119" in dev.message
    text = dev.message + " " + dev.remedy
    assert "1e-3" in text and "2e-5..5e-5" in text and "frozen" in text.lower()


def test_seed001_hints_are_quoted() -> None:
    findings = check_run(parsed_run("seed001_frozen_cola.log", lr=1e-3, frozen=True))
    dev = next(f for f in findings if f.rule == "dev_above_train")
    assert "the log shows lr 0.001 (far above 2e-5..5e-5) and a frozen encoder" in dev.message
    assert "Adam's default" in next(f for f in findings if f.rule == "high_lr").message


def test_healthy_run_gets_no_warning() -> None:
    findings = check_run(healthy(steps=wobble(HEALTHY["loss"])))
    assert [f for f in findings if SEVERITY_RANK[f.severity] >= SEVERITY_RANK["warning"]] == []


def test_oom_message_quotes_error_and_suggests_memory_savers() -> None:
    error = "RuntimeError: CUDA out of memory. Tried to allocate 20.00 MiB"
    (f,) = [
        f
        for f in check_run(make_run(loss=[0.6, 0.5], status="crashed", error=error))
        if f.rule == "crashed"
    ]
    assert error in f.message and f.epoch == 2 and f.evidence["kind"] == "oom"
    for word in ("batch", "max_length", "accumulation", "bf16"):
        assert word in f.remedy


# --- the labelled logs: parser + rules, as `bertmon analyze` runs them --------------------------

LABELLED = json.loads((SAMPLES / "cases.json").read_text(encoding="utf-8"))["cases"]
LOG_CASES = [c for c in LABELLED if "excluded" not in c]


def warned(runs: list[Run]) -> dict[str, Finding]:
    """The findings of warning or error severity over every run of a log, by rule id."""
    analyze_runs(runs)
    return {f.rule: f for run in runs for f in run.findings
            if SEVERITY_RANK[f.severity] >= SEVERITY_RANK["warning"]}


def analyze_runs(runs: list[Run]) -> None:
    for run in runs:
        analyze(run)


@pytest.mark.parametrize("case", LOG_CASES, ids=[c["log"] for c in LOG_CASES])
def test_labelled_log(case: dict) -> None:
    found = warned(parsed(case["log"]))
    contract = {rule for rule in found if rule in CONTRACT}
    assert contract == set(case["expect"]), (case["reading"], {r: found[r].message for r in found})
    for rule in case["also"]:
        assert rule in found, (case["reading"], sorted(found))
    if case["healthy"]:
        assert not found, f"a healthy run drew {[f.message for f in found.values()]}"
    for f in found.values():
        assert f.basis, f"{f.rule} has no basis"


def test_labelled_logs_cover_every_contract_finding_and_emitter() -> None:
    assert {rule for c in LOG_CASES for rule in c["expect"]} == set(CONTRACT)
    assert {"keras", "tqdm", "hf-trainer", "lightning"} <= {c["emitter"] for c in LOG_CASES}
    assert sum(c["healthy"] for c in LOG_CASES) >= 10
    for case in LABELLED:
        assert (SAMPLES / case["log"]).is_file(), case["log"]


def test_stalled_at_chance_is_both_findings_with_the_class_count_read() -> None:
    found = warned(parsed("case_stalled_printed_keras.log"))
    assert {"stalled_loss", "chance_level"} <= set(found)
    assert found["chance_level"].evidence["num_classes"] == 2
    assert found["chance_level"].evidence["num_classes_from"] == "printed"
    assert "class count printed" in found["chance_level"].basis


def test_printed_class_count_is_stored_as_an_int() -> None:
    (run,) = parsed("case_overfit_multiclass_keras.log")
    analyze(run)
    assert run.hints["num_classes"] == 3 and type(run.hints["num_classes"]) is int


def test_lightning_roles_read_the_epoch_mean_not_the_last_batch() -> None:
    (run,) = parsed("case_healthy_lightning.log")
    assert run.roles["train_loss"] == "train_loss_epoch"


def test_trainer_nan_written_as_zero_is_diverged_from_grad_norm() -> None:
    f = warned(parsed("case_diverged_trainer.log"))["diverged"]
    assert f.evidence["metric"] == "grad_norm" and f.evidence["zero_losses"] > 0
    assert "written as 0" in f.message and f.severity == "error"


def test_fragment_is_judged_on_what_it_shows() -> None:
    (run,) = parsed("case_fragment_healthy_keras.log")
    assert run.epochs[0].epoch > 3
    assert not warned([run])
    text = render_text(run, "case_fragment_healthy_keras.log")
    assert "a fragment: judged on what it shows" in text


def render_text(run: Run, source: str) -> str:
    from bertmon.analyzers.model import Analysis

    return render(Analysis(source, [run]), "text")


def test_text_report_says_what_the_verdict_rests_on() -> None:
    (run,) = parsed("case_stalled_printed_keras.log")
    analyze(run)
    text = render_text(run, "case_stalled_printed_keras.log")
    line = next(l for l in text.splitlines() if l.strip().startswith("findings:"))
    assert "2 warnings" in line and "printed loss, accuracy, val_loss, val_accuracy" in line
    assert "2 classes printed" in line
    assert "basis: printed loss for epochs 1-20" in text
    (healthy_run,) = parsed("case_healthy_keras.log")
    analyze(healthy_run)
    text = render_text(healthy_run, "case_healthy_keras.log")
    assert "findings: none; rests on printed loss" in text and "No problems found." in text


def _close(parsed_value: float | None, recorded: object, rel: float, absolute: float) -> bool:
    """A printed value against the library's record ('nan'/'inf' kept as strings in JSON)."""
    value = float(recorded)  # type: ignore[arg-type]
    if parsed_value is None:
        return False
    if math.isnan(value) or math.isinf(value):
        return str(parsed_value) == str(value)
    return math.isclose(parsed_value, value, rel_tol=rel, abs_tol=absolute)


CASE_TRUTHS = sorted(SAMPLES.glob("case_*.truth.json"))


@pytest.mark.parametrize("truth_path", CASE_TRUTHS, ids=lambda p: p.name.split(".")[0])
def test_case_log_matches_what_the_library_recorded(truth_path: Path) -> None:
    """The epoch table the rules read holds the numbers the library recorded, as printed."""
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    runs = parsed(truth_path.name.replace(".truth.json", ".log"))
    rows = {row.epoch: row.metrics for run in runs for row in run.epochs}
    checked = 0
    if truth["emitter"] == "keras_behaviour":  # History.history; Keras prints %.4f (or %.4e)
        for name, values in truth["history"].items():
            for epoch, value in enumerate(values, start=1):
                if epoch in rows:
                    assert _close(rows[epoch].get(name), value, 1e-3, 6e-5), (name, epoch)
                    checked += 1
    elif truth["emitter"] == "tqdm_behaviour":  # the loop's own values, printed with :.4f
        for summary in truth["summaries"]:
            for name, value in summary.items():
                if name != "epoch":
                    assert _close(rows[summary["epoch"]].get(name), value, 0, 6e-5), name
                    checked += 1
    elif truth["emitter"] == "lightning_behaviour":  # callback_metrics; the bar shows 3 digits
        for record in truth["epochs"]:
            for name in ("train_loss_epoch", "val_loss", "val_acc"):
                if record["epoch"] - 1 in rows and name in record:
                    assert _close(rows[record["epoch"] - 1].get(name), record[name], 6e-3, 0)
                    checked += 1
    else:  # hf_trainer: log_history's evaluations, printed with 4 significant digits
        for entry in truth["log_history"]:
            if "eval_loss" in entry:
                for name in ("eval_loss", "eval_accuracy"):
                    got = rows[round(entry["epoch"])].get(name)
                    assert _close(got, entry[name], 6e-4, 0), (name, entry["epoch"])
                    checked += 1
    assert checked, "nothing compared"


# --- overrides, registry, ordering -------------------------------------------------------------


def acc_gap_run() -> Run:
    return next(c for c in CASES if c.name == "acc_gap").build()


def rules_of(findings: list[Finding]) -> set[str]:
    return {f.rule for f in findings}


def test_override_raises_and_lowers_thresholds() -> None:
    assert "train_dev_gap" in rules_of(check_run(acc_gap_run()))
    assert "train_dev_gap" not in rules_of(
        check_run(acc_gap_run(), {"train_dev_gap": {"min_gap": 0.5}})
    )
    assert "train_dev_gap" not in rules_of(
        check_run(acc_gap_run(), {"train_dev_gap": {"min_gap": "0.5"}})
    )  # strings from a CLI
    assert "train_dev_gap" in rules_of(check_run(healthy(), {"train_dev_gap": {"min_gap": 0.05}}))
    assert "train_dev_gap" not in rules_of(
        check_run(acc_gap_run(), {"train_dev_gap": {"enabled": False}})
    )


def test_override_of_unknown_rule_or_setting_is_an_error() -> None:
    with pytest.raises(ValueError, match="no_such_rule"):
        check_run(healthy(), {"no_such_rule": {}})
    with pytest.raises(ValueError, match="gapp"):
        check_run(healthy(), {"train_dev_gap": {"gapp": 0.2}})


def test_registry_describes_every_rule() -> None:
    assert REQUIRED <= set(REGISTRY)
    for rule_id, rule in REGISTRY.items():
        assert rule.id == rule_id and rule.name and rule.summary
        assert "Detection" in rule.description and "Remedy" in rule.description, rule_id
        assert all(doc for _, _, doc in rule.settings_table()), rule_id
        defaults = rule.defaults()
        assert is_dataclass(defaults) and "enabled" in {f.name for f in fields(defaults)}
    assert get_rule("crashed") is REGISTRY["crashed"]
    with pytest.raises(KeyError):
        get_rule("nope")


def test_describe_rules_lists_every_setting_in_set_syntax() -> None:
    text = describe_rules()
    for rule in REGISTRY.values():
        assert f"{rule.id}: {rule.name}. {rule.summary}" in text
        for name, default, _ in rule.settings_table():
            assert f"{rule.id}.{name}={default!r}" in text


def test_findings_are_sorted_by_epoch_then_worst_first() -> None:
    run = make_run(loss=[0.6, 0.5, NAN], status="diverged", hints={"lr": 1e-3, "max_len": 32})
    seed = parsed_run("seed000_tf_reference.log")
    findings = check_run(seed) + check_run(run)
    for group in (check_run(seed), check_run(run)):
        keys = [(f.epoch is not None, f.epoch or 0, -SEVERITY_RANK[f.severity]) for f in group]
        assert keys == sorted(keys)
    assert check_run(run)[0].rule == "high_lr"  # run-wide first
    assert any(f.severity == "error" for f in findings)


def test_rules_import_no_ui_or_framework() -> None:
    code = (
        "import sys, bertmon.analyzers.rules; "
        "print([m for m in ('textual', 'rich', 'torch', 'tensorflow') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- robustness --------------------------------------------------------------------------------

METRIC_NAMES = ["loss", "acc", "val_loss", "val_acc", "final_score", "eval_loss"]
odd_floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, -1.0, 0.693, 1e300]),
)
odd_hint = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=5),
    odd_floats,
    st.integers(-5, 10**6),
    st.dictionaries(st.integers(-2, 5), odd_floats, max_size=4),
)


@st.composite
def odd_runs(draw: st.DrawFn) -> Run:
    n = draw(st.integers(0, 8))
    run = Run(
        status=draw(st.sampled_from(["running", "finished", "crashed", "diverged"])),
        epochs_planned=draw(st.one_of(st.none(), st.integers(-1, 30))),
        error=draw(st.one_of(st.none(), st.text(max_size=30), st.just("Killed"))),
    )
    start = draw(st.integers(0, 2))
    for i in range(n):
        metrics = draw(st.dictionaries(st.sampled_from(METRIC_NAMES), odd_floats, max_size=6))
        seconds = draw(st.one_of(st.none(), odd_floats))
        run.epochs.append(EpochRow(epoch=start + i, metrics=metrics, seconds=seconds))
    for name in draw(st.lists(st.sampled_from(METRIC_NAMES), max_size=3, unique=True)):
        series = run.series.setdefault(name, Series(name))
        for value in draw(st.lists(odd_floats, max_size=60)):
            series.append(
                draw(st.one_of(st.none(), st.floats(0, 9))),
                draw(st.one_of(st.none(), st.integers(0, 10**6))),
                value,
            )
    for role in run.roles:
        run.roles[role] = draw(st.one_of(st.none(), st.sampled_from(METRIC_NAMES + ["absent"])))
    for key in draw(
        st.lists(
            st.sampled_from(
                [
                    "lr",
                    "learning_rate",
                    "max_len",
                    "num_classes",
                    "majority_rate",
                    "eval_seconds",
                    "frozen",
                ]
            ),
            max_size=4,
            unique=True,
        )
    ):
        run.hints[key] = draw(odd_hint)
    return run


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(odd_runs())
def test_odd_runs_never_break_a_rule(run: Run) -> None:
    findings = check_run(run)
    assert not [f.message for f in findings if f.evidence.get("internal_error")]
    for f in findings:
        assert f.severity in SEVERITY_RANK and f.message
        json.dumps(f.evidence)  # JSON-serialisable (NaN is written by the report as "NaN")

"""The analyzer rules: a registry and `check_run`, the one entry point the CLI and the TUI use.

Each rule lives in a module of its own (see `base.Rule`); `REGISTRY` maps rule id -> rule in
the order reports list them when epochs tie. Settings are overridable per rule:

    check_run(run, {"train_dev_gap": {"gap": 0.15}, "loss_spike": {"enabled": False}})

A run that diverged is judged on that: once `diverged` fires, the findings that read the shape
of the curves after the blow-up (a stall, a chance level, a gap, swings, an early peak, spikes)
are consequences of it, not separate problems, and are left out (SUPERSEDED_BY_DIVERGED).
Likewise a run at chance level: its dev metric moves by sampling noise around chance, so
swings and an early "peak" there say nothing more (SUPERSEDED_BY_CHANCE).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..model import SEVERITY_RANK, Finding, Run
from ..task import settle_hints
from .base import Rule, RuleSettings, per_run, reading
from .chance_level import ChanceLevel
from .crashed import Crashed
from .dev_above_train import DevAboveTrain
from .diverged import Diverged
from .early_peak import EarlyPeak
from .eval_dominates import EvalDominates
from .frozen_encoder import FrozenEncoder
from .high_lr import HighLR
from .loss_spike import LossSpike
from .shape import span
from .short_max_len import ShortMaxLen
from .stalled_loss import StalledLoss
from .train_dev_gap import TrainDevGap
from .unstable_dev import UnstableDev

__all__ = ["REGISTRY", "Rule", "RuleSettings", "check_run", "describe_rules", "get_rule"]

REGISTRY: dict[str, Rule[Any]] = {
    rule.id: rule
    for rule in (
        Crashed(),
        Diverged(),
        StalledLoss(),
        ChanceLevel(),
        TrainDevGap(),
        DevAboveTrain(),
        UnstableDev(),
        EarlyPeak(),
        LossSpike(),
        EvalDominates(),
        HighLR(),
        ShortMaxLen(),
        FrozenEncoder(),
    )
}

_ORDER = {rule_id: i for i, rule_id in enumerate(REGISTRY)}
SUPERSEDED_BY_DIVERGED = frozenset({
    "stalled_loss", "chance_level", "train_dev_gap", "dev_above_train", "unstable_dev",
    "early_peak", "loss_spike",
})
SUPERSEDED_BY_CHANCE = frozenset({"unstable_dev", "early_peak"})


def get_rule(rule_id: str) -> Rule[Any]:
    """The registered rule with this id (KeyError naming the known ids otherwise)."""
    try:
        return REGISTRY[rule_id]
    except KeyError:
        raise KeyError(f"unknown rule {rule_id!r}; known: {', '.join(REGISTRY)}") from None


def describe_rules() -> str:
    """Every rule with its summary and settings (default and meaning), for `--list-rules`."""
    rows = [
        (f"{rule.id}.{name}={default!r}", doc)
        for rule in REGISTRY.values()
        for name, default, doc in rule.settings_table()
    ]
    width = max(len(key) for key, _ in rows)
    lines: list[str] = []
    for rule in REGISTRY.values():
        lines.append(f"{rule.id}: {rule.name}. {rule.summary}")
        lines += [
            f"    {key:<{width}}  {doc}" for key, doc in rows if key.startswith(f"{rule.id}.")
        ]
    return "\n".join(lines)


def check_run(run: Run, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> list[Finding]:
    """Every enabled rule's findings on one run, by epoch (run-wide ones first), worst first.

    `overrides` maps a rule id to settings replacing its defaults; an unknown rule id or
    setting raises ValueError before any rule runs. Odd data never raises: a rule that fails
    anyway is reported as an info finding of its own rather than ending the analysis.
    """
    configured = _configured(overrides or {})
    settle_hints(run)
    findings: list[Finding] = []
    with reading(run):
        for rule, settings in configured:
            try:
                for found in rule.check(run, settings):
                    found.basis = found.basis or default_basis(run)
                    findings.append(found)
            except Exception as exc:  # noqa: BLE001 - one rule's bug must not hide the others
                findings.append(
                    Finding(
                        rule.id,
                        "info",
                        f"Rule {rule.id} could not judge this run ({type(exc).__name__}: {exc}).",
                        None,
                        {"internal_error": True},
                    )
                )
    if any(f.rule == "diverged" for f in findings):
        findings = [f for f in findings if f.rule not in SUPERSEDED_BY_DIVERGED]
    if any(f.rule == "chance_level" for f in findings):
        findings = [f for f in findings if f.rule not in SUPERSEDED_BY_CHANCE]
    return sorted(findings, key=_sort_key)


_CONFIGURED: dict[object, list[tuple[Rule[Any], RuleSettings]]] = {}


def _configured(
    overrides: Mapping[str, Mapping[str, Any]],
) -> list[tuple[Rule[Any], RuleSettings]]:
    """The enabled rules with their settings, resolved once per distinct `overrides` (an analysis
    passes the same ones for each of its runs; settings are frozen, so they can be shared)."""
    try:
        key: object = tuple(
            (rule_id, tuple((name, type(value), value) for name, value in settings.items()))
            for rule_id, settings in overrides.items()
        )
        hash(key)
    except (AttributeError, TypeError):  # not a mapping, an unhashable value: resolved afresh
        key = None
    if key is not None and key in _CONFIGURED:
        return _CONFIGURED[key]
    unknown = sorted(set(overrides) - set(REGISTRY))
    if unknown:
        raise ValueError(f"unknown rule(s) {', '.join(unknown)}; known: {', '.join(REGISTRY)}")
    configured = [(rule, rule.configure(overrides.get(rule.id))) for rule in REGISTRY.values()]
    configured = [(rule, settings) for rule, settings in configured if settings.enabled]
    if key is not None and len(_CONFIGURED) < 64:
        _CONFIGURED[key] = configured
    return configured


@per_run
def default_basis(run: Run) -> str:
    """What a rule without a basis of its own read: the run's printed role metrics."""
    return span(run, "train_loss", "train_acc", "dev_loss", "dev_acc", "dev_score")


def _sort_key(finding: Finding) -> tuple[int, int, int, int]:
    epoch = finding.epoch
    return (
        0 if epoch is None else 1,
        epoch if epoch is not None else 0,
        -SEVERITY_RANK.get(finding.severity, 0),
        _ORDER.get(finding.rule, len(_ORDER)),
    )

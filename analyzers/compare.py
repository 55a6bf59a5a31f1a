"""Two runs side by side: epochs lined up, deltas, who is ahead, and the config that differs.

Runs from different frameworks name their metrics differently (`val_accuracy` vs `dev_acc`), so
rows are lined up by *role* (train loss, dev accuracy, ...), which the parser already inferred,
not by metric name. For run directories the `config.json` of each is diffed and the differences
are ranked by how likely they are to explain a gap in dev score (`IMPACT`); for bare logs the
`config:` hints the parser found stand in for it.

Headless: no torch, TensorFlow, Textual or Rich (the monitor's overlay renders the same object).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from .model import Analysis, Finding, Run
from .report import _fmt, _num, _sorted_findings

FORMATS = ("text", "markdown", "json")

# Roles compared, in table order; "higher is better" for each.
ROLES: tuple[tuple[str, bool], ...] = (
    ("train_loss", False), ("train_acc", True), ("dev_loss", False), ("dev_acc", True),
    ("dev_score", True),
)

# Config keys ranked by how much a difference in them usually moves the dev score, with why.
IMPACT: tuple[tuple[str, str], ...] = (
    ("lr", "the learning rate decides whether fine-tuning converges at all (2e-5..5e-5 for BERT)"),
    ("max_len", "a shorter max_len truncates inputs; the model never sees the cut tokens"),
    ("head", "pooler vs [CLS] vs an extra dense layer changes what the classifier reads"),
    ("freeze_encoder", "a frozen encoder trains only the head: far lower ceiling"),
    ("model", "a different checkpoint is a different starting point"),
    ("pretrained", "random initialisation cannot match pretrained weights"),
    ("optimizer", "Adam without decoupled weight decay behaves differently from AdamW"),
    ("batch_size", "batch size changes the noise and the number of steps per epoch"),
    ("precision", "fp16/bf16 vs fp32 changes numerics (loss scaling, underflow)"),
    ("grad_accum", "gradient accumulation changes the effective batch size"),
    ("warmup_ratio", "no warmup can destabilise the first steps"),
    ("epochs", "more epochs: more updates, and a longer linear decay"),
    ("weight_decay", "regularisation strength"),
    ("dropout", "regularisation strength"),
    ("data", "different training data"),
    ("dev_data", "a different dev set scores differently"),
    ("dev_ratio", "a different dev split scores differently"),
    ("text_column", "a different input column"),
    ("text_pair_column", "a different second input column"),
    ("label_column", "a different label column"),
    ("framework", "the framework itself (check `bertmon parity` for numeric agreement)"),
    ("seed", "run-to-run noise: differences this explains are not significant"),
    ("nproc", "data parallelism changes the global batch size"),
    ("device", "hardware changes kernels and numerics slightly"),
)
_IGNORED = {"name", "runs_dir", "argv", "versions", "model_path", "model_source", "n_train",
            "n_dev", "labels", "world_size", "started", "finished"}


class CompareError(ValueError):
    """Input that cannot be compared (no epochs, unreadable config): one line for the CLI."""


@dataclass
class Side:
    source: str
    run: Run
    config: dict | None = None  # config.json of a run directory, else None

    @property
    def best(self) -> tuple[str, int, float] | None:
        return self.run.best_dev()


@dataclass
class Row:
    epoch: int
    a: dict[str, float | None]  # role -> value
    b: dict[str, float | None]
    ahead: str | None  # "A", "B", "tie" or None (not both present)


@dataclass
class ConfigDiff:
    key: str
    a: object
    b: object
    rank: int  # 0 = most likely to explain a gap
    why: str


@dataclass
class Comparison:
    a: Side
    b: Side
    roles: list[str]  # roles both runs have, table order
    key_role: str | None  # the role "ahead" is decided on
    rows: list[Row] = field(default_factory=list)
    config_diffs: list[ConfigDiff] = field(default_factory=list)
    config_source: str = "none"  # "config.json", "log hints" or "none"

    @property
    def verdict(self) -> str:
        ba, bb = self.a.best, self.b.best
        none = ("no dev score common to both runs: cannot say which is ahead (that is decided on "
                "dev scores only, never on training metrics)")
        if self.key_role is None or ba is None or bb is None:
            return none
        higher = dict(ROLES)[self.key_role]
        va, vb = self._best_of("a"), self._best_of("b")
        if va is None or vb is None:
            return none
        if va == vb:
            return f"A and B tie on best {self.key_role} ({_fmt(va)})"
        a_wins = (va > vb) == higher
        win, lose = ("A", "B") if a_wins else ("B", "A")
        return (f"{win} is ahead on best {self.key_role}: {_fmt(va if a_wins else vb)} vs "
                f"{_fmt(vb if a_wins else va)} ({lose})")

    def _best_of(self, side: str) -> float | None:
        values = [getattr(r, side).get(self.key_role) for r in self.rows]
        values = [v for v in values if v is not None and not math.isnan(v)]
        if not values:
            return None
        return max(values) if dict(ROLES)[self.key_role] else min(values)


# --- building ---------------------------------------------------------------------------------
def pick_run(analysis: Analysis) -> Run:
    """The last run of a log that has epochs (a restarted log keeps only its final attempt)."""
    with_epochs = [run for run in analysis.runs if run.epochs]
    if not with_epochs:
        raise CompareError(f"{analysis.source}: no epochs recognised in this log")
    return with_epochs[-1]


def read_config(path: str | Path) -> dict | None:
    """A run directory's config.json, None for a log file or a directory without one."""
    p = Path(path)
    if not p.is_dir() or not (p / "config.json").exists():
        return None
    try:
        data = json.loads((p / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CompareError(f"{p / 'config.json'}: unreadable ({exc})") from None
    if not isinstance(data, dict):
        raise CompareError(f"{p / 'config.json'}: not a JSON object")
    return data


def diff_configs(a: dict, b: dict) -> list[ConfigDiff]:
    """Keys whose values differ, most likely cause of a dev-score gap first."""
    ranks = {key: (i, why) for i, (key, why) in enumerate(IMPACT)}
    out = []
    for key in dict.fromkeys([*a, *b]):
        if key in _IGNORED or a.get(key) == b.get(key):
            continue
        if key == "model" and a.get("model_path") == b.get("model_path") is not None:
            continue  # the same folder named two ways
        rank, why = ranks.get(key, (len(IMPACT), "other setting"))
        out.append(ConfigDiff(key, a.get(key), b.get(key), rank, why))
    if "model" not in {d.key for d in out} and a.get("model_path") != b.get("model_path"):
        rank, why = ranks["model"]
        out.append(ConfigDiff("model", a.get("model_path"), b.get("model_path"), rank, why))
    return sorted(out, key=lambda d: (d.rank, d.key))


def compare(a: Side, b: Side) -> Comparison:
    roles = [r for r, _ in ROLES if a.run.roles.get(r) and b.run.roles.get(r)]
    # who is ahead is a question about dev scores: a lower train loss says nothing about it
    key_role = next((r for r in ("dev_score", "dev_acc", "dev_loss") if r in roles), None)
    by_a = {row.epoch: row for row in a.run.epochs}
    by_b = {row.epoch: row for row in b.run.epochs}
    rows = []
    higher = dict(ROLES)
    for epoch in sorted(set(by_a) | set(by_b)):
        va = {r: _role_value(a.run, by_a.get(epoch), r) for r in roles}
        vb = {r: _role_value(b.run, by_b.get(epoch), r) for r in roles}
        ahead = None
        if key_role is not None:
            x, y = va.get(key_role), vb.get(key_role)
            if x is not None and y is not None and not (math.isnan(x) or math.isnan(y)):
                ahead = "tie" if x == y else ("A" if (x > y) == higher[key_role] else "B")
        rows.append(Row(epoch, va, vb, ahead))
    cmp = Comparison(a, b, roles, key_role, rows)
    if a.config is not None and b.config is not None:
        cmp.config_diffs = diff_configs(a.config, b.config)
        cmp.config_source = "config.json"
    elif a.run.hints or b.run.hints:
        hints_a = {k: v for k, v in a.run.hints.items() if not isinstance(v, dict)}
        hints_b = {k: v for k, v in b.run.hints.items() if not isinstance(v, dict)}
        if hints_a and hints_b:
            cmp.config_diffs = diff_configs(hints_a, hints_b)
            cmp.config_source = "log hints"
    return cmp


def _role_value(run: Run, row, role: str) -> float | None:
    name = run.roles.get(role)
    if row is None or name is None:
        return None
    return row.metrics.get(name)


def compare_paths(path_a: str | Path, path_b: str | Path, overrides: dict | None = None
                  ) -> Comparison:
    """Parse, analyze and compare two logs or run directories (CompareError on bad input)."""
    from . import analyze
    from .runstatus import settle
    from .series import parse_path, resolve_log

    sides = []
    for path in (path_a, path_b):
        p = Path(path)
        if not p.exists():
            raise CompareError(f"{path}: no such file or directory")
        log = resolve_log(p)
        if not log.exists():  # a file, or a TensorBoard log directory
            raise CompareError(f"{path}: a directory without train.log")
        try:
            analysis = parse_path(p, source=str(path))
        except OSError as exc:
            raise CompareError(f"{path}: cannot read ({exc.strerror or exc})") from None
        settle(analysis, p)  # a run directory's status.json: stopped is stopped, half epochs drop
        analyze(analysis, overrides)
        sides.append(Side(str(path), pick_run(analysis), read_config(p)))
    return compare(*sides)


# --- rendering --------------------------------------------------------------------------------
def render(cmp: Comparison, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps(to_json(cmp), indent=2, allow_nan=False) + "\n"
    return _human(cmp, markdown=fmt == "markdown")


def _val(v: object) -> object:
    if isinstance(v, float):
        return _num(v)
    if isinstance(v, (str, int, bool)) or v is None:
        return v
    return str(v)


def _delta(x: float | None, y: float | None) -> float | None:
    if x is None or y is None:
        return None
    return y - x


def to_json(cmp: Comparison) -> dict:
    def side(s: Side) -> dict:
        best = s.best
        return {"source": s.source, "formats": list(s.run.formats), "status": s.run.status,
                "roles": dict(s.run.roles), "epochs": len(s.run.epochs),
                "best": None if best is None else
                {"metric": best[0], "epoch": best[1], "value": _num(best[2])},
                "findings": [{"rule": f.rule, "severity": f.severity, "epoch": f.epoch,
                              "message": f.message} for f in _sorted_findings(s.run)]}

    return {
        "a": side(cmp.a), "b": side(cmp.b), "roles": cmp.roles, "key_role": cmp.key_role,
        "verdict": cmp.verdict,
        "rows": [{"epoch": r.epoch, "a": {k: _num(v) for k, v in r.a.items()},
                  "b": {k: _num(v) for k, v in r.b.items()},
                  "delta": {k: _num(_delta(r.a.get(k), r.b.get(k))) for k in cmp.roles},
                  "ahead": r.ahead} for r in cmp.rows],
        "config_source": cmp.config_source,
        "config_diff": [{"key": d.key, "a": _val(d.a), "b": _val(d.b), "rank": d.rank,
                         "why": d.why} for d in cmp.config_diffs],
    }


def _best_line(s: Side) -> str:
    best = s.best
    if best is None:
        return "no dev metric"
    return f"best {best[0]} {_fmt(best[2])} at epoch {best[1]}"


def _finding_line(f: Finding) -> str:
    where = f" (epoch {f.epoch})" if f.epoch is not None else ""
    return f"{f.severity.upper()} {f.rule}{where}: {f.message}"


def _human(cmp: Comparison, markdown: bool) -> str:
    out: list[str] = []
    h1, h2, li = ("# ", "## ", "- ") if markdown else ("", "", "  ")
    out.append(f"{h1}bertmon compare")
    out.append("")
    for label, s in (("A", cmp.a), ("B", cmp.b)):
        fmts = ", ".join(s.run.formats) or "?"
        src = f"`{s.source}`" if markdown else s.source
        out.append(f"{li}{label}: {src} ({fmts}; {s.run.status}; {len(s.run.epochs)} epoch{'s' if len(s.run.epochs) != 1 else ''}; "
                   f"{_best_line(s)})")
    out.append(f"{li}{cmp.verdict}")
    out.append("")
    out.append(f"{h2}Epochs" if markdown else "Epochs (delta = B - A)")
    out.append("")
    header = ["epoch"]
    for role in cmp.roles:
        header += [f"A {role}", f"B {role}", "delta"]
    header.append("ahead")
    table = []
    for r in cmp.rows:
        cells = [str(r.epoch)]
        for role in cmp.roles:
            x, y = r.a.get(role), r.b.get(role)
            d = _delta(x, y)
            cells += [_fmt(x), _fmt(y), ("+" if d is not None and d > 0 else "") + _fmt(d)]
        cells.append(r.ahead or "")
        table.append(cells)
    if markdown:
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "---:|" * len(header))
        out.extend("| " + " | ".join(c) + " |" for c in table)
    else:
        widths = [max(len(h), *(len(c[i]) for c in table)) for i, h in enumerate(header)]
        out.append("  " + "  ".join(h.rjust(w) for h, w in zip(header, widths)))
        out.extend("  " + "  ".join(c.rjust(w) for c, w in zip(cells, widths)) for cells in table)
    out.append("")
    out.append(f"{h2}Configuration difference" if markdown else
               f"Configuration difference ({cmp.config_source}; most likely cause first)")
    out.append("")
    if cmp.config_source == "none":
        out.append(f"{li}no config to compare (pass run directories for their config.json)")
    elif not cmp.config_diffs:
        out.append(f"{li}{_same_config(cmp)}")
    for d in cmp.config_diffs:
        key = f"`{d.key}`" if markdown else d.key
        out.append(f"{li}{key}: {_short(d.a)} -> {_short(d.b)}  ({d.why})")
    out.append("")
    out.append(f"{h2}Findings" if markdown else "Findings")
    out.append("")
    for label, s in (("A", cmp.a), ("B", cmp.b)):
        findings = _sorted_findings(s.run)
        out.append(f"{li}{label}: " + ("no problems found" if not findings else
                                       f"{len(findings)} finding(s)"))
        sub = "  - " if markdown else "      "
        out.extend(sub + _finding_line(f) for f in findings)
    return "\n".join(out) + "\n"


def _ended(s: Side) -> str:
    run = s.run
    done = len(run.epochs)
    planned = f" of {run.epochs_planned}" if run.epochs_planned else ""
    return f"{run.status} after {done}{planned} epoch{'s' if done != 1 else ''}"


def _same_config(cmp: Comparison) -> str:
    """Identical settings: the gap is noise only when both runs got as far as each other."""
    a, b = cmp.a.run, cmp.b.run
    if a.status != b.status or len(a.epochs) != len(b.epochs):
        return (f"identical configuration, but the runs ended differently (A {_ended(cmp.a)}, "
                f"B {_ended(cmp.b)}): compare the epochs both reached, not the best scores")
    return "identical configuration: the gap is noise or the data"


def _short(value: object) -> str:
    if isinstance(value, float):
        return _fmt(value)
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."

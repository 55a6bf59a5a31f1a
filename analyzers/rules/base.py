"""What every rule shares: the settings base, the `Rule` base class and small reading helpers.

Rules read a `Run` and return findings; they never raise on odd data. The helpers here drop
non-finite values, name metrics the way the log does ("dev final_score") and decide whether a
metric improves upward or downward, the way Keras callbacks do with `mode="auto"`.

Several rules read the same things of a run (a role's epoch values, a series' finite values,
whether a loss blew up): inside `reading(run)`, which `check_run` opens around the rules, the
helpers marked `per_run` compute each once per run rather than once per rule. What they return
is shared: callers must not mutate it.
"""

from __future__ import annotations

import functools
import inspect
import math
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, Generic, Literal, TypeVar

import numpy as np

from ..model import Finding, Run, Series, Severity
from ..roles import step_name

Mode = Literal["auto", "min", "max"]

# Substrings that make a metric "lower is better" under mode="auto" (Keras guesses the same way).
_LOWER_IS_BETTER = ("loss", "error", "err", "perplexity", "ppl", "mse", "mae", "rmse", "wer", "cer")


def doc(text: str) -> dict[str, str]:
    """Field metadata documenting a threshold; `--list-rules` shows it next to the value:
    `min_gap: float = field(default=0.10, metadata=doc("train - dev accuracy ..."))`."""
    return {"doc": text}


@dataclass(frozen=True)
class RuleSettings:
    """Settings every rule has. Subclasses add documented thresholds."""

    enabled: bool = field(default=True, metadata=doc("run this rule at all"))


S = TypeVar("S", bound=RuleSettings)


class Rule(Generic[S]):
    """A named check over one run. Subclasses set `id`, `name`, `Settings` and `check`."""

    id: ClassVar[str] = ""
    name: ClassVar[str] = ""
    Settings: ClassVar[type[RuleSettings]] = RuleSettings

    def check(self, run: Run, settings: S) -> list[Finding]:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def summary(self) -> str:
        """The docstring's first line: what the rule flags."""
        return (self.__doc__ or "").strip().splitlines()[0] if self.__doc__ else ""

    @property
    def description(self) -> str:
        """The rule module's docstring: the anti-pattern, how it is detected, the remedy."""
        module = sys.modules.get(type(self).__module__)
        return inspect.cleandoc(module.__doc__ or "") if module else ""

    def defaults(self) -> S:
        return self.Settings()  # type: ignore[return-value]

    def settings_table(self) -> list[tuple[str, object, str]]:
        """(name, default, doc) of every setting, in declaration order."""
        return [
            (f.name, getattr(self.defaults(), f.name), str(f.metadata.get("doc", "")))
            for f in fields(self.defaults())
        ]

    def configure(self, override: Mapping[str, Any] | None = None) -> S:
        """Default settings with `override` applied; an unknown name is a usage error."""
        settings = self.defaults()
        if not override:
            return settings
        known = {f.name: f for f in fields(settings)}
        unknown = sorted(set(override) - set(known))
        if unknown:
            raise ValueError(
                f"rule {self.id}: unknown setting(s) {', '.join(unknown)}; "
                f"known: {', '.join(known)}"
            )
        values = {k: _coerce(getattr(settings, k), v) for k, v in override.items()}
        return replace(settings, **values)

    def finding(
        self,
        severity: Severity,
        message: str,
        *,
        epoch: int | None = None,
        evidence: dict[str, object] | None = None,
        remedy: str = "",
        basis: str = "",
    ) -> Finding:
        return Finding(self.id, severity, message, epoch, evidence or {}, remedy, basis)


def _coerce(default: object, value: object) -> object:
    """Give an override the type of the default it replaces (CLI and TOML give strings/ints)."""
    if isinstance(default, bool):
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)
    if isinstance(default, int):
        return int(value)  # type: ignore[call-overload]
    if isinstance(default, float):
        return float(value)  # type: ignore[arg-type]
    return value


# --- the per-run reading memo --------------------------------------------------------------------


class _Reading:
    """What the helpers have read of one run during one `check_run`."""

    __slots__ = ("memo", "run")

    def __init__(self, run: Run) -> None:
        self.run = run
        self.memo: dict[object, object] = {}


_READING: ContextVar[_Reading | None] = ContextVar("bertmon_rules_reading", default=None)


@contextmanager
def reading(run: Run) -> Iterator[None]:
    """While the rules judge `run`, the `per_run` helpers remember what they read of it.

    The memo lives for one check only (per thread: the monitor judges runs in worker threads):
    a live run that grows afterwards is read afresh, and no numpy view of a column outlives the
    check (an `array` that exports its buffer cannot grow)."""
    current = _Reading(run)
    token = _READING.set(current)
    try:
        yield
    finally:
        current.memo.clear()
        _READING.reset(token)


F = TypeVar("F", bound=Callable[..., Any])


def per_run(fn: F) -> F:
    """Remember `fn(run, *args)` within the `reading` of that run; a plain call outside it."""

    @functools.wraps(fn)
    def cached(run: Run, *args: Any, **kwargs: Any) -> Any:
        current = _READING.get()
        if current is None or current.run is not run:
            return fn(run, *args, **kwargs)
        key = (fn, args, tuple(kwargs.items())) if kwargs else (fn, args)
        memo = current.memo
        try:
            return memo[key]
        except KeyError:
            value = memo[key] = fn(run, *args, **kwargs)
            return value

    return cached  # type: ignore[return-value]


def _per_series(kind: str, series: Series, compute: Callable[[Series], Any]) -> Any:
    """`compute(series)`, remembered within the current reading (keyed by the series itself)."""
    current = _READING.get()
    if current is None:
        return compute(series)
    key = (kind, id(series))
    hit = current.memo.get(key)
    if hit is not None and hit[0] is series:  # type: ignore[index]
        return hit[1]  # type: ignore[index]
    value = compute(series)
    current.memo[key] = (series, value)
    return value


# --- reading helpers ---------------------------------------------------------------------------


def is_finite(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def role_name(run: Run, role: str) -> str | None:
    name = run.roles.get(role) if isinstance(run.roles, dict) else None
    return name if isinstance(name, str) and name else None


@per_run
def epoch_columns(run: Run) -> dict[str, list[tuple[int, float]]]:
    """(epoch, value) of every metric the epoch table holds, by name, in one pass over it (what
    `run.epoch_values(name)` gives for each name)."""
    columns: dict[str, list[tuple[int, float]]] = {}
    for row in run.epochs:
        epoch = row.epoch
        for name, value in row.metrics.items():
            column = columns.get(name)
            if column is None:
                columns[name] = column = []
            column.append((epoch, value))
    return columns


@per_run
def role_points(run: Run, role: str) -> list[tuple[int, float]]:
    """(epoch, value) of a role's metric per epoch, finite values only."""
    name = role_name(run, role)
    if name is None:
        return []
    return [(epoch, value) for epoch, value in epoch_columns(run).get(name, ()) if is_finite(value)]


@per_run
def role_series(run: Run, role: str) -> Series | None:
    """The per-observation series of a role's metric, if the log has one (for the train loss,
    the running per-step value when it is printed beside a once-an-epoch summary)."""
    if role_name(run, role) is None:
        return None
    name = step_name(run, role)
    return run.series.get(name) if name is not None else None


def column(series: Series) -> np.ndarray:
    """A series' values as a read-only numpy view of its column (no copy)."""
    data = np.frombuffer(series.values, dtype=np.float64)
    data.flags.writeable = False
    return data


def non_finite_index(series: Series) -> np.ndarray:
    """The indices of a series' NaN/inf observations (most series have none: one sum tells,
    without a mask as long as the series)."""
    return _per_series("non_finite", series, _non_finite_index)


def _non_finite_index(series: Series) -> np.ndarray:
    if len(series) <= _SHORT:  # a few epochs' values: quicker in Python than in numpy calls
        clean = all(map(math.isfinite, series.values))
    else:
        with np.errstate(over="ignore"):  # a finite sum proves every value finite; else look
            clean = math.isfinite(float(np.add.reduce(np.frombuffer(series.values))))
    if clean:
        return _NONE
    return np.flatnonzero(~np.isfinite(np.frombuffer(series.values, dtype=np.float64)))


_SHORT = 256  # a series up to this long is checked value by value, a longer one by its sum
_NONE = np.empty(0, dtype=np.intp)
_NONE.flags.writeable = False


def finite_array(series: Series | None) -> tuple[np.ndarray | range, np.ndarray]:
    """The indices and values of a series' finite observations. When every value is finite
    (the usual case) the values are a read-only view of the column and the indices a `range`:
    a rule over a series of millions of steps copies nothing."""
    if series is None or len(series) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0)
    return _per_series("finite", series, _finite_array)


def _finite_array(series: Series) -> tuple[np.ndarray | range, np.ndarray]:
    data = column(series)
    if not non_finite_index(series).size:
        return range(len(data)), data
    index = np.flatnonzero(np.isfinite(data))
    return index, data[index]


@per_run
def metric_names(run: Run) -> list[str]:
    """`run.metric_names()` (the epoch table's names in order, then the series'), once a check."""
    return list(dict.fromkeys([*epoch_columns(run), *run.series]))


def label(run: Run, role: str) -> str:
    """How messages name a role's metric: its side and the name the log prints, e.g. 'dev acc'."""
    side = "train" if role.startswith("train") else "dev"
    return f"{side} {role_name(run, role) or role.split('_', 1)[1]}"


def infer_mode(name: str | None, mode: Mode = "auto") -> Literal["min", "max"]:
    if mode in ("min", "max"):
        return mode  # type: ignore[return-value]
    lowered = (name or "").lower()
    return "min" if any(part in lowered for part in _LOWER_IS_BETTER) else "max"


@per_run
def first_role(run: Run, roles: tuple[str, ...], min_points: int = 1) -> str | None:
    """The first role in `roles` whose metric has at least `min_points` finite epoch values."""
    for role in roles:
        if len(role_points(run, role)) >= max(1, min_points):
            return role
    return None


@per_run
def aligned(run: Run, role_a: str, role_b: str) -> list[tuple[int, float, float]]:
    """(epoch, a, b) for the epochs where both roles have a finite value."""
    b = dict(role_points(run, role_b))
    return [(epoch, a, b[epoch]) for epoch, a in role_points(run, role_a) if epoch in b]


def as_fractions(rows: list[tuple[int, float, float]]) -> list[tuple[int, float, float]]:
    """Aligned rates with a side printed in percent (all values in (1, 100]) scaled to 0..1."""

    def scale(values: list[float]) -> float:
        return 100.0 if values and max(values) > 1 and max(values) <= 100 else 1.0

    sa = scale([a for _, a, _ in rows])
    sb = scale([b for _, _, b in rows])
    return [(e, a / sa, b / sb) for e, a, b in rows]


def planned_or_seen(run: Run, seen: int) -> int:
    planned = run.epochs_planned
    return planned if isinstance(planned, int) and planned > 0 else seen


def median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def r(x: float, digits: int = 4) -> float:
    """A value rounded for evidence (JSON stays short; non-finite values pass through)."""
    return round(x, digits) if is_finite(x) else x


def fmt(x: float) -> str:
    """A value as messages print it: up to four significant digits."""
    return f"{x:.4g}" if is_finite(x) else str(x)


def hint_number(run: Run, *keys: str) -> float | None:
    """The first of `keys` in run.hints that holds a finite number (strings like '2e-5' count)."""
    hints = run.hints if isinstance(run.hints, dict) else {}
    for key in keys:
        value = hints.get(key)
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                continue
        if is_finite(value):
            return float(value)  # type: ignore[arg-type]
    return None

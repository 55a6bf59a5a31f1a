"""What a log or run directory says about the task itself: how many classes it has.

The class count decides what "chance level" means (a loss of ln K, an accuracy of 1/K), so it is
taken from what was printed (`num_labels=3`, `labels=[...]`, a run directory's `config.json`)
and stored as an int; rules guess it from the first loss only where nothing was printed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from .model import Run

MAX_CLASSES = 100_000
_CONFIG_KEYS = ("num_labels", "num_classes", "n_labels", "n_classes")
_LABEL_MAPS = ("id2label", "label2id", "labels", "label_names", "classes")


def as_class_count(value: object) -> int | None:
    """A printed class count as an int (`3`, `3.0`, `"3"`), or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        return None
    if isinstance(value, (int, float)) and 2 <= value <= MAX_CLASSES:
        return int(value)
    return None


def settle_hints(run: Run) -> None:
    """Store a printed class count as an int, and drop one that is no class count."""
    hints = run.hints if isinstance(run.hints, dict) else {}
    if "num_classes" in hints:
        k = as_class_count(hints["num_classes"])
        if k is None:
            hints.pop("num_classes")
        else:
            hints["num_classes"] = k
            hints.setdefault("num_classes_from", "printed")


def run_dir_hints(path: str | Path) -> dict[str, object]:
    """What a run directory's `config.json` says about the task (`num_labels`, an `id2label`
    map, a label list), as hints; {} when there is no such file or it says nothing."""
    config = Path(path) / "config.json"
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    found: list[dict] = [data] + [v for v in data.values() if isinstance(v, dict)]
    for section in found:
        for key in _CONFIG_KEYS:
            k = as_class_count(section.get(key))
            if k is not None:
                return {"num_classes": k, "num_classes_from": f"config.json {key}"}
        for key in _LABEL_MAPS:
            value = section.get(key)
            if isinstance(value, (dict, list)) and as_class_count(len(value)) is not None:
                return {"num_classes": len(value), "num_classes_from": f"config.json {key}"}
    return {}

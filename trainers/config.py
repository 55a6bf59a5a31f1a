"""One training configuration shared by both trainers: defaults < TOML file < command-line flags.

Every field is a flag named like it (`max_len` -> `--max-len`). The seeds' mistakes (an extra
dense layer, a short `max_len`, a frozen encoder with Adam's default learning rate) are knobs here
on purpose, so a user can reproduce them and watch the analyzers catch them.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

FRAMEWORKS = ("torch", "tf")
HEADS = ("cls", "pooler", "cls-dense")
OPTIMIZERS = ("adamw", "adam")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


class ConfigError(ValueError):
    """A bad configuration value: reported as one line, exit 2."""


@dataclass
class TrainConfig:
    framework: str = "torch"
    data: str | None = None  # None: the bundled demo data
    dev_data: str | None = None  # None: a seeded split of `data`
    dev_ratio: float = 0.2
    text_column: str | None = None  # None: "text" / "sentence" / CoLA's column
    text_pair_column: str | None = None
    label_column: str | None = None  # None: "label"
    model: str | None = None  # None: the PyPI MiniLM, else a tiny random BERT
    max_len: int = 128
    batch_size: int = 16
    lr: float = 2e-5
    epochs: int = 3
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    optimizer: str = "adamw"
    head: str = "cls"
    dropout: float = 0.1
    freeze_encoder: bool = False
    seed: int = 42
    grad_accum: int = 1
    patience: int = 0  # 0: no early stopping
    precision: str = "auto"
    nproc: int = 1  # >1: torchrun with DistributedDataParallel (PyTorch only)
    name: str | None = None
    runs_dir: str = "runs"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def hint_line(self) -> str:
        """The `config: name=value ...` line the log analyzer reads its hints from."""
        keys = ("lr", "max_len", "batch_size", "head", "freeze_encoder", "optimizer", "epochs",
                "warmup_ratio", "weight_decay", "dropout", "grad_accum", "seed", "precision")
        return "config: " + " ".join(f"{k}={getattr(self, k)}" for k in keys)

    def validate(self) -> None:
        choices = {"framework": FRAMEWORKS, "head": HEADS, "optimizer": OPTIMIZERS,
                   "precision": PRECISIONS}
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ConfigError(f"{key} must be one of {', '.join(allowed)}, "
                                  f"not {getattr(self, key)!r}")
        positive = ("max_len", "batch_size", "epochs", "grad_accum", "nproc")
        for key in positive:
            if getattr(self, key) < 1:
                raise ConfigError(f"{key} must be at least 1, not {getattr(self, key)}")
        if self.max_len < 8 or self.max_len > 512:
            raise ConfigError(f"max_len must be between 8 and 512, not {self.max_len}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be positive, not {self.lr}")
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"warmup_ratio must be in [0, 1), not {self.warmup_ratio}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1), not {self.dropout}")
        if not 0 < self.dev_ratio < 1:
            raise ConfigError(f"dev_ratio must be in (0, 1), not {self.dev_ratio}")
        if self.patience < 0 or self.weight_decay < 0:
            raise ConfigError("patience and weight_decay must not be negative")
        if self.name is not None and (self.name in ("", ".", "..") or "/" in self.name
                                      or "\\" in self.name or "\0" in self.name):
            raise ConfigError(f"name must be a plain folder name (no /), not {self.name!r}")
        if self.nproc > 1 and self.framework != "torch":
            raise ConfigError("nproc > 1 is for the PyTorch trainer (TensorFlow uses every GPU)")


def field_types() -> dict[str, type]:
    hints = {"str": str, "str | None": str, "int": int, "float": float, "bool": bool}
    return {f.name: hints[f.type] for f in fields(TrainConfig)}


def _coerce(key: str, value: Any, kind: type) -> Any:
    if value is None:
        return None
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key} must be true or false, not {value!r}")
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is str and isinstance(value, (str,)):
        return value
    if isinstance(value, kind) and not isinstance(value, bool):
        return value
    raise ConfigError(f"{key} must be a {kind.__name__}, not {value!r}")


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file of config fields (top level or a [train] table); unknown keys are errors."""
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    if isinstance(raw.get("train"), dict):
        raw = raw["train"]
    types = field_types()
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = key.replace("-", "_")
        if name not in types:
            raise ConfigError(f"unknown config key {key!r} in {path}")
        out[name] = _coerce(name, value, types[name])
    return out


def build_config(toml_path: str | None = None, **overrides: Any) -> TrainConfig:
    """Defaults, then the TOML file, then every override that is not None."""
    values: dict[str, Any] = {}
    if toml_path:
        values.update(load_toml(toml_path))
    values.update({k: v for k, v in overrides.items() if v is not None})
    cfg = TrainConfig(**values)
    cfg.validate()
    return cfg


def from_dict(data: dict[str, Any]) -> TrainConfig:
    names = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in data.items() if k in names})

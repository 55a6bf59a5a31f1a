"""Pieces several readers share: number pairs, where a line says its values belong."""

from __future__ import annotations

import re

from .. import grammar as g

Pairs = list[tuple[str, float]]
LOSS = re.compile(r"loss", re.I)
# a held-out score's name: `test_acc`, `Test Acc`, `nn Test Loss` (a `\\n` printed literally)
_TEST = re.compile(r"(?:^|[\s_/.-])test(?:$|[\s_/.-])", re.I)


def held_out(names: list[str]) -> bool:
    """Every name a test set's: values printed after training, kept out of the epoch table."""
    return bool(names) and all(_TEST.search(n) or n.lower().startswith("test") for n in names)


def pairs(found: list[tuple[str, str]]) -> Pairs:
    """(name, number text) -> (name, float), dropping what is no number."""
    out = []
    for key, value in found:
        try:
            out.append((key, float(value)))  # float() reads nan, inf, -inf, Infinity itself
        except ValueError:
            try:
                out.append((key, g.to_float(value)))
            except ValueError:
                continue
    return out


def epoch_position(text: str) -> re.Match[str] | None:
    """`epoch N` / `step N` naming where a line's values belong: at the start of the line or
    after a logging prefix, but not after a value (`Best F1: 0.73 at epoch 3` is a summary)."""
    if not ("poch" in text or "tep" in text or "ter" in text or "POCH" in text or "TEP" in text
            or "TER" in text or "ep " in text or "Ep " in text or "EP " in text):
        return None  # none of the words `epoch_prefix` looks for
    f = g.fast()
    m = f.epoch_prefix.search(text)
    if m is None or (m.start() and (f.kv_candidate.search(text, 0, m.start())
                                    or "best" in text[: m.start()].lower())):
        return None  # `best epoch 2 with dev_f1 0.71` looks back; it opens no epoch
    return m

"""Process-wide settings for a `bertmon` command (never set by the library itself).

Parsing a log allocates millions of short-lived, acyclic objects (match groups, tuples, lists of
records). With CPython's default thresholds (700, 10, 10) the cyclic collector runs thousands of
times over a large log, and each full collection walks every object of the process: in the
monitor, Textual's tens of thousands of objects. A reading of a 100 MB log spent ~3 s in the
collector. Objects that exist once the command is set up are moved out of the collector's
sight (`gc.freeze`), and young objects are collected less often.
"""

from __future__ import annotations

import gc

GC_THRESHOLDS = (10_000, 20, 20)


_prepared = False


def prepare() -> None:
    """Call after imports and before the work starts; later calls do nothing."""
    global _prepared
    if _prepared:
        return
    _prepared = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)

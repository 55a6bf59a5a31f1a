"""Fixtures that run the real emitters in tests/emitters/ and hand tests their exact bytes.

`real_log(script, *args, mode="file"|"pty")` runs `tests/emitters/<script>` once per session per
distinct (script, args, mode) and returns a `Capture` whose `data` is the log's bytes and whose
`truth` is what the library recorded in the same process. See tests/emitters/capture.py for how
each mode captures.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run (CI is repeatable; a failure found once is
# found again); HYPOTHESIS_PROFILE=explore draws new ones each run, to look for more.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

_CAPTURE_PATH = Path(__file__).resolve().parent / "emitters" / "capture.py"
_spec = importlib.util.spec_from_file_location("bertmon_test_capture", _CAPTURE_PATH)
assert _spec is not None and _spec.loader is not None
capture_module = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = capture_module  # dataclass/NamedTuple machinery looks modules up
_spec.loader.exec_module(capture_module)

Capture = capture_module.Capture


@pytest.fixture(scope="session")
def real_log(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Capture]:
    """Run an emitter (cached for the session) and return its Capture.

    Usage: ``cap = real_log("keras_fit.py", "--verbose", "1", mode="pty")``.
    """
    cache: dict[tuple[str, tuple[str, ...], str], Capture] = {}

    def run(script: str, *args: str, mode: str = "file") -> Capture:
        key = (script, tuple(args), mode)
        if key not in cache:
            slug = re.sub(r"[^A-Za-z0-9]+", "_", "_".join((script.removesuffix(".py"), *args)))
            workdir = tmp_path_factory.mktemp(f"{slug[:60]}_{mode}")
            cap = capture_module.capture(script, tuple(args), mode, workdir)
            if not cap.truth:
                tail = cap.data[-3000:].decode("utf-8", "replace")
                pytest.fail(f"{script} {' '.join(args)} ({mode}) wrote no truth; exit "
                            f"{cap.returncode}; log tail:\n{tail}")
            cache[key] = cap
        return cache[key]

    return run


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny randomly initialised BERT folder (hidden 32, 2 layers) for fast trainer runs."""
    from bertmon.trainers.models import demo_vocab, make_random_bert

    return make_random_bert(tmp_path_factory.mktemp("tiny") / "bert", demo_vocab(), hidden=32,
                            layers=2, heads=2, intermediate=64, max_positions=64, seed=1)


@pytest.fixture(scope="session")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 240 demo reviews as a CSV."""
    from bertmon.trainers.data import DEMO_DATA

    lines = DEMO_DATA.read_text(encoding="utf-8").splitlines()[:241]
    path = tmp_path_factory.mktemp("data") / "small.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path

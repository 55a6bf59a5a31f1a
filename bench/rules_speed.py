"""Time the diagnosis rules alone: milliseconds per run, overall and per rule.

The log is parsed once (as `bertmon analyze` does, run by run) and its runs kept; then
`check_run` is timed over all of them, best of `--repeat` passes, and each rule's own `check`
likewise (inside the run's `reading`, as `check_run` calls it). CPU time, not wall time: the
machine may be shared. Runs judged right after parsing (as `bertmon analyze` does) find colder
caches and take up to twice as long. The parser's time is not in these figures:
`bench/parse_speed.py` measures the whole command.

    .venv/bin/python bench/rules_speed.py LOG [--repeat 3] [--max-runs 3000]

A log of thousands of small runs: `sample_logs/keras3_verbose1_pty.log` repeated, e.g.

    python -c "d = open('sample_logs/keras3_verbose1_pty.log', 'rb').read()
    open('/tmp/r.log', 'wb').write(d * 3000)"
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("log", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--max-runs", type=int, default=3000, help="runs kept from the log")
    args = ap.parse_args()

    from bertmon.analyzers import LogParser
    from bertmon.analyzers.rules import REGISTRY, check_run
    from bertmon.analyzers.rules import base

    runs: list = []

    def keep(run) -> None:
        if len(runs) < args.max_runs:
            runs.append(run)

    parser = LogParser(source=str(args.log), on_run_end=keep)
    with open(args.log, "rb") as fh:
        while chunk := fh.read(1 << 20):
            parser.feed(chunk)
    analysis = parser.close()
    runs += analysis.runs[: max(0, args.max_runs - len(runs))]
    if not runs:
        print("no runs in the log", file=sys.stderr)
        return 2
    points = sum(len(s) for run in runs for s in run.series.values())
    print(f"{args.log}: {len(runs)} runs, {points} observations")

    def best(fn) -> float:
        times = []
        for _ in range(max(1, args.repeat)):
            t0 = time.process_time()
            fn()
            times.append(time.process_time() - t0)
        return min(times)

    def all_rules() -> None:
        for run in runs:
            check_run(run)

    total = best(all_rules)
    print(f"check_run: {1e3 * total / len(runs):.4f} ms a run ({total:.3f} s)")
    reading = getattr(base, "reading", None) or (lambda run: contextlib.nullcontext())
    settings = {rule_id: rule.defaults() for rule_id, rule in REGISTRY.items()}
    for rule_id, rule in REGISTRY.items():
        def one(rule=rule, s=settings[rule_id]) -> None:
            for run in runs:
                with reading(run):
                    rule.check(run, s)

        t = best(one)
        print(f"  {rule_id:<16} {1e3 * t / len(runs):.4f} ms a run")
    return 0


if __name__ == "__main__":
    sys.exit(main())

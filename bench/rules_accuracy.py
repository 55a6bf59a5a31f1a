"""Precision and recall of the five contract findings on the labelled logs in sample_logs/.

Every log listed in `sample_logs/cases.json` is parsed by `LogParser` (as `bertmon analyze`
does) and run through every rule. A contract finding (`train_dev_gap`, `unstable_dev`,
`stalled_loss`, `diverged`, `crashed`) counts when its severity is warning or error; the
labels are what a careful reader of the same numbers sees. Prints the per-rule table, the
healthy runs that drew any warning, and every disagreement.

    .venv/bin/python bench/rules_accuracy.py [--cases sample_logs/cases.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONTRACT = ("train_dev_gap", "unstable_dev", "stalled_loss", "diverged", "crashed")
RANK = {"info": 0, "warning": 1, "error": 2}


def load_cases(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cases"]


def findings_of(log: Path) -> list:
    """Every finding of every run in the log, as `bertmon analyze` computes them."""
    from bertmon.analyzers import LogParser, analyze

    parser = LogParser(str(log))
    parser.feed(log.read_bytes())
    analysis = parser.close()
    return analyze(analysis)


def warned(findings: list) -> set[str]:
    return {f.rule for f in findings if RANK[f.severity] >= RANK["warning"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=Path, default=ROOT / "sample_logs" / "cases.json")
    args = ap.parse_args(argv)
    labelled = load_cases(args.cases)
    cases = [c for c in labelled if "excluded" not in c]
    found = {c["log"]: warned(findings_of(args.cases.parent / c["log"])) for c in cases}
    sets = sorted({c.get("set", "all") for c in cases})
    for name in (["all"] + sets if len(sets) > 1 else ["all"]):
        chosen = [c for c in cases if name == "all" or c.get("set") == name]
        report(name, chosen, found)
    left_out = [f"  {c['log']}: {c['excluded']}" for c in labelled if "excluded" in c]
    if left_out:
        print(f"left out ({len(left_out)}):")
        print("\n".join(left_out))
    return 0


def report(name: str, cases: list[dict], found: dict[str, set[str]]) -> None:
    """The precision/recall table of one set of labelled logs, then what went wrong in it."""
    counts = {rule: {"tp": 0, "fp": 0, "fn": 0, "positives": 0} for rule in CONTRACT}
    problems: list[str] = []
    healthy_warned: list[str] = []
    for case in cases:
        got = found[case["log"]]
        expected = set(case["expect"])
        for rule in CONTRACT:
            c = counts[rule]
            c["positives"] += rule in expected
            if rule in got and rule in expected:
                c["tp"] += 1
            elif rule in got:
                c["fp"] += 1
                problems.append(f"  false {rule}: {case['log']}")
            elif rule in expected:
                c["fn"] += 1
                problems.append(f"  missed {rule}: {case['log']}")
        if case.get("healthy") and got:
            healthy_warned.append(f"  {case['log']}: {', '.join(sorted(got))}")
    behaviours: dict[str, int] = {}
    for case in cases:
        behaviours[case["behaviour"]] = behaviours.get(case["behaviour"], 0) + 1
    print(f"[{name}] {len(cases)} labelled logs: "
          + ", ".join(f"{n} {b}" for b, n in sorted(behaviours.items())))
    print(f"{'rule':<15} {'logs with it':>12} {'tp':>4} {'fp':>4} {'fn':>4} "
          f"{'precision':>9} {'recall':>7}")
    total = {"tp": 0, "fp": 0, "fn": 0, "positives": 0}
    for rule, c in counts.items():
        for key in total:
            total[key] += c[key]
        print(_row(rule, c))
    print(_row("all five", total))
    print(f"healthy logs with a warning: {len(healthy_warned)} of "
          f"{sum(bool(c.get('healthy')) for c in cases)}")
    for line in healthy_warned + problems:
        print(line)
    print()


def _row(name: str, c: dict[str, int]) -> str:
    found = c["tp"] + c["fp"]
    precision = f"{c['tp'] / found:.3f}" if found else "-"
    recall = f"{c['tp'] / c['positives']:.3f}" if c["positives"] else "-"
    return (f"{name:<15} {c['positives']:>12} {c['tp']:>4} {c['fp']:>4} {c['fn']:>4} "
            f"{precision:>9} {recall:>7}")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Reference figures for the Cedar benchmark fixtures from cedarpy 4.12.2 (Rust cedar-policy 4.12.0).

    .venv/bin/python Benchmarks/cedar_reference.py [--fixtures DIR] [--rounds N] [--json OUT]

For each fixture <case>/{policies.cedar,entities.json,requests.jsonl} the policies and entities
are parsed once into cedarpy handles (PolicySet, Entities), then every request is authorized
`--rounds` times (fewer when a case exceeds `--budget` seconds), one `is_authorized` call each. Printed per case: the engine's own
`authz_duration_micros` (p50, p99; integer microseconds as cedarpy reports them), the
wall-clock time of the whole Python call (p50, p99; includes request building and the
Python/Rust boundary), the wall-clock per request of one `is_authorized_batch` call over the first 100 requests, and the
Allow ratio with the mean number of determining policies (to show what the requests exercise).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def percentile(sorted_values: list, p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def measure(cedarpy, case_dir: str, rounds: int, budget_s: float) -> dict:
    read = lambda name: open(os.path.join(case_dir, name), encoding="utf-8").read()
    t0 = time.perf_counter()
    pset = cedarpy.PolicySet.from_str(read("policies.cedar"))
    t1 = time.perf_counter()
    ents = cedarpy.Entities.from_json_str(read("entities.json"))
    t2 = time.perf_counter()
    reqs = [json.loads(l) for l in read("requests.jsonl").splitlines() if l.strip()]
    engine, wall = [], []
    allows = reasons = 0
    deadline = time.perf_counter() + budget_s
    for _ in range(rounds):
        if time.perf_counter() > deadline:
            break
        for q in reqs:
            s = time.perf_counter()
            res = cedarpy.is_authorized(q, pset, ents)
            wall.append((time.perf_counter() - s) * 1e6)
            if res.decision == cedarpy.Decision.NoDecision:
                raise SystemExit(f"{case_dir}: cedarpy rejected a request: {res.diagnostics.errors}")
            engine.append(res.metrics["authz_duration_micros"])
            allows += res.allowed
            reasons += len(res.diagnostics.reasons)
    batch = reqs[:100]
    s = time.perf_counter()
    cedarpy.is_authorized_batch(batch, pset, ents)
    batch_us = (time.perf_counter() - s) * 1e6 / len(batch)
    engine.sort()
    wall.sort()
    n = len(engine)
    return {
        "requests": len(reqs), "samples": n,
        "authz_us_p50": percentile(engine, 50), "authz_us_p99": percentile(engine, 99),
        "call_us_p50": round(percentile(wall, 50), 1), "call_us_p99": round(percentile(wall, 99), 1),
        "batch_us_per_request": round(batch_us, 1),
        "parse_policies_ms": round((t1 - t0) * 1e3, 1), "load_entities_ms": round((t2 - t1) * 1e3, 1),
        "allow_ratio": round(allows / n, 3), "mean_reasons": round(reasons / n, 2),
    }


def swift_wallclock(markdown_path: str) -> list:
    """(benchmark name, p50, p99, unit) of the wall-clock rows in ordo-one benchmark's
    `--format markdown` output (a `### target:name` heading, then a `| Metric | p0 | ... |` table)."""
    rows, name, cols = [], None, []
    for line in open(markdown_path, encoding="utf-8", errors="replace"):
        line = line.strip()
        if line.startswith("### "):
            name, cols = line[4:].strip(), []
        elif line.startswith("|") and name:
            cells = [c.strip() for c in line.strip("|").split("|")]
            if cells and cells[0] == "Metric":
                cols = cells
            elif cols and "wall clock" in cells[0].lower() and "p50" in cols and "p99" in cols:
                unit = cells[0][cells[0].rfind("(") + 1:cells[0].rfind(")")] if "(" in cells[0] else "?"
                rows.append((name, cells[cols.index("p50")], cells[cols.index("p99")], unit))
    return rows


def in_micros(value: str, unit: str) -> str:
    """A table cell in microseconds (the Swift table may use ns, us/μs, ms or s); unknown units pass through."""
    scale = {"ns": 1e-3, "us": 1, "μs": 1, "ms": 1e3, "s": 1e6}.get(unit)
    try:
        return f"{float(value.replace(',', '')) * scale:.2f}" if scale else f"{value} {unit}"
    except ValueError:
        return value


def names_case(benchmark: str, case: str) -> bool:
    """Whether a benchmark name mentions the fixture as a whole word (`pinned-10` is not `pinned-1000`)."""
    return re.search(r"(?<![\w-])" + re.escape(case) + r"(?![\w-])", benchmark) is not None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fixtures", default=os.path.join(HERE, "fixtures", "cedar"))
    ap.add_argument("--rounds", type=int, default=4, help="times each request is authorized")
    ap.add_argument("--budget", type=float, default=8.0,
                    help="seconds per case after which no further round starts (at least one round runs)")
    ap.add_argument("--swift-output", help="markdown output of the Swift benchmark run, printed side by side")
    ap.add_argument("--json", help="also write the figures to this file")
    a = ap.parse_args()
    try:
        import cedarpy
    except ImportError:
        print("cedarpy is not installed: use the project's .venv (pip install cedarpy==4.12.2)", file=sys.stderr)
        return 1
    cases = sorted(d for d in os.listdir(a.fixtures) if os.path.isfile(os.path.join(a.fixtures, d, "policies.cedar")))
    if not cases:
        print(f"no fixtures under {a.fixtures} (run Benchmarks/fixtures/cedar/generate.py)", file=sys.stderr)
        return 1
    results = {}
    print(f"cedarpy {getattr(cedarpy, '__version__', '4.12.2')} reference, {a.rounds} rounds per request")
    head = (f"{'case':<14} {'reqs':>5} {'authz p50':>9} {'authz p99':>9} {'call p50':>9} {'call p99':>9} "
            f"{'batch/req':>9} {'parse ms':>9} {'ents ms':>8} {'allow':>6} {'reasons':>7}")
    print(head)
    for case in cases:
        m = measure(cedarpy, os.path.join(a.fixtures, case), a.rounds, a.budget)
        results[case] = m
        print(f"{case:<14} {m['requests']:>5} {m['authz_us_p50']:>7}us {m['authz_us_p99']:>7}us "
              f"{m['call_us_p50']:>7}us {m['call_us_p99']:>7}us {m['batch_us_per_request']:>7}us "
              f"{m['parse_policies_ms']:>9} {m['load_entities_ms']:>8} {m['allow_ratio']:>6} {m['mean_reasons']:>7}",
              flush=True)
    if a.swift_output:
        print("\nside by side (Swift: wall clock per benchmark iteration as CedarBenchmarks defines it; "
              "cedarpy: authz_duration_micros per request)")
        print(f"{'case':<14} {'cedarpy p50':>11} {'cedarpy p99':>11}   {'Swift benchmark':<44} {'p50 us':>8} {'p99 us':>8}")
        rows = swift_wallclock(a.swift_output)
        for case in cases:
            m = results[case]
            mine = [r for r in rows if names_case(r[0], case)]
            if not mine:
                mine = [("(no Swift benchmark names this case)", "-", "-", "")]
            for i, (name, p50, p99, unit) in enumerate(mine):
                left = f"{case:<14} {m['authz_us_p50']:>9}us {m['authz_us_p99']:>9}us" if i == 0 else " " * 38
                print(f"{left}   {name[:44]:<44} {in_micros(p50, unit):>8} {in_micros(p99, unit):>8}")
        for name, p50, p99, unit in rows:
            if not any(names_case(name, c) for c in cases):
                print(f"{'(other)':<14} {'':>11} {'':>11}   {name[:44]:<44} {in_micros(p50, unit):>8} {in_micros(p99, unit):>8}")
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

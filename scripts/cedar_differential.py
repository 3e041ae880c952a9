#!/usr/bin/env python3
"""Differential test: Portcullis's Cedar engine against cedarpy 4.12.2 (Rust cedar-policy 4.12.0).

    scripts/cedar_differential.py --portcullis .build/debug/portcullis --cases 10000 --seed 1 \
        [--workdir DIR] [--regressions Tests/CedarDifferential]

Stored regression cases are replayed first (each against both engines, and cedarpy's answer
must still equal the stored expectation). Then seeded random worlds (a policy set, entities
and a batch of requests) are decided by both engines; a case is one request decision. On a
mismatch the request is shrunk to a minimal reproduction, printed, and written to the
regression directory; the exit status is then 1. The last line is always
`cedar differential: N passed, M failed`.

Also: `--corpus Benchmarks/fixtures/cedar` compares every request of the benchmark fixtures;
`--avoid FEATURE,...` leaves generator features out to look past known mismatches;
`--self-check` tests the harness itself (cedar_diff/reference_cli.py, no Portcullis needed).

Needs cedarpy (the project's .venv: `python3 -m venv .venv && .venv/bin/pip install cedarpy==4.12.2`).
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cedar_diff.engines import Cedarpy, Inputs, Outcome, Portcullis, dumps  # noqa: E402
from cedar_diff.gen import AVOIDABLE, Gen, World  # noqa: E402
from cedar_diff.shrink import Case, Shrinker  # noqa: E402
from cedar_diff.syntax import render_policies  # noqa: E402


def split_policies(policies: list, parts: int) -> list:
    """Policy file texts; with parts > 1 the policies are spread over files in order."""
    if parts <= 1:
        return [render_policies(policies)]
    size = -(-len(policies) // parts)
    return [render_policies(policies[i:i + size]) for i in range(0, len(policies), size)]


def world_inputs(w) -> Inputs:
    return Inputs(split_policies(w.policies, w.split_files),
                  dumps(w.entities, w.ascii_json), w.requests, w.ascii_json)


def case_inputs(c: Case) -> Inputs:
    return world_inputs(World(c.policies, c.entities, [c.request], c.split_files, c.ascii_json))


class Runner:
    def __init__(self, ref: Cedarpy, pc: Portcullis):
        self.ref, self.pc = ref, pc

    def both(self, inputs: Inputs, single: bool = False):
        proc = self.pc.start(inputs, single)     # Portcullis runs while cedarpy decides
        ref = self.ref.decide(inputs)
        return ref, self.pc.finish(proc, inputs)

    def mismatch(self, c: Case) -> bool:
        ref, got = self.both(case_inputs(c))
        return ref[0] != got[0]


# ---------- regression cases ----------

def load_regressions(directory: str) -> list:
    cases = []
    for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
        with open(path, encoding="utf-8") as f:
            cases.append((path, json.load(f)))
    return cases


def regression_inputs(d: dict) -> Inputs:
    files = d.get("policy_files") or [d["policies"]]
    ents = d["entities"] if isinstance(d["entities"], str) else dumps(d["entities"], False)
    return Inputs(files, ents, [d["request"]], ascii_json=False)


def symptom(expected: Outcome, got: Outcome) -> str:
    """How the answers differ, e.g. "Allow vs rejected" or "Deny vs Deny (reasons differ)"."""
    name = lambda o: o.decision if o.kind == "decision" else o.kind
    s = f"{name(expected)} vs {name(got)}"
    if expected.kind == got.kind == "decision" and expected.decision == got.decision:
        s += " (" + ("reasons" if expected.reasons != got.reasons else "errors") + " differ)"
    return s


def signature(policies_text: str, symptom_text: str) -> str:
    """Coarse identity of a minimal reproduction, so that one bug found many times is stored once."""
    return json.dumps([policies_text.strip(), symptom_text])


def write_regression(directory: str, c: Case, expected: Outcome, got: Outcome, origin: str, seen: set):
    """Store a minimal case unless one with the same signature exists; returns its path or None."""
    inputs = case_inputs(c)
    body = {
        "description": f"Found by scripts/cedar_differential.py ({origin}); Portcullis said: {got}",
        "policies": inputs.policies_text,
        "entities": c.entities,
        "request": c.request,
        "expected": expected.to_json(),
        "symptom": symptom(expected, got),
    }
    if len(inputs.policy_files) > 1:
        body["policy_files"] = inputs.policy_files
    sig = signature(body["policies"], body["symptom"])
    if sig in seen:
        return None
    seen.add(sig)
    text = json.dumps(body, indent=2, ensure_ascii=False) + "\n"
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"case-{digest}.json")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def show_case(c: Case, expected: Outcome, got: Outcome) -> str:
    inputs = case_inputs(c)
    return ("---- policies ----\n" + inputs.policies_text +
            "---- entities ----\n" + dumps(c.entities, False) +
            "\n---- request ----\n" + dumps(c.request, False) +
            f"\n---- cedarpy:    {expected}\n---- portcullis: {got}\n")


def report_mismatch(run: Runner, args, world, world_seed: int, ref_out: list, got: list, bad: list,
                    seen: set) -> None:
    """Shrink the first mismatching request that also mismatches on its own; a mismatch that
    only shows in the batch (e.g. line framing) is reported with the batch's files kept."""
    n = len(world.requests)
    print(f"\nMISMATCH world seed {world_seed} ({len(bad)} of {n} requests differ), first: request {bad[0]}\n"
          f"  cedarpy    {ref_out[bad[0]]}\n  portcullis {got[bad[0]]}")
    for i in bad[:10]:
        case = Case(list(world.policies), list(world.entities), world.requests[i], world.split_files, world.ascii_json)
        if not run.mismatch(case):
            continue
        shrinker = Shrinker(run.mismatch)
        small = shrinker.shrink(case)
        ref_s, got_s = run.both(case_inputs(small))
        print(f"minimal reproduction of request {i} ({shrinker.checks} shrink steps):\n" + show_case(small, ref_s[0], got_s[0]))
        if args.regressions:
            path = write_regression(args.regressions, small, ref_s[0], got_s[0],
                                    f"seed {args.seed}, world {world_seed}, request {i}", seen)
            print(f"written to {path}" if path else "same signature as a stored case: not written again")
        return
    keep = os.path.join(run.pc.workdir, f"batch-{world_seed}")
    run.both(world_inputs(world))  # rewrite the batch's input files for inspection
    shutil.copytree(run.pc.workdir, keep, ignore=shutil.ignore_patterns("batch-*"), dirs_exist_ok=True)
    print(f"no single request reproduces it: the mismatch needs the batch; its input files are in {keep}")


def compare_corpus(run: Runner, directory: str):
    """Both engines on each fixture case under `directory`; returns (passed, failed) request counts."""
    passed = failed = 0
    for case in sorted(os.listdir(directory)):
        d = os.path.join(directory, case)
        if not os.path.isfile(os.path.join(d, "policies.cedar")):
            continue
        read = lambda name: open(os.path.join(d, name), encoding="utf-8").read()
        requests = [json.loads(l) for l in read("requests.jsonl").split("\n") if l.strip()]
        ref_out, got = run.both(Inputs([read("policies.cedar")], read("entities.json"), requests, ascii_json=False))
        bad = [i for i in range(len(requests)) if ref_out[i] != got[i]]
        passed += len(requests) - len(bad)
        failed += len(bad)
        print(f"corpus {case}: {len(requests) - len(bad)} passed, {len(bad)} failed")
        for i in bad[:3]:
            print(f"  request {i + 1} (line {i + 1} of {d}/requests.jsonl)\n    cedarpy    {ref_out[i]}\n    portcullis {got[i]}")
    return passed, failed


def self_check() -> int:
    """Run the harness against the reference adapter: clean, then with each perturbation."""
    adapter = f"{sys.executable} {os.path.join(os.path.dirname(os.path.abspath(__file__)), 'cedar_diff', 'reference_cli.py')}"
    ok = True
    with tempfile.TemporaryDirectory(prefix="cedar-diff-self-") as tmp:
        for perturb in ("", "like", "overflow", "dirsort"):
            os.environ["CEDAR_DIFF_PERTURB"] = perturb
            regressions = os.path.join(tmp, f"regr-{perturb or 'none'}")
            cases = 400 if not perturb else 4000
            args = ["--portcullis", adapter, "--cases", str(cases), "--seed", "3", "--quiet", "--max-failures", "1",
                    "--workdir", os.path.join(tmp, "work"), "--regressions", regressions]
            status = main(args)
            stored = glob.glob(os.path.join(regressions, "*.json"))
            if not perturb:
                good = status == 0 and not stored
            else:
                policies = json.load(open(stored[0], encoding="utf-8"))["policies"] if stored else ""
                good = status == 1 and len(stored) == 1 and policies.count(";") <= 2
            print(f"self-check {perturb or 'unperturbed'}: {'ok' if good else 'FAILED'}")
            ok = ok and good
    os.environ.pop("CEDAR_DIFF_PERTURB", None)
    print(f"cedar differential self-check: {'passed' if ok else 'FAILED'}")
    return 0 if ok else 1


# ---------- main ----------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--portcullis", help="path to the portcullis executable (or a command, space-separated)")
    ap.add_argument("--self-check", action="store_true",
                    help="test the harness itself against cedar_diff/reference_cli.py (cedarpy behind the CLI contract): "
                         "it must pass as is and catch and shrink each deliberate perturbation")
    ap.add_argument("--cases", type=int, default=10000, help="number of random request decisions")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", help="scratch directory for CLI input files (default: a temporary one)")
    ap.add_argument("--regressions", default=None, help="directory of stored regression cases (replayed first; new ones written here)")
    ap.add_argument("--corpus", action="append", default=[], metavar="DIR",
                    help="also compare every request of each DIR/<case>/{policies.cedar,entities.json,requests.jsonl} "
                         "(e.g. Benchmarks/fixtures/cedar); repeatable")
    ap.add_argument("--requests-per-set", type=int, default=20)
    ap.add_argument("--max-failures", type=int, default=5, help="stop after shrinking this many mismatches")
    ap.add_argument("--error-rate", type=float, default=0.04, help="fraction of deliberately ill-typed subexpressions")
    ap.add_argument("--avoid", default="", metavar="FEATURE,...",
                    help="generator features to leave out, to look past known mismatches: " + ", ".join(sorted(AVOIDABLE)))
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    if args.self_check:
        return self_check()
    if not args.portcullis:
        ap.error("--portcullis is required")
    if shutil.which(args.portcullis.split()[0]) is None:
        print(f"cedar differential: {args.portcullis.split()[0]} is not an executable", file=sys.stderr)
        print("cedar differential: 0 passed, 1 failed")
        return 1
    avoid = {x for x in args.avoid.split(",") if x}
    if avoid - AVOIDABLE:
        ap.error(f"unknown --avoid feature(s): {', '.join(sorted(avoid - AVOIDABLE))}")

    try:
        ref = Cedarpy()
    except ImportError:
        print(f"cedar differential: cedarpy is not installed for {sys.executable} "
              "(use $PORTCULLIS_PYTHON or the project's .venv)", file=sys.stderr)
        print("cedar differential: 0 passed, 1 failed")
        return 1
    workdir = args.workdir or tempfile.mkdtemp(prefix="cedar-diff-")
    pc = Portcullis(args.portcullis.split(), workdir)
    run = Runner(ref, pc)
    passed = failed = 0
    shrunk = 0
    started = time.monotonic()

    seen: set = set()
    if args.regressions:
        for path, d in load_regressions(args.regressions):
            seen.add(signature(d["policies"], d.get("symptom", "")))
            inputs = regression_inputs(d)
            stored = Outcome.from_json(d["expected"])
            name = os.path.basename(path)
            problems = []
            for single in (True, False):  # `--request FILE` and a one-line `--requests FILE`
                ref_out, got = run.both(inputs, single=single)
                flag = "--request" if single else "--requests"
                if ref_out[0] != stored:
                    problems.append(f"cedarpy now says {ref_out[0]}, stored {stored} (oracle changed?)")
                elif got[0] != stored:
                    problems.append(f"{flag}: expected {stored}, portcullis {got[0]}")
            if problems:
                print(f"regression {name}: FAILED\n  " + "\n  ".join(problems))
                failed += 1
            else:
                passed += 1
        if not args.quiet:
            print(f"regressions: {passed} passed, {failed} failed ({time.monotonic() - started:.1f}s)")

    for corpus in args.corpus:
        p, f = compare_corpus(run, corpus)
        passed += p
        failed += f

    per = max(1, args.requests_per_set)
    worlds = -(-args.cases // per)
    for w in range(worlds):
        n = min(per, args.cases - w * per)
        world_seed = args.seed * 1_000_003 + w
        world = Gen(world_seed, error_rate=args.error_rate, avoid=avoid).world(n)
        ref_out, got = run.both(world_inputs(world))
        bad = [i for i in range(n) if ref_out[i] != got[i]]
        passed += n - len(bad)
        failed += len(bad)
        if bad and shrunk < args.max_failures:
            shrunk += 1
            report_mismatch(run, args, world, world_seed, ref_out, got, bad, seen)
        if shrunk >= args.max_failures:
            print(f"stopping after {shrunk} shrunk mismatches")
            break
        if not args.quiet and (w + 1) % 50 == 0:
            print(f"... {passed + failed} cases, {failed} failed ({time.monotonic() - started:.0f}s)", flush=True)

    if args.workdir is None and not failed:
        shutil.rmtree(workdir, ignore_errors=True)
    elif failed:
        print(f"input files of the last run are in {workdir}")
    print(f"elapsed {time.monotonic() - started:.1f}s")
    print(f"cedar differential: {passed} passed, {failed} failed")
    return 1 if failed else 0


def project_python() -> str | None:
    """The interpreter that has cedarpy: $PORTCULLIS_PYTHON, else the repository's .venv."""
    for candidate in (os.environ.get("PORTCULLIS_PYTHON"),
                      os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".venv", "bin", "python")):
        if candidate and os.access(candidate, os.X_OK) and os.path.abspath(candidate) != os.path.abspath(sys.executable):
            return candidate
    return None


if __name__ == "__main__":
    if importlib.util.find_spec("cedarpy") is None:
        other = project_python()
        if other:  # run under the interpreter that has cedarpy
            os.execv(other, [other, os.path.abspath(__file__)] + sys.argv[1:])
    sys.exit(main())

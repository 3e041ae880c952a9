#!/usr/bin/env python3
"""`portcullis policy authorize` contract implemented on cedarpy: the harness's self-check.

Run the differential test against this adapter to see the harness pass when both sides
agree, and set CEDAR_DIFF_PERTURB to make it lie in a known way so that you can watch a
mismatch being caught and shrunk:
  like      - flip Allow to Deny when a determining policy uses `like`
  overflow  - drop errors of policies that use `*`
  dirsort   - number policies of a directory in reverse file order
It is not a second engine: every decision comes from cedarpy.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import cedarpy


def read_policies(path: str) -> str:
    if os.path.isdir(path):
        names = sorted(n for n in os.listdir(path) if n.endswith(".cedar"))
        if os.environ.get("CEDAR_DIFF_PERTURB") == "dirsort":
            names.reverse()
        return "\n".join(open(os.path.join(path, n), encoding="utf-8").read() for n in names)
    return open(path, encoding="utf-8").read()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("group")
    ap.add_argument("command")
    ap.add_argument("--policies", required=True)
    ap.add_argument("--entities", required=True)
    ap.add_argument("--request")
    ap.add_argument("--requests")
    a = ap.parse_args()
    perturb = os.environ.get("CEDAR_DIFF_PERTURB", "")
    text = read_policies(a.policies)
    try:
        pset = cedarpy.PolicySet.from_str(text)
        ents = cedarpy.Entities.from_json_str(open(a.entities, encoding="utf-8").read())
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    est = json.loads(cedarpy.policies_to_json_str(text))["staticPolicies"]
    ids = {k: (v.get("annotations") or {}).get("id") or k for k, v in est.items()}
    if a.request:
        lines = [open(a.request, encoding="utf-8").read()]
    else:
        lines = [l for l in open(a.requests, encoding="utf-8").read().split("\n") if l.strip()]
    reqs = [json.loads(l) for l in lines]
    for res in cedarpy.is_authorized_batch(reqs, pset, ents):
        if res.decision == cedarpy.Decision.NoDecision:
            print(json.dumps({"error": "; ".join(res.diagnostics.errors)}))
            continue
        reasons = list(res.diagnostics.reasons)
        errors = []
        for msg in res.diagnostics.errors:
            pid = msg.split("`")[1]
            if perturb == "overflow" and '"*"' in json.dumps(est[pid]):
                continue
            errors.append({"policy": ids[pid], "message": msg})
        decision = "Allow" if res.allowed else "Deny"
        if perturb == "like" and decision == "Allow" and any('"like"' in json.dumps(est[p]) for p in reasons):
            decision, reasons = "Deny", []
        print(json.dumps({"decision": decision, "reasons": [ids[p] for p in reasons], "errors": errors}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

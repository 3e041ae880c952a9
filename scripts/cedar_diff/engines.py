"""The two engines behind one interface: `decide(Inputs) -> list[Outcome]`.

`Cedarpy` is the oracle (cedarpy 4.12.2 = Rust cedar-policy 4.12.0). `Portcullis` drives
`portcullis policy authorize` through its CLI contract. Outcomes are normalised so that
only what the contract promises is compared: decision, the set of determining policy ids
and the set of erroring policy ids (never message text), or "rejected" for inputs the
engine refuses (cedarpy NoDecision; Portcullis exit status 2 or an {"error"} line).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass, field

ERROR_POLICY = re.compile(r"error while evaluating policy `([^`]*)`")
RAW_VALUE = re.compile(r'"\\u0000raw-json:([^"\\]*)"')


def dumps(value, ascii_json: bool = True) -> str:
    """JSON text; strings made by gen.raw_json become verbatim JSON (`-0`, `1e2`, ...)."""
    return RAW_VALUE.sub(lambda m: m.group(1), json.dumps(value, ensure_ascii=ascii_json))


@dataclass(frozen=True)
class Outcome:
    kind: str                      # "decision" | "rejected" | "broken"
    decision: str = ""
    reasons: frozenset = frozenset()
    errors: frozenset = frozenset()
    detail: str = field(default="", compare=False)

    def to_json(self) -> dict:
        if self.kind == "rejected":
            return {"rejected": True}
        if self.kind == "broken":
            return {"broken": self.detail}
        return {"decision": self.decision, "reasons": sorted(self.reasons), "errors": sorted(self.errors)}

    @staticmethod
    def from_json(d: dict) -> "Outcome":
        if d.get("rejected"):
            return Outcome("rejected")
        return Outcome("decision", d["decision"], frozenset(d["reasons"]), frozenset(d["errors"]))

    def __str__(self) -> str:
        if self.kind != "decision":
            return f"{self.kind}" + (f" ({self.detail})" if self.detail else "")
        return f"{self.decision} reasons={sorted(self.reasons)} errors={sorted(self.errors)}"


@dataclass
class Inputs:
    """What both engines decide: policy file texts (a directory when more than one), entities JSON
    text and requests (dicts in the CLI's request syntax)."""
    policy_files: list
    entities_text: str
    requests: list
    ascii_json: bool = True

    @property
    def policies_text(self) -> str:
        return "\n".join(self.policy_files)


# Byte order puts "10" before "9" and "B" before "_" before "a": a natural or case-folding sort would differ.
DIR_NAMES = ["10.cedar", "9.cedar", "B.cedar", "_c.cedar", "a.cedar", "a0.cedar"]


def _rejected_all(inputs: Inputs, why: str) -> list:
    return [Outcome("rejected", detail=why) for _ in inputs.requests]


class Cedarpy:
    """The reference engine, with pre-parsed handles and one batch call per policy set."""

    def __init__(self):
        import cedarpy  # imported here so `--help` works without the venv
        self.cedarpy = cedarpy

    def policy_ids(self, text: str) -> dict:
        """Positional id -> id the Portcullis contract uses (@id annotation where present)."""
        est = json.loads(self.cedarpy.policies_to_json_str(text))
        out = {}
        for pid, pol in est.get("staticPolicies", {}).items():
            ann = pol.get("annotations") or {}
            # `@id` without a value is `@id("")` (cedar.md §1.2 Annotations)
            out[pid] = (ann["id"] or "") if "id" in ann else pid
        return out

    def decide(self, inputs: Inputs) -> list:
        cp = self.cedarpy
        text = inputs.policies_text
        try:
            pset = cp.PolicySet.from_str(text)
        except ValueError as e:
            return _rejected_all(inputs, f"policies: {e}")
        ids = self.policy_ids(text)
        try:
            ents = cp.Entities.from_json_str(inputs.entities_text)
        except ValueError as e:
            return _rejected_all(inputs, f"entities: {e}")
        # the context goes over as JSON text, so both engines parse the very same bytes
        reqs = [dict(r, context=dumps(r["context"], inputs.ascii_json)) if "context" in r else r
                for r in inputs.requests]
        out = []
        for res in cp.is_authorized_batch(reqs, pset, ents):
            if res.decision == cp.Decision.NoDecision:
                out.append(Outcome("rejected", detail="; ".join(res.diagnostics.errors)))
                continue
            errs = set()
            for msg in res.diagnostics.errors:
                m = ERROR_POLICY.search(msg)
                errs.add(ids.get(m.group(1), m.group(1)) if m else "?" + msg)
            out.append(Outcome("decision", "Allow" if res.allowed else "Deny",
                               frozenset(ids.get(x, x) for x in res.diagnostics.reasons), frozenset(errs)))
        return out


class Portcullis:
    """`portcullis policy authorize` as a subprocess. Files go into `workdir`."""

    def __init__(self, argv: list, workdir: str, timeout: float = 120.0):
        self.argv = argv
        self.workdir = workdir
        self.timeout = timeout

    def write_inputs(self, inputs: Inputs, single: bool) -> list:
        os.makedirs(self.workdir, exist_ok=True)
        if len(inputs.policy_files) == 1:
            pol = os.path.join(self.workdir, "policies.cedar")
            _write(pol, inputs.policy_files[0])
        else:
            pol = os.path.join(self.workdir, "policies.d")
            os.makedirs(pol, exist_ok=True)
            for f in os.listdir(pol):
                os.unlink(os.path.join(pol, f))
            names = sorted(DIR_NAMES)[:len(inputs.policy_files)] if len(inputs.policy_files) <= len(DIR_NAMES) \
                else [f"{i:04d}.cedar" for i in range(len(inputs.policy_files))]
            for name, t in zip(names, inputs.policy_files):
                _write(os.path.join(pol, name), t)
            _write(os.path.join(pol, "README.txt"), "not a policy file: must be ignored (")
        ent = os.path.join(self.workdir, "entities.json")
        _write(ent, inputs.entities_text)
        dump = lambda r: dumps(r, inputs.ascii_json)
        if single:
            req = os.path.join(self.workdir, "request.json")
            _write(req, dump(inputs.requests[0]))
            return ["--policies", pol, "--entities", ent, "--request", req]
        req = os.path.join(self.workdir, "requests.jsonl")
        _write(req, "".join(dump(r) + "\n" for r in inputs.requests))
        return ["--policies", pol, "--entities", ent, "--requests", req]

    def start(self, inputs: Inputs, single: bool = False) -> subprocess.Popen:
        args = self.argv + ["policy", "authorize"] + self.write_inputs(inputs, single)
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def finish(self, proc: subprocess.Popen, inputs: Inputs) -> list:
        try:
            out, err = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return [Outcome("broken", detail="timeout") for _ in inputs.requests]
        return parse_cli_output(proc.returncode, out.decode("utf-8", "replace"),
                                err.decode("utf-8", "replace"), len(inputs.requests))

    def decide(self, inputs: Inputs, single: bool = False) -> list:
        return self.finish(self.start(inputs, single), inputs)


def parse_cli_output(rc: int, out: str, err: str, n: int) -> list:
    """Map the CLI's exit status and stdout onto outcomes (contract in the brief of issue 3)."""
    tail = err.strip().splitlines()[-1][:300] if err.strip() else ""
    if rc == 2:
        if out.strip():
            return [Outcome("broken", detail=f"exit 2 with stdout: {out[:200]!r}") for _ in range(n)]
        return [Outcome("rejected", detail=tail) for _ in range(n)]
    if rc != 0:
        return [Outcome("broken", detail=f"exit {rc}: {tail}") for _ in range(n)]
    # Only "\n" ends a line: JSON may carry raw U+2028/U+0085, which str.splitlines would split on.
    lines = out.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != n:
        return [Outcome("broken", detail=f"{len(lines)} output lines for {n} requests") for _ in range(n)]
    res = []
    for line in lines:
        try:
            d = json.loads(line)
            if "error" in d:
                res.append(Outcome("rejected", detail=str(d["error"])[:300]))
                continue
            if d["decision"] not in ("Allow", "Deny"):
                raise ValueError(f"decision {d['decision']!r}")
            errs = frozenset(e["policy"] for e in d["errors"])
            res.append(Outcome("decision", d["decision"], frozenset(d["reasons"]), errs))
        except (ValueError, KeyError, TypeError) as e:
            res.append(Outcome("broken", detail=f"bad output line {line[:200]!r}: {e}"))
    return res


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)

#!/usr/bin/env python3
"""Differential test: Portcullis's Cedar validator against cedarpy 4.12.2's validate_policies.

    scripts/cedar_validate_differential.py --validator .build/debug/portcullis \
        --cases 2000 --seed 1 [--regressions Tests/CedarTests/Fixtures/ValidationRegressions]

Each case is a seeded random schema (written in Cedar schema syntax or, every third case, in
the JSON format) and a set of 1-3 random policies or templates. The expression generator
aims at well-typed conditions and then, with some probability per node, picks a wrong type,
an optional attribute without a `has` guard, an undeclared attribute, type, action or enum
id, an empty or mixed set, a non-literal or malformed extension constructor argument, a
scope no action applies to, and so on.

Both sides answer per case: accepted or rejected, and which policy ids have errors. Stored
regression cases are replayed first. On a mismatch the case is printed and, with
--regressions, written there as JSON ({"schema", "format", "policies", "passed",
"failing"}: cedarpy's answer). The last line is `cedar validate differential: N agree, M disagree`.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import random
import subprocess
import sys

try:
    import cedarpy
except ImportError:  # pragma: no cover
    sys.exit("needs cedarpy 4.12.2 (use the project's .venv python)")

# Attribute names encode their type, so `x.age` is a Long wherever it exists.
ATTRS = {
    "age": "Long", "level": "Long", "name": "String", "dept": "String", "active": "Bool",
    "roles": "Set<String>", "nums": "Set<Long>", "ip": "ipaddr", "amount": "decimal",
    "created": "datetime", "ttl": "duration", "info": "Info", "owner": "ENT", "friends": "SETENT",
}
CONTEXT_ATTRS = {"mfa": "Bool", "src": "ipaddr", "hour": "Long", "reason": "String", "when": "datetime",
                 "scopes": "Set<String>", "limits": "Info"}
STRINGS = ["a", "b", "alice", "x*y", ""]
IPS_OK = ["10.0.0.1", "192.168.0.0/16", "::1"]
IPS_BAD = ["10.0.0.256", "nope", "1.2.3"]
DECS_OK = ["1.5", "-0.25", "10.0"]
DECS_BAD = ["1.23456", "abc", "1."]
DTS_OK = ["2024-01-01", "2024-01-01T10:00:00Z", "2024-06-30T23:59:59.999+0130"]
DTS_BAD = ["2024-13-01", "yesterday"]
DURS_OK = ["1h", "2d3h", "-5m", "100ms"]
DURS_BAD = ["1y", "h1"]


class Schema:
    """A random schema plus what the expression generator needs to know about it."""

    def __init__(self, rng: random.Random, namespace: str | None):
        self.rng = rng
        self.ns = namespace
        n = rng.randint(2, 4)
        self.types = ["User", "Group", "Doc", "Folder"][:n] + ["Color"]
        self.enum = {"Color": ["red", "green"]}
        self.parents = {t: [] for t in self.types}
        self.attrs: dict[str, dict[str, tuple[str, bool]]] = {}
        self.tags: dict[str, str | None] = {}
        self.owner_type = rng.choice(self.types[:-1])
        # A core of attributes every type declares (optionality varies), so that accesses
        # usually exist and the interesting rules get exercised, plus a few extras per type.
        core = rng.sample(sorted(ATTRS), rng.randint(4, 8))
        for t in self.types[:-1]:
            if rng.random() < 0.5:
                self.parents[t] = rng.sample(self.types[:-1], rng.randint(1, 2))
            names = core + rng.sample(sorted(ATTRS), rng.randint(0, 2))
            self.attrs[t] = {a: (ATTRS[a], rng.random() < 0.7) for a in names}
            self.tags[t] = rng.choice([None, None, "String", "Long"])
        self.attrs["Color"] = {}
        self.tags["Color"] = None
        self.actions = {}
        acts = ["read", "write", "delete", "admin"][: rng.randint(2, 4)]
        ctx_core = rng.sample(sorted(CONTEXT_ATTRS), rng.randint(2, 5))
        for a in acts:
            principals = rng.sample(self.types[:-1], rng.randint(1, 2))
            resources = rng.sample(self.types, rng.randint(1, 2))
            names = ctx_core if rng.random() < 0.7 else rng.sample(sorted(CONTEXT_ATTRS), rng.randint(0, 3))
            ctx = {c: (CONTEXT_ATTRS[c], rng.random() < 0.7) for c in names}
            self.actions[a] = {"principals": principals, "resources": resources, "context": ctx, "parents": []}
        if len(acts) > 2 and rng.random() < 0.6:
            self.actions[acts[0]]["parents"] = [acts[-1]]
        self.actions["group"] = {"principals": [], "resources": [], "context": {}, "parents": [], "no_applies": True}
        for a in acts[1:]:
            if rng.random() < 0.4:
                self.actions[a]["parents"].append("group")

    def q(self, name: str) -> str:
        return f"{self.ns}::{name}" if self.ns else name

    def attr_type_text(self, ty: str) -> str:
        if ty == "ENT":
            return self.owner_type
        if ty == "SETENT":
            return f"Set<{self.owner_type}>"
        return ty

    def cedar(self) -> str:
        lines = ["type Info = { x: Long, y?: String };"]
        for t in self.types:
            if t in self.enum:
                lines.append(f'entity {t} enum [{", ".join(json.dumps(c) for c in self.enum[t])}];')
                continue
            parents = f" in [{', '.join(self.parents[t])}]" if self.parents[t] else ""
            attrs = ", ".join(f"{a}{'' if req else '?'}: {self.attr_type_text(ty)}" for a, (ty, req) in self.attrs[t].items())
            tags = f" tags {self.tags[t]}" if self.tags[t] else ""
            lines.append(f"entity {t}{parents} {{ {attrs} }}{tags};")
        for a, d in self.actions.items():
            parents = f" in [{', '.join(json.dumps(p) for p in d['parents'])}]" if d["parents"] else ""
            if d.get("no_applies"):
                lines.append(f"action {a}{parents};")
                continue
            ctx = ", ".join(f"{c}{'' if req else '?'}: {ty}" for c, (ty, req) in d["context"].items())
            lines.append(f"action {a}{parents} appliesTo {{ principal: [{', '.join(d['principals'])}], "
                         f"resource: [{', '.join(d['resources'])}], context: {{ {ctx} }} }};")
        body = "\n".join(lines)
        return f"namespace {self.ns} {{\n{body}\n}}\n" if self.ns else body + "\n"

    def json_type(self, ty: str, required: bool | None = None) -> dict:
        if ty in ("Long", "String"):
            out = {"type": ty}
        elif ty == "Bool":
            out = {"type": "Boolean"}
        elif ty.startswith("Set<"):
            out = {"type": "Set", "element": self.json_type(ty[4:-1])}
        elif ty in ("ipaddr", "decimal", "datetime", "duration"):
            out = {"type": "Extension", "name": ty}
        elif ty == "Info":
            out = {"type": "Info"}
        elif ty == "ENT":
            out = {"type": "Entity", "name": self.owner_type}
        elif ty == "SETENT":
            out = {"type": "Set", "element": {"type": "Entity", "name": self.owner_type}}
        else:
            out = {"type": "Entity", "name": ty}
        if required is False:
            out["required"] = False
        return out

    def json(self) -> dict:
        ets = {}
        for t in self.types:
            if t in self.enum:
                ets[t] = {"enum": self.enum[t]}
                continue
            e = {"memberOfTypes": self.parents[t],
                 "shape": {"type": "Record", "attributes": {a: self.json_type(ty, req) for a, (ty, req) in self.attrs[t].items()}}}
            if self.tags[t]:
                e["tags"] = self.json_type(self.tags[t])
            ets[t] = e
        acts = {}
        for a, d in self.actions.items():
            x = {}
            if d["parents"]:
                x["memberOf"] = [{"id": p} for p in d["parents"]]
            if not d.get("no_applies"):
                x["appliesTo"] = {"principalTypes": d["principals"], "resourceTypes": d["resources"],
                                  "context": {"type": "Record", "attributes": {c: self.json_type(ty, req) for c, (ty, req) in d["context"].items()}}}
            acts[a] = x
        common = {"Info": {"type": "Record", "attributes": {"x": {"type": "Long"}, "y": {"type": "String", "required": False}}}}
        return {self.ns or "": {"entityTypes": ets, "actions": acts, "commonTypes": common}}


class ExprGen:
    def __init__(self, rng: random.Random, schema: Schema, bad: float):
        self.rng = rng
        self.s = schema
        self.bad = bad

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def uid(self, ty: str | None = None) -> str:
        r = self.rng
        if ty is None:
            ty = r.choice(self.s.types)
            if self.chance(self.bad * 0.2):
                ty = "Unknown"
        if ty == "Color":
            return f'{self.s.q("Color")}::{json.dumps(r.choice(["red", "green", "blue"] if self.chance(0.3) else ["red", "green"]))}'
        return f'{self.s.q(ty)}::{json.dumps(r.choice(["alice", "bob", "g1"]))}'

    def action_uid(self) -> str:
        names = list(self.s.actions)
        if self.chance(self.bad * 0.2):
            names = ["nope"]
        return f'{self.s.q("Action")}::{json.dumps(self.rng.choice(names))}'

    def entity(self, d: int) -> str:
        r = self.rng
        opts = ["principal", "resource", "principal", "resource", "principal", "resource", self.uid(), "action"]
        if d > 0 and self.chance(0.25):
            return f"{self.entity(d - 1)}.owner"
        return r.choice(opts)

    def attr_access(self, want: str | None, d: int) -> str:
        """`e.attr` for an attribute of type `want` (or any), guarded by `has` now and then."""
        r = self.rng
        names = [a for a, t in ATTRS.items() if want is None or t == want]
        if not names:
            names = list(ATTRS)
        if self.chance(0.35):
            cnames = [c for c, t in CONTEXT_ATTRS.items() if want is None or t == want] or list(CONTEXT_ATTRS)
            base, a = "context", r.choice(cnames)
        else:
            base, a = self.entity(d), r.choice(names)
        access = f"{base}.{a}" if self.chance(0.8) else f'{base}["{a}"]'
        if self.chance(0.4) and want == "Bool":
            return f"({base} has {a} && {access})"
        return access

    def value(self, ty: str, d: int) -> str:
        r = self.rng
        if self.chance(self.bad * 0.5):
            ty = r.choice(["Long", "String", "Bool", "Set<String>", "ipaddr", "ENT", "Info"])
        if ty == "Bool":
            return self.boolean(d)
        if d <= 0 or self.chance(0.3):
            return self.leaf(ty, d)
        if ty == "Long":
            k = r.randint(0, 5)
            if k == 0:
                return f"({self.value('Long', d - 1)} {r.choice(['+', '-', '*'])} {self.value('Long', d - 1)})"
            if k == 1:
                return f"-{self.value('Long', d - 1)}"
            if k == 2:
                return f"(if {self.boolean(d - 1)} then {self.value('Long', d - 1)} else {self.value('Long', d - 1)})"
            if k == 3:
                return f"{self.value('duration', d - 1)}.{r.choice(['toSeconds', 'toHours', 'toMilliseconds'])}()"
            return self.leaf(ty, d)
        if ty == "String":
            if self.chance(0.3):
                return f"{self.entity(d)}.getTag({json.dumps(r.choice(STRINGS))})"
            return self.leaf(ty, d)
        if ty.startswith("Set<") and self.chance(0.5):
            el = ty[4:-1]
            n = r.randint(0, 3) if self.chance(self.bad) else r.randint(1, 3)
            return "[" + ", ".join(self.value(el, d - 1) for _ in range(n)) + "]"
        if ty == "Info" and self.chance(0.5):
            fields = [f"x: {self.value('Long', d - 1)}"]
            if self.chance(0.5):
                fields.append(f"y: {self.value('String', d - 1)}")
            return "{" + ", ".join(fields) + "}"
        if ty == "datetime" and self.chance(0.4):
            return f"{self.value('datetime', d - 1)}.offset({self.value('duration', d - 1)})"
        return self.leaf(ty, d)

    def literal_arg(self, ok: list[str], badlist: list[str], d: int) -> str:
        if self.chance(self.bad * 0.3):
            return json.dumps(self.rng.choice(badlist))
        if self.chance(self.bad * 0.2):
            return self.value("String", d - 1)
        return json.dumps(self.rng.choice(ok))

    def leaf(self, ty: str, d: int) -> str:
        r = self.rng
        if ty == "Long":
            return r.choice([str(r.randint(-5, 100)), self.attr_access("Long", d)])
        if ty == "String":
            return r.choice([json.dumps(r.choice(STRINGS)), self.attr_access("String", d)])
        if ty == "Set<String>":
            return r.choice(['["a", "b"]', self.attr_access("Set<String>", d)])
        if ty == "Set<Long>":
            return r.choice(["[1, 2]", self.attr_access("Set<Long>", d)])
        if ty == "ipaddr":
            return r.choice([f"ip({self.literal_arg(IPS_OK, IPS_BAD, d)})", self.attr_access("ipaddr", d)])
        if ty == "decimal":
            return r.choice([f"decimal({self.literal_arg(DECS_OK, DECS_BAD, d)})", self.attr_access("decimal", d)])
        if ty == "datetime":
            return r.choice([f"datetime({self.literal_arg(DTS_OK, DTS_BAD, d)})", self.attr_access("datetime", d)])
        if ty == "duration":
            return r.choice([f"duration({self.literal_arg(DURS_OK, DURS_BAD, d)})", self.attr_access("duration", d)])
        if ty == "Info":
            return self.attr_access("Info", d)
        if ty in ("ENT", "SETENT"):
            return self.entity(d) if ty == "ENT" else f"[{self.entity(d)}, {self.entity(d)}]"
        return self.attr_access(ty, d)

    def boolean(self, d: int) -> str:
        r = self.rng
        if d <= 0:
            return r.choice(["true", "false", self.attr_access("Bool", 0), f"{self.entity(0)} has {r.choice(list(ATTRS))}"])
        k = r.randint(0, 21)
        sub = lambda: self.boolean(d - 1)  # noqa: E731
        if k == 0:
            return f"({sub()} && {sub()})"
        if k == 1:
            return f"({sub()} || {sub()})"
        if k == 2:
            return f"!{sub()}"
        if k == 3:
            return f"(if {sub()} then {sub()} else {sub()})"
        if k == 4:
            ty = r.choice(["Long", "String", "ENT", "Set<String>", "Bool", "Info", "ipaddr"])
            other = ty if not self.chance(self.bad) else r.choice(["Long", "String", "ENT"])
            return f"({self.value(ty, d - 1)} {r.choice(['==', '!='])} {self.value(other, d - 1)})"
        if k == 5:
            ty = r.choice(["Long", "Long", "datetime", "duration"])
            return f"({self.value(ty, d - 1)} {r.choice(['<', '<=', '>', '>='])} {self.value(ty, d - 1)})"
        if k == 6:
            e = self.entity(d - 1)
            a = r.choice(list(ATTRS))
            t = ATTRS[a]
            if t == "Long":
                return f"({e} has {a} && {e}.{a} > {r.randint(0, 9)})"
            if t == "String":
                return f"({e} has {a} && {e}.{a} like \"a*\")"
            if t == "Bool":
                return f"({e} has {a} && {e}.{a})"
            if t == "Info":
                return f"({e} has {a}.y && {e}.{a}.y == \"q\")" if self.chance(0.5) else f"({e} has {a} && {e}.{a} has y && {e}.{a}.y == \"q\")"
            return f"{e} has {a}"
        if k == 7:
            return f"({self.value('String', d - 1)} like \"{r.choice(['a*', '*', 'x'])}\")"
        if k == 8:
            ty = r.choice(["Set<String>", "Set<Long>"])
            el = ty[4:-1]
            return f"{self.value(ty, d - 1)}.contains({self.value(el, d - 1)})"
        if k == 9:
            ty = r.choice(["Set<String>", "Set<Long>"])
            return f"{self.value(ty, d - 1)}.{r.choice(['containsAll', 'containsAny'])}({self.value(ty, d - 1)})"
        if k == 10:
            return f"{self.value(r.choice(['Set<String>', 'Set<Long>']), d - 1)}.isEmpty()"
        if k == 11:
            rhs = self.entity(d - 1) if self.chance(0.6) else f"[{self.entity(d - 1)}, {self.uid()}]"
            return f"({self.entity(d - 1)} in {rhs})"
        if k == 12:
            t = r.choice(self.s.types + (["Action"] if self.chance(0.3) else []))
            return f"({self.entity(d - 1)} is {self.s.q(t)})"
        if k == 13:
            m = r.choice(["isIpv4", "isIpv6", "isLoopback", "isMulticast"])
            if self.chance(0.3):
                return f"{self.value('ipaddr', d - 1)}.isInRange({self.value('ipaddr', d - 1)})"
            return f"{self.value('ipaddr', d - 1)}.{m}()"
        if k == 14:
            return f"{self.value('decimal', d - 1)}.{r.choice(['lessThan', 'greaterThanOrEqual'])}({self.value('decimal', d - 1)})"
        if k == 15:
            tag = json.dumps(r.choice(STRINGS))
            e = self.entity(d - 1)
            if self.chance(0.6):
                return f"({e}.hasTag({tag}) && {e}.getTag({tag}) == {self.value(r.choice(['String', 'Long']), d - 1)})"
            return f"{e}.hasTag({tag})"
        if k == 16:
            return f"(action {r.choice(['==', 'in'])} {self.action_uid()})"
        if k == 17:
            return f"(action in [{self.action_uid()}, {self.action_uid()}])"
        if k == 18:
            return self.attr_access("Bool", d)
        if k == 19:
            e = self.entity(d - 1)
            return f"({e} is {self.s.q(r.choice(self.s.types))} in {self.entity(d - 1)})"
        if k == 20:
            return f"(context has {r.choice(list(CONTEXT_ATTRS))} && {self.attr_access('Bool', d - 1)})"
        return r.choice(["true", "false"])

    def scope_var(self, var: str, slot: bool, fitting: list[str]) -> str:
        """A scope constraint, usually one that `fitting` (types the chosen action allows) meets."""
        r = self.rng
        ty = r.choice(fitting) if fitting and not self.chance(self.bad) else r.choice(self.s.types)
        parents = [t for t in self.s.types if ty in self.s.parents.get(t, [])] + [ty]
        k = r.randint(0, 6)
        if slot and k < 2:
            return f"{var} {r.choice(['==', 'in'])} ?{var}" if k == 0 else f"{var} is {self.s.q(ty)} in ?{var}"
        if k == 0:
            return f"{var} == {self.uid(ty)}"
        if k == 1:
            return f"{var} in {self.uid(r.choice(parents))}"
        if k == 2:
            return f"{var} is {self.s.q('Unknown' if self.chance(self.bad * 0.2) else ty)}"
        if k == 3:
            return f"{var} is {self.s.q(ty)} in {self.uid(r.choice(parents))}"
        return var

    def policy(self) -> str:
        r = self.rng
        template = self.chance(0.15)
        applicable = [a for a, d in self.s.actions.items() if not d.get("no_applies")]
        chosen = r.choice(applicable)
        spec = self.s.actions[chosen]
        p = self.scope_var("principal", template, spec["principals"])
        k = r.randint(0, 4)
        a = "action"
        if k == 1:
            a = f"action == {self.s.q('Action')}::{json.dumps(chosen)}" if not self.chance(self.bad) else f"action == {self.action_uid()}"
        elif k == 2:
            a = f"action in [{self.s.q('Action')}::{json.dumps(chosen)}, {self.action_uid()}]"
        elif k == 3:
            a = f"action in {self.action_uid()}" if self.chance(self.bad * 2) else f"action in {self.s.q('Action')}::{json.dumps(chosen)}"
        res = self.scope_var("resource", template, spec["resources"])
        conds = []
        for _ in range(r.choice([0, 1, 1, 1, 2])):
            conds.append(f"{r.choice(['when', 'when', 'unless'])} {{ {self.boolean(r.randint(1, 3))} }}")
        return f"{r.choice(['permit', 'forbid'])}({p}, {a}, {res})" + "".join(" " + c for c in conds) + ";"


def make_case(seed: int) -> dict:
    rng = random.Random(seed)
    ns = rng.choice([None, None, "App"])
    schema = Schema(rng, ns)
    gen = ExprGen(rng, schema, bad=rng.choice([0.0, 0.05, 0.1, 0.2]))
    policies = "\n".join(gen.policy() for _ in range(rng.randint(1, 3)))
    fmt = "json" if seed % 3 == 2 else "cedar"
    text = json.dumps(schema.json(), indent=1) if fmt == "json" else schema.cedar()
    return {"seed": seed, "schema": text, "format": fmt, "policies": policies}


def cedarpy_answer(case: dict) -> dict:
    schema = json.loads(case["schema"]) if case["format"] == "json" else case["schema"]
    r = cedarpy.validate_policies(case["policies"], schema)
    return {"passed": bool(r.validation_passed), "failing": sorted({e.policy_id for e in r.errors}),
            "messages": [f"[{e.policy_id}] {e.error}" for e in r.errors]}


def ours(validator: str, cases: list[dict]) -> list[dict]:
    lines = "".join(json.dumps({k: c[k] for k in ("schema", "format", "policies")}) + "\n" for c in cases)
    out = subprocess.run([validator, "policy", "validate-cases"], input=lines, capture_output=True, text=True, check=True).stdout
    answers = []
    for line in out.splitlines():
        r = json.loads(line)
        answers.append({"passed": r["passed"], "failing": sorted({e["policy"] for e in r["errors"]}),
                        "messages": [f"[{e['policy']}] {e['line']}:{e['column']} {e['message']}" for e in r["errors"]]})
    return answers


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--validator", default=".build/debug/portcullis", help="the portcullis binary")
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--regressions", help="directory of stored cases to replay and to add mismatches to")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()

    stored = []
    if args.regressions:
        for path in sorted(glob.glob(os.path.join(args.regressions, "*.json"))):
            with open(path) as f:
                c = json.load(f)
            c["path"] = path
            stored.append(c)
    generated = [make_case(args.seed * 1_000_003 + k) for k in range(args.cases)]
    cases = stored + generated
    mine = ours(args.validator, cases)
    agree = disagree = passed = 0
    for case, m in zip(cases, mine):
        ref = cedarpy_answer(case)
        if "path" in case and (ref["passed"] != case["passed"] or ref["failing"] != case["failing"]):
            print(f"stored case {case['path']} no longer matches cedarpy: {ref}")
        if ref["passed"] == m["passed"] and ref["failing"] == m["failing"]:
            agree += 1
            passed += ref["passed"]
            continue
        disagree += 1
        if not args.quiet:
            print("=" * 70)
            print(f"seed {case.get('seed')} format {case['format']}")
            print(case["schema"] if case["format"] == "cedar" else "(json schema)")
            print(case["policies"])
            print("cedarpy:", json.dumps(ref["messages"], indent=1))
            print("ours:   ", json.dumps(m["messages"], indent=1))
        if args.regressions and "path" not in case:
            os.makedirs(args.regressions, exist_ok=True)
            path = os.path.join(args.regressions, f"seed-{case['seed']}.json")
            with open(path, "w") as f:
                json.dump({"schema": case["schema"], "format": case["format"], "policies": case["policies"],
                           "passed": ref["passed"], "failing": ref["failing"]}, f, indent=1)
                f.write("\n")
    print(f"cedar validate differential: {agree} agree, {disagree} disagree "
          f"({len(stored)} stored, {len(generated)} generated; {passed} accepted by both)")
    return 0 if disagree == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

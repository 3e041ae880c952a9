"""Greedy shrinking of one mismatching request to a minimal reproduction.

A candidate is kept when the two engines still disagree on it (any disagreement: the
point is a small input the engine author can debug, not the same symptom). Passes:
drop policies, conditions, scope constraints and annotations; drop entities, their
attributes, parents and tags; drop context keys; then replace subexpressions by one of
their children or by a literal, and drop set/record elements. Repeats until no pass
makes progress or the budget runs out.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

from .syntax import Expr, Scope, TRUE, FALSE, ZERO, lit, subexpr_paths, replace_at, without_kid

EMPTY_STRING = lit('""')


@dataclass
class Case:
    policies: list          # [Policy]
    entities: list          # raw JSON values
    request: dict
    split_files: int = 1
    ascii_json: bool = True


class Shrinker:
    def __init__(self, still_fails, max_checks: int = 800, max_seconds: float = 120.0):
        self.still_fails = still_fails
        self.max_checks = max_checks
        self.deadline = time.monotonic() + max_seconds
        self.checks = 0

    def _try(self, cand: Case) -> bool:
        if self.checks >= self.max_checks or time.monotonic() > self.deadline:
            return False
        self.checks += 1
        return self.still_fails(cand)

    def shrink(self, case: Case) -> Case:
        progress = True
        while progress and self.checks < self.max_checks and time.monotonic() < self.deadline:
            progress = False
            for step in (self._structure, self._entities, self._context, self._expressions):
                new = step(case)
                if new is not None:
                    case, progress = new, True
        return case

    # Each pass returns an improved case or None.
    def _structure(self, c: Case):
        improved = None
        if c.split_files > 1:
            cand = replace(c, split_files=1)
            if self._try(cand):
                c = improved = cand
        i = 0
        while len(c.policies) > 1 and i < len(c.policies):
            cand = replace(c, policies=c.policies[:i] + c.policies[i + 1:])
            if self._try(cand):
                c = improved = cand
            else:
                i += 1
        for i, p in enumerate(c.policies):
            variants = [replace(p, conditions=p.conditions[:j] + p.conditions[j + 1:]) for j in range(len(p.conditions))]
            variants += [replace(p, **{v: Scope()}) for v in ("principal", "action", "resource")
                         if getattr(p, v) != Scope()]
            if p.annotations:
                variants.append(replace(p, annotations=()))
            if p.spaced:
                variants.append(replace(p, spaced=False))
            for v in variants:
                cand = replace(c, policies=c.policies[:i] + [v] + c.policies[i + 1:])
                if self._try(cand):
                    return cand
        return improved

    def _entities(self, c: Case):
        improved = None
        i = 0
        while i < len(c.entities):
            cand = replace(c, entities=c.entities[:i] + c.entities[i + 1:])
            if self._try(cand):
                c = improved = cand
            else:
                i += 1
        for i, e in enumerate(c.entities):
            if not isinstance(e, dict):
                continue
            variants = []
            for key in ("attrs", "tags"):
                for name in list((e.get(key) or {}).keys()):
                    variants.append(dict(e, **{key: {k: v for k, v in e[key].items() if k != name}}))
            if e.get("parents"):
                variants += [dict(e, parents=e["parents"][:j] + e["parents"][j + 1:]) for j in range(len(e["parents"]))]
            if "tags" in e:
                variants.append({k: v for k, v in e.items() if k != "tags"})
            for v in variants:
                # identical duplicates (legal in cedarpy) must stay identical while shrinking
                cand = replace(c, entities=[v if x == e else x for x in c.entities])
                if self._try(cand):
                    c = improved = cand
                    break
        return improved

    def _context(self, c: Case):
        improved = None
        ctx = c.request.get("context") or {}
        for name in list(ctx.keys()):
            cur = c.request["context"]
            cand = replace(c, request=dict(c.request, context={k: v for k, v in cur.items() if k != name}))
            if self._try(cand):
                c = improved = cand
        return improved

    def _expressions(self, c: Case):
        for i, p in enumerate(c.policies):
            for j, (kind, body) in enumerate(p.conditions):
                for path, node in list(subexpr_paths(body)):
                    for simpler in _simpler(node):
                        new_body = replace_at(body, path, simpler)
                        conds = p.conditions[:j] + ((kind, new_body),) + p.conditions[j + 1:]
                        cand = replace(c, policies=c.policies[:i] + [replace(p, conditions=conds)] + c.policies[i + 1:])
                        if self._try(cand):
                            return cand
        return None


def _size(e: Expr) -> int:
    return 1 + sum(_size(k) for k in e.kids)


def _simpler(node: Expr):
    """Strictly smaller replacements for node, smallest first."""
    out = []
    if node.kind in ("set", "rec"):
        out += [without_kid(node, i) for i in range(len(node.kids))]
    out += sorted(node.kids, key=_size)
    if _size(node) > 1 or node.kind == "raw":
        out += [TRUE, FALSE, ZERO, EMPTY_STRING]
    return [x for x in out if x != node]

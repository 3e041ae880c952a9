"""Seeded random worlds: a policy set, an entity store and a batch of requests.

Expressions are generated type-directed so that most policies evaluate to a boolean
and decisions are interesting; a controlled fraction is deliberately ill-typed,
overflowing, or refers to missing entities/attributes. A smaller fraction of worlds
carries input errors that both engines must reject (cedar.md §4.2 "which inputs count
as invalid"). Literal pools mirror the traps listed in cedar.md §2.4-§2.8 and
cedar-probe-vectors.md.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass

from .syntax import (Expr, Policy, Scope, Uid, cedar_pattern, cedar_string, is_ident, lit, TRUE, FALSE)

I64_MAX = 2**63 - 1
I64_MIN = -2**63

E_ACUTE = "\u00e9"          # precomposed é
E_DECOMP = "e\u0301"        # e + combining acute: distinct in Cedar (no normalisation)

STRINGS = ["", "a", "alice", "hello", "ham and eggs", "a*b", "**", "A", "x y", "caf" + E_ACUTE,
           "caf" + E_DECOMP, E_ACUTE, E_DECOMP, "\U0001F600", "tab\there", 'quo"te', "back\\slash",
           "new\nline", "\0", "h" + E_ACUTE + "llo", "Ω", "eng", "LOW", "@example.com",
           "bob@example.com", "line\u2028sep", "nel\u0085x", "cr\r\nlf"]
LONG_TEXTS = ["- 9223372036854775808", "--9223372036854775808", "- - 1", "-  -1", "-(-9223372036854775808)",
              "-0", "007", "- 0", "-9223372036854775808"]  # literal folding (cedar.md §1.2 Unary)
LONGS = [0, 1, 2, 3, 5, 7, 10, 42, -1, -5, 100, I64_MAX, I64_MIN, I64_MAX - 1, I64_MIN + 1,
         2**62, -(2**62), 3037000499, 3037000500, 4294967296]
IPS_OK = ["10.0.0.1", "10.0.0.0/8", "10.0.0.0/24", "10.0.0.1/24", "127.0.0.1", "127.0.0.2", "127.0.0.1/4",
          "127.0.0.0/8", "192.168.1.7", "224.0.0.1", "0.0.0.0/0", "::1", "::1/128", "0:0:0:0:0:0:0:1",
          "ff02::1", "2001:db8::/32", "2001:db8::1", "::", "fe80::1/64", "255.255.255.255", "FE80::1",
          "::/0", "1.2.3.4/0", "1:2:3:4:5:6:7:8", "::1:2:3:4:5:6:7", "ff00::/8", "224.0.0.0/4", "10.0.0.1/32",
          "0.0.0.0", "127.255.255.255/8", "::2", "2001:db8::/128"]
IPS_BAD = ["01.2.3.4", "1.2.3.4/33", "10.0.0.0/08", "::ffff:127.0.0.1", "1:2:3:4:5:6:7::8", "1::2::3",
           " 1.2.3.4", "1.2.3", "abc", "", "1.2.3.4/", "::1/129", "256.0.0.1", "fe80::1%eth0", "[::1]",
           "1.2.3.04", "1:2:3:4:5:6:7:8:9", "::1/0128", "1.2.3.4/+8", "::ffff:1.2.3.4", "1.2.3.4 ", "0x1.2.3.4"]
DECIMALS_OK = ["0.0", "1.0", "1.5", "1.50", "-0.0", "-0.5", "2.0001", "922337203685477.5807",
               "-922337203685477.5808", "33.57", "0.0001", "10.25"]
DECIMALS_BAD = ["2", "+1.0", "1.23456", "922337203685477.5808", ".5", "1.", "1.0.0", "\u0661.0", "", "abc",
                "-922337203685477.5809", "1.0 ", "--1.0", "1e2.0"]
DECIMALS_OK += ["0000.0000", "-00.1", "922337203685477.0"]
DATETIMES_OK = ["2024-10-15", "2024-10-16", "2024-10-15T11:35:00Z", "2024-10-15T12:35:00+0100",
                "1970-01-01", "1969-12-31T23:00:00Z", "2024-01-01T00:00:00.123Z", "0000-01-01",
                "9999-12-31", "2024-02-29", "2024-10-15T11:35:00.999-0930", "1960-06-15T08:00:00Z"]
DATETIMES_BAD = ["2024-02-30", "2023-02-29", "2024-10-15T11:35:00", "2024-01-01T24:00:00Z",
                 "2024-01-01T00:00:00+2400", "2024-01-01T00:00:00.12Z", "24-01-01", "2024-1-01", "",
                 "2024-01-01T00:00:60Z", "2024-01-01 00:00:00Z", "2024-01-01T00:00:00+24", "2024-13-01",
                 "2024-01-01T00:00:00.000+0060", "2024-01-01t00:00:00Z", "+2024-01-01", "2024-01-01T00:00:00.1234Z"]
DATETIMES_OK += ["2000-02-29", "1900-03-01", "0001-01-01T00:00:00.001+2359", "9999-12-31T23:59:59.999Z",
                 "1969-12-31T23:59:59.999-0001", "0000-01-01T00:00:00+0001"]
DURATIONS_OK = ["1d", "24h", "1h", "60m", "90m", "-90m", "-1d12h", "0ms", "-0ms", "1d2h3m4s5ms",
                "1500ms", "30s", "9223372036854775807ms", "-9223372036854775808ms", "106751991167d"]
DURATIONS_BAD = ["", "-", "1h1h", "1m1h", "1.5h", "1 h", "h", "1D", "9223372036854775808ms",
                 "106751991168d", "+1h", "1d1d", "--1h", "1ms1s", "1h-1m", "1s5", "\u0661h"]
DURATIONS_BAD += ["2562047788015215h", "153722867280912930m"]
DURATIONS_OK += ["0d", "-0d0h", "0d0h0m0s0ms", "-9223372036854775807ms"]

ENTITY_ATTRS = {  # attribute -> type; entities carry a random subset
    "level": "long", "name": "str", "flag": "bool", "tags": "set_str", "nums": "set_long",
    "owner": "ent", "addr": "rec_addr", "ip": "ip", "score": "dec", "since": "dt", "ttl": "dur",
    "full name": "str", E_ACUTE: "long", E_DECOMP: "long", "members": "set_ent",
}
CONTEXT_ATTRS = {
    "n": "long", "s": "str", "ok": "bool", "set": "set_long", "strs": "set_str", "rec": "rec_ctx",
    "ip": "ip", "amt": "dec", "now": "dt", "dur": "dur", "who": "ent", "ents": "set_ent",
    "big": "long", E_ACUTE: "long", E_DECOMP: "long", "if": "long", "principal": "long", "then": "bool",
    "permit": "str", "_x1": "str", "__cedar": "long",
}
RECORD_FIELDS = {
    "rec_addr": {"city": "str", "zip": "long", "geo": "rec_geo"},
    "rec_geo": {"lat": "long", "north": "bool"},
    "rec_ctx": {"k": "long", "s": "str", "inner": "rec_geo", "owner info": "str"},
}
TAGS = {"dept": "str", "cost": "long", "tier": "str"}
SCALARS = ["bool", "long", "str", "ent", "ip", "dec", "dt", "dur"]
ALL_TYPES = SCALARS + ["set_str", "set_long", "set_ent", "rec_addr", "rec_ctx"]

PRINCIPAL_TYPES = ["User", "Admin::User"]
RESOURCE_TYPES = ["Doc", "Folder"]
GROUP_TYPES = ["Group"]
ACTION_IDS = ["view", "edit", "delete", "share", "read", "write", "all"]


RAW_PREFIX = "\0raw-json:"
AVOIDABLE = {
    "raw-line-separators",    # JSON text with raw U+2028/U+0085 (ensure_ascii=False)
    "identical-duplicates",   # an entity listed twice, identically
    "json-minus-zero",        # the JSON number spellings -0, 1.0, 1e2, 10E0
    "escaped-wildcards",      # `like` patterns spelling the wildcard as \u{2a} or \x2A
}


def raw_json(text: str) -> str:
    """A JSON value written verbatim (e.g. `-0`, `1e2`) by engines.dumps."""
    return RAW_PREFIX + text


@dataclass
class World:
    """One policy set with its entities and requests. Entity list items are raw JSON values."""
    policies: list
    entities: list
    requests: list
    split_files: int = 1            # >1: policies are written into this many files in a directory
    ascii_json: bool = True         # json.dumps(ensure_ascii=...)


class Gen:
    def __init__(self, seed: int, error_rate: float = 0.04, avoid: frozenset = frozenset()):
        self.r = random.Random(seed)
        self.avoid = avoid
        self.error_rate = error_rate
        self.uids: list[Uid] = []
        self.ghosts: list[Uid] = []

    # ---------- small helpers ----------
    def p(self, prob: float) -> bool:
        return self.r.random() < prob

    def pick(self, seq):
        return seq[self.r.randrange(len(seq))]

    # ---------- entity universe ----------
    def make_universe(self):
        r = self.r
        ids = ["alice", "bob", "carol", "dave", E_ACUTE, E_DECOMP, "a b", 'q"t', "new\nline", "",
               "\U0001F600", "x"]
        users = [Uid(self.pick(PRINCIPAL_TYPES) if self.p(0.15) else "User", i)
                 for i in r.sample(ids, r.randint(2, 6))]
        groups = [Uid("Group", g) for g in r.sample(["staff", "eng", "all", "admins", "g" + E_ACUTE], r.randint(1, 4))]
        docs = [Uid(self.pick(RESOURCE_TYPES), d) for d in r.sample(["d1", "d2", "d3", "readme", E_DECOMP, "p1"], r.randint(1, 5))]
        folders = [Uid("Folder", f) for f in r.sample(["root", "shared", "home"], r.randint(1, 3))]
        actions = [Uid("Action", a) for a in ACTION_IDS]
        self.users, self.groups, self.docs, self.folders, self.actions = users, groups, docs, folders, actions
        self.uids = users + groups + docs + folders + actions
        self.ghosts = [Uid("User", "ghost"), Uid("Group", "nobody"), Uid("Doc", "missing"),
                       Uid("Admin::User", "alice"), Uid("Action", "nope"), Uid("Admin::Action", "view"),
                       Uid("permit", "x"), Uid("principal", "p")]

    def any_uid(self) -> Uid:
        if self.p(0.1):
            return self.pick(self.ghosts)
        return self.pick(self.uids)

    def entities(self) -> list:
        r = self.r
        out = []
        # ranks: users < groups < groups (by index) ; docs < folders < folders ; actions: leaves < "all"
        present = [u for u in self.uids if not self.p(0.08)]
        for u in present:
            parents = []
            if u in self.users:
                parents = r.sample(self.groups, r.randint(0, len(self.groups)))
            elif u in self.groups:
                later = self.groups[self.groups.index(u) + 1:]
                parents = r.sample(later, r.randint(0, len(later)))
            elif u in self.docs:
                parents = r.sample(self.folders, r.randint(0, min(2, len(self.folders))))
            elif u in self.folders:
                later = self.folders[self.folders.index(u) + 1:]
                parents = r.sample(later, r.randint(0, len(later)))
            elif u.type == "Action" and u.id != "all":
                parents = [Uid("Action", "all")] if self.p(0.6) else []
                if u.id in ("view", "edit") and self.p(0.5):
                    parents.append(Uid("Action", "read" if u.id == "view" else "write"))
            if self.p(0.05 if u.type != "Action" else 0.002):
                # a parent absent from the store; for actions this is a load error (non-action parent)
                parents.append(self.pick(self.ghosts[:3]))
            attrs = {}
            if u.type != "Action" or self.p(0.2):
                for name, t in ENTITY_ATTRS.items():
                    if self.p(0.7):
                        attrs[name] = self.json_value(t if not self.p(0.04) else self.pick(ALL_TYPES))
            ent = {"uid": self.uid_json(u), "attrs": attrs, "parents": [self.uid_json(x) for x in parents]}
            if self.p(0.4):
                ent["tags"] = {k: self.json_value(t) for k, t in TAGS.items() if self.p(0.6)}
            out.append(ent)
        if out and self.p(0.01) and "identical-duplicates" not in self.avoid:
            out.append(out[0])  # an identical duplicate: cedarpy accepts it, a differing one is an error
        r.shuffle(out)
        return out

    def uid_json(self, u: Uid):
        return {"__entity": u.json()} if self.p(0.15) else u.json()

    def json_value(self, t: str, depth: int = 0):
        """A valid JSON value in Cedar's entity/context syntax for type t."""
        r = self.r
        if t == "bool":
            return r.random() < 0.5
        if t == "long":
            return self.pick(LONGS)
        if t == "str":
            return self.pick(STRINGS)
        if t == "ent":
            if self.p(0.05):
                return self.any_uid().json()    # no escape: this is a record, not an entity (cedar.md §3.1)
            return {"__entity": self.any_uid().json()}
        if t in ("ip", "dec", "dt", "dur"):
            fn, pool = {"ip": ("ip", IPS_OK), "dec": ("decimal", DECIMALS_OK), "dt": ("datetime", DATETIMES_OK),
                        "dur": ("duration", DURATIONS_OK)}[t]
            if self.p(0.03):
                return {"__extn": {"fn": fn, "args": [self.pick(pool)]}}
            return {"__extn": {"fn": fn, "arg": self.pick(pool)}}
        if t.startswith("set_"):
            et = t[4:]
            items = [self.json_value(et) for _ in range(r.randint(0, 4))]
            if items and self.p(0.2):
                items.append(items[0])  # duplicates are legal in JSON sets
            if depth == 0 and self.p(0.05):
                items.append(self.json_value("set_long", depth + 1))
            return items
        if t.startswith("rec_"):
            if depth > 3:
                return {}
            return {k: self.json_value(ft, depth + 1) for k, ft in RECORD_FIELDS[t].items() if self.p(0.75)}
        raise ValueError(t)

    # ---------- requests ----------
    def request(self) -> dict:
        principal = self.pick(self.users) if self.p(0.85) else self.any_uid()
        action = self.pick(self.actions) if self.p(0.92) else self.any_uid()
        resource = self.pick(self.docs + self.folders) if self.p(0.85) else self.any_uid()
        as_str = self.p(0.5)
        ctx = {}
        for name, t in CONTEXT_ATTRS.items():
            if self.p(0.8):
                ctx[name] = self.json_value(t if not self.p(0.03) else self.pick(ALL_TYPES))
        req = {"principal": principal.request_form(as_str), "action": action.request_form(as_str),
               "resource": resource.request_form(as_str), "context": ctx}
        if self.p(0.01):
            req = self.broken_request(req)
        return req

    def broken_request(self, req: dict) -> dict:
        kind = self.r.randrange(6)
        if kind == 0:
            req["principal"] = 'User::"alice'
        elif kind == 1:
            req["resource"] = 'Doc :: "d1"'
        elif kind == 2:
            req["context"]["bad"] = self.pick([1.5] + self.raw_numbers(["1.0", "-0", "10E0"]))
        elif kind == 3:
            req["context"]["bad"] = None
        elif kind == 4:
            req["context"]["bad"] = {"__extn": {"fn": "ip", "arg": self.pick(IPS_BAD)}}
        else:
            req["context"]["bad"] = I64_MAX + 1
        return req

    # ---------- expressions ----------
    def expr(self, t: str, d: int) -> Expr:
        """An expression of type t (mostly); d bounds the depth."""
        if self.p(self.error_rate):
            t = self.pick(ALL_TYPES)  # deliberately (possibly) ill-typed
        if d <= 0 or self.p(0.25):
            return self.leaf(t)
        f = getattr(self, "x_" + (t if not t.startswith(("set_", "rec_")) else t[:3]))
        e = f(t, d - 1)
        if self.p(0.03):
            e = Expr("paren", (e,))
        return e

    def leaf(self, t: str) -> Expr:
        if self.p(0.45):
            path = self.attr_path(t, 2)
            if path is not None:
                return path
        return self.literal(t)

    def literal(self, t: str) -> Expr:
        r = self.r
        if t == "bool":
            return TRUE if self.p(0.5) else FALSE
        if t == "long":
            return lit(self.pick(LONG_TEXTS) if self.p(0.05) else str(self.pick(LONGS)))
        if t == "str":
            return lit(self.string_literal(self.pick(STRINGS)))
        if t == "ent":
            if self.p(0.3):
                return Expr("var", (), (self.pick(["principal", "resource", "action"]),))
            return lit(self.any_uid().cedar(spaced=self.p(0.05)))
        if t in ("ip", "dec", "dt", "dur"):
            fn, ok, bad = {"ip": ("ip", IPS_OK, IPS_BAD), "dec": ("decimal", DECIMALS_OK, DECIMALS_BAD),
                           "dt": ("datetime", DATETIMES_OK, DATETIMES_BAD),
                           "dur": ("duration", DURATIONS_OK, DURATIONS_BAD)}[t]
            s = self.pick(bad) if self.p(0.08) else self.pick(ok)
            arg = lit(cedar_string(s))
            if self.p(0.04):
                arg = self.expr("str", 1)  # non-literal or non-string argument
            return Expr("call", (arg,), (fn,))
        if t.startswith("set_"):
            et = t[4:]
            n = r.randint(0, 3)
            kids = [self.literal(et) for _ in range(n)]
            if kids and self.p(0.2):
                kids.append(kids[0])
            if self.p(0.1):
                kids.append(self.literal(self.pick(SCALARS)))  # mixed set
            if self.p(0.08):
                inner = tuple(self.literal(et) for _ in range(r.randint(0, 2)))
                kids.append(Expr("set", inner, (False,)))  # nested
            if self.p(0.03):
                kids.append(self.literal("rec_ctx"))
            return Expr("set", tuple(kids), (self.p(0.1),))
        if t.startswith("rec_"):
            keys, vals = [], []
            fields = list(RECORD_FIELDS[t].items())
            r.shuffle(fields)
            for k, ft in fields:
                if self.p(0.7):
                    keys.append(k)
                    vals.append(self.literal(ft) if ft in SCALARS else Expr("rec", (), ()))
            return Expr("rec", tuple(vals), tuple(keys))
        raise ValueError(t)

    def string_literal(self, s: str) -> str:
        """Cedar string literal with varied but equivalent escapes (\\x41, \\u{41}, \\', raw newline)."""
        if self.p(0.6):
            return cedar_string(s, ascii_escapes=self.p(0.3))
        out = []
        for ch in s:
            if ch.isascii() and ch.isalpha() and self.p(0.3):
                out.append(self.pick(["\\x%02X" % ord(ch), "\\u{%x}" % ord(ch), "\\u{%06X}" % ord(ch)]))
            elif ch == "'" and self.p(0.5):
                out.append("\\'")
            elif ch == "\n" and self.p(0.5):
                out.append("\n")  # a raw newline inside a string literal is legal
            elif not ch.isascii() and self.p(0.5):
                out.append("\\u{%X}" % ord(ch))
            else:
                out.append(cedar_string(ch)[1:-1])
        return '"' + "".join(out) + '"'

    def attr_path(self, t: str, d: int = 1):
        """principal.x / resource.owner.x / context.x / context.rec.k with type t, or None."""
        cands = []
        for name, at in ENTITY_ATTRS.items():
            if at == t:
                cands.append(("ent", name))
        for name, at in CONTEXT_ATTRS.items():
            if at == t:
                cands.append(("ctx", name))
        for rt, fields in RECORD_FIELDS.items():
            for name, ft in fields.items():
                if ft == t:
                    cands.append((rt, name))
        if not cands:
            return None
        where, name = self.pick(cands)
        if where == "ent":
            base = self.entity_expr(d - 1)
        elif where == "ctx":
            base = Expr("var", (), ("context",))
        else:
            base = self.attr_path(where)
            if base is None:
                return None
        return Expr("attr", (base,), (name, self.p(0.15)))

    def entity_expr(self, d: int) -> Expr:
        c = self.r.random()
        if c < 0.6:
            return Expr("var", (), (self.pick(["principal", "resource", "principal", "action"]),))
        if c < 0.8 and d > 0:
            owner = self.attr_path("ent", d - 1)
            if owner is not None:
                return owner
        return lit(self.any_uid().cedar())

    # ---------- producers per type ----------
    def x_bool(self, t, d):
        r = self.r
        c = r.randrange(22)
        if c == 0:
            return Expr("bin", (self.expr("bool", d), self.expr("bool", d)), (self.pick(["&&", "||"]),))
        if c == 1:
            return Expr("un", (self.expr("bool", d),), ("!",))
        if c == 2:
            return Expr("if", (self.expr("bool", d), self.expr("bool", d), self.expr("bool", d)))
        if c in (3, 4):
            return Expr("bin", (self.expr("long", d), self.expr("long", d)),
                        (self.pick(["==", "!=", "<", "<=", ">", ">="]),))
        if c == 5:
            tt = self.pick(["dt", "dur"])
            return Expr("bin", (self.expr(tt, d), self.expr(tt, d)), (self.pick(["==", "!=", "<", "<=", ">", ">="]),))
        if c == 6:
            tt = self.pick(ALL_TYPES)
            t2 = tt if self.p(0.8) else self.pick(ALL_TYPES)
            return Expr("bin", (self.expr(tt, d), self.expr(t2, d)), (self.pick(["==", "!="]),))
        if c in (7, 8):
            rhs = self.expr("ent", d) if self.p(0.6) else self.expr("set_ent", d)
            return Expr("bin", (self.expr("ent", d), rhs), ("in",))
        if c in (9, 10):
            return self.has_expr(d)
        if c == 11:
            return Expr("like", (self.expr("str", d),), (self.pattern(),))
        if c == 12:
            st = self.pick(["set_str", "set_long", "set_ent"])
            return Expr("meth", (self.expr(st, d), self.expr(st[4:], d)), ("contains",))
        if c == 13:
            st = self.pick(["set_str", "set_long", "set_ent"])
            return Expr("meth", (self.expr(st, d), self.expr(st, d)), (self.pick(["containsAll", "containsAny"]),))
        if c == 14:
            return Expr("meth", (self.expr(self.pick(["set_str", "set_long"]), d),), ("isEmpty",))
        if c == 15:
            return Expr("meth", (self.entity_expr(d), self.tag_key(d)), ("hasTag",))
        if c == 16:
            ty = self.pick(PRINCIPAL_TYPES + RESOURCE_TYPES + GROUP_TYPES + ["Action"])
            kids = (self.expr("ent", d),) + ((self.expr(self.pick(["ent", "set_ent"]), d),) if self.p(0.3) else ())
            return Expr("is", kids, (ty,))
        if c == 17:
            m = self.pick(["isIpv4", "isIpv6", "isLoopback", "isMulticast", "isInRange"])
            args = (self.expr("ip", d),) if m == "isInRange" else ()
            if self.p(0.03):
                args += (self.expr("ip", d),)  # wrong arity: evaluation error
            return Expr("meth", (self.expr("ip", d),) + args, (m,))
        if c == 18:
            m = self.pick(["lessThan", "lessThanOrEqual", "greaterThan", "greaterThanOrEqual"])
            return Expr("meth", (self.expr("dec", d), self.expr("dec", d)), (m,))
        if c == 19:
            return Expr("meth", (self.entity_expr(d), self.tag_key(d)), ("getTag",)) if self.p(0.3) else \
                Expr("bin", (Expr("meth", (self.entity_expr(d), self.tag_key(d)), ("getTag",)),
                             self.literal(self.pick(["str", "long"]))), ("==",))
        if c == 20:
            t2 = self.pick(["ip", "dec", "dt", "dur"])
            elems = tuple(self.literal(t2) for _ in range(self.r.randint(0, 3)))
            return Expr("meth", (Expr("set", elems, (False,)), self.literal(t2)), ("contains",))
        return self.leaf("bool")

    def has_expr(self, d):
        if self.p(0.5):
            base = self.entity_expr(d)
            names = list(ENTITY_ATTRS)
        else:
            base = self.pick([Expr("var", (), ("context",)), self.attr_path("rec_ctx") or lit("{}")])
            names = list(CONTEXT_ATTRS) + list(RECORD_FIELDS["rec_ctx"])
        first = self.pick(names + ["nosuch"])
        path = [first]
        if self.p(0.25):
            path += self.pick([["city"], ["geo", "lat"], ["k"], ["inner", "north"], ["z"]])
            path = [x for x in path if is_ident(x)] or ["nosuch"]
        return Expr("has", (base,), (tuple(path), self.p(0.1) and len(path) == 1))

    def tag_key(self, d):
        if self.p(0.8):
            return lit(cedar_string(self.pick(list(TAGS) + ["nope"])))
        return self.expr("str", d)

    def pattern(self) -> str:
        parts = []
        for _ in range(self.r.randint(0, 4)):
            parts.append(None if self.p(0.4) else self.pick(["a", "h", "*", "llo", E_ACUTE, "e", "ham", "@example.com",
                                                          "caf", "\U0001F600", ""]))
        text = cedar_pattern(parts)
        if self.p(0.1) and "escaped-wildcards" not in self.avoid:
            # `\u{2a}` and `\x2A` unescape to a star that is a wildcard; only `\*` is a literal star
            text = re.sub(r"(?<!\\)\*", lambda m: self.pick(["\\u{2a}", "\\x2A"]), text, count=1)
        return text

    def x_long(self, t, d):
        c = self.r.randrange(7)
        if c <= 2:
            return Expr("bin", (self.expr("long", d), self.expr("long", d)), (self.pick(["+", "-", "*"]),))
        if c == 3:
            return Expr("un", (self.expr("long", d),), ("-",))
        if c == 4:
            m = self.pick(["toMilliseconds", "toSeconds", "toMinutes", "toHours", "toDays"])
            return Expr("meth", (self.expr("dur", d),), (m,))
        if c == 5:
            return Expr("if", (self.expr("bool", d), self.expr("long", d), self.expr("long", d)))
        return self.leaf("long")

    def x_str(self, t, d):
        if self.p(0.2):
            return Expr("meth", (self.entity_expr(d), lit(cedar_string(self.pick(["dept", "tier"])))), ("getTag",))
        if self.p(0.2):
            return Expr("if", (self.expr("bool", d), self.expr("str", d), self.expr("str", d)))
        return self.leaf("str")

    def x_ent(self, t, d):
        if self.p(0.2):
            return Expr("if", (self.expr("bool", d), self.expr("ent", d), self.expr("ent", d)))
        return self.entity_expr(d)

    def x_ip(self, t, d):
        return self.leaf("ip")

    def x_dec(self, t, d):
        return self.leaf("dec")

    def x_dt(self, t, d):
        c = self.r.randrange(4)
        if c == 0:
            return Expr("meth", (self.expr("dt", d), self.expr("dur", d)), ("offset",))
        if c == 1:
            return Expr("meth", (self.expr("dt", d),), ("toDate",))
        return self.leaf("dt")

    def x_dur(self, t, d):
        c = self.r.randrange(4)
        if c == 0:
            return Expr("meth", (self.expr("dt", d), self.expr("dt", d)), ("durationSince",))
        if c == 1:
            return Expr("meth", (self.expr("dt", d),), ("toTime",))
        return self.leaf("dur")

    def x_set(self, t, d):
        if self.p(0.5):
            et = t[4:]
            kids = [self.expr(et, d) for _ in range(self.r.randint(0, 3))]
            if kids and self.p(0.2):
                kids.append(kids[-1])
            return Expr("set", tuple(kids), (self.p(0.1),))
        return self.leaf(t)

    def x_rec(self, t, d):
        if self.p(0.5):
            keys, vals = [], []
            fields = list(RECORD_FIELDS[t].items())
            self.r.shuffle(fields)
            for k, ft in fields:
                if self.p(0.7):
                    keys.append(k)
                    vals.append(self.expr(ft, d) if ft in SCALARS else self.literal(ft))
            return Expr("rec", tuple(vals), tuple(keys))
        return self.leaf(t)

    def invalid_expr(self) -> Expr:
        """Text the Cedar parser must reject (cedar-probe-vectors.md PARSE lines)."""
        return Expr("raw", (), (self.pick([
            "1 < 2 < 3", "!!!!!true", "9223372036854775808 == 0", "-9223372036854775809 == 0", "1 / 2 == 0",
            '"\\q" == "q"', '"\\x80" == "x"', '"\\u{D800}" == "x"', '"\\u{110000}" == "x"', "context.if == 1",
            '{"if": 1}.if == 1', "foo(1) == 1", "contains([1], 1)", 'ipaddr::ip("1.2.3.4").isIpv4()',
            "{a: 1, a: 2} == {a: 1}", "[,] == []", "x == 1", "1 % 2 == 1", "1 = 1", "__cedar::X::\"a\" == principal",
            "context has if", "principal.contains()", '"1.2.3.4".ip().isIpv4()', "if true then 1", "?user == principal",
            "principal in [User::\"a\"",
        ]),))

    # ---------- policies ----------
    def scope(self, kind: str) -> Scope:
        r = self.r
        if kind == "action":
            c = r.randrange(4)
            if c == 0:
                return Scope()
            if c == 1:
                return Scope("==", (self.pick(self.actions) if self.p(0.95) else Uid("Admin::Action", "view"),))
            if c == 2:
                return Scope("in", (self.pick(self.actions),))
            return Scope("in[]", tuple(r.sample(self.actions, r.randint(1, 3))))
        pool = (self.users + self.groups) if kind == "principal" else (self.docs + self.folders)
        types = PRINCIPAL_TYPES if kind == "principal" else RESOURCE_TYPES
        c = r.randrange(6)
        if c <= 1:
            return Scope()
        if c == 2:
            return Scope("==", (self.pick(pool) if self.p(0.9) else self.any_uid(),))
        if c == 3:
            return Scope("in", (self.pick(pool) if self.p(0.9) else self.any_uid(),))
        if c == 4:
            return Scope("is", (), self.pick(types))
        return Scope("is in", (self.pick(pool),), self.pick(types))

    def policy(self, index: int, ids: set) -> Policy:
        r = self.r
        conds = []
        for _ in range(r.choice([0, 1, 1, 1, 2, 2, 3])):
            body = self.invalid_expr() if self.p(0.0015) else self.expr("bool", r.randint(1, 4))
            conds.append((self.pick(["when", "when", "unless"]), body))
        annotations = []
        if self.p(0.3):
            pid = self.pick(["allow-view", "deny-ghost", "p" + E_ACUTE, "rule " + str(index), "x", 'q"t', "back\\slash",
                             "new\nline", "sep\u2028", "tab\t", "\U0001F600"]) + "-" + str(index)
            ids.add(pid)
            annotations.append(("id", pid))
        if self.p(0.1):
            annotations.append((self.pick(["advice", "if", "permit", "note"]), None if self.p(0.3) else "text"))
        broken = None
        if self.p(0.002):
            broken = self.pick(["missing_semicolon", "dup_annotation", "bad_effect", "empty_when", "block_comment",
                                "principal_in_set", "action_is", "old_colon_syntax", "action_not_action",
                                "slot_in_condition"])
        principal, resource = self.scope("principal"), self.scope("resource")
        if self.p(0.02):  # an unlinked template: inert, but it still takes a policy id
            slot = Scope(self.pick(["?==", "?in", "?is in"]), (), self.pick(PRINCIPAL_TYPES + RESOURCE_TYPES))
            if self.p(0.5):
                principal = slot
            else:
                resource = slot
        return Policy(effect="permit" if self.p(0.7) else "forbid", principal=principal,
                      action=self.scope("action"), resource=resource, conditions=tuple(conds),
                      annotations=tuple(annotations), broken=broken, spaced=self.p(0.03), decorated=self.p(0.05))

    def raw_numbers(self, texts: list) -> list:
        return [] if "json-minus-zero" in self.avoid else [raw_json(t) for t in texts]

    def broken_entities(self, ents: list) -> list:
        """Entity stores cedarpy rejects at load time (cedar.md §2.3/§3.1)."""
        kind = self.r.randrange(7)
        first = ents[0] if ents else {"uid": {"type": "User", "id": "z"}, "attrs": {}, "parents": []}
        if kind == 0:   # self-parent cycle
            first = dict(first, parents=list(first["parents"]) + [first["uid"]])
            return [first] + ents[1:]
        if kind == 1:   # conflicting duplicate
            return ents + [dict(first, attrs={"level": 999})]
        bad = [self.pick([1.5] + self.raw_numbers(["1.0", "-0", "1e2"])), None, {"__expr": "1"},
               {"__extn": {"fn": "ip", "arg": self.pick(IPS_BAD)}}, self.pick([I64_MAX + 1, I64_MIN - 1, 2**64])][kind - 2]
        first = dict(first, attrs=dict(first["attrs"], bad=bad))
        return [first] + ents[1:]

    def probe_policy(self) -> Policy:
        """`permit(principal, action, resource) when { E };`: with only such policies every request
        shows each E's outcome (reasons = the true ones, errors = the failing ones)."""
        return Policy(effect="permit", conditions=(("when", self.expr("bool", self.r.randint(2, 5))),))

    def world(self, n_requests: int, max_policies: int = 20) -> World:
        self.make_universe()
        ids: set = set()
        c = self.r.random()
        if c < 0.3:
            policies = [self.probe_policy() for _ in range(max_policies)]
        elif c < 0.4:   # large sets: Portcullis indexes policies by scope above 16
            policies = [self.policy(i, ids) for i in range(self.r.randint(17, 4 * max_policies))]
        else:
            policies = [self.policy(i, ids) for i in range(self.r.randint(1, max_policies))]
        ents = self.entities()
        if self.p(0.01):
            ents = self.broken_entities(ents)
        reqs = [self.request() for _ in range(n_requests)]
        split = self.r.randint(2, 3) if self.p(0.1) and len(policies) >= 3 else 1
        ascii_json = self.p(0.5) or "raw-line-separators" in self.avoid
        return World(policies, ents, reqs, split_files=split, ascii_json=ascii_json)

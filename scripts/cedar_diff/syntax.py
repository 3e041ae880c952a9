"""A small Cedar syntax tree that renders to policy text.

The generator builds trees rather than strings so that the shrinker can replace any
subexpression and re-render. Precedence levels follow the Cedar grammar
(cedar-policy-core/src/parser/grammar.lalrpop, summarised in reference/cedar.md §1.4):
1 if, 2 ||, 3 &&, 4 relations (non-associative), 5 + -, 6 *, 7 unary, 8 member, 9 primary.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

RESERVED = {"true", "false", "if", "then", "else", "in", "like", "has", "is", "__cedar"}
BINARY_PREC = {"||": 2, "&&": 3, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4, "in": 4,
               "+": 5, "-": 5, "*": 6}


def cedar_string(s: str, ascii_escapes: bool = False) -> str:
    """Cedar string literal for `s` (Rust escapes, cedar.md §1.3)."""
    out = []
    for ch in s:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\0":
            out.append("\\0")
        elif o < 0x20 or o == 0x7F:
            out.append("\\x%02X" % o)
        elif o > 0x7E and ascii_escapes:
            out.append("\\u{%x}" % o)
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def cedar_pattern(parts: list) -> str:
    """`like` pattern literal: parts are str (literal text) or None (wildcard `*`)."""
    body = []
    for p in parts:
        if p is None:
            body.append("*")
        else:
            body.append(cedar_string(p)[1:-1].replace("*", "\\*"))
    return '"' + "".join(body) + '"'


def is_ident(name: str) -> bool:
    return (name != "" and (name[0].isascii() and (name[0].isalpha() or name[0] == "_"))
            and all(c.isascii() and (c.isalnum() or c == "_") for c in name)
            and name not in RESERVED)


@dataclass(frozen=True)
class Uid:
    type: str
    id: str

    def cedar(self, spaced: bool = False) -> str:
        sep = " :: " if spaced else "::"
        return sep.join(self.type.split("::")) + sep + cedar_string(self.id)

    def json(self) -> dict:
        return {"type": self.type, "id": self.id}

    def request_form(self, as_string: bool):
        """Request field: `Type::"id"` for plain ids (cedarpy requires normalized text), else dict."""
        if as_string and self.id.isascii() and self.id.isalnum():
            return self.cedar()
        return self.json()


@dataclass(frozen=True)
class Expr:
    """One node. `kind` selects rendering; `kids` are sub-expressions; `data` is static text."""
    kind: str
    kids: tuple = ()
    data: tuple = ()

    @property
    def prec(self) -> int:
        k = self.kind
        if k == "if":
            return 1
        if k == "bin":
            return BINARY_PREC[self.data[0]]
        if k in ("has", "like", "is"):
            return 4
        if k == "un":
            return 7
        if k == "lit" and self.data[0].startswith("-"):
            return 7
        if k in ("attr", "meth"):
            return 8
        return 9

    def render(self) -> str:
        k, d = self.kind, self.data
        if k in ("lit", "var", "raw"):
            return d[0] if k != "raw" else "(" + d[0] + ")"
        if k == "paren":
            return "(" + self.kids[0].render() + ")"
        if k == "if":
            c, a, b = self.kids
            return f"if {c.render()} then {a.render()} else {b.render()}"
        if k == "bin":
            op = d[0]
            p = BINARY_PREC[op]
            l, r = self.kids
            if p == 4:  # relations are non-associative
                return f"{wrap(l, 5)} {op} {wrap(r, 5)}"
            return f"{wrap(l, p)} {op} {wrap(r, p + 1)}"
        if k == "un":
            op, = d
            x = self.kids[0]
            depth = 1
            y = x
            while y.kind == "un" and y.data[0] == op:
                depth += 1
                y = y.kids[0]
            if x.kind == "un" and x.data[0] == op and depth <= 4:
                return op + x.render()
            if op == "-" and x.kind == "lit" and x.data[0][:1].isdigit():
                return "-(" + x.render() + ")"  # keep it a negation, not a folded literal
            return op + wrap(x, 8)
        if k == "attr":
            name, bracket = d
            recv = wrap(self.kids[0], 8)
            if bracket or not is_ident(name):
                return f"{recv}[{cedar_string(name)}]"
            return f"{recv}.{name}"
        if k == "has":
            path, as_string = d
            lhs = wrap(self.kids[0], 5)
            if as_string or len(path) == 1 and not is_ident(path[0]):
                return f"{lhs} has {cedar_string(path[0])}"
            return f"{lhs} has {'.'.join(path)}"
        if k == "like":
            return f"{wrap(self.kids[0], 5)} like {d[0]}"
        if k == "is":
            s = f"{wrap(self.kids[0], 5)} is {d[0]}"
            if len(self.kids) > 1:
                s += f" in {wrap(self.kids[1], 5)}"
            return s
        if k == "call":
            return d[0] + "(" + ", ".join(x.render() for x in self.kids) + ")"
        if k == "meth":
            recv = wrap(self.kids[0], 8)
            return f"{recv}.{d[0]}(" + ", ".join(x.render() for x in self.kids[1:]) + ")"
        if k == "set":
            trail = "," if d and d[0] and self.kids else ""
            return "[" + ", ".join(x.render() for x in self.kids) + trail + "]"
        if k == "rec":
            keys = d
            parts = []
            for key, v in zip(keys, self.kids):
                ks = key if is_ident(key) else cedar_string(key)
                parts.append(f"{ks}: {v.render()}")
            return "{" + ", ".join(parts) + "}"
        raise ValueError(k)


def wrap(e: Expr, min_prec: int) -> str:
    s = e.render()
    return s if e.prec >= min_prec else "(" + s + ")"


def lit(text: str) -> Expr:
    return Expr("lit", (), (text,))


TRUE, FALSE, ZERO = lit("true"), lit("false"), lit("0")


@dataclass(frozen=True)
class Scope:
    """Scope clause for one variable: op is '', '==', 'in', 'is', 'is in', or 'in[]' (action)."""
    op: str = ""
    uids: tuple = ()
    type: str = ""

    def render(self, var: str, spaced: bool) -> str:
        if self.op == "":
            return var
        if self.op.startswith("?"):  # template slot: "?==", "?in", "?is in"
            op = self.op[1:]
            return f"{var} is {self.type} in ?{var}" if op == "is in" else f"{var} {op} ?{var}"
        if self.op == "is":
            return f"{var} is {self.type}"
        if self.op == "is in":
            return f"{var} is {self.type} in {self.uids[0].cedar(spaced)}"
        if self.op == "in[]":
            return f"{var} in [" + ", ".join(u.cedar(spaced) for u in self.uids) + "]"
        return f"{var} {self.op} {self.uids[0].cedar(spaced)}"


@dataclass(frozen=True)
class Policy:
    effect: str
    principal: Scope = Scope()
    action: Scope = Scope()
    resource: Scope = Scope()
    conditions: tuple = ()          # (("when" | "unless", Expr), ...)
    annotations: tuple = ()         # ((key, value-or-None), ...)
    broken: Optional[str] = None    # a deliberate policy-level syntax error (see gen.BROKEN)
    spaced: bool = False            # render entity paths as `A :: B :: "x"`
    decorated: bool = False         # comments and trailing commas (RFC 71)

    def render(self) -> str:
        lines = []
        for k, v in self.annotations:
            lines.append(f"@{k}" if v is None else f"@{k}({cedar_string(v)})")
        effect = self.effect
        scope = [self.principal.render("principal", self.spaced), self.action.render("action", self.spaced),
                 self.resource.render("resource", self.spaced)]
        if self.decorated:
            scope[-1] += ", // trailing comma"
            head = f"{effect}(\n  " + ",\n  ".join(scope) + "\n)"
        else:
            head = f"{effect}(" + ", ".join(scope) + ")"
        conds = [f"{kind} {{ {e.render()} }}" for kind, e in self.conditions]
        text = "\n".join(lines + [head] + ["  " + c for c in conds]) + ";"
        if self.decorated:
            text = "// policy\n" + text + " // end"
        if self.broken:
            text = BROKEN_RENDER[self.broken](text, self)
        return text


def _dup_annotation(text: str, p: Policy) -> str:
    return '@note("a")\n@note("b")\n' + text


BROKEN_RENDER = {
    "missing_semicolon": lambda t, p: t[:-1],
    "dup_annotation": _dup_annotation,
    "bad_effect": lambda t, p: t.replace(p.effect, "allow", 1) if not p.annotations else t.replace(
        "\n" + p.effect + "(", "\nallow(", 1),
    "empty_when": lambda t, p: t[:-1] + " when { };",
    "block_comment": lambda t, p: "/* note */\n" + t,
    "principal_in_set": lambda t, p: t.replace("(principal", '(principal in [User::"alice"]', 1)
    if p.principal.op == "" else t[:-1] + " when { 1 < 2 < 3 };",
    "action_is": lambda t, p: t.replace("action", "action is Action", 1) if p.action.op == "" else t + "?",
    "action_not_action": lambda t, p: t.replace("action", 'action == User::"alice"', 1)
    if p.action.op == "" else t + "]",
    "slot_in_condition": lambda t, p: t[:-1] + " when { principal == ?principal };",
    "old_colon_syntax": lambda t, p: t.replace("(principal", "(principal: User", 1)
    if p.principal.op == "" else t + ")",
}


def render_policies(policies) -> str:
    return "\n\n".join(p.render() for p in policies) + "\n"


def subexpr_paths(e: Expr, path=()):
    """Pre-order (path, node) pairs; a path is a tuple of kid indices."""
    yield path, e
    for i, k in enumerate(e.kids):
        yield from subexpr_paths(k, path + (i,))


def replace_at(e: Expr, path: tuple, new: Expr) -> Expr:
    if not path:
        return new
    i = path[0]
    kids = list(e.kids)
    kids[i] = replace_at(kids[i], path[1:], new)
    return replace(e, kids=tuple(kids))


def without_kid(e: Expr, i: int) -> Expr:
    """Set or record literal without element i (only meaningful for 'set' and 'rec')."""
    kids = e.kids[:i] + e.kids[i + 1:]
    if e.kind == "rec":
        return Expr("rec", kids, e.data[:i] + e.data[i + 1:])
    return Expr("set", kids, e.data)

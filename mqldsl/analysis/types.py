"""The checker's types (SPEC §3 "Types").

``int`` is also a ``number``. Enum types carry their members. ``member`` is
the type of a bare name that is no field, param, score or event: it can only
be an enum member, and is accepted where an enum expected at that position
has it.
"""

from __future__ import annotations

from dataclasses import dataclass

from mqldsl.language import ast


@dataclass(frozen=True, slots=True)
class Type:
    kind: str  # int number bool text date instant duration enum set list member error
    members: tuple[str, ...] = ()
    element: Type | None = None
    member: str | None = None  # for kind == "member": the name

    def __str__(self) -> str:
        if self.kind == "enum":
            return "enum(" + ", ".join(self.members) + ")"
        if self.kind in ("set", "list") and self.element is not None:
            return f"{'set of' if self.kind == 'set' else 'list of'} {self.element}"
        if self.kind == "member":
            return "enum members" if self.member is None else f"the name `{self.member}`"
        return self.kind

    @property
    def is_numeric(self) -> bool:
        return self.kind in ("int", "number")


INT = Type("int")
NUMBER = Type("number")
BOOL = Type("bool")
TEXT = Type("text")
DATE = Type("date")
INSTANT = Type("instant")
DURATION = Type("duration")  # a duration param's (SPEC §5.2)
ERROR = Type("error")  # already reported: suppresses follow-up errors


def member(name: str) -> Type:
    return Type("member", member=name)


def from_ast(node: ast.TypeExpr) -> Type:
    if isinstance(node, ast.SimpleType):
        return {"int": INT, "number": NUMBER, "bool": BOOL, "text": TEXT, "date": DATE}.get(
            node.name, ERROR
        )
    if isinstance(node, ast.EnumType):
        return Type("enum", members=node.members)
    return Type("set", element=from_ast(node.element))


def numeric_join(a: Type, b: Type) -> Type:
    return INT if a.kind == "int" and b.kind == "int" else NUMBER


def comparable(a: Type, b: Type) -> bool:
    """Whether `a == b` is meaningful (members are checked separately)."""
    if a.kind == "error" or b.kind == "error":
        return True
    if a.is_numeric and b.is_numeric:
        return True
    if a.kind == "enum" and b.kind == "enum":
        return bool(set(a.members) & set(b.members))
    return a.kind == b.kind and a.kind in ("text", "bool", "date", "instant", "member")


def ordered(a: Type) -> bool:
    return a.is_numeric or a.kind in ("date", "instant", "error")


def noun(kind: Type) -> str:
    """The type as the noun of a message: `an int`, `a number`, `true/false`."""
    text = str(kind)
    if kind.kind == "member":
        return text
    if kind.kind == "duration":
        return "a duration"
    if kind.kind in ("int", "instant", "enum", "error"):
        return ("an " if text[0] in "aeiou" else "a ") + text
    if kind.kind in ("set", "list"):
        return "a " + text
    return {"number": "a number", "bool": "true/false", "text": "text", "date": "a date"}.get(
        kind.kind, text
    )

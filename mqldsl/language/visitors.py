"""Dispatch on the kind of an expression node (:mod:`mqldsl.language.ast`): the base classes
of every tree walker (the checker, both evaluators' code, the printers, the English renderer).
Re-exported by :mod:`mqldsl.language.ast` as ``ast.Visitor`` and ``ast.ContextVisitor``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

# An expression node (mqldsl.language.ast.Expr); not imported, so that the AST module can
# re-export these classes without an import cycle.
Expr = Any

R = TypeVar("R")
C = TypeVar("C")


def _method_for(visitor: Any, kind: type) -> str:
    """The name of ``visitor``'s method for ``kind``, found once per visitor
    class: ``visit_<ClassName>`` or, failing that, ``generic_visit``."""
    dispatch: dict[type, str] = type(visitor)._dispatch
    name = dispatch.get(kind)
    if name is None:
        name = f"visit_{kind.__name__}"
        if not hasattr(visitor, name):
            name = "generic_visit"
        dispatch[kind] = name
    return name


class Visitor(Generic[R]):
    """Dispatch on the expression kind: ``visit(node)`` calls
    ``visit_<ClassName>(node)`` (``visit_And``, ``visit_Pattern``, ...). A kind
    without a method goes to :meth:`generic_visit`, which raises, so a new node
    kind is noticed by every visitor that does not handle it. The method for
    each class is looked up once per visitor class."""

    _dispatch: ClassVar[dict[type, str]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._dispatch = {}

    def visit(self, node: Expr) -> R:
        kind = type(node)
        method: Callable[[Expr], R] = getattr(
            self, self._dispatch.get(kind) or _method_for(self, kind)
        )
        return method(node)

    def generic_visit(self, node: Expr) -> R:
        raise NotImplementedError(f"{type(self).__name__} does not handle {type(node).__name__}")


class ContextVisitor(Generic[C, R]):
    """A :class:`Visitor` whose methods also take a context, passed down the
    walk and changed where the meaning of names changes (the checker's scope,
    the interpreter's lead, instant and event): ``visit(node, context)`` calls
    ``visit_<ClassName>(node, context)``."""

    _dispatch: ClassVar[dict[type, str]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._dispatch = {}

    def visit(self, node: Expr, context: C) -> R:
        kind = type(node)
        method: Callable[[Expr, C], R] = getattr(
            self, self._dispatch.get(kind) or _method_for(self, kind)
        )
        return method(node, context)

    def generic_visit(self, node: Expr, context: C) -> R:
        raise NotImplementedError(f"{type(self).__name__} does not handle {type(node).__name__}")

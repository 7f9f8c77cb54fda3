"""The AST contract: nodes are frozen dataclasses that compare, hash and print without their spans, and the
makers the parser uses build exactly what the classes build."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from grammar import nodes
from grammar.nodes import Binary, Literal, Node, ParamDecl, Program, Span, Var, Word, maker

A = Span("a.pouch", 0, 1, 1, 1, 1, 2)
B = Span("b.pouch", 5, 9, 2, 3, 2, 7)


def node_classes() -> list[type[Node]]:
    return [c for c in vars(nodes).values() if isinstance(c, type) and issubclass(c, Node)
            and "__dataclass_fields__" in c.__dict__]


def test_every_node_class_is_a_frozen_dataclass_with_slots() -> None:
    for cls in node_classes():
        assert cls.__dataclass_params__.frozen, cls  # type: ignore[attr-defined]
        assert "__slots__" in cls.__dict__, cls
        assert dataclasses.fields(cls)[0].name == "span"


def test_assigning_or_deleting_a_field_raises() -> None:
    w = Word(A, "x", ("x",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        w.text = "y"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del w.text  # type: ignore[misc]
    assert w.text == "x"


def test_equality_hash_and_repr_leave_spans_out() -> None:
    one, two = Binary(A, "+", Var(A, "x"), Literal(A, "int", 1, "1"), A), Binary(B, "+", Var(B, "x"),
                                                                                  Literal(B, "int", 1, "1"), B)
    assert one == two and hash(one) == hash(two)
    assert repr(one) == "Binary(op='+', left=Var(name='x', path=()), right=Literal(kind='int', value=1, text='1'))"
    assert Var(A, "x") != Var(A, "y") and Var(A, "x") != Word(A, "x", ("x",))
    assert repr(Program(A, (), "f", "text")) == "Program(body=(), file='f')"


def test_dataclass_functions_work() -> None:
    v = Var(A, "x")
    assert [f.name for f in dataclasses.fields(v)] == ["span", "name", "path"]
    assert dataclasses.replace(v, name="y") == Var(A, "y")
    assert dataclasses.asdict(v) == {"span": A, "name": "x", "path": ()}
    assert copy.copy(v) == v and copy.deepcopy(v) == v and pickle.loads(pickle.dumps(v)) == v
    assert pickle.loads(pickle.dumps(v)).span == A


def test_constructor_arguments_as_a_dataclass_takes_them() -> None:
    p = ParamDecl(A, "flag", "n", optional=True, short="n")
    assert (p.type, p.default, p.optional, p.short) == (None, None, True, "n")
    with pytest.raises(TypeError):
        Word(A, "x")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Var(A, "x", (), "extra")  # type: ignore[call-arg]


def test_makers_build_what_the_classes_build() -> None:
    for cls in node_classes():
        names = [f.name for f in dataclasses.fields(cls)]
        values = [A if n.endswith("span") else f"v-{n}" for n in names]
        made, built = maker(cls)(*values), cls(*values)
        assert type(made) is cls and made == built
        assert all(getattr(made, n) == getattr(built, n) for n in names)
    assert maker(Var)(A, "x") == Var(A, "x", ()) and maker(Var)(span=A, name="x").path == ()

"""Direct tests of the IR, stage by stage: field (lane templates), trace, derive, kernel.

The end-to-end tests prove the numbers; these prove the *structure* that makes jaccli fast, so a change that
keeps the numbers but loses the structure (600 templates instead of one, a Hessian that recomputes shared
subtrees) fails here, by name.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

from jaccli.expr import field as fl
from jaccli.expr.check import InvalidField, check_field, check_tape
from jaccli.expr.ir import Equation, primitive
from jaccli.expr.field import Piece, Slot, slot_symbol
from jaccli.expr.scope import make_scope
from jaccli.plan.engine import evaluate, plan_jacobian

EXPRESSIONS = [
    ("x*x*x", (2,)),
    ("sin(x)*exp(-x**2)", (600,)),
    ("[x[0]*cos(x[1]), x[0]*sin(x[1])]", (2,)),
    ("logsumexp(x)", (5,)),
    ("sum(x*x) + prod(x)", (3,)),
    ("dot(x, x[::-1])", (4,)),
    ("x[0, 1] * x[1]", (2, 3)),
    ("[[x[0], 1], [2, x[1]]] * x", (2,)),
    ("norm(x) / (1 + mean(x))", (3,)),
    ("x*0", (3,)),
]


def _plan(expression: str, shape: tuple[int, ...], order: int = 1):
    return plan_jacobian(expression, make_scope({"x": shape}), order, np.dtype(np.float64))


def _sizes(plan) -> dict[str, int]:
    return {k: int(np.prod(v, dtype=np.int64)) for k, v in plan.scope.arrays.items()}


@pytest.mark.parametrize("expression, shape", EXPRESSIONS, ids=[e for e, _ in EXPRESSIONS])
def test_every_traced_field_keeps_the_invariants(expression, shape):
    plan = _plan(expression, shape)
    source = plan.tape.source
    check_field(plan.tape.target, _sizes(plan), {source.leaf: source.smap >= 0})
    check_tape(plan.tape)


def test_the_tape_separates_variables_from_parameters():
    tape = _plan("sum(x[1:] * 2, axis=0)", (3,)).tape
    assert str(tape).splitlines() == ["t0: (3,) = name [name=x]", "t1: (2,) = index t0 [key=[1:]]",
                                      "t2: () = const [value=2]", "t3: (2,) = mul t1 t2", "t4: () = sum t3 [axis=0]"]
    index = tape.equations[1]
    assert (index.prim, index.inputs, index.params) == (primitive("index"), ("t0",), {"key": (slice(1, None),)})
    assert tape.out == "t4"


def _broken(tape, k: int, **changes):
    import dataclasses
    tape.equations[k] = dataclasses.replace(tape.equations[k], **changes)
    return tape


@pytest.mark.parametrize("k, changes, message", [
    (2, {"inputs": ("t0", "t9")}, "reads t9 before it is defined"),
    (2, {"inputs": ("t0",)}, "mul reads 1 variables, not 2"),
    (1, {"params": {}}, "const has parameters (), not ('value',)"),
    (1, {"var": "t0"}, "t0 is defined twice"),
    (2, {"prim": primitive("mul").__class__("mul", 2)}, "'mul' is not a declared primitive"),
    (2, {"shape": (3,)}, "does not hold the target's shape"),
])
def test_the_tape_checker_names_a_broken_invariant(k, changes, message):
    tape = _plan("x * 2", (2,)).tape
    check_tape(tape)
    with pytest.raises(InvalidField, match=re.escape(message)):
        check_tape(_broken(tape, k, **changes))


def test_only_declared_primitives_exist():
    with pytest.raises(AssertionError, match="not a declared primitive"):
        primitive("eval")
    assert isinstance(_plan("x", (1,)).tape.equations[0], Equation)


def test_an_elementwise_expression_is_one_template_over_all_lanes():
    plan = _plan("sin(x)*exp(-x**2)", (600,))
    (piece,) = plan.tape.target.pieces
    assert len(piece.pos) == 600 and len(piece.slots) == 1
    assert str(piece.expr) == "exp(-s0**2)*sin(s0)"
    (group,) = plan.derivative.groups  # one derivative, placed on the diagonal
    assert len(group) == 1 and len(group[0].partials) == 1


def test_stacked_targets_share_one_kernel():
    plan = _plan("[x[0]*cos(x[1]), x[0]*sin(x[1])]", (2,))
    assert len(plan.derivative.groups) == 1
    ops = [i.name for i in plan.derivative.groups[0][0].kernel.program]
    assert ops.count("sin") == 1 and ops.count("cos") == 1


def test_a_hessian_emits_each_shared_subtree_once():
    plan = _plan("logsumexp(x)", (6,), order=2)
    program = plan.derivative.groups[0][0].kernel.program
    steps = [(i.name, i.args) for i in program]
    assert len(steps) == len(set(steps)), "a subexpression was emitted twice"
    assert [i.name for i in program].count("logsumexp") == 1


def test_sums_redirect_lanes_without_new_templates():
    f = fl.leaf("x", (4,), np.ones(4, bool))
    total = fl.reduce_sum(f)
    assert total.shape == () and total.pieces[0].expr == slot_symbol(0) and len(total.pieces[0].pos) == 4
    check_field(total, {"x": 4})
    folded = fl.compact(total)  # a nonlinear op would fold the four lanes into one 4-slot template
    assert len(folded.pieces) == 1 and len(folded.pieces[0].slots) == 4
    check_field(folded, {"x": 4})


@pytest.mark.parametrize("broken, message", [
    (Piece(slot_symbol(0), np.array([5], np.int64), (Slot("x", np.array([0], np.int64)),)), "outside the field"),
    (Piece(slot_symbol(0), np.array([0, 1], np.int64), (Slot("x", np.array([0], np.int64)),)), "indices for"),
    (Piece(slot_symbol(1), np.array([0], np.int64), (Slot("x", np.array([0], np.int64)),)), "beyond its"),
    (Piece(slot_symbol(0), np.array([0], np.int64), (Slot("x", np.array([9], np.int64)),)), "outside leaf"),
])
def test_the_checker_names_a_broken_invariant(broken, message):
    f = fl.Field((2,), (broken,), np.ones(2, bool))
    with pytest.raises(InvalidField, match=message):
        check_field(f, {"x": 2})


def test_the_checker_catches_a_lost_connection():
    f = fl.leaf("x", (2,), np.ones(2, bool))
    lost = fl.Field(f.shape, f.pieces, np.array([True, False]))
    with pytest.raises(InvalidField, match="unconnected"):
        check_field(lost, {"x": 2}, {"x": np.ones(2, bool)})


def test_kernel_prints_as_a_straight_line_program():
    plan = _plan("x*x*x", (2,), order=2)
    text = str(plan.derivative.groups[0][0].kernel)
    assert text.splitlines()[0] == "inputs r0..r0"
    assert "mul" in text and text.splitlines()[-1].startswith("outputs ")


def test_evaluate_places_partials_by_the_chain_rule():
    """derive + kernel + scatter, against the hand-derived Hessian of x0**2*x1: [[2 x1, 2 x0], [2 x0, 0]]."""
    plan = _plan("x[0]**2 * x[1]", (2,), order=2)
    x = np.array([[3.0, 5.0], [-1.0, 2.0]])
    out = evaluate(plan, {"x": x})
    expected = np.array([[[2 * a[1], 2 * a[0]], [2 * a[0], 0.0]] for a in x])
    assert np.array_equal(out, expected)


def test_symbolic_kernel_shows_the_program(jaccli):
    result = jaccli("symbolic", "x*x*x", "--shape", "2", "-k", "2", "--kernel")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[:4] == ["# kernel 0: 2 lanes, 1 slots", "inputs r0..r0", "r1 = mul(6.0, r0)",
                                              "outputs r1"]

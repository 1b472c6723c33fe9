"""The ALB flow's functions each fit on a screen: ship_object and the handler read as named steps."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = ("chalicelib/alb/pipeline.py", "chalicelib/alb/handler.py")
SCREEN = 56  # lines of code a function may have, signature and docstring aside: render_lines' loop is the longest


def body_lines(fn: ast.FunctionDef) -> int:
    body = fn.body
    if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and len(body) > 1:
        body = body[1:]  # the docstring
    return fn.end_lineno - body[0].lineno + 1


def test_every_function_of_the_alb_flow_fits_on_a_screen():
    long = []
    for rel in MODULES:
        for node in ast.walk(ast.parse((ROOT / rel).read_text())):
            if isinstance(node, ast.FunctionDef) and body_lines(node) > SCREEN:
                long.append(f"{rel}:{node.lineno} {node.name}: {body_lines(node)} lines")
    assert not long, "split into named steps: " + "; ".join(long)


def test_ship_object_runs_its_named_steps():
    tree = ast.parse((ROOT / MODULES[0]).read_text())
    ship = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "ship_object")
    called = {n.func.id for n in ast.walk(ship) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert {"open_shipment", "ship_lines", "object_report"} <= called

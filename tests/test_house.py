"""The shape of the house, read from the source (ast): no import circles, flows apart, one registry.

A circle makes import order matter and drags modules onto paths that do not run
them (cold start); a flow importing another flow's handler ties the two together,
so every event kind is wired in one place instead: ``chalicelib/kinds.py``.
Every import counts here, inside functions too: a lazy import still closes a circle.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from chalicelib import failed, kinds, policies

ROOT = Path(__file__).resolve().parent.parent
FLOWS = ("alb", "logalerts", "alarms", "monitors", "athena", "dashboards", "insights")
# Below the flows: what several flows share. They import no flow at run time.
SHARED = ("slack", "filters", "cwlogs", "aws", "settings", "state", "console", "redact", "targets")
# The entry-point layer may import any handler: it is where they are wired.
ENTRY = ("app", "chalicelib.kinds", "chalicelib.cli")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    found = {_module_name(p): p for p in (ROOT / "chalicelib").rglob("*.py")}
    found["app"] = ROOT / "app.py"
    return found


def _type_checking_only(tree: ast.AST) -> set[int]:
    """Line numbers of imports under ``if TYPE_CHECKING:`` (annotations only, never run)."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", None)) == "TYPE_CHECKING":
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


def imports_of(source: str, known: set[str], run_time_only: bool = False) -> set[str]:
    """The opswatch modules ``source`` imports, anywhere in it (module level and inside functions)."""
    tree = ast.parse(source)
    skipped = _type_checking_only(tree) if run_time_only else set()
    out = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skipped:
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                out.add(sub if sub in known else node.module)
    return {m for m in out if m in known}


@cache
def graph(run_time_only: bool = False) -> dict[str, frozenset[str]]:
    known = set(modules())
    return {
        m: frozenset(imports_of(p.read_text(encoding="utf-8"), known, run_time_only) - {m})
        for m, p in modules().items()
    }


def circles(edges: dict[str, frozenset[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def flow_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "chalicelib" and parts[1] in FLOWS else None


def handler_modules() -> set[str]:
    """Every handler: the registry's, and any ``handler.py`` (a new one counts before it is registered)."""
    registered = {f.handler.partition(":")[0] for f in kinds.FUNCTIONS}
    return registered | {m for m in modules() if m.endswith(".handler")}


def test_the_checker_finds_a_circle_and_a_lazy_import():
    """The checks below can fail: a circle closed by an import inside a function is found."""
    known = {"a", "b", "c"}
    edges = {
        "a": frozenset({"b"}),
        "b": frozenset(imports_of("def f():\n    import c\n", known)),
        "c": frozenset({"a"}),
    }
    assert circles(edges) == [["a", "b", "c"]]
    assert circles({"a": frozenset({"b"}), "b": frozenset(), "c": frozenset({"a"})}) == []
    assert imports_of("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import a\n", known, True) == set()


def test_no_import_circles():
    assert circles(graph()) == [], "import circles (each list is one): break them by moving the shared part down"


def test_no_flow_imports_another_flows_handler():
    handlers = handler_modules()
    bad = []
    for module, targets in graph().items():
        if module.startswith(ENTRY):
            continue
        for target in sorted(targets & handlers):
            if flow_of(target) is None or flow_of(target) != flow_of(module):
                bad.append(f"{module} imports {target}")
    assert bad == [], "only the entry-point layer (chalicelib/kinds.py, app.py, the CLI) wires handlers"


def test_shared_helpers_sit_below_the_flows():
    bad = []
    for module, targets in graph(run_time_only=True).items():
        if module.split(".")[1:2] and module.split(".")[1] in SHARED:
            bad += [f"{module} imports {t}" for t in sorted(targets) if flow_of(t)]
    assert bad == []


def _is_route(fn: ast.FunctionDef) -> bool:
    """``@app.route(...)``: a view of the REST API (its Lambda is Chalice's ``api_handler``), not a function."""
    return any(isinstance(d, ast.Call) and getattr(d.func, "attr", None) == "route" for d in fn.decorator_list)


def _app_functions() -> dict[str, set[str]]:
    """Each function of app.py and the registry names it passes to ``handle``."""
    tree = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    out = {}
    for fn in tree.body:
        if isinstance(fn, ast.FunctionDef) and fn.decorator_list and not _is_route(fn):
            calls = [n for n in ast.walk(fn) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "handle"]
            out[fn.name] = {c.args[0].value for c in calls if c.args and isinstance(c.args[0], ast.Constant)}
    return out


def test_every_function_runs_its_handler_from_the_registry():
    functions = _app_functions()
    assert sorted(functions) == sorted(f.name for f in kinds.FUNCTIONS)
    for name, called in functions.items():
        assert called == {name}, f"app.py's {name} must run kinds.handle({name!r}, ...)"
    for f in kinds.FUNCTIONS:
        assert f.kind in kinds.KINDS
        assert callable(kinds.handler(f.name))
    assert set(failed.ASYNC_FUNCTIONS) <= {f.name for f in kinds.FUNCTIONS}  # `failed replay` finds each
    assert set(policies.KIND_OF) == {f.name for f in kinds.FUNCTIONS}  # each function has its policy
    assert kinds.handler("nope") is None


def test_each_route_imports_its_module_inside_the_view():
    """The API's views import their module on the first request, like the functions (cold start)."""
    tree = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    routes = [fn for fn in tree.body if isinstance(fn, ast.FunctionDef) and _is_route(fn)]
    assert [fn.name for fn in routes] == ["slack_actions_endpoint"]
    for fn in routes:
        inner = [n.module for n in ast.walk(fn) if isinstance(n, ast.ImportFrom)]
        assert inner and all(m.startswith("chalicelib.") for m in inner), fn.name
    assert set(policies.KIND_OF) | {policies.API_HANDLER} >= {"api_handler"}  # the API's function has its policy


def test_app_imports_no_handler_at_module_level():
    """Cold start: app.py imports each function's path inside that function only."""
    tree = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    top = {
        n.module if isinstance(n, ast.ImportFrom) else a.name
        for n in tree.body
        if isinstance(n, (ast.Import, ast.ImportFrom))
        for a in n.names
    }
    assert top <= {"chalice", "chalicelib"}


def test_each_kind_is_known_by_its_shape():
    assert kinds.kind_of({"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {}}}]}) == "s3"
    assert kinds.kind_of({"Records": [{"Sns": {"Message": "x"}}]}) == "sns"
    assert kinds.kind_of({"awslogs": {"data": "x"}}) == "awslogs"
    assert kinds.kind_of({"messageType": "DATA_MESSAGE", "logEvents": []}) == "awslogs"
    alarm = {"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change", "detail": {}}
    assert kinds.kind_of(alarm) == "eventbridge-alarm"
    assert kinds.kind_of({"source": "aws.events", "detail-type": "Scheduled Event"}) == "schedule"
    for other in ("text", 5, None, {"Records": "x"}, {"Records": [{"body": "{}"}]}):
        assert kinds.kind_of(other) == "message"

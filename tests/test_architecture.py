"""The layout's measurable promises (docs/architecture.md), checked on the source.

- Modules import only downward: no import cycle among skfnn's modules, imports
  inside functions included (a lazy import hides a cycle from Python, not from
  a reader).
- The base estimator keeps the estimator's own concerns: at most 25 methods and
  350 lines.
- Small units: no function over 60 code lines, over a cyclomatic complexity of
  20, or with more than 7 positional parameters (keyword-only options, like an
  estimator's ``__init__`` parameters, are named settings, not a sign of a
  function doing too much).
- The numpy / array-API choice is made in skfnn/_array_api.py: at most 3 ``is
  np`` tests elsewhere.
"""

import ast
from pathlib import Path

import pytest

import skfnn  # noqa: E402
from skfnn._base import BaseFNN

# The package under test (the installed wheel in .ci/run's minimum-versions run).
PACKAGE = Path(skfnn.__file__).resolve().parent
SOURCES = sorted(PACKAGE.rglob("*.py"))


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_package(name):
    return (PACKAGE.parent / name.replace(".", "/") / "__init__.py").exists()


def exists(name):
    base = PACKAGE.parent / name.replace(".", "/")
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def imported_modules(path):
    """The skfnn modules ``path`` imports, at any depth of its code."""
    name = module_name(path)
    package = name if is_package(name) else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "skfnn"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            elif (node.module or "").split(".")[0] == "skfnn":
                target = node.module
            else:
                continue
            # `from . import x` names a submodule when there is one, else a package attribute.
            subs = {f"{target}.{a.name}" for a in node.names if exists(f"{target}.{a.name}")}
            found |= subs if subs else {target}
    return found - {name}


def import_graph():
    return {module_name(p): imported_modules(p) for p in SOURCES}


def find_cycle(graph):
    """A list of modules forming an import cycle, or None."""
    state = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt, path + [nxt])
                if cycle:
                    return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start, [start])
            if cycle:
                return cycle
    return None


def test_the_cycle_finder_finds_a_cycle_and_lazy_imports():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    # A lazy import (inside a function) counts: _dask's fit calls into _fitting.
    assert "skfnn._fitting" in imported_modules(PACKAGE / "_dask.py")


def test_no_import_cycle_lazy_imports_included():
    graph = import_graph()
    assert len(graph) > 20
    assert find_cycle(graph) is None, find_cycle(graph)


def test_the_base_estimator_stays_small():
    source = (PACKAGE / "_base.py").read_text(encoding="utf-8")
    (cls,) = [n for n in ast.parse(source).body
              if isinstance(n, ast.ClassDef) and n.name == BaseFNN.__name__]
    methods = [n for n in cls.body if isinstance(n, ast.FunctionDef)]
    assert len(methods) <= 25, [m.name for m in methods]
    assert cls.end_lineno - cls.lineno + 1 <= 350


def complexity(function):
    """McCabe's number: 1 + the decision points of the function's own body."""
    decisions = 1
    for node in _own_nodes(function):
        if isinstance(node, (ast.If, ast.For, ast.While, ast.IfExp, ast.ExceptHandler,
                             ast.AsyncFor, ast.Assert, ast.match_case)):
            decisions += 1
        elif isinstance(node, ast.BoolOp):
            decisions += len(node.values) - 1
        elif isinstance(node, ast.comprehension):
            decisions += 1 + len(node.ifs)
    return decisions


def _own_nodes(function):
    """The nodes of a function, without those of the functions and classes it defines."""
    stack = list(ast.iter_child_nodes(function))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def code_lines(function, lines):
    """Lines of code of a function: not blank, not a comment, not its docstring."""
    body = lines[function.lineno - 1:function.end_lineno]
    doc = ast.get_docstring(function, clean=False)
    n_doc = 0
    if doc is not None:
        first = function.body[0]
        n_doc = first.end_lineno - first.lineno + 1
    return sum(1 for line in body if line.strip() and not line.strip().startswith("#")) - n_doc


def functions():
    for path in SOURCES:
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield f"{module_name(path)}.{node.name}", node, lines


def test_the_measures_catch_a_large_function():
    source = "def f(a, b, c, d, e, f, g, h, *, i=1):\n" + "".join(
        f"    if a > {k} and b:\n        c += {k}\n" for k in range(31))
    (node,) = ast.parse(source).body
    assert complexity(node) == 63 and code_lines(node, source.splitlines()) == 63
    assert len(node.args.posonlyargs + node.args.args) == 8


@pytest.mark.parametrize("measure, limit", [("code lines", 60), ("complexity", 20),
                                            ("positional parameters", 7)])
def test_no_function_is_too_large(measure, limit):
    too_large = {}
    for name, node, lines in functions():
        if measure == "code lines":
            value = code_lines(node, lines)
        elif measure == "complexity":
            value = complexity(node)
        else:
            args = node.args.posonlyargs + node.args.args
            value = len([a for a in args if a.arg not in ("self", "cls")])
        if value > limit and node.name != "__init__":
            too_large[name] = value
    assert not too_large, too_large


def test_the_namespace_choice_is_made_in_the_namespace_module():
    tests = []
    for path in SOURCES:
        if path.name == "_array_api.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare) and any(
                    isinstance(op, (ast.Is, ast.IsNot)) and isinstance(c, ast.Name)
                    and c.id == "np" for op, c in zip(node.ops, node.comparators, strict=True)):
                tests.append(f"{module_name(path)}:{node.lineno}")
    assert len(tests) <= 3, tests

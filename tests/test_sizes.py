"""Sizes that keep the package readable: no function body over 50 lines, no module over 450 lines.

A body is counted from its first statement after the docstring to its last line, so a long
docstring never counts against a function. Split a function by step and a module by concept
(README Layout) when one grows past these.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "weakseg"
MAX_BODY_LINES = 50
MAX_MODULE_LINES = 450
MODULES = sorted(PACKAGE.rglob("*.py"))


def body_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of ``node``'s body, without its docstring."""
    body = node.body
    if (
        isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        body = body[1:]
    return 0 if not body else body[-1].end_lineno - body[0].lineno + 1


def long_functions(source: str, limit: int = MAX_BODY_LINES) -> list[tuple[str, int, int]]:
    """``(name, line, body lines)`` of every function or method of ``source`` whose body exceeds ``limit``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and body_lines(node) > limit:
            found.append((node.name, node.lineno, body_lines(node)))
    return found


def test_the_check_counts_a_body_without_its_docstring():
    short = 'def f():\n    """Doc.\n\n    More.\n    """\n' + "    x = 1\n" * 50
    long = "def g():\n" + "    x = 1\n" * 51
    nested = "class C:\n    def h(self):\n" + "        x = 1\n" * 51
    assert long_functions(short) == []
    assert long_functions(long) == [("g", 1, 51)]
    assert long_functions(nested) == [("h", 2, 51)]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_and_function_sizes(path):
    source = path.read_text(encoding="utf-8")
    lines = len(source.splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path}: {lines} lines (at most {MAX_MODULE_LINES}); split it by concept"
    assert long_functions(source) == [], f"{path}: function bodies over {MAX_BODY_LINES} lines; split them"

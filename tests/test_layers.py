"""The package's layers: every module belongs to one, imports only go downwards, and there is no circle.

The order is the README's Layout table; a new upward import (a lower layer reaching into a
higher one) or a module outside the layers fails here, naming the file and the import.
"""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "weakseg"
#: Bottom to top. A module may import its own layer and the layers before it.
LAYERS = ("io", "weak", "methods", "design", "formats", "datasets", "data", "learn", "report", "ops")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def imports_of(path: Path) -> set[str]:
    """Every weakseg module ``path`` imports, function-level imports included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("weakseg"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if module_path(candidate) else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("weakseg"))
    return found


def module_path(module: str) -> Path | None:
    base = REPO.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def test_the_layers_exist_and_hold_every_module():
    assert {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()} == set(LAYERS)
    outside = [m for m in MODULES if m != "weakseg" and layer_of(m) is None]
    assert outside == [], f"modules outside the layers {LAYERS}: {outside}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_only_go_downwards(module):
    own = layer_of(module)
    upward = [
        imported
        for imported in sorted(imports_of(MODULES[module]))
        if layer_of(imported) is not None and own is not None and layer_of(imported) > own
    ]
    assert upward == [], f"{MODULES[module].relative_to(REPO)} (layer {LAYERS[own]}) imports a higher layer: {upward}"


def test_no_import_circle():
    graph = {m: {i for i in imports_of(p) if i in MODULES and i != m} for m, p in MODULES.items()}
    # A package's face (__init__) re-exports its members; an edge into it is an edge into them.
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                raise AssertionError("import circle: " + " -> ".join(stack[stack.index(nxt) :] + [nxt]))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_the_check_sees_an_upward_import(tmp_path):
    """The check itself: a data-layer file importing the learn layer is found."""
    bad = tmp_path / "bad.py"
    bad.write_text("from weakseg.learn.models import build_model\n")
    assert layer_of("weakseg.data.bad") < max(layer_of(i) for i in imports_of(bad))

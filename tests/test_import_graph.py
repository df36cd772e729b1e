"""The package's import graph: no cycle, and the parts never reach up into the kit.

Every perfkit module is parsed with `ast`; each perfkit-internal import is an edge, the
ones inside functions (lazy imports) included, the ones under ``if TYPE_CHECKING:`` left
out (they never run). A cycle, even a lazy one, means two modules cannot be understood,
tested or moved apart; the kit composes its parts from above, so no part imports it.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "perfkit"

# may import perfkit.kit: the kit itself, the public facades above it and the host glue
KIT_USERS = (
    "perfkit",
    "perfkit.kit",
    "perfkit.wsgi",
    "perfkit.asgi",
    "perfkit.monitor",
    "perfkit.testing",
    "perfkit.middleware.",
    "perfkit.integrations.",
    "perfkit.cli.",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement under `node`, at any depth, except TYPE_CHECKING blocks."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.orelse:
                yield from _import_nodes(ast.Module(body=[stmt], type_ignores=[]))
            continue
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        yield from _import_nodes(child)


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The perfkit modules `name` imports (a name imported from a package that is itself a
    module counts as that module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            if node.level:
                base = package.split(".")
                if node.level > 1:
                    base = base[: -(node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets = []
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                targets.append(submodule if submodule in modules else source)
        found.update(t for t in targets if t in modules and t != name)
    return found


@functools.cache
def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as ``[a, b, ..., a]``, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in sorted(graph):
        if root in state:
            continue
        path = [root]
        stack = [iter(sorted(graph[root]))]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def may_import_kit(name: str) -> bool:
    return any(name == user or (user.endswith(".") and name.startswith(user)) for user in KIT_USERS)


def test_the_graph_is_read_from_real_modules() -> None:
    graph = import_graph()
    assert len(graph) > 100
    assert "perfkit.metrics.registry" in graph["perfkit.kit"]
    # a lazy import counts; a TYPE_CHECKING one does not
    assert "perfkit.logs" in graph["perfkit.kit"]
    assert "perfkit.system" not in graph["perfkit"]
    assert "perfkit.kit" in graph["perfkit"]


def test_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_find_cycle_reports_the_loop() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_part_imports_the_kit() -> None:
    offenders = sorted(
        name
        for name, imported in import_graph().items()
        if "perfkit.kit" in imported and not may_import_kit(name)
    )
    assert offenders == [], f"these parts import perfkit.kit (pass what they need in): {offenders}"

"""The house keeps its shape: no import circle, and the pure core imports nothing of the shell."""

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "src" / "expset"


def module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The expset modules ``path`` imports anywhere (functions included), except for type checking only."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_checking = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING"
        for node in ast.walk(block)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in type_checking:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {name for name in names if name in known}
    return found - {module_name(path)}


def import_graph() -> dict[str, set[str]]:
    paths = [path for path in SOURCE.rglob("*.py") if "examples" not in path.parts]
    known = {module_name(path) for path in paths}
    graph = {module_name(path): imports_of(path, known) for path in paths}
    # importing expset.a.b runs expset.a's __init__ too, but those are empty: an arrow to a package is no arrow
    return {module: {target for target in targets if target != "expset"} for module, targets in graph.items()}


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> list[str] | None:
        if module in visiting:
            return [*visiting[visiting.index(module) :], module]
        if module in done:
            return None
        visiting.append(module)
        for target in sorted(graph.get(module, ())):
            circle = visit(target)
            if circle:
                return circle
        visiting.pop()
        done.add(module)
        return None

    for module in sorted(graph):
        circle = visit(module)
        if circle:
            return circle
    return None


def test_no_module_imports_one_that_imports_it_back():
    assert find_circle(import_graph()) is None


def test_the_core_imports_only_the_core_and_the_errors():
    for module, targets in import_graph().items():
        if module.startswith("expset.core."):
            outside = {t for t in targets if not t.startswith("expset.core") and t != "expset.errors"}
            assert not outside, (module, outside)


def test_the_circle_finder_finds_a_circle():
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]

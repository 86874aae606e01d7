"""Package structure: no import cycles (imports anywhere in a file count, lazy ones too) and argument
parsing only under uniimage/cli."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "uniimage"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imported(module: str, path: Path, node) -> list[str]:
    """The uniimage modules one import statement loads (`from pkg import sub` -> pkg.sub, else pkg)."""
    if isinstance(node, ast.Import):
        targets = [a.name for a in node.names]
    else:
        base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        if node.level:
            base = base[: len(base) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        targets = [f"{target}.{a.name}" if f"{target}.{a.name}" in MODULES else target for a in node.names]
    found = []
    for t in targets:
        while t and t not in MODULES:
            t = t.rpartition(".")[0]
        if t and t != module:
            found.append(t)
    return found


def import_graph() -> dict[str, set[str]]:
    return {m: {t for node in ast.walk(ast.parse(p.read_text())) if isinstance(node, (ast.Import, ast.ImportFrom))
                for t in imported(m, p, node)} for m, p in MODULES.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_walker_finds_a_planted_cycle():
    graph = import_graph()
    assert "uniimage.pipelines.pipeline_uniimage" in graph["uniimage.pipelines"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_argument_parsing_only_under_cli():
    parsing = sorted(m for m, p in MODULES.items() if not m.startswith("uniimage.cli")
                     and any(isinstance(n, (ast.Import, ast.ImportFrom)) and "argparse" in imported_names(n)
                             for n in ast.walk(ast.parse(p.read_text()))))
    assert parsing == []


def imported_names(node) -> list[str]:
    return [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) and node.module else [])

"""The import direction of docs/architecture.md is a rule: runbook <- steps <- rollback <- launchctl,
and each third-party library lives in its one place."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ORDER = ["runbook", "steps", "rollback", "launchctl"]
LIBRARY_HOMES = {
    "yaml": {"runbook"},
    "fabric": {"steps"},
    "paramiko": {"steps"},
    "invoke": {"steps"},
    "httpx": {"steps"},
    "click": {"launchctl"},
    "rich": {"launchctl"},
    "tenacity": {"steps", "rollback", "launchctl"},
    "tree_sitter": {"runbook"},
    "tree_sitter_bash": {"runbook"},
}


def _imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name.split(".")[0], node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module.split(".")[0], node.lineno))
    return found


def _modules() -> list[tuple[str, Path]]:
    return [(package, path) for package in ORDER for path in sorted((REPO / package).rglob("*.py"))]


@pytest.mark.parametrize(
    "package,path", _modules(), ids=lambda v: str(v.relative_to(REPO)) if isinstance(v, Path) else v
)
def test_imports_go_one_way_and_libraries_stay_home(package, path):
    rank = ORDER.index(package)
    for module, line in _imports(path):
        if module in ORDER:
            assert ORDER.index(module) <= rank, (
                f"{path.relative_to(REPO)}:{line} imports {module} (against the direction)"
            )
        homes = LIBRARY_HOMES.get(module)
        if homes is not None:
            assert package in homes, (
                f"{path.relative_to(REPO)}:{line} imports {module}, which lives in {sorted(homes)}"
            )


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys; from launchctl.cli import run_cli; run_cli(['--help']);"
        "print('loaded=' + ','.join(m for m in ('fabric', 'paramiko', 'httpx', 'rich', 'tenacity', 'tree_sitter', 'structlog') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "loaded="


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package_graph(package: str) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports (at any depth, lazy imports included)."""
    modules = {_module_name(p): p for p in (REPO / package).rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for target in targets:
                if target in modules and target != name and modules[target].name != "__init__.py":
                    graph[name].add(target)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


@pytest.mark.parametrize("package", ORDER)
def test_no_import_cycles_inside_a_package(package):
    """A split where two modules import each other (even lazily) is not a seam (docs/architecture.md)."""
    cycle = _cycle(_package_graph(package))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def _runbook_imports(path: Path) -> list[tuple[str, int]]:
    """The ``runbook`` modules a file imports, by full name (``from runbook import v1`` counts)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found.extend((name, node.lineno) for name in names if name.startswith("runbook."))
    return found


def _within(module: str, allowed: tuple[str, ...]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in allowed)


@pytest.mark.parametrize(
    "owner,allowed",
    [
        # The engine declares formats and knows none: itself, the error tree, ``@value``.
        ("runbook/schema", ("runbook.schema", "runbook.errors", "runbook.values")),
        # The checklist is a format of its own on the engine, not a part of the runbook's.
        ("runbook/checklist.py", ("runbook.schema", "runbook.errors", "runbook.values")),
    ],
)
def test_the_schema_engine_imports_no_format(owner, allowed):
    """runbook/schema/ is reusable for any YAML format (docs/architecture.md)."""
    root = REPO / owner
    for path in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
        for module, line in _runbook_imports(path):
            assert _within(module, allowed), (
                f"{path.relative_to(REPO)}:{line} imports {module}; {owner} may import only {allowed}"
            )

"""The house rules of the code base, read from the source (ast), not from what happens to run:
imports point down the layers `core <- features <- models <- training <- serving` (and, inside
serving, `db/periodic/migrations <- alerting <- reports <- api <- cli/pipeline`), no circle of
modules, no module over 450 lines. Imports inside functions and `TYPE_CHECKING` blocks count
as arrows."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "features", "models", "training", "serving")
# inside serving, by the first two parts of a module name; anything else in serving is rank 0
SERVING_ROOMS = {"serving.alerting": 1, "serving.reports": 2, "serving.api": 3, "serving.cli": 4,
                 "serving.pipeline": 4}
MAX_LINES = 450
LONG_FILE_EXCEPTIONS = ("features/synthetic_catalog.py",)  # the synthetic world's data tables


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _source_files() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (REPO / package).rglob("*.py")
                  if ".venv" not in p.parts)


def _resolve(name: str, known: set[str]) -> str | None:
    """The longest prefix of a dotted import that is one of our modules."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def import_graph() -> dict[str, set[str]]:
    """Module -> our modules it imports (every Import/ImportFrom anywhere in its source)."""
    files = {_module_name(p): p for p in _source_files()}
    known = set(files)
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative import
                    anchor = module.split(".") if is_package else module.split(".")[:-1]
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                names = [f"{base}.{alias.name}" for alias in node.names] + [base]
            for name in names:
                target = _resolve(name, known)
                if target and target != module:
                    targets.add(target)
        graph[module] = targets
    return graph


def rank(module: str) -> tuple[int, int]:
    top = module.split(".")[0]
    room = SERVING_ROOMS.get(".".join(module.split(".")[:2]), 0) if top == "serving" else 0
    return PACKAGES.index(top), room


def upward_arrows(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{module} -> {target}" for module, targets in graph.items()
                  for target in targets if rank(target) > rank(module))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_import_points_down_the_layers():
    graph = import_graph()
    assert len(graph) > 50  # the walk found the code base
    assert upward_arrows(graph) == []


def test_no_circle_of_modules():
    assert cycles(import_graph()) == []


def test_no_module_is_longer_than_450_lines():
    long = {}
    for path in _source_files():
        relative = path.relative_to(REPO).as_posix()
        if relative in LONG_FILE_EXCEPTIONS or "/migrations/versions/" in relative:
            continue
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            long[relative] = lines
    assert long == {}


@pytest.mark.parametrize(("graph", "arrows", "circles"), [
    ({"core.a": {"features.b"}, "features.b": set()}, ["core.a -> features.b"], []),
    ({"serving.alerting.x": {"serving.api.y"}, "serving.api.y": set()},
     ["serving.alerting.x -> serving.api.y"], []),
    ({"models.a": {"models.b"}, "models.b": {"models.c"}, "models.c": {"models.a"}}, [],
     [["models.a", "models.b", "models.c"]]),
    ({"training.a": {"models.b", "core.c"}, "models.b": {"core.c"}, "core.c": set()}, [], []),
])
def test_the_checks_find_known_upward_arrows_and_circles(graph, arrows, circles):
    assert upward_arrows(graph) == arrows
    assert cycles(graph) == circles


def test_the_registered_model_code_imports_only_what_stays_in_place():
    """Registered versions carry `training/pyfunc_model.py` as it was when logged: it may import
    only `training.pyfunc`, so that versions from before a move keep loading."""
    graph = import_graph()
    assert graph["training.pyfunc_model"] == {"training.pyfunc"}
    assert "ForecastBundle" in (REPO / "training" / "pyfunc.py").read_text(encoding="utf-8")

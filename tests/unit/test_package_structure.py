"""The layer's shape, checked: no import cycles, `core` at the bottom, `steps` at the top, local mode kept out of
deployed code, and no workflow or workforce branch outside `projects.py`, the two registries and a plug-in's own
package.

Imports are read with `ast` (module level and inside functions alike: a function-level import that only dodges a
cycle is still a cycle); imports under `if TYPE_CHECKING:` are left out, since they never run.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAYER = REPO / "layers" / "groundcrew"
FUNCTIONS = REPO / "functions"


def _module_name(path: Path) -> str:
    parts = path.relative_to(LAYER).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


LAYER_FILES = {_module_name(path): path for path in (LAYER / "groundcrew").rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node, except the bodies of `if TYPE_CHECKING:` blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def imported_modules(path: Path) -> set[str]:
    """The modules a file imports at run time (`from a import b` names module `a.b` when that is a module)."""
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in LAYER_FILES else node.module)
    return found


def layer_graph() -> dict[str, set[str]]:
    return {
        name: {m for m in imported_modules(path) if m in LAYER_FILES and m != name}
        for name, path in LAYER_FILES.items()
    }


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
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_layer_has_no_import_cycles() -> None:
    assert cycles(layer_graph()) == []


def test_cycles_are_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_core_imports_nothing_of_ours_outside_core() -> None:
    outside = {
        f"{name} imports {target}"
        for name, targets in layer_graph().items()
        if name.startswith("groundcrew.core")
        for target in targets
        if not target.startswith("groundcrew.core") and target != "groundcrew"
    }
    assert outside == set()


def test_nothing_in_the_layer_imports_the_steps() -> None:
    importers = {
        f"{name} imports {target}"
        for name, targets in layer_graph().items()
        if not name.startswith("groundcrew.steps")
        for target in targets
        if target.startswith("groundcrew.steps")
    }
    assert importers == set()


WORKFLOW_PACKAGE_PREFIX = "groundcrew.workflows."
GENERIC_PACKAGES = ("groundcrew.core", "groundcrew.consensus", "groundcrew.intake", "groundcrew.steps")


def _workflow_package(module: str) -> str | None:
    """`keypoints` for groundcrew.workflows.keypoints.x; None for the registry, the plug-in protocol and the rest."""
    parts = module.split(".")
    return parts[2] if module.startswith(WORKFLOW_PACKAGE_PREFIX) and len(parts) > 3 else None


def test_workflow_packages_are_reached_only_through_the_registry() -> None:
    """A workflow package imports no other one, and the generic packages import none: they ask the registry."""
    found = set()
    for name, targets in layer_graph().items():
        home = _workflow_package(name)
        for target in targets:
            other = _workflow_package(target)
            if other is None or other == home:
                continue
            if home is not None or name.startswith(GENERIC_PACKAGES):
                found.add(f"{name} imports {target}")
    assert found == set()


def test_deployed_code_never_imports_local_mode() -> None:
    deployed = [*LAYER_FILES.values(), *FUNCTIONS.rglob("*.py")]
    offenders = {
        str(path.relative_to(REPO))
        for path in deployed
        if any(m == "groundcrew_local" or m.startswith("groundcrew_local.") for m in imported_modules(path))
    }
    assert offenders == set()


# --- workflow and workforce branches -------------------------------------------------------------------------------

WORKFLOW_PACKAGES = {  # which plug-in package owns which Workflow members
    "IMAGE_CLASSIFICATION": "classification",
    "KEYPOINTS": "keypoints",
    "SEMANTIC_SEGMENTATION_ADJUSTMENT": "adjustment",
    "BOUNDING_BOX_ADJUSTMENT": "adjustment",
    "POINT_CLOUD_DETECTION": "point_cloud",
    "POINT_CLOUD_TRACKING": "point_cloud",
    "POINT_CLOUD_SEGMENTATION": "point_cloud",
}
WORKFLOW_PROPERTIES = {"adjusts_imports", "is_point_cloud"}
OPTION_SECTIONS = {"keypoints": "keypoints", "adjustment": "adjustment", "pointcloud": "point_cloud"}
WORKFORCE_KINDS = {"groundtruth": "ground_truth", "mturk": "mturk", "labelstudio": "labelstudio"}
MAY_BRANCH = {"groundcrew/projects.py", "groundcrew/core/vocabulary.py"}
REGISTRIES = {"groundcrew/workflows/registry.py", "groundcrew/workforces/registry.py"}


@dataclass(frozen=True, order=True)
class Branch:
    file: str
    line: int
    what: str


def _owner(relative: str, kind: str) -> str | None:
    """The plug-in package a layer file belongs to (`keypoints` for groundcrew/workflows/keypoints/...)."""
    parts = relative.split("/")
    return parts[2] if len(parts) > 3 and parts[1] == kind else None


def branches(path: Path, relative: str) -> Iterator[Branch]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    workflow_home = _owner(relative, "workflows")
    workforce_home = _owner(relative, "workforces")
    asserted = {id(n) for a in ast.walk(tree) if isinstance(a, ast.Assert) for n in ast.walk(a.test)}
    for node in _runtime_nodes(tree):
        if id(node) in asserted:
            continue  # `assert project.keypoints is not None` narrows a type; it chooses nothing
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id == "Workflow" and node.attr.isupper():
                if WORKFLOW_PACKAGES.get(node.attr) != workflow_home:
                    yield Branch(relative, node.lineno, f"Workflow.{node.attr}")
            elif node.attr in WORKFLOW_PROPERTIES:
                yield Branch(relative, node.lineno, f".{node.attr}")
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for operand in operands:
                if (
                    isinstance(operand, ast.Attribute)
                    and operand.attr == "kind"
                    and isinstance(operand.value, ast.Attribute)
                    and operand.value.attr == "workforce"
                    and workforce_home is None
                ):
                    yield Branch(relative, node.lineno, "workforce.kind")
                if (
                    isinstance(operand, ast.Constant)
                    and operand.value in WORKFORCE_KINDS
                    and WORKFORCE_KINDS[str(operand.value)] != workforce_home
                ):
                    yield Branch(relative, node.lineno, f"compares with {operand.value!r}")
                if (
                    isinstance(operand, ast.Attribute)
                    and operand.attr in OPTION_SECTIONS
                    and any(isinstance(o, ast.Constant) and o.value is None for o in operands)
                    and OPTION_SECTIONS[operand.attr] != workflow_home
                ):
                    yield Branch(relative, node.lineno, f".{operand.attr} is None")


def all_branches() -> list[Branch]:
    found: list[Branch] = []
    for path in LAYER_FILES.values():
        relative = path.relative_to(LAYER).as_posix()
        if relative not in MAY_BRANCH | REGISTRIES:
            found.extend(branches(path, relative))
    for path in FUNCTIONS.rglob("*.py"):
        found.extend(branches(path, path.relative_to(REPO).as_posix()))
    return sorted(found)


def _per_file(found: list[Branch]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for branch in found:
        counts[branch.file] += 1
    return dict(counts)


def test_workflows_and_workforces_are_only_branched_on_in_projects_and_registries() -> None:
    found = all_branches()
    assert _per_file(found) == {}, "\n".join(f"{b.file}:{b.line}: {b.what}" for b in found)


def test_branches_are_found(tmp_path: Path) -> None:
    source = tmp_path / "step.py"
    source.write_text(
        "if project.workflow is Workflow.KEYPOINTS or project.workflow.is_point_cloud:\n"
        "    pass\n"
        "if project.workforce.kind == 'mturk' or project.pointcloud is not None:\n"
        "    pass\n",
        encoding="utf-8",
    )
    found = sorted(b.what for b in branches(source, "groundcrew/steps/step.py"))
    assert found == [
        ".is_point_cloud",
        ".pointcloud is None",
        "Workflow.KEYPOINTS",
        "compares with 'mturk'",
        "workforce.kind",
    ]
    inside = {b.what for b in branches(source, "groundcrew/workflows/keypoints/batches.py")}
    assert "Workflow.KEYPOINTS" not in inside


# --- small functions ------------------------------------------------------------------------------------------------

MAX_FUNCTION_LINES = 60  # past about 60 lines a function reads better as named chapters (ruff checks complexity)


def long_functions(paths: list[Path], root: Path = REPO) -> list[str]:
    found = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                length = (node.end_lineno or node.lineno) - start + 1
                if length > MAX_FUNCTION_LINES:
                    found.append(f"{path.relative_to(root)}:{start}: {node.name} is {length} lines")
    return found


def test_no_function_of_the_layer_or_a_handler_is_longer_than_60_lines() -> None:
    assert long_functions([*LAYER_FILES.values(), *FUNCTIONS.rglob("*.py")]) == []


def test_long_functions_are_found(tmp_path: Path) -> None:
    source = tmp_path / "long.py"
    source.write_text("def short():\n    pass\n\n\ndef long():\n" + "    x = 1\n" * 61, encoding="utf-8")
    assert long_functions([source], root=tmp_path) == ["long.py:5: long is 62 lines"]


def test_every_package_is_listed_for_installation() -> None:
    """setuptools installs only the packages pyproject.toml lists: a new subpackage must be added there."""
    import tomllib

    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    roots = {"groundcrew": LAYER / "groundcrew", "groundcrew_local": REPO / "local" / "groundcrew_local"}
    found = {
        ".".join((name, *init.parent.relative_to(root).parts))
        for name, root in roots.items()
        for init in root.rglob("__init__.py")
        if "sample_data" not in init.parts
    }
    assert found - listed == set()

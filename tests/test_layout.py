"""The code's shape, checked: no import cycle among the project's modules, no use of another
module's private names, no module over 400 lines, no engine-name comparison outside
sparkify/engines, and CONTRIBUTING.md's layout lists every module."""

import ast
import re

import pytest

from conftest import ROOT

ENGINE_NAMES = {"postgres", "redshift"}
MAX_LINES = 400


def project_modules() -> dict[str, object]:
    """Dotted name -> path of every module of the project (the scripts and the package)."""
    paths = [path for path in ROOT.glob("*.py")] + sorted((ROOT / "sparkify").rglob("*.py"))
    modules = {}
    for path in paths:
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


MODULES = project_modules()


def package_of(name: str) -> str:
    return name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]


def imports(name: str, source: str | None = None) -> dict[str, str]:
    """The project modules ``name`` imports (anywhere in it, lazy imports too): local name -> module;
    ``module:name`` -> module for a name imported from a module."""
    tree = ast.parse(source if source is not None else MODULES[name].read_text())
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES:
                    found[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = package_of(name).split(".")
                package = package[:len(package) - node.level + 1]
                base = ".".join(package + ([node.module] if node.module else []))
            for alias in node.names:
                target = f"{base}.{alias.name}" if base else alias.name
                if target in MODULES:  # a module of a package: from . import loader
                    found[alias.asname or alias.name] = target
                elif base in MODULES:
                    found[f"{base}:{alias.name}"] = base
    return found


def graph() -> dict[str, set[str]]:
    return {name: set(imports(name).values()) - {name} for name in MODULES}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan)."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in edges[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def test_the_import_graph_is_read():
    """The checks below see the imports they are about (a parser that saw none would pass them)."""
    edges = graph()
    assert {"sparkify.loader.load", "sparkify.sources", "sql_queries"} <= edges["sparkify.loader"] | edges[
        "sparkify.loader.load"]
    assert "sparkify.engines.postgres" in edges["sparkify.engines.redshift"]
    assert "sparkify.s3" in edges["sparkify.sources"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle():
    assert cycles(graph()) == []


def private_uses(name: str, source: str | None = None) -> list[str]:
    """``module._name`` and ``from module import _name`` for another project module."""
    source = source if source is not None else MODULES[name].read_text()
    bound = imports(name, source)
    modules = {local: target for local, target in bound.items() if ":" not in local}
    found = []
    for key, target in bound.items():
        if ":" in key and key.split(":")[1].startswith("_") and target != name:
            found.append(f"from {target} import {key.split(':')[1]}")
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            found.append(f"{node.value.id}.{node.attr} (line {node.lineno})")
    return found


def test_private_uses_are_found():
    source = "from . import loader\nfrom .config import _Reader\nimport sql_queries as q\nloader._x\nq._KEYS\n"
    assert private_uses("sparkify.pipeline", source) == ["from sparkify.config import _Reader", "loader._x (line 4)",
                                                          "q._KEYS (line 5)"]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_uses_another_modules_private_names(name):
    assert private_uses(name) == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_over_400_lines(name):
    lines = MODULES[name].read_text().count("\n")
    assert lines <= MAX_LINES, f"{MODULES[name].relative_to(ROOT)} has {lines} lines"


def engine_name_comparisons(path) -> list[int]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(isinstance(o, ast.Constant) and o.value in ENGINE_NAMES for o in operands):
                found.append(node.lineno)
    return found


def test_engine_name_comparisons_are_found(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text('if engine == "redshift":\n    pass\nx = "postgres" != y\n')
    assert engine_name_comparisons(probe) == [1, 3]


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not n.startswith("sparkify.engines")))
def test_no_engine_name_comparison_outside_the_engines(name):
    assert engine_name_comparisons(MODULES[name]) == []


def contributing_layout() -> list[str]:
    text = (ROOT / "CONTRIBUTING.md").read_text()
    layout = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([^`]+)` \|", layout, re.MULTILINE)


def test_contributing_lists_every_module_and_only_files_that_exist():
    listed = contributing_layout()
    modules = {str(path.relative_to(ROOT)) for path in MODULES.values()}
    assert sorted(modules - set(listed)) == []  # every module has its line
    assert [entry for entry in listed if not (ROOT / entry).exists()] == []
    assert len(listed) == len(set(listed))


def test_test_modules_share_helpers_through_conftest_only():
    """A helper one test module imports from another belongs in conftest.py."""
    found = []
    for path in sorted((ROOT / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module] if isinstance(node, ast.ImportFrom) else [
                alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            found += [f"{path.name}: {name}" for name in names if name and name.startswith("test_")]
    assert found == []

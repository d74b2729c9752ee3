"""The package's shape: imports go one way, and no module or class outgrows what a reader can hold."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "gjobs"
#: Lines a module may have at most, and a class.
MODULE_LINES = 400
CLASS_LINES = 250


def modules():
    """``name -> path`` of every module of the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _type_checking_only(node):
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports(name, path, known):
    """The package modules ``name`` imports, anywhere in it but under ``if TYPE_CHECKING``."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    skipped = {id(n) for node in ast.walk(tree) if _type_checking_only(node) for n in ast.walk(node)}
    targets = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
    return {target for target in targets if target in known and target != name}


def test_no_module_imports_itself_back_through_others():
    known = modules()
    graph = {name: imports(name, path, known) for name, path in known.items()}
    state, cycles = {}, []

    def visit(name, trail):
        state[name] = "open"
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                cycles.append(trail[trail.index(target):] + [target])
            elif target not in state:
                visit(target, trail + [target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_the_import_walk_sees_a_cycle_when_there_is_one(tmp_path):
    """The check above can fail: two modules that import each other are found."""
    (tmp_path / "a.py").write_text("from . import b\n")
    (tmp_path / "b.py").write_text("from .a import thing\n")
    known = {"p.a": tmp_path / "a.py", "p.b": tmp_path / "b.py"}
    assert imports("p.a", known["p.a"], known) == {"p.b"}
    assert imports("p.b", known["p.b"], known) == {"p.a"}


@pytest.mark.parametrize("name", sorted(modules()))
def test_modules_stay_short(name):
    assert len(modules()[name].read_text().splitlines()) <= MODULE_LINES


@pytest.mark.parametrize("name", sorted(modules()))
def test_classes_stay_small(name):
    tree = ast.parse(modules()[name].read_text())
    sizes = {node.name: node.end_lineno - node.lineno + 1 for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}
    assert {cls: size for cls, size in sizes.items() if size > CLASS_LINES} == {}

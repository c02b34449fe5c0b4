"""The house rules of docs/architecture.md, kept honest.

Every import in the package (module level or inside a function) is read from the source with
Python's own ``ast`` module, so a lazy import cannot hide a layering violation. A failure names
the file, the line and the rule.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import ROOT

PACKAGE = ROOT / "mqldsl"

# Lowest first. A module may import the package's modules of its own layer and of lower layers.
LAYERS = [
    "language", "analysis", "engine", "io", "warehouse", "simulation", "render", "api", "lsp", "cli"
]  # fmt: skip
ONLY_IMPORTER = {"lark": "language", "click": "cli", "pygls": "lsp", "lsprotocol": "lsp"}
HARD_CEILING = 800  # lines


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. mqldsl.analysis.checker
    target: str  # the imported module, e.g. mqldsl.language.ast
    names: tuple[str, ...]  # the names taken from it (from ... import a, b)
    path: Path
    line: int


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in ("api", "__init__"):
        return "api"
    if parts[1] == "__main__":
        return "cli"
    return parts[1]


def imports_of(path: Path, module: str | None = None) -> Iterator[Import]:
    module = module or module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, (), path, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = tuple(alias.name for alias in node.names)
            # `from mqldsl.language import ast` imports the module mqldsl.language.ast.
            submodules = [f"{target}.{name}" for name in names]
            if any(_is_module(sub) for sub in submodules):
                for sub, name in zip(submodules, names, strict=True):
                    yield Import(
                        module, sub if _is_module(sub) else target, (name,), path, node.lineno
                    )
            else:
                yield Import(module, target, names, path, node.lineno)


def _is_module(dotted: str) -> bool:
    base = ROOT.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


SOURCES = sorted(PACKAGE.rglob("*.py"))
IMPORTS = [imp for path in SOURCES for imp in imports_of(path)]


def where(imp: Import) -> str:
    return f"{imp.path.relative_to(ROOT)}:{imp.line}"


def test_the_layers_cover_every_package() -> None:
    found = {layer(module_name(path)) for path in SOURCES}
    assert found <= set(LAYERS), f"packages without a layer: {sorted(found - set(LAYERS))}"


def test_a_lower_layer_never_imports_a_higher_one() -> None:
    wrong = [
        f"{where(imp)}: {imp.module} ({layer(imp.module)}) imports {imp.target} ({layer(imp.target)})"
        for imp in IMPORTS
        if imp.target.split(".")[0] == "mqldsl"
        and LAYERS.index(layer(imp.target)) > LAYERS.index(layer(imp.module))
    ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("library", sorted(ONLY_IMPORTER))
def test_only_one_layer_imports_each_framework(library: str) -> None:
    wrong = [
        f"{where(imp)}: {imp.module} imports {imp.target}"
        for imp in IMPORTS
        if imp.target.split(".")[0] == library and layer(imp.module) != ONLY_IMPORTER[library]
    ]
    assert not wrong, "\n".join(wrong)


def test_no_module_takes_a_private_name_from_another_module() -> None:
    wrong = [
        f"{where(imp)}: {imp.module} takes {', '.join(n for n in imp.names if _private(n))} from {imp.target}"
        for imp in IMPORTS
        if imp.target.split(".")[0] in ("mqldsl", "lark")
        and imp.target != imp.module
        and any(_private(name) for name in imp.names)
    ]
    assert not wrong, "\n".join(wrong)


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_the_package_has_no_import_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for imp in IMPORTS:
        if imp.target.split(".")[0] == "mqldsl" and imp.target != imp.module:
            graph.setdefault(imp.module, set()).add(imp.target)
    # A package's __init__ that re-exports its own modules is not a cycle of ideas; the
    # front door (mqldsl/__init__.py) loads the library lazily, so it imports nothing here.
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_no_module_passes_the_ceiling() -> None:
    long = [
        f"{path.relative_to(ROOT)}: {n} lines"
        for path in SOURCES
        if (n := len(path.read_text().splitlines())) > HARD_CEILING
    ]
    assert not long, "\n".join(long)


def test_the_reader_sees_a_lazy_import_and_a_private_name(tmp_path: Path) -> None:
    """The rules above are only worth something if they can fail: an import inside a function,
    and a private name taken from another module, are both seen."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "def f() -> None:\n"
        "    from mqldsl.simulation import run\n"
        "    from mqldsl.engine.interpreter import _Ctx\n"
    )
    found = list(imports_of(probe, "mqldsl.language.probe"))
    assert [(imp.target, imp.line) for imp in found] == [
        ("mqldsl.simulation.run", 2),
        ("mqldsl.engine.interpreter", 3),
    ]
    assert LAYERS.index(layer(found[0].target)) > LAYERS.index(layer(found[0].module))
    assert _private(found[1].names[0])


def test_architecture_doc_names_every_package() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    missing = [name for name in packages if f"{name}/" not in text]
    assert not missing, f"docs/architecture.md does not describe: {missing}"
    # The layer order written in the doc is the order this test enforces.
    assert " < ".join(LAYERS) in text


def test_no_package_shadows_a_front_door_function() -> None:
    """``mqldsl.simulate(...)`` must stay the function even after ``mqldsl.simulation`` is
    imported: a subpackage named like a front-door function would replace it on first import."""
    import mqldsl

    modules = {p.stem if p.suffix == ".py" else p.name for p in PACKAGE.iterdir()}
    clashes = sorted(set(mqldsl.__all__) & modules)
    assert not clashes, f"these names are both a module and a front-door function: {clashes}"

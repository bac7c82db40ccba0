"""The project's import graph, read with `ast` from the source (nothing imported): every import of every
module, those inside functions too, `from pkg import name` resolved to the module `pkg.name` when it
is one, and every `_private` name one module takes from another."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Module:
    """One module: where it is, the project modules and outside packages it imports, the private
    names it takes from other modules (as "module._name" with the line)."""

    name: str
    path: Path
    imports: dict[str, int] = field(default_factory=dict)  # project module -> first line
    outside: dict[str, int] = field(default_factory=dict)  # top-level package outside the project -> line
    privates: list[tuple[str, int]] = field(default_factory=list)

    @property
    def file(self) -> str:
        return self.path.relative_to(ROOT).as_posix()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def read_project(packages: tuple[str, ...]) -> dict[str, Module]:
    """Every module under the given top-level packages, with its imports resolved."""
    paths = sorted(p for package in packages for p in (ROOT / package).rglob("*.py"))
    modules = {module_name(p): Module(module_name(p), p) for p in paths}
    for module in modules.values():
        _read(module, modules)
    return modules


def _read(module: Module, modules: dict[str, Module]) -> None:
    tree = ast.parse(module.path.read_text(encoding="utf-8"), filename=str(module.path))
    bound: dict[str, str] = {}  # a local name -> the project module it stands for
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                _import(module, modules, alias, node.lineno, bound)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, node)
            for alias in node.names:
                _import_from(module, modules, base, alias, node.lineno, bound)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            owner = _dotted(node.value, bound)
            if owner in modules and owner != module.name:
                module.privates.append((f"{owner}.{node.attr}", node.lineno))


def _import(module: Module, modules: dict[str, Module], alias: ast.alias, line: int, bound: dict) -> None:
    target = _nearest(alias.name, modules)
    if target is None:
        module.outside.setdefault(alias.name.split(".")[0], line)
        return
    _arrow(module, target, line)
    if alias.asname:
        bound[alias.asname] = alias.name
    else:
        bound[alias.name.split(".")[0]] = alias.name.split(".")[0]


def _import_from(module, modules, base: str, alias: ast.alias, line: int, bound: dict) -> None:
    if _nearest(base, modules) is None:
        module.outside.setdefault(base.split(".")[0], line)
        return
    submodule = f"{base}.{alias.name}"
    if submodule in modules:
        _arrow(module, submodule, line)
        bound[alias.asname or alias.name] = submodule
        return
    _arrow(module, _nearest(base, modules), line)
    if _is_private(alias.name) and base != module.name:
        module.privates.append((submodule, line))


def _arrow(module: Module, target: str, line: int) -> None:
    if target != module.name:
        module.imports.setdefault(target, line)


def _absolute(module: Module, node: ast.ImportFrom) -> str:
    """`from . import x` and `from ..y import z`, made absolute."""
    if not node.level:
        return node.module or ""
    package = module.name.split(".")
    if module.path.name != "__init__.py":
        package = package[:-1]
    package = package[: len(package) - node.level + 1]
    return ".".join(package + ([node.module] if node.module else []))


def _nearest(name: str, modules: dict[str, Module]) -> str | None:
    """The project module `name` names, or the closest package above it that is one."""
    parts = name.split(".")
    while parts:
        if ".".join(parts) in modules:
            return ".".join(parts)
        parts.pop()
    return None


def _dotted(node: ast.expr, bound: dict[str, str]) -> str | None:
    """`a.b.c` as the module path it names through an imported module, else None."""
    if isinstance(node, ast.Name):
        return bound.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _dotted(node.value, bound)
        return f"{owner}.{node.attr}" if owner else None
    return None


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def circles(modules: dict[str, Module]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(name: str) -> None:
        index[name] = low[name] = len(index)
        stack.append(name)
        for target in modules[name].imports:
            if target not in index:
                visit(target)
                low[name] = min(low[name], low[target])
            elif target in stack:
                low[name] = min(low[name], index[target])
        if low[name] == index[name]:
            component = []
            while (top := stack.pop()) != name:
                component.append(top)
            component.append(name)
            if len(component) > 1:
                found.append(sorted(component))

    for name in sorted(modules):
        if name not in index:
            visit(name)
    return found

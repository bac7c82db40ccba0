"""Which public names of the project's modules no production code uses, read with `ast`: functions,
classes and constants at the top of a module, and the public methods of its classes. A name counts as
used wherever production code (the modules read, its own included) loads it, imports it or spells it
as a string (getattr)."""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

from tests.support.imports import ROOT

_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


def unused(packages: tuple[str, ...], hooks: frozenset[str] = frozenset()) -> list[tuple[str, int, str]]:
    """(file, line, name) of every public definition under `packages` that no production code uses;
    `hooks` are method names a framework calls (never spelled in our code)."""
    trees = {
        p: ast.parse(p.read_text(encoding="utf-8")) for package in packages for p in (ROOT / package).rglob("*.py")
    }
    used = Counter(name for tree in trees.values() for name in _uses(tree))
    return [
        (path.relative_to(ROOT).as_posix(), line, name)
        for path, tree in sorted(trees.items())
        for name, line in _definitions(tree)
        if not used[name] and name not in hooks and not name.startswith("_")
    ]  # a private name is its module's


def _definitions(tree: ast.Module):
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield node.name, node.lineno
        if isinstance(node, ast.Assign):
            yield from ((target.id, node.lineno) for target in node.targets if isinstance(target, ast.Name))
        if isinstance(node, ast.ClassDef):
            yield from (
                (item.name, item.lineno)
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            )


def _uses(tree: ast.Module):
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            yield node.id
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            yield node.attr
        elif isinstance(node, ast.alias):
            yield node.name.rsplit(".", 1)[-1]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _IDENTIFIER.fullmatch(node.value):
            yield node.value


def used_by_tests(name: str, tests: Path = ROOT / "tests") -> list[str]:
    """The test modules that spell `name` as a word."""
    word = re.compile(rf"\b{re.escape(name)}\b")
    return sorted(
        p.relative_to(tests.parent).as_posix()
        for p in tests.rglob("*.py")
        if word.search(p.read_text(encoding="utf-8"))
    )

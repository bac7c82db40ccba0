"""The house rules, read from the source with `ast` (tests/support/imports.py, uses.py): no import circle,
counting imports inside functions, and no module taking another's `_private` names, in the code and its
tests; a lower floor never imports a higher one (schemas <- config <- sinks <- streams / consumers), except
the CLI's entry point; no Kafka client in sinks/; every refusal body written in one place; no public code
that only tests use, or that nothing uses."""

from __future__ import annotations

import ast

import pytest

from tests.support.imports import circles, read_project
from tests.support.uses import unused, used_by_tests

PACKAGES = ("schemas", "config", "sinks", "streams", "consumers", "benchmarks")

# Which project packages each floor may import (its own included).
MAY_IMPORT = {
    "schemas": {"schemas"},
    "config": {"schemas", "config"},
    "sinks": {"schemas", "config", "sinks"},
    "streams": {"schemas", "config", "sinks", "streams"},
    "consumers": {"schemas", "config", "sinks", "streams", "consumers"},
    "benchmarks": set(PACKAGES),
}
# The front door starts every process, so it may reach every floor.
ENTRY_POINT = "streams.cli"
# Where events land holds no Kafka client.
NO_KAFKA = {"sinks": {"aiokafka", "faust", "kafka", "confluent_kafka"}}
# The one place an HTTP refusal's body {"error", "errors": [{field, reason}]} is written, and its schema.
REFUSAL, REFUSAL_SCHEMA = "streams/http/refusal.py", "schemas/openapi.py"
# Methods a framework calls by name: mode.Service's start and stop (streams/metrics.py, OpsListener).
HOOKS = frozenset({"on_start", "on_stop"})


@pytest.fixture(scope="module")
def with_tests():
    """The production modules and the tests: circles and private names are refused in both."""
    return read_project((*PACKAGES, "tests"))


@pytest.fixture(scope="module")
def modules(with_tests):
    """The production modules: the floors, the refusal body."""
    return {name: m for name, m in with_tests.items() if name.split(".")[0] in PACKAGES}


def test_the_project_is_read(modules):
    """The rules below would pass on an empty graph: make sure the graph is the project's."""
    assert len(modules) > 100
    assert "config.settings" in modules["streams.app"].imports
    assert "sinks.postgres" in modules["consumers.batch"].imports


def test_no_import_circle(with_tests):
    found = circles(with_tests)
    lines = []
    for circle in found:
        lines.append("circle: " + ", ".join(with_tests[m].file for m in circle))
        lines += [
            f"    {with_tests[m].file}:{line} imports {t}"
            for m in circle
            for t, line in with_tests[m].imports.items()
            if t in circle
        ]
    assert not found, (
        "modules that import each other (counting imports inside functions); move what "
        "both need into a module of its own that imports neither:\n" + "\n".join(lines)
    )


def test_no_module_takes_another_private_name(with_tests):
    found = [f"{m.file}:{line} uses {name}" for m in with_tests.values() for name, line in m.privates]
    assert not found, (
        "private names used outside their module; make the name public where it belongs "
        "(drop the underscore) or move the helper:\n" + "\n".join(found)
    )


def test_no_floor_imports_a_higher_one(modules):
    found = []
    for m in modules.values():
        floor = m.name.split(".")[0]
        if m.name == ENTRY_POINT or m.name.startswith(ENTRY_POINT + "."):
            continue
        found += [
            f"{m.file}:{line} imports {t}" for t, line in m.imports.items() if t.split(".")[0] not in MAY_IMPORT[floor]
        ]
    assert not found, (
        "a lower floor imports a higher one (schemas <- config <- sinks <- streams / consumers; "
        "only streams/cli/ may import every floor); move what both need down to the lower "
        "floor:\n" + "\n".join(found)
    )


def test_sinks_hold_no_kafka_client(modules):
    found = [
        f"{m.file}:{line} imports {package}"
        for m in modules.values()
        for package, line in m.outside.items()
        if package in NO_KAFKA.get(m.name.split(".")[0], ())
    ]
    assert not found, (
        "sinks/ is where events land, with no Kafka and no Faust; read or write Kafka in "
        "consumers/ or streams/ and hand sinks/ the records:\n" + "\n".join(found)
    )


def test_no_production_code_is_dead_or_only_for_tests():
    found = [
        f"{file}:{line} {name}: " + (f"only {', '.join(users)} use it" if (users := used_by_tests(name)) else "unused")
        for file, line, name in unused(PACKAGES, HOOKS)
    ]
    assert not found, (
        "public names no production code uses; delete what nothing uses, move what only tests use "
        "into the test (or tests/support/ when tests of several folders share it):\n" + "\n".join(found)
    )


def test_every_refusal_body_is_written_in_one_place(modules):
    found = [
        f"{m.file}:{node.lineno}"
        for m in modules.values()
        if m.file not in (REFUSAL, REFUSAL_SCHEMA)
        for node in ast.walk(ast.parse(m.path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Dict)
        and {"error", "errors"} <= {key.value for key in node.keys if isinstance(key, ast.Constant)}
    ]
    assert not found, (
        f"refusal bodies written by hand; answer with {REFUSAL} (Refused.answer, refusal_response, "
        "refusal_body), so every refusal keeps the documented shape:\n" + "\n".join(found)
    )


def test_tests_share_helpers_through_support_not_through_each_other(with_tests):
    """A helper two test folders need lives in tests/support/ (or beside its one folder), never in a test module."""
    found = [
        f"{m.file} imports {target}"
        for name, m in with_tests.items()
        if name.startswith("tests.")
        for target in m.imports
        if target.startswith("tests.") and target.rsplit(".", 1)[-1].startswith("test_")
    ]
    assert not found, "move the helper into tests/support/:\n" + "\n".join(found)

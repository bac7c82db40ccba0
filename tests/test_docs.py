"""The Markdown that maps the house stays true: every relative link and every backticked repository path
in README.md, docs/ and the folders' READMEs exists; the README stays a map of one screenful of lines
that names every folder and wing; every package opens with a docstring saying its rule. Pure: files only."""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP = {".venv", ".git", "node_modules", "test-artifacts", "redwall.egg-info"}
TOP = ("streams", "consumers", "sinks", "config", "schemas", "tests", "benchmarks", "docs", ".ci")
TOP_FILES = {"README.md", "docker-compose.yml", "pyproject.toml", "Dockerfile", ".env.example", ".dockerignore"}
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`\n]+)`")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def markdown_files() -> list[Path]:
    found = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    for readme in sorted(ROOT.rglob("README.md")):
        if not SKIP & set(readme.relative_to(ROOT).parts) and readme not in found:
            found.append(readme)
    return found


def links(text: str) -> list[str]:
    """Relative link targets, without their #fragment."""
    targets = (t.split("#")[0] for t in LINK.findall(text))
    return [t for t in targets if t and not re.match(r"[a-z]+:", t)]


def repository_paths(text: str) -> list[str]:
    """Backticked spans that name a file or folder of the repository (from its root): outside code blocks."""
    spans = (s.strip() for s in CODE.findall(FENCE.sub("", text)))
    return [s for s in spans if s in TOP_FILES or (s.split("/")[0] in TOP and "/" in s and " " not in s)]


def local_names(text: str) -> list[str]:
    """Backticked module and folder names (`engine.py`, `static/`): in a folder's README, that folder's own."""
    spans = (s.strip() for s in CODE.findall(FENCE.sub("", text)))
    return [s for s in spans if re.fullmatch(r"[\w-]+(\.py|/)", s) and s.rstrip("/") not in TOP]


def under(folder: Path, name: str) -> bool:
    """The folder holds `name`, itself or in a folder below (a wing's `agents.py`)."""
    return (folder / name).exists() or any(folder.rglob(name.rstrip("/")))


def exists(path: Path) -> bool:
    return any(path.parent.glob(path.name)) if "*" in path.name else path.exists()


@pytest.mark.parametrize("page", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_and_repository_path_of_a_page_resolves(page: Path):
    text = page.read_text(encoding="utf-8")
    missing = [t for t in links(text) if not exists((page.parent / t).resolve())]
    missing += [p for p in repository_paths(text) if not exists(ROOT / p.rstrip("/"))]
    if page.parent not in (ROOT, ROOT / "docs"):
        missing += [n for n in local_names(text) if not under(page.parent, n)]
    assert missing == [], f"{page.relative_to(ROOT)} names what is not there"


def test_the_check_finds_what_it_checks():
    # A pattern that matched nothing would pass every page: count what the pages name.
    pages = [p.read_text(encoding="utf-8") for p in markdown_files()]
    assert sum(len(links(t)) for t in pages) > 30
    assert sum(len(repository_paths(t)) for t in pages) > 50
    assert sum(len(local_names(t)) for t in pages) > 50
    assert repository_paths("see `sinks/migrations/*.sql`, `redwall.alerts.v1` and `/etc/x`") == [
        "sinks/migrations/*.sql"
    ]
    assert local_names("`engine.py`, `static/`, `a b.py`, `x.toml`") == ["engine.py", "static/"]
    assert links("[a](docs/x.md#y) [b](https://example.cn) [c](#top)") == ["docs/x.md"]


def packages() -> list[Path]:
    inits = [ROOT / d / "__init__.py" for d in ("streams", "consumers", "sinks", "config", "schemas")]
    inits += sorted((ROOT / "streams").glob("*/__init__.py")) + sorted((ROOT / "consumers").glob("*/__init__.py"))
    return inits + [ROOT / "tests" / "support" / "__init__.py"]


def test_the_readme_is_a_map_naming_every_folder_and_wing():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    for init in packages()[:-1]:
        folder = init.parent.relative_to(ROOT).as_posix() + "/"
        assert f"`{folder}`" in readme, folder
    for kind in ("integration", "faults", "hostile", "ops", "browser", "support"):
        assert f"`{kind}/`" in readme, kind


@pytest.mark.parametrize("init", packages(), ids=lambda p: str(p.parent.relative_to(ROOT)))
def test_every_package_opens_with_a_docstring_saying_its_rule(init: Path):
    doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
    folder = init.parent.relative_to(ROOT).as_posix() + "/"
    assert doc and doc.startswith(folder), f"{init.relative_to(ROOT)} should open with '{folder}: its rule'"


def test_ci_runs_the_test_command_of_the_readme():
    # CI runs what a newcomer is told to run (quietly: pip's -q is the one difference).
    readme = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    command = [line for line in ci if line.startswith("tests/system-deps.sh")]
    assert len(command) == 1 and command[0].replace("pip install -q ", "pip install ") in readme
    assert "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/redwall demo" in readme


def subcommands() -> dict[str, list[str]]:
    """`redwall`'s commands, each with the actions under it (`devices`: add, revoke, list)."""
    from streams.cli.main import build_parser

    def choices(parser) -> dict:
        found = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        return found[0].choices if found else {}

    return {name: list(choices(sub)) for name, sub in choices(build_parser()).items()}


def test_the_command_table_names_every_command_and_action_of_redwall():
    rows = [
        line for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines() if line.startswith("| `redwall ")
    ]
    named = {re.match(r"\| `redwall ([\w-]+)", row).group(1) for row in rows}
    assert named == set(subcommands())
    for command, actions in subcommands().items():
        mine = " ".join(row.split("` |")[0] for row in rows if re.match(rf"\| `redwall {command}\b", row))
        assert all(re.search(rf"(redwall {command}|\\\|) {action}\b", mine) for action in actions), command


def test_the_topic_table_is_every_topic_of_the_settings():
    from config.settings import Settings
    from streams.broker_epoch import EPOCH_TOPIC

    readme = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    rows = [re.match(r"\| `([\w.-]+)` \|", line).group(1) for line in readme if re.match(r"\| `redwall[.-]", line)]
    assert rows == [*Settings().all_topics, EPOCH_TOPIC, Settings().topic_patrol_changelog]

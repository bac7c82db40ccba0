"""`redwall` run in-process, as a user types it, against the database `cli_database` names (the session's
unless a test module overrides that fixture); its exit code, stdout and stderr."""

from __future__ import annotations

import pytest

from streams.cli.main import main


@pytest.fixture
def cli_database(database_url) -> str:
    return database_url


@pytest.fixture
def redwall(cli_database, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("DATABASE_URL", cli_database)
    monkeypatch.chdir(tmp_path)  # away from any running demo's address file

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run

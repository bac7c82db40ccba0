"""The running pipeline (worker + sink processes) against the session's broker and Postgres."""

from __future__ import annotations

import pytest

from tests.support.pipeline import running_pipeline


@pytest.fixture(scope="module")
def pipeline(settings, tmp_path_factory):
    with running_pipeline(settings, tmp_path_factory.mktemp("pipeline")) as p:
        yield p

"""Topics of a test's own, so that it sees no earlier test's records or committed offsets."""

from __future__ import annotations

import dataclasses

from config.settings import Settings


def own_topics(settings: Settings, run: str) -> dict[str, str]:
    """Every topic setting renamed under `run`, for `dataclasses.replace`: a test with its own topics
    sees no earlier test's records or committed offsets."""
    return {
        f.name: f"{run}.{getattr(settings, f.name)}"
        for f in dataclasses.fields(settings)
        if f.name.startswith("topic_")
    }

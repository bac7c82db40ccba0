"""The dead letters of hostile records, checked once each is consumed."""

from __future__ import annotations

import asyncio
import base64

from tests.support.rows import dead_letters_from_topic


async def dead_letters(settings, key: bytes) -> dict[bytes, dict]:
    """The dead letters of records produced under `key`, by their original bytes."""
    return {base64.b64decode(letter["value_b64"]): letter for letter in await dead_letters_from_topic(settings, key)}


async def expect_dead_letters(settings, api, topic: str, key: bytes, refused: list[bytes]) -> None:
    """Each refused value is dead-lettered once it is consumed: with the reason, the field and its bytes."""
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        letters = await dead_letters(settings, key)
        missing = [v for v in refused if (v or b"") not in letters]
        if not missing or asyncio.get_running_loop().time() > deadline:
            break
    assert not missing, f"{len(missing)} of {len(refused)} never dead-lettered, e.g. {missing[:3]}"
    for value in refused:
        letter = letters[value or b""]
        assert letter["source_topic"] == topic and letter["reason"] and letter["errors"][0]["field"], letter
        assert base64.b64decode(letter["key_b64"]) == key
    assert api.worker.exited is None and api.sink.exited is None

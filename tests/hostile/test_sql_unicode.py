"""SQL metacharacters and very long Unicode in every text field of every input record: each value is stored
byte-for-byte in Postgres or refused with a 4xx (or a dead letter) naming the field; no table is touched."""

from __future__ import annotations

import random
import uuid

import aiohttp
import pytest

from schemas import json
from streams.escalation.engine import community_of
from streams.topics import produce_records
from tests.hostile.dead_letters import dead_letters, expect_dead_letters
from tests.hostile.strategies import now
from tests.support import auth, factories
from tests.support.rows import wait_for

pytestmark = pytest.mark.integration

SQL = [
    "'; DROP TABLE reports; --",
    "Robert'); DROP TABLE incident_events;--",
    "$$; DELETE FROM reports; $$",
    "$x$ TRUNCATE positions $x$",
    "\\'; \\\\ \\x27 \\u0000 \\n",
    "%s %(id)s $1 ? :name",
    "' OR '1'='1",
    '"q" `b` ;\r\n--',
]
# Code points, not bytes: limits count what Python, JSON Schema and Postgres' char_length count.
UNICODE = ["網格化管理", "🚨👩‍👩‍👧‍👦🏳️‍🌈", "e\u0301\u0308", "\u202eevil\u202c", "\u200b\ufeff\u2028\u2029", "𠀀𠀁𪚥"]


def filled(unit: str, n: int) -> str:
    """`unit` repeated to exactly n code points."""
    return (unit * (n // len(unit) + 1))[:n]


def values(limit: int) -> tuple[list[str], list[str]]:
    """(storable within `limit`, refused): metacharacters and Unicode; NUL and 10k characters beyond it."""
    within = [v[:limit] for v in SQL + UNICODE] + [filled("網格🚨", limit), filled("👩‍👩‍👧‍👦", limit)]
    beyond = ["a\x00b", "\x00", filled("数字红墙🚨", 10_000), filled("x", limit + 1)]
    return within, beyond


class Api:
    def __init__(self, http: aiohttp.ClientSession, url: str, headers: dict[str, str]):
        self.http, self.url, self.headers = http, url, headers

    async def post(self, path: str, body) -> tuple[int, dict]:
        async with self.http.post(
            f"{self.url}{path}", data=json.dumps(body), headers={**self.headers, "Content-Type": "application/json"}
        ) as resp:
            return resp.status, await resp.json()


def refused(answer: tuple[int, dict], field: str) -> bool:
    status, body = answer
    return 400 <= status < 500 and body["errors"][0]["field"] == field


APPEND_ONLY = ("reports", "incident_events", "streets", "communities", "grids")


async def tables(pg) -> tuple[set[str], dict[str, int]]:
    """The tables (not their partitions, which retention drops), and the rows of those only ever added to."""
    names = {
        r["relname"]
        for r in await pg.fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
        )
    }
    return names, {t: await pg.fetchval(f"SELECT count(*) FROM {t}") for t in APPEND_ONLY}


async def test_report_text_fields_stored_verbatim_or_refused(settings, api, pg):
    before = await tables(pg)
    rng, run = random.Random(91), f"sq{uuid.uuid4().hex[:8]}"
    device = f"{run}:dev.0_-"  # every character the id pattern allows
    async with aiohttp.ClientSession() as http:
        post = Api(http, api.url, await auth.device_headers(settings, device)).post
        base = lambda **kw: {**factories.report(rng, device, event_time=now()), **kw}  # noqa: E731
        texts, bad_texts = values(4000)
        photos, bad_photos = values(512)
        longest_id = filled(f"{run}-A:z.9_", 64)
        sent = [base(text=t) for t in texts] + [base(photos=[p, "ok"]) for p in photos] + [base(id=longest_id)]
        stored = {r["id"]: r for r in sent}
        for report in stored.values():
            assert (await post("/v1/reports", report))[0] == 202, report
        for text in bad_texts:
            assert refused(await post("/v1/reports", base(text=text)), "text"), text[:20]
        for photo in bad_photos:
            assert refused(await post("/v1/reports", base(photos=["ok", photo])), "photos.1"), photo[:20]
        for value in SQL + ["a\x00"]:
            for field in ("id", "device", "category", "severity", "event_time"):
                assert refused(await post("/v1/reports", base(**{field: value})), field), (field, value)
            assert refused(await post("/v1/pings", {"device": value, "pings": []}), "device"), value

    await wait_for(pg, "SELECT count(*) FROM reports WHERE device_id = $1", [device], len(stored))
    rows = {r["id"]: r for r in await pg.fetch("SELECT id, text, photos FROM reports WHERE device_id = $1", device)}
    assert rows.keys() == stored.keys()
    for report_id, report in stored.items():
        assert rows[report_id]["text"] == report["text"]
        assert json.loads(rows[report_id]["photos"]) == report.get("photos", [])
    await intact(pg, before)


async def intact(pg, before) -> None:
    """Every table is still there, and none of the append-only ones lost a row."""
    (names, counts), (names_after, counts_after) = before, await tables(pg)
    assert names <= names_after and APPEND_ONLY[0] in names
    assert all(counts_after[t] >= counts[t] for t in counts), (counts, counts_after)


async def test_action_text_fields_stored_verbatim_or_refused(settings, api, pg):
    before = await tables(pg)
    rng, run = random.Random(92), f"sa{uuid.uuid4().hex[:8]}"
    dispatcher = f"{run}-street"
    device = f"{run}-dev"
    async with aiohttp.ClientSession() as http:
        report = factories.report(rng, device, event_time=now(), category="other")
        assert (await Api(http, api.url, await auth.device_headers(settings, device)).post("/v1/reports", report))[
            0
        ] == 202
        await wait_for(pg, "SELECT count(*) FROM incident_reports WHERE report_id = $1", [report["id"]], 1)
        incident = await pg.fetchval("SELECT incident_id FROM incident_reports WHERE report_id = $1", report["id"])
        post = Api(http, api.url, await auth.dispatcher_headers(settings, dispatcher)).post
        path = f"/v1/incidents/{incident}/actions"
        reasons, bad_reasons = values(2000)
        # resolve and reopen in turn: each is allowed after the other, so every reason lands in the trail.
        sent = {}
        for i, reason in enumerate(reasons):
            action = {"id": f"{run}-{i}", "action": ("resolve", "reopen")[i % 2], "reason": reason}
            assert (await post(path, action))[0] == 200  # the engine's verdict: done
            sent[action["id"]] = reason
        for reason in bad_reasons:
            assert refused(await post(path, {"action": "ack", "reason": reason}), "reason"), reason[:20]
        for value in SQL + ["a\x00"]:
            for field in ("id", "action", "time"):
                assert refused(await post(path, {"action": "ack", "reason": "x", field: value}), field), (field, value)
            assert refused(await post(path, {"action": "ack", "reason": "x", "actor": value}), "actor")
            assert refused(
                await post(path, {"action": "close_duplicate", "reason": "x", "duplicate_of": value}), "duplicate_of"
            )
        _, bad_owners = values(64)
        for value in bad_owners:
            assert refused(await post(path, {"action": "reassign", "reason": "x", "owner": value}), "owner")

    query = "SELECT action_id, actor, reason, kind FROM incident_events WHERE action_id = ANY($1)"
    await wait_for(pg, "SELECT count(*) FROM incident_events WHERE action_id = ANY($1)", [list(sent)], len(sent))
    rows = {r["action_id"]: r for r in await pg.fetch(query, list(sent))}
    assert rows.keys() == sent.keys()
    for action_id, reason in sent.items():
        assert (rows[action_id]["reason"], rows[action_id]["actor"]) == (reason, dispatcher), action_id
        assert rows[action_id]["kind"] in ("resolved", "reopened"), rows[action_id]
    await intact(pg, before)


async def test_actor_and_owner_on_the_actions_topic(settings, api, pg):
    """Kafka carries any actor (HTTP makes it the token's dispatcher): stored verbatim, or dead-lettered."""
    before = await tables(pg)
    run = f"sk{uuid.uuid4().hex[:8]}"
    actors, bad_actors = values(64)
    incident = f"inc-c02-{uuid.uuid4().hex[:12]}"  # never opened: each action is rejected, in the trail
    base = {"incident": incident, "action": "reassign", "reason": "x", "time": now()}
    good = {f"{run}-{i}": {**base, "id": f"{run}-{i}", "actor": a, "owner": a} for i, a in enumerate(actors)}
    bad = [json.dumps({**base, "id": f"{run}-bad-{i}", "actor": a}) for i, a in enumerate(bad_actors)]
    key = community_of(incident).encode() + run.encode()
    await produce_records(
        settings, settings.topic_actions, [(key, json.dumps(a)) for a in good.values()] + [(key, v) for v in bad]
    )

    query = "SELECT action_id, actor FROM incident_events WHERE action_id = ANY($1)"
    await wait_for(pg, "SELECT count(*) FROM incident_events WHERE action_id = ANY($1)", [list(good)], len(good))
    rows = {r["action_id"]: r["actor"] for r in await pg.fetch(query, list(good))}
    assert rows == {i: a["actor"] for i, a in good.items()}
    await expect_dead_letters(settings, api, settings.topic_actions, key, bad)
    letters = await dead_letters(settings, key)
    assert set(letters) == set(bad)
    assert {letter["errors"][0]["field"] for letter in letters.values()} == {"actor"}
    await intact(pg, before)

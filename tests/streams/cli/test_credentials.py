"""`redwall devices` and `redwall dispatchers` against the session's real Postgres: what a person reads is
in the street's time zone to the minute, with the Chinese names of schemas/display.py."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta

from sinks.credentials import listing
from tests.support.two_streets import EAST, WEST, two_streets


def test_devices_add_revoke_list(redwall):
    a, b = (f"cli-{uuid.uuid4().hex[:8]}-{n}" for n in "ab")
    code, out, _ = redwall("devices", "add", a, b)
    tokens = dict(line.split() for line in out.splitlines())
    assert code == 0 and set(tokens) == {a, b} and all(len(t) == 43 for t in tokens.values())
    code, out, err = redwall("devices", "add", a)  # idempotent: nothing new, and says why
    assert code == 0 and out == "" and "already holds a live credential" in err
    assert redwall("devices", "revoke", a)[0] == 0
    code, _, err = redwall("devices", "revoke", a)
    assert code == 1 and re.search(r"already revoked at \d{4}-\d\d-\d\d \d\d:\d\d \(Asia/Shanghai\)$", err.strip())
    code, _, err = redwall("devices", "revoke", f"cli-never-{uuid.uuid4().hex[:8]}")
    assert code == 1 and "unknown device" in err
    code, out, _ = redwall("devices", "list")
    states = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:]}
    assert out.splitlines()[0].endswith("(times: Asia/Shanghai)")
    assert code == 0 and states[a] == "revoked" and states[b] == "live"
    code, out, _ = redwall("devices", "add", "--rotate", b)
    assert code == 0 and out.split()[1] != tokens[b]


def test_integrations_add_revoke_list(redwall):
    name = f"cli-{uuid.uuid4().hex[:8]}-adapter"
    code, out, _ = redwall("integrations", "add", name)
    ((subject, token),) = (line.split() for line in out.splitlines())
    assert code == 0 and subject == name and len(token) == 43
    code, out, err = redwall("integrations", "add", name)  # idempotent: nothing new, and says why
    assert code == 0 and out == "" and "already holds a live credential" in err
    code, out, _ = redwall("integrations", "add", "--rotate", name)
    assert code == 0 and out.split()[0] == name and out.split()[1] != token
    code, out, _ = redwall("integrations", "list")
    header, *rows = out.splitlines()
    assert header.startswith("INTEGRATION") and "ROLE" not in header and header.endswith("(times: Asia/Shanghai)")
    row = next(line.split() for line in rows if line.split()[0] == name)
    assert code == 0 and row[1] == "live" and len(row) == 5  # name, state, issued (date, time), revoked "-"
    code, out, _ = redwall("integrations", "revoke", name)
    assert code == 0 and out.startswith(f"{name} revoked at ")
    code, _, err = redwall("integrations", "revoke", name)
    assert code == 1 and "integration" in err and "already revoked at" in err
    code, _, err = redwall("integrations", "revoke", f"cli-never-{uuid.uuid4().hex[:8]}")
    assert code == 1 and "unknown integration" in err
    code, _, err = redwall("integrations", "add", "bad name")
    assert code == 1 and "'bad name'" in err and "id is 1..64 of" in err


def test_dispatchers_are_checked_against_the_geometry(redwall):
    name = f"cli-{uuid.uuid4().hex[:8]}"
    code, _, err = redwall("dispatchers", "add", name, "--role", "community", "--community", "c99")
    assert code == 1 and "unknown community 'c99'" in err and "c13" in err
    code, _, err = redwall("dispatchers", "add", name, "--role", "street", "--community", "c01")
    assert code == 1 and "--community goes only with --role community" in err
    code, out, _ = redwall("dispatchers", "add", name, "--role", "community", "--community", "c03")
    assert code == 0 and out.split()[0] == name
    code, _, err = redwall("dispatchers", "add", name, "--role", "street")
    assert code == 1 and "revoke it first" in err
    code, out, _ = redwall("dispatchers", "list")
    row = next(line.split() for line in out.splitlines() if line.startswith(name))
    assert row[1] == "live" and row[-4:] == ["社区调度", "community", "c03", "北新华街社区"]
    assert redwall("dispatchers", "revoke", name)[0] == 0


def test_times_are_the_streets_to_the_minute(redwall, monkeypatch):
    name = f"cli-{uuid.uuid4().hex[:8]}"
    before = datetime.now(UTC)
    assert redwall("dispatchers", "add", name, "--role", "street")[0] == 0
    issued = {}
    for zone, offset in (("Asia/Shanghai", 8), ("UTC", 0)):
        monkeypatch.setenv("REDWALL_TIMEZONE", zone)
        out = redwall("dispatchers", "list")[1]
        row = next(line.split() for line in out.splitlines() if line.startswith(name))
        issued[zone] = datetime.strptime(" ".join(row[2:4]), "%Y-%m-%d %H:%M")
        assert abs(issued[zone] - (before + timedelta(hours=offset)).replace(tzinfo=None)) < timedelta(minutes=2)
        assert row[4:] == ["-", "街道调度", "street", "xichangan"]  # the one street of the sample
    code, out, _ = redwall("dispatchers", "revoke", name)
    assert code == 0 and re.fullmatch(
        rf"{name} revoked at \d{{4}}-\d\d-\d\d \d\d:\d\d \(UTC\): refused from now on", out.strip()
    )


def test_in_a_district_a_dispatcher_names_its_street_and_a_community_one_gets_its_communitys(
    redwall, monkeypatch, tmp_path, database_url
):
    monkeypatch.setenv("REDWALL_GEOMETRY", str(two_streets(tmp_path)))
    name = f"cli-{uuid.uuid4().hex[:8]}"
    code, _, err = redwall("dispatchers", "add", name, "--role", "street")
    assert code == 1 and "a street dispatcher needs --street, one of west, east" in err
    code, _, err = redwall("dispatchers", "add", name, "--role", "street", "--street", "xichangan")
    assert code == 1 and "unknown street 'xichangan'; the geometry has west, east" in err
    code, _, err = redwall("dispatchers", "add", name, "--role", "district", "--street", EAST)
    assert code == 1 and "a district dispatcher sees every street; leave out --street" in err
    code, _, err = redwall("dispatchers", "add", name, "--role", "community", "--community", "c08", "--street", EAST)
    assert code == 1 and "community c08 lies in street west, not east: leave out --street" in err
    names = {role: f"{name}-{role}" for role in ("street", "community", "district")}
    assert redwall("dispatchers", "add", names["street"], "--role", "street", "--street", EAST)[0] == 0
    assert redwall("dispatchers", "add", names["community"], "--role", "community", "--community", "c08")[0] == 0
    assert redwall("dispatchers", "add", names["district"], "--role", "district")[0] == 0
    rows = {r["subject"]: r for r in asyncio.run(listing(database_url, "dispatcher"))}
    held = {role: (rows[n]["role"], rows[n]["street_id"]) for role, n in names.items()}
    assert held == {"street": ("street", EAST), "community": ("community", WEST), "district": ("district", None)}
    out = redwall("dispatchers", "list")[1]
    assert next(line.split() for line in out.splitlines() if line.startswith(names["district"]))[-3:] == [
        "区级调度",
        "district",
        "-",
    ]


def test_the_token_file_handed_to_the_simulator_is_private_and_round_trips(tmp_path):
    from streams.cli.credentials import read_token_file, write_token_file

    tokens = {"dev-0001": "a" * 43, "dev-0002": "b" * 43}
    path = write_token_file(tmp_path / "device-tokens", tokens)
    assert path.stat().st_mode & 0o777 == 0o600
    assert read_token_file(path) == tokens

"""`redwall inbox` logs method, path, status, size and time of each request: never the query string (where
DingTalk's signature travels), a Referer or an Authorization value. The console's log is searched for
tokens in tests/browser/test_console_session.py."""

from __future__ import annotations

import time
import uuid

import aiohttp

from config.settings import Settings
from streams.demo.processes import RedwallProcess
from streams.ports import free_port, port_is_free


async def test_the_inbox_logs_no_query_string_referer_or_authorization(tmp_path):
    port, secrets = free_port(), [f"secret-{uuid.uuid4().hex}" for _ in range(3)]
    inbox = RedwallProcess("inbox", Settings.from_env(), tmp_path, "--port", str(port)).start()
    try:
        deadline = time.monotonic() + 30
        while port_is_free(port):
            assert inbox.exited is None and time.monotonic() < deadline, inbox.log_tail()
            time.sleep(0.1)
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"http://127.0.0.1:{port}/dingtalk/ops-test?timestamp=1&sign={secrets[0]}",
                json={"msgtype": "markdown", "markdown": {"title": "t", "text": "### t"}},
                headers={
                    "Referer": f"http://console.example/?token={secrets[1]}",
                    "Authorization": f"Bearer {secrets[2]}",
                },
            ) as answer:
                assert answer.status == 401  # a wrong DingTalk signature
        for _ in range(50):
            if "/dingtalk/ops-test" in inbox.log_path.read_text():
                break
            time.sleep(0.1)
    finally:
        inbox.stop()
    text = inbox.log_path.read_text()
    assert not [s for s in secrets if s in text], text
    assert "POST /dingtalk/ops-test 401" in text, text

"""The one place tests get device, dispatcher and integration credentials from: tokens issued in the credential store."""

from __future__ import annotations

from sinks.credentials import issue, issue_device_token, issue_dispatcher_token


async def device_headers(settings, device: str) -> dict[str, str]:
    """Headers that let `device` post reports and pings as itself (a fresh token; older ones are revoked)."""
    return {"Authorization": f"Bearer {await issue_device_token(settings.database_url, device)}"}


async def dispatcher_headers(settings, name: str = "hostile-street") -> dict[str, str]:
    """Headers of a street dispatcher `name`, who may act on any incident of the street."""
    return {"Authorization": f"Bearer {await issue_dispatcher_token(settings.database_url, name, 'street')}"}


async def integration_headers(settings, name: str = "hotline-adapter") -> dict[str, str]:
    """Headers of the 12345 adapter `name`, which may post work orders and their events (a fresh token)."""
    return {"Authorization": f"Bearer {(await issue(settings.database_url, 'integration', name, rotate=True)).token}"}

"""The one place the hostile tests get their credentials from."""

from __future__ import annotations


def device_headers(device: str) -> dict[str, str]:
    """Headers that let `device` post reports and pings as itself."""
    return {}


def dispatcher_headers() -> dict[str, str]:
    """Headers of a street dispatcher, who may act on any incident of the street."""
    return {}

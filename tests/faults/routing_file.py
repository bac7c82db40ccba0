"""The routing file of the fault tests: every alert to every channel at once, so that what a channel
receives depends only on the fault, never on grouping, quiet hours or reminders."""

from __future__ import annotations


def routing(channels: dict[str, str], attempts: dict[str, int] | None = None) -> str:
    """A routing file sending every alert to every channel at once, grouped per incident, no quiet hours."""
    attempts = attempts or {}
    text = 'max_age = "6h"\n'
    for name, url in channels.items():
        text += (
            f'[channels.{name}]\ntype = "json"\nurl = "{url}"\ntimeout = "2s"\nattempts = {attempts.get(name, 6)}\n\n'
        )
    names = ", ".join(f'"{n}"' for n in channels)
    return (
        text
        + f'[route]\nchannels = [{names}]\ngroup_by = ["incident"]\ngroup_wait = "0s"\ngroup_interval = "1s"\nrepeat_interval = "24h"\n'
    )

"""Which dispatcher roles may take each action on an incident: `[actions.roles]` of the escalation rules
(config/escalation.toml), read here until `config.rules.load_rules` parses that table, then replaced by
its answer. The worker's action view refuses the others; the console proxies only what the table allows
and its page shows only those buttons."""

from __future__ import annotations

from pathlib import Path

from config.files import TomlChecker, read_toml
from schemas.records import ACTIONS

DISPATCHER_ROLES = ("read", "community", "street")
# Without the table: answering a request is the street's (approve, deny); every other action is
# community and street alike (a community dispatcher acts on its own community's incidents only).
STREET_ONLY = ("approve", "deny")
DEFAULT_ROLES = {a: ("street",) if a in STREET_ONLY else ("community", "street") for a in ACTIONS}


def action_roles(path: Path) -> dict[str, tuple[str, ...]]:
    """action -> the roles that may take it; ConfigError naming the file, the key and the fix."""
    c = TomlChecker(Path(path))
    table = read_toml(Path(path), "escalation rules").get("actions", {}).get("roles", {})
    roles = dict(DEFAULT_ROLES)
    for action, allowed in table.items():
        key = f"actions.roles.{action}"
        if action not in ACTIONS:
            raise c.fail(key, "is no action", f"name one of {', '.join(ACTIONS)}")
        if not isinstance(allowed, list) or not set(allowed) <= set(DISPATCHER_ROLES):
            raise c.fail(key, f"{allowed!r:.80} is not a list of roles", f"list some of {', '.join(DISPATCHER_ROLES)}")
        roles[action] = tuple(allowed)
    return roles


def allowed(roles: dict[str, tuple[str, ...]], role: str) -> list[str]:
    """The actions a dispatcher of `role` may take, in the order of ACTIONS."""
    return [a for a in ACTIONS if role in roles.get(a, ())]

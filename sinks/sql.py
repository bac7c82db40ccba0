"""SQL building blocks every table writer of sinks/ shares: one multi-row INSERT over arrays (one
parameter per column), rows turned into those columns, the row count of a command, and text as
PostgreSQL can store it."""

from __future__ import annotations

from collections.abc import Sequence


def unnest_insert(
    table: str,
    columns: Sequence[tuple[str, str]],
    conflict: str,
    *,
    update: str | None = None,
    order: str | None = None,
) -> str:
    """One multi-row INSERT taking one array parameter per column. With `update` (what DO UPDATE sets and
    when), the rows are first made one per key, the first by `order`: an upsert may touch a row only once."""
    names = ", ".join(name for name, _ in columns)
    arrays = ", ".join(f"${i}::{kind}[]" for i, (_, kind) in enumerate(columns, 1))
    if update is None:
        return f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}) ON CONFLICT {conflict} DO NOTHING"
    return (
        f"INSERT INTO {table} ({names}) SELECT DISTINCT ON {conflict} * FROM unnest({arrays}) AS t({names}) "
        f"ORDER BY {order} ON CONFLICT {conflict} DO UPDATE SET {update}"
    )


def as_columns(rows: list[tuple], width: int) -> list[list]:
    """Rows as the `width` column arrays `unnest_insert` takes (empty ones for no rows)."""
    return [list(column) for column in zip(*rows)] if rows else [[] for _ in range(width)]


def row_count(status: str) -> int:
    return int(status.rsplit(" ", 1)[1])  # "INSERT 0 <rows>"


def storable(value: str) -> str:
    # JSON strings may hold NUL, which neither text nor jsonb can store: left in, it would fail the
    # batch on every retry, so it becomes U+FFFD (a dead letter's payload still has the raw bytes).
    return value.replace("\x00", "\ufffd")

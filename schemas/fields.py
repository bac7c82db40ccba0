"""Field types for records: each validates a decoded JSON value and describes itself as JSON Schema.

One declaration serves validation, the JSON Schema export and (later) OpenAPI, so they cannot drift.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

UNKNOWN = "(unknown)"
# A refusal lists at most this many errors: a DeadLetter holds 100, and a client needs no more to see the pattern.
MAX_ERRORS = 100


class FieldError(ValueError):
    """One field is wrong: `field` is a dotted path (`pings.3.lat`), `reason` says why."""

    def __init__(self, field: str, reason: str, label: str | None = None):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        # The path with a sender's own key (an unknown field) as "(unknown)": what a metric label may show.
        self.label = field if label is None else label

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}

    def under(self, parent: str) -> FieldError:
        """The same error seen from the enclosing object or array (paths are built only on failure)."""
        if not parent:
            return self
        return FieldError(
            f"{parent}.{self.field}" if self.field else parent,
            self.reason,
            f"{parent}.{self.label}" if self.label else parent,
        )

    def each(self) -> list[FieldError]:
        """Every error this one stands for: itself, or all of a FieldErrors."""
        return [self]


class FieldErrors(FieldError):
    """Every error of one record, found by a second, collecting pass once the fast pass failed. It reads as
    its first error where one is enough (field, reason, label); `each()` lists them all."""

    def __init__(self, errors: list[FieldError]):
        first = errors[0]
        super().__init__(first.field, first.reason, first.label)
        self.errors = errors[:MAX_ERRORS]
        self.args = ("; ".join(f"{e.field}: {e.reason}" for e in self.errors),)  # str() names them all

    def under(self, parent: str) -> FieldErrors:
        return FieldErrors([e.under(parent) for e in self.errors])

    def each(self) -> list[FieldError]:
        return list(self.errors)


class Field:
    required = True
    doc = ""

    def __init__(self, doc: str = "", *, required: bool = True):
        self.doc = doc
        self.required = required

    def check(self, value: Any, path: str = "") -> Any:
        """The value, normalised; or FieldError whose field is `path` joined with the inner path."""
        try:
            return self._check(value)
        except FieldError as error:
            raise error.under(path) from None

    def _check(self, value: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def errors(self, value: Any) -> list[FieldError]:
        """Every error in `value`, none when it is valid: the collecting pass, run only after `check` failed,
        so the hot path still stops at the first error."""
        try:
            self._check(value)
        except FieldError as error:
            return [error]
        return []

    def schema(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def _described(self, schema: dict) -> dict:
        if self.doc:
            schema["description"] = self.doc
        return schema


class Str(Field):
    def __init__(self, doc="", *, min_len=1, max_len=256, pattern: str | None = None, required=True):
        super().__init__(doc, required=required)
        self.min_len, self.max_len = min_len, max_len
        self.pattern = pattern
        self._regex = re.compile(pattern) if pattern else None

    def _check(self, value):
        if type(value) is not str:
            raise FieldError("", f"must be a string, got {_kind(value)}")
        if not self.min_len <= len(value) <= self.max_len:
            raise FieldError("", f"length must be {self.min_len}..{self.max_len}, got {len(value)}")
        if self._regex is not None and not self._regex.fullmatch(value):
            raise FieldError("", f"must match {self.pattern}")
        if "\x00" in value:  # PostgreSQL text cannot hold NUL; refusing it here keeps the sink unblocked
            raise FieldError("", "must not contain NUL (U+0000) characters")
        return value

    def schema(self):
        s = {"type": "string", "minLength": self.min_len, "maxLength": self.max_len}
        if self.pattern:
            s["pattern"] = f"^{self.pattern}$"
        return self._described(s)


class Num(Field):
    def __init__(self, doc="", *, minimum: float, maximum: float, required=True):
        super().__init__(doc, required=required)
        self.minimum, self.maximum = minimum, maximum

    def _check(self, value):
        kind = type(value)
        if kind is not float and kind is not int:
            raise FieldError("", f"must be a number, got {_kind(value)}")
        if not self.minimum <= value <= self.maximum:  # also refuses NaN
            raise FieldError("", f"must be between {self.minimum} and {self.maximum}, got {value}")
        return value if kind is float else float(value)

    def schema(self):
        return self._described({"type": "number", "minimum": self.minimum, "maximum": self.maximum})


class Enum(Field):
    def __init__(self, doc="", *, values: tuple[str, ...], required=True):
        super().__init__(doc, required=required)
        self.values = tuple(values)
        self._set = frozenset(values)

    def _check(self, value):
        if type(value) is not str or value not in self._set:
            raise FieldError("", f"must be one of {', '.join(self.values)}; got {value!r:.80}")
        return value

    def schema(self):
        return self._described({"type": "string", "enum": list(self.values)})


class Time(Field):
    """An instant as RFC 3339 text with an offset (`2026-11-28T09:30:00+08:00` or `...Z`), in years 2000..2099.

    The years are a sanity bound for every record, whatever its path (year 9999 plus a deadline
    overflows); how far from now a phone's clock may be is checked at the HTTP edge (streams/http/limits.py).
    """

    YEARS = (2000, 2099)

    def _check(self, value):
        if type(value) is not str or len(value) > 40:
            raise FieldError("", "must be an RFC 3339 timestamp string with an offset")
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise FieldError("", f"is not an RFC 3339 timestamp: {value!r:.60}") from None
        if parsed.tzinfo is None:
            raise FieldError("", "needs a UTC offset, e.g. 2026-11-28T09:30:00+08:00 or ...Z")
        if not self.YEARS[0] <= parsed.year <= self.YEARS[1]:
            raise FieldError("", f"must be in the years {self.YEARS[0]}..{self.YEARS[1]}, got {value!r:.60}")
        return value

    def schema(self):
        return self._described({"type": "string", "format": "date-time"})


class Array(Field):
    def __init__(self, item: Field, doc="", *, min_items=0, max_items=100, required=True):
        super().__init__(doc, required=required)
        self.item, self.min_items, self.max_items = item, min_items, max_items

    def _check(self, value):
        if type(value) is not list:
            raise FieldError("", f"must be an array, got {_kind(value)}")
        if not self.min_items <= len(value) <= self.max_items:
            raise FieldError("", f"must hold {self.min_items}..{self.max_items} items, got {len(value)}")
        check = self.item._check
        out = []
        for v in value:
            try:
                out.append(check(v))
            except FieldError as error:
                raise error.under(str(len(out))) from None
        return out

    def errors(self, value):
        if type(value) is not list or not self.min_items <= len(value) <= self.max_items:
            return super().errors(value)
        found = []
        for i, v in enumerate(value):
            found += [error.under(str(i)) for error in self.item.errors(v)]
            if len(found) >= MAX_ERRORS:
                break
        return found

    def schema(self):
        return self._described(
            {"type": "array", "items": self.item.schema(), "minItems": self.min_items, "maxItems": self.max_items}
        )


class Obj(Field):
    """A nested object with its own named fields; unknown keys are refused so typos surface."""

    def __init__(self, fields: dict[str, Field], doc="", *, required=True):
        super().__init__(doc, required=required)
        self.fields = fields
        self._required = frozenset(k for k, f in fields.items() if f.required)

    def check(self, value: Any, path: str = "") -> Any:
        """The record, normalised; or FieldErrors naming every wrong field (a second pass finds them)."""
        if type(value) is not dict and not path:
            raise FieldError("(body)", f"must be an object, got {_kind(value)}")
        try:
            return super().check(value, path)
        except FieldError as first:
            raise FieldErrors([e.under(path) for e in self.errors(value)] or [first]) from None

    def _check(self, value):
        if type(value) is not dict:
            raise FieldError("", f"must be an object, got {_kind(value)}")
        if not self._required.issubset(value):
            raise FieldError(sorted(self._required.difference(value))[0], "is required")
        out = {}
        fields = self.fields
        for key, v in value.items():
            spec = fields.get(key)
            if spec is None:
                raise FieldError(_key_name(key), "is not a known field", UNKNOWN)
            if v is None and not spec.required:
                continue
            try:
                out[key] = spec._check(v)
            except FieldError as error:
                raise error.under(key) from None
        return out

    def errors(self, value):
        """The fields present first, in the body's order, then the missing ones."""
        if type(value) is not dict:
            return super().errors(value)
        found, fields = [], self.fields
        for key, v in value.items():
            spec = fields.get(key)
            if spec is None:
                found.append(FieldError(_key_name(key), "is not a known field", UNKNOWN))
            elif v is not None or spec.required:
                found += [error.under(key) for error in spec.errors(v)]
        found += [FieldError(key, "is required") for key in sorted(self._required.difference(value))]
        return found[:MAX_ERRORS]

    def schema(self):
        return self._described(
            {
                "type": "object",
                "properties": {k: f.schema() if f.required else _or_null(f.schema()) for k, f in self.fields.items()},
                "required": [k for k, f in self.fields.items() if f.required],
                "additionalProperties": False,
            }
        )


def _or_null(schema: dict) -> dict:
    """An optional field may also be null: the validator takes null as absent, and the schema must say so."""
    return {"anyOf": [schema, {"type": "null"}]}


def _key_name(key) -> str:
    """A sender's own key as a field name: bounded, and never empty (an empty path names nothing)."""
    return str(key)[:64] or '""'


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number" if math.isfinite(value) else "non-finite number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")

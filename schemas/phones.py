"""Phone numbers left in clear inside free text, masked as `138****1234` before a record is kept.

The 12345 adapter sends the complainant's contact only masked and hashed, but what the complainant
said (content), where (address) and what the street wrote back (note, result) can still hold a
number: the edge masks those fields before the record reaches Kafka. Pure: no I/O.
"""

from __future__ import annotations

import re

# The free-text fields of a HotlineOrder or HotlineEvent that may carry a number typed by a person.
FREE_TEXT = ("content", "address", "note", "result")

# ASCII and full-width digits: a number typed in Chinese text often comes in full width.
_D = "[0-9\uff10-\uff19]"
_ONE, _THREE_TO_NINE, _ZERO = "[1\uff11]", "[3-9\uff13-\uff19]", "[0\uff10]"
_SEP = "[-\uff0d ]?"  # as people write them: 138-1234-5678, 010－12345678, 138 1234 5678
# A mainland mobile (with or without the country code, in one run or as 3-4-4), or a fixed line with its area code.
_MOBILE = f"(?:\\+?86{_SEP})?{_ONE}{_THREE_TO_NINE}{_D}{_SEP}{_D}{{4}}{_SEP}{_D}{{4}}"
_FIXED = f"{_ZERO}{_D}{{2,3}}{_SEP}{_D}{{7,8}}"
# Not part of a longer run of digits: an order id or an amount is no phone number.
_PHONE = re.compile(f"(?<!{_D})(?:{_MOBILE}|{_FIXED})(?!{_D})")
_COUNTRY = re.compile(f"^\\+?86{_SEP}(?={_ONE})")
_DIGIT = re.compile(_D)
KEEP_FIRST, KEEP_LAST = 3, 4


def mask_number(number: str) -> str:
    """`number` with every digit but its first 3 and last 4 starred (a country code kept as it was):
    13812341234 -> 138****1234, 010-12345678 -> 010-****5678."""
    prefix = _COUNTRY.match(number)
    head = prefix.group() if prefix else ""
    rest = number[len(head) :]
    digits = [m.start() for m in _DIGIT.finditer(rest)]
    hidden = set(digits[KEEP_FIRST : len(digits) - KEEP_LAST])
    return head + "".join("*" if i in hidden else c for i, c in enumerate(rest))


def mask_phones(text: str) -> tuple[str, int]:
    """`text` with every phone number in it masked, and how many were."""
    return _PHONE.subn(lambda m: mask_number(m.group()), text)


def mask_free_text(record: dict) -> tuple[dict, dict[str, int]]:
    """`record` with the numbers in its FREE_TEXT fields masked, and how many per field (only those
    with any); the record itself is left as it was."""
    out, counts = dict(record), {}
    for field in FREE_TEXT:
        if isinstance(out.get(field), str):
            out[field], n = mask_phones(out[field])
            if n:
                counts[field] = n
    return out, counts

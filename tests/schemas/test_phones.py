"""Masking phone numbers in free text: what is masked, what is left alone, and that nothing masked
still matches a phone number."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.phones import mask_free_text, mask_number, mask_phones


@pytest.mark.parametrize(
    ("text", "masked", "n"),
    [
        ("13812341234", "138****1234", 1),
        ("请回电13912345678，谢谢", "请回电139****5678，谢谢", 1),
        ("+8613812341234", "+86138****1234", 1),
        ("86-13812341234", "86-138****1234", 1),
        ("010-12345678", "010-****5678", 1),
        ("01012345678", "010****5678", 1),
        ("0755-1234567", "075*-***4567", 1),
        ("电话１３８１２３４１２３４", "电话１３８****１２３４", 1),
        ("138-1234-5678", "138-****-5678", 1),
        ("138 1234 5678 找王", "138 **** 5678 找王", 1),
        ("+86 138 1234 5678", "+86 138 **** 5678", 1),
        ("０１０－87654321", "０１０－****4321", 1),
        ("两个: 13812341234 和 010-87654321", "两个: 138****1234 和 010-****4321", 2),
    ],
)
def test_numbers_are_masked_keeping_the_first_3_and_last_4_digits(text, masked, n):
    assert mask_phones(text) == (masked, n)


@pytest.mark.parametrize(
    "text",
    [
        "工单 2026120600123 已受理",  # an order number: a longer run of digits
        "12812341234",  # 12x is no mobile prefix
        "1381234123",  # one digit short
        "138-123-45678",  # not grouped as a number is
        "138123412345",  # one digit long
        "金额 1000 元, 门牌 12 号",
        "138****1234",  # already masked
        "",
    ],
)
def test_other_digits_are_left_alone(text):
    assert mask_phones(text) == (text, 0)


def test_mask_number_keeps_separators():
    assert mask_number("010-12345678") == "010-****5678"


def test_only_free_text_fields_are_masked_and_counted():
    record = {
        "id": "13812341234",  # an id is not free text: the schema bounds it
        "content": "找13812341234或13912341234",
        "address": "西城区某街1号",
        "note": "回电 010-12345678",
    }
    masked, counts = mask_free_text(record)
    assert masked == {
        "id": "13812341234",
        "content": "找138****1234或139****1234",
        "address": "西城区某街1号",
        "note": "回电 010-****5678",
    }
    assert counts == {"content": 2, "note": 1}
    assert record["content"] == "找13812341234或13912341234"  # the input is not changed


@given(st.text(alphabet="0123456789-+ 电话和", max_size=60))
def test_nothing_masked_still_holds_a_number(text):
    once, _ = mask_phones(text)
    assert mask_phones(once) == (once, 0)
    assert len(once) == len(text)

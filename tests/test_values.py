"""Rules V1 and V2 at the level of one cell: what text becomes which number, and what is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.format.edition import edition_named
from flows.format.values import format_value, parse_cell

PD19 = edition_named("2019").tables["proactive_disclosure"]
PD21 = edition_named("2021").tables["proactive_disclosure"]
COUNT = PD19.columns[PD19.column_index["decisions"]]
SIGNED = PD19.columns[PD19.column_index["change"]]
YUAN = PD19.columns[PD19.column_index["amount"]]
WANYUAN = PD21.columns[PD21.column_index["amount_10k_yuan"]]


@pytest.mark.parametrize(
    "raw, column, value",
    [
        (25.0, COUNT, 25),
        (0, COUNT, 0),
        (4920735.0, YUAN, 492073500),  # 元, held in 分
        (12.5, WANYUAN, 12_500000),
        (-3.0, SIGNED, -3),
    ],
)
def test_numbers_typed_as_numbers_need_no_warning(raw, column, value):
    parsed = parse_cell(raw, column)
    assert parsed.value == value and parsed.reasons == ()


@pytest.mark.parametrize(
    "raw, column, value, reason",
    [
        ("", COUNT, 0, "空白单元格"),
        ("不变", SIGNED, 0, "不变"),
        ("无", COUNT, 0, "无"),
        ("—", COUNT, 0, "—"),
        ("２５", COUNT, 25, "文本"),  # full-width digits
        ("1,234", COUNT, 1234, "千位分隔符"),
        ("+3", SIGNED, 3, "正号"),
        ("25件", COUNT, 25, "件"),
        ("2笔", COUNT, 2, "去掉量词“笔”"),  # a count word: the number is plain
        ("3 次", COUNT, 3, "去掉量词“次”"),
        ("4人", COUNT, 4, "去掉量词“人”"),
        ("5家", COUNT, 5, "去掉量词“家”"),
        ("6项", SIGNED, 6, "项"),
        ("4920735元", YUAN, 492073500, "元"),
        ("492.0735万元", YUAN, 492073500, "由万元换算为元"),
        ("12,000元", WANYUAN, 1_200000, "由元换算为万元"),
    ],
)
def test_text_is_normalised_with_a_reason(raw, column, value, reason):
    parsed = parse_cell(raw, column)
    assert parsed.value == value
    assert any(reason in zh for zh, _ in parsed.reasons)


@pytest.mark.parametrize(
    "raw, column",
    [
        ("abc", COUNT),
        ("-3", COUNT),  # negative count
        (-1.0, COUNT),
        (2.5, COUNT),  # a fraction of an application
        ("3元", COUNT),  # money in a count column
        ("5件", YUAN),
        ("5笔", WANYUAN),  # a count word in an amount cell
        ("2万元", COUNT),
        (True, COUNT),
        ("1.2.3", COUNT),
        (0.001, YUAN),  # below 1 分
        (1e15, COUNT),  # absurdly large: no count of applications
        ("123456789012", COUNT),
    ],
)
def test_what_is_no_number_of_the_right_kind_is_refused(raw, column):
    assert parse_cell(raw, column).value is None


@given(st.integers(min_value=0, max_value=10**8), st.sampled_from([COUNT, YUAN, WANYUAN]))
def test_published_text_reads_back_to_the_same_value(value, column):
    text = format_value(value, column)
    assert "e" not in text.lower()
    assert parse_cell(text, column).value == value

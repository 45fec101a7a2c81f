"""Brazilian number/date parsing: property-based round trips plus the hostile cases."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salesphere.ingest import formats
from salesphere.ingest.formats import FormatError


def br_text(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    reais = f"{abs(cents) // 100:,}".replace(",", ".")
    return f"{sign}{reais},{abs(cents) % 100:02d}"


@given(st.integers(min_value=-(10**14), max_value=10**14))
def test_brazilian_money_round_trips(cents: int) -> None:
    assert formats.parse_money(br_text(cents), "br") == Decimal(cents).scaleb(-2)


@given(st.integers(min_value=-(10**14), max_value=10**14))
def test_international_money_round_trips(cents: int) -> None:
    text = f"{Decimal(cents).scaleb(-2):.2f}"
    assert formats.parse_money(text, "intl") == Decimal(text)


@given(st.integers(min_value=0, max_value=10**9))
def test_integers_in_both_styles(value: int) -> None:
    assert formats.parse_int(str(value)) == value
    assert formats.parse_int(f"{value},0", "br") == value
    assert formats.parse_int(float(value)) == value


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2999, 12, 31)))
def test_dates_round_trip(day: date) -> None:
    assert formats.parse_date(day.strftime("%d/%m/%Y"), "%d/%m/%Y") == day
    assert formats.parse_date(day.isoformat(), "%Y-%m-%d") == day


@given(st.text(max_size=12))
def test_number_parser_never_crashes_on_garbage(text: str) -> None:
    try:
        formats.parse_decimal(text, "br")
    except FormatError as exc:
        assert exc.rule == "decimal"


@pytest.mark.parametrize("text", ["12,3,4", "1.23,4.5", "1,234.56", "abc", "", "1..2"])
def test_malformed_brazilian_numbers_are_refused(text: str) -> None:
    with pytest.raises(FormatError) as info:
        formats.parse_decimal(text, "br")
    assert info.value.rule == "decimal"


def test_money_precision_and_floats_from_xlsx() -> None:
    assert formats.parse_money(139.49) == Decimal("139.49")
    assert formats.parse_money("R$ 1.234,5") == Decimal("1234.50")
    with pytest.raises(FormatError) as info:
        formats.parse_money("1,234", "br")
    assert info.value.rule == "money_precision"
    with pytest.raises(FormatError):
        formats.parse_int("3,5")


def test_impossible_dates_and_missing_timezones() -> None:
    with pytest.raises(FormatError) as info:
        formats.parse_date("31/02/2026")
    assert info.value.rule == "date_format"
    with pytest.raises(FormatError) as tz:
        formats.parse_timestamp("2026-11-28T10:00:00")
    assert tz.value.rule == "timezone_required"


def test_header_normalisation_folds_accents_case_and_spacing() -> None:
    assert {
        formats.normalise_header(h)
        for h in ("Preço Unitário", "preco_unitario", " PRECO  UNITARIO ", "\ufeffPreço-Unitário")
    } == {"preco_unitario"}

"""CNPJ check digits (numeric and the 2026 alphanumeric format) and the access key's digit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salesphere.fiscal.errors import FiscalRejected
from salesphere.fiscal.key import parse_key
from salesphere.taxid import (
    TaxIdError,
    _weighted_sum,
    is_cnpj,
    key_digit,
    normalise_cnpj,
    with_cnpj_digits,
)

BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"


def test_a_real_numeric_cnpj_is_valid_with_or_without_punctuation() -> None:
    assert normalise_cnpj("34.128.745/0001-52") == "34128745000152"
    assert is_cnpj("34128745000152")


def test_the_published_alphanumeric_example_is_valid() -> None:
    """Receita Federal's own example of the new format: letters in the base, digits last."""
    assert normalise_cnpj("12.ABC.345/01DE-35") == "12ABC34501DE35"
    assert normalise_cnpj("12abc34501de35") == "12ABC34501DE35"  # typed in lower case


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("34128745000153", "expected 52"),
        ("12ABC34501DE36", "expected 35"),
        ("12ABC34501DEA5", "14 characters"),  # letters never in the check digits
        ("3412874500015", "14 characters"),
        ("00000000000000", "not a real CNPJ"),
    ],
)
def test_a_wrong_cnpj_is_refused_with_the_reason(text: str, words: str) -> None:
    with pytest.raises(TaxIdError, match=words):
        normalise_cnpj(text)


@given(st.text(alphabet=BASE36, min_size=12, max_size=12), st.sampled_from([12, 13]))
def test_any_base_gets_digits_that_validate_and_a_changed_digit_never_does(
    base: str, position: int
) -> None:
    valid = with_cnpj_digits(base)
    if valid == "0" * 14:
        return
    assert is_cnpj(valid)
    wrong = str((int(valid[position]) + 1) % 10)
    assert not is_cnpj(valid[:position] + wrong + valid[position + 1 :])


@given(
    st.text(alphabet=DIGITS, min_size=6, max_size=6),
    st.text(alphabet=BASE36, min_size=12, max_size=12),
    st.text(alphabet=DIGITS, min_size=25, max_size=25),
)
def test_the_key_digit_is_mod_11_and_only_it_is_accepted(head: str, cnpj: str, tail: str) -> None:
    body = head + cnpj + tail
    digit = key_digit(body)
    remainder = _weighted_sum(body) % 11
    assert digit == ("0" if remainder < 2 else str(11 - remainder))
    assert parse_key(body + digit).text == body + digit
    for other in DIGITS.replace(digit, ""):
        with pytest.raises(FiscalRejected) as caught:
            parse_key(body + other)
        assert caught.value.rule == "access_key"


@given(
    st.text(alphabet=DIGITS, min_size=43, max_size=43),
    st.integers(0, 42),
    st.integers(1, 9),
)
def test_changing_one_digit_of_the_key_changes_its_remainder(
    body: str, position: int, delta: int
) -> None:
    """Weights 2..9 and differences 1..9 are never a multiple of 11: every single-digit
    typo moves the remainder (two remainders share digit 0, so the digit itself may not)."""
    changed = body[:position] + str((int(body[position]) + delta) % 10) + body[position + 1 :]
    assert _weighted_sum(changed) % 11 != _weighted_sum(body) % 11


def test_real_keys_check() -> None:
    assert parse_key("35180834128745000152550010000474281920007498").issuer == "34128745000152"
    with pytest.raises(FiscalRejected, match="44 characters"):
        parse_key("3518083412874500015255001000047428192000749")

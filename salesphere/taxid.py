"""Brazilian tax ids and the mod-11 check digits they and the fiscal access key carry.

A CNPJ identifies a company's establishment: 12 base characters and 2 check digits. Since
July 2026 the Receita Federal issues **alphanumeric** CNPJs: the 12 base positions may hold
upper-case letters as well as digits; the two check digits stay numeric. One rule computes
the check digits of both formats: each character counts as its ASCII code minus 48 (so
``0``-``9`` keep their value and ``A`` is 17), weighted 2..9 from the right and repeating,
and the digit is ``11 - sum mod 11``, or 0 when that remainder is below 2. A digits-only
check would refuse every new supplier; this one accepts both and refuses a typo in either.

The 44-character access key of an NF-e/NFC-e ends with a check digit of the same family
(weights 2..9 from the right; 0 when ``11 - remainder`` is 10 or 11); an alphanumeric CNPJ
inside the key is weighted by the same ASCII-minus-48 values.
"""

from __future__ import annotations

import re

#: 12 base characters (digits or upper-case letters) and 2 numeric check digits.
CNPJ_PATTERN = re.compile(r"[0-9A-Z]{12}[0-9]{2}")
#: What people type around a CNPJ (``12.ABC.345/01DE-35``): removed before checking.
_PUNCTUATION = re.compile(r"[./\-\s]")


class TaxIdError(ValueError):
    """A CNPJ or key that is malformed or whose check digit is wrong; the message says which."""


def _value(char: str) -> int:
    return ord(char) - 48


def _weighted_sum(text: str) -> int:
    """Sum of the character values weighted 2, 3, ..., 9, 2, 3, ... from the right."""
    total = 0
    for position, char in enumerate(reversed(text)):
        total += _value(char) * (2 + position % 8)
    return total


def cnpj_digit(base: str) -> str:
    """The next CNPJ check digit of ``base`` (12 characters, then 13 for the second)."""
    remainder = _weighted_sum(base) % 11
    return "0" if remainder < 2 else str(11 - remainder)


def normalise_cnpj(text: str) -> str:
    """A CNPJ without punctuation and in upper case; raises :class:`TaxIdError` if invalid.

    ``12.345.678/0001-95`` and ``12ABC34501DE35`` (alphanumeric) are accepted when their
    check digits agree.
    """
    value = _PUNCTUATION.sub("", str(text)).upper()
    if not CNPJ_PATTERN.fullmatch(value):
        raise TaxIdError(
            f"CNPJ {text!r} must be 14 characters: 12 digits or upper-case letters, then 2 "
            "check digits"
        )
    if value == "0" * 14:
        raise TaxIdError("CNPJ 00000000000000 is not a real CNPJ")
    first = cnpj_digit(value[:12])
    second = cnpj_digit(value[:12] + first)
    if value[12:] != first + second:
        raise TaxIdError(
            f"CNPJ {text!r} has check digits {value[12:]}, expected {first}{second}; "
            "check it for a typo"
        )
    return value


def is_cnpj(text: str) -> bool:
    """Is ``text`` a valid CNPJ (numeric or alphanumeric)?"""
    try:
        normalise_cnpj(text)
    except TaxIdError:
        return False
    return True


def with_cnpj_digits(base: str) -> str:
    """``base`` (12 characters) with its two check digits appended: for tests and generators."""
    if not re.fullmatch(r"[0-9A-Z]{12}", base):
        raise TaxIdError(f"CNPJ base {base!r} must be 12 digits or upper-case letters")
    first = cnpj_digit(base)
    return base + first + cnpj_digit(base + first)


def key_digit(body: str) -> str:
    """The check digit (``cDV``) of the first 43 characters of an access key."""
    if len(body) != 43 or not re.fullmatch(r"[0-9A-Z]{43}", body):
        raise TaxIdError("an access key body is 43 digits or upper-case letters")
    digit = 11 - _weighted_sum(body) % 11
    return "0" if digit >= 10 else str(digit)

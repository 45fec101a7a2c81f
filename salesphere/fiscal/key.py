"""The access key (chave de acesso): 44 characters that name one NF-e/NFC-e for ever.

Layout: ``cUF`` (2) ``AAMM`` (4) ``CNPJ`` (14, alphanumeric allowed) ``mod`` (2) ``serie``
(3) ``nNF`` (9) ``tpEmis`` (1) ``cNF`` (8) ``cDV`` (1). :func:`parse_key` checks its shape
and check digit; :func:`cross_check` that every embedded field agrees with the
document that carries it, so a key copied onto another document is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from salesphere.fiscal.errors import FiscalRejected
from salesphere.taxid import key_digit

_KEY = re.compile(r"\d{6}[0-9A-Z]{12}\d{2}\d{2}\d{3}\d{9}\d{1}\d{8}\d")


@dataclass(frozen=True)
class AccessKey:
    """One access key, split into its fields (all as the text the key holds)."""

    text: str

    @property
    def uf(self) -> str:
        return self.text[0:2]

    @property
    def year_month(self) -> str:
        return self.text[2:6]

    @property
    def issuer(self) -> str:
        return self.text[6:20]

    @property
    def model(self) -> str:
        return self.text[20:22]

    @property
    def series(self) -> str:
        return self.text[22:25]

    @property
    def number(self) -> str:
        return self.text[25:34]

    @property
    def emission_type(self) -> str:
        return self.text[34:35]

    @property
    def code(self) -> str:
        return self.text[35:43]

    @property
    def digit(self) -> str:
        return self.text[43]

    def __str__(self) -> str:
        return self.text


def parse_key(text: str, path: str | None = None) -> AccessKey:
    """A well-formed key whose check digit is right, or :class:`FiscalRejected`."""
    value = (text or "").strip()
    if not _KEY.fullmatch(value):
        raise FiscalRejected(
            "access_key",
            f"access key {value!r} must be 44 characters (digits; letters only in the CNPJ)",
            path,
        )
    expected = key_digit(value[:43])
    if value[43] != expected:
        raise FiscalRejected(
            "access_key",
            f"access key {value} has check digit {value[43]}, expected {expected}; the key "
            "was mistyped or altered",
            path,
        )
    return AccessKey(value)


def cross_check(key: AccessKey, fields: dict[str, str], path: str | None = None) -> None:
    """Every embedded field of ``key`` must equal the document's own (``fields``).

    ``fields`` holds the document's ``cUF``, ``AAMM`` (from ``dhEmi``), issuer (CNPJ, or
    CPF padded to 14), ``mod``, ``serie``, ``nNF``, ``tpEmis``, ``cNF`` and ``cDV``.
    """
    embedded = {
        "cUF": key.uf,
        "AAMM": key.year_month,
        "emit": key.issuer,
        "mod": key.model,
        "serie": key.series,
        "nNF": key.number,
        "tpEmis": key.emission_type,
        "cNF": key.code,
        "cDV": key.digit,
    }
    width = {"serie": 3, "nNF": 9, "cNF": 8, "emit": 14}
    for name, in_key in embedded.items():
        value = fields.get(name)
        if value is None:
            continue
        value = value.zfill(width.get(name, 0))
        if value != in_key:
            raise FiscalRejected(
                "access_key_mismatch",
                f"access key {key} says {name} {in_key} but the document says {value}; "
                "the key does not belong to this document",
                path,
            )

"""Cells that are safe to open: the one rule for every CSV or HTML table written for people.

Spreadsheet programs run a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some,
a tab or carriage return) as a formula, so a product name like ``=HYPERLINK(...)`` or
``=cmd|' /C calc'!A0`` sent by a source would execute when an analyst opens a rejects
report, a ``salesphere query --format csv`` export or the dashboard (Excel opens HTML
tables too). OWASP's CSV-injection advice: prefix such a cell with ``'`` so it is shown
as text.

The rule, applied when a file for people is written and never to stored data (the
warehouse, the quarantine and ``ops.rejects`` keep every value exactly as received):

* a **text** cell starting with one of :data:`FORMULA_PREFIXES` gets a leading ``'``;
* unless the whole text is a plain number (``-12``, ``-1.234,56``, ``+3.5``): a number
  cannot execute anything, and negative amounts must stay numbers for the reader;
* typed numbers (``int``, ``float``, ``Decimal``) are never changed; ``None`` is empty.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from salesphere.numbers import is_plain_number

#: Cell prefixes spreadsheet programs execute as formulas (OWASP, CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value: object) -> str:
    """``value`` as text a spreadsheet shows as text (see the module docstring for the rule)."""
    if value is None:
        return ""
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    if text.startswith(FORMULA_PREFIXES) and not is_plain_number(text):
        return "'" + text
    return text


def safe_row(values: Iterable[Any]) -> list[str]:
    """Every cell of a CSV row through :func:`neutralise_formula`."""
    return [neutralise_formula(v) for v in values]

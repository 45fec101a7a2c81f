"""How numbers are written by the sources: the two styles every parser and writer knows.

Brazilian stores write ``1.234,56`` (dot groups thousands, comma marks decimals); systems
write ``1,234.56`` or ``1234.56``. The ingest parsers (:mod:`salesphere.ingest.formats`)
accept a value only in its declared style; the writers of files for people
(:mod:`salesphere.exports`) leave a cell alone when it is a number in either style.
"""

from __future__ import annotations

import re

#: ``1.234,56`` / ``1234,56`` / ``-12`` (Brazilian: dot groups thousands, comma decimals).
BR_NUMBER = re.compile(r"^[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?$")
#: ``1,234.56`` / ``1234.56`` / ``-12`` (international).
INTL_NUMBER = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")


def is_plain_number(text: str) -> bool:
    """Is ``text`` a number as written, in either style (``-12``, ``-1.234,56``, ``1,234.5``)?"""
    return bool(INTL_NUMBER.match(text) or BR_NUMBER.match(text))

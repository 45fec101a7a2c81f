"""The books one store keeps for a day: what the platform's serving views must reproduce.

Its own module because the simulation fills it, the manifest and the fiscal writer read
it, and none of them should import the others to share a value.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(slots=True)
class SalesTotals:
    """Sales sums for one store on one (local day, UTC day): the books the platform's
    serving views must reproduce. Money in cents, so sums stay exact."""

    units_sold: int = 0
    units_returned: int = 0
    gross_cents: int = 0
    discount_cents: int = 0
    returns_cents: int = 0
    sale_lines: int = 0
    return_lines: int = 0
    orders: int = 0

    def add(self, other: SalesTotals) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

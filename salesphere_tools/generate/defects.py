"""Seeded, recorded imperfections: what real feeds do to a data platform.

Every defect the writers inject is recorded with where it is (file and row) and how a
correct platform must handle it, so end-to-end tests can check the platform against
this list rather than against guesses:

* ``duplicate`` - the same record sent again (POS retry, webhook redelivery, an
  inventory export overlapping the previous one). Expected: ``dedupe``.
* ``late`` - a record sent in a later day's batch than the day it happened (terminal
  offline, back-office typing it in late). Expected: ``accept``, counted on the day it
  occurred.
* ``malformed`` - a record that must be quarantined, never counted: a garbled number
  (``12,3,4``), an unknown SKU, a negative quantity, a timestamp a year in the future,
  a missing field. Expected: ``reject`` with the rule code ingest should report.
* ``oversell`` - a sale rung up with nothing on the shelf (stock goes negative).
  Expected: ``accept``; inventory views show the negative balance.
* ``blank_row`` - a stray empty row in a spreadsheet. Expected: ``ignore`` (not a record).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

#: Corruptions and the rule code a correct ingest reports (see salesphere.validation).
MALFORMED_KINDS: tuple[tuple[str, str], ...] = (
    ("bad_number", "number_format"),
    ("unknown_sku", "unknown_sku"),
    ("negative_quantity", "min_value"),
    ("future_timestamp", "future_timestamp"),
    ("missing_field", "required"),
)
BAD_NUMBER = "12,3,4"
UNKNOWN_SKU = "ZZZ-99999"
FUTURE_DAYS = 365


@dataclass(slots=True)
class Defect:
    """One injected defect; ``file`` and ``row`` are filled in when it is written."""

    kind: str
    source: str
    expected: str
    rule: str | None = None
    detail: str = ""
    file: str = ""
    row: int = 0
    events: int = 1  # candidate events the record carries (e-commerce orders have items)
    occurred_date: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind,
            "source": self.source,
            "file": self.file,
            "row": self.row,
            "expected": self.expected,
        }
        if self.rule:
            data["rule"] = self.rule
        if self.detail:
            data["detail"] = self.detail
        if self.events != 1:
            data["events"] = self.events
        if self.occurred_date:
            data["occurred_date"] = self.occurred_date
        return data


class DefectPlanner:
    """Decides, record by record, which defect (if any) to inject; keeps the list."""

    def __init__(self, seed: int, rate: float, enabled: bool) -> None:
        self.rng = random.Random(f"salesphere:{seed}:defects")
        self.enabled = enabled and rate > 0
        # Split of the defect budget between kinds.
        self.p_duplicate = rate * 0.45
        self.p_late = self.p_duplicate + rate * 0.25
        self.p_malformed = rate * 0.30
        self.defects: list[Defect] = []

    def fate(self) -> str | None:
        """``"duplicate"``, ``"late"`` or ``None`` for one live record."""
        if not self.enabled:
            return None
        draw = self.rng.random()
        if draw < self.p_duplicate:
            return "duplicate"
        if draw < self.p_late:
            return "late"
        return None

    def malformed(self) -> tuple[str, str] | None:
        """A (corruption, rule) pair if this record should spawn a malformed twin."""
        if not self.enabled or self.rng.random() >= self.p_malformed:
            return None
        return MALFORMED_KINDS[self.rng.randrange(len(MALFORMED_KINDS))]

    def lag_days(self) -> int:
        return self.rng.choice((1, 1, 1, 2, 3))

    def blank_row(self) -> bool:
        return self.enabled and self.rng.random() < 0.15

    def record(self, defect: Defect) -> Defect:
        self.defects.append(defect)
        return defect

"""What to generate: one frozen value that fully determines the output bytes.

Everything random is drawn from ``random.Random`` streams seeded from ``seed``; nothing
reads the wall clock, so the same config always produces byte-identical files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from salesphere_tools.generate.ordering import TRAILING_DAYS, WARMUP_DAYS

#: The shortest history the buyers can run their full warm-up on.
MIN_HISTORY_DAYS = WARMUP_DAYS + TRAILING_DAYS

DEFAULT_START = date(2026, 11, 1)
MAX_STORES = 200


@dataclass(frozen=True, slots=True)
class GeneratorConfig:
    """Size, seed and knobs of one generated data set."""

    out: Path
    days: int = 7
    stores: int = 5
    seed: int = 42
    start: date = DEFAULT_START
    skus: int = 200
    defects: bool = True
    #: Share of live records that get a defect (duplicate, late or malformed).
    defect_rate: float = 0.0075
    #: Average tickets a size-1.0 physical store rings up on a plain weekday.
    tickets_per_store_day: int = 350
    #: Average online orders on a plain weekday.
    web_orders_per_day: int = 400
    #: Records per live batch file (what one POST to ingest would carry).
    batch_size: int = 400
    #: Write the XLSX share of spreadsheets (turn off for the fastest runs).
    xlsx: bool = True
    #: Demand that moves over months (trend, seasons, the retail calendar, promotions, slow
    #: movers; ``demand.DemandModel``) instead of the same shares every day: for history
    #: a forecast can learn from. Off keeps the basic simulation's bytes unchanged.
    history: bool = False
    #: Fiscal XML for the smallest physical store (salesphere_tools.generate.fiscal): NFC-e
    #: for its tickets of the newest ``fiscal_days`` days, suppliers' NF-e, a transfer,
    #: cancellations and the purchase orders behind the deliveries. Off keeps the bytes.
    fiscal: bool = False
    fiscal_days: int = 1
    #: Days of daily history before ``start`` (generate.legacy's import) the live days
    #: continue: their demand follows the history's model, and the opening stock and the
    #: purchase orders still open are what the buyers (generate.ordering) left; every
    #: store's open orders go to ``purchase_orders/pedidos.csv``. 0 keeps the bytes.
    history_days: int = 0

    def check(self) -> None:
        """Refuse configs that cannot produce a sensible data set, saying how to fix them."""
        if self.days < 1:
            raise ValueError("--days must be at least 1")
        if not 1 <= self.stores <= MAX_STORES:
            raise ValueError(f"--stores must be between 1 and {MAX_STORES}")
        if self.skus < 10:
            raise ValueError("--skus must be at least 10 (the catalog needs a few per category)")
        if not 0 <= self.defect_rate <= 0.2:
            raise ValueError("defect_rate must be between 0 and 0.2 (e.g. 0.0075 for 0.75%)")
        if self.history_days and self.history_days < MIN_HISTORY_DAYS:
            raise ValueError(
                f"history_days must be 0 or at least {MIN_HISTORY_DAYS}: the buyers' "
                f"{WARMUP_DAYS}-day warm-up after {TRAILING_DAYS} days that seed their "
                "demand estimate"
            )
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if self.tickets_per_store_day < 1 or self.web_orders_per_day < 1:
            raise ValueError("daily volumes must be at least 1")

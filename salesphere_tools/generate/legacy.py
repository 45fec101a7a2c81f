"""The daily sales summary a company brings from the system it replaces.

Two years (by default) of units and net sales per store, SKU and day, drawn by
:func:`salesphere_tools.generate.history.daily_history` with the same catalogue the event
generator builds for the same seed, stores and SKUs, and written the way Brazilian
back-office systems export it: ``;`` separated, decimal comma, dd/mm/aaaa, Latin-1.
The history ends the day before ``end`` (the first day of the generated live data), so
the platform's own days follow it without overlap. Days without a sale have no row (the
forecast reads a missing day as zero sales).
"""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

from salesphere_tools.generate.catalog import build_products, build_stores
from salesphere_tools.generate.history import daily_history
from salesphere_tools.generate.ordering import continued_history

HEADER = ("Loja", "Produto", "Data", "Quantidade", "Valor Líquido")


def _brl(cents: int) -> str:
    whole, rest = divmod(cents, 100)
    return f"{whole:,}".replace(",", ".") + f",{rest:02d}"


def write_legacy_history(
    out: Path,
    *,
    stores: int,
    skus: int,
    end: date,
    days: int = 730,
    seed: int = 42,
    tickets_per_store_day: int = 350,
    buyers: bool = False,
) -> tuple[Path, int]:
    """Write ``out`` (CSV); returns its path and the number of rows.

    ``buyers``: the last weeks sell what the buyers' stock allowed (generate.ordering, as
    ``GeneratorConfig.history_days`` continues them), so the history the forecast reads
    and the stock the live days open with tell the same story.
    """
    start = end - timedelta(days=days)
    if buyers:
        history, products, _, start_of_live = continued_history(
            stores=stores,
            skus=skus,
            days=days,
            seed=seed,
            live_start=end,
            tickets_per_store_day=tickets_per_store_day,
        )
        sales = history.sales.copy()
        sales[:, -start_of_live.sales.shape[1] :] = start_of_live.sales
    else:
        history = daily_history(
            stores=stores,
            skus=skus,
            days=days,
            seed=seed,
            start=start,
            tickets_per_store_day=tickets_per_store_day,
        )
        rng = random.Random(f"salesphere:{seed}:simulation")
        build_stores(stores, rng)
        products = build_products(skus, rng, tickets_per_store_day)
        sales = history.sales
    prices = {p.sku: p.list_price_cents for p in products}
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    with out.open("w", encoding="latin-1", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(HEADER)
        day_text = [f"{start + timedelta(days=d):%d/%m/%Y}" for d in range(days)]
        for i, (store, sku) in enumerate(zip(history.store_ids, history.skus, strict=True)):
            price = prices[sku]
            units = sales[i]
            for d in units.nonzero()[0]:
                n = int(units[d])
                writer.writerow((store, sku, day_text[d], n, _brl(n * price)))
                rows += 1
    return out, rows

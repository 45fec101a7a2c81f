"""``generate(config)``: run the simulation and write every source's files plus the manifest.

Days are simulated and written one at a time, so memory stays flat however many days
are asked for; only late records and pending returns are carried between days.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from salesphere_tools.generate.config import GeneratorConfig
from salesphere_tools.generate.defects import DefectPlanner
from salesphere_tools.generate.events import SOURCE_ECOMMERCE, SOURCE_POS, SimEvent
from salesphere_tools.generate.fiscal import FiscalWriter
from salesphere_tools.generate.formats import utc_text
from salesphere_tools.generate.inventory import InventoryWriter
from salesphere_tools.generate.live import (
    EcommerceCorrupter,
    LiveWriter,
    PosCorrupter,
    ecommerce_records,
    pos_records,
)
from salesphere_tools.generate.manifest import Manifest, daily_totals, end_of_day_stock
from salesphere_tools.generate.ordering import summary as ordering_summary
from salesphere_tools.generate.ordering import write_erp_orders
from salesphere_tools.generate.reference_files import write_reference
from salesphere_tools.generate.simulate import Simulation
from salesphere_tools.generate.spreadsheets import SpreadsheetWriter, store_rows
from salesphere_tools.generate.totals import SalesTotals

MONEY_KINDS = frozenset({"sale", "return"})
OUTPUT_ENTRIES = (
    "live",
    "spreadsheets",
    "inventory",
    "reference",
    "fiscal",
    "purchase_orders",
    "manifest.json",
)
Progress = Callable[[int, int], None]


def prepare_output(out: Path) -> None:
    """Make ``out`` an empty place to write, without ever deleting someone else's files."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file; pass a directory for --out")
    if out.is_dir() and any(out.iterdir()):
        if not (out / "manifest.json").exists():
            raise ValueError(
                f"{out} is not empty and holds no generator output (no manifest.json); "
                "choose an empty or new directory for --out"
            )
        for name in OUTPUT_ENTRIES:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    out.mkdir(parents=True, exist_ok=True)


def config_summary(config: GeneratorConfig) -> dict[str, object]:
    """The config as recorded in the manifest (not the output path: it must not change bytes)."""
    return {
        "seed": config.seed,
        "start": config.start.isoformat(),
        "days": config.days,
        "stores": config.stores,
        "skus": config.skus,
        "defects": config.defects,
        "defect_rate": config.defect_rate,
        "tickets_per_store_day": config.tickets_per_store_day,
        "web_orders_per_day": config.web_orders_per_day,
        "batch_size": config.batch_size,
        "xlsx": config.xlsx,
        **({"fiscal_days": config.fiscal_days} if config.fiscal else {}),
        **({"history_days": config.history_days} if config.history_days else {}),
    }


def generate(config: GeneratorConfig, progress: Progress | None = None) -> Manifest:  # noqa: PLR0912, PLR0915
    """Simulate ``config.days`` days and write all source files and ``manifest.json``."""
    config.check()
    prepare_output(config.out)
    sim = Simulation(config)
    stores, products, start = sim.stores, sim.products, config.start
    planner = DefectPlanner(config.seed, config.defect_rate, config.defects)
    pos = LiveWriter(
        config.out,
        SOURCE_POS,
        config.batch_size,
        planner,
        start,
        config.days,
        PosCorrupter(start, stores),
    )
    web = LiveWriter(
        config.out,
        SOURCE_ECOMMERCE,
        config.batch_size,
        planner,
        start,
        config.days,
        EcommerceCorrupter(start),
    )
    sheets = SpreadsheetWriter(config.out, planner, start, config.xlsx)
    inventory = InventoryWriter(config.out, planner, start, config.days, stores, products)
    manifest = Manifest(config=config_summary(config))
    manifest.files.extend(
        write_reference(config.out, products, stores, utc_text(start, 0), start.isoformat())
    )
    fiscal = (
        FiscalWriter(
            config.out,
            start,
            config.days,
            stores,
            products,
            config.fiscal_days,
        )
        if config.fiscal
        else None
    )
    if fiscal is not None:
        manifest.files.extend(fiscal.write_reference(utc_text(start, 0), start.isoformat()))
    totals: dict[tuple[int, int, int], SalesTotals] = {}
    by_type: dict[str, int] = {}
    lost = shrinkage = oversells = spreadsheet_rows = 0
    sent: list[SimEvent] = []
    for result in sim.days():
        day_events, nfce_day = result.events, False
        if fiscal is not None:
            removed, cancelled, entries, nfce_day = fiscal.take_day(
                result.day, result.events, result.totals
            )
            manifest.files.extend(entries)
            # The books keep what counts (a cancelled ticket does not); the JSON and
            # spreadsheet writers skip what went out as fiscal XML.
            day_events = [e for i, e in enumerate(result.events) if i not in removed]
            result.events = [e for i, e in enumerate(result.events) if i not in cancelled]
        sent.extend(result.events)
        day_date = start + timedelta(days=result.day)
        per_store: list[list[SimEvent]] = [[] for _ in stores]
        stock_events: list[SimEvent] = []
        for event in result.events:
            by_type[event.kind] = by_type.get(event.kind, 0) + 1
        for event in day_events:
            if event.kind in MONEY_KINDS:
                per_store[event.store].append(event)
            else:
                stock_events.append(event)
        store_money = [
            e for i, events in enumerate(per_store) if not stores[i].online for e in events
        ]
        web_money = [e for i, events in enumerate(per_store) if stores[i].online for e in events]
        pos_files, held = pos.write_day(
            result.day, pos_records(store_money, stores, products, start)
        )
        web_files, _ = web.write_day(
            result.day, ecommerce_records(web_money, stores, products, start)
        )
        manifest.files.extend(pos_files)
        manifest.files.extend(web_files)
        for index, store in enumerate(stores):
            if store.online or (nfce_day and fiscal is not None and index == fiscal.store):
                continue
            rows = store_rows(per_store[index], store, products, day_date, held)
            entry = sheets.write(result.day, store, rows)
            if entry is not None:
                manifest.files.append(entry)
                spreadsheet_rows += entry.events
        manifest.files.append(inventory.write_day(result.day, stock_events))
        for key, values in result.totals.items():
            totals.setdefault(key, SalesTotals()).add(values)
        lost += result.lost_lines
        shrinkage += result.shrinkage_units
        oversells += result.oversells
        if progress is not None:
            progress(result.day + 1, config.days)
    # One ERP export: the buyers' (every store's orders, numbered PC-<invoice> as the fiscal
    # store's NF-e name them) when they ran, else the fiscal store's delivered orders.
    if sim.buyers is not None:
        manifest.files.append(
            write_erp_orders(
                config.out, sim.buyers.exported(), stores, products, start, config.days - 1
            )
        )
    elif fiscal is not None:
        manifest.files.append(fiscal.write_orders())
    manifest.defects = planner.defects
    manifest.expected = _expected(
        planner, by_type, spreadsheet_rows, totals, config, [s.store_id for s in stores]
    ) | {
        "end_of_day_stock": end_of_day_stock(
            sent, start, [s.store_id for s in stores], [p.sku for p in products]
        )
    }
    manifest.simulation = {
        "lost_sale_lines_stockout": lost,
        "hidden_shrinkage_units": shrinkage,
        "oversold_lines": oversells,
        "stores": [s.store_id for s in stores],
        "skus": len(products),
        **({"fiscal": fiscal.summary()} if fiscal is not None else {}),
        **(
            {"ordering": ordering_summary(sim.buyers, config.days - 1)}
            if sim.buyers is not None
            else {}
        ),
    }
    manifest.write(config.out / "manifest.json")
    return manifest


def _expected(
    planner: DefectPlanner,
    by_type: dict[str, int],
    spreadsheet_rows: int,
    totals: dict[tuple[int, int, int], SalesTotals],
    config: GeneratorConfig,
    store_ids: list[str],
) -> dict[str, object]:
    """What a correct platform must end up with, from the simulation's own bookkeeping."""
    malformed = [d for d in planner.defects if d.kind == "malformed"]
    rejected_sheet_rows = sum(1 for d in malformed if d.source == "spreadsheet")
    duplicates = sum(d.events for d in planner.defects if d.kind == "duplicate")
    return {
        "accepted_events": sum(by_type.values()),
        "events_by_type": dict(sorted(by_type.items())),
        "rejected_events": sum(d.events for d in malformed),
        "duplicate_events": duplicates + spreadsheet_rows - rejected_sheet_rows,
        "notes": (
            "accepted_events counts distinct event_ids; duplicate_events are records whose "
            "event_id was already sent (retries, overlapping exports, spreadsheet rows that "
            "repeat live sales); net_revenue = gross - discounts - returns_amount; daily_local "
            "groups by the store's local date, daily_utc by the UTC date of occurred_at"
        ),
        **daily_totals(totals, config.start, store_ids),
    }
